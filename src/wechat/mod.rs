//! Talking to WeChat: the HTTP client, access tokens, the error taxonomy and quotas.

pub mod catalogue;
pub mod client;
pub mod dns;
pub mod errors;
pub mod http;
pub mod net;
pub mod probe;
pub mod protocol;
pub mod push;
pub mod secret;
pub mod sender;
pub mod templates;
pub mod token;

use serde::{Deserialize, Serialize};

pub use client::{Failure, Outcome, WechatClient};
pub use errors::{Code, ErrCode, ErrorClass};
pub use protocol::{Kind, NetworkOptions, ProxySetting, TokenSpec};
pub use secret::{AccessToken, Secret};
pub use sender::Sender;
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
