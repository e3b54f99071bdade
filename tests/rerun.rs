//! Re-running a failures file without its permanent failures: `send --csv FAILURES
//! --drop-permanent` leaves out 43101, 43004, 40003, 40037 and 47003 (written to a dropped file
//! beside it) and sends the rest, each once, counted at the mock.

mod common;

use common::{mock, openid, send_command, write_campaign};
use wxsend::mock::MockConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_permanent_sends_exactly_the_rows_whose_code_may_change() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // Two refusals (43101), one unknown user (40003), two sensitive words (45168, not permanent:
    // the operator may fix the text), three delivered.
    let rows = vec![
        openid("oWx", 0),
        openid("oREFUSE", 1),
        openid("oERR45168_", 2),
        openid("oBAD", 3),
        openid("oWx", 4),
        openid("oREFUSE", 5),
        openid("oERR45168_", 6),
        openid("oWx", 7),
    ];
    let campaign = write_campaign(dir.path(), "rerun", Some(&server.url()), "rate = 200", &rows);
    let first = send_command(&campaign, &cache, &[]).output().await.unwrap();
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{err}");
    let failures = dir.path().join(".wxsend/rerun/recipients/failed-recipients.csv");
    let text = std::fs::read_to_string(&failures).unwrap();
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    // The summary's re-run command drops the permanent rows.
    assert!(err.contains("--drop-permanent"), "{err}");
    let before = server.stats();

    let failures_arg = failures.to_str().unwrap();
    let second = send_command(&campaign, &cache, &["--csv", failures_arg, "--drop-permanent"]).output().await.unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    let after = server.stats();
    assert_eq!(after.send_requests - before.send_requests, 2, "only the two 45168 rows are sent:\n{err}");
    let sent_45168 = after.sends_by_errcode.get(&45168).copied().unwrap_or(0)
        - before.sends_by_errcode.get(&45168).copied().unwrap_or(0);
    assert_eq!(sent_45168, 2, "{err}");
    assert!(err.contains("dropped 3 rows whose code will not change (40003 ×1, 43101 ×2)"), "{err}");

    let dropped = std::fs::read_to_string(failures.with_file_name("dropped-failed-recipients.csv")).unwrap();
    let dropped: Vec<&str> = dropped.lines().collect();
    assert!(dropped[0].trim_start_matches('\u{feff}').starts_with("openid,product,order,wxsend_errcode"));
    assert_eq!(dropped.len(), 1 + 3, "{dropped:?}");
    assert_eq!(dropped.iter().filter(|l| l.contains(",43101,")).count(), 2);
    assert_eq!(dropped.iter().filter(|l| l.contains(",40003,")).count(), 1);

    // The same command again sends nothing new: 45168 failed for good, the dropped stay dropped.
    let third = send_command(&campaign, &cache, &["--csv", failures_arg, "--drop-permanent"]).output().await.unwrap();
    assert_eq!(server.stats().send_requests, after.send_requests, "{}", String::from_utf8_lossy(&third.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_permanent_on_a_list_that_is_no_failures_file_is_refused() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "plain", Some(&server.url()), "rate = 200", &[openid("oWx", 0)]);
    let out = send_command(&campaign, &dir.path().join("cache"), &["--drop-permanent"]).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has no wxsend_errcode column: --drop-permanent re-runs a failures file"), "{err}");
    assert_eq!(server.stats().send_requests, 0);
}
