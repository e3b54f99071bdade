//! The campaign's schedule, shared by the workers: which rows are left, which wait for a retry,
//! what is paused, the counters and the events not yet sent. A pure state machine: every change
//! is a plain method call under one lock (never held across an await), with no I/O, no clock of
//! its own (callers pass `now`) and no access to the token cache or the network.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::attempt::{Finished, Job, Verdict};
use super::context::EngineConfig;
use super::events::{Counters, EndReason, Event, PauseReason, RowEvent};
use crate::wechat::errors::hint;

/// A retry waiting for its time.
struct Due {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// What a worker is to do next.
#[derive(Debug)]
pub enum Claim {
    /// Send this job (`key` identifies its recipient in campaigns that allow duplicate openids).
    Job { job: Job, key: Option<u64> },
    /// Nothing may go now: wait for a change, or until this instant.
    Wait(Option<Instant>),
    /// The campaign is over (finished or stopping): the worker ends.
    Exit,
}

/// The schedule of one run (see the module docs).
pub struct Board {
    config: EngineConfig,
    /// A key per row identifying its recipient, for campaigns that allow duplicate openids (the
    /// others never have two rows for one recipient).
    openid_keys: Option<Arc<[u64]>>,
    fresh: VecDeque<usize>,
    retries: BinaryHeap<Reverse<Due>>,
    seq: u64,
    in_flight_openids: HashSet<u64>,
    pub counters: Counters,
    /// Row events since the last flush.
    pub events: Vec<RowEvent>,
    /// Other events decided by workers (pauses, token changes), sent with the next flush.
    pub announcements: Vec<Event>,
    pub paused_by_operator: bool,
    pub paused_by_guard: bool,
    /// The schedule holds sending (before `--at`, outside the window).
    pub held_by_schedule: bool,
    /// 45011: nothing goes out before this instant.
    pub slow_until: Option<Instant>,
    pub stopping: Option<EndReason>,
    /// The last results (true = failed), for the failure-rate guard.
    window: VecDeque<bool>,
    /// Workers waiting for a change.
    pub waiting: usize,
    /// The halt state last published to the workers waiting for a slot.
    pub halt_published: bool,
}

impl Board {
    /// A board that sends `rows` in order; `openid_keys` (indexed by row) keeps two requests to
    /// one recipient from being in flight at once.
    pub fn new(config: EngineConfig, rows: Vec<usize>, openid_keys: Option<Arc<[u64]>>) -> Self {
        let counters = Counters { total: rows.len(), rate_limit: config.rate, ..Default::default() };
        let held_by_schedule = config.start_held;
        Self {
            config,
            openid_keys,
            fresh: rows.into(),
            retries: BinaryHeap::new(),
            seq: 0,
            in_flight_openids: HashSet::new(),
            counters,
            events: Vec::new(),
            announcements: Vec::new(),
            paused_by_operator: false,
            paused_by_guard: false,
            held_by_schedule,
            slow_until: None,
            stopping: None,
            window: VecDeque::new(),
            waiting: 0,
            halt_published: false,
        }
    }

    fn schedule(&mut self, job: Job, at: Instant) {
        self.seq += 1;
        self.retries.push(Reverse(Due { at, seq: self.seq, job }));
        self.counters.retrying += 1;
    }

    fn openid_key(&self, row: usize) -> Option<u64> {
        self.openid_keys.as_ref().and_then(|k| k.get(row).copied())
    }

    /// The next thing for a worker to do at `now`.
    pub fn claim(&mut self, now: Instant) -> Claim {
        if self.stopping.is_some() {
            return Claim::Exit;
        }
        if self.paused_by_operator || self.paused_by_guard || self.held_by_schedule {
            return Claim::Wait(None);
        }
        match self.slow_until {
            Some(until) if until > now => return Claim::Wait(Some(until)),
            Some(_) => self.end_slow_down(now),
            None => {}
        }
        loop {
            let job = if self.retries.peek().is_some_and(|Reverse(d)| d.at <= now) {
                let Some(Reverse(d)) = self.retries.pop() else { break };
                self.counters.retrying -= 1;
                d.job
            } else if let Some(row) = self.fresh.pop_front() {
                Job { row, attempt: 0, transient: 0, body: None, message_key: 0 }
            } else {
                break;
            };
            let key = self.openid_key(job.row);
            if key.is_some_and(|k| !self.in_flight_openids.insert(k)) {
                // Never two requests to one openid at once (allow_duplicates campaigns).
                self.schedule(job, now + self.config.per_user_retry);
                continue;
            }
            self.counters.in_flight += 1;
            return Claim::Job { job, key };
        }
        if self.counters.in_flight == 0 && self.retries.is_empty() {
            return Claim::Exit;
        }
        // Results still to come may add retries: wait for them, or for the first retry's time.
        Claim::Wait(self.retries.peek().map(|Reverse(d)| d.at))
    }

