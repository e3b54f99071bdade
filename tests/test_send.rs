//! The TUI's test send (`t`): the row's message goes to the operator's own openid, is journaled
//! apart, and never counts as the row being sent.

mod common;

use std::collections::HashSet;

use common::*;
use wxsend::app::{SendOptions, Session};
use wxsend::journal::{replay_file, RowRecord};
use wxsend::mock::MockConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_send_reaches_the_operator_and_leaves_the_row_pending() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "testsend", None, "rate = 100", &mixed_openids(3, 0, 0));
    let session = Session::prepare(&SendOptions {
        campaign,
        mock: Some(MockConfig::default()),
        skip_template_check: true,
        ..Default::default()
    })
    .await
    .expect("prepare");
    let me = openid("oWxOPERATOR", 1);
    let text = session.tester().send(1, &me).await.to_string();
    assert!(text.starts_with("test send of row 2 to oWxO…01: delivered"), "{text}");
    // Twice in a row: a fresh client_msg_id each time, so WeChat does not drop the second.
    session.tester().send(1, &me).await;

    let records = session.mock.as_ref().unwrap().records();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.touser == me));
    assert_eq!(records[0].data["character_string2"]["value"], "SF0000001", "row 2's values");
    let ids: HashSet<_> = records.iter().map(|r| r.client_msg_id.clone()).collect();
    assert_eq!(ids.len(), 2);

    session.writer.flush().await;
    let journal = std::fs::read_to_string(&session.files.journal).unwrap();
    assert_eq!(journal.matches(r#""t":"test""#).count(), 2);
    let (_, replay) = replay_file(&session.files.journal, 3).unwrap();
    assert!(replay.rows.iter().all(|r| *r == RowRecord::Pending), "a test send is not the row sent");

    let failed = session.tester().send(0, &openid("oREFUSE", 9)).await.to_string();
    assert!(failed.contains("failed: 43101"), "{failed}");
    assert!(failed.contains("drop them from the next run"), "{failed}");
}
