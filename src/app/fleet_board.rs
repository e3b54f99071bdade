//! What each merchant of a campaign for many is doing, kept from the merchants' engine events:
//! sent, failed, quota left and state, one row per merchant, and the run's totals. Both front
//! ends show it above their usual progress (the terminal UI as a table, headless in its
//! progress line and at each merchant's end).

use super::fleet::Fleet;
use super::preflight::QuotaCheck;
use super::text::{duration, thousands};
use crate::engine::{Counters, EndReason, Event, RowEvent};
use crate::tr;
use crate::wechat::Code;
use std::time::Duration;

/// Where a merchant is.
#[derive(Debug, Clone, PartialEq)]
pub enum MerchantState {
    /// Prepared, not started yet.
    Ready,
    /// Its preflight refused it (no token, a quota too small): it sends nothing this run.
    Held(String),
    /// Nothing of its rows is left to send.
    Nothing,
    /// Sending.
    Sending,
    /// Paused (the failure-rate guard, the schedule, the operator).
    Paused,
    /// Ended, for this reason.
    Ended(EndReason),
}

impl MerchantState {
    /// A word or two for the table.
    pub fn label(&self) -> String {
        match self {
            MerchantState::Ready => tr!("fleet.state.ready"),
            MerchantState::Held(_) => tr!("fleet.state.held"),
            MerchantState::Nothing => tr!("fleet.state.nothing"),
            MerchantState::Sending => tr!("fleet.state.sending"),
            MerchantState::Paused => tr!("fleet.state.paused"),
            MerchantState::Ended(EndReason::Completed) => tr!("fleet.state.completed"),
            MerchantState::Ended(EndReason::Stopped) => tr!("fleet.state.stopped_by_you"),
            MerchantState::Ended(EndReason::Fatal { errcode: Some(code), .. }) => {
                tr!("fleet.state.stopped_code", code = code)
            }
            MerchantState::Ended(_) => tr!("fleet.state.stopped"),
        }
    }

    /// Whether it went wrong (held, or stopped by anything but the operator).
    pub fn is_problem(&self) -> bool {
        match self {
            MerchantState::Held(_) => true,
            MerchantState::Ended(r) => r.is_fatal(),
            _ => false,
        }
    }
}

/// One merchant's row.
#[derive(Debug, Clone)]
pub struct MerchantRow {
    /// The account's name.
    pub name: String,
    /// The merchant's appid.
    pub appid: String,
    /// Its engine's counters (this run).
    pub counters: Counters,
    /// Its daily quota left before the run, when WeChat said.
    pub quota: Option<u64>,
    /// Where it is.
    pub state: MerchantState,
}

impl MerchantRow {
    /// The quota left now: before the run, less what this run sent.
    pub fn quota_left(&self) -> Option<u64> {
        self.quota.map(|q| q.saturating_sub(self.counters.requests))
    }
}

/// How many of the latest rows' outcomes the board keeps.
pub const RECENT_ROWS: usize = 500;

/// What happened to one row of one merchant's list.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// WeChat accepted it.
    Delivered,
    /// Failed for good, with this code.
    Failed(Code),
    /// A transient answer: it goes again.
    Retrying(Code),
    /// Every attempt got a transient answer: left for the next run.
    Later(Code),
    /// No answer: unknown.
    Unknown,
}

impl RowOutcome {
    /// A word or two for the table.
    pub fn label(&self) -> String {
        match self {
            RowOutcome::Delivered => tr!("tui.status.ok"),
            RowOutcome::Failed(code) => format!("{} {code}", tr!("tui.status.failed")),
            RowOutcome::Retrying(code) => format!("{} {code}", tr!("fleet.row.retrying")),
            RowOutcome::Later(code) => format!("{} {code}", tr!("fleet.row.later")),
            RowOutcome::Unknown => tr!("tui.status.unknown"),
        }
    }
}

/// One row's outcome as it happened, newest first in [`FleetBoard::recent`].
#[derive(Debug, Clone)]
pub struct RecentRow {
    /// The merchant's place in the board.
    pub merchant: usize,
    /// The row's number in the merchant's list (1-based).
    pub row: usize,
    /// Its openid, masked.
    pub openid: String,
    /// What happened.
    pub outcome: RowOutcome,
}

