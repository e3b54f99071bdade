//! The run as the terminal UI knows it: each row's status, the counters, throughput, the token
//! and the finished report, changed only by the engine's events. Pure state, no I/O.

use std::collections::HashMap;

use super::nav::Navigation;
use super::status::{Status, THROUGHPUT_SAMPLES};
use crate::app::shared::SharedView;
use crate::app::RunReport;
use crate::campaign::{Campaign, RowState};
use crate::engine::{Counters, Event, PauseReason, RowEvent, Summary};
use crate::journal::{FailedRow, RowRecord};
use crate::wechat::{Code, Failure, TokenStatus};

/// Why a row is in the failures column: WeChat's code and words, and whether the engine will
/// try it again later (a quota ran out) rather than having given up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FailureNote {
    /// The code the row failed with.
    pub(super) code: Code,
    /// WeChat's errmsg (or the transport's error).
    pub(super) errmsg: String,
    /// Held for a later run (45009, 45047 …), not failed for good.
    pub(super) later: bool,
}

impl FailureNote {
    fn of(f: &Failure, later: bool) -> Self {
        Self { code: f.code(), errmsg: f.errmsg.clone(), later }
    }

    fn earlier(f: &FailedRow) -> Self {
        Self { code: f.code(), errmsg: f.errmsg.clone(), later: false }
    }
}

/// Everything the engine's events told the UI.
#[derive(Debug)]
pub(super) struct RunModel {
    /// Each row's status.
    pub(super) status: Vec<Status>,
    /// The last failure of each failed or held row.
    pub(super) failures: HashMap<usize, FailureNote>,
    /// Requests made per row (0: none yet); one byte a row, allocated once.
    pub(super) attempts: Vec<u8>,
    /// The run's counters.
    pub(super) counters: Counters,
    /// Rows this run sends.
    pub(super) to_send: usize,
    /// Why sending is paused, if it is.
    pub(super) pause: Option<PauseReason>,
    /// A graceful stop is under way.
    pub(super) stopping: bool,
    /// Leave the UI once the run is over.
    pub(super) quit_when_done: bool,
    /// The access token's state.
    pub(super) token: Option<TokenStatus>,
    /// Another system replaced the token; its source names what to do.
    pub(super) replaced_elsewhere: Option<&'static str>,
    /// Requests per second, one sample a second.
    pub(super) throughput: Vec<u64>,
    last_sample: (u64, u64),
    /// The rate now.
    pub(super) rate: u32,
    /// The campaign's rate.
    pub(super) configured_rate: u32,
    /// The other senders on Redis, when the campaign is shared.
    pub(super) shared: Option<SharedView>,
    /// The engine's summary, once the run is over.
    pub(super) summary: Option<Summary>,
    /// The finished run, for the done screen.
    pub(super) report: Option<RunReport>,
}

impl RunModel {
    /// The rows of `campaign` as checked and as earlier runs left them (`records`, one per row).
    pub(super) fn new(campaign: &Campaign, records: &[RowRecord], to_send: usize) -> Self {
        let rows = campaign.recipients.len();
        let status = (0..rows)
            .map(|i| match campaign.checks.state(i) {
                Some(RowState::Invalid) => Status::Invalid,
                Some(RowState::Duplicate) => Status::Duplicate,
                _ => match records.get(i) {
                    Some(RowRecord::Delivered { .. }) => Status::DeliveredBefore,
                    Some(RowRecord::Failed(_)) => Status::FailedBefore,
                    Some(RowRecord::Unknown { .. }) => Status::Unknown,
                    _ => Status::Pending,
                },
            })
            .collect();
        let failures = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                RowRecord::Failed(f) => Some((i, FailureNote::earlier(f))),
                _ => None,
            })
            .collect();
        let rate = campaign.config.send.rate;
        Self {
            status,
            failures,
            attempts: vec![0; rows],
            counters: Counters { total: to_send, rate_limit: rate, ..Default::default() },
            to_send,
            pause: None,
            stopping: false,
            quit_when_done: false,
            token: None,
            replaced_elsewhere: None,
            throughput: Vec::new(),
            last_sample: (0, 0),
            rate,
            configured_rate: rate,
            shared: None,
            summary: None,
            report: None,
        }
    }

    /// An engine event; rows that start or fail move the navigation's cursor and view. True
    /// when the run is over.
    pub(super) fn on_event(&mut self, ev: &Event, nav: &mut Navigation) -> bool {
        match ev {
            Event::Rows(rows) => {
                for r in rows {
                    self.on_row(r, nav);
                }
            }
            Event::Progress(c) => {
                self.counters = c.clone();
                self.sample_throughput();
            }
            Event::TokenRefreshed { external, status } => {
                self.token = Some(status.clone());
                if *external {
                    self.replaced_elsewhere = Some(status.source);
                }
            }
            Event::Paused(reason) => self.pause = Some(reason.clone()),
            Event::Resumed => self.pause = None,
            Event::RateChanged(r) => self.rate = *r,
            Event::Done(summary) => {
                self.counters = summary.counters.clone();
                self.token = Some(summary.token.clone());
                self.summary = Some((**summary).clone());
                self.pause = None;
                return true;
            }
        }
        false
    }

    fn on_row(&mut self, ev: &RowEvent, nav: &mut Navigation) {
        let (row, status) = match ev {
            RowEvent::Started { row, attempt } => {
                if let Some(a) = self.attempts.get_mut(*row) {
                    *a = u8::try_from(*attempt).unwrap_or(u8::MAX);
                }
                nav.started(*row);
                (*row, Status::InFlight(*attempt))
            }
            RowEvent::Retrying { row, attempt, .. } => (*row, Status::Retrying(*attempt)),
            RowEvent::Delivered { row, .. } => (*row, Status::Delivered),
            RowEvent::Failed { row, failure, .. } => {
                self.failures.insert(*row, FailureNote::of(failure, false));
                nav.failed(*row);
                (*row, Status::Failed)
            }
            RowEvent::Unanswered { row, .. } | RowEvent::Released { row } => (*row, Status::Pending),
            RowEvent::Elsewhere { row, unknown } => (*row, Status::Elsewhere { unknown: *unknown }),
            RowEvent::RetryLater { row, failure, .. } => {
                self.failures.insert(*row, FailureNote::of(failure, true));
                (*row, Status::Pending)
            }
        };
        if let Some(s) = self.status.get_mut(row) {
            *s = status;
        }
    }

    fn sample_throughput(&mut self) {
        let (at, requests) = self.last_sample;
        let now = self.counters.elapsed_ms;
        if now >= at + 1000 {
            let seconds = ((now - at) / 1000).max(1);
            let per_second = (self.counters.requests.saturating_sub(requests)) / seconds;
            for _ in 0..seconds.min(THROUGHPUT_SAMPLES as u64) {
                self.throughput.push(per_second);
            }
            if self.throughput.len() > THROUGHPUT_SAMPLES {
                let extra = self.throughput.len() - THROUGHPUT_SAMPLES;
                self.throughput.drain(..extra);
            }
            self.last_sample = (now, self.counters.requests);
        }
    }
}
