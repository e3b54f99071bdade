//! The WeChat client: one pooled HTTP client, the send endpoints and the answer's classification.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::errors::{classify, Code, ErrorClass};
pub use super::http::ClientError;
use super::http::{Http, RequestUrl, TransportError};
use super::secret::{scrub, AccessToken};
use crate::wechat::protocol::Kind;

/// A failed send: WeChat's answer, or a transport failure (no errcode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// WeChat's errcode; `None` for a timeout, reset, HTTP 5xx or a body that is not JSON.
    pub errcode: Option<i64>,
    /// WeChat's errmsg (with its rid), or a description of the transport failure. Never a token.
    pub errmsg: String,
    /// What a sender does about it.
    pub class: ErrorClass,
}

impl Failure {
    /// A transport failure (no errcode): retried.
    pub fn transport(message: impl Into<String>) -> Self {
        Self { errcode: None, errmsg: message.into(), class: ErrorClass::Retry }
    }

    /// No token could be had for the request (the token source refused, or is unreachable):
    /// nothing else will get through either, so it stops.
    pub fn no_token(e: &super::token::TokenError) -> Self {
        Self { errcode: None, errmsg: e.to_string(), class: ErrorClass::Stop }
    }

    /// A transport failure from the HTTP client: retried when the request certainly never left;
    /// `unanswered` when it may have reached WeChat; `stop` when the set-up is at fault (a
    /// certificate not trusted, a proxy refusing).
    pub fn transport_error(e: TransportError) -> Self {
        let class = if e.setup {
            ErrorClass::Stop
        } else if e.maybe_sent {
            ErrorClass::Unanswered
        } else {
            ErrorClass::Retry
        };
        Self { errcode: None, errmsg: e.message, class }
    }

    /// WeChat's answer `errcode`, classified.
    pub fn api(errcode: i64, errmsg: String) -> Self {
        Self { errcode: Some(errcode), errmsg, class: classify(errcode) }
    }

    /// What the failure is grouped under: its errcode, or `transport`.
    pub fn code(&self) -> Code {
        Code::of(self.errcode)
    }
}

/// The answer to one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// errcode 0. `msgid` (template kind) is kept as text: it exceeds 2^53.
    Delivered {
        /// WeChat's msgid, as text.
        msgid: Option<String>,
    },
    /// Refused, or no usable answer.
    Failed(Failure),
}

/// A send's answer: only what the sender uses, borrowed from the body where it can be.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(default)]
    errcode: i64,
    #[serde(default, borrow)]
    errmsg: std::borrow::Cow<'a, str>,
    #[serde(default)]
    msgid: Option<MsgId>,
}

/// WeChat's msgid as text, whether it came as a number (it exceeds 2^53, so never through
/// `f64`) or as a string.
struct MsgId(String);

