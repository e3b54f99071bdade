//! The one token cache every worker shares: single-flight refresh, proactive refresh before
//! expiry, compare-and-replace on a failing token, a circuit breaker, and the disk copy.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use serde::Serialize;

use super::component::{Chain, Platform, PlatformTokens, RefreshFile, RefreshInMemory, RefreshTokenStore, TokenFuture};
use super::disk::{cache_file_name, read_disk, write_disk, Cached};
use super::error::TokenError;
use super::source::Role;
use super::source::TokenSource;
use super::store::TokenStore;
use crate::wechat::protocol::TokenSpec;
use crate::wechat::secret::AccessToken;

/// What [`TokenCache::replace_failed`] did.
#[derive(Debug, Clone)]
pub struct Replaced {
    /// The token to use now.
    pub token: AccessToken,
    /// A token request was made (false: another worker had already replaced the failing token).
    pub refreshed: bool,
    /// The failing token was still within its life by our clock: something else replaced it.
    pub external: bool,
}

/// Token requests allowed per minute before the circuit opens.
pub const CIRCUIT_LIMIT: usize = 10;

/// The one token cache shared by all workers.
#[derive(Debug)]
pub struct TokenCache {
    source: TokenSource,
    /// Read without a lock by every send; replaced whole on refresh.
    current: ArcSwapOption<Cached>,
    refresh: tokio::sync::Mutex<()>,
    disk: Option<PathBuf>,
    requests: AtomicU64,
    refreshes: AtomicU64,
    from_disk: AtomicBool,
    recent: Mutex<VecDeque<Instant>>,
    /// A store other processes share: one token and one refresh for all (set once, before use).
    shared: std::sync::OnceLock<Arc<dyn TokenStore>>,
    /// `component`: the platform's token cache, which the merchant's chain asks too.
    platform: Option<Arc<TokenCache>>,
}

impl TokenCache {
    /// A cache for `source`, persisted under `cache_dir` (None: memory only).
    pub fn new(mut source: TokenSource, cache_dir: Option<&Path>) -> Self {
        let disk = match source.spec {
            TokenSpec::Stable | TokenSpec::ClientCredential | TokenSpec::Component(_) => {
                cache_dir.map(|d| d.join(cache_file_name(&source)))
            }
            TokenSpec::Env(_) | TokenSpec::Command(_) | TokenSpec::Url(_) => None,
        };
        let mut platform_cache = None;
        if let (TokenSpec::Component(spec), Role::Own) = (&source.spec, &source.role) {
            // The merchant's token needs the platform's: a cache of its own, and the refresh token's store.
            let cache = Arc::new(TokenCache::new(source.platform_source(spec, cache_dir), cache_dir));
            platform_cache = Some(cache.clone());
            let platform: Arc<dyn PlatformTokens> = cache;
            let refresh: Arc<dyn RefreshTokenStore> = match cache_dir {
                Some(dir) => Arc::new(RefreshFile::new(dir, &spec.component_appid, &spec.authorizer_appid)),
                None => Arc::new(RefreshInMemory::default()),
            };
            let side = Platform { spec: (**spec).clone(), cache_dir: cache_dir.map(Path::to_path_buf) };
            source.role = Role::Merchant(Arc::new(Chain { spec: (**spec).clone(), platform, refresh, side }));
        }
        let cache = Self {
            source,
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(()),
            disk,
            requests: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            from_disk: Default::default(),
            recent: Mutex::new(VecDeque::new()),
            shared: std::sync::OnceLock::new(),
            platform: platform_cache,
        };
        if let Some(cached) = cache.disk.as_deref().and_then(read_disk) {
            if cached.is_fresh(SystemTime::now()) {
                cache.from_disk.store(true, Ordering::Relaxed);
                cache.store_memory(cached);
            }
        }
        cache
    }

    /// The default token cache folder: `$WXSEND_CACHE_DIR`, else the user's cache dir.
    pub fn default_dir() -> Option<PathBuf> {
        match std::env::var_os("WXSEND_CACHE_DIR") {
            Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
            _ => dirs::cache_dir().map(|d| d.join("wxsend").join("tokens")),
        }
    }

