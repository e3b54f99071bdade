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
    let server = mock(MockConfig { latency_ms: 400, ..Default::default() }).await;
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