/// Every merchant's row, in the campaign's order, and the latest rows' outcomes.
#[derive(Debug, Clone, Default)]
pub struct FleetBoard {
    /// The rows.
    pub rows: Vec<MerchantRow>,
    /// The latest [`RECENT_ROWS`] rows' outcomes of all merchants, newest first.
    pub recent: std::collections::VecDeque<RecentRow>,
    /// Each merchant's campaign (to name a row's openid).
    campaigns: Vec<std::sync::Arc<crate::campaign::Campaign>>,
}

impl FleetBoard {
    /// The merchants as prepared and preflighted.
    pub fn of(fleet: &Fleet) -> Self {
        let rows = fleet
            .members
            .iter()
            .map(|m| {
                let (quota, state) = match &m.start {
                    Some(Ok(QuotaCheck::Known(q))) => (Some(q.remain), MerchantState::Ready),
                    Some(Ok(QuotaCheck::NothingToSend)) => (None, MerchantState::Nothing),
                    Some(Err(e)) => (None, MerchantState::Held(e.to_string())),
                    _ => (None, MerchantState::Ready),
                };
                let total = if m.starts() { m.session.plan.to_send.len() } else { 0 };
                let counters = Counters { total, ..Counters::default() };
                MerchantRow { name: m.name.clone(), appid: m.appid().to_string(), counters, quota, state }
            })
            .collect();
        let campaigns = fleet.members.iter().map(|m| m.session.campaign.clone()).collect();
        Self { rows, recent: Default::default(), campaigns }
    }

    /// Keep merchant `i`'s row outcomes, newest first.
    fn keep_rows(&mut self, i: usize, events: &[RowEvent]) {
        for e in events {
            let (row, outcome) = match e {
                RowEvent::Delivered { row, .. } => (*row, RowOutcome::Delivered),
                RowEvent::Failed { row, failure, .. } => (*row, RowOutcome::Failed(Code::of(failure.errcode))),
                RowEvent::Retrying { row, failure, .. } => (*row, RowOutcome::Retrying(Code::of(failure.errcode))),
                RowEvent::RetryLater { row, failure, .. } => (*row, RowOutcome::Later(Code::of(failure.errcode))),
                RowEvent::Unanswered { row, .. } => (*row, RowOutcome::Unknown),
                _ => continue,
            };
            let openid = self
                .campaigns
                .get(i)
                .and_then(|c| c.recipients.row(row).map(|r| super::text::mask_openid(r.openid())))
                .unwrap_or_default();
            self.recent.push_front(RecentRow { merchant: i, row: row + 1, openid, outcome });
        }
        self.recent.truncate(RECENT_ROWS);
    }

    /// Take in merchant `i`'s event.
    pub fn apply(&mut self, i: usize, event: &Event) {
        let Some(row) = self.rows.get_mut(i) else { return };
        match event {
            Event::Progress(c) => {
                row.counters = c.clone();
                if row.state == MerchantState::Ready {
                    row.state = MerchantState::Sending;
                }
            }
            Event::Paused(_) => row.state = MerchantState::Paused,
            Event::Resumed => row.state = MerchantState::Sending,
            Event::Done(summary) => {
                row.counters = summary.counters.clone();
                row.state = MerchantState::Ended(summary.reason.clone());
            }
            Event::Rows(events) => self.keep_rows(i, events),
            _ => {}
        }
    }

    /// The merchants' counters added up (the rate limit is the sum of their parts).
    pub fn totals(&self) -> Counters {
        let mut t = Counters::default();
        for c in self.rows.iter().map(|r| &r.counters) {
            t.total += c.total;
            t.delivered += c.delivered;
            t.failed += c.failed;
            t.retry_later += c.retry_later;
            t.elsewhere += c.elsewhere;
            t.unknown += c.unknown;
            t.in_flight += c.in_flight;
            t.retrying += c.retrying;
            t.requests += c.requests;
            t.elapsed_ms = t.elapsed_ms.max(c.elapsed_ms);
            t.rate_limit += c.rate_limit;
            for (code, n) in &c.failures_by_code {
                *t.failures_by_code.entry(*code).or_default() += n;
            }
            for (code, n) in &c.retries_by_code {
                *t.retries_by_code.entry(*code).or_default() += n;
            }
        }
        t
    }

