//! The campaign file (TOML): parsing, defaults and value checks.

use crate::tr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::account::{resolve_wechat, RawWechat};
pub use super::account::{WechatConfig, DEFAULT_API_BASE, DEFAULT_SECRET_ENV};
use super::error::{closest, LoadError, Location};
use super::network::RawNetwork;
pub use crate::wechat::protocol::{Kind, NetworkOptions, TokenSpec};

/// How the recipients file is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingChoice {
    /// BOM, then UTF-8, else GB18030 (a superset of GBK).
    #[default]
    Auto,
    #[serde(alias = "utf8")]
    /// Read as UTF-8 (a BOM is allowed).
    Utf8,
    #[serde(alias = "gb18030", alias = "gb2312")]
    /// Read as GB18030, the superset of GBK that Excel writes on Chinese Windows.
    Gbk,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    wechat: RawWechat,
    message: RawMessage,
    recipients: RawRecipients,
    #[serde(default)]
    send: RawSend,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    receipts: super::receipts::RawReceipts,
    #[serde(default)]
    shared: super::shared::RawShared,
    state_dir: Option<String>,
    template_cache_minutes: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    kind: Kind,
    template_id: Option<Spanned<String>>,
    /// One template id per merchant of a campaign for many (`accounts`).
    templates: Option<Spanned<IndexMap<String, Spanned<String>>>>,
    mp_appid: Option<String>,
    miniprogram_appid: Option<String>,
    url: Option<Spanned<String>>,
    page: Option<Spanned<String>>,
    test_openid: Option<String>,
    miniprogram_state: Option<Spanned<String>>,
    lang: Option<Spanned<String>>,
    /// `mp_subscribe`: the mini program the notification opens, as bizsend's body names it.
    miniprogram: Option<Spanned<RawMiniProgram>>,
    data: Spanned<IndexMap<String, Spanned<String>>>,
}