impl<'de> Deserialize<'de> for MsgId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MsgId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a msgid (number or string)")
            }
            fn visit_u64<E>(self, v: u64) -> Result<MsgId, E> {
                Ok(MsgId(itoa::Buffer::new().format(v).to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<MsgId, E> {
                Ok(MsgId(itoa::Buffer::new().format(v).to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<MsgId, E> {
                Ok(MsgId(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<MsgId, E> {
                Ok(MsgId(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<MsgId, E> {
                Ok(MsgId(v.to_string()))
            }
            // Never seen from WeChat; an accepted message must not read as a broken answer.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<MsgId, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MsgId(String::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<MsgId, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(MsgId(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Talks to one API base (WeChat, a proxy, or the embedded mock) through one connection pool.
#[derive(Debug, Clone)]
pub struct WechatClient {
    http: Http,
    urls: std::sync::Arc<UriCache>,
}

/// Request URIs with the token in them, built once per token and endpoint instead of formatting
/// and parsing ~140 characters per message; read without a lock. Its `Debug` shows no URI (they
/// hold tokens).
#[derive(Default)]
struct UriCache(arc_swap::ArcSwap<Vec<(AccessToken, &'static str, RequestUrl)>>);

impl std::fmt::Debug for UriCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UriCache")
    }
}

impl UriCache {
    fn get(&self, http: &Http, path: &'static str, token: &AccessToken) -> Result<RequestUrl, TransportError> {
        if let Some((_, _, uri)) = self.0.load().iter().find(|(t, p, _)| *p == path && t == token) {
            return Ok(uri.clone());
        }
        let uri = http.uri(path, &[("access_token", token.expose())])?;
        self.0.rcu(|cached| {
            // A few entries: the current token per endpoint (and its predecessor while it overlaps).
            let mut next: Vec<_> = cached.iter().rev().take(7).rev().cloned().collect();
            next.push((token.clone(), path, uri.clone()));
            next
        });
        Ok(uri)
    }
}

impl WechatClient {
    /// A client for `api_base` whose requests time out after `timeout`.
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, ClientError> {
        Ok(Self { http: Http::new(api_base, timeout)?, urls: Default::default() })
    }

    /// A client for `api_base` with these network options (proxy, trust, timeouts).
    pub fn with_network(api_base: &str, net: &crate::wechat::protocol::NetworkOptions) -> Result<Self, ClientError> {
        Ok(Self { http: Http::with_network(api_base, net)?, urls: Default::default() })
    }

    /// A client for `api_base` that keeps up to `concurrency` connections alive: every worker
    /// of a campaign reuses its own, so no request waits for a handshake after the first.
    pub fn for_sending(
        api_base: &str,
        net: &crate::wechat::protocol::NetworkOptions,
        concurrency: usize,
    ) -> Result<Self, ClientError> {
        Ok(Self { http: Http::build(api_base, net, concurrency)?, urls: Default::default() })
    }

    /// The underlying HTTP client (shared with the token source).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The API base.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// POST `body` to `path?access_token=…`; the answer's bytes, or a transport failure.
    async fn post(&self, path: &'static str, token: &AccessToken, body: Bytes) -> Result<Bytes, Failure> {
        let transport = Failure::transport_error;
        let uri = self.urls.get(&self.http, path, token).map_err(transport)?;
        let reply = self.http.post_json(uri, body).await.map_err(transport)?;
        if reply.status.is_server_error() {
            return Err(Failure::transport(format!("HTTP {}", reply.status)));
        }
        Ok(reply.body)
    }

    /// POST and parse WeChat's JSON answer (whatever the Content-Type says).
    pub async fn post_json(
        &self,
        path: &'static str,
        token: &AccessToken,
        body: Bytes,
    ) -> Result<serde_json::Value, Failure> {
        let bytes = self.post(path, token, body).await?;
        serde_json::from_slice(&bytes).map_err(|_| not_json(&bytes))
    }

    /// GET `path?access_token=…` and parse the JSON answer.
    pub async fn get_json(&self, path: &'static str, token: &AccessToken) -> Result<serde_json::Value, Failure> {
        let uri = self.urls.get(&self.http, path, token).map_err(Failure::transport_error)?;
        self.get_uri_json(uri).await
    }

    /// GET `path?access_token=…&name=value…` (a listing's page cursor) and parse the JSON answer.
    pub async fn get_json_query(
        &self,
        path: &'static str,
        token: &AccessToken,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, Failure> {
        let mut pairs = vec![("access_token", token.expose())];
        pairs.extend_from_slice(query);
        let uri = self.http.uri(path, &pairs).map_err(Failure::transport_error)?;
        self.get_uri_json(uri).await
    }

    async fn get_uri_json(&self, uri: super::http::RequestUrl) -> Result<serde_json::Value, Failure> {
        let reply = self.http.get(uri).await.map_err(Failure::transport_error)?;
        if reply.status.is_server_error() {
            return Err(Failure::transport(format!("HTTP {}", reply.status)));
        }
        serde_json::from_slice(&reply.body).map_err(|_| not_json(&reply.body))
    }

    /// Send one message of `kind` with `token`.
    pub async fn send(&self, kind: Kind, token: &AccessToken, body: Bytes) -> Outcome {
        let bytes = match self.post(kind.endpoint(), token, body).await {
            Ok(b) => b,
            Err(f) => return Outcome::Failed(f),
        };
        outcome_of(&bytes, token)
    }
}

/// What a send's answer says.
fn outcome_of(bytes: &[u8], token: &AccessToken) -> Outcome {
    match serde_json::from_slice::<Answer>(bytes) {
        Ok(a) if a.errcode == 0 => Outcome::Delivered { msgid: a.msgid.map(|MsgId(m)| m) },
        Ok(a) => Outcome::Failed(Failure::api(a.errcode, scrub(&a.errmsg, &[token.expose()]))),
        // Anything but WeChat's JSON is transient (a gateway's HTML page, a cut body).
        Err(_) => Outcome::Failed(not_json(bytes)),
    }
}

fn not_json(bytes: &[u8]) -> Failure {
    Failure::transport(format!("the answer is not WeChat's JSON ({} bytes)", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgid(body: &str) -> Option<String> {
        match outcome_of(body.as_bytes(), &AccessToken::new("T")) {
            Outcome::Delivered { msgid } => msgid,
            Outcome::Failed(f) => panic!("{body}: {f:?}"),
        }
    }

    #[test]
    fn answers_are_read_for_errcode_and_msgid_only() {
        assert_eq!(
            msgid(r#"{"errcode":0,"errmsg":"ok","msgid":4674045479742390278}"#).as_deref(),
            Some("4674045479742390278")
        );
        assert_eq!(msgid(r#"{"errcode":0,"errmsg":"ok","msgid":"200228332"}"#).as_deref(), Some("200228332"));
        assert_eq!(msgid(r#"{"errcode":0,"errmsg":"ok"}"#), None);
        assert_eq!(msgid(r#"{"errcode":0,"errmsg":"ok","msgid":null}"#), None);
        assert_eq!(msgid(r#"{"errcode":0,"msgid":{"x":1}}"#).as_deref(), Some(""), "odd, but delivered");
        let token = AccessToken::new("ACCESS_TOKEN_0123456789abcdef");
        let body = br#"{"errcode":43101,"errmsg":"user refuse \u0041 ACCESS_TOKEN_0123456789abcdef"}"#;
        let Outcome::Failed(f) = outcome_of(body, &token) else {
            panic!("a refusal");
        };
        assert_eq!(f.errcode, Some(43101));
        assert!(f.errmsg.contains("user refuse A") && !f.errmsg.contains("0123456789abcdef"), "{}", f.errmsg);
        assert!(matches!(outcome_of(b"<html>", &AccessToken::new("T")), Outcome::Failed(f) if f.errcode.is_none()));
    }
}
