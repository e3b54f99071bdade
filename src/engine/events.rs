//! What the engine tells its front ends, and what they can tell it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::tr;
use crate::wechat::{Code, Failure, TokenStatus};

/// Commands a front end sends to a running campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// No new request until resumed.
    Pause,
    /// Sending goes on.
    Resume,
    /// Graceful: no new requests; in-flight ones finish and are recorded.
    Stop,
    /// Messages per second from now on.
    SetRate(u32),
    /// The schedule holds sending (with why and until when) or lets it go on (`None`).
    Schedule(Option<PauseReason>),
}

/// Why sending is paused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PauseReason {
    /// The operator paused.
    Operator,
    /// WeChat's per-minute quota (45011): sending resumes by itself after the wait.
    MinuteQuota {
        /// How long sending waits.
        wait_secs: u64,
    },
    /// More than `pause_on_failure_rate` of the recent results failed.
    FailureRate {
        /// Failures among the recent results.
        failed: usize,
        /// Recent results judged.
        of: usize,
        /// The share that pauses.
        limit: f64,
    },
    /// The schedule holds sending: before `send --at`, or outside the daily window.
    Scheduled {
        /// Why: `the start time` or `the sending window 09:00-21:00 (Asia/Shanghai)`.
        why: String,
        /// When sending starts, as wall-clock time (`2026-11-25 09:00`).
        opens_at: String,
        /// The same instant, Unix seconds (for the countdown).
        opens_at_unix: i64,
    },
}

impl PauseReason {
    /// What happened and what the operator can do.
    pub fn describe(&self) -> String {
        match self {
            PauseReason::Operator => tr!("pause.operator"),
            PauseReason::MinuteQuota { wait_secs } => tr!("pause.minute_quota", seconds = wait_secs),
            PauseReason::Scheduled { why, opens_at, opens_at_unix } => {
                let now = crate::journal::unix_now() as i64;
                let left = (opens_at_unix - now).max(0) as u64;
                let (h, m, s) = (left / 3600, left % 3600 / 60, left % 60);
                let left = format!("{h}h {m:02}m {s:02}s");
                tr!("pause.scheduled", why = why.clone(), opens_at = opens_at.clone(), left = left)
            }
            PauseReason::FailureRate { failed, of, limit } => {
                let limit = format!("{:.0}", limit * 100.0);
                tr!("pause.failure_rate", failed = failed, of = of, limit = limit)
            }
        }
    }
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowEvent {
    /// A request left.
    Started {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
    },
    /// The answer was transient: the row goes again later.
    Retrying {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        /// The answer.
        failure: Failure,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// WeChat accepted it.
    Delivered {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        /// WeChat's msgid (template messages).
        msgid: Option<String>,
    },
    /// Failed for good.
    Failed {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        /// The answer.
        failure: Failure,
    },
    /// Every attempt this run got a transient answer: the row is left for the next run.
    RetryLater {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        /// The last answer.
        failure: Failure,
    },
    /// The request got no answer before the campaign ended (journal: unknown).
    Unanswered {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
    },
    /// Another sender on Redis has (or had) the row: not sent here.
    Elsewhere {
        /// The row (0-based).
        row: usize,
        /// The other sender sent it without an answer: it may or may not have arrived.
        unknown: bool,
    },
    /// The row goes back to the queue unsent (sending stopped before its request left).
    Released {
        /// The row (0-based).
        row: usize,
    },
}

/// Why a campaign run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndReason {
    /// Every planned row got a final outcome.
    Completed,
    /// The operator stopped it.
    Stopped,
    /// WeChat answered a condition no row can get past (quota, credentials, template...).
    Fatal {
        /// WeChat's errcode (`None`: transport).
        errcode: Option<i64>,
        /// WeChat's errmsg with its rid.
        errmsg: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        /// What to do.
        hint: Option<&'static str>,
    },
    /// Too many failures in a row window; the front end chose to stop.
    FailureRate {
        /// Failures among the recent results.
        failed: usize,
        /// Recent results judged.
        of: usize,
    },
    /// No token could be had (secret, circuit breaker, token service).
    Token {
        /// Why no token could be had.
        message: String,
    },
    /// The journal could not be written: sending stopped to stay exactly-once.
    Journal {
        /// The file and the OS error.
        detail: String,
        /// Rows (0-based) WeChat accepted whose outcome could not be recorded even with the
        /// reserve given up: the journal shows them as unknown; they must not be sent again.
        unrecorded: Vec<usize>,
    },
    /// Redis (shared token, rate and rows) was lost: dispatching stopped, nothing falls back to
    /// local state.
    Shared {
        /// What failed.
        detail: String,
    },
    /// A task of the engine failed (a panic): the run ended; the journal is intact.
    Crashed {
        /// What failed.
        message: String,
    },
}

impl EndReason {
    /// Whether something other than the operator (or completion) ended the run.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, EndReason::Completed | EndReason::Stopped)
    }

