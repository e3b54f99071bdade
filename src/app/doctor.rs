//! `wxsend doctor`: the preflight an operator runs first, step by step, each passed or failed
//! with the fix: configuration, how requests travel, DNS, TCP, the proxy's tunnel, TLS, the
//! token, the daily quota and the clock. Nothing is sent.

use crate::tr;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::exit::Exit;
use super::text::thousands;
use crate::campaign::Campaign;
use crate::wechat::probe::probe;
use crate::wechat::{Sender, TokenCache, TokenError, TokenSpec, WechatClient};

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Fine.
    Pass,
    /// Wrong: the detail says how to fix it.
    Fail,
    /// Not checked (with the reason).
    Skip,
}

/// One step of the doctor.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorStep {
    /// What was checked.
    pub name: &'static str,
    /// How it went.
    pub status: StepStatus,
    /// What was found, or what is wrong and the fix.
    pub detail: String,
}

/// Every step, in order; the first failure ends the network steps.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The steps.
    pub steps: Vec<DoctorStep>,
}

impl DoctorReport {
    /// Exit 0 when nothing failed, 2 otherwise.
    pub fn exit(&self) -> Exit {
        if self.steps.iter().any(|s| s.status == StepStatus::Fail) {
            Exit::Input
        } else {
            Exit::Success
        }
    }

    pub(super) fn push(&mut self, name: &'static str, status: StepStatus, detail: impl Into<String>) {
        self.steps.push(DoctorStep { name, status, detail: detail.into() });
    }
}

/// Run the doctor on the campaign at `path` (recipients from `csv` if given).
pub async fn doctor(path: &Path, csv: Option<&Path>) -> DoctorReport {
    let mut report = DoctorReport { steps: Vec::new() };
    let Some(cfg) = configuration(&mut report, path, csv) else { return report };
    let cfg = &cfg;
    let client = match WechatClient::with_network(&cfg.wechat.api_base, &cfg.network) {
        Ok(c) => c,
        Err(e) => {
            report.push("network", StepStatus::Fail, e.to_string());
            return report;
        }
    };
    let Some(clock) = network(&mut report, &client).await else { return report };
    let Some(sender) = token(&mut report, cfg, client).await else { return report };
    template(&mut report, cfg, &sender).await;
    match sender.quota(cfg.message.kind).await {
        Ok(q) => report.push(
            "quota",
            StepStatus::Pass,
            tr!("doctor.quota", remain = thousands(q.remain as usize), limit = thousands(q.daily_limit as usize)),
        ),
        Err(f) => report.push(
            "quota",
            StepStatus::Skip,
            tr!(
                "doctor.quota_unknown",
                why = format!("{}{}", f.errcode.map(|c| format!("errcode {c}: ")).unwrap_or_default(), f.errmsg)
            ),
        ),
    }
    if let Some((status, detail)) = clock {
        report.push("clock", status, detail);
    }
    report
}

/// The campaign loaded and checked (the `configuration` step); an audience not pulled yet is
/// only named (`check` and `send` pull it), so the machine can be checked first.
fn configuration(
    report: &mut DoctorReport,
    path: &Path,
    csv: Option<&Path>,
) -> Option<crate::campaign::CampaignConfig> {
    if csv.is_none() {
        match crate::campaign::CampaignConfig::load(path) {
            Ok(cfg) if cfg.recipients.audience.is_some() && !cfg.recipients.csv.exists() => {
                let detail = tr!(
                    "doctor.configuration_audience",
                    campaign = cfg.name.clone(),
                    kind = cfg.message.kind.as_str(),
                    template = cfg.message.template_id.clone(),
                    api = cfg.wechat.api_base.to_string()
                );
                report.push("configuration", StepStatus::Pass, detail);
                return Some(cfg);
            }
            Ok(_) => {}
            Err(e) => {
                report.push("configuration", StepStatus::Fail, e.to_string());
                return None;
            }
        }
    }
    let campaign = match Campaign::load(path, csv) {
        Ok(c) => c,
        Err(e) => {
            report.push("configuration", StepStatus::Fail, e.to_string());
            return None;
        }
    };
    let cfg = &campaign.config;
    report.push(
        "configuration",
        StepStatus::Pass,
        tr!(
            "doctor.configuration",
            campaign = cfg.name.clone(),
            kind = cfg.message.kind.as_str(),
            template = cfg.message.template_id.clone(),
            ready = thousands(campaign.checks.ready),
            rows = thousands(campaign.recipients.len()),
            api = cfg.wechat.api_base.to_string()
        ),
    );
    Some(campaign.config)
}