/// `miniprogram = { appid, pagepath }` of an `mp_subscribe` message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMiniProgram {
    appid: String,
    pagepath: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipients {
    /// The recipients file: CSV or a workbook (`csv` is the older name of the same key).
    file: Option<String>,
    csv: Option<String>,
    sheet: Option<String>,
    openid_column: Option<String>,
    #[serde(default)]
    encoding: EncodingChoice,
    #[serde(default)]
    allow_duplicates: bool,
    /// Every follower of the account instead of a file.
    followers: Option<bool>,
    /// The followers of these tags (names or ids) instead of a file.
    tags: Option<Vec<String>>,
    #[serde(default)]
    all_tags: bool,
    #[serde(default)]
    except_tags: Vec<String>,
    since: Option<Spanned<String>>,
    #[serde(default)]
    with_info: bool,
    /// Per-row values of an audience, keyed by openid.
    values: Option<String>,
    audience_max_age_minutes: Option<u64>,
    /// The column naming each row's merchant (a campaign for many merchants).
    account_column: Option<String>,
    /// One list per merchant (a campaign for many merchants).
    files: Option<IndexMap<String, String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSend {
    rate: Option<Spanned<u32>>,
    burst: Option<Spanned<u32>>,
    concurrency: Option<Spanned<u32>>,
    max_attempts: Option<Spanned<u32>>,
    timeout_ms: Option<Spanned<u64>>,
    pause_on_failure_rate: Option<Spanned<f64>>,
    suppress_days: Option<Spanned<u32>>,
    window: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

/// A template string from the campaign file with the place it was written.
#[derive(Debug, Clone)]
pub struct SourceText {
    /// The text as written.
    pub text: String,
    /// Where it was written, for messages.
    pub at: Location,
}

/// `[message]`: what each recipient receives.
#[derive(Debug, Clone)]
pub struct MessageConfig {
    /// Which API sends the message.
    pub kind: Kind,
    /// The template of the account.
    pub template_id: String,
    /// `uniform`: the official account bound to the mini program.
    pub mp_appid: Option<String>,
    /// The mini program a message opens (with `page`; `miniprogram.appid` for `mp_subscribe`).
    pub miniprogram_appid: Option<String>,
    /// The web link a message opens (may hold placeholders): `url` in the file, `page` for
    /// `mp_subscribe`.
    pub url: Option<SourceText>,
    /// The mini-program page the message opens (may hold placeholders; `miniprogram.pagepath`
    /// for `mp_subscribe`).
    pub page: Option<SourceText>,
    /// The operator's own openid, for test sends.
    pub test_openid: Option<String>,
    /// `subscribe`: formal, trial or developer.
    pub miniprogram_state: String,
    /// `subscribe`: the language of the message.
    pub lang: String,
    /// Template fields and their values, in the order they are shown.
    pub data: Vec<(String, SourceText)>,
}

/// `[recipients]`: the CSV file and how to read it.
#[derive(Debug, Clone)]
pub struct RecipientsConfig {
    /// The recipients file (CSV or a workbook), from `file` or `csv`.
    pub csv: PathBuf,
    /// The workbook's sheet (default: the first).
    pub sheet: Option<String>,
    /// The column holding the openid.
    pub openid_column: String,
    /// How the file is decoded.
    pub encoding: EncodingChoice,
    /// Send to a repeated openid once per row (default: once).
    pub allow_duplicates: bool,
    /// The account's followers instead of a file: the list is made in the state folder
    /// (`csv` is `audience/followers.csv` there).
    pub audience: Option<AudienceSource>,
}

/// `[recipients] followers = true` or `tags = […]`: which followers, the per-row values, and
/// how old a pull may be reused before the first send freezes it.
#[derive(Debug, Clone)]
pub struct AudienceSource {
    /// Which followers.
    pub spec: super::audience::AudienceSpec,
    /// `values`: per-row template values keyed by openid.
    pub values: Option<PathBuf>,
    /// `audience_max_age_minutes` (default 60).
    pub max_age: Duration,
}

/// `[send]`: pace and persistence of the sending.
#[derive(Debug, Clone, Serialize)]
pub struct SendConfig {
    /// Messages per second.
    pub rate: u32,
    /// Extra requests allowed at once above the rate.
    pub burst: u32,
    /// Requests in flight at most.
    pub concurrency: u32,
    /// Attempts for a row whose answers are transient.
    pub max_attempts: u32,
    /// The timeout of one request.
    pub timeout_ms: u64,
    /// Share of failures over the last 100 results that pauses sending.
    pub pause_on_failure_rate: f64,
    /// Days a 43004 or 43101 answer holds a person back from the account's campaigns.
    pub suppress_days: u32,
    /// The daily sending window, if any.
    #[serde(skip)]
    pub window: Option<super::schedule::Window>,
    /// The zone the window (and a local `--at`) is read in.
    #[serde(skip)]
    pub zone: super::schedule::Zone,
}

impl Default for SendConfig {
    fn default() -> Self {
        Self {
            rate: 20,
            burst: 1,
            concurrency: 8,
            max_attempts: 5,
            timeout_ms: 10_000,
            pause_on_failure_rate: 0.5,
            suppress_days: 30,
            window: None,
            zone: super::schedule::Zone::Local,
        }
    }
}

/// A parsed and checked campaign file.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// The campaign file.
    pub path: PathBuf,
    /// Names the campaign and its state folder.
    pub name: String,
    /// `[wechat]`.
    pub wechat: WechatConfig,
    /// `[message]`.
    pub message: MessageConfig,
    /// `[recipients]`.
    pub recipients: RecipientsConfig,
    /// `[send]`.
    pub send: SendConfig,
    /// `[network]`: proxy, trust, timeouts (the request timeout is `[send] timeout_ms`).
    pub network: NetworkOptions,
    /// Folder holding the journal, failures and report of this campaign.
    pub state_dir: PathBuf,
    /// `[shared]`: the Redis several senders share, if any.
    pub shared: super::shared::SharedConfig,
    /// `[receipts]`: how WeChat's delivery pushes are authenticated.
    pub receipts: super::receipts::ReceiptsConfig,
    /// How long a fetched list of the account's templates is reused (`template_cache_minutes`,
    /// default 60; 0 asks WeChat every time).
    pub template_cache: Duration,
    /// `accounts = […]`: the merchants this campaign is sent for, each its own campaign
    /// ([`super::merchants::Merchants::member`]); `wechat`, `network`, `shared` and the template
    /// id above are then the first merchant's.
    pub merchants: Option<super::merchants::Merchants>,
}

impl CampaignConfig {
    /// Read and check the campaign file at `path`.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// The `[wechat]`, `[network]` and `[shared]` of the account `name` of accounts.toml as a
    /// campaign using it would have them (its message and list are placeholders): what the
    /// commands about accounts talk to WeChat with.
    pub fn of_account(name: &str) -> Result<Self, LoadError> {
        let file = super::account::accounts_path().unwrap_or_default();
        let quoted = toml::Value::String(name.to_string()).to_string();
        let text = format!(
            "name = \"account\"\n[wechat]\naccount = {quoted}\n[message]\nkind = \"template\"\ntemplate_id = \"-\"\n\
             [message.data]\nk = \"-\"\n[recipients]\nfile = \"-\"\n"
        );
        Self::parse(&file, &text)
    }

    /// Parse campaign text; `path` is used for messages and to resolve relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, LoadError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = match e.span() {
                Some(span) => Location::at_offset(path, text, span.start),
                None => Location::file(path),
            };
            LoadError::Config { at, message: explain_toml_error(e.message()) }
        })?;
        let src = Source { path, text };
        let name = check_name(raw.name, &src)?;
        let mut raw_network = raw.network;
        let mut raw_shared = raw.shared;
        let mut raw_wechat = raw.wechat;
        let mut raw_message = raw.message;
        let mut raw_recipients = raw.recipients;
        let fleet =
            take_fleet(&mut raw_wechat, &mut raw_message, &mut raw_recipients, &raw_network, &raw_shared, &src)?;
        if let Some((names, keys, ..)) = &fleet {
            // The campaign's own [wechat] is its first merchant's.
            raw_wechat = raw_wechat.with_account(&names[0], keys.accounts.span().start);
        }
        let mut wechat = resolve_wechat(raw_wechat, &mut raw_network, &mut raw_shared, path, text)?;
        let shared = raw_shared.resolve(path)?;
        super::account::settle_refresh_store(&mut wechat, shared.redis.is_some(), path)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let state_dir = match raw.state_dir {
            Some(dir) => base.join(dir),
            None => base.join(".wxsend").join(&name),
        };
        let send = send_config(raw.send, wechat.account_suppress_days, &src)?;
        let timeout = Duration::from_millis(send.timeout_ms);
        let merchants = match fleet {
            Some((names, keys, w, n, s)) => {
                Some(super::merchants::resolve(&names, keys, &w, &n, &s, &src, base, timeout)?)
            }
            None => None,
        };
        if let Some(m) = &merchants {
            raw_message.template_id = Some(Spanned::new(0..0, m.members[0].template_id.clone()));
            if m.files {
                raw_recipients.file = Some(String::new());
            }
        }
        let message = message_config(raw_message, &src)?;
        let mut recipients = recipients_config(raw_recipients, &src, base, &state_dir)?;
        if let Some(file) = merchants.as_ref().and_then(|m| m.members[0].file.clone()) {
            recipients.csv = file;
        }
        if merchants.is_some() && recipients.audience.is_some() {
            return Err(LoadError::Config { at: Location::file(path), message: tr!("merchants.no_audience") });
        }
        let template_cache = match raw.template_cache_minutes {
            None => Duration::from_secs(3600),
            Some(m) if *m.get_ref() <= 7 * 24 * 60 => Duration::from_secs(m.get_ref() * 60),
            Some(m) => return Err(src.err(m.span().start, tr!("config.template_cache_minutes", value = m.get_ref()))),
        };
        let network = raw_network.resolve(base, timeout, |at, m| src.err(at, m))?;
        Ok(Self {
            path: path.to_path_buf(),
            name,
            wechat,
            message,
            recipients,
            send,
            network,
            state_dir,
            template_cache,
            receipts: raw.receipts.into(),
            shared,
            merchants,
        })
    }
}

