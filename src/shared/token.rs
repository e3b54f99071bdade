//! The shared access token, stored as WxJava stores it so other services read the same one:
//! `<prefix>:access_token:<appid>` holds the token as a plain string with the token's time to
//! live. Refresh is single-flight across processes with `<prefix>:access_token_lock:<appid>`
//! (`SET NX PX`, released by compare-and-delete so a slow holder never deletes someone else's
//! lock); a failing token is withdrawn only if Redis still holds that token.

use std::time::Duration;

use super::connection::Redis;
use crate::wechat::token::component::RefreshTokenStore;
use crate::wechat::token::store::{StoreError, StoreFuture, TokenStore};

/// How long a refresh lock lives if its holder dies.
pub const LOCK_TTL: Duration = Duration::from_secs(10);

const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// The token of one appid in Redis.
#[derive(Debug, Clone)]
pub struct SharedTokens {
    redis: Redis,
    key: String,
    lock: String,
    owner: String,
}

impl SharedTokens {
    /// The token of `appid`; `owner` tells this process's lock from others'.
    pub fn new(redis: Redis, appid: &str, owner: &str) -> Self {
        let key = format!("{}:access_token:{appid}", redis.prefix);
        let lock = format!("{}:access_token_lock:{appid}", redis.prefix);
        Self { redis, key, lock, owner: owner.to_string() }
    }

    /// A token under `key`, its refresh lock under `lock` (the keys of a third-party
    /// platform's chain, as WxJava's WxOpen stores them: `wechat_component_access_token:<appid>`,
    /// `wechat_authorizer_access_token:<appid>`).
    pub fn at(redis: Redis, key: String, lock: String, owner: &str) -> Self {
        Self { redis, key, lock, owner: owner.to_string() }
    }

    /// The key the token is stored under.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A merchant's refresh token in Redis, under WxJava's key
/// `wechat_authorizer_refresh_token:<authorizer_appid>` (no expiry: it lives until the merchant
/// withdraws), so a rotation on one host is what every other host reads next.
#[derive(Debug, Clone)]
pub struct RefreshInRedis {
    redis: Redis,
    key: String,
}

impl RefreshInRedis {
    /// The refresh token of `authorizer_appid`.
    pub fn new(redis: Redis, authorizer_appid: &str) -> Self {
        Self { key: format!("wechat_authorizer_refresh_token:{authorizer_appid}"), redis }
    }
}

impl RefreshTokenStore for RefreshInRedis {
    fn load(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move {
            let t: Option<String> = self.redis.run(redis::cmd("GET").arg(&self.key)).await.map_err(StoreError::new)?;
            Ok(t.filter(|t| !t.is_empty()))
        })
    }

    fn save<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: () = self.redis.run(redis::cmd("SET").arg(&self.key).arg(token)).await.map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn place(&self) -> String {
        format!("Redis {} key {}", self.redis.shown, self.key)
    }
}

impl TokenStore for SharedTokens {
    fn current(&self) -> StoreFuture<'_, Option<(String, Duration)>> {
        Box::pin(async move {
            let token: Option<String> =
                self.redis.run(redis::cmd("GET").arg(&self.key)).await.map_err(StoreError::new)?;
            let ttl: i64 = self.redis.run(redis::cmd("PTTL").arg(&self.key)).await.map_err(StoreError::new)?;
            Ok(token.filter(|t| !t.is_empty()).map(|t| {
                // A key without expiry (set by another tool): trust it for an hour.
                let left = if ttl > 0 { Duration::from_millis(ttl as u64) } else { Duration::from_secs(3600) };
                (t, left)
            }))
        })
    }

    fn try_lock(&self) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let set: Option<String> = self
                .redis
                .run(
                    redis::cmd("SET")
                        .arg(&self.lock)
                        .arg(&self.owner)
                        .arg("NX")
                        .arg("PX")
                        .arg(LOCK_TTL.as_millis() as u64),
                )
                .await
                .map_err(StoreError::new)?;
            Ok(set.is_some())
        })
    }

    fn unlock(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _: i64 = self
                .redis
                .script(&redis::Script::new(RELEASE), &[&self.lock], std::slice::from_ref(&self.owner))
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn publish<'a>(&'a self, token: &'a str, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: () = self
                .redis
                .run(redis::cmd("SET").arg(&self.key).arg(token).arg("PX").arg(ttl.as_millis().max(1000) as u64))
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn withdraw<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _: i64 = self
                .redis
                .script(&redis::Script::new(RELEASE), &[&self.key], &[token.to_string()])
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }
}
