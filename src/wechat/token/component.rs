//! A third-party platform's token chain (`token = "component"`): the platform's own
//! `component_access_token` (from its AppID, AppSecret and the newest `component_verify_ticket`)
//! and, with it and the merchant's refresh token, the merchant's `authorizer_access_token`.
//!
//! The platform's token is a [`TokenCache`] of its own (single-flight, kept on disk 0600, shared
//! through Redis when senders share one); the merchant's is the outer cache's. A refresh token
//! WeChat rotates is saved (0600 file replaced whole, or Redis) before its access token is used:
//! the old one may stop working, and a rotation lost loses the merchant.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::answer::{check_token_text, Fetched};
use super::disk::{file_name_part, unix};
use super::error::TokenError;
use super::store::{StoreError, StoreFuture};
use crate::wechat::errors::hint;
use crate::wechat::http::Http;
use crate::wechat::protocol::{ComponentSpec, TicketSource};
use crate::wechat::secret::{scrub, AccessToken, Secret};

/// Where a merchant's refresh token is kept: read before each token request, written on every
/// rotation. Errors are in words (the store is lost).
pub trait RefreshTokenStore: Send + Sync + std::fmt::Debug {
    /// The refresh token kept, if any.
    fn load(&self) -> StoreFuture<'_, Option<String>>;
    /// Keep `token` in place of the one before (durably: it may be the only one that works).
    fn save<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()>;
    /// Where it is kept, in words, for messages (never the token).
    fn place(&self) -> String;
}

/// A future of a token source's answer (object-safe, for [`PlatformTokens`]).
pub type TokenFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, TokenError>> + Send + 'a>>;

/// The platform's token as a merchant's chain needs it: the current one, and one in place of a
/// token WeChat refused (compare-and-expire, single-flight). The platform's token cache is one.
pub trait PlatformTokens: Send + Sync + std::fmt::Debug {
    /// A usable token.
    fn token(&self) -> TokenFuture<'_, AccessToken>;
    /// A token in place of `failed` (refused as invalid or expired).
    fn replace<'a>(&'a self, failed: &'a AccessToken) -> TokenFuture<'a, AccessToken>;
}

/// A refresh token in a private file of the token cache folder (0600, replaced whole).
#[derive(Debug)]
pub struct RefreshFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct RefreshOnDisk {
    authorizer_refresh_token: String,
    saved_at: u64,
}

impl RefreshFile {
    /// The file of `authorizer_appid` of platform `component_appid` in `cache_dir`.
    pub fn new(cache_dir: &Path, component_appid: &str, authorizer_appid: &str) -> Self {
        let name =
            format!("component-{}-{}.refresh.json", file_name_part(component_appid), file_name_part(authorizer_appid));
        Self { path: cache_dir.join(name) }
    }
}

impl RefreshTokenStore for RefreshFile {
    fn load(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move {
            match std::fs::read_to_string(&self.path) {
                Ok(text) => serde_json::from_str::<RefreshOnDisk>(&text)
                    .map(|d| Some(d.authorizer_refresh_token).filter(|t| !t.is_empty()))
                    .map_err(|e| StoreError::new(format!("{}: not a refresh token file ({e})", self.path.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::new(format!("{}: {e}", self.path.display()))),
            }
        })
    }

    fn save<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let body = RefreshOnDisk {
                authorizer_refresh_token: token.to_string(),
                saved_at: unix(std::time::SystemTime::now()),
            };
            let bytes = serde_json::to_vec(&body).map_err(StoreError::new)?;
            crate::private::write_whole(&self.path, &bytes, true)
                .map_err(|e| StoreError::new(format!("{}: {e}", self.path.display())))
        })
    }

    fn place(&self) -> String {
        self.path.display().to_string()
    }
}

/// A refresh token held in this process only (no cache folder: the embedded mock's runs).
#[derive(Debug, Default)]
pub struct RefreshInMemory(std::sync::Mutex<Option<String>>);

impl RefreshTokenStore for RefreshInMemory {
    fn load(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move { Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()) })
    }
    fn save<'a>(&'a self, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.to_string());
            Ok(())
        })
    }
    fn place(&self) -> String {
        "memory".into()
    }
}

/// The newest `component_verify_ticket` `wxsend receipts serve` received for a platform, as
/// kept on disk (0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTicket {
    /// The ticket (a secret: never shown).
    pub component_verify_ticket: String,
    /// WeChat's `CreateTime` of the push (Unix seconds).
    pub create_time: u64,
    /// When it was received (Unix seconds).
    pub received_at: u64,
}

