//! The token cache with a store other processes share: the double-checked lock. Another
//! process can publish a token and let go of the lock between this process's read and its own
//! lock; the token it published is read again, never fetched a second time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wxsend::mock::MockConfig;
use wxsend::wechat::token::store::{StoreFuture, TokenStore};
use wxsend::wechat::{TokenCache, TokenSpec};

/// A store whose first read finds nothing and whose later reads find the token another process
/// published meanwhile; its lock is always free.
#[derive(Debug, Default)]
struct PublishedMeanwhile {
    reads: AtomicUsize,
    locks: AtomicUsize,
    published: AtomicUsize,
}

impl TokenStore for PublishedMeanwhile {
    fn current(&self) -> StoreFuture<'_, Option<(String, Duration)>> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        Box::pin(
            async move { Ok((n > 0).then(|| ("TOKEN_OF_THE_OTHER_PROCESS".to_string(), Duration::from_secs(7000)))) },
        )
    }
    fn try_lock(&self) -> StoreFuture<'_, bool> {
        self.locks.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(true) })
    }
    fn unlock(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
    fn publish<'a>(&'a self, _token: &'a str, _ttl: Duration) -> StoreFuture<'a, ()> {
        self.published.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn withdraw<'a>(&'a self, _token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_token_published_between_the_read_and_the_lock_is_read_not_fetched_again() {
    let server = common::mock(MockConfig::default()).await;
    let store = Arc::new(PublishedMeanwhile::default());
    let cache: TokenCache = Arc::try_unwrap(common::cache(&server, TokenSpec::Stable, None))
        .unwrap_or_else(|_| panic!("the cache is not shared yet"))
        .with_shared(store.clone());
    let token = cache.get().await.unwrap();
    assert_eq!(token.expose(), "TOKEN_OF_THE_OTHER_PROCESS");
    assert_eq!(store.locks.load(Ordering::SeqCst), 1, "it took the lock");
    assert_eq!(store.reads.load(Ordering::SeqCst), 2, "and read the store again under it");
    assert_eq!(store.published.load(Ordering::SeqCst), 0, "it published nothing of its own");
    assert_eq!(server.stats().stable_token_calls, 0, "nothing was fetched from WeChat");
}