/// The campaign file being read: where a byte offset is, for messages.
pub(crate) struct Source<'a> {
    /// The campaign file.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
}

impl Source<'_> {
    /// A problem at byte `offset` of the file.
    pub(crate) fn err(&self, offset: usize, message: String) -> LoadError {
        LoadError::Config { at: Location::at_offset(self.path, self.text, offset), message }
    }

    fn spanned(&self, s: Spanned<String>) -> SourceText {
        let at = Location::at_offset(self.path, self.text, s.span().start);
        SourceText { text: s.into_inner(), at }
    }
}

/// `name`: it names the state folder, so letters, digits, `-`, `_` and `.` only.
fn check_name(name: Spanned<String>, src: &Source<'_>) -> Result<String, LoadError> {
    let span = name.span();
    let name = name.into_inner();
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(src.err(span.start, tr!("config.name", value = format!("{name:?}"))));
    }
    Ok(name)
}

/// `[message]`, checked.
fn message_config(m: RawMessage, src: &Source<'_>) -> Result<MessageConfig, LoadError> {
    let data_span = m.data.span();
    let data: Vec<(String, SourceText)> = m.data.into_inner().into_iter().map(|(k, v)| (k, src.spanned(v))).collect();
    if data.is_empty() {
        return Err(src.err(data_span.start, tr!("config.data_empty")));
    }
    let Some(template_id) = m.template_id else {
        return Err(src.err(0, tr!("config.template_id_missing")));
    };
    let tid_span = template_id.span();
    let template_id = template_id.into_inner();
    if template_id.trim().is_empty() {
        return Err(src.err(tid_span.start, tr!("config.template_id_empty")));
    }
    let one_of = |v: Option<Spanned<String>>, default: &str, key: &str, allowed: &[&str]| match v {
        None => Ok(default.to_string()),
        Some(s) if allowed.contains(&s.get_ref().as_str()) => Ok(s.into_inner()),
        Some(s) => Err(src.err(
            s.span().start,
            tr!("config.one_of", key = key, value = format!("{:?}", s.get_ref()), allowed = or_list(allowed)),
        )),
    };
    let miniprogram_state =
        one_of(m.miniprogram_state, "formal", "miniprogram_state", &["formal", "trial", "developer"])?;
    let lang = one_of(m.lang, "zh_CN", "lang", &["zh_CN", "en_US", "zh_HK", "zh_TW"])?;
    if m.kind == Kind::Uniform && m.mp_appid.is_none() {
        return Err(src.err(0, tr!("config.uniform_mp_appid")));
    }
    let links = links(m.kind, m.url, m.page, m.miniprogram_appid, m.miniprogram, src)?;
    if let (Kind::Template, Some(p), None) = (m.kind, &links.page, &links.miniprogram_appid) {
        return Err(LoadError::Config { at: p.at.clone(), message: tr!("config.page_needs_appid") });
    }
    Ok(MessageConfig {
        kind: m.kind,
        template_id,
        mp_appid: m.mp_appid,
        miniprogram_appid: links.miniprogram_appid,
        url: links.url,
        page: links.page,
        test_openid: m.test_openid,
        miniprogram_state,
        lang,
        data,
    })
}

