//! Talking to WeChat: the HTTP client, access tokens, the error taxonomy and quotas.

pub mod catalogue;
pub mod client;
pub mod errors;
pub mod http;
pub mod net;
pub mod probe;
pub mod protocol;
pub mod push;
pub mod secret;
pub mod templates;
pub mod token;

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use client::{Failure, Outcome, WechatClient};
pub use errors::{Code, ErrCode, ErrorClass};
pub use protocol::{Kind, NetworkOptions, ProxySetting, TokenSpec};
pub use secret::{AccessToken, Secret};
pub use token::{TokenCache, TokenError, TokenSource, TokenStatus};

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

/// What to tell the operator when a token this process did not replace starts failing.
pub fn external_refresh_hint(source: &str) -> &'static str {
    match source {
        "client_credential" => {
            "another system refreshed the access token (cgi-bin/token kills the previous one): use token = \"stable\", or a central token via env:/command:"
        }
        "stable" => "the access token was invalidated elsewhere (a forced stable_token refresh?); wxsend fetched a new one and goes on",
        _ => "the managed access token stopped working; wxsend fetched the current one and goes on",
    }
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

/// A client and the shared token cache: sends one message, handling token errors.
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

    /// Send `body` once. A token-class answer replaces the token (single-flight) and retries
    /// once; the same answer with the new token becomes a `stop`.
    pub async fn send(&self, kind: Kind, body: &Bytes) -> Result<(Outcome, TokenNote), TokenError> {
        let token = self.tokens.get().await?;
        let outcome = self.client.send(kind, &token, body.clone()).await;
        let Outcome::Failed(Failure { class: ErrorClass::Token, .. }) = &outcome else {
            return Ok((outcome, TokenNote::default()));
        };
        // Boxed: rare, and large (a token fetch and a second request).
        Box::pin(self.retry_with_new_token(kind, &token, body)).await
    }

    /// `token` was refused: replace it (once for every worker) and send again.
    async fn retry_with_new_token(
        &self,
        kind: Kind,
        token: &AccessToken,
        body: &Bytes,
    ) -> Result<(Outcome, TokenNote), TokenError> {
        let replaced = self.tokens.replace_failed(token).await?;
        let note = TokenNote { retried: true, refreshed: replaced.refreshed, external: replaced.external };
        let retry = self.client.send(kind, &replaced.token, body.clone()).await;
        match retry {
            Outcome::Failed(mut f) if f.class == ErrorClass::Token => {
                f.class = ErrorClass::Stop;
                f.errmsg = format!(
                    "{} — a fresh token was refused the same way: check the appid and secret, and that no other system refreshes this app's token",
                    f.errmsg
                );
                Ok((Outcome::Failed(f), note))
            }
            other => Ok((other, note)),
        }
    }

    /// The remaining daily quota of `kind`'s endpoint, when the account may ask for it.
    pub async fn quota(&self, kind: Kind) -> Result<Quota, Failure> {
        let token = self.tokens.get().await.map_err(|e| Failure::transport(e.to_string()))?;
        let body = serde_json::to_vec(&serde_json::json!({ "cgi_path": kind.endpoint() })).unwrap_or_default();
        let v = self.client.post_json("/cgi-bin/openapi/quota/get", &token, Bytes::from(body)).await?;
        let errcode = v.get("errcode").and_then(serde_json::Value::as_i64).unwrap_or(0);
        if errcode != 0 {
            let errmsg = v.get("errmsg").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
            return Err(Failure::api(errcode, errmsg));
        }
        v.get("quota")
            .cloned()
            .and_then(|q| serde_json::from_value(q).ok())
            .ok_or_else(|| Failure::transport("quota answer without a quota"))
    }
}
