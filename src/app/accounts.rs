//! The accounts of a third-party platform: every merchant that authorized it imported as an
//! account of accounts.toml (`api_get_authorizer_list`, paged; refresh tokens saved 0600 or in
//! Redis, never printed), and each merchant's authorization and quota checked.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::campaign::account::{accounts_path, load_accounts, Account};
use crate::campaign::{CampaignConfig, Kind, LoadError};
use crate::wechat::protocol::{RefreshStore, TokenSpec};
use crate::wechat::token::component::{authorizer_list, RefreshFile, RefreshTokenStore};
use crate::wechat::{Quota, Sender, TokenCache, TokenError, WechatClient};

/// Merchants asked for in one `api_get_authorizer_list` call (WeChat allows up to 500).
const PAGE: u64 = 100;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Imported {
    /// Merchants written as new accounts (their names).
    pub added: Vec<String>,
    /// Merchants that were accounts already, left as they were.
    pub kept: Vec<String>,
    /// Merchants WeChat lists for the platform.
    pub total: u64,
    /// Pages read.
    pub pages: usize,
    /// The accounts file.
    pub file: PathBuf,
}

/// Where a merchant's authorization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Authorization {
    /// Its token comes: it can be sent for.
    Authorized,
    /// 61023 (or 61003): the merchant withdrew, or never authorized; it must authorize again.
    Withdrawn,
    /// 61004: this machine's IP is not on the platform's whitelist.
    NotWhitelisted,
    /// Anything else, in WeChat's words (or the token source's).
    Failed(String),
}

/// One merchant account, checked.
#[derive(Debug, Clone, Serialize)]
pub struct MerchantCheck {
    /// The account's name.
    pub account: String,
    /// The merchant's AppID.
    pub appid: String,
    /// Its authorization.
    pub authorization: Authorization,
    /// Its template-message quota today, when it could be read.
    pub quota: Option<Quota>,
}

/// Why the accounts could not be imported or checked.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// accounts.toml or an account in it cannot be used.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The account named is not a third-party platform's.
    #[error("{}", crate::tr!("err.accounts.not_component", name = .0.clone()))]
    NotComponent(String),
    /// No folder for the accounts file or the token cache.
    #[error("{}", crate::tr!("err.accounts.no_folder"))]
    NoFolder,
    /// The platform's token or the list could not be had.
    #[error("{}", crate::tr!("err.accounts.platform", error = .0.to_string()))]
    Platform(TokenError),
    /// The client, token source or Redis cannot be set up.
    #[error("{}", crate::tr!("err.accounts.setup", error = .0.to_string()))]
    Setup(#[from] super::tokens::SetupError),
    /// A refresh token or the accounts file could not be written.
    #[error("{}", crate::tr!("err.accounts.write", path = .path.clone(), error = .detail.clone()))]
    Write {
        /// The file (or Redis key).
        path: String,
        /// What went wrong.
        detail: String,
    },
}

impl AccountsError {
    /// 3 when WeChat refused, 4 when this machine could not write, else 2.
    pub fn exit(&self) -> super::Exit {
        match self {
            AccountsError::Platform(_) => super::Exit::Stopped,
            AccountsError::Write { .. } => super::Exit::LocalWrite,
            _ => super::Exit::Input,
        }
    }
}

/// The token cache of account `cfg` (shared through Redis when it has one) and its client.
async fn tokens_of(cfg: &CampaignConfig) -> Result<(WechatClient, TokenCache), AccountsError> {
    Ok(super::tokens::client_and_tokens(cfg, "accounts").await?)
}

/// Import every merchant of the platform that `platform_account` (any `token = "component"`
/// account of it) belongs to: new accounts appended to accounts.toml, each like
/// `platform_account` but for its merchant, with its refresh token saved; accounts already
/// there are kept as they are.
pub async fn import_authorizers(platform_account: &str) -> Result<Imported, AccountsError> {
    let file = accounts_path().ok_or(AccountsError::NoFolder)?;
    let accounts = load_accounts(&file)?;
    let template = accounts.get(platform_account).cloned().unwrap_or_default();
    let cfg = CampaignConfig::of_account(platform_account)?;
    let TokenSpec::Component(spec) = &cfg.wechat.token else {
        return Err(AccountsError::NotComponent(platform_account.to_string()));
    };
    let (client, tokens) = tokens_of(&cfg).await?;
    let chain = tokens.source().chain().ok_or_else(|| AccountsError::NotComponent(platform_account.to_string()))?;
    let place = RefreshPlace::of(&cfg).await?;
    let mut imported = Imported { file: file.clone(), ..Default::default() };
    let mut offset = 0;
    let mut new_blocks = String::new();
    loop {
        let platform = chain.platform().token().await.map_err(AccountsError::Platform)?;
        let page = authorizer_list(client.http(), &spec.component_appid, &platform, offset, PAGE)
            .await
            .map_err(AccountsError::Platform)?;
        imported.pages += 1;
        imported.total = page.total_count;
        offset += page.list.len() as u64;
        for merchant in &page.list {
            let known = accounts.iter().find(|(name, a)| {
                **name == merchant.authorizer_appid
                    || (a.token.as_deref() == Some("component")
                        && a.authorizer_appid.as_deref().unwrap_or(&a.appid) == merchant.authorizer_appid)
            });
            if let Some((name, _)) = known {
                // The list's refresh token is the merchant's current one (a merchant that
                // authorized again has a new one): kept, so its account sends again.
                place.save(&spec.component_appid, &merchant.authorizer_appid, &merchant.refresh_token).await?;
                imported.kept.push(name.clone());
                continue;
            }
            place.save(&spec.component_appid, &merchant.authorizer_appid, &merchant.refresh_token).await?;
            new_blocks.push_str(&account_block(&template, &merchant.authorizer_appid));
            imported.added.push(merchant.authorizer_appid.clone());
        }
        if page.list.is_empty() || offset >= page.total_count {
            break;
        }
    }
    if !new_blocks.is_empty() {
        append(&file, &new_blocks)?;
    }
    Ok(imported)
}

