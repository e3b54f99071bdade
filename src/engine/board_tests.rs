//! Tests of `board.rs`.
use super::*;
use crate::campaign::SendConfig;
use crate::wechat::{Failure, TokenNote};

fn board(rows: usize) -> Board {
    Board::new(EngineConfig::from_send(&SendConfig::default()), (0..rows).collect(), None)
}

fn job(claim: Claim) -> Job {
    match claim {
        Claim::Job { job, .. } => job,
        other => panic!("expected a job, got {other:?}"),
    }
}

fn done(mut job: Job, verdict: Verdict) -> Finished {
    job.attempt += 1;
    Finished { job, openid_key: None, verdict, token: TokenNote::default(), token_status: None }
}

fn delivered() -> Verdict {
    Verdict::Delivered { msgid: None }
}

#[test]
fn rows_go_in_order_and_workers_end_when_the_last_answer_is_in() {
    let mut b = board(2);
    let now = Instant::now();
    let (j0, j1) = (job(b.claim(now)), job(b.claim(now)));
    assert_eq!((j0.row, j1.row), (0, 1));
    b.dispatched(&j0);
    b.dispatched(&j1);
    // Nothing left to claim, but an answer may still bring a retry.
    assert!(matches!(b.claim(now), Claim::Wait(None)));
    b.complete(done(j0, delivered()), now);
    assert!(matches!(b.claim(now), Claim::Wait(None)));
    b.complete(done(j1, delivered()), now);
    assert!(matches!(b.claim(now), Claim::Exit));
    assert_eq!((b.counters.delivered, b.counters.in_flight, b.counters.requests), (2, 0, 2));
    assert_eq!(b.events.len(), 4, "two started, two delivered");
}

#[test]
fn a_retry_waits_for_its_time_and_keeps_its_attempts() {
    let mut b = board(1);
    let now = Instant::now();
    let j = job(b.claim(now));
    b.dispatched(&j);
    let failure = Failure::api(-1, "system error".into());
    b.complete(done(j, Verdict::Retry { failure, delay: Duration::from_secs(1) }), now);
    assert_eq!(b.counters.retrying, 1);
    match b.claim(now) {
        Claim::Wait(Some(at)) => assert_eq!(at, now + Duration::from_secs(1)),
        other => panic!("{other:?}"),
    }
    let again = job(b.claim(now + Duration::from_secs(1)));
    assert_eq!((again.row, again.attempt, b.counters.retrying), (0, 1, 0));
}

#[test]
fn a_released_job_goes_back_to_the_head_of_its_queue() {
    let mut b = board(3);
    let now = Instant::now();
    let first = job(b.claim(now));
    b.paused_by_operator = true;
    assert!(b.halted());
    b.release(first, None, now);
    assert_eq!((b.counters.in_flight, b.counters.requests), (0, 0));
    assert!(b.events.is_empty(), "nothing was sent, nothing is announced");
    b.resume();
    assert_eq!(job(b.claim(now)).row, 0);
    // A retry released goes back among the retries, due at once, its attempts kept.
    let mut retry = job(b.claim(now));
    retry.attempt = 2;
    b.release(retry, None, now);
    assert_eq!(b.counters.retrying, 1);
    let again = job(b.claim(now));
    assert_eq!((again.row, again.attempt), (1, 2));
}

#[test]
fn operator_pause_holds_every_worker_until_resumed() {
    let mut b = board(3);
    b.paused_by_operator = true;
    assert!(matches!(b.claim(Instant::now()), Claim::Wait(None)));
    assert!(b.resume());
    assert!(!b.resume(), "nothing left to resume");
    assert_eq!(job(b.claim(Instant::now())).row, 0);
}

#[test]
fn minute_quota_pauses_everyone_until_the_minute_is_over() {
    let mut b = board(3);
    let now = Instant::now();
    let j = job(b.claim(now));
    b.complete(done(j, Verdict::SlowDown(Failure::api(45011, "api minute-quota reach limit".into()))), now);
    let until = now + b.config.minute_quota_pause;
    assert_eq!(b.slow_until, Some(until));
    assert!(matches!(b.announcements[..], [Event::Paused(PauseReason::MinuteQuota { wait_secs: 60 })]));
    assert!(matches!(b.claim(now), Claim::Wait(Some(t)) if t == until));
    assert!(b.halted(), "requests waiting for a slot give it up");
    b.announcements.clear();
    assert_eq!(job(b.claim(until)).row, 0, "the row that met the limit goes first, a minute later");
    assert!(matches!(b.announcements[..], [Event::Resumed]));
    assert!(!b.halted());
    assert_eq!(job(b.claim(until)).row, 1);
}

#[test]
fn a_stop_verdict_ends_the_campaign_and_keeps_the_reason() {
    let mut b = board(3);
    let now = Instant::now();
    let j = job(b.claim(now));
    b.complete(done(j, Verdict::Stop(Failure::api(48001, "api unauthorized".into()))), now);
    assert!(matches!(b.claim(now), Claim::Exit));
    assert!(matches!(b.stopping, Some(EndReason::Fatal { errcode: Some(48001), .. })));
    b.stop();
    assert!(matches!(b.stopping, Some(EndReason::Fatal { .. })), "an operator stop does not hide the cause");
}

#[test]
fn too_many_failures_pause_and_a_stop_then_names_the_failure_rate() {
    let mut b = board(30);
    let now = Instant::now();
    for _ in 0..20 {
        let j = job(b.claim(now));
        b.complete(done(j, Verdict::Failed(Failure::api(43101, "user refuse to accept the msg".into()))), now);
    }
    assert!(b.paused_by_guard);
    assert!(matches!(b.announcements[..], [Event::Paused(PauseReason::FailureRate { failed: 20, of: 20, .. })]));
    assert!(matches!(b.claim(now), Claim::Wait(None)));
    b.stop();
    assert_eq!(b.stopping, Some(EndReason::FailureRate { failed: 20, of: 20 }));
}

#[test]
fn each_verdict_moves_the_row_by_the_table() {
    let f = |code| Failure::api(code, "x".into());
    // verdict → (delivered, failed, retry later, waiting for a retry, the run ends)
    type Moves = (usize, usize, usize, usize, bool);
    let table: Vec<(Verdict, Moves)> = vec![
        (delivered(), (1, 0, 0, 0, false)),
        (Verdict::Failed(f(43101)), (0, 1, 0, 0, false)),
        (Verdict::RetryLater(f(-1)), (0, 0, 1, 0, false)),
        (Verdict::Retry { failure: f(-1), delay: Duration::from_secs(1) }, (0, 0, 0, 1, false)),
        (Verdict::SlowDown(f(43108)), (0, 0, 0, 1, false)),
        (Verdict::Stop(f(45009)), (0, 0, 0, 0, true)),
        (Verdict::NoToken("no secret".into()), (0, 0, 0, 0, true)),
        (Verdict::JournalFailed("journal.jsonl: No space left on device".into()), (0, 0, 0, 0, true)),
    ];
    for (verdict, want) in table {
        let label = format!("{verdict:?}");
        let mut b = board(2);
        let now = Instant::now();
        let j = job(b.claim(now));
        b.dispatched(&j);
        b.complete(done(j, verdict), now);
        let c = &b.counters;
        let got = (c.delivered, c.failed, c.retry_later, c.retrying, b.stopping.is_some());
        assert_eq!(got, want, "{label}");
        assert_eq!(c.in_flight, 0, "{label}");
    }
}