    /// The file this cache persists to, if any.
    pub fn disk_path(&self) -> Option<&Path> {
        self.disk.as_deref()
    }

    /// Where its tokens come from.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Share tokens with other processes through `store`.
    pub fn with_shared(self, store: Arc<dyn TokenStore>) -> Self {
        let _ = self.shared.set(store);
        self
    }

    /// `component`: share the platform's token through `platform` and keep the merchant's refresh
    /// token in `refresh` (Redis, so that every host sees a rotation). Call before the cache is
    /// shared with anyone; no effect on another source.
    pub fn with_component_stores(
        mut self,
        platform: Arc<dyn TokenStore>,
        refresh: Option<Arc<dyn RefreshTokenStore>>,
    ) -> Self {
        if let Some(cache) = &self.platform {
            let _ = cache.shared.set(platform);
        }
        if let (Role::Merchant(chain), Some(refresh)) = (&mut self.source.role, refresh) {
            if let Some(chain) = Arc::get_mut(chain) {
                chain.refresh = refresh;
            }
        }
        self
    }

    fn snapshot(&self) -> Option<Arc<Cached>> {
        self.current.load_full()
    }

    fn store_memory(&self, cached: Cached) {
        self.current.store(Some(Arc::new(cached)));
    }

    /// A usable token: the cached one, or one fetched by a single request however many callers wait.
    pub async fn get(&self) -> Result<AccessToken, TokenError> {
        if let Some(c) = self.current.load().as_deref().filter(|c| c.is_fresh(SystemTime::now())) {
            return Ok(c.token.clone());
        }
        // Boxed: a fetch is rare and its state is large (see `Http::exchange`).
        Box::pin(self.get_slow()).await
    }

    /// [`TokenCache::get`] when no fresh token is at hand: one fetch at a time.
    async fn get_slow(&self) -> Result<AccessToken, TokenError> {
        let _flight = self.refresh.lock().await;
        if let Some(c) = self.snapshot().filter(|c| c.is_fresh(SystemTime::now())) {
            return Ok(c.token.clone());
        }
        self.fetch_and_store().await
    }

    /// `failed` was refused as invalid or expired: replace it, unless another worker already did.
    pub async fn replace_failed(&self, failed: &AccessToken) -> Result<Replaced, TokenError> {
        let _flight = self.refresh.lock().await;
        let current = self.snapshot();
        if let Some(c) = &current {
            if c.token != *failed {
                return Ok(Replaced { token: c.token.clone(), refreshed: false, external: false });
            }
        }
        let external = current.is_some_and(|c| c.is_fresh(SystemTime::now()));
        if let Some(store) = self.shared.get() {
            // Withdrawn only if the store still holds the failing token; another process may
            // already have published a new one, which the fetch below then reads.
            store.withdraw(failed.expose()).await.map_err(|e| TokenError::Shared(e.to_string()))?;
        }
        let token = self.fetch_and_store().await?;
        Ok(Replaced { token, refreshed: true, external })
    }

