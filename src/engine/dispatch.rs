//! The dispatcher loop: one task owns the queue, the limiter and the counters.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::events::{Control, Counters, EndReason, Event, PauseReason, RowEvent, Summary};
use super::worker::{attempt, Finished, Job, Verdict};
use super::Shared;
use crate::journal::Line;
use crate::wechat::errors::hint;

/// Identifies a recipient, for campaigns that allow duplicate openids (the others never have two
/// rows for one recipient, so they skip the hashing).
fn openid_key(shared: &Shared, row: usize) -> Option<u64> {
    if !shared.campaign.config.recipients.allow_duplicates {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    shared.campaign.recipients.row(row).map(|r| r.openid()).unwrap_or_default().hash(&mut h);
    Some(h.finish())
}

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

struct State {
    shared: Arc<Shared>,
    fresh: VecDeque<usize>,
    retries: BinaryHeap<Reverse<Due>>,
    seq: u64,
    in_flight_openids: HashSet<u64>,
    counters: Counters,
    events: Vec<RowEvent>,
    paused_by_operator: bool,
    paused_by_guard: bool,
    slow_until: Option<Instant>,
    stopping: Option<EndReason>,
    window: VecDeque<bool>,
    started: Instant,
    /// Pauses decided while handling results, announced by the loop.
    pause_events: Vec<PauseReason>,
}

impl State {
    fn schedule(&mut self, job: Job, at: Instant) {
        self.seq += 1;
        self.retries.push(Reverse(Due { at, seq: self.seq, job }));
        self.counters.retrying += 1;
    }

    fn paused(&self) -> bool {
        self.paused_by_operator || self.paused_by_guard || self.slow_until.is_some_and(|t| t > Instant::now())
    }

    fn has_work(&self) -> bool {
        !self.fresh.is_empty() || !self.retries.is_empty()
    }

    /// The next job that may go now, if any.
    fn next_job(&mut self, now: Instant) -> Option<Job> {
        if self.retries.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Reverse(d) = self.retries.pop()?;
            self.counters.retrying -= 1;
            return Some(d.job);
        }
        let row = self.fresh.pop_front()?;
        Some(Job { row, attempt: 0, transient: 0, body: None })
    }

    fn next_wake(&self) -> Option<Instant> {
        let retry = self.retries.peek().map(|Reverse(d)| d.at);
        match (retry, self.slow_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn record_final(&mut self, failed: bool) {
        let cfg = &self.shared.config;
        self.window.push_back(failed);
        while self.window.len() > cfg.failure_window {
            self.window.pop_front();
        }
        let n = self.window.len();
        let bad = self.window.iter().filter(|f| **f).count();
        if !self.paused_by_guard && n >= cfg.failure_window_min && bad as f64 > n as f64 * cfg.pause_on_failure_rate {
            self.paused_by_guard = true;
            self.pause_events.push(PauseReason::FailureRate { failed: bad, of: n, limit: cfg.pause_on_failure_rate });
        }
    }
}

pub(super) async fn run(
    shared: Arc<Shared>,
    rows: Vec<usize>,
    mut control: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<Event>,
) {
    let cfg = shared.config.clone();
    let rate = cfg.rate;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished>();
    let mut s = State {
        counters: Counters { total: rows.len(), rate_limit: rate, ..Default::default() },
        fresh: rows.into(),
        shared: shared.clone(),
        retries: BinaryHeap::new(),
        seq: 0,
        in_flight_openids: HashSet::new(),
        events: Vec::new(),
        paused_by_operator: false,
        paused_by_guard: false,
        slow_until: None,
        stopping: None,
        window: VecDeque::new(),
        started: Instant::now(),
        pause_events: Vec::new(),
    };
    let mut tick = tokio::time::interval(cfg.event_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut control_open = true;
    let mut was_slow = false;

    loop {
        if s.counters.in_flight == 0 && (s.stopping.is_some() || !s.has_work()) {
            break;
        }
        let now = Instant::now();
        if was_slow && s.slow_until.is_none_or(|t| t <= now) {
            was_slow = false;
            s.slow_until = None;
            if !s.paused_by_operator && !s.paused_by_guard {
                let _ = events.send(Event::Resumed).await;
            }
        }
        let ready = s.stopping.is_none()
            && !s.paused()
            && s.counters.in_flight < cfg.concurrency as usize
            && (!s.fresh.is_empty() || s.retries.peek().is_some_and(|Reverse(d)| d.at <= now));
        let wake = s.next_wake().unwrap_or(now + Duration::from_secs(3600));

        tokio::select! {
            biased;
            c = control.recv(), if control_open => match c {
                None => control_open = false,
                Some(Control::Pause) => {
                    if !s.paused_by_operator {
                        s.paused_by_operator = true;
                        let _ = events.send(Event::Paused(PauseReason::Operator)).await;
                    }
                }
                Some(Control::Resume) => {
                    if s.paused_by_operator || s.paused_by_guard {
                        s.paused_by_operator = false;
                        s.paused_by_guard = false;
                        s.window.clear();
                        let _ = events.send(Event::Resumed).await;
                    }
                }
                Some(Control::Stop) => {
                    if s.stopping.is_none() {
                        s.stopping = Some(if s.paused_by_guard {
                            let n = s.window.len();
                            EndReason::FailureRate { failed: s.window.iter().filter(|f| **f).count(), of: n }
                        } else {
                            EndReason::Stopped
                        });
                    }
                }
                Some(Control::SetRate(r)) => {
                    let rate = r.max(1);
                    shared.set_rate(rate);
                    s.counters.rate_limit = rate;
                    let _ = events.send(Event::RateChanged(rate)).await;
                }
            },
            Some(done) = done_rx.recv() => {
                let slow_before = s.slow_until;
                handle(&mut s, done, &events).await;
                if s.slow_until != slow_before && s.slow_until.is_some() {
                    was_slow = true;
                }
            }
            _ = tick.tick() => {
                flush(&mut s, &events).await;
            }
            // The rate itself is governed in the worker, right before the request leaves.
            _ = std::future::ready(()), if ready => {
                if let Some(job) = s.next_job(Instant::now()) {
                    let key = openid_key(&shared, job.row);
                    if key.is_some_and(|k| !s.in_flight_openids.insert(k)) {
                        // Never two requests to one openid at once (allow_duplicates campaigns).
                        s.schedule(job, Instant::now() + cfg.per_user_retry);
                    } else {
                        s.counters.in_flight += 1;
                        s.counters.requests += 1;
                        s.events.push(RowEvent::Started { row: job.row, attempt: job.attempt + 1 });
                        let (sh, tx) = (shared.clone(), done_tx.clone());
                        tokio::spawn(async move {
                            let _ = tx.send(attempt(sh, job, key).await);
                        });
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()), if !ready => {}
        }
        for reason in std::mem::take(&mut s.pause_events) {
            let _ = events.send(Event::Paused(reason)).await;
        }
    }

    flush(&mut s, &events).await;
    // Retries that never went out stay pending in the journal (their last line is `retry`).
    let reason = s.stopping.take().unwrap_or(EndReason::Completed);
    shared.journal.append(Line::End { at: crate::journal::unix_now(), reason: reason.describe() });
    shared.journal.flush().await;
    let elapsed = s.started.elapsed();
    s.counters.elapsed_ms = elapsed.as_millis() as u64;
    let summary = Summary {
        achieved_rate: s.counters.requests as f64 / elapsed.as_secs_f64().max(1e-3),
        counters: s.counters.clone(),
        reason,
        unanswered: 0,
        token: shared.sender.tokens.status(),
    };
    let _ = events.send(Event::Progress(s.counters.clone())).await;
    let _ = events.send(Event::Done(Box::new(summary))).await;
}

async fn flush(s: &mut State, events: &mpsc::Sender<Event>) {
    s.counters.elapsed_ms = s.started.elapsed().as_millis() as u64;
    if !s.events.is_empty() {
        let batch = std::mem::take(&mut s.events);
        let _ = events.send(Event::Rows(batch)).await;
    }
    let _ = events.send(Event::Progress(s.counters.clone())).await;
}

async fn handle(s: &mut State, done: Finished, events: &mpsc::Sender<Event>) {
    let shared = s.shared.clone();
    let cfg = &shared.config;
    s.counters.in_flight -= 1;
    if let Some(k) = done.openid_key {
        s.in_flight_openids.remove(&k);
    }
    if done.token.retried {
        s.counters.requests += 1;
    }
    if done.token.refreshed {
        let _ = events
            .send(Event::TokenRefreshed { external: done.token.external, status: s.shared.sender.tokens.status() })
            .await;
    }
    let Finished { job, verdict, .. } = done;
    let (row, attempt) = (job.row, job.attempt);
    match verdict {
        Verdict::Delivered { msgid } => {
            s.counters.delivered += 1;
            s.events.push(RowEvent::Delivered { row, attempt, msgid });
            s.record_final(false);
        }
        Verdict::Failed(failure) => {
            s.counters.failed += 1;
            *s.counters.failures_by_code.entry(failure.code_label()).or_default() += 1;
            s.events.push(RowEvent::Failed { row, attempt, failure });
            s.record_final(true);
        }
        Verdict::Retry { failure, delay } => {
            *s.counters.retries_by_code.entry(failure.code_label()).or_default() += 1;
            s.events.push(RowEvent::Retrying { row, attempt, failure, delay });
            s.schedule(job, Instant::now() + delay);
        }
        Verdict::SlowDown(failure) => {
            *s.counters.retries_by_code.entry(failure.code_label()).or_default() += 1;
            let delay = if failure.errcode == Some(45011) {
                let until = Instant::now() + cfg.minute_quota_pause;
                if s.slow_until.is_none_or(|t| t < until - Duration::from_secs(1)) {
                    s.slow_until = Some(until);
                    s.pause_events.push(PauseReason::MinuteQuota { wait_secs: cfg.minute_quota_pause.as_secs() });
                }
                cfg.minute_quota_pause
            } else {
                cfg.per_user_retry
            };
            s.events.push(RowEvent::Retrying { row, attempt, failure, delay });
            s.schedule(job, Instant::now() + delay);
        }
        Verdict::Stop(failure) => {
            s.events.push(RowEvent::Unanswered { row, attempt });
            if s.stopping.is_none() || matches!(s.stopping, Some(EndReason::Stopped)) {
                s.stopping = Some(EndReason::Fatal {
                    errcode: failure.errcode,
                    hint: failure.errcode.and_then(hint),
                    errmsg: failure.errmsg,
                });
            }
        }
        Verdict::NoToken(message) => {
            s.events.push(RowEvent::Unanswered { row, attempt });
            if s.stopping.is_none() {
                s.stopping = Some(EndReason::Token { message });
            }
        }
        Verdict::JournalFailed => {
            s.events.push(RowEvent::Unanswered { row, attempt });
            s.stopping = Some(EndReason::Journal);
        }
    }
}
