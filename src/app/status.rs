//! `wxsend status`: a campaign at a glance without sending — rows sent, failed, unknown and
//! pending from the journal, and what the delivery receipts say.

use std::path::Path;

use serde::Serialize;

use super::receipts::state_paths;
use crate::campaign::{Campaign, RowState};
use crate::journal::receipts::{ReceiptCounts, ReceiptsFile, SubscriptionCounts, SubscriptionsFile};
use crate::journal::{read_bound, RowRecord};

/// The campaign's state.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The campaign's name.
    pub campaign: String,
    /// Data rows in the recipients file.
    pub rows: usize,
    /// Accepted by WeChat.
    pub sent: usize,
    /// Failed for good.
    pub failed: usize,
    /// Sent without an answer (may or may not have arrived).
    pub unknown: usize,
    /// Each of them: the row, its openid and the requests made (`--resend-unknown` sends them
    /// again; check first for kinds WeChat does not de-duplicate).
    pub unknown_rows: Vec<UnknownRow>,
    /// Ready rows not sent yet (nor held back by the account's ledger).
    pub pending: usize,
    /// What the account's delivery ledger says of the rows this journal has not sent: already
    /// sent by another campaign's run, sent earlier without an answer, held back.
    pub ledger: super::plan::FromLedger,
    /// Each row the ledger holds back: the row, its recipient and why.
    pub held_rows: Vec<HeldRow>,
    /// Rows that are never sent (invalid or duplicate).
    pub not_sendable: usize,
    /// What the delivery receipts say about the sent rows.
    pub receipts: ReceiptCounts,
    /// Receipts that matched no row of this campaign.
    pub receipts_unmatched: usize,
    /// Where the recipients stand with the campaign's template, from the subscription changes
    /// pushed (subscribe kinds).
    pub subscriptions: SubscriptionCounts,
    /// The journal read, if there is one.
    pub journal: Option<String>,
    /// Each sender's share, when senders share the campaign through Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senders: Option<Vec<SenderShare>>,
}

/// A row the account's ledger holds back.
#[derive(Debug, Clone, Serialize)]
pub struct HeldRow {
    /// The data row (1-based).
    pub row: usize,
    /// Its recipient.
    pub openid: String,
    /// `already_sent`, `earlier_unknown` or `suppressed`.
    pub reason: &'static str,
}

/// A row sent without an answer.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownRow {
    /// The data row (1-based, as `send` names rows).
    pub row: usize,
    /// Its recipient.
    pub openid: String,
    /// Requests made for it.
    pub attempts: u32,
}

