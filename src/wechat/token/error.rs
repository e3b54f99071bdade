//! Why no token could be had, whichever source was asked: in words an operator can act on, never
//! with the secret, a ticket, a refresh token or a token in them.

/// Why no token could be had. Never contains the secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the app secret is not set: export it in the environment variable {var} (named by `secret_env` in [wechat])"
    )]
    /// The app secret is not in the environment.
    MissingSecret {
        /// The variable named by `secret_env`.
        var: String,
    },
    #[error("{}", crate::tr!("err.token_error.transport", value0 = .0.to_string()))]
    /// The token request failed in transport.
    Transport(String),
    #[error("{}", crate::tr!("err.token.refused", errcode = .errcode, errmsg = .errmsg.clone(), hint = .hint.map(|h| format!(" — {h}")).unwrap_or_default()))]
    /// WeChat refused the token request.
    Api {
        /// WeChat's errcode.
        errcode: i64,
        /// WeChat's errmsg (secret removed).
        errmsg: String,
        /// What to do.
        hint: Option<&'static str>,
    },
    #[error("{}", crate::tr!("err.token_error.env_missing", value0 = .0.to_string()))]
    /// The variable holding the token is not set.
    EnvMissing(String),
    #[error("{}", crate::tr!("err.token_error.command", command = .command.to_string(), detail = .detail.to_string()))]
    /// The token command failed.
    Command {
        /// The command.
        command: String,
        /// What went wrong.
        detail: String,
    },
    /// The shared token store (Redis) cannot be reached.
    #[error("{}", crate::tr!("err.token_error.shared", value0 = .0.to_string()))]
    Shared(String),
    /// The central token service (`url:`) gave no token.
    #[error("{}", crate::tr!("err.token_error.service", url = .url.to_string(), detail = .detail.to_string()))]
    Service {
        /// Its URL, without the query.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// `token = "component"`: WeChat refused a step of the platform's chain.
    #[error("{}", crate::tr!("err.token.refused_step", step = .step.to_string(), errcode = .errcode, errmsg = .errmsg.clone(), hint = .hint.map(|h| format!(" — {h}")).unwrap_or_default()))]
    Refused {
        /// Which token, of which platform and merchant.
        step: String,
        /// WeChat's errcode.
        errcode: i64,
        /// WeChat's errmsg (secrets removed).
        errmsg: String,
        /// What to do.
        hint: Option<&'static str>,
    },
    /// `token = "component"`: no verify ticket to ask the platform's token with.
    #[error("{}", crate::tr!("err.token_error.ticket", detail = .detail.to_string()))]
    Ticket {
        /// Where it was looked for, and what to do.
        detail: String,
    },
    /// `token = "component"`: the merchant's refresh token cannot be read.
    #[error("{}", crate::tr!("err.token_error.refresh_store", detail = .detail.to_string()))]
    RefreshStore {
        /// What went wrong (never the token).
        detail: String,
    },
    /// `token = "component"`: no refresh token kept and none given.
    #[error("{}", crate::tr!("err.token.no_refresh_token", authorizer = .authorizer.clone(), place = .place.to_string(), then = match .var { Some(v) => crate::tr!("err.token.refresh_var_unset", var = v.clone()), None => crate::tr!("err.token.refresh_env_unset") }))]
    NoRefreshToken {
        /// The merchant.
        authorizer: String,
        /// Where it is kept.
        place: String,
        /// The variable named by `refresh_token_env`.
        var: Option<String>,
    },
    /// `token = "component"`: WeChat rotated the refresh token and the new one cannot be saved.
    #[error("{}", crate::tr!("err.token_error.refresh_not_saved", place = .place.to_string(), detail = .detail.to_string()))]
    RefreshNotSaved {
        /// Where it should have gone.
        place: String,
        /// What went wrong.
        detail: String,
    },
    #[error("{}", crate::tr!("err.token_error.circuit_open", count = .count.to_string()))]
    /// Too many token requests in a minute.
    CircuitOpen {
        /// Requests counted in the minute.
        count: usize,
    },
}