    async fn fetch_and_store(&self) -> Result<AccessToken, TokenError> {
        let Some(store) = self.shared.get().cloned() else { return self.fetch_from_source().await };
        let failing = self.snapshot().map(|c| c.token.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(token) = self.read_store(&*store, failing.as_ref()).await? {
                return Ok(token);
            }
            if store.try_lock().await.map_err(|e| TokenError::Shared(e.to_string()))? {
                // Another process may have published and let go of the lock between the read
                // above and this lock: read again before fetching, or both would fetch.
                if let Some(token) = self.read_store(&*store, failing.as_ref()).await? {
                    let _ = store.unlock().await;
                    return Ok(token);
                }
                let fetched = self.fetch_from_source().await;
                let published = match &fetched {
                    Ok(token) => {
                        let ttl = self.snapshot().and_then(|c| c.ttl).unwrap_or(Duration::from_secs(7200));
                        // Published a little short of its life, so nobody reads a dying token.
                        store
                            .publish(
                                token.expose(),
                                ttl.saturating_sub(Duration::from_secs(120)).max(Duration::from_secs(60)),
                            )
                            .await
                    }
                    Err(_) => Ok(()),
                };
                let _ = store.unlock().await;
                published.map_err(|e| TokenError::Shared(e.to_string()))?;
                return fetched;
            }
            // Another process is fetching: wait for what it publishes.
            if Instant::now() > deadline {
                return Err(TokenError::Shared("another process has held the token refresh lock for 30 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The store's token, kept here too, unless it is `failing` (the one that just failed here)
    /// or has under a minute left.
    async fn read_store(
        &self,
        store: &dyn TokenStore,
        failing: Option<&AccessToken>,
    ) -> Result<Option<AccessToken>, TokenError> {
        let Some((token, left)) = store.current().await.map_err(|e| TokenError::Shared(e.to_string()))? else {
            return Ok(None);
        };
        if failing.is_some_and(|f| f.expose() == token) || left <= Duration::from_secs(60) {
            return Ok(None);
        }
        let now = SystemTime::now();
        let token = AccessToken::new(token);
        self.store_memory(Cached {
            token: token.clone(),
            obtained_at: now,
            expires_at: Some(now + left),
            ttl: Some(left),
        });
        Ok(Some(token))
    }

    async fn fetch_from_source(&self) -> Result<AccessToken, TokenError> {
        self.admit_request()?;
        let had_token = self.snapshot().is_some();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let fetched = self.source.fetch().await?;
        let now = SystemTime::now();
        let cached = Cached {
            token: fetched.token.clone(),
            obtained_at: now,
            expires_at: fetched.expires_in.map(|d| now + d),
            ttl: fetched.expires_in,
        };
        if had_token {
            self.refreshes.fetch_add(1, Ordering::Relaxed);
        }
        self.from_disk.store(false, Ordering::Relaxed);
        if let Some(path) = &self.disk {
            // A cache that cannot be written costs one token request next run; never fail the send.
            let _ = write_disk(path, &cached);
        }
        self.store_memory(cached);
        Ok(fetched.token)
    }

    /// The circuit breaker: at most [`CIRCUIT_LIMIT`] token requests in any minute.
    fn admit_request(&self) -> Result<(), TokenError> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while recent.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
            recent.pop_front();
        }
        if recent.len() >= CIRCUIT_LIMIT {
            return Err(TokenError::CircuitOpen { count: recent.len() + 1 });
        }
        recent.push_back(now);
        Ok(())
    }

    /// Counters and the current token's age, for screens and reports.
    pub fn status(&self) -> TokenStatus {
        let now = SystemTime::now();
        let c = self.snapshot();
        TokenStatus {
            source: self.source.spec.label(),
            token: c.as_ref().map(|c| c.token.redacted()),
            age_secs: c.as_ref().and_then(|c| now.duration_since(c.obtained_at).ok()).map(|d| d.as_secs()),
            expires_in_secs: c
                .as_ref()
                .and_then(|c| c.expires_at)
                .and_then(|e| e.duration_since(now).ok())
                .map(|d| d.as_secs()),
            requests: self.requests.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            from_disk: self.from_disk.load(Ordering::Relaxed),
        }
    }
}

/// The platform's token cache as the merchant's chain asks it.
impl PlatformTokens for TokenCache {
    fn token(&self) -> TokenFuture<'_, AccessToken> {
        Box::pin(self.get())
    }

    fn replace<'a>(&'a self, failed: &'a AccessToken) -> TokenFuture<'a, AccessToken> {
        Box::pin(async move { self.replace_failed(failed).await.map(|r| r.token) })
    }
}

/// A snapshot for screens and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenStatus {
    /// The token source's name.
    pub source: &'static str,
    /// The current token, redacted.
    pub token: Option<String>,
    /// How long ago the token was obtained.
    pub age_secs: Option<u64>,
    /// How long it has left, when known.
    pub expires_in_secs: Option<u64>,
    /// Token requests this process made.
    pub requests: u64,
    /// Refreshes after the first token (expiry or invalidation).
    pub refreshes: u64,
    /// Whether it came from the disk cache.
    pub from_disk: bool,
}