/// Why a campaign's status cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The state folder or its journal cannot be used.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The account's ledger cannot be read.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// The receipts file cannot be read.
    #[error("{path}: {source}", path = .path.display())]
    Receipts {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StatusError {
    /// 4 when this machine's storage is the cause, else 2.
    pub fn exit(&self) -> super::Exit {
        match self {
            StatusError::Journal(e) if e.is_storage() => super::Exit::LocalWrite,
            _ => super::Exit::Input,
        }
    }
}

/// The status of `campaign` from its state folder (`state_dir` overrides the campaign's).
pub fn status(campaign: &Campaign, state_dir: Option<&Path>) -> Result<StatusReport, StatusError> {
    let paths = state_paths(campaign, state_dir)?;
    let rows = campaign.recipients.len();
    let records = if paths.journal.exists() { Some(read_bound(&paths.journal, campaign)?.replay.rows) } else { None };
    let mut report = StatusReport {
        campaign: campaign.config.name.clone(),
        rows,
        sent: 0,
        failed: 0,
        unknown: 0,
        unknown_rows: Vec::new(),
        pending: 0,
        ledger: Default::default(),
        held_rows: Vec::new(),
        not_sendable: 0,
        receipts: ReceiptCounts::default(),
        receipts_unmatched: 0,
        subscriptions: SubscriptionCounts::default(),
        journal: records.as_ref().map(|_| paths.journal.display().to_string()),
        senders: None,
    };
    let mut pending = Vec::new();
    for i in 0..rows {
        if campaign.checks.state(i) != Some(RowState::Ready) {
            report.not_sendable += 1;
            continue;
        }
        match records.as_ref().and_then(|r| r.get(i)) {
            Some(RowRecord::Delivered { .. }) => report.sent += 1,
            Some(RowRecord::Failed(_)) => report.failed += 1,
            Some(RowRecord::Unknown { attempts }) => {
                report.unknown += 1;
                let openid = campaign.recipients.row(i).map(|r| r.openid().to_string()).unwrap_or_default();
                report.unknown_rows.push(UnknownRow { row: i + 1, openid, attempts: *attempts });
            }
            _ => pending.push(i),
        }
    }
    report.pending = pending.len();
    if !pending.is_empty() {
        if let Some(ledger) = super::ledger::open_existing(campaign)? {
            let mut plan = super::plan::Plan { to_send: pending, ..Default::default() };
            let rules = super::ledger::rules(campaign, &super::session::SendOptions::default());
            let own = ledger.journal_id(&paths.journal)?;
            plan.consult(campaign, &ledger, own, rules)?;
            report.pending = plan.to_send.len();
            report.ledger = plan.ledger;
            report.held_rows = plan
                .held
                .iter()
                .map(|&(row, held)| HeldRow {
                    row: row + 1,
                    openid: campaign.recipients.row(row).map(|r| r.openid().to_string()).unwrap_or_default(),
                    reason: match held {
                        super::plan::Held::AlreadySent => "already_sent",
                        super::plan::Held::EarlierUnknown => "earlier_unknown",
                        super::plan::Held::Suppressed => "suppressed",
                        super::plan::Held::Dropped => "dropped",
                    },
                })
                .collect();
        }
    }
    let file = ReceiptsFile::in_dir(&paths.dir);
    let receipts = file.read().map_err(|source| StatusError::Receipts { path: file.path().to_path_buf(), source })?;
    report.receipts_unmatched = receipts.iter().filter(|r| r.row.is_none()).count();
    report.receipts = ReceiptCounts::of(&receipts, report.sent);
    let changes = SubscriptionsFile::in_dir(&paths.dir);
    let changes =
        changes.read().map_err(|source| StatusError::Receipts { path: changes.path().to_path_buf(), source })?;
    if !changes.is_empty() {
        let recipients: std::collections::HashSet<&str> = campaign.recipients.rows().map(|r| r.openid()).collect();
        let template = campaign.config.message.template_id.as_str();
        report.subscriptions =
            SubscriptionCounts::of(&changes, |c| c.template_id == template && recipients.contains(c.openid.as_str()));
    }
    Ok(report)
}

/// One sender's share of the campaign, from Redis.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SenderShare {
    /// The sender (`<host>-<state folder hash>`).
    pub sender: String,
    /// Rows it delivered.
    pub delivered: usize,
    /// Rows that failed for good there.
    pub failed: usize,
    /// Rows it sent without an answer yet (in flight, or unknown if it died).
    pub sent: usize,
    /// Rows left for a later run (transient answers only).
    pub retry: usize,
}

/// The campaign across the senders sharing it through Redis (`[shared] redis`).
pub async fn shared_status(campaign: &Campaign) -> Result<Option<Vec<SenderShare>>, crate::shared::SharedError> {
    let cfg = &campaign.config.shared;
    let Some(url) = &cfg.redis else { return Ok(None) };
    let redis = crate::shared::Redis::connect(url, cfg.password(), &cfg.prefix).await?;
    let fingerprint = super::shared::rows_fingerprint(campaign);
    let rows = crate::shared::SharedRows::new(redis, &campaign.config.wechat.appid, &fingerprint, "status");
    let mut by_sender: std::collections::BTreeMap<String, SenderShare> = Default::default();
    for ((state, owner), n) in rows.tally().await? {
        let s = by_sender.entry(owner.clone()).or_insert_with(|| SenderShare { sender: owner, ..Default::default() });
        match state.as_str() {
            "ok" => s.delivered += n,
            "failed" => s.failed += n,
            "sent" => s.sent += n,
            _ => s.retry += n,
        }
    }
    Ok(Some(by_sender.into_values().collect()))
}
