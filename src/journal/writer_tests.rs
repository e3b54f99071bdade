//! The journal writer's tests: group commit, full disks, withdrawn dispatches.

use super::*;

/// `/dev/full` fails every write with ENOSPC: the writer refuses dispatches, keeps the
/// outcomes it could not write and names the rows WeChat accepted.
#[tokio::test]
async fn a_disk_that_stays_full_keeps_outcomes_in_memory_and_names_them() {
    let Ok(file) = std::fs::OpenOptions::new().append(true).open("/dev/full") else {
        return;
    };
    let writer = JournalWriter::spawn(file, PathBuf::from("/dev/full"), None).unwrap();
    assert!(!writer.append_written(Line::Dispatch { row: 3, attempt: 1, who: None }).await);
    assert!(writer.error().is_some_and(|e| e.contains("/dev/full") && e.contains("No space left")));
    writer.append(Line::Ok { row: 1, attempt: 1, msgid: Some("9".into()) });
    writer.append(Line::Failed { row: 2, attempt: 1, errcode: Some(43101), errmsg: "refused".into() });
    writer.append(Line::Ok { row: 5, attempt: 1, msgid: None });
    assert!(
        !writer.append_written(Line::Dispatch { row: 6, attempt: 1, who: None }).await,
        "no request after a failure"
    );
    assert!(!writer.flush().await);
    assert_eq!(writer.unrecorded_accepted(), vec![1, 5]);
}

/// Workers ready at the same moment share one write; every one of their dispatch lines is
/// in the file when they are told to send.
#[tokio::test(flavor = "current_thread")]
async fn dispatch_lines_of_ready_workers_share_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let writer = JournalWriter::spawn(file, path.clone(), None).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|row| {
            let writer = writer.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let sent = writer.append_written(Line::Dispatch { row, attempt: 1, who: None }).await;
                // What a request leaving now could rely on: its line is in the file.
                let text = std::fs::read_to_string(&path).unwrap();
                (sent, text.contains(&format!("\"row\":{row},")))
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), (true, true));
    }
    let writes = writer.inner.lock().writes_through;
    assert!(writes < 16, "16 ready workers, {writes} writes");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 16);
}

/// A group whose write fails: no member's request leaves, and each is withdrawn.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_group_write_withdraws_every_member() {
    let Ok(file) = std::fs::OpenOptions::new().append(true).open("/dev/full") else {
        return;
    };
    let writer = JournalWriter::spawn(file, PathBuf::from("/dev/full"), None).unwrap();
    let tasks: Vec<_> = (0..5)
        .map(|row| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.append_written(Line::Dispatch { row, attempt: 1, who: None }).await })
        })
        .collect();
    for t in tasks {
        assert!(!t.await.unwrap(), "no request leaves");
    }
    let pending = String::from_utf8(writer.inner.lock().pending.clone()).unwrap();
    for row in 0..5 {
        assert!(pending.contains(&format!("\"t\":\"retry\",\"row\":{row},\"attempt\":1")), "{pending}");
    }
    assert!(pending.contains("not sent: the journal could not be written"));
}

/// Once writing has failed no request may leave, but the outcomes of those in flight are
/// still written while the disk takes them.
#[tokio::test]
async fn after_a_failure_no_request_leaves_but_outcomes_are_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    let writer = JournalWriter::spawn(file, path.clone(), None).unwrap();
    assert!(writer.append_written(Line::Dispatch { row: 0, attempt: 1, who: None }).await);
    writer.inner.fail(std::io::Error::from_raw_os_error(28));
    assert!(!writer.append_written(Line::Dispatch { row: 1, attempt: 1, who: None }).await);
    writer.append(Line::Ok { row: 0, attempt: 1, msgid: None });
    assert!(!writer.flush().await, "the run still ends as a journal failure");
    assert!(writer.unrecorded_accepted().is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("\"t\":\"ok\""), "{text}");
}
