//! Access tokens: where they come from, and the one cache every worker shares.
//!
//! The cache hands out the current token without waiting; a refresh is single-flight (one
//! request however many workers need a token); a token is refreshed when under
//! `min(300 s, ttl / 2)` remain; a failing token is replaced only if it is still the current
//! one; tokens persist on disk (mode 0600) so the next run within their life asks for none.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::client::WechatClient;
use super::errors::hint;
use super::http::{Http, Reply, TransportError};
use super::secret::{scrub, AccessToken, Secret};
use crate::campaign::config::WechatConfig;
use crate::campaign::TokenSpec;

/// Why no token could be had. Never contains the secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the app secret is not set: export it in the environment variable {var} (named by `secret_env` in [wechat])"
    )]
    MissingSecret { var: String },
    #[error("token request failed: {0}")]
    Transport(String),
    #[error("WeChat refused the token request: errcode {errcode} ({errmsg}){}", .hint.map(|h| format!(" — {h}")).unwrap_or_default())]
    Api { errcode: i64, errmsg: String, hint: Option<&'static str> },
    #[error("the environment variable {0} that should hold the access token is not set")]
    EnvMissing(String),
    #[error("the token command `{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{count} token requests in the last minute: stopping to protect the daily token quota (a flapping credential or another system refreshing the token?)")]
    CircuitOpen { count: usize },
}

/// A token as fetched, with its lifetime when the source tells it.
#[derive(Debug, Clone)]
struct Fetched {
    token: AccessToken,
    expires_in: Option<Duration>,
}

/// Where tokens come from (`token` in [wechat]).
#[derive(Debug, Clone)]
pub struct TokenSource {
    spec: TokenSpec,
    appid: String,
    secret: Option<Secret>,
    http: Http,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl TokenSource {
    /// The source the campaign names; reads the secret from `secret_env` when the source needs it.
    pub fn from_config(wechat: &WechatConfig, client: &WechatClient) -> Result<Self, TokenError> {
        let secret = match wechat.token {
            TokenSpec::Stable | TokenSpec::ClientCredential => {
                let value = std::env::var(&wechat.secret_env).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(TokenError::MissingSecret { var: wechat.secret_env.clone() });
                }
                Some(Secret::new(value.trim()))
            }
            TokenSpec::Env(_) | TokenSpec::Command(_) => None,
        };
        Ok(Self::new(wechat.token.clone(), &wechat.appid, secret, client))
    }

    /// A source from its parts (the secret already read).
    pub fn new(spec: TokenSpec, appid: &str, secret: Option<Secret>, client: &WechatClient) -> Self {
        Self { spec, appid: appid.to_string(), secret, http: client.http().clone() }
    }

    pub fn spec(&self) -> &TokenSpec {
        &self.spec
    }

    fn secret(&self) -> &str {
        self.secret.as_ref().map_or("", Secret::expose)
    }

    async fn fetch(&self) -> Result<Fetched, TokenError> {
        match &self.spec {
            TokenSpec::Stable => {
                let body = serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret(),
                    "force_refresh": false,
                });
                let uri = self.http.uri("/cgi-bin/stable_token", &[]).map_err(|e| TokenError::Transport(e.0))?;
                let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                self.answer(self.http.post_json(uri, body).await).await
            }
            TokenSpec::ClientCredential => {
                let query =
                    [("grant_type", "client_credential"), ("appid", self.appid.as_str()), ("secret", self.secret())];
                // The URI holds the secret: the error names the path only.
                let uri = self.http.uri("/cgi-bin/token", &query).map_err(|_| {
                    TokenError::Transport(format!(
                        "`{}/cgi-bin/token` is not a valid URL: check api_base",
                        self.http.base()
                    ))
                })?;
                self.answer(self.http.get(uri).await).await
            }
            TokenSpec::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Fetched { token: AccessToken::new(v.trim()), expires_in: None }),
                _ => Err(TokenError::EnvMissing(var.clone())),
            },
            TokenSpec::Command(command) => run_token_command(command).await,
        }
    }

    async fn answer(&self, reply: Result<Reply, TransportError>) -> Result<Fetched, TokenError> {
        let Reply { status, body } = reply.map_err(|e| TokenError::Transport(e.0))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Transport(format!("HTTP {status}, the answer is not JSON")))?;
        match answer.access_token {
            Some(t) if answer.errcode == 0 && !t.is_empty() => {
                Ok(Fetched { token: AccessToken::new(t), expires_in: answer.expires_in.map(Duration::from_secs) })
            }
            _ => Err(TokenError::Api {
                errcode: answer.errcode,
                errmsg: scrub(&answer.errmsg, &[self.secret()]),
                hint: hint(answer.errcode),
            }),
        }
    }
}

