//! Checks made before the first message, whichever front end asks: a token can be had and the
//! daily quota covers the run.

use crate::wechat::{Quota, TokenError};

use super::text::thousands;

/// What the preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaCheck {
    /// Nothing to send: no token was needed.
    NothingToSend,
    /// WeChat reported the endpoint's daily quota.
    Known(Quota),
    /// The account may not ask (or the answer was unusable): the run goes on without it.
    Unavailable(String),
}

impl QuotaCheck {
    /// One line for the operator, if there is anything to say.
    pub fn describe(&self) -> Option<String> {
        match self {
            QuotaCheck::NothingToSend => None,
            QuotaCheck::Known(q) => Some(crate::tr!(
                "quota.known",
                remain = thousands(q.remain as usize),
                limit = thousands(q.daily_limit as usize)
            )),
            QuotaCheck::Unavailable(why) => Some(crate::tr!("quota.unavailable", why = why.clone())),
        }
    }
}

/// Why a run may not start. Exit code 2: nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// No token could be had.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The daily quota left is smaller than the run.
    #[error("{}", crate::tr!("err.preflight_error.quota_too_small", remain = .remain.to_string(), needed = .needed.to_string()))]
    QuotaTooSmall {
        /// Messages the quota still allows today.
        remain: u64,
        /// Messages this run would send.
        needed: u64,
    },
    /// Nothing would get through: the network set-up (a certificate not trusted, a proxy
    /// refusing), or no token can be had.
    #[error("{0}")]
    Network(String),
    /// The operator did not agree.
    #[error("{0}")]
    NotConfirmed(String),
}

/// How the operator agreed to send.
#[derive(Debug, Clone, Copy, Default)]
pub struct Consent {
    /// `--yes`: the count and rate are agreed (the template's consent is not: see
    /// [`super::Question::Template`]).
    pub yes: bool,
    /// Someone is there to answer (the terminal UI, or a terminal on standard input); else
    /// every question is a refusal.
    pub may_ask: bool,
}
