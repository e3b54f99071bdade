//! The campaign checked against the account's real templates, for `check`, `send` (both UIs)
//! and `templates`: the catalogue from the cache or WeChat, the template found by id, the
//! campaign's keys against the template's, the allowed values of enum fields applied to rows,
//! and what the phone will show.

use serde::Serialize;

use crate::campaign::{Campaign, CampaignConfig, Kind};
use crate::wechat::catalogue::{Catalogue, Template};
use crate::wechat::templates::{fetch, CatalogueCache};
use crate::wechat::Sender;

/// How the catalogue is obtained.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueOptions {
    /// Do not fetch (`check --offline`); a cached catalogue is still used.
    pub offline: bool,
    /// Fetch even when the cache is young enough (`--refresh-templates`).
    pub refresh: bool,
    /// Read and write the cache (not for the embedded mock, whose address changes every run).
    pub cache: bool,
}

impl Default for CatalogueOptions {
    fn default() -> Self {
        Self { offline: false, refresh: false, cache: true }
    }
}

/// What became of the template check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TemplateStatus {
    /// The template was found in the account's list.
    Verified {
        /// Its title.
        title: String,
        /// Whether the list came from the cache.
        from_cache: bool,
    },
    /// The list could not be had: the campaign is checked against itself only.
    NotVerified {
        /// Why.
        reason: String,
    },
    /// `uniform` sends an official account's template through the mini program's token, which
    /// cannot list it.
    Unverifiable,
}

/// The campaign against its template.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateCheck {
    /// Found, not verified, or not verifiable.
    #[serde(flatten)]
    pub status: TemplateStatus,
    /// What makes the campaign unusable (exit 2): unknown id, keys that do not match.
    pub errors: Vec<String>,
    /// Worth knowing, not wrong (`first`/`remark` left out).
    pub notes: Vec<String>,
    /// The template, when found.
    #[serde(skip)]
    pub template: Option<Template>,
}

impl TemplateCheck {
    /// Checked against nothing, on purpose or not.
    pub fn not_verified(reason: impl Into<String>) -> Self {
        Self {
            status: TemplateStatus::NotVerified { reason: reason.into() },
            errors: Vec::new(),
            notes: Vec::new(),
            template: None,
        }
    }

    /// `uniform`: there is no list its token may read.
    pub fn unverifiable() -> Self {
        Self { status: TemplateStatus::Unverifiable, errors: Vec::new(), notes: Vec::new(), template: None }
    }

    /// Whether the template was found and matches.
    pub fn is_verified(&self) -> bool {
        matches!(self.status, TemplateStatus::Verified { .. }) && self.errors.is_empty()
    }

    /// One line for the operator.
    pub fn headline(&self) -> String {
        match &self.status {
            TemplateStatus::Verified { title, from_cache } => {
                let cached = if *from_cache { crate::tr!("template.cached") } else { String::new() };
                crate::tr!("template.verified", title = title.clone(), cached = cached)
            }
            TemplateStatus::NotVerified { reason } => crate::tr!("template.not_verified", reason = reason.clone()),
            TemplateStatus::Unverifiable => crate::tr!("template.unverifiable"),
        }
    }
}

/// Why there is no list of the account's templates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// `--offline`, and nothing cached.
    #[error("{}", crate::tr!("err.catalogue_error.offline"))]
    Offline,
    /// No credentials to ask WeChat with (the reason, when known).
    #[error("{}", crate::tr!("err.catalogue.no_credentials", why = .0.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()))]
    NoCredentials(Option<String>),
    /// WeChat (or the network) refused.
    #[error("{}", match .0.errcode { Some(48001) => crate::tr!("err.catalogue.no_permission"), Some(code) => format!("errcode {code}: {}", .0.errmsg), None => .0.errmsg.clone() })]
    Refused(crate::wechat::Failure),
}

