//! A token store other processes share (Redis): the cache asks it before fetching, takes its
//! refresh lock so one process in all fetches, publishes what it fetched, and withdraws a
//! failing token only if the store still holds that one. The store itself lives a layer up.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, for the object-safe trait below.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A shared store (Redis, a file) that cannot be used: its own words, without a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    /// The store's error, in its own words.
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// What the cache needs from a shared token store. Errors are in words (the store is lost).
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The token the store holds and how long it has left.
    fn current(&self) -> StoreFuture<'_, Option<(String, Duration)>>;
    /// Take the refresh lock (`true`), or see that another process holds it (`false`).
    fn try_lock(&self) -> StoreFuture<'_, bool>;
    /// Give the lock up, if it is still ours.
    fn unlock(&self) -> StoreFuture<'_, ()>;
    /// Publish `token` for `ttl`.
    fn publish<'a>(&'a self, token: &'a str, ttl: Duration) -> StoreFuture<'a, ()>;
    /// Withdraw `token` if the store still holds it (another process may have replaced it).
    fn withdraw<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()>;
}
