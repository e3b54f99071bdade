//! `wxsend status` of a campaign sent for many merchants: each merchant's status read from its
//! own state folder (its journal, receipts and ledger), as `status` reads a campaign of one
//! account; `--export` merges their failures files into one with the merchant column.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fleet::FleetError;
use super::merchant_lists::{merge_failures, FailuresPart};
use super::status::{status, StatusError, StatusReport};
use crate::campaign::merchants::merchant_dir;
use crate::campaign::{Campaign, CampaignConfig};

/// One merchant's status.
#[derive(Debug, Serialize)]
pub struct MerchantStatus {
    /// The account's name.
    pub merchant: String,
    /// The merchant's appid.
    pub appid: String,
    /// Where its rows stand, as `status` reports a campaign of one account.
    pub status: StatusReport,
}

/// Every merchant's status.
#[derive(Debug, Serialize)]
pub struct FleetStatus {
    /// The campaign's name.
    pub campaign: String,
    /// Each merchant that has rows, in the campaign's order.
    pub merchants: Vec<MerchantStatus>,
    /// The merchants the list has no row for.
    pub idle: Vec<String>,
}

/// Why a campaign for many merchants' status cannot be read or exported.
#[derive(Debug, thiserror::Error)]
pub enum FleetStatusError {
    /// The campaign or its lists cannot be used.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// A merchant's state cannot be read.
    #[error("{}", crate::tr!("err.fleet.member", merchant = .merchant.clone(), error = .source.to_string()))]
    Status {
        /// The merchant's account name.
        merchant: String,
        /// Why.
        source: StatusError,
    },
    /// A merchant's failures, or the merged file, cannot be written.
    #[error("{}", crate::tr!("err.fleet.member", merchant = .merchant.clone(), error = .source.to_string()))]
    Export {
        /// The merchant's account name (or the file, for the merged one).
        merchant: String,
        /// Why.
        source: super::export::ExportError,
    },
}

impl FleetStatusError {
    /// The exit code: the merchant's error's.
    pub fn exit(&self) -> super::Exit {
        match self {
            FleetStatusError::Fleet(e) => e.exit(),
            FleetStatusError::Status { source, .. } => source.exit(),
            FleetStatusError::Export { source, .. } => source.exit(),
        }
    }
}

/// The campaign's merchants as campaigns of one account.
struct Members {
    /// The campaign file, parsed.
    config: CampaignConfig,
    /// Each merchant with rows: its name, its campaign, its state folder.
    each: Vec<(String, Campaign, PathBuf)>,
    /// The merchants without rows.
    idle: Vec<String>,
}

/// The campaign's merchants as campaigns of one account, with each one's state folder.
/// `csv`, `state_dir` and `mock` as `status` takes them.
fn members(path: &Path, csv: Option<&Path>, state_dir: Option<&Path>, mock: bool) -> Result<Members, FleetError> {
    let split = super::fleet::split(path, csv, state_dir)?;
    let state = split.config.state_dir.clone();
    let each = split
        .each
        .into_iter()
        .map(|(_, name, campaign)| {
            let dir = merchant_dir(&state, &name);
            let dir = if mock { dir.join("mock") } else { dir };
            (name, campaign, dir)
        })
        .collect();
    Ok(Members { config: split.config, each, idle: split.idle })
}

/// Each merchant's status of the campaign at `path`.
pub fn fleet_status(
    path: &Path,
    csv: Option<&Path>,
    state_dir: Option<&Path>,
    mock: bool,
) -> Result<FleetStatus, FleetStatusError> {
    let Members { config, each, idle } = members(path, csv, state_dir, mock)?;
    let mut merchants = Vec::with_capacity(each.len());
    for (name, campaign, dir) in each {
        let report = status(&campaign, Some(&dir))
            .map_err(|source| FleetStatusError::Status { merchant: name.clone(), source })?;
        merchants.push(MerchantStatus { merchant: name, appid: campaign.config.wechat.appid.clone(), status: report });
    }
    Ok(FleetStatus { campaign: config.name, merchants, idle })
}

/// Write every merchant's failures file (with what the receipts say, as `status --export`
/// does), then merge them into `out` with the merchant column; the rows written.
pub fn export_fleet(
    path: &Path,
    csv: Option<&Path>,
    state_dir: Option<&Path>,
    mock: bool,
    out: &Path,
    include_blocked: bool,
) -> Result<usize, FleetStatusError> {
    let Members { config, each, .. } = members(path, csv, state_dir, mock)?;
    let mut parts = Vec::with_capacity(each.len());
    for (name, campaign, dir) in each {
        let own = dir.join("status-export.csv");
        super::export::export_with_receipts(&campaign, Some(&dir), &own, include_blocked)
            .map_err(|source| FleetStatusError::Export { merchant: name.clone(), source })?;
        parts.push(FailuresPart { merchant: name, path: own, delimiter: campaign.recipients.delimiter });
    }
    let column = config.merchants.as_ref().map_or("account", |m| m.column.as_str());
    merge_failures(&parts, column, out).map_err(|e| FleetStatusError::Export {
        merchant: out.display().to_string(),
        source: super::export::ExportError::Write { path: out.to_path_buf(), source: e },
    })
}