/// The catalogue of the campaign's app and kind: from the cache unless `refresh`, else fetched
/// with `sender` (and cached). `Err` says why there is none.
pub async fn catalogue(
    cfg: &CampaignConfig,
    kind: Kind,
    sender: Option<&Sender>,
    opts: CatalogueOptions,
) -> Result<(Catalogue, bool), CatalogueError> {
    let cache = if opts.cache { CatalogueCache::default_location() } else { None };
    let max_age = cfg.template_cache;
    if !opts.refresh && !max_age.is_zero() {
        if let Some(c) = cache.as_ref().and_then(|c| c.load(&cfg.wechat.appid, kind, &cfg.wechat.api_base, max_age)) {
            return Ok((c, true));
        }
    }
    if opts.offline {
        return Err(CatalogueError::Offline);
    }
    let Some(sender) = sender else {
        return Err(CatalogueError::NoCredentials(None));
    };
    match fetch(sender, &cfg.wechat.appid, kind).await {
        Ok(c) => {
            if let Some(cache) = &cache {
                let _ = cache.store(&c, &cfg.wechat.api_base);
            }
            Ok((c, false))
        }
        Err(f) => Err(CatalogueError::Refused(f)),
    }
}

/// Check `campaign` against its template in `catalogue`, and apply the template's allowed
/// values to its rows (an out-of-list value makes its row invalid).
pub fn verify(campaign: &mut Campaign, catalogue: &Catalogue, from_cache: bool) -> TemplateCheck {
    let m = &campaign.config.message;
    let Some(template) = catalogue.find(&m.template_id).cloned() else {
        let mut near: Vec<(usize, &Template)> =
            catalogue.templates.iter().map(|t| (strsim(&t.id, &m.template_id), t)).collect();
        near.sort_by_key(|(d, _)| *d);
        let titles: Vec<String> = near.iter().take(3).map(|(_, t)| format!("{} 「{}」", t.id, t.title)).collect();
        let closest =
            if titles.is_empty() { String::new() } else { crate::tr!("template.closest", titles = titles.join(", ")) };
        let error = crate::tr!(
            "template.unknown_id",
            id = format!("{:?}", m.template_id),
            count = catalogue.templates.len(),
            kind = m.kind.as_str(),
            closest = closest
        );
        return TemplateCheck {
            status: TemplateStatus::NotVerified { reason: crate::tr!("template.not_in_list") },
            errors: vec![error],
            notes: Vec::new(),
            template: None,
        };
    };
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let keys_of = |t: &Template| {
        t.fields
            .iter()
            .map(|f| if f.label.is_empty() { f.key.clone() } else { format!("{} ({})", f.key, f.label) })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (key, at) in &m.data {
        if template.field(key).is_none() {
            errors.push(crate::tr!(
                "template.extra_key",
                at = at.at.to_string(),
                key = key.clone(),
                title = template.title.clone(),
                keys = keys_of(&template)
            ));
        }
    }
    for field in &template.fields {
        if m.data.iter().any(|(k, _)| *k == field.key) {
            continue;
        }
        if !field.shown {
            notes.push(crate::tr!("template.not_shown", key = field.key.clone()));
        } else {
            let label = if field.label.is_empty() { String::new() } else { format!(" ({})", field.label) };
            let answer = if m.kind.typed_values() { crate::tr!("template.answers_47003") } else { String::new() };
            errors.push(crate::tr!(
                "template.missing_key",
                title = template.title.clone(),
                key = field.key.clone(),
                label = label,
                answer = answer
            ));
        }
    }
    if m.kind.typed_values() && errors.is_empty() {
        campaign.apply_allowed_values(template.enums.clone());
    }
    TemplateCheck {
        status: TemplateStatus::Verified { title: template.title.clone(), from_cache },
        errors,
        notes,
        template: Some(template),
    }
}

/// Catalogue then verification, for one campaign.
pub async fn check_campaign(campaign: &mut Campaign, sender: Option<&Sender>, opts: CatalogueOptions) -> TemplateCheck {
    if campaign.config.message.kind == Kind::Uniform {
        return TemplateCheck::unverifiable();
    }
    let kind = campaign.config.message.kind;
    match catalogue(&campaign.config, kind, sender, opts).await {
        Ok((c, from_cache)) => verify(campaign, &c, from_cache),
        Err(reason) => TemplateCheck::not_verified(reason.to_string()),
    }
}

/// The check for `wxsend check` and `wxsend templates`, without a send session: a sender is made
/// from the campaign's own credentials when it has them (else only a cached list can be used).
pub async fn check_standalone(campaign: &mut Campaign, opts: CatalogueOptions) -> TemplateCheck {
    if campaign.config.message.kind == Kind::Uniform {
        return TemplateCheck::unverifiable();
    }
    let (sender, why_none) = standalone_sender(&campaign.config);
    let kind = campaign.config.message.kind;
    match catalogue(&campaign.config, kind, sender.as_ref(), opts).await {
        Ok((c, from_cache)) => verify(campaign, &c, from_cache),
        Err(reason) => TemplateCheck::not_verified(match why_none {
            Some(why) if !opts.offline => format!("{reason} ({why})"),
            _ => reason.to_string(),
        }),
    }
}

/// A sender from the campaign's credentials, or why there is none.
pub fn standalone_sender(cfg: &CampaignConfig) -> (Option<Sender>, Option<String>) {
    let client = match crate::wechat::WechatClient::with_network(&cfg.wechat.api_base, &cfg.network) {
        Ok(c) => c,
        Err(e) => return (None, Some(e.to_string())),
    };
    match super::tokens::token_source(cfg, &client) {
        Ok(source) => {
            let tokens = std::sync::Arc::new(crate::wechat::TokenCache::new(
                source,
                crate::wechat::TokenCache::default_dir().as_deref(),
            ));
            (Some(Sender::new(client, tokens)), None)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

/// The number of single-character edits between `a` and `b`.
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Characters of a template-message value the phone shows.
pub const SHOWN_CHARS: usize = 20;

/// What the phone shows for one row: the title, each shown field as `label: value` (template
/// messages cut at 20 characters, the cut marked `…`), then the link or mini-program line.
/// `keys` and `rendered.values` are the campaign's data keys and the row's values.
pub fn phone_lines(
    template: &Template,
    kind: Kind,
    keys: &[String],
    rendered: &crate::campaign::Rendered,
) -> Vec<String> {
    let mut lines = vec![format!("「{}」", template.title)];
    for field in template.fields.iter().filter(|f| f.shown) {
        let value =
            keys.iter().position(|k| *k == field.key).and_then(|i| rendered.values.get(i)).map_or("", String::as_str);
        let value = if kind == Kind::Template && value.chars().count() > SHOWN_CHARS {
            format!("{}… (cut at {SHOWN_CHARS})", value.chars().take(SHOWN_CHARS).collect::<String>())
        } else {
            value.to_string()
        };
        let label = if field.label.is_empty() { field.key.as_str() } else { field.label.as_str() };
        lines.push(format!("{label}: {value}"));
    }
    match (&rendered.page, &rendered.url) {
        (Some(page), _) if !page.is_empty() => lines.push(format!("› 进入小程序查看 ({page})")),
        (_, Some(url)) if !url.is_empty() => lines.push(format!("› 详情 ({url})")),
        _ => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::catalogue::parse_content;

    #[test]
    fn the_phone_shows_labels_values_cut_at_twenty_and_no_first_or_remark() {
        let template = Template {
            id: "T".into(),
            title: "订单发货提醒".into(),
            content: String::new(),
            example: String::new(),
            fields: parse_content(
                "{{first.DATA}}\n商品：{{thing1.DATA}}\n备注：{{thing2.DATA}}\n{{remark.DATA}}",
                Kind::Template,
            ),
            enums: Default::default(),
            subscribe_type: None,
        };
        let rendered = crate::campaign::Rendered {
            values: vec!["保温杯".into(), "一二三四五六七八九十一二三四五六七八九十超出".into()],
            url: Some("https://example.com/o/1".into()),
            page: None,
            client_msg_id: String::new(),
            message_key: 0,
        };
        let lines = phone_lines(&template, Kind::Template, &["thing1".into(), "thing2".into()], &rendered);
        assert_eq!(
            lines,
            [
                "「订单发货提醒」",
                "商品: 保温杯",
                "备注: 一二三四五六七八九十一二三四五六七八九十… (cut at 20)",
                "› 详情 (https://example.com/o/1)"
            ]
        );
    }
}
