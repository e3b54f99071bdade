//! Scheduled sending with the real binary against the mock: `--at` holds the first message
//! until its time (the mock's record timestamps), and a window that is closed now sends nothing
//! and names when it opens. Waits are on the process's own output and exit, never on sleeps.

mod common;

use common::*;
use tokio::io::AsyncBufReadExt;
use wxsend::mock::MockConfig;

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_holds_the_first_message_until_its_time() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "at", Some(&server.url()), "rate = 200", &mixed_openids(5, 0, 0));
    let at = unix_now() + 3;
    let at_text = chrono::DateTime::from_timestamp(at as i64, 0).unwrap().to_rfc3339();
    let out = send_command(&campaign, &dir.path().join("cache"), &["--at", &at_text]).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("schedule: starts at") && err.contains("waiting for the start time (--at)"), "{err}");
    let records = server.records();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r.at_unix_ms >= at * 1000), "a message left before --at");

    // A time in the past starts at once; a bad one is refused before anything is sent.
    let out = send_command(&campaign, &dir.path().join("cache"), &["--at", "2026-02-30 25:00"]).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--at \"2026-02-30 25:00\" is not a time"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_closed_now_sends_nothing_and_names_its_opening_time() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let start = now + chrono::Duration::hours(1);
    let end = now + chrono::Duration::hours(2);
    let window = format!("{}-{}", start.format("%H:%M"), end.format("%H:%M"));
    let send = format!("rate = 200\nwindow = \"{window}\"\ntimezone = \"UTC\"");
    let campaign = write_campaign(dir.path(), "window", Some(&server.url()), &send, &mixed_openids(5, 0, 0));
    let mut child = send_command(&campaign, &dir.path().join("cache"), &[]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let opens = format!("sending starts at {}", start.format("%Y-%m-%d %H:%M"));
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("waiting for the sending window") {
            break;
        }
    }
    assert!(seen.contains(&format!("schedule: sends only between {window} each day (UTC)")), "{seen}");
    assert!(seen.contains(&format!("waiting for the sending window {window} (UTC): {opens}")), "{seen}");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(1), "{seen}");
    assert_eq!(server.stats().send_requests, 0, "nothing is sent outside the window");
}
