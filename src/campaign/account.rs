//! `[wechat]` of a campaign and the named accounts it may use instead of repeating them: a
//! config file (`$XDG_CONFIG_HOME/wxsend/accounts.toml`, or `WXSEND_ACCOUNTS`) holds each
//! account's appid, secret source, token source, API base, proxy and CA, so campaign files can be
//! shared without them. Keys written in the campaign win over the account's.

use crate::tr;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{closest, LoadError, Location};
use super::network::RawNetwork;
use crate::wechat::protocol::{check_api_base, ComponentSpec, ProxySetting, RefreshStore, TicketSource, TokenSpec};

/// WeChat's API host, the default `api_base`.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// The default `secret_env`.
pub const DEFAULT_SECRET_ENV: &str = "WXSEND_APPSECRET";

/// `[wechat]`: which app, and how to authenticate.
#[derive(Debug, Clone, Serialize)]
pub struct WechatConfig {
    /// The API's address (`https://api.weixin.qq.com`, a proxy, or the mock).
    pub api_base: String,
    /// The app whose token sends.
    pub appid: String,
    /// The environment variable holding the app secret.
    pub secret_env: String,
    /// Where the access token comes from.
    pub token: TokenSpec,
    /// Headers sent to a token service (`url:`): name and value (`env:VAR` reads a variable).
    #[serde(skip)]
    pub token_headers: Vec<(String, String)>,
    /// The account of accounts.toml the campaign uses, if any.
    pub account: Option<String>,
    /// The account's `suppress_days`, for a campaign whose `[send]` does not set it.
    pub account_suppress_days: Option<u32>,
    /// `refresh_token` as written (`token = "component"`), settled once `[shared]` is known.
    #[serde(skip)]
    pub(crate) refresh_choice: Option<crate::wechat::protocol::RefreshStore>,
}

/// `[wechat]` as written in a campaign.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWechat {
    account: Option<Spanned<String>>,
    /// Many merchants' accounts (see `merchants.rs`), taken out before the rest is resolved.
    pub(crate) accounts: Option<Spanned<super::merchants::RawAccounts>>,
    api_base: Option<Spanned<String>>,
    appid: Option<String>,
    secret_env: Option<String>,
    token: Option<Spanned<String>>,
    token_headers: Option<IndexMap<String, String>>,
    component_appid: Option<String>,
    component_secret_env: Option<String>,
    authorizer_appid: Option<String>,
    ticket: Option<Spanned<String>>,
    refresh_token: Option<Spanned<String>>,
    refresh_token_env: Option<String>,
}

impl RawWechat {
    /// The keys that name one app (or its first refresh token), and whether each is set.
    pub(crate) fn single_app_keys(&self) -> [(&'static str, bool); 4] {
        [
            ("account", self.account.is_some()),
            ("appid", self.appid.is_some()),
            ("authorizer_appid", self.authorizer_appid.is_some()),
            ("refresh_token_env", self.refresh_token_env.is_some()),
        ]
    }

    /// The same keys naming the account `name` (written at byte `at` of the campaign).
    pub(crate) fn with_account(&self, name: &str, at: usize) -> Self {
        Self { account: Some(Spanned::new(at..at, name.to_string())), accounts: None, ..self.clone() }
    }
}

/// One account of the accounts file.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The app's AppID.
    pub appid: String,
    /// The environment variable holding the app secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The token source (`stable`, `client_credential`, `env:`, `command:`, `url:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Headers for a token service (values may be `env:VAR`; never shown).
    #[serde(skip_serializing, default)]
    pub token_headers: IndexMap<String, String>,
    /// The API base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// The proxy (`none`, or an `http://` URL whose credentials are never shown).
    #[serde(skip_serializing)]
    pub proxy: Option<String>,
    /// A PEM file of extra root certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The Redis the account's senders share (may hold a password: never shown).
    #[serde(skip_serializing)]
    pub redis: Option<String>,
    /// Days a 43004/43101 answer holds a person back from the account's campaigns (a
    /// campaign's `[send] suppress_days` wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_days: Option<u32>,
    /// `token = "component"`: the third-party platform's AppID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_appid: Option<String>,
    /// `token = "component"`: the variable holding the platform's AppSecret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_secret_env: Option<String>,
    /// `token = "component"`: the merchant sent as (the account's `appid` when not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_appid: Option<String>,
    /// `token = "component"`: `receipts`, `env:VAR` or `file:PATH` (relative to this file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// `token = "component"`: `file` or `redis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `token = "component"`: the variable holding the first refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default)]
    accounts: IndexMap<String, Account>,
}