/// Where a message leads: a web link (`url`) and a mini-program page (`miniprogram_appid` and
/// `page`).
struct Links {
    url: Option<SourceText>,
    page: Option<SourceText>,
    miniprogram_appid: Option<String>,
}

/// The links as each kind's campaign file names them. `mp_subscribe` uses bizsend's own names:
/// `page` is the web page and `miniprogram = { appid, pagepath }` the mini program; the other
/// kinds have `url`, `page` and `miniprogram_appid`.
fn links(
    kind: Kind,
    url: Option<Spanned<String>>,
    page: Option<Spanned<String>>,
    miniprogram_appid: Option<String>,
    miniprogram: Option<Spanned<RawMiniProgram>>,
    src: &Source<'_>,
) -> Result<Links, LoadError> {
    if kind != Kind::MpSubscribe {
        if let Some(mp) = miniprogram {
            return Err(src.err(mp.span().start, tr!("config.miniprogram_table")));
        }
        return Ok(Links { url: url.map(|u| src.spanned(u)), page: page.map(|p| src.spanned(p)), miniprogram_appid });
    }
    if let Some(u) = url {
        return Err(src.err(u.span().start, tr!("config.mp_subscribe_url")));
    }
    if miniprogram_appid.is_some() {
        return Err(src.err(0, tr!("config.mp_subscribe_appid")));
    }
    let web = page.map(|p| src.spanned(p));
    let (pagepath, miniprogram_appid) = match miniprogram {
        Some(mp) => {
            let start = mp.span().start;
            let mp = mp.into_inner();
            if mp.appid.trim().is_empty() || mp.pagepath.trim().is_empty() {
                return Err(src.err(start, tr!("config.mp_subscribe_miniprogram_empty")));
            }
            let at = Location::at_offset(src.path, src.text, start);
            (Some(SourceText { text: mp.pagepath, at }), Some(mp.appid))
        }
        None => (None, None),
    };
    Ok(Links { url: web, page: pagepath, miniprogram_appid })
}

