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
    #[error("token request failed: {0}")]
    /// The token request failed in transport.
    Transport(String),
    #[error("WeChat refused the token request: errcode {errcode} ({errmsg}){}", .hint.map(|h| format!(" — {h}")).unwrap_or_default())]
    /// WeChat refused the token request.
    Api {
        /// WeChat's errcode.
        errcode: i64,
        /// WeChat's errmsg (secret removed).
        errmsg: String,
        /// What to do.
        hint: Option<&'static str>,
    },
    #[error("the environment variable {0} that should hold the access token is not set")]
    /// The variable holding the token is not set.
    EnvMissing(String),
    #[error("the token command `{command}` failed: {detail}")]
    /// The token command failed.
    Command {
        /// The command.
        command: String,
        /// What went wrong.
        detail: String,
    },
    /// The shared token store (Redis) cannot be reached.
    #[error("the shared token store is lost: {0}")]
    Shared(String),
    /// The central token service (`url:`) gave no token.
    #[error("the token service {url} failed: {detail}")]
    Service {
        /// Its URL, without the query.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// `token = "component"`: WeChat refused a step of the platform's chain.
    #[error("WeChat refused {step}: errcode {errcode} ({errmsg}){}", .hint.map(|h| format!(" — {h}")).unwrap_or_default())]
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
    #[error("no component_verify_ticket: {detail}")]
    Ticket {
        /// Where it was looked for, and what to do.
        detail: String,
    },
    /// `token = "component"`: the merchant's refresh token cannot be read.
    #[error("the merchant's refresh token cannot be read: {detail}")]
    RefreshStore {
        /// What went wrong (never the token).
        detail: String,
    },
    /// `token = "component"`: no refresh token kept and none given.
    #[error("no refresh token for merchant {authorizer}: none is kept ({place}){}", match .var { Some(v) => format!(" and the variable {v} named by refresh_token_env is not set; set it to the authorizer_refresh_token the platform got when the merchant authorized it"), None => " and refresh_token_env is not set: name a variable holding the authorizer_refresh_token the platform got when the merchant authorized it".to_string() })]
    NoRefreshToken {
        /// The merchant.
        authorizer: String,
        /// Where it is kept.
        place: String,
        /// The variable named by `refresh_token_env`.
        var: Option<String>,
    },
    /// `token = "component"`: WeChat rotated the refresh token and the new one cannot be saved.
    #[error("WeChat replaced the merchant's refresh token and the new one cannot be saved in {place}: {detail}; nothing was sent with it. Free the disk or fix the store, then run again; if the old refresh token is refused (61023), recover the new one with the platform's api_get_authorizer_list")]
    RefreshNotSaved {
        /// Where it should have gone.
        place: String,
        /// What went wrong.
        detail: String,
    },
    #[error("{count} token requests in the last minute: stopping to protect the daily token quota (a flapping credential or another system refreshing the token?)")]
    /// Too many token requests in a minute.
    CircuitOpen {
        /// Requests counted in the minute.
        count: usize,
    },
}
