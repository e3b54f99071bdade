//! The HTTP client: one pooled reqwest client, the send endpoints and the answer's classification.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::errors::{classify, ErrorClass};
use super::secret::{scrub, AccessToken};
use crate::campaign::Kind;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// A failed send: WeChat's answer, or a transport failure (no errcode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// WeChat's errcode; `None` for a timeout, reset, HTTP 5xx or a body that is not JSON.
    pub errcode: Option<i64>,
    /// WeChat's errmsg (with its rid), or a description of the transport failure. Never a token.
    pub errmsg: String,
    pub class: ErrorClass,
}

impl Failure {
    pub fn transport(message: impl Into<String>) -> Self {
        Self { errcode: None, errmsg: message.into(), class: ErrorClass::Retry }
    }

    pub fn api(errcode: i64, errmsg: String) -> Self {
        Self { errcode: Some(errcode), errmsg, class: classify(errcode) }
    }

    /// A label for grouping: the errcode, or `transport`.
    pub fn code_label(&self) -> String {
        self.errcode.map_or_else(|| "transport".to_string(), |c| c.to_string())
    }
}

/// The answer to one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// errcode 0. `msgid` (template kind) is kept as text: it exceeds 2^53.
    Delivered {
        msgid: Option<String>,
    },
    Failed(Failure),
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    msgid: Option<serde_json::Value>,
}

/// Talks to one API base (WeChat, a proxy, or the embedded mock) through one connection pool.
#[derive(Debug, Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    urls: std::sync::Arc<UrlCache>,
}

/// Request URLs with the token in them, built once per token and endpoint instead of parsing and
/// percent-encoding ~140 characters per message. Its `Debug` shows no URL (they hold tokens).
#[derive(Default)]
struct UrlCache(std::sync::RwLock<Vec<(AccessToken, &'static str, reqwest::Url)>>);

impl std::fmt::Debug for UrlCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlCache")
    }
}

impl UrlCache {
    fn get(&self, base: &str, path: &'static str, token: &AccessToken) -> Option<reqwest::Url> {
        if let Ok(cached) = self.0.read() {
            if let Some((_, _, url)) = cached.iter().find(|(t, p, _)| *p == path && t == token) {
                return Some(url.clone());
            }
        }
        let mut url = reqwest::Url::parse(&format!("{base}{path}")).ok()?;
        url.query_pairs_mut().append_pair("access_token", token.expose());
        if let Ok(mut cached) = self.0.write() {
            // A few entries: the current token per endpoint (and its predecessor while it overlaps).
            if cached.len() >= 8 {
                cached.remove(0);
            }
            cached.push((token.clone(), path, url.clone()));
        }
        Some(url)
    }
}

impl WechatClient {
    /// A client for `api_base` whose requests time out after `timeout`.
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            // WeChat answers every call itself; a redirect would be a misconfigured api_base.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wxsend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.without_url().to_string()))?;
        Ok(Self { http, base: api_base.trim_end_matches('/').to_string(), urls: Default::default() })
    }

    /// The underlying HTTP client (shared with the token source).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// POST `body` to `path?access_token=…`; the answer's bytes, or a transport failure.
    async fn post(&self, path: &'static str, token: &AccessToken, body: bytes::Bytes) -> Result<bytes::Bytes, Failure> {
        let url = self
            .urls
            .get(&self.base, path, token)
            .ok_or_else(|| Failure::transport(format!("`{}{path}` is not a valid URL: check api_base", self.base)))?;
        let result =
            self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body).send().await;
        let response = result.map_err(|e| Failure::transport(describe(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Failure::transport(describe(&e)))?;
        if status.is_server_error() {
            return Err(Failure::transport(format!("HTTP {status}")));
        }
        Ok(bytes)
    }

    /// POST and parse WeChat's JSON answer (whatever the Content-Type says).
    pub async fn post_json(
        &self,
        path: &'static str,
        token: &AccessToken,
        body: bytes::Bytes,
    ) -> Result<serde_json::Value, Failure> {
        let bytes = self.post(path, token, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| not_json(&bytes))
    }

    /// Send one message of `kind` with `token`.
    pub async fn send(&self, kind: Kind, token: &AccessToken, body: bytes::Bytes) -> Outcome {
        let bytes = match self.post(kind.endpoint(), token, body).await {
            Ok(b) => b,
            Err(f) => return Outcome::Failed(f),
        };
        match serde_json::from_slice::<Answer>(&bytes) {
            Ok(a) if a.errcode == 0 => Outcome::Delivered {
                msgid: a.msgid.map(|m| match m {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
            },
            Ok(a) => Outcome::Failed(Failure::api(a.errcode, scrub(&a.errmsg, &[token.expose()]))),
            // Anything but WeChat's JSON is transient (a gateway's HTML page, a cut body).
            Err(_) => Outcome::Failed(not_json(&bytes)),
        }
    }
}

fn not_json(bytes: &[u8]) -> Failure {
    Failure::transport(format!("the answer is not WeChat's JSON ({} bytes)", bytes.len()))
}

/// A transport error in words, without the URL (it carries the token as a query parameter).
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the answer"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