/// What a campaign for many merchants needs to resolve them (taken out of the sections it was
/// written in): their names, the keys naming their templates and lists, and `[wechat]`,
/// `[network]`, `[shared]` as written.
type FleetParts = (Vec<String>, super::merchants::FleetKeys, RawWechat, RawNetwork, super::shared::RawShared);

/// `accounts = […]` and the keys that go with it, taken out of the sections (`None` for a
/// campaign of one account, which must then have none of them).
fn take_fleet(
    wechat: &mut RawWechat,
    message: &mut RawMessage,
    recipients: &mut RawRecipients,
    network: &RawNetwork,
    shared: &super::shared::RawShared,
    src: &Source<'_>,
) -> Result<Option<FleetParts>, LoadError> {
    let Some(accounts) = wechat.accounts.take() else {
        refuse_fleet_only(message, recipients, src, false)?;
        return Ok(None);
    };
    super::merchants::refuse_single_keys(wechat, src)?;
    refuse_fleet_only(message, recipients, src, true)?;
    let names = super::merchants::names(&accounts, src)?;
    let keys = super::merchants::FleetKeys {
        accounts,
        templates: message.templates.take(),
        column: recipients.account_column.take(),
        files: recipients.files.take(),
    };
    Ok(Some((names, keys, wechat.clone(), network.clone(), shared.clone())))
}

/// The keys of a campaign for many merchants (`[message.templates]`, `account_column`,
/// `[recipients.files]`) in a campaign for one (`fleet` false), or a campaign for many naming one
/// template or missing the merchants' lists (`fleet` true).
fn refuse_fleet_only(m: &RawMessage, r: &RawRecipients, src: &Source<'_>, fleet: bool) -> Result<(), LoadError> {
    let problem = |message: String| LoadError::Config { at: Location::file(src.path), message };
    if !fleet {
        let keys = [
            ("[message.templates]", m.templates.is_some()),
            ("account_column", r.account_column.is_some()),
            ("[recipients.files]", r.files.is_some()),
        ];
        return match keys.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(problem(tr!("merchants.needs_accounts", key = *key))),
            None => Ok(()),
        };
    }
    if let Some(t) = &m.template_id {
        return Err(src.err(t.span().start, tr!("merchants.template_id")));
    }
    match (&r.account_column, &r.files, &r.file, &r.csv) {
        (Some(_), Some(_), ..) => Err(problem(tr!("merchants.column_and_files"))),
        (None, Some(_), Some(_), _) | (None, Some(_), _, Some(_)) => Err(problem(tr!("merchants.files_and_file"))),
        (None, None, ..) => Err(problem(tr!("merchants.no_lists"))),
        _ => Ok(()),
    }
}

