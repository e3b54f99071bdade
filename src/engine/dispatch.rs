//! The running campaign: `concurrency` workers, each taking the next row from the shared
//! [`Board`], sending it and recording the answer, with no hand-off per message; and the loop
//! that applies the operator's controls and sends the front end its events in batches.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

use super::attempt::{attempt, Job, Scratch};
use super::board::{Board, Claim};
use super::context::Context;
use super::events::{Control, EndReason, Event, PauseReason, Summary};
use super::rate::Limiter;
use crate::journal::Line;

/// The board, the signal that it changed in a way a waiting worker cares about, and whether
/// requests waiting for their slot must give it up ([`Board::halted`]).
struct Dispatch {
    board: Mutex<Board>,
    ctx: Arc<Context>,
    changed: Notify,
    halt: watch::Sender<bool>,
}

impl Dispatch {
    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish the board's halt state; called with the lock held after every change. When
    /// sending resumes, the pacer starts afresh: the slots given up while halted are not owed.
    fn sync_halt(&self, board: &mut Board) {
        let halted = board.halted();
        if halted != board.halt_published {
            board.halt_published = halted;
            self.halt.send_replace(halted);
            if !halted {
                self.ctx.limiter.restart();
            }
        }
    }
}

async fn work(ctx: Arc<Context>, shelf: Arc<Dispatch>) {
    let mut halt = shelf.halt.subscribe();
    let mut scratch = Scratch::default();
    loop {
        let step = {
            let mut board = shelf.lock();
            let claim = board.claim(Instant::now());
            shelf.sync_halt(&mut board);
            match claim {
                Claim::Exit => return,
                Claim::Job { job, key } => Step::Send { job, key },
                Claim::Wait(until) => {
                    // Registered before the lock is released: no change can slip in between.
                    let mut changed = Box::pin(shelf.changed.notified());
                    changed.as_mut().enable();
                    board.waiting += 1;
                    Step::Wait { until, changed }
                }
            }
        };
        match step {
            Step::Send { job, key } => {
                // Paced here, before the dispatch line: a pause or stop while the slot is
                // awaited gives the row back unsent (and the pacer restarts on resume).
                let slot = tokio::select! {
                    biased;
                    _ = ctx.limiter.until_ready() => true,
                    _ = halt.wait_for(|h| *h) => false,
                };
                if !slot {
                    let mut board = shelf.lock();
                    board.release(job, key, Instant::now());
                    shelf.sync_halt(&mut board);
                    continue;
                }
                shelf.lock().dispatched(&job);
                let finished = attempt(&ctx, &mut scratch, job, key).await;
                let wake = {
                    let mut board = shelf.lock();
                    board.complete(finished, Instant::now());
                    shelf.sync_halt(&mut board);
                    board.waiting > 0
                };
                if wake {
                    shelf.changed.notify_waiters();
                }
            }
            Step::Wait { until: Some(t), changed } => {
                tokio::select! {
                    _ = changed => {}
                    _ = tokio::time::sleep_until(t.into()) => {}
                }
                shelf.lock().waiting -= 1;
            }
            Step::Wait { until: None, changed } => {
                changed.await;
                shelf.lock().waiting -= 1;
            }
        }
    }
}

/// What a worker does next, decided under the board's lock.
enum Step<'a> {
    Send { job: Job, key: Option<u64> },
    Wait { until: Option<Instant>, changed: std::pin::Pin<Box<tokio::sync::futures::Notified<'a>>> },
}

/// Carry out the front end's `c`: the rate (this process's limiter, then the account's),
/// pause, resume, the schedule's hold, stop; the event it makes goes to the front end.
async fn apply_control(c: Control, ctx: &Context, shelf: &Dispatch, events: &mpsc::Sender<Event>) {
    if let Control::SetRate(r) = c {
        // This process's limiter at once; the account's (every sender's) behind it.
        let rate = r.max(1);
        let _ = ctx.limiter.set_rate(rate).await;
        if let Some(shared) = &ctx.shared {
            let limiter = shared.rate.clone();
            tokio::spawn(async move {
                let _ = Limiter::set_rate(&*limiter, rate).await;
            });
        }
    }
    let event = {
        let mut board = shelf.lock();
        let event = match c {
            Control::Pause => board.pause().then_some(Event::Paused(PauseReason::Operator)),
            Control::Resume => board.resume().then_some(Event::Resumed),
            Control::Schedule(Some(reason)) => {
                board.held_by_schedule = true;
                Some(Event::Paused(reason))
            }
            Control::Schedule(None) => std::mem::replace(&mut board.held_by_schedule, false).then_some(Event::Resumed),
            Control::Stop => {
                board.stop();
                None
            }
            Control::SetRate(r) => {
                let rate = r.max(1);
                board.counters.rate_limit = rate;
                Some(Event::RateChanged(rate))
            }
        };
        shelf.sync_halt(&mut board);
        event
    };
    shelf.changed.notify_waiters();
    if let Some(e) = event {
        let _ = events.send(e).await;
    }
}

