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
}

impl WechatClient {
    /// A client for `api_base` whose requests time out after `timeout`.
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .user_agent(concat!("wxsend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.without_url().to_string()))?;
        Ok(Self { http, base: api_base.trim_end_matches('/').to_string() })
    }

    /// The underlying HTTP client (shared with the token source).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// POST `body` to `path?access_token=…` and return WeChat's JSON answer or a transport failure.
    pub async fn post_json(
        &self,
        path: &str,
        token: &AccessToken,
        body: bytes::Bytes,
    ) -> Result<serde_json::Value, Failure> {
        let url = format!("{}{}", self.base, path);
        let result = self
            .http
            .post(url)
            .query(&[("access_token", token.expose())])
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = result.map_err(|e| Failure::transport(describe(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Failure::transport(describe(&e)))?;
        if status.is_server_error() {
            return Err(Failure::transport(format!("HTTP {status}")));
        }
        // WeChat answers JSON whatever the Content-Type says; anything else is transient.
        serde_json::from_slice(&bytes)
            .map_err(|_| Failure::transport(format!("HTTP {status}, body is not JSON ({} bytes)", bytes.len())))
    }

    /// Send one message of `kind` with `token`.
    pub async fn send(&self, kind: Kind, token: &AccessToken, body: bytes::Bytes) -> Outcome {
        let value = match self.post_json(kind.endpoint(), token, body).await {
            Ok(v) => v,
            Err(f) => return Outcome::Failed(f),
        };
        match serde_json::from_value::<Answer>(value) {
            Ok(a) if a.errcode == 0 => Outcome::Delivered {
                msgid: a.msgid.map(|m| match m {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
            },
            Ok(a) => Outcome::Failed(Failure::api(a.errcode, scrub(&a.errmsg, &[token.expose()]))),
            Err(_) => Outcome::Failed(Failure::transport("answer is JSON but not WeChat's shape")),
        }
    }
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
