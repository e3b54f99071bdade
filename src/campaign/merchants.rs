//! `accounts = ["shop-a", …]` or `accounts = "all"` in `[wechat]`: one campaign sent for many
//! merchants of a third-party platform. Each merchant is an account of accounts.toml, resolved
//! as a campaign naming it with `account = "…"` would resolve it (its token chain, API base,
//! proxy, Redis), with its own template id from `[message.templates]` and its rows from the
//! list's merchant column (`account_column`) or from a list of its own (`[recipients.files]`).
//! [`Merchants::member`] turns the campaign into one campaign per merchant, which is what is
//! checked, journaled and sent.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::account::{resolve_wechat, settle_refresh_store, RawWechat, WechatConfig};
use super::config::{CampaignConfig, Source};
use super::error::{closest, LoadError, Location};
use super::network::RawNetwork;
use super::shared::{RawShared, SharedConfig};
use crate::tr;
use crate::wechat::protocol::NetworkOptions;

/// The column a merchant's rows are told by when the campaign names none (`[recipients.files]`
/// campaigns: their failures file carries it, so it re-runs as it is).
pub const DEFAULT_ACCOUNT_COLUMN: &str = "account";

/// `accounts` as written: a list of account names, or `"all"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawAccounts {
    /// The accounts, by name.
    List(Vec<String>),
    /// `"all"`: every `token = "component"` account of one platform.
    All(String),
}

/// One merchant of a campaign sent for many: what differs from the others.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// The account's name in accounts.toml (what the list's merchant column and
    /// `[message.templates]` call it).
    pub name: String,
    /// `[wechat]` as the account resolves it (the merchant's appid and token chain).
    pub wechat: WechatConfig,
    /// `[network]` with the account's proxy and CA where the campaign sets none.
    pub network: NetworkOptions,
    /// `[shared]` with the account's Redis where the campaign sets none.
    pub shared: SharedConfig,
    /// The merchant's id of the campaign's template.
    pub template_id: String,
    /// `[recipients.files]`: the merchant's own list.
    pub file: Option<PathBuf>,
}

/// The merchants of a campaign, in the order the campaign (or accounts.toml, for `"all"`)
/// names them.
#[derive(Debug, Clone)]
pub struct Merchants {
    /// Each merchant.
    pub members: Vec<Merchant>,
    /// The column naming each row's merchant (`account_column`, else
    /// [`DEFAULT_ACCOUNT_COLUMN`]): in the list, or added to each merchant's own list's rows
    /// in the failures file.
    pub column: String,
    /// Whether each merchant has a list of its own (`[recipients.files]`).
    pub files: bool,
}

impl Merchants {
    /// The merchant a list's value names: an account name, or a merchant's appid.
    pub fn find(&self, value: &str) -> Option<usize> {
        let value = value.trim();
        self.members
            .iter()
            .position(|m| m.name == value)
            .or_else(|| self.members.iter().position(|m| m.wechat.appid == value))
    }

    /// The campaign of merchant `index` alone, reading `list`, its journal and files in a
    /// state folder of its own (`<state folder>/merchants/<name>`).
    pub fn member(&self, fleet: &CampaignConfig, index: usize, list: &Path) -> Option<CampaignConfig> {
        let m = self.members.get(index)?;
        let mut c = fleet.clone();
        c.merchants = None;
        c.wechat = m.wechat.clone();
        c.network = m.network.clone();
        c.shared = m.shared.clone();
        c.message.template_id = m.template_id.clone();
        c.recipients.csv = list.to_path_buf();
        if !self.files {
            // The list a merchant's rows were copied into is UTF-8 CSV.
            c.recipients.sheet = None;
            c.recipients.encoding = super::EncodingChoice::Utf8;
        }
        c.state_dir = merchant_dir(&fleet.state_dir, &m.name);
        Some(c)
    }
}

/// The state folder of merchant `name` of a campaign whose state folder is `state_dir`.
pub fn merchant_dir(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("merchants").join(name)
}

/// What of the campaign file a campaign for many merchants reads, besides `[wechat]`.
pub(crate) struct FleetKeys {
    /// `accounts` as written.
    pub accounts: Spanned<RawAccounts>,
    /// `[message.templates]`.
    pub templates: Option<Spanned<IndexMap<String, Spanned<String>>>>,
    /// `[recipients] account_column`.
    pub column: Option<String>,
    /// `[recipients.files]`, relative to the campaign's folder.
    pub files: Option<IndexMap<String, String>>,
}

/// The names `accounts` stands for (accounts.toml's component accounts of one platform for
/// `"all"`), each once.
pub(crate) fn names(accounts: &Spanned<RawAccounts>, place: &Source<'_>) -> Result<Vec<String>, LoadError> {
    let at = accounts.span().start;
    let names = match accounts.get_ref() {
        RawAccounts::List(list) => list.iter().map(|n| n.trim().to_string()).collect::<Vec<_>>(),
        RawAccounts::All(word) if word.trim() == "all" => all_of_one_platform(place, at)?,
        RawAccounts::All(word) => {
            return Err(place.err(at, tr!("merchants.accounts_word", value = format!("{word:?}"))));
        }
    };
    if names.is_empty() {
        return Err(place.err(at, tr!("merchants.none")));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(place.err(at, tr!("merchants.twice", name = format!("{n:?}"))));
        }
        // The name is its state folder's: one plain folder name.
        if n.is_empty() || n.starts_with('.') || n.contains(['/', '\\']) || n.chars().any(char::is_control) {
            return Err(place.err(at, tr!("merchants.bad_name", name = format!("{n:?}"))));
        }
    }
    Ok(names)
}

