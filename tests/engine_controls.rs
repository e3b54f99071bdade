//! Pause and stop take effect at once, even at a low rate where requests queue for their slot:
//! a row waiting for its slot goes back to the queue unsent.

mod common;

use std::time::Duration;

use common::*;
use wxsend::app::{SendOptions, Session};
use wxsend::engine::{EndReason, Event, PauseReason};
use wxsend::mock::MockConfig;

async fn next_matching(events: &mut tokio::sync::mpsc::Receiver<Event>, want: impl Fn(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = events.recv().await.expect("engine events");
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the event comes in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_stop_at_a_low_rate_send_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let openids: Vec<String> = (0..20).map(|i| openid("oWx", i)).collect();
    // 4 per second and 8 workers: most rows are waiting for a slot at any moment.
    let campaign = write_campaign(dir.path(), "controls", None, "rate = 4\nconcurrency = 8", &openids);
    let opts =
        SendOptions { campaign, mock: Some(MockConfig::default()), skip_template_check: true, ..Default::default() };
    let session = Session::prepare(&opts).await.expect("prepare");
    let (handle, mut events) = session.engine().start();

    next_matching(&mut events, |e| matches!(e, Event::Progress(c) if c.delivered >= 2)).await;
    handle.pause();
    next_matching(&mut events, |e| matches!(e, Event::Paused(PauseReason::Operator))).await;
    let server = session.mock.as_ref().unwrap();
    let at_pause = server.stats().accepted;
    // Long enough for 6 more slots at 4/s: none may be used while paused (one request already
    // on its way when the pause came may still land).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_wait = server.stats().accepted;
    assert!(after_wait <= at_pause + 1, "{} sent while paused", after_wait - at_pause);

    handle.resume();
    next_matching(&mut events, |e| matches!(e, Event::Progress(c) if c.delivered as u64 >= after_wait + 2)).await;
    handle.stop();
    let summary = loop {
        if let Event::Done(s) = next_matching(&mut events, |_| true).await {
            break *s;
        }
    };
    assert_eq!(summary.reason, EndReason::Stopped);
    let sent = server.stats().send_requests as usize;
    assert_eq!(summary.counters.requests as usize, sent, "every request counted was sent, and only those");
    assert_eq!(summary.counters.delivered, sent, "no row left in flight or unanswered");
    assert!(sent < 20, "the stop came before the end: {sent}");
    assert_eq!(summary.counters.in_flight, 0);

    // The rows that waited for a slot are pending, not unknown: the next run sends them once.
    let finished = session.finish(&summary).await;
    assert_eq!(finished.totals.unknown, 0);
    assert!(finished.unknown_rows.is_empty());
    assert_eq!(finished.totals.pending, 20 - sent);
    assert_eq!(finished.totals.delivered, sent);
}