/// The network's steps, one at a time (`None` after the first that fails); the clock's step,
/// reported last, comes back.
async fn network(report: &mut DoctorReport, client: &WechatClient) -> Option<Option<(StepStatus, String)>> {
    let mut clock = None;
    for step in probe(client.http()).await {
        let status = if step.passed { StepStatus::Pass } else { StepStatus::Fail };
        if step.name == "clock" {
            clock = Some((status, step.detail));
            continue;
        }
        report.push(step.name, status, step.detail);
        if status == StepStatus::Fail {
            return None;
        }
    }
    Some(clock)
}

/// The token (after a third-party platform's chain, link by link): the sender the remaining
/// steps ask with, or `None` when no token can be had.
async fn token(
    report: &mut DoctorReport,
    cfg: &crate::campaign::CampaignConfig,
    client: WechatClient,
) -> Option<Sender> {
    let source = match super::tokens::token_source(cfg, &client) {
        Ok(s) => s,
        Err(e) => {
            report.push("token", StepStatus::Fail, e.to_string());
            return None;
        }
    };
    let described = source.describe();
    // cgi-bin/token replaces the token other services use: reuse a cached one if there is one.
    // A platform's chain keeps the merchant's refresh token there, and a rotation must be kept.
    let cache_dir = match cfg.wechat.token {
        TokenSpec::ClientCredential | TokenSpec::Component(_) => TokenCache::default_dir(),
        _ => None,
    };
    let tokens = Arc::new(TokenCache::new(source, cache_dir.as_deref()));
    if !super::doctor_component::walk(report, &tokens).await {
        return None;
    }
    match tokens.get().await {
        Ok(_) => report.push("token", StepStatus::Pass, tr!("doctor.token", source = described.clone())),
        Err(e) => {
            report.push("token", StepStatus::Fail, explain_token_error(&e, &described));
            return None;
        }
    }
    Some(Sender::new(client, tokens))
}

/// Whether the campaign's template is in the account's list (asked afresh).
async fn template(report: &mut DoctorReport, cfg: &crate::campaign::CampaignConfig, sender: &Sender) {
    if cfg.message.kind == crate::campaign::Kind::Uniform {
        report.push("template", StepStatus::Skip, tr!("doctor.template_uniform"));
        return;
    }
    let opts = super::templates::CatalogueOptions { refresh: true, ..Default::default() };
    match super::templates::catalogue(cfg, cfg.message.kind, Some(sender), opts).await {
        Ok((list, _)) => match list.find(&cfg.message.template_id) {
            Some(t) => report.push(
                "template",
                StepStatus::Pass,
                tr!("doctor.template", id = t.id.clone(), title = t.title.clone(), count = list.templates.len()),
            ),
            None => report.push(
                "template",
                StepStatus::Fail,
                tr!(
                    "doctor.template_missing",
                    id = format!("{:?}", cfg.message.template_id),
                    count = list.templates.len(),
                    campaign = cfg.path.display().to_string()
                ),
            ),
        },
        Err(reason) => {
            report.push("template", StepStatus::Skip, tr!("doctor.not_checked", reason = reason.to_string()))
        }
    }
}

/// A token failure in words, with the fix; 40164 names the IP to whitelist.
pub fn explain_token_error(e: &TokenError, source: &str) -> String {
    match e {
        TokenError::Api { errcode: 40164, errmsg, .. } => match whitelist_ip(errmsg) {
            Some(ip) => tr!("doctor.whitelist_ip", ip = ip),
            None => tr!("doctor.whitelist", errmsg = errmsg.clone()),
        },
        TokenError::Api { errcode: 40125, .. } => tr!("doctor.wrong_secret", error = e.to_string()),
        TokenError::Api { errcode: 40013, .. } => tr!("doctor.wrong_appid", error = e.to_string()),
        TokenError::Api { errcode: 40243, .. } => tr!("doctor.frozen_secret", error = e.to_string()),
        _ => tr!("doctor.token_failed", error = e.to_string(), source = source),
    }
}

/// The IP in WeChat's 40164 message: `invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in
/// whitelist rid: …`.
pub fn whitelist_ip(errmsg: &str) -> Option<String> {
    let rest = errmsg.split("invalid ip ").nth(1)?;
    let ip: String = rest.chars().take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':')).collect();
    ip.parse::<std::net::IpAddr>().is_ok().then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ip_is_read_from_wechats_40164_message() {
        assert_eq!(
            whitelist_ip("invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: 65a1-22"),
            Some("203.0.113.7".into())
        );
        assert_eq!(whitelist_ip("invalid ip 2001:db8::1, not in whitelist"), Some("2001:db8::1".into()));
        assert_eq!(whitelist_ip("not in whitelist"), None);
    }
}
