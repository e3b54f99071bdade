//! `[shared]` of a campaign: the Redis that several senders on one appid share (token, rate,
//! rows). `redis` may also come from the account or `WXSEND_REDIS_URL`; without it nothing is
//! shared and nothing changes.

use serde::Deserialize;

/// `[shared]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShared {
    pub(crate) redis: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) password_env: Option<String>,
}

/// Where the shared state is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedConfig {
    /// `redis://[:password@]host:port/db` or `rediss://…` (never printed with its password).
    pub redis: Option<String>,
    /// The token key prefix: `<prefix>:access_token:<appid>` (WxJava's default `wx`).
    pub prefix: String,
    /// The environment variable holding the password, when the URL has none.
    pub password_env: Option<String>,
}

impl SharedConfig {
    /// The password from `password_env`, if set.
    pub fn password(&self) -> Option<String> {
        self.password_env.as_ref().and_then(|v| std::env::var(v).ok()).filter(|p| !p.is_empty())
    }
}

impl RawShared {
    /// Resolved: the campaign's `redis`, else `WXSEND_REDIS_URL`.
    pub(crate) fn resolve(self, path: &std::path::Path) -> Result<SharedConfig, super::LoadError> {
        let redis = self.redis.or_else(|| std::env::var("WXSEND_REDIS_URL").ok()).filter(|u| !u.trim().is_empty());
        if let Some(url) = &redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://")) {
                return Err(super::LoadError::Config {
                    at: super::error::Location::file(path),
                    message: format!(
                        "[shared] redis = {:?}: use redis://host:port/db (rediss:// for TLS)",
                        without_credentials(url)
                    ),
                });
            }
        }
        Ok(SharedConfig { redis, prefix: self.prefix.unwrap_or_else(|| "wx".into()), password_env: self.password_env })
    }
}

/// `url` without its credentials.
pub fn without_credentials(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let scheme = url.split_once("://").map_or("redis", |(s, _)| s);
    format!("{scheme}://{rest}")
}