/// Where the accounts file is: `WXSEND_ACCOUNTS`, else `$XDG_CONFIG_HOME/wxsend/accounts.toml`
/// (`~/.config/wxsend/accounts.toml`).
pub fn accounts_path() -> Option<PathBuf> {
    match std::env::var_os("WXSEND_ACCOUNTS") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => dirs::config_dir().map(|d| d.join("wxsend").join("accounts.toml")),
    }
}

/// Read the accounts file at `path`; a missing file has no accounts.
pub fn load_accounts(path: &Path) -> Result<IndexMap<String, Account>, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IndexMap::new()),
        Err(source) => return Err(LoadError::Io { path: path.to_path_buf(), source }),
    };
    let file: AccountsFile = toml::from_str(&text).map_err(|e| LoadError::Config {
        at: e.span().map_or_else(|| Location::file(path), |s| Location::at_offset(path, &text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    // A relative ca_file is relative to the accounts file.
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(file
        .accounts
        .into_iter()
        .map(|(name, mut a)| {
            a.ca_file = a.ca_file.map(|f| base.join(f));
            a.ticket = a.ticket.map(|t| match t.trim().strip_prefix("file:") {
                Some(file) => format!("file:{}", base.join(file.trim()).display()),
                None => t,
            });
            (name, a)
        })
        .collect())
}

/// One line per account for `wxsend accounts`: name, appid, token source, API base, proxy in
/// use (without credentials), CA file. Never a secret.
pub fn describe(name: &str, a: &Account) -> String {
    let proxy = match a.proxy.as_deref().map(ProxySetting::parse) {
        None | Some(Ok(ProxySetting::Environment)) => tr!("accounts.proxy_env"),
        Some(Ok(ProxySetting::Off)) => tr!("accounts.no_proxy"),
        Some(Ok(ProxySetting::Url(u))) => {
            let uri: http::Uri = u.parse().unwrap_or_default();
            let proxy = format!("http://{}:{}", uri.host().unwrap_or("?"), uri.port_u16().unwrap_or(80));
            tr!("route.proxy", proxy = proxy, credentials = "")
        }
        Some(Err(e)) => tr!("accounts.bad_proxy", problem = e.to_string()),
    };
    let token = a.token.clone().unwrap_or_else(|| "stable".into());
    let token = match token.strip_prefix("url:").and_then(|u| u.split('?').next()) {
        Some(url) => format!("url:{url}"),
        None => token,
    };
    let secret = if token == "component" {
        tr!(
            "accounts.platform",
            platform = a.component_appid.as_deref().unwrap_or("?"),
            env = a.component_secret_env.as_deref().unwrap_or(DEFAULT_COMPONENT_SECRET_ENV),
            ticket = a.ticket.as_deref().unwrap_or("?"),
            store = a.refresh_token.clone().unwrap_or_else(|| tr!("accounts.refresh_default"))
        )
    } else {
        tr!("accounts.secret", env = a.secret_env.as_deref().unwrap_or(DEFAULT_SECRET_ENV))
    };
    let ca = a.ca_file.as_ref().map(|f| tr!("accounts.ca_file", file = f.display().to_string())).unwrap_or_default();
    let shared = a
        .redis
        .as_deref()
        .map(|r| tr!("accounts.shared", redis = super::shared::without_credentials(r)))
        .unwrap_or_default();
    let api = a.api_base.as_deref().unwrap_or(DEFAULT_API_BASE);
    tr!("accounts.line", name = name, appid = a.appid.clone(), token = token, secret = secret, api = api, proxy = proxy)
        + &ca
        + &shared
}

/// `[wechat]` of the campaign at `path` (text `text`), with its account's keys filled in; the
/// account's proxy and CA go into `network` unless the campaign sets them.
pub(crate) fn resolve_wechat(
    raw: RawWechat,
    network: &mut RawNetwork,
    shared: &mut super::shared::RawShared,
    path: &Path,
    text: &str,
) -> Result<WechatConfig, LoadError> {
    let at =
        |offset: usize, message: String| LoadError::Config { at: Location::at_offset(path, text, offset), message };
    let a = find_account(raw.account.as_ref(), &at)?.unwrap_or_default();
    let token_text = raw.token.as_ref().map(|t| (t.get_ref().trim().to_string(), Some(t.span().start)));
    let token_text = token_text.or_else(|| a.token.as_ref().map(|t| (t.trim().to_string(), None)));
    let is_component = token_text.as_ref().is_some_and(|(t, _)| t == "component");
    let authorizer = raw.authorizer_appid.clone().or(a.authorizer_appid.clone()).filter(|_| is_component);
    let appid = pick_appid(raw.appid.clone().or(Some(a.appid.clone()).filter(|x| !x.is_empty())), authorizer, path)?;
    let token = match token_text {
        Some((t, _)) if t == "component" => TokenSpec::Component(Box::new(component_spec(
            &raw.component_appid,
            &raw.component_secret_env,
            &raw.ticket,
            &raw.refresh_token_env,
            &a,
            &appid,
            path,
            text,
        )?)),
        Some((t, Some(offset))) => {
            TokenSpec::parse(&t).map_err(|m| at(offset, tr!("account.token", problem = m.to_string())))?
        }
        Some((t, None)) => {
            TokenSpec::parse(&t).map_err(|m| of_account(tr!("account.account_token", problem = m.to_string())))?
        }
        None => TokenSpec::Stable,
    };
    if !is_component {
        refuse_component_keys(&raw, path)?;
    }
    let refresh = raw.refresh_token.as_ref().map(|r| (r.get_ref().clone(), Some(r.span().start)));
    let refresh_choice = match refresh.or(a.refresh_token.clone().map(|r| (r, None))) {
        None => None,
        Some((r, offset)) => match refresh_store(&r) {
            Some(store) => Some(store),
            None => {
                let message = tr!("account.refresh_token", value = format!("{:?}", r.trim()));
                return Err(match offset {
                    Some(offset) => at(offset, message),
                    None => of_account(message),
                });
            }
        },
    };
    let api_base = match (raw.api_base, a.api_base) {
        (Some(b), _) => {
            check_api_base(b.get_ref()).map_err(|m| at(b.span().start, m.to_string()))?;
            b.into_inner()
        }
        (None, Some(b)) => {
            check_api_base(&b).map_err(|m| of_account(tr!("account.of_account", problem = m.to_string())))?;
            b
        }
        (None, None) => DEFAULT_API_BASE.to_string(),
    };
    if network.proxy.is_none() {
        if let Some(p) = a.proxy {
            ProxySetting::parse(&p).map_err(|m| of_account(tr!("account.of_account", problem = m.to_string())))?;
            network.proxy = Some(Spanned::new(0..0, p));
        }
    }
    if network.ca_file.is_none() {
        network.ca_file = a.ca_file.map(|f| f.display().to_string());
    }
    if shared.redis.is_none() {
        shared.redis = a.redis;
    }
    Ok(WechatConfig {
        api_base,
        appid,
        secret_env: raw.secret_env.or(a.secret_env).unwrap_or_else(|| DEFAULT_SECRET_ENV.to_string()),
        token,
        token_headers: raw.token_headers.unwrap_or(a.token_headers).into_iter().collect(),
        account: raw.account.map(Spanned::into_inner),
        account_suppress_days: a.suppress_days,
        refresh_choice,
    })
}

/// A problem with a key the accounts file set, located at that file.
fn of_account(message: String) -> LoadError {
    LoadError::Config { at: Location::file(accounts_path().unwrap_or_default()), message }
}

/// The account `name` of accounts.toml (none when the campaign names none); `at` locates a
/// message at the name in the campaign.
fn find_account(
    name: Option<&Spanned<String>>,
    at: &impl Fn(usize, String) -> LoadError,
) -> Result<Option<Account>, LoadError> {
    let Some(name) = name else { return Ok(None) };
    let file = accounts_path().ok_or_else(|| at(name.span().start, tr!("account.no_folder")))?;
    let mut accounts = load_accounts(&file)?;
    accounts.shift_remove(name.get_ref()).map(Some).ok_or_else(|| {
        let hint = closest(name.get_ref(), accounts.keys().map(String::as_str))
            .map(|c| tr!("err.did_you_mean", name = format!("{c:?}")))
            .unwrap_or_default();
        let known: Vec<&str> = accounts.keys().map(String::as_str).collect();
        at(
            name.span().start,
            tr!(
                "account.unknown",
                name = format!("{:?}", name.get_ref()),
                file = file.display().to_string(),
                hint = hint,
                known = if known.is_empty() { tr!("account.none") } else { known.join(", ") }
            ),
        )
    })
}

/// The app the messages go out as: `appid`, or with `token = "component"` the authorizer (the
/// two must agree when both are set).
fn pick_appid(appid: Option<String>, authorizer: Option<String>, path: &Path) -> Result<String, LoadError> {
    let problem = |message: String| LoadError::Config { at: Location::file(path), message };
    match (appid, authorizer) {
        (Some(appid), Some(authorizer)) if appid != authorizer => Err(problem(tr!(
            "account.appids_differ",
            appid = format!("{appid:?}"),
            authorizer = format!("{authorizer:?}")
        ))),
        (Some(appid), _) | (None, Some(appid)) => Ok(appid),
        (None, None) => Err(problem(tr!("account.no_appid"))),
    }
}

/// A component key in a campaign whose token is another source: refused, naming the key.
fn refuse_component_keys(raw: &RawWechat, path: &Path) -> Result<(), LoadError> {
    let set = [
        ("component_appid", raw.component_appid.is_some()),
        ("component_secret_env", raw.component_secret_env.is_some()),
        ("authorizer_appid", raw.authorizer_appid.is_some()),
        ("ticket", raw.ticket.is_some()),
        ("refresh_token", raw.refresh_token.is_some()),
        ("refresh_token_env", raw.refresh_token_env.is_some()),
    ];
    match set.iter().find(|(_, on)| *on) {
        Some((key, _)) => {
            Err(LoadError::Config { at: Location::file(path), message: tr!("account.component_key", key = *key) })
        }
        None => Ok(()),
    }
}

/// `refresh_token`: `file` or `redis` (`None` for anything else).
fn refresh_store(text: &str) -> Option<RefreshStore> {
    match text.trim() {
        "file" => Some(RefreshStore::File),
        "redis" => Some(RefreshStore::Redis),
        _ => None,
    }
}

/// The component settings of `[wechat]` (the campaign's keys, else the account's), for
/// merchant `appid`.
#[allow(clippy::too_many_arguments)]
fn component_spec(
    component_appid: &Option<String>,
    secret_env: &Option<String>,
    ticket: &Option<Spanned<String>>,
    refresh_env: &Option<String>,
    a: &Account,
    appid: &str,
    path: &Path,
    text: &str,
) -> Result<ComponentSpec, LoadError> {
    let missing = |key: &str, example: &str| LoadError::Config {
        at: Location::file(path),
        message: tr!("account.component_needs", key = key, example = example),
    };
    let component_appid = component_appid
        .clone()
        .or(a.component_appid.clone())
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| missing("component_appid", "\"wx…\" (the platform's AppID)"))?;
    let ticket = match (ticket, &a.ticket) {
        (Some(t), _) => {
            let parsed = TicketSource::parse(t.get_ref()).map_err(|m| LoadError::Config {
                at: Location::at_offset(path, text, t.span().start),
                message: tr!("account.ticket", problem = m.to_string()),
            })?;
            match parsed {
                // Relative to the campaign file, as every path in it.
                TicketSource::File(f) => TicketSource::File(path.parent().unwrap_or(Path::new(".")).join(f)),
                other => other,
            }
        }
        (None, Some(t)) => TicketSource::parse(t).map_err(|m| LoadError::Config {
            at: Location::file(accounts_path().unwrap_or_default()),
            message: tr!("account.account_ticket", problem = m.to_string()),
        })?,
        (None, None) => return Err(missing("ticket", "\"receipts\"")),
    };
    Ok(ComponentSpec {
        component_appid,
        component_secret_env: secret_env
            .clone()
            .or(a.component_secret_env.clone())
            .unwrap_or_else(|| DEFAULT_COMPONENT_SECRET_ENV.to_string()),
        authorizer_appid: appid.to_string(),
        ticket,
        refresh_token: RefreshStore::File,
        refresh_token_env: refresh_env.clone().or(a.refresh_token_env.clone()),
    })
}

/// The variable holding the platform's AppSecret when `component_secret_env` is not set.
pub const DEFAULT_COMPONENT_SECRET_ENV: &str = "WXSEND_COMPONENT_SECRET";

/// Where the merchant's refresh token is kept, now that it is known whether senders share a
/// Redis: `refresh_token` as set, else Redis when there is one and a file when not. A file
/// while several hosts share a Redis is refused — a rotation on one host would leave the
/// others' files stale, and the merchant lost.
pub(crate) fn settle_refresh_store(wechat: &mut WechatConfig, redis: bool, path: &Path) -> Result<(), LoadError> {
    let TokenSpec::Component(spec) = &mut wechat.token else { return Ok(()) };
    spec.refresh_token = match (wechat.refresh_choice, redis) {
        (Some(RefreshStore::Redis), false) => {
            return Err(LoadError::Config { at: Location::file(path), message: tr!("account.refresh_needs_redis") })
        }
        (Some(RefreshStore::File), true) => {
            return Err(LoadError::Config { at: Location::file(path), message: tr!("account.refresh_file_with_redis") })
        }
        (Some(store), _) => store,
        (None, true) => RefreshStore::Redis,
        (None, false) => RefreshStore::File,
    };
    Ok(())
}