    /// A claimed job's request is about to leave.
    pub fn dispatched(&mut self, job: &Job) {
        self.counters.requests += 1;
        self.events.push(RowEvent::Started { row: job.row, attempt: job.attempt + 1 });
    }

    /// A claimed job that did not go (a pause or stop came while it waited for its slot): back
    /// to the head of the queue, as if never claimed.
    pub fn release(&mut self, job: Job, key: Option<u64>, now: Instant) {
        self.counters.in_flight -= 1;
        if let Some(k) = key {
            self.in_flight_openids.remove(&k);
        }
        if job.attempt == 0 {
            self.fresh.push_front(job.row);
        } else {
            self.schedule(job, now);
        }
    }

    /// Whether requests waiting for their slot must give it up: stopping, or paused.
    pub fn halted(&self) -> bool {
        self.stopping.is_some()
            || self.paused_by_operator
            || self.paused_by_guard
            || self.held_by_schedule
            || self.slow_until.is_some()
    }

    /// Stop taking new rows; the rows in flight finish.
    pub fn stop(&mut self) {
        if self.stopping.is_none() {
            self.stopping = Some(if self.paused_by_guard {
                let n = self.window.len();
                EndReason::FailureRate { failed: self.window.iter().filter(|f| **f).count(), of: n }
            } else {
                EndReason::Stopped
            });
        }
    }

    /// Pause at the operator's request; `false` if already paused by them.
    pub fn pause(&mut self) -> bool {
        !std::mem::replace(&mut self.paused_by_operator, true)
    }

    /// Resume after an operator or failure-rate pause; `false` if nothing was paused.
    pub fn resume(&mut self) -> bool {
        if !self.paused_by_operator && !self.paused_by_guard {
            return false;
        }
        self.paused_by_operator = false;
        self.paused_by_guard = false;
        self.window.clear();
        true
    }

    /// The engine failed (a task panicked): end the run with that reason, whatever else is going on.
    pub fn crash(&mut self, message: String) {
        self.stopping = Some(EndReason::Crashed { message });
    }

    fn record_final(&mut self, failed: bool) {
        let cfg = &self.config;
        self.window.push_back(failed);
        while self.window.len() > cfg.failure_window {
            self.window.pop_front();
        }
        let n = self.window.len();
        let bad = self.window.iter().filter(|f| **f).count();
        if !self.paused_by_guard && n >= cfg.failure_window_min && bad as f64 > n as f64 * cfg.pause_on_failure_rate {
            self.paused_by_guard = true;
            self.announcements.push(Event::Paused(PauseReason::FailureRate {
                failed: bad,
                of: n,
                limit: cfg.pause_on_failure_rate,
            }));
        }
    }