/// The file `receipts serve` keeps platform `component_appid`'s ticket in.
pub fn ticket_file(cache_dir: &Path, component_appid: &str) -> PathBuf {
    cache_dir.join(format!("component-{}.ticket.json", file_name_part(component_appid)))
}

/// Keep `ticket` unless the file already holds a newer one (by `create_time`): pushes may
/// arrive out of order, and two servers may receive them. Whether it was kept.
pub fn save_ticket(path: &Path, ticket: &StoredTicket) -> std::io::Result<bool> {
    if let Some(kept) = read_ticket_file(path) {
        if kept.create_time > ticket.create_time {
            return Ok(false);
        }
    }
    let bytes = serde_json::to_vec(ticket).map_err(std::io::Error::other)?;
    crate::private::write_whole(path, &bytes, true).map(|()| true)
}

/// The ticket kept at `path`: the JSON `receipts serve` writes, or a file holding the ticket alone.
pub fn read_ticket_file(path: &Path) -> Option<StoredTicket> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    if let Ok(t) = serde_json::from_str::<StoredTicket>(text) {
        return Some(t);
    }
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let at = modified.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    (!text.is_empty() && !text.starts_with('{')).then(|| StoredTicket {
        component_verify_ticket: text.to_string(),
        create_time: at,
        received_at: at,
    })
}

/// A merchant's authorization as the platform's pushes last told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// `authorized`, `updateauthorized` or `unauthorized`.
    pub state: String,
    /// WeChat's `CreateTime` of the push (Unix seconds).
    pub at: u64,
}

/// The file `receipts serve` keeps platform `component_appid`'s merchants' authorizations in.
pub fn authorizations_file(cache_dir: &Path, component_appid: &str) -> PathBuf {
    cache_dir.join(format!("component-{}.authorizations.json", file_name_part(component_appid)))
}

/// Every merchant's last authorization (none when the file is missing or unreadable).
pub fn read_authorizations(path: &Path) -> std::collections::BTreeMap<String, Authorization> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// Record `state` for `authorizer_appid`, unless a later push is already recorded.
pub fn record_authorization(path: &Path, authorizer_appid: &str, state: &str, at: u64) -> std::io::Result<()> {
    let mut all = read_authorizations(path);
    if all.get(authorizer_appid).is_some_and(|a| a.at > at) {
        return Ok(());
    }
    all.insert(authorizer_appid.to_string(), Authorization { state: state.to_string(), at });
    let bytes = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
    crate::private::write_whole(path, &bytes, true)
}

/// How long a ticket is valid after WeChat pushed it.
pub const TICKET_LIFE: Duration = Duration::from_secs(12 * 3600);

/// What fetches the platform's own token: its settings and the token cache folder (where
/// `ticket = "receipts"` is read).
#[derive(Debug, Clone)]
pub struct Platform {
    pub(super) spec: ComponentSpec,
    pub(super) cache_dir: Option<PathBuf>,
}

/// A merchant's token chain: the platform's token cache and the merchant's refresh token.
#[derive(Debug)]
pub struct Chain {
    pub(super) spec: ComponentSpec,
    /// The platform's `component_access_token`.
    pub(super) platform: Arc<dyn PlatformTokens>,
    pub(super) refresh: Arc<dyn RefreshTokenStore>,
    pub(super) side: Platform,
}