async fn run_token_command(command: &str) -> Result<Fetched, TokenError> {
    let fail = |detail: String| TokenError::Command { command: command.to_string(), detail };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), child)
        .await
        .map_err(|_| fail("no answer within 30 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(format!("exited with {}", output.status)));
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // Either a bare token, or WeChat's JSON answer {"access_token": ..., "expires_in": ...}.
    if let Ok(a) = serde_json::from_str::<TokenAnswer>(&text) {
        if let Some(t) = a.access_token.filter(|t| !t.is_empty()) {
            return Ok(Fetched { token: AccessToken::new(t), expires_in: a.expires_in.map(Duration::from_secs) });
        }
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(fail("it printed no token (expected the token alone, or JSON with access_token)".into()));
    }
    Ok(Fetched { token: AccessToken::new(text), expires_in: None })
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    obtained_at: SystemTime,
    /// None: the source did not say (env, command); used until it fails.
    expires_at: Option<SystemTime>,
    ttl: Option<Duration>,
}

impl Cached {
    fn margin(&self) -> Duration {
        self.ttl.map_or(Duration::ZERO, |ttl| (ttl / 2).min(Duration::from_secs(300)))
    }

    /// Usable without a refresh: not within the refresh margin of its expiry.
    fn is_fresh(&self, now: SystemTime) -> bool {
        match self.expires_at {
            None => true,
            Some(at) => now + self.margin() < at,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct DiskToken {
    access_token: String,
    obtained_at: u64,
    expires_at: u64,
}

/// What [`TokenCache::replace_failed`] did.
#[derive(Debug, Clone)]
pub struct Replaced {
    pub token: AccessToken,
    /// A token request was made (false: another worker had already replaced the failing token).
    pub refreshed: bool,
    /// The failing token was still within its life by our clock: something else replaced it.
    pub external: bool,
}

/// A snapshot for screens and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenStatus {
    pub source: &'static str,
    /// The current token, redacted.
    pub token: Option<String>,
    pub age_secs: Option<u64>,
    pub expires_in_secs: Option<u64>,
    /// Token requests this process made.
    pub requests: u64,
    /// Refreshes after the first token (expiry or invalidation).
    pub refreshes: u64,
    pub from_disk: bool,
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
    from_disk: std::sync::atomic::AtomicBool,
    recent: Mutex<VecDeque<Instant>>,
}

impl TokenCache {
    /// A cache for `source`, persisted under `cache_dir` (None: memory only).
    pub fn new(source: TokenSource, cache_dir: Option<&Path>) -> Self {
        let disk = match source.spec {
            TokenSpec::Stable | TokenSpec::ClientCredential => cache_dir.map(|d| d.join(cache_file_name(&source))),
            TokenSpec::Env(_) | TokenSpec::Command(_) => None,
        };
        let cache = Self {
            source,
            current: ArcSwapOption::empty(),
            refresh: tokio::sync::Mutex::new(()),
            disk,
            requests: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            from_disk: Default::default(),
            recent: Mutex::new(VecDeque::new()),
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

    pub fn source(&self) -> &TokenSource {
        &self.source
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
        let token = self.fetch_and_store().await?;
        Ok(Replaced { token, refreshed: true, external })
    }

    async fn fetch_and_store(&self) -> Result<AccessToken, TokenError> {
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

/// One file per app, token source and API base (a mock's token must never meet the real API).
fn cache_file_name(source: &TokenSource) -> String {
    let mut h = Sha256::new();
    h.update(source.http.base().as_bytes());
    h.update([0]);
    h.update(source.appid.as_bytes());
    let digest = h.finalize();
    let safe_appid: String = source.appid.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect();
    format!(
        "{safe_appid}-{}-{:02x}{:02x}{:02x}{:02x}.json",
        source.spec.label(),
        digest[0],
        digest[1],
        digest[2],
        digest[3]
    )
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn read_disk(path: &Path) -> Option<Cached> {
    let text = std::fs::read_to_string(path).ok()?;
    let d: DiskToken = serde_json::from_str(&text).ok()?;
    let obtained_at = UNIX_EPOCH + Duration::from_secs(d.obtained_at);
    let expires_at = UNIX_EPOCH + Duration::from_secs(d.expires_at);
    Some(Cached {
        token: AccessToken::new(d.access_token),
        obtained_at,
        expires_at: Some(expires_at),
        ttl: expires_at.duration_since(obtained_at).ok(),
    })
}

fn write_disk(path: &Path, cached: &Cached) -> std::io::Result<()> {
    use std::io::Write;
    let Some(expires_at) = cached.expires_at else { return Ok(()) };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir)?;
    let body = serde_json::to_vec(&DiskToken {
        access_token: cached.token.expose().to_string(),
        obtained_at: unix(cached.obtained_at),
        expires_at: unix(expires_at),
    })?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = open_private(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // The mode applies only at creation: make sure a file left by an older run is private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
