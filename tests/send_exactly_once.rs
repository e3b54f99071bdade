//! A 5,000-row campaign through every fault class: each deliverable row arrives exactly once,
//! the failures file holds exactly the rejected and invalid rows, and the report agrees with the mock.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use wxsend::app::{SendOptions, Session};
use wxsend::engine::{EndReason, Event};
use wxsend::mock::MockConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_class_and_still_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut openids = mixed_openids(5000, 97, 131);
    // Invalid rows: never sent, exported with the failures.
    for i in (250..5000).step_by(500) {
        openids[i] = String::new();
    }
    for i in (7..5000).step_by(400) {
        openids[i] = openid("oFLAKY", i);
    }
    let campaign =
        write_campaign(dir.path(), "faults", None, "rate = 100000\nconcurrency = 16\nmax_attempts = 8", &openids);
    let mock = MockConfig {
        seed: 7,
        system_error_rate: 0.03,
        http_502_rate: 0.02,
        non_json_rate: 0.02,
        invalidate_tokens_at: vec![1000, 3000],
        // 200 per 400 ms: exceeded at any speed this suite runs at, one busy core included.
        minute_quota: Some(200),
        minute_window_ms: 400,
        ..Default::default()
    };
    let opts =
        SendOptions { campaign: campaign.clone(), mock: Some(mock), skip_template_check: true, ..Default::default() };
    let mut session = Session::prepare(&opts).await.expect("prepare");
    session.engine_config.minute_quota_pause = Duration::from_millis(400);
    session.engine_config.backoff_base = Duration::from_millis(5);
    session.engine_config.backoff_max = Duration::from_millis(50);
    let (_handle, mut events) = session.engine().start();
    let mut paused_for_quota = false;
    let mut token_refreshes = 0;
    let summary = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match events.recv().await.expect("engine events") {
                Event::Done(s) => return *s,
                Event::Paused(wxsend::engine::PauseReason::MinuteQuota { .. }) => paused_for_quota = true,
                Event::TokenRefreshed { .. } => token_refreshes += 1,
                _ => {}
            }
        }
    })
    .await
    .expect("campaign finishes in time");
    assert_eq!(summary.reason, EndReason::Completed);
    let finished = session.finish(&summary).await;
    let failures_written = finished.failures.clone().expect("failures file and report written");

    let server = session.mock.as_ref().unwrap();
    let stats = server.stats();
    let records = server.records();
    // What WeChat received: every deliverable row, once.
    let expected: HashSet<&str> =
        openids.iter().filter(|o| o.starts_with("oWx") || o.starts_with("oFLAKY")).map(String::as_str).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in &records {
        *seen.entry(r.touser.as_str()).or_default() += 1;
    }
    assert_eq!(seen.len(), expected.len());
    assert!(seen.values().all(|&n| n == 1), "a recipient got a message twice");
    assert!(seen.keys().all(|k| expected.contains(k)));
    assert_eq!(stats.duplicate_deliveries, 0);
    // Every fault class happened.
    for code in [-1, 40001, 43101, 40003, 45011] {
        assert!(stats.sends_by_errcode.get(&code).copied().unwrap_or(0) > 0, "no {code} answers: {stats:?}");
    }
    assert!(stats.http_502 > 0 && stats.non_json > 0, "{stats:?}");
    assert!(paused_for_quota, "45011 paused the campaign");
    assert_eq!(stats.invalidations, 2);
    assert!(token_refreshes >= 2, "{token_refreshes}");
    assert_eq!(stats.stable_token_calls, 3, "one token, one refresh per invalidation");

    // The failures file: exactly the permanently rejected rows plus the invalid ones.
    let mut reader = csv::Reader::from_path(&session.files.failures).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        &headers,
        vec!["openid", "product", "order", "wxsend_errcode", "wxsend_errmsg", "wxsend_attempts", "wxsend_hint"]
    );
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut exported = HashSet::new();
    for rec in reader.records() {
        let rec = rec.unwrap();
        *codes.entry(rec[3].to_string()).or_default() += 1;
        exported.insert(rec[2].to_string());
    }
    let refused = openids.iter().filter(|o| o.starts_with("oREFUSE")).count();
    let bad = openids.iter().filter(|o| o.starts_with("oBAD")).count();
    let invalid = openids.iter().filter(|o| o.is_empty()).count();
    assert_eq!(codes.get("43101"), Some(&refused));
    assert_eq!(codes.get("40003"), Some(&bad));
    assert_eq!(codes.get("invalid"), Some(&invalid));
    assert_eq!(codes.len(), 3, "{codes:?}");
    assert_eq!(failures_written, refused + bad + invalid);
    for (i, o) in openids.iter().enumerate() {
        let should = o.is_empty() || o.starts_with("oREFUSE") || o.starts_with("oBAD");
        assert_eq!(exported.contains(&format!("SF{i:07}")), should, "row {i} {o}");
    }

    // The report agrees with the mock's counters.
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&session.files.report).unwrap()).unwrap();
    assert_eq!(report["delivered"].as_u64(), Some(stats.accepted));
    assert_eq!(report["failures_by_code"]["43101"]["count"].as_u64(), stats.sends_by_errcode.get(&43101).copied());
    assert_eq!(report["failures_by_code"]["40003"]["count"].as_u64(), stats.sends_by_errcode.get(&40003).copied());
    assert_eq!(report["unknown"], 0);
    assert_eq!(report["pending"], 0);
    assert_eq!(report["this_run"]["requests"].as_u64(), Some(stats.send_requests));
    assert_eq!(finished.totals.delivered as u64, stats.accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_openids_when_allowed_are_never_in_flight_together() {
    let dir = tempfile::tempdir().unwrap();
    let me = openid("oWx", 7);
    let mut openids = vec![me.clone(); 5];
    openids.extend(mixed_openids(5, 0, 0));
    let campaign = write_campaign(dir.path(), "dups", None, "rate = 1000\nconcurrency = 8", &openids);
    let text = std::fs::read_to_string(&campaign).unwrap();
    std::fs::write(
        &campaign,
        text.replace("csv = \"recipients.csv\"", "csv = \"recipients.csv\"\nallow_duplicates = true"),
    )
    .unwrap();
    let mock = MockConfig { latency: wxsend::mock::Latency::fixed(40), ..Default::default() };
    let mut session =
        Session::prepare(&SendOptions { campaign, mock: Some(mock), skip_template_check: true, ..Default::default() })
            .await
            .unwrap();
    session.engine_config.per_user_retry = Duration::from_millis(10);
    let (_h, mut events) = session.engine().start();
    let summary = loop {
        if let Event::Done(s) = events.recv().await.unwrap() {
            break *s;
        }
    };
    assert_eq!(summary.counters.delivered, 10);
    let mut at: Vec<u64> =
        session.mock.as_ref().unwrap().records().iter().filter(|r| r.touser == me).map(|r| r.at_ms).collect();
    at.sort_unstable();
    assert_eq!(at.len(), 5, "each row is its own message");
    // One at a time: each request to this openid starts after the previous answer (40 ms).
    for pair in at.windows(2) {
        assert!(pair[1] - pair[0] >= 35, "{at:?}");
    }
}