/// The component answers' fields, whichever endpoint.
#[derive(Deserialize, Default)]
struct ComponentAnswer {
    component_access_token: Option<String>,
    authorizer_access_token: Option<String>,
    authorizer_refresh_token: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl Platform {
    /// The ticket the platform's token is asked with, from where `ticket` says.
    pub fn ticket(&self) -> Result<StoredTicket, TokenError> {
        let missing = |detail: String| TokenError::Ticket { detail };
        match &self.spec.ticket {
            TicketSource::Env(var) => match std::env::var(var) {
                Ok(t) if !t.trim().is_empty() => {
                    Ok(StoredTicket { component_verify_ticket: t.trim().to_string(), create_time: 0, received_at: 0 })
                }
                _ => Err(missing(format!("the environment variable {var} (named by `ticket`) is not set"))),
            },
            TicketSource::File(path) => read_ticket_file(path)
                .ok_or_else(|| missing(format!("{}: no ticket in this file (named by `ticket`)", path.display()))),
            TicketSource::Receipts => {
                let dir = self.cache_dir.as_deref().ok_or_else(|| missing("no token cache folder".into()))?;
                let path = ticket_file(dir, &self.spec.component_appid);
                read_ticket_file(&path).ok_or_else(|| {
                    missing(format!(
                        "{}: `wxsend receipts serve` has received no component_verify_ticket for {} yet; WeChat pushes one every 10 minutes to the platform's authorization-event URL, which must reach `receipts serve`",
                        path.display(),
                        self.spec.component_appid
                    ))
                })
            }
        }
    }

    /// `api_component_token`: the platform's token, from its secret and the newest ticket.
    pub(super) async fn platform_token(&self, http: &Http, secret: &Secret) -> Result<Fetched, TokenError> {
        let ticket = self.ticket()?;
        let body = serde_json::json!({
            "component_appid": self.spec.component_appid,
            "component_appsecret": secret.expose(),
            "component_verify_ticket": ticket.component_verify_ticket,
        });
        let hide = [secret.expose(), ticket.component_verify_ticket.as_str()];
        let a = post(http, "/cgi-bin/component/api_component_token", &[], body, &hide).await?;
        let token = a.component_access_token.filter(|t| !t.is_empty() && a.errcode == 0);
        let Some(token) = token else {
            let step = format!("the component_access_token of platform {}", self.spec.component_appid);
            return Err(refusal(step, a.errcode, &a.errmsg, &hide));
        };
        check_token_text(&token).map_err(|why| TokenError::Transport(format!("component_access_token: {why}")))?;
        Ok(Fetched { token: AccessToken::new(token), expires_in: a.expires_in.map(Duration::from_secs) })
    }
}

impl Chain {
    /// The ticket the platform's token is asked with (see [`Platform::ticket`]).
    pub fn ticket(&self) -> Result<StoredTicket, TokenError> {
        self.side.ticket()
    }

    /// `api_authorizer_token`: the merchant's token; a platform token refused as invalid or
    /// expired is replaced (compare-and-expire) and the request made again once.
    pub(super) async fn authorizer_token(&self, http: &Http) -> Result<Fetched, TokenError> {
        let platform = self.platform.token().await?;
        match self.ask(http, &platform).await {
            Err(TokenError::Refused { errcode: 40001 | 40014 | 42001, .. }) => {
                let replaced = self.platform.replace(&platform).await?;
                self.ask(http, &replaced).await
            }
            other => other,
        }
    }

    /// `api_authorizer_token` with the kept refresh token; when WeChat refuses it as no longer
    /// valid (61023: the merchant authorized the platform again, which made a new one) and
    /// `refresh_token_env` holds another, that one is tried (and kept once it works).
    async fn ask(&self, http: &Http, platform: &AccessToken) -> Result<Fetched, TokenError> {
        let refresh = self.refresh_token().await?;
        let first = self.ask_with(http, platform, &refresh).await;
        let Err(TokenError::Refused { errcode: 61023, .. }) = &first else { return first };
        let Some(fresh) = self.fresh_from_env(&refresh) else { return first };
        // Kept before it is used (the one kept is dead already); a rotation it brings is kept
        // after it.
        self.refresh.save(fresh.expose()).await.map_err(|detail| TokenError::RefreshNotSaved {
            place: self.refresh.place(),
            detail: scrub(&detail.to_string(), &[fresh.expose()]),
        })?;
        self.ask_with(http, platform, &fresh).await
    }

    /// The refresh token in `refresh_token_env`, when there is one other than `used`.
    fn fresh_from_env(&self, used: &Secret) -> Option<Secret> {
        let var = self.spec.refresh_token_env.as_deref()?;
        let t = std::env::var(var).ok()?;
        let t = t.trim();
        (!t.is_empty() && t != used.expose()).then(|| Secret::new(t))
    }

    async fn ask_with(&self, http: &Http, platform: &AccessToken, refresh: &Secret) -> Result<Fetched, TokenError> {
        let body = serde_json::json!({
            "component_appid": self.spec.component_appid,
            "authorizer_appid": self.spec.authorizer_appid,
            "authorizer_refresh_token": refresh.expose(),
        });
        let hide = [platform.expose(), refresh.expose()];
        let query = [("component_access_token", platform.expose())];
        let a = post(http, "/cgi-bin/component/api_authorizer_token", &query, body, &hide).await?;
        let token = a.authorizer_access_token.filter(|t| !t.is_empty() && a.errcode == 0);
        let Some(token) = token else {
            let step = format!(
                "the authorizer_access_token of merchant {} (platform {})",
                self.spec.authorizer_appid, self.spec.component_appid
            );
            return Err(refusal(step, a.errcode, &a.errmsg, &hide));
        };
        check_token_text(&token).map_err(|why| TokenError::Transport(format!("authorizer_access_token: {why}")))?;
        if let Some(new) = a.authorizer_refresh_token.filter(|n| !n.is_empty() && n != refresh.expose()) {
            // Saved before the token is used: the old refresh token may already be dead.
            self.refresh.save(&new).await.map_err(|detail| TokenError::RefreshNotSaved {
                place: self.refresh.place(),
                detail: scrub(&detail.to_string(), &[new.as_str()]),
            })?;
        }
        Ok(Fetched { token: AccessToken::new(token), expires_in: a.expires_in.map(Duration::from_secs) })
    }

