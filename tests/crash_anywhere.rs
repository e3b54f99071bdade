//! Crash anywhere: the real binary aborts right after its N-th journal record (a hook compiled
//! into test builds only), for N = 1, 2, 3, …, each run resuming the last, against a mock that
//! does NOT drop duplicate `client_msg_id`s. After every crash the journal and the mock's record
//! must agree: nobody got a message twice, and every row WeChat received is delivered or unknown
//! in the journal (never pending, which would send it again). At the end every row is delivered
//! or explicitly unknown.

mod common;

use std::collections::HashMap;

use common::*;
use wxsend::journal::{replay_file, Category};
use wxsend::mock::MockConfig;

const ROWS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_journal_record_never_sends_twice_nor_loses_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let openids: Vec<String> = (0..ROWS).map(|i| openid("oWx", i)).collect();
    let campaign = write_campaign(dir.path(), "crash", Some(&server.url()), "rate = 1000\nconcurrency = 4", &openids);
    let journal = dir.path().join(".wxsend/crash/recipients/journal.jsonl");
    let mut crashes = 0;
    for n in 1..400u64 {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
            .args(["send", campaign.to_str().unwrap(), "--headless", "--yes", "--skip-template-check"])
            .env("WXSEND_TEST_SECRET", SECRET)
            .env("WXSEND_CACHE_DIR", &cache)
            .env("WXSEND_LEDGER_DIR", cache.join("ledger"))
            .env("WXSEND_FAILPOINT_ABORT_AFTER_WRITES", n.to_string())
            // Every other run on two sending threads: a crash with both threads mid-group.
            .env("WXSEND_SEND_THREADS", if n % 2 == 0 { "2" } else { "1" })
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "run {n}: {stderr}");
        let aborted = out.status.code().is_none();
        crashes += usize::from(aborted);

        // What WeChat received, against what the journal says.
        let mut received: HashMap<String, usize> = HashMap::new();
        for r in server.records() {
            *received.entry(r.touser).or_default() += 1;
        }
        assert!(received.values().all(|&c| c == 1), "run {n}: someone got a message twice: {received:?}");
        let (_, replay) = replay_file(&journal, ROWS).unwrap_or_else(|e| panic!("run {n}: {e}"));
        for (row, record) in replay.rows.iter().enumerate() {
            let arrived = received.contains_key(&openids[row]);
            match record.category() {
                Category::Pending | Category::Failed => {
                    assert!(!arrived, "run {n}: row {row} reached WeChat but the journal says {record:?}")
                }
                Category::Delivered => assert!(arrived, "run {n}: row {row} is delivered in the journal only"),
                Category::Unknown => {}
            }
        }
        if !aborted {
            // The run got past every crash point: it ended on its own.
            assert!(matches!(out.status.code(), Some(0 | 1)), "run {n}: {stderr}");
            let left: Vec<_> = replay.rows.iter().filter(|r| r.category() == Category::Pending).collect();
            assert!(left.is_empty(), "rows left pending after a clean run: {left:?}");
            break;
        }
    }
    eprintln!("{crashes} crashes, then a clean run");
    assert!(crashes >= 10, "the hook crashed only {crashes} runs");
    // Every row delivered or explicitly unknown; the unknown ones are at most one crash's
    // requests in flight each.
    let (_, replay) = replay_file(&journal, ROWS).unwrap();
    let delivered = replay.rows.iter().filter(|r| r.category() == Category::Delivered).count();
    let unknown = replay.unknown().len();
    assert_eq!(delivered + unknown, ROWS);
    assert_eq!(server.records().len(), delivered + unknown - unknown_not_arrived(&replay, &openids, &server));
}

/// Unknown rows whose request never reached the mock (the crash came between the dispatch
/// record and the request).
fn unknown_not_arrived(
    replay: &wxsend::journal::Replay,
    openids: &[String],
    server: &wxsend::mock::MockServer,
) -> usize {
    let received: std::collections::HashSet<String> = server.records().into_iter().map(|r| r.touser).collect();
    replay.unknown().into_iter().filter(|&row| !received.contains(&openids[row])).count()
}