    /// The same words in English, for the journal and report.json (read by programs).
    pub fn describe_en(&self) -> String {
        crate::i18n::with(crate::i18n::Lang::En, || self.describe())
    }

    /// One line for the operator, in the process's language.
    pub fn describe(&self) -> String {
        match self {
            EndReason::Completed => tr!("end.completed"),
            EndReason::Stopped => tr!("end.stopped"),
            EndReason::Fatal { errcode, errmsg, hint } => {
                let (code, errmsg) = (Code::of(*errcode).to_string(), errmsg.clone());
                match hint {
                    Some(h) => tr!("end.fatal_hint", code = code, errmsg = errmsg, hint = h),
                    None => tr!("end.fatal", code = code, errmsg = errmsg),
                }
            }
            EndReason::FailureRate { failed, of } => tr!("end.failure_rate", failed = failed, of = of),
            EndReason::Token { message } => tr!("end.token", message = message.clone()),
            EndReason::Journal { detail, unrecorded } => {
                let mut text = tr!("end.journal", detail = detail.clone());
                if !unrecorded.is_empty() {
                    let mut rows: Vec<String> = unrecorded.iter().take(20).map(|r| (r + 1).to_string()).collect();
                    let more = unrecorded.len().saturating_sub(20);
                    if more > 0 {
                        rows.push(tr!("end.and_more", count = more));
                    }
                    text.push_str(&tr!("end.unrecorded", count = unrecorded.len(), rows = rows.join(", ")));
                }
                text
            }
            EndReason::Shared { detail } => tr!("end.shared", detail = detail.clone()),
            EndReason::Crashed { message } => tr!("end.crashed", message = message.clone()),
        }
    }
}

/// Running totals of this run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Rows planned for this run.
    pub total: usize,
    /// Delivered this run.
    pub delivered: usize,
    /// Failed for good this run.
    pub failed: usize,
    /// Left for the next run after every attempt got a transient answer ("retry later").
    pub retry_later: usize,
    /// Rows another sender on Redis had: not sent here.
    pub elsewhere: usize,
    /// Rows whose request may have arrived but got no answer: left unknown, not sent again.
    pub unknown: usize,
    /// Requests on their way.
    pub in_flight: usize,
    /// Rows waiting for a retry.
    pub retrying: usize,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Final failures by errcode (`transport` for no errcode).
    pub failures_by_code: BTreeMap<Code, u64>,
    /// Transient answers that were retried, by errcode.
    pub retries_by_code: BTreeMap<Code, u64>,
    /// Time since the run started.
    pub elapsed_ms: u64,
    /// Messages per second currently allowed.
    pub rate_limit: u32,
}

impl Counters {
    /// Rows neither finished nor in flight nor waiting for a retry.
    pub fn pending(&self) -> usize {
        self.total.saturating_sub(self.done() + self.in_flight + self.retrying)
    }

    /// Rows this run is finished with (delivered, failed, left for a later run, or had by
    /// another sender).
    pub fn done(&self) -> usize {
        self.delivered + self.failed + self.retry_later + self.elsewhere + self.unknown
    }

    /// Rows finished per second so far (0 in the first second, where it is noise).
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed_ms as f64 / 1000.0;
        if secs >= 1.0 {
            self.done() as f64 / secs
        } else {
            0.0
        }
    }

    /// Time left at the rate so far, once there is one.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (rate > 0.0).then(|| Duration::from_secs_f64(self.total.saturating_sub(self.done()) as f64 / rate))
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The run's counters at the end.
    pub counters: Counters,
    /// Why it ended.
    pub reason: EndReason,
    /// Requests per second over the run.
    pub achieved_rate: f64,
    /// The access token's state at the end.
    pub token: TokenStatus,
}

/// Everything the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Row events since the previous batch (coalesced, at most ~20 batches a second).
    Rows(Vec<RowEvent>),
    /// The counters, about 20 times a second.
    Progress(Counters),
    /// The access token was replaced.
    TokenRefreshed {
        /// Something other than this process replaced the failing token.
        external: bool,
        /// The token cache now.
        status: TokenStatus,
    },
    /// Sending paused.
    Paused(PauseReason),
    /// Sending resumed.
    Resumed,
    /// The rate changed (messages per second).
    RateChanged(u32),
    /// The run is over; nothing follows.
    Done(Box<Summary>),
}