/// Where the merchants' refresh tokens go, as their accounts will read them: Redis when the
/// platform's senders share one (one connection for all), else 0600 files in the token cache
/// folder.
enum RefreshPlace {
    Redis(crate::shared::Redis),
    Files(PathBuf),
}

impl RefreshPlace {
    async fn of(cfg: &CampaignConfig) -> Result<Self, AccountsError> {
        if let (TokenSpec::Component(c), Some(url)) = (&cfg.wechat.token, &cfg.shared.redis) {
            if c.refresh_token == RefreshStore::Redis {
                let redis = crate::shared::Redis::connect(url, cfg.shared.password(), &cfg.shared.prefix)
                    .await
                    .map_err(|e| AccountsError::Setup(e.into()))?;
                return Ok(RefreshPlace::Redis(redis));
            }
        }
        let dir = TokenCache::default_dir().ok_or(AccountsError::NoFolder)?;
        crate::private::create_dir_all(&dir)
            .map_err(|e| AccountsError::Write { path: dir.display().to_string(), detail: e.to_string() })?;
        Ok(RefreshPlace::Files(dir))
    }

    /// Keep `merchant`'s refresh `token` (of platform `component_appid`).
    async fn save(&self, component_appid: &str, merchant: &str, token: &str) -> Result<(), AccountsError> {
        let store: Box<dyn RefreshTokenStore> = match self {
            RefreshPlace::Redis(redis) => Box::new(crate::shared::RefreshInRedis::new(redis.clone(), merchant)),
            RefreshPlace::Files(dir) => Box::new(RefreshFile::new(dir, component_appid, merchant)),
        };
        store.save(token).await.map_err(|e| AccountsError::Write {
            path: store.place(),
            detail: crate::wechat::secret::scrub(&e.to_string(), &[token]),
        })
    }
}

/// `[accounts.<merchant>]` like `template` (the platform's settings, network and Redis) for
/// `merchant`.
fn account_block(template: &Account, merchant: &str) -> String {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            t.insert(k.to_string(), toml::Value::String(v.to_string()));
        }
    };
    put("appid", Some(merchant));
    put("token", Some("component"));
    put("component_appid", template.component_appid.as_deref());
    put("component_secret_env", template.component_secret_env.as_deref());
    put("ticket", template.ticket.as_deref());
    put("refresh_token", template.refresh_token.as_deref());
    put("api_base", template.api_base.as_deref());
    put("proxy", template.proxy.as_deref());
    put("redis", template.redis.as_deref());
    if let Some(ca) = &template.ca_file {
        t.insert("ca_file".into(), toml::Value::String(ca.display().to_string()));
    }
    if let Some(days) = template.suppress_days {
        t.insert("suppress_days".into(), toml::Value::Integer(i64::from(days)));
    }
    let mut named = toml::Table::new();
    named.insert(merchant.to_string(), toml::Value::Table(t));
    let mut accounts = toml::Table::new();
    accounts.insert("accounts".into(), toml::Value::Table(named));
    format!("\n{}", toml::to_string(&accounts).unwrap_or_default())
}

/// Append `text` to the accounts file (made 0600 when it is new), synced.
fn append(file: &std::path::Path, text: &str) -> Result<(), AccountsError> {
    use std::io::Write;
    let write = |e: std::io::Error| AccountsError::Write { path: file.display().to_string(), detail: e.to_string() };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private::create_dir_all(dir).map_err(write)?;
    }
    let mut f = crate::private::options().create(true).append(true).open(file).map_err(write)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(write)
}

/// Every `token = "component"` account of accounts.toml: its merchant's authorization (a token
/// fetched through the platform) and template-message quota left today.
pub async fn check_merchants() -> Result<Vec<MerchantCheck>, AccountsError> {
    let file = accounts_path().ok_or(AccountsError::NoFolder)?;
    let mut out = Vec::new();
    for (name, account) in load_accounts(&file)? {
        if account.token.as_deref() != Some("component") {
            continue;
        }
        let cfg = CampaignConfig::of_account(&name)?;
        let appid = cfg.wechat.appid.clone();
        let (client, tokens) = match tokens_of(&cfg).await {
            Ok(t) => t,
            Err(e) => {
                out.push(MerchantCheck {
                    account: name,
                    appid,
                    authorization: Authorization::Failed(e.to_string()),
                    quota: None,
                });
                continue;
            }
        };
        let sender = Sender::new(client, Arc::new(tokens));
        let authorization = match sender.tokens.get().await {
            Ok(_) => Authorization::Authorized,
            Err(TokenError::Refused { errcode: 61023 | 61003, .. }) => Authorization::Withdrawn,
            Err(TokenError::Refused { errcode: 61004, .. }) => Authorization::NotWhitelisted,
            Err(e) => Authorization::Failed(e.to_string()),
        };
        let quota =
            if authorization == Authorization::Authorized { sender.quota(Kind::Template).await.ok() } else { None };
        out.push(MerchantCheck { account: name, appid, authorization, quota });
    }
    Ok(out)
}
