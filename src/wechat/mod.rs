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

pub use client::{Failure, Outcome, WechatClient};
pub use errors::{Code, ErrCode, ErrorClass};
pub use protocol::{Kind, NetworkOptions, ProxySetting, TokenSpec};
pub use secret::{AccessToken, Secret};
pub use sender::{Quota, Sender, TokenNote};
pub use token::{TokenCache, TokenError, TokenSource, TokenStatus};

/// What to tell the operator when a token this process did not replace starts failing.
pub fn external_refresh_hint(source: &str) -> String {
    match source {
        "client_credential" => crate::tr!("token.replaced_client_credential"),
        "stable" => crate::tr!("token.replaced_stable"),
        _ => crate::tr!("token.replaced_managed"),
    }
}