    /// Record what an attempt came to.
    pub fn complete(&mut self, done: Finished, now: Instant) {
        let cfg = self.config.clone();
        self.counters.in_flight -= 1;
        if let Some(k) = done.openid_key {
            self.in_flight_openids.remove(&k);
        }
        self.note_token(&done);
        let Finished { job, verdict, .. } = done;
        let (row, attempt) = (job.row, job.attempt);
        match verdict {
            Verdict::Delivered { msgid } => {
                self.counters.delivered += 1;
                self.events.push(RowEvent::Delivered { row, attempt, msgid });
                self.record_final(false);
            }
            Verdict::Failed(failure) => {
                self.counters.failed += 1;
                *self.counters.failures_by_code.entry(failure.code()).or_default() += 1;
                self.events.push(RowEvent::Failed { row, attempt, failure });
                self.record_final(true);
            }
            Verdict::RetryLater(failure) => {
                self.counters.retry_later += 1;
                *self.counters.retries_by_code.entry(failure.code()).or_default() += 1;
                self.events.push(RowEvent::RetryLater { row, attempt, failure });
                self.record_final(true);
            }
            Verdict::Retry { failure, delay } => {
                *self.counters.retries_by_code.entry(failure.code()).or_default() += 1;
                self.events.push(RowEvent::Retrying { row, attempt, failure, delay });
                self.schedule(job, now + delay);
            }
            Verdict::SlowDown(failure) => {
                *self.counters.retries_by_code.entry(failure.code()).or_default() += 1;
                let delay = self.slow_down(&failure, &cfg, now);
                self.events.push(RowEvent::Retrying { row, attempt, failure, delay });
                self.schedule(job, now + delay);
            }
            Verdict::Stop(failure) => {
                self.events.push(RowEvent::Unanswered { row, attempt });
                if self.stopping.is_none() || matches!(self.stopping, Some(EndReason::Stopped)) {
                    self.stopping = Some(EndReason::Fatal {
                        errcode: failure.errcode,
                        hint: failure.errcode.and_then(hint),
                        errmsg: failure.errmsg,
                    });
                }
            }
            Verdict::NoToken(message) => {
                self.events.push(RowEvent::Unanswered { row, attempt });
                if self.stopping.is_none() {
                    self.stopping = Some(EndReason::Token { message });
                }
            }
            Verdict::Unknown(failure) => {
                self.counters.unknown += 1;
                *self.counters.retries_by_code.entry(failure.code()).or_default() += 1;
                self.events.push(RowEvent::Unanswered { row, attempt });
                self.record_final(true);
            }
            Verdict::Elsewhere { unknown } => {
                self.counters.elsewhere += 1;
                self.events.push(RowEvent::Elsewhere { row, unknown });
            }
            Verdict::SharedLost(detail) => {
                self.requeue_unsent(job, now);
                self.lose_shared(detail);
            }
            Verdict::JournalFailed(detail) => {
                self.events.push(RowEvent::Unanswered { row, attempt });
                if !matches!(self.stopping, Some(EndReason::Crashed { .. })) {
                    self.stopping = Some(EndReason::Journal { detail, unrecorded: Vec::new() });
                }
            }
        }
    }

    /// What the attempt's token did: a second request with a replaced token, a refresh to announce.
    fn note_token(&mut self, done: &Finished) {
        if done.token.retried {
            self.counters.requests += 1;
        }
        if let Some(status) = done.token_status.clone() {
            self.announcements.push(Event::TokenRefreshed { external: done.token.external, status });
        }
    }

    /// A row that was not sent (Redis was lost before its request left) goes back to the queue.
    fn requeue_unsent(&mut self, job: Job, now: Instant) {
        let row = job.row;
        self.events.push(RowEvent::Released { row });
        if job.attempt == 0 {
            self.fresh.push_front(row);
        } else {
            self.schedule(job, now);
        }
    }

    /// How long a row waits after a slow-down answer: a minute for 45011 (every worker pauses,
    /// announced once), a moment for 43108 (one user, concurrent sends).
    fn slow_down(&mut self, failure: &crate::wechat::Failure, cfg: &EngineConfig, now: Instant) -> Duration {
        if failure.errcode != Some(45011) {
            return cfg.per_user_retry;
        }
        let until = now + cfg.minute_quota_pause;
        if self.slow_until.is_none_or(|t| t < until - Duration::from_secs(1)) {
            self.slow_until = Some(until);
            self.announcements
                .push(Event::Paused(PauseReason::MinuteQuota { wait_secs: cfg.minute_quota_pause.as_secs() }));
        }
        cfg.minute_quota_pause
    }

    /// Redis was lost: stop dispatching (unless a crash already ended the run).
    pub fn lose_shared(&mut self, detail: String) {
        if !matches!(
            self.stopping,
            Some(EndReason::Crashed { .. } | EndReason::Journal { .. } | EndReason::Shared { .. })
        ) {
            self.stopping = Some(EndReason::Shared { detail });
        }
    }

    /// When a 45011 pause is over at `now`: clears it and, unless another pause holds sending,
    /// announces that sending resumes.
    pub fn end_slow_down(&mut self, now: Instant) {
        if self.slow_until.is_some_and(|t| t <= now) {
            self.slow_until = None;
            if !self.paused_by_operator && !self.paused_by_guard {
                self.announcements.push(Event::Resumed);
            }
        }
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
