//! The connection to Redis every part of scale-out shares (one `ConnectionManager`, commands
//! bounded by [`COMMAND_TIMEOUT`]; any error is "lost"), and its error.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::IntoConnectionInfo;

use crate::campaign::shared::without_credentials;

/// Why Redis cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::tr!("err.shared_error", at = .at.to_string(), detail = .detail.to_string()))]
pub struct SharedError {
    /// The server, without credentials.
    pub at: String,
    /// What failed.
    pub detail: String,
}

/// The connection and the names every key is built from.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// `host:port/db`, without credentials, for messages.
    pub shown: String,
    /// The token key prefix (WxJava's default `wx`).
    pub prefix: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("at", &self.shown).finish_non_exhaustive()
    }
}

/// How long one Redis command may take before the store counts as lost.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

impl Redis {
    /// Connect to `url` (`redis://[:password@]host:port/db`, `rediss://` for TLS); `password`
    /// (from the environment) is used when the URL has none.
    pub async fn connect(url: &str, password: Option<String>, prefix: &str) -> Result<Self, SharedError> {
        let shown = without_credentials(url);
        let fail = |detail: String| SharedError { at: shown.clone(), detail };
        let mut info: redis::ConnectionInfo = url.into_connection_info().map_err(|e| fail(e.to_string()))?;
        if info.redis.password.is_none() {
            info.redis.password = password;
        }
        let client = redis::Client::open(info).map_err(|e| fail(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(COMMAND_TIMEOUT * 2, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| fail("no connection within 6 s".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let redis = Self { conn, shown, prefix: prefix.to_string() };
        let _: String = redis.run(&redis::cmd("PING")).await?;
        Ok(redis)
    }

    /// Run `cmd`; any failure is the store lost.
    pub(crate) async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, SharedError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(|e| self.lost(e))
    }

    /// Run a pipeline (a transaction when it is atomic).
    pub(crate) async fn run_pipe<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, SharedError> {
        let mut conn = self.conn.clone();
        pipe.query_async(&mut conn).await.map_err(|e| self.lost(e))
    }

    /// Run `script` with `keys` and `args`.
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, SharedError> {
        let mut conn = self.conn.clone();
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(a);
        }
        invocation.invoke_async(&mut conn).await.map_err(|e| self.lost(e))
    }

    fn lost(&self, e: redis::RedisError) -> SharedError {
        SharedError { at: self.shown.clone(), detail: e.to_string() }
    }
}