/// `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => tr!("config.or", rest = rest.join(", "), last = *last),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// `[recipients]`, its file relative to the campaign's folder `base`; an audience's list in
/// `state_dir`.
fn recipients_config(
    r: RawRecipients,
    src: &Source<'_>,
    base: &Path,
    state_dir: &Path,
) -> Result<RecipientsConfig, LoadError> {
    let problem = |message: String| LoadError::Config { at: Location::file(src.path), message };
    let tags = r.tags.unwrap_or_default();
    let audience = r.followers == Some(true) || !tags.is_empty();
    let file = match (r.file, r.csv, audience) {
        (Some(_), _, true) | (_, Some(_), true) => return Err(problem(tr!("config.file_and_audience"))),
        (Some(f), None, false) | (None, Some(f), false) => f,
        (Some(_), Some(_), false) => return Err(problem(tr!("config.file_and_csv"))),
        (None, None, true) => String::new(),
        (None, None, false) => return Err(problem(tr!("config.no_file"))),
    };
    let audience = if audience {
        let since =
            match r.since {
                None => None,
                Some(s) => Some(super::audience::parse_since(s.get_ref()).ok_or_else(|| {
                    src.err(s.span().start, tr!("config.since", value = format!("{:?}", s.get_ref())))
                })?),
            };
        let spec = super::audience::AudienceSpec {
            tags,
            all_tags: r.all_tags,
            except: r.except_tags,
            since,
            with_info: r.with_info || since.is_some(),
        };
        let max_age = Duration::from_secs(r.audience_max_age_minutes.unwrap_or(60).saturating_mul(60));
        Some(AudienceSource { spec, values: r.values.map(|v| base.join(v)), max_age })
    } else {
        if r.values.is_some() {
            return Err(problem(tr!("config.values_needs_audience")));
        }
        None
    };
    Ok(RecipientsConfig {
        csv: if audience.is_some() { state_dir.join("audience").join("followers.csv") } else { base.join(&file) },
        audience,
        sheet: r.sheet,
        openid_column: r.openid_column.unwrap_or_else(|| "openid".into()).trim().to_string(),
        encoding: r.encoding,
        allow_duplicates: r.allow_duplicates,
    })
}

/// `[send]`, checked; `account_days` is the account's `suppress_days`.
fn send_config(s: RawSend, account_days: Option<u32>, src: &Source<'_>) -> Result<SendConfig, LoadError> {
    let d = SendConfig::default();
    let positive = |v: Option<Spanned<u32>>, default: u32, key: &str, max: u32| match v {
        None => Ok(default),
        Some(v) if *v.get_ref() >= 1 && *v.get_ref() <= max => Ok(*v.get_ref()),
        Some(v) => {
            Err(src.err(v.span().start, tr!("config.range", key = key, value = v.get_ref(), min = 1, max = max)))
        }
    };
    let bad = |at: usize, message: String| Err(src.err(at, message));
    Ok(SendConfig {
        rate: positive(s.rate, d.rate, "rate", 1_000_000)?,
        burst: positive(s.burst, d.burst, "burst", 10_000)?,
        concurrency: positive(s.concurrency, d.concurrency, "concurrency", 1024)?,
        max_attempts: positive(s.max_attempts, d.max_attempts, "max_attempts", 100)?,
        timeout_ms: match s.timeout_ms {
            None => d.timeout_ms,
            Some(v) if (100..=600_000).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                return bad(
                    v.span().start,
                    tr!("config.range", key = "timeout_ms", value = v.get_ref(), min = 100, max = 600_000),
                )
            }
        },
        window: match &s.window {
            None => None,
            Some(w) => {
                Some(super::schedule::Window::parse(w.get_ref()).map_err(|m| src.err(w.span().start, m.to_string()))?)
            }
        },
        zone: match &s.timezone {
            None => super::schedule::Zone::Local,
            Some(z) => {
                super::schedule::Zone::parse(Some(z.get_ref())).map_err(|m| src.err(z.span().start, m.to_string()))?
            }
        },
        suppress_days: match s.suppress_days {
            None => account_days.map_or(d.suppress_days, |days| days.min(3650)),
            Some(v) if *v.get_ref() <= 3650 => *v.get_ref(),
            Some(v) => return bad(v.span().start, tr!("config.suppress_days", value = v.get_ref())),
        },
        pause_on_failure_rate: match s.pause_on_failure_rate {
            None => d.pause_on_failure_rate,
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => *v.get_ref(),
            Some(v) => return bad(v.span().start, tr!("config.pause_on_failure_rate", value = v.get_ref())),
        },
    })
}

/// Turn serde's "unknown field `x`, expected one of `a`, `b`" into a message with a suggestion.
fn explain_toml_error(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let names: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let unknown = rest.split('`').next().unwrap_or_default();
        let suggestion =
            closest(unknown, names.iter().copied()).map(|c| tr!("config.did_you_mean", key = c)).unwrap_or_default();
        return tr!("config.unknown_key", key = unknown, suggestion = suggestion, valid = names.join(", "));
    }
    message.to_string()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