/// The engine's run: the workers started, the front end's controls carried out, events sent
/// every tick, and the summary once every worker has finished.
pub(super) async fn run(
    ctx: Arc<Context>,
    rows: Vec<usize>,
    mut control: mpsc::UnboundedReceiver<Control>,
    events: mpsc::Sender<Event>,
) {
    let cfg = ctx.config.clone();
    let started = Instant::now();
    let shelf = Arc::new(Dispatch {
        board: Mutex::new(Board::new(cfg.clone(), rows, openid_keys(&ctx))),
        ctx: ctx.clone(),
        changed: Notify::new(),
        halt: watch::Sender::new(false),
    });
    let mut workers = JoinSet::new();
    for _ in 0..cfg.concurrency.max(1) {
        workers.spawn(work(ctx.clone(), shelf.clone()));
    }
    let mut tick = tokio::time::interval(cfg.event_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut control_open = true;

    loop {
        tokio::select! {
            biased;
            c = control.recv(), if control_open => {
                let Some(c) = c else {
                    control_open = false;
                    continue;
                };
                apply_control(c, &ctx, &shelf, &events).await;
            }
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    // A worker that panicked ends the run as crashed, never as an operator stop;
                    // the others finish their requests in flight and exit.
                    let message = if e.is_panic() { panic_message(e.into_panic()) } else { e.to_string() };
                    let mut board = shelf.lock();
                    board.crash(format!("a sending task failed: {message}"));
                    shelf.sync_halt(&mut board);
                    drop(board);
                    shelf.changed.notify_waiters();
                }
            },
            _ = tick.tick() => {
                if let Some(detail) = ctx.shared.as_ref().and_then(|c| c.lost_detail()) {
                    let mut board = shelf.lock();
                    board.lose_shared(detail);
                    shelf.sync_halt(&mut board);
                    drop(board);
                    shelf.changed.notify_waiters();
                }
                flush(&shelf, &events, started).await;
            }
        }
    }

    flush(&shelf, &events, started).await;
    // Retries that never went out stay pending in the journal (their last line is `retry`).
    let (reason, counters) = {
        let mut board = shelf.lock();
        let elapsed = started.elapsed();
        board.counters.elapsed_ms = elapsed.as_millis() as u64;
        (board.stopping.take().unwrap_or(EndReason::Completed), board.counters.clone())
    };
    ctx.journal.append(Line::End { at: crate::journal::unix_now(), reason: reason.describe_en() });
    ctx.journal.flush().await;
    let mut reason = reason;
    if let EndReason::Journal { unrecorded, .. } = &mut reason {
        *unrecorded = ctx.journal.unrecorded_accepted();
    }
    let summary = Summary {
        achieved_rate: counters.requests as f64 / started.elapsed().as_secs_f64().max(1e-3),
        counters: counters.clone(),
        reason,
        token: ctx.sender.tokens.status(),
    };
    let _ = events.send(Event::Progress(counters)).await;
    let _ = events.send(Event::Done(Box::new(summary))).await;
}

/// The text of a panic's payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(|| "panic".to_string(), |s| s.to_string()),
    }
}

/// For campaigns that allow duplicate openids, a key per row naming its recipient, so that two
/// requests to one person are never in flight at once; `None` for the others (their openids are
/// unique), so they skip the hashing.
fn openid_keys(ctx: &Context) -> Option<Arc<[u64]>> {
    use std::hash::{Hash, Hasher};
    let campaign = &ctx.campaign;
    if !campaign.config.recipients.allow_duplicates {
        return None;
    }
    let keys = (0..campaign.recipients.len())
        .map(|i| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            campaign.recipients.row(i).map(|r| r.openid()).unwrap_or_default().hash(&mut h);
            h.finish()
        })
        .collect();
    Some(keys)
}

/// Send the front end what happened since the last flush: pauses, resumptions and token
/// changes, the row events, the counters.
async fn flush(shelf: &Dispatch, events: &mpsc::Sender<Event>, started: Instant) {
    let (announcements, rows, counters) = {
        let mut board = shelf.lock();
        board.counters.elapsed_ms = started.elapsed().as_millis() as u64;
        board.end_slow_down(Instant::now());
        shelf.sync_halt(&mut board);
        (std::mem::take(&mut board.announcements), std::mem::take(&mut board.events), board.counters.clone())
    };
    for e in announcements {
        let _ = events.send(e).await;
    }
    if !rows.is_empty() {
        let _ = events.send(Event::Rows(rows)).await;
    }
    let _ = events.send(Event::Progress(counters)).await;
}
