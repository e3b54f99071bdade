//! `wxsend check` of a campaign sent for many merchants: each merchant's rows checked as its own
//! campaign, its template verified against its own account's list, its quota left today asked
//! (unless offline); a table of the merchants, then the report of each merchant that has
//! something to fix.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::check::CheckReport;
use super::exit::Exit;
use super::fleet::FleetError;
use super::templates::{check_standalone, standalone_sender, CatalogueOptions};
use super::text::{columns, thousands};
use crate::campaign::CampaignConfig;
use crate::tr;
use crate::wechat::Quota;

/// One merchant's check.
#[derive(Debug, Serialize)]
pub struct MerchantCheck {
    /// The account's name.
    pub merchant: String,
    /// The merchant's appid.
    pub appid: String,
    /// Its quota today, when WeChat said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Why the quota is not known (offline, or WeChat's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_unknown: Option<String>,
    /// Its rows and template, as `check` reports a campaign of one account.
    pub check: CheckReport,
}

impl MerchantCheck {
    /// Whether today's quota is known to be smaller than its ready rows.
    pub fn quota_short(&self) -> bool {
        self.quota.is_some_and(|q| q.remain < self.check.ready as u64)
    }

    /// Its exit alone: its check's, or 1 when its quota does not cover its rows.
    pub fn exit(&self) -> Exit {
        match self.check.exit() {
            Exit::Success if self.quota_short() => Exit::Partial,
            e => e,
        }
    }
}

/// Everything `check` reports of a campaign for many merchants.
#[derive(Debug, Serialize)]
pub struct FleetCheck {
    /// The campaign's name.
    pub campaign: String,
    /// Each merchant that has rows, in the campaign's order.
    pub merchants: Vec<MerchantCheck>,
    /// The merchants the list has no row for.
    pub idle: Vec<String>,
}

/// Check the campaign at `path` (`csv`: another list, with the merchant column) merchant by
/// merchant; `show` and `every_problem` as for one campaign.
pub async fn check_fleet(
    path: &Path,
    csv: Option<&Path>,
    show: usize,
    every_problem: bool,
    opts: CatalogueOptions,
) -> Result<FleetCheck, FleetError> {
    let split = super::fleet::split(path, csv, None)?;
    let mut out = FleetCheck { campaign: split.config.name.clone(), merchants: Vec::new(), idle: split.idle };
    for (i, name, mut campaign) in split.each {
        let template = check_standalone(&mut campaign, opts).await;
        let (quota, quota_unknown) = quota_of(&campaign.config, opts.offline).await;
        let mut check = CheckReport::build(&campaign, show, every_problem, template).with_ledger(&campaign);
        if let Some(origin) = &split.lists.origin {
            in_the_list(&mut check, origin, i);
        }
        let appid = campaign.config.wechat.appid.clone();
        out.merchants.push(MerchantCheck { merchant: name, appid, quota, quota_unknown, check });
    }
    Ok(out)
}

/// Name the rows of merchant `merchant`'s report where they are in the operator's list (the
/// copy its rows were split into is the same rows in the same order).
fn in_the_list(check: &mut CheckReport, origin: &super::merchant_lists::Origin, merchant: usize) {
    for p in &mut check.problems {
        if let Some(at) = origin.at(merchant, p.row.saturating_sub(1)) {
            p.line = at.line.unwrap_or(p.line);
            p.at = at.to_string();
        }
    }
    for p in &mut check.preview {
        if let Some(at) = origin.at(merchant, p.row.saturating_sub(1)) {
            p.line = at.line.unwrap_or(p.line);
            p.at = at.to_string();
        }
    }
}

/// The merchant's quota today for the campaign's endpoint, or why it is not known.
async fn quota_of(cfg: &CampaignConfig, offline: bool) -> (Option<Quota>, Option<String>) {
    if offline {
        return (None, Some(tr!("fleet.check.offline")));
    }
    match standalone_sender(cfg) {
        (Some(sender), _) => match sender.quota(cfg.message.kind).await {
            Ok(q) => (Some(q), None),
            Err(f) => (None, Some(f.errmsg)),
        },
        (None, why) => (None, why),
    }
}

impl FleetCheck {
    /// The worst of the merchants' exits.
    pub fn exit(&self) -> Exit {
        self.merchants.iter().map(MerchantCheck::exit).max_by_key(|e| e.code()).unwrap_or(Exit::Success)
    }

    /// The table of the merchants (template, ready, not ready, quota left, verdict), then the
    /// report of every merchant with something to fix, then one line for all.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "{}",
            tr!("fleet.check.campaign", campaign = self.campaign.clone(), count = self.merchants.len())
        )?;
        let header = [
            tr!("fleet.col.merchant"),
            tr!("fleet.col.appid"),
            tr!("fleet.col.template"),
            tr!("fleet.col.ready"),
            tr!("fleet.col.not_ready"),
            tr!("fleet.col.quota"),
            tr!("fleet.col.verdict"),
        ];
        let rows: Vec<[String; 7]> = self.merchants.iter().map(MerchantCheck::cells).collect();
        for line in columns(&header, &rows) {
            writeln!(out, "{}", super::text::printable(&line))?;
        }
        if !self.idle.is_empty() {
            writeln!(out, "{}", tr!("fleet.idle", merchants = self.idle.join(", ")))?;
        }
        let to_fix: Vec<&MerchantCheck> = self.merchants.iter().filter(|m| m.exit() != Exit::Success).collect();
        for m in &to_fix {
            writeln!(out)?;
            writeln!(out, "{}", tr!("fleet.check.heading", merchant = m.merchant.clone(), appid = m.appid.clone()))?;
            if m.quota_short() {
                let remain = m.quota.map_or(0, |q| q.remain) as usize;
                let line = tr!("fleet.check.quota_short", remain = thousands(remain), ready = thousands(m.check.ready));
                writeln!(out, "{line}")?;
            }
            m.check.write_text(out)?;
        }
        writeln!(out)?;
        match to_fix.len() {
            0 => writeln!(out, "{}", tr!("fleet.check.all_ready", count = self.merchants.len())),
            n => writeln!(out, "{}", tr!("fleet.check.some_to_fix", count = n, of = self.merchants.len())),
        }
    }
}

impl MerchantCheck {
    /// Its row of the table.
    fn cells(&self) -> [String; 7] {
        let template = if self.check.template.is_verified() {
            tr!("fleet.check.verified", template = self.check.template_id.clone())
        } else {
            tr!("fleet.check.not_verified", template = self.check.template_id.clone())
        };
        let quota = self.quota.map_or_else(|| "-".to_string(), |q| thousands(q.remain as usize));
        let verdict = match self.exit() {
            Exit::Success => tr!("fleet.check.ready"),
            Exit::Input => tr!("fleet.check.template_wrong"),
            _ if self.quota_short() => tr!("fleet.check.quota_low"),
            _ => tr!("fleet.check.rows_to_fix"),
        };
        let not_ready = self.check.invalid + self.check.duplicates;
        [
            self.merchant.clone(),
            self.appid.clone(),
            template,
            thousands(self.check.ready),
            thousands(not_ready),
            quota,
            verdict,
        ]
    }
}
