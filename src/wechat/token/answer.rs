//! What every token source hands back, whichever it is: the token with its lifetime, WeChat's
//! token answer as JSON, and the check that a text can be an access token.

use std::time::Duration;

use serde::Deserialize;

use crate::wechat::secret::AccessToken;

/// A token as fetched, with its lifetime when the source tells it.
#[derive(Debug, Clone)]
pub(super) struct Fetched {
    pub(super) token: AccessToken,
    pub(super) expires_in: Option<Duration>,
}

/// A token endpoint's answer (WeChat's, or a token service's in the same shape).
#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) access_token: Option<String>,
    pub(super) expires_in: Option<u64>,
    #[serde(default)]
    pub(super) errcode: i64,
    #[serde(default)]
    pub(super) errmsg: String,
}

/// Whether `token` can be an access token: 1 to 512 characters of `A-Z a-z 0-9 _ -` (WeChat's
/// alphabet). Anything else is refused where it comes from, naming the source, rather than
/// failing every send later as a bad URL.
pub fn check_token_text(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("it is empty".into());
    }
    if token.len() > 512 {
        return Err(format!("it is {} characters long; an access token has at most 512", token.len()));
    }
    if let Some(c) = token.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(format!("it contains {c:?}; an access token has only letters, digits, `_` and `-`"));
    }
    Ok(())
}
