//! The failures export (the terminal UI's `e`) never holds the runtime: on a 200,000-row journal
//! the runtime that asked for it keeps running other tasks (the UI's frames) until it is done.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use wxsend::app::{SendOptions, Session};
use wxsend::journal::Line;

#[tokio::test(flavor = "current_thread")]
async fn the_failures_export_runs_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 200_000;
    let campaign = write_campaign(dir.path(), "big", None, "rate = 20", &mixed_openids(rows, 0, 0));
    let opts = SendOptions {
        campaign,
        mock: Some(wxsend::mock::MockConfig::default()),
        skip_template_check: true,
        ..Default::default()
    };
    let session = Session::prepare(&opts).await.expect("prepare");
    // Every row refused by WeChat, as a long campaign's journal would hold them.
    for row in 0..rows {
        session.writer.append(Line::Dispatch { row, attempt: 1, who: None });
        session.writer.append(Line::Failed {
            row,
            attempt: 1,
            errcode: Some(43101),
            errmsg: "user refuse to accept the msg".into(),
        });
    }
    let ticks = Arc::new(AtomicU64::new(0));
    let frames = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    let written = session.exporter().run().await.expect("export");
    frames.abort();
    assert_eq!(written, rows);
    let seen = ticks.load(Ordering::Relaxed);
    assert!(seen > 100, "the runtime ran other tasks during the export: {seen} turns");
    let text = std::fs::read_to_string(&session.files.failures).unwrap();
    assert_eq!(text.lines().count(), rows + 1);
}