    /// How many merchants are sending and how many have ended, in a few words.
    pub fn state_line(&self) -> String {
        let count = |f: fn(&MerchantState) -> bool| self.rows.iter().filter(|r| f(&r.state)).count();
        tr!(
            "fleet.states",
            sending = count(|s| matches!(s, MerchantState::Sending | MerchantState::Paused | MerchantState::Ready)),
            done = count(|s| matches!(s, MerchantState::Ended(EndReason::Completed))),
            stopped = count(MerchantState::is_problem)
        )
    }

    /// The table: a header and one line per merchant (sent, failed, quota left, state), its
    /// columns lined up by display width.
    pub fn table(&self) -> Vec<String> {
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.appid.clone(),
                    thousands(r.counters.delivered),
                    thousands(r.counters.failed),
                    r.quota_left().map_or_else(|| "-".to_string(), |q| thousands(q as usize)),
                    r.state.label(),
                ]
            })
            .collect();
        table(&cells)
    }
}

/// The merchants' table: a header (merchant, appid, sent, failed, quota left, state) and
/// `rows`, lined up by display width.
pub fn table(rows: &[[String; 6]]) -> Vec<String> {
    super::text::columns(&header(), rows)
}

/// The merchants' table's column titles: merchant, appid, sent, failed, quota left, state.
pub fn header() -> [String; 6] {
    [
        tr!("fleet.col.merchant"),
        tr!("fleet.col.appid"),
        tr!("fleet.col.sent"),
        tr!("fleet.col.failed"),
        tr!("fleet.col.quota"),
        tr!("fleet.col.state"),
    ]
}

/// The plan of every merchant, in lines both front ends show before sending: the campaign,
/// each merchant's template and rows (and its notes: template check, ledger, resume), the
/// merchants without rows, the count and rate for all.
pub fn plan_lines(fleet: &Fleet) -> Vec<String> {
    let c = &fleet.config;
    let mut lines = vec![tr!(
        "fleet.campaign",
        campaign = c.name.clone(),
        kind = c.message.kind.as_str(),
        count = fleet.members.len() + fleet.idle.len()
    )];
    for m in &fleet.members {
        let o = m.session.overview();
        lines.push(tr!(
            "fleet.merchant_plan",
            merchant = m.name.clone(),
            appid = m.appid().to_string(),
            template = o.template_id.clone(),
            recipients = fleet.source.as_ref().map_or_else(|| o.recipients.clone(), |p| p.display().to_string()),
            ready = thousands(o.ready),
            invalid = thousands(o.invalid),
            to_send = thousands(o.to_send)
        ));
        let mut notes = vec![o.template.clone()];
        notes.extend(o.ledger.lines());
        notes.extend(o.warnings.iter().map(|w| tr!("headless.warning", warning = w.clone())));
        if o.resume.is_resuming() {
            let r = &o.resume;
            notes.push(tr!(
                "headless.resuming",
                delivered = thousands(r.delivered),
                failed = thousands(r.failed),
                unknown = thousands(r.unknown_held.len() + r.unknown_resent),
                held = String::new()
            ));
        }
        lines.extend(notes.into_iter().map(|n| format!("    {n}")));
    }
    if !fleet.idle.is_empty() {
        lines.push(tr!("fleet.idle", merchants = fleet.idle.join(", ")));
    }
    let to_send: usize = fleet.members.iter().map(|m| m.session.plan.to_send.len()).sum();
    let rate = c.send.rate.max(1);
    lines.push(tr!(
        "fleet.to_send",
        count = thousands(to_send),
        rate = rate,
        duration = duration(Duration::from_secs((to_send as u64).div_ceil(u64::from(rate))))
    ));
    if let Some(api) = fleet.mock.as_ref().map(|m| m.url()) {
        lines.push(tr!("headless.api_mock", api = api));
    }
    lines
}