/// `accounts = "all"`: every `token = "component"` account of accounts.toml, all of one platform.
fn all_of_one_platform(place: &Source<'_>, at: usize) -> Result<Vec<String>, LoadError> {
    let file = super::account::accounts_path().ok_or_else(|| place.err(at, tr!("account.no_folder")))?;
    let accounts = super::account::load_accounts(&file)?;
    let component: Vec<(&String, String)> = accounts
        .iter()
        .filter(|(_, a)| a.token.as_deref().map(str::trim) == Some("component"))
        .map(|(name, a)| (name, a.component_appid.clone().unwrap_or_default()))
        .collect();
    let mut platforms: Vec<&str> = component.iter().map(|(_, p)| p.as_str()).collect();
    platforms.sort_unstable();
    platforms.dedup();
    match platforms.len() {
        0 => Err(place.err(at, tr!("merchants.all_none", file = file.display().to_string()))),
        1 => Ok(component.into_iter().map(|(n, _)| n.clone()).collect()),
        _ => Err(place.err(at, tr!("merchants.all_platforms", platforms = platforms.join(", ")))),
    }
}

/// Keys of `[wechat]` that name one app: in a campaign for many merchants each merchant's
/// account says them.
pub(crate) fn refuse_single_keys(raw: &RawWechat, place: &Source<'_>) -> Result<(), LoadError> {
    for (key, set) in raw.single_app_keys() {
        if set {
            return Err(LoadError::Config {
                at: Location::file(place.path),
                message: tr!("merchants.single_key", key = key),
            });
        }
    }
    Ok(())
}

/// Every merchant resolved: its account, template id and list. `raw` is `[wechat]` without
/// `accounts`; `network` and `shared` are the campaign's own sections; `timeout` is
/// `[send] timeout_ms`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve(
    names: &[String],
    keys: FleetKeys,
    raw: &RawWechat,
    network: &RawNetwork,
    shared: &RawShared,
    place: &Source<'_>,
    base: &Path,
    timeout: std::time::Duration,
) -> Result<Merchants, LoadError> {
    let at = keys.accounts.span().start;
    let templates = templates(names, keys.templates, place)?;
    let files = match &keys.files {
        Some(files) => Some(lists(names, files, place, base)?),
        None => None,
    };
    let mut members = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let (mut n, mut s) = (network.clone(), shared.clone());
        let mut wechat = resolve_wechat(raw.with_account(name, at), &mut n, &mut s, place.path, place.text)?;
        let shared = s.resolve(place.path)?;
        settle_refresh_store(&mut wechat, shared.redis.is_some(), place.path)?;
        let network = n.resolve(base, timeout, |at, m| place.err(at, m))?;
        if let Some(twin) = members.iter().find(|m: &&Merchant| m.wechat.appid == wechat.appid) {
            return Err(place.err(
                at,
                tr!("merchants.same_appid", first = twin.name.clone(), second = name.clone(), appid = wechat.appid),
            ));
        }
        members.push(Merchant {
            name: name.clone(),
            wechat,
            network,
            shared,
            template_id: templates[i].clone(),
            file: files.as_ref().map(|f| f[i].clone()),
        });
    }
    let column = keys.column.map(|c| c.trim().to_string()).unwrap_or_else(|| DEFAULT_ACCOUNT_COLUMN.to_string());
    Ok(Merchants { members, column, files: keys.files.is_some() })
}

/// `[message.templates]`: one id per merchant, in `names`' order; a merchant without one, or a
/// name that is not a merchant of the campaign, is an error naming it.
fn templates(
    names: &[String],
    templates: Option<Spanned<IndexMap<String, Spanned<String>>>>,
    place: &Source<'_>,
) -> Result<Vec<String>, LoadError> {
    let Some(templates) = templates else {
        return Err(LoadError::Config { at: Location::file(place.path), message: tr!("merchants.no_templates") });
    };
    let at = templates.span().start;
    let templates = templates.into_inner();
    for (name, id) in &templates {
        if !names.contains(name) {
            let hint = closest(name, names.iter().map(String::as_str))
                .map(|c| tr!("err.did_you_mean", name = format!("{c:?}")))
                .unwrap_or_default();
            return Err(
                place.err(id.span().start, tr!("merchants.template_stranger", name = name.clone(), hint = hint))
            );
        }
        if id.get_ref().trim().is_empty() {
            return Err(place.err(id.span().start, tr!("merchants.template_empty", name = name.clone())));
        }
    }
    names
        .iter()
        .map(|n| match templates.get(n) {
            Some(id) => Ok(id.get_ref().trim().to_string()),
            None => Err(place.err(at, tr!("merchants.template_missing", name = n.clone()))),
        })
        .collect()
}

/// `[recipients.files]`: one list per merchant, in `names`' order, relative to `base`.
fn lists(
    names: &[String],
    files: &IndexMap<String, String>,
    place: &Source<'_>,
    base: &Path,
) -> Result<Vec<PathBuf>, LoadError> {
    let problem = |message: String| LoadError::Config { at: Location::file(place.path), message };
    if let Some(stranger) = files.keys().find(|k| !names.contains(k)) {
        return Err(problem(tr!("merchants.file_stranger", name = stranger.clone())));
    }
    names
        .iter()
        .map(|n| match files.get(n) {
            Some(f) => Ok(base.join(f)),
            None => Err(problem(tr!("merchants.file_missing", name = n.clone()))),
        })
        .collect()
}
