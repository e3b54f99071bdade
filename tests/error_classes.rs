//! Every error class, produced by the mock over HTTP and classified by the client.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use wxsend::campaign::{Kind, TokenSpec};
use wxsend::mock::MockConfig;
use wxsend::wechat::{AccessToken, ErrorClass, Failure, Outcome, Sender, TokenCache, TokenSource, WechatClient};

async fn send_one(config: MockConfig, kind: Kind, body: Bytes) -> Outcome {
    let server = mock(config).await;
    let s = sender(&server, None);
    s.send(kind, &body).await.unwrap().0
}

fn failure(o: Outcome) -> Failure {
    match o {
        Outcome::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn delivered_keeps_the_msgid_exactly() {
    let o = send_one(MockConfig::default(), Kind::Template, template_body(&openid("oWx", 1))).await;
    let Outcome::Delivered { msgid: Some(m) } = o else { panic!("{o:?}") };
    assert_eq!(m, "4674045479742390278", "above 2^53, not rounded");
}

#[tokio::test]
async fn a_bad_token_is_the_token_class() {
    let server = mock(MockConfig::default()).await;
    let o =
        client(&server).send(Kind::Template, &AccessToken::new("nope-nope"), template_body(&openid("oWx", 1))).await;
    let f = failure(o);
    assert_eq!((f.errcode, f.class), (Some(40001), ErrorClass::Token));
    assert!(f.errmsg.starts_with("invalid credential, access_token is invalid or not latest rid: "), "{}", f.errmsg);
}

#[tokio::test]
async fn transient_answers_are_the_retry_class() {
    let f = failure(send_one(MockConfig::default(), Kind::Template, template_body(&openid("oFLAKY", 1))).await);
    assert_eq!((f.errcode, f.class), (Some(-1), ErrorClass::Retry));
    let f = failure(
        send_one(
            MockConfig { http_502_rate: 1.0, ..Default::default() },
            Kind::Template,
            template_body(&openid("oWx", 1)),
        )
        .await,
    );
    assert_eq!((f.errcode, f.class), (None, ErrorClass::Retry));
    assert!(f.errmsg.contains("502"), "{}", f.errmsg);
    let f = failure(
        send_one(
            MockConfig { non_json_rate: 1.0, ..Default::default() },
            Kind::Template,
            template_body(&openid("oWx", 1)),
        )
        .await,
    );
    assert_eq!((f.errcode, f.class), (None, ErrorClass::Retry));
    assert!(f.errmsg.contains("not WeChat's JSON"), "{}", f.errmsg);
}

#[tokio::test]
async fn a_timeout_may_have_arrived_so_it_is_unanswered() {
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(400), ..Default::default() }).await;
    let client = WechatClient::new(&server.url(), Duration::from_millis(100)).unwrap();
    let tokens = std::sync::Arc::new(TokenCache::new(
        TokenSource::new(TokenSpec::Stable, APPID, Some(wxsend::wechat::Secret::new(SECRET)), &client),
        None,
    ));
    let s = Sender::new(client, tokens);
    let f = failure(s.send(Kind::Template, &template_body(&openid("oWx", 1))).await.unwrap().0);
    assert_eq!((f.errcode, f.class), (None, ErrorClass::Unanswered));
    assert!(f.errmsg.contains("timed out"), "{}", f.errmsg);
}

#[tokio::test]
async fn quotas_per_minute_and_per_user_are_slow_down() {
    let server = mock(MockConfig { minute_quota: Some(1), ..Default::default() }).await;
    let s = sender(&server, None);
    assert!(matches!(
        s.send(Kind::Template, &template_body(&openid("oWx", 1))).await.unwrap().0,
        Outcome::Delivered { .. }
    ));
    let f = failure(s.send(Kind::Template, &template_body(&openid("oWx", 2))).await.unwrap().0);
    assert_eq!((f.errcode, f.class), (Some(45011), ErrorClass::SlowDown));
    let f = failure(send_one(MockConfig::default(), Kind::Template, template_body(&openid("oBUSY", 1))).await);
    assert_eq!((f.errcode, f.class), (Some(43108), ErrorClass::SlowDown));
}

#[tokio::test]
async fn recipient_problems_are_the_row_class() {
    for (prefix, code) in
        [("oREFUSE", 43101), ("oUNSUB", 43004), ("oBAD", 40003), ("oBLOCK", 48002), ("oERR45168_", 45168)]
    {
        let f = failure(send_one(MockConfig::default(), Kind::Template, template_body(&openid(prefix, 1))).await);
        assert_eq!((f.errcode, f.class), (Some(code), ErrorClass::Row), "{prefix}");
    }
    let f = failure(
        send_one(MockConfig::default(), Kind::Subscribe, subscribe_body(&openid("oWx", 1), &"长".repeat(21))).await,
    );
    assert_eq!((f.errcode, f.class), (Some(47003), ErrorClass::Row));
    assert!(f.errmsg.starts_with("argument invalid! data.thing1.value invalid"), "{}", f.errmsg);
}

#[tokio::test]
async fn unknown_codes_fall_back_to_row_with_the_raw_text() {
    let f = failure(send_one(MockConfig::default(), Kind::Template, template_body(&openid("oERR12345_", 1))).await);
    assert_eq!((f.errcode, f.class), (Some(12345), ErrorClass::Row));
    assert!(f.errmsg.starts_with("scripted error rid: "));
}

