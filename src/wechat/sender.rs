//! The one call path to WeChat with an access token: every send and every read (template lists,
//! quota, and what later endpoints add) goes through [`Sender`], which applies one token policy
//! and one retry policy.
//!
//! - A token-class answer (40001, 40014, 42001) expires the token that failed — compare-and-expire,
//!   so a token another worker already replaced is not thrown away — fetches once for every
//!   caller (single-flight, and across hosts with Redis) and asks again once; the same answer with
//!   the fresh token is a `stop`.
//! - A transient failure (-1, HTTP 5xx, a request that certainly never left) is retried here for
//!   reads, a few times with backoff; sends are retried by the engine, which journals each attempt.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::client::{Failure, Outcome, WechatClient};
use super::errors::ErrorClass;
use super::protocol::Kind;
use super::secret::AccessToken;
use super::token::{TokenCache, TokenError};

/// What happened to the token during one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenNote {
    /// The message was sent a second time with a replaced token.
    pub retried: bool,
    /// The send failed with a token error and the token was replaced by a new one.
    pub refreshed: bool,
    /// The failing token was still within its life: another system replaced it.
    pub external: bool,
}

/// The daily quota of an endpoint, as `/cgi-bin/openapi/quota/get` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Messages allowed a day.
    pub daily_limit: u64,
    /// Messages sent today.
    pub used: u64,
    /// Messages left today.
    pub remain: u64,
}

/// Attempts a read makes on transient failures before it reports the last one.
const READ_ATTEMPTS: u32 = 3;
/// The first wait between a read's attempts (doubled each time).
const READ_BACKOFF: Duration = Duration::from_millis(200);

/// A client and the shared token cache.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The HTTP client.
    pub client: WechatClient,
    /// The token cache every worker shares.
    pub tokens: Arc<TokenCache>,
}

impl Sender {
    /// A sender from its client and token cache.
    pub fn new(client: WechatClient, tokens: Arc<TokenCache>) -> Self {
        Self { client, tokens }
    }

    /// Send `body` once (the engine retries). A token-class answer replaces the token and sends
    /// again once.
    pub async fn send(&self, kind: Kind, body: &Bytes) -> Result<(Outcome, TokenNote), TokenError> {
        let (result, note) = self
            .with_token(|token| async move {
                match self.client.send(kind, &token, body.clone()).await {
                    Outcome::Failed(f) => Err(f),
                    delivered => Ok(delivered),
                }
            })
            .await?;
        Ok((result.unwrap_or_else(Outcome::Failed), note))
    }

    /// `GET path?access_token=…` and WeChat's JSON answer (errcode 0), under the token and
    /// retry policies.
    pub async fn get_json(&self, path: &'static str) -> Result<serde_json::Value, Failure> {
        self.read(|token| async move { self.client.get_json(path, &token).await.and_then(|v| api_answer(v, &token)) })
            .await
    }

    /// `GET path?access_token=…&query…` and WeChat's JSON answer, under the token and retry
    /// policies (a listing's pages: `next_openid`).
    pub async fn get_json_query(
        &self,
        path: &'static str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, Failure> {
        self.read(|token| async move {
            self.client.get_json_query(path, &token, query).await.and_then(|v| api_answer(v, &token))
        })
        .await
    }

    /// `POST path?access_token=…` with a JSON `body`, under the token and retry policies.
    pub async fn post_json(&self, path: &'static str, body: serde_json::Value) -> Result<serde_json::Value, Failure> {
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        self.read(|token| {
            let body = body.clone();
            async move { self.client.post_json(path, &token, body).await.and_then(|v| api_answer(v, &token)) }
        })
        .await
    }

    /// The remaining daily quota of `kind`'s endpoint, when the account may ask for it.
    pub async fn quota(&self, kind: Kind) -> Result<Quota, Failure> {
        let v =
            self.post_json("/cgi-bin/openapi/quota/get", serde_json::json!({ "cgi_path": kind.endpoint() })).await?;
        v.get("quota")
            .cloned()
            .and_then(|q| serde_json::from_value(q).ok())
            .ok_or_else(|| Failure::transport("quota answer without a quota"))
    }

    /// A read: the token policy, then transient failures retried with backoff. A failure that
    /// may have reached WeChat is retried too: reading twice changes nothing.
    async fn read<F, Fut>(&self, call: F) -> Result<serde_json::Value, Failure>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<serde_json::Value, Failure>>,
    {
        let mut wait = READ_BACKOFF;
        let mut attempt = 1;
        loop {
            let result = match self.with_token(&call).await {
                Ok((result, _)) => result,
                Err(e) => return Err(Failure::no_token(&e)),
            };
            match result {
                Err(f) if matches!(f.class, ErrorClass::Retry | ErrorClass::Unanswered) && attempt < READ_ATTEMPTS => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Run `call` with the current token; on a token-class failure, replace that token (once
    /// for every caller) and run it again once. `Err` only when no token can be had.
    async fn with_token<T, F, Fut>(&self, call: F) -> Result<(Result<T, Failure>, TokenNote), TokenError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let token = self.tokens.get().await?;
        let first = call(token.clone()).await;
        let Err(Failure { class: ErrorClass::Token, .. }) = &first else {
            return Ok((first, TokenNote::default()));
        };
        // Boxed: rare, and large (a token fetch and a second request).
        let replaced = Box::pin(self.tokens.replace_failed(&token)).await?;
        let note = TokenNote { retried: true, refreshed: replaced.refreshed, external: replaced.external };
        let retry = match call(replaced.token).await {
            Err(mut f) if f.class == ErrorClass::Token => {
                f.class = ErrorClass::Stop;
                f.errmsg = format!(
                    "{} — a fresh token was refused the same way: check the appid and secret, and that no other system refreshes this app's token",
                    f.errmsg
                );
                Err(f)
            }
            other => other,
        };
        Ok((retry, note))
    }
}

/// WeChat's JSON answer as a result: errcode 0 (or none) is the answer, any other a failure of
/// its class (its errmsg never showing the token).
fn api_answer(v: serde_json::Value, token: &AccessToken) -> Result<serde_json::Value, Failure> {
    let errcode = v.get("errcode").and_then(serde_json::Value::as_i64).unwrap_or(0);
    if errcode == 0 {
        return Ok(v);
    }
    let errmsg = v.get("errmsg").and_then(serde_json::Value::as_str).unwrap_or_default();
    Err(Failure::api(errcode, super::secret::scrub(errmsg, &[token.expose()])))
}
