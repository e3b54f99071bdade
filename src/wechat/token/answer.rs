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
pub fn check_token_text(token: &str) -> Result<(), NotAToken> {
    if token.is_empty() {
        return Err(NotAToken::Empty);
    }
    if token.len() > 512 {
        return Err(NotAToken::TooLong(token.len()));
    }
    if let Some(c) = token.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(NotAToken::Character(c));
    }
    Ok(())
}

/// Why a text cannot be an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAToken {
    /// Nothing.
    #[error("{}", crate::tr!("err.not_a_token.empty"))]
    Empty,
    /// Over 512 characters.
    #[error("{}", crate::tr!("err.not_a_token.too_long", value0 = .0.to_string()))]
    TooLong(usize),
    /// A character outside WeChat's alphabet.
    #[error("{}", crate::tr!("err.not_a_token.character", value0 = format!("{:?}", .0)))]
    Character(char),
}