#[tokio::test]
async fn account_conditions_are_the_stop_class() {
    let cfg = MockConfig { template_ids: vec!["OTHER".into()], ..Default::default() };
    let f = failure(send_one(cfg, Kind::Template, template_body(&openid("oWx", 1))).await);
    assert_eq!((f.errcode, f.class), (Some(40037), ErrorClass::Stop));
    let f = failure(
        send_one(
            MockConfig { daily_quota: Some(0), ..Default::default() },
            Kind::Template,
            template_body(&openid("oWx", 1)),
        )
        .await,
    );
    assert_eq!((f.errcode, f.class), (Some(45009), ErrorClass::Stop));
    let uniform = Bytes::from(
        serde_json::to_vec(&serde_json::json!({"touser": openid("oWx", 1),
            "mp_template_msg": {"appid": "wxoa", "template_id": "TID", "data": {"k": {"value": "v"}}}}))
        .unwrap(),
    );
    let f = failure(
        send_one(MockConfig { uniform_withdrawn: true, ..Default::default() }, Kind::Uniform, uniform.clone()).await,
    );
    assert_eq!((f.errcode, f.class), (Some(45109), ErrorClass::Stop));
    assert!(matches!(
        send_one(MockConfig::default(), Kind::Uniform, uniform).await,
        Outcome::Delivered { msgid: None }
    ));
}

#[tokio::test]
async fn a_fresh_token_refused_the_same_way_stops() {
    let server = mock(MockConfig::default()).await;
    let var = "WXSEND_TEST_TOKEN_FRESH_REFUSED";
    std::env::set_var(var, "managed-elsewhere-token");
    let client = client(&server);
    let tokens =
        std::sync::Arc::new(TokenCache::new(TokenSource::new(TokenSpec::Env(var.into()), APPID, None, &client), None));
    let s = Sender::new(client, tokens);
    let (o, note) = s.send(Kind::Template, &template_body(&openid("oWx", 1))).await.unwrap();
    let f = failure(o);
    assert_eq!((f.errcode, f.class), (Some(40001), ErrorClass::Stop));
    assert!(f.errmsg.contains("a fresh token was refused the same way"), "{}", f.errmsg);
    assert!(note.refreshed);
}

#[tokio::test]
async fn the_remaining_daily_quota_is_reported() {
    let server = mock(MockConfig { daily_quota: Some(500), ..Default::default() }).await;
    let s = sender(&server, None);
    s.send(Kind::Template, &template_body(&openid("oWx", 1))).await.unwrap();
    let q = s.quota(Kind::Template).await.unwrap();
    assert_eq!((q.daily_limit, q.used, q.remain), (500, 1, 499));
}

/// A campaign of `kind` whose answers come after `timeout_ms`: WeChat has each message, the
/// sender never learns it. Returns the exit code, the output and the journal's text.
async fn unanswered_run(
    kind: &str,
    rows: usize,
) -> (Option<i32>, String, String, wxsend::mock::Stats, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(400), ..Default::default() }).await;
    let openids: Vec<String> = (0..rows).map(|i| openid("oWx", i)).collect();
    let campaign = write_campaign(
        dir.path(),
        "slow",
        Some(&server.url()),
        "rate = 500\ntimeout_ms = 100\nmax_attempts = 2",
        &openids,
    );
    let text =
        std::fs::read_to_string(&campaign).unwrap().replace("kind = \"template\"", &format!("kind = \"{kind}\""));
    std::fs::write(&campaign, text).unwrap();
    let out = send_command(&campaign, &dir.path().join("cache"), &[]).output().await.unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The same command again: nothing is resent without --resend-unknown.
    let again = send_command(&campaign, &dir.path().join("cache"), &[]).output().await.unwrap();
    let all = format!("{all}\n--- again ---\n{}", String::from_utf8_lossy(&again.stderr));
    let journal = std::fs::read_to_string(dir.path().join(".wxsend/slow/recipients/journal.jsonl")).unwrap();
    let status = wxsend(&["status", campaign.to_str().unwrap(), "--json"], &[]);
    let status = serde_json::from_slice(&status.stdout).unwrap_or_default();
    (out.status.code(), all, journal, server.stats(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_subscribe_message_stays_unknown_and_is_never_sent_twice() {
    let (code, out, journal, stats, status) = unanswered_run("subscribe", 4).await;
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(stats.accepted, 4, "WeChat got each message once: {out}");
    assert_eq!(stats.send_requests, 4, "none was sent again, in this run or the next: {out}");
    assert_eq!(journal.matches("\"t\":\"unanswered\"").count(), 4, "{journal}");
    assert!(out.contains("unknown"), "the summary names the unknown rows: {out}");
    // `status --json` lists each of them with its openid.
    let listed = status["unknown_rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(status["unknown"], 4, "{status}");
    assert_eq!(listed.len(), 4, "{status}");
    assert_eq!(listed[0]["row"], 1);
    assert_eq!(listed[0]["openid"], openid("oWx", 0));
    assert_eq!(listed[0]["attempts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_template_message_is_retried_under_its_client_msg_id() {
    let (_, out, journal, stats, _) = unanswered_run("template", 3).await;
    assert!(stats.send_requests > 3, "retried: {out}");
    assert_eq!(stats.accepted, 3, "WeChat dropped every repeat by client_msg_id: {out}");
    assert!(stats.deduplicated >= 1, "{stats:?}");
    assert!(!journal.contains("\"t\":\"unanswered\""), "{journal}");
}
