//! SIGKILL the sending process at several points; resuming never sends a row twice, and only
//! rows in flight at the kill (at most `concurrency`) are left unknown.

mod common;

use std::collections::HashMap;
use std::process::Stdio;

use common::*;
use wxsend::journal::{replay_file, RowRecord};
use wxsend::mock::MockConfig;

const ROWS: usize = 300;

fn spawn_send(campaign: &std::path::Path, cache: &std::path::Path, extra: &[&str]) -> tokio::process::Child {
    let mut cmd = send_command(campaign, cache, extra);
    cmd.stdout(Stdio::null());
    cmd.spawn().expect("spawn wxsend")
}
const CONCURRENCY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_without_sending_anyone_twice() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(40), ..Default::default() }).await;
    let openids = mixed_openids(ROWS, 0, 0);
    let campaign = write_campaign(
        dir.path(),
        "kill",
        Some(&server.url()),
        &format!("rate = 150\nconcurrency = {CONCURRENCY}"),
        &openids,
    );
    let journal = dir.path().join(".wxsend/kill/recipients/journal.jsonl");
    let spawn = |extra: &[&str]| spawn_send(&campaign, &cache, extra);

    // Kill after different amounts of progress (counted at the mock, not guessed by time).
    for (kills, progress) in [40u64, 70, 30].into_iter().enumerate().map(|(i, w)| (i + 1, w)) {
        let before = server.stats().accepted;
        let mut child = spawn(&[]);
        wait_until(|| server.stats().accepted >= before + progress).await;
        child.kill().await.unwrap();
        let _ = child.wait().await;
        let (_, replay) = replay_file(&journal, ROWS).unwrap();
        let unknown = replay.unknown().len();
        // Each kill leaves at most the requests in flight without an outcome.
        assert!(unknown <= CONCURRENCY * kills, "{unknown} unknown rows after kill {kills} at +{progress}");
    }

    // A run to the end: unknown rows are held back, not resent.
    let out = spawn(&[]).wait_with_output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let (_, replay) = replay_file(&journal, ROWS).unwrap();
    let held = replay.unknown();
    assert!(held.len() <= CONCURRENCY * 3, "{}", held.len());
    if held.is_empty() {
        assert_eq!(out.status.code(), Some(0), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("are not resent unless you add --resend-unknown"), "{err}");
    }
    let delivered_before_resend: usize =
        replay.rows.iter().filter(|r| matches!(r, RowRecord::Delivered { .. })).count();
    assert_eq!(delivered_before_resend + held.len(), ROWS);

    // Resending the unknown rows is safe for template messages: client_msg_id de-duplicates.
    let out = spawn(&["--resend-unknown"]).wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let mut per_user: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *per_user.entry(r.touser).or_default() += 1;
    }
    assert_eq!(per_user.len(), ROWS, "every row arrived");
    assert!(per_user.values().all(|&n| n == 1), "nobody got the message twice");
    let stats = server.stats();
    assert_eq!(stats.duplicate_deliveries, 0);
    // Unknown rows that had in fact arrived were dropped by WeChat's client_msg_id rule.
    assert!(stats.deduplicated as usize <= held.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_gracefully_and_the_rest_is_sent_later() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(20), ..Default::default() }).await;
    let openids = mixed_openids(200, 0, 0);
    let campaign = write_campaign(dir.path(), "sigint", Some(&server.url()), "rate = 100\nconcurrency = 8", &openids);
    let journal = dir.path().join(".wxsend/sigint/recipients/journal.jsonl");
    let run = || spawn_send(&campaign, &cache, &[]);
    let child = run();
    wait_until(|| server.stats().accepted >= 20).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Ctrl-C: stopping, finishing"), "{err}");
    assert!(err.contains("stopped by the operator"), "{err}");
    // Graceful: every request in flight got its outcome recorded.
    let (_, replay) = replay_file(&journal, 200).unwrap();
    assert!(replay.unknown().is_empty(), "{:?}", replay.unknown());
    let sent = server.stats().accepted as usize;
    assert!(sent > 0 && sent < 200, "{sent}");

    let out = run().wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *per_user.entry(r.touser).or_default() += 1;
    }
    assert_eq!(per_user.len(), 200);
    assert!(per_user.values().all(|&n| n == 1));
}