    /// The merchant's refresh token: the one kept, else the first one from `refresh_token_env`.
    pub async fn refresh_token(&self) -> Result<Secret, TokenError> {
        let kept =
            self.refresh.load().await.map_err(|detail| TokenError::RefreshStore { detail: detail.to_string() })?;
        if let Some(t) = kept {
            return Ok(Secret::new(t));
        }
        let var = self.spec.refresh_token_env.as_deref();
        match var.map(std::env::var) {
            Some(Ok(t)) if !t.trim().is_empty() => Ok(Secret::new(t.trim())),
            _ => Err(TokenError::NoRefreshToken {
                authorizer: self.spec.authorizer_appid.clone(),
                place: self.refresh.place(),
                var: var.map(str::to_string),
            }),
        }
    }

    /// Where the merchant's refresh token is kept, in words.
    pub fn refresh_place(&self) -> String {
        self.refresh.place()
    }

    /// The platform's token cache.
    pub fn platform(&self) -> &Arc<dyn PlatformTokens> {
        &self.platform
    }

    /// The settings of the chain.
    pub fn spec(&self) -> &ComponentSpec {
        &self.spec
    }

    /// The token cache folder (tickets, authorizations and refresh tokens are kept there).
    pub fn cache_dir(&self) -> Option<&Path> {
        self.side.cache_dir.as_deref()
    }
}

/// One merchant that authorized the platform, as `api_get_authorizer_list` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Authorizer {
    /// The merchant's AppID.
    pub authorizer_appid: String,
    /// Its refresh token (a secret: saved, never shown).
    pub refresh_token: String,
    /// When it authorized (Unix seconds).
    #[serde(default)]
    pub auth_time: u64,
}

/// A page of `api_get_authorizer_list`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizerPage {
    /// Merchants in all.
    #[serde(default)]
    pub total_count: u64,
    /// This page's.
    #[serde(default)]
    pub list: Vec<Authorizer>,
}

/// `api_get_authorizer_list`: `count` (at most 500) merchants from `offset` of the platform
/// whose token is `platform_token`.
pub async fn authorizer_list(
    http: &Http,
    component_appid: &str,
    platform_token: &AccessToken,
    offset: u64,
    count: u64,
) -> Result<AuthorizerPage, TokenError> {
    let path = "/cgi-bin/component/api_get_authorizer_list";
    let uri = http
        .uri(path, &[("component_access_token", platform_token.expose())])
        .map_err(|_| TokenError::Transport(format!("`{}{path}` is not a valid URL: check api_base", http.base())))?;
    let body = serde_json::json!({ "component_appid": component_appid, "offset": offset, "count": count });
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let hide = [platform_token.expose()];
    let reply = http.post_json(uri, body).await.map_err(|e| TokenError::Transport(scrub(&e.message, &hide)))?;
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|_| TokenError::Transport(format!("{path}: HTTP {}, the answer is not JSON", reply.status)))?;
    let errcode = value.get("errcode").and_then(serde_json::Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = value.get("errmsg").and_then(serde_json::Value::as_str).unwrap_or_default();
        return Err(refusal(format!("the merchants of platform {component_appid}"), errcode, errmsg, &hide));
    }
    serde_json::from_value(value).map_err(|e| TokenError::Transport(format!("{path}: {e}")))
}

/// POST a component endpoint and read its JSON answer; transport failures name the path only.
async fn post(
    http: &Http,
    path: &str,
    query: &[(&str, &str)],
    body: serde_json::Value,
    hide: &[&str],
) -> Result<ComponentAnswer, TokenError> {
    let uri = http
        .uri(path, query)
        .map_err(|_| TokenError::Transport(format!("`{}{path}` is not a valid URL: check api_base", http.base())))?;
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let reply = http.post_json(uri, body).await.map_err(|e| TokenError::Transport(scrub(&e.message, hide)))?;
    serde_json::from_slice(&reply.body)
        .map_err(|_| TokenError::Transport(format!("{path}: HTTP {}, the answer is not JSON", reply.status)))
}

fn refusal(step: String, errcode: i64, errmsg: &str, hide: &[&str]) -> TokenError {
    let errcode = if errcode == 0 { -1 } else { errcode };
    TokenError::Refused { step, errcode, errmsg: scrub(errmsg, hide), hint: hint(errcode) }
}
