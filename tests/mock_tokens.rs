//! The mock follows WeChat's token rules: stable tokens are idempotent, cgi-bin/token tokens
//! overlap for a while, a forced refresh kills the previous token.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wxsend::campaign::Kind;
use wxsend::mock::{MockConfig, Record};
use wxsend::wechat::{AccessToken, Outcome};

async fn stable(base: &str, force: bool) -> Value {
    stable_token_forced(base, force).await
}

async fn client_credential(base: &str) -> Value {
    reqwest::get(format!("{base}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn works(server: &wxsend::mock::MockServer, token: &Value, n: usize) -> Result<(), i64> {
    let t = AccessToken::new(token["access_token"].as_str().unwrap());
    match client(server).send(Kind::Template, &t, template_body(&openid("oWx", n))).await {
        Outcome::Delivered { .. } => Ok(()),
        Outcome::Failed(f) => Err(f.errcode.unwrap_or(0)),
    }
}

#[tokio::test]
async fn stable_token_is_idempotent_while_valid() {
    let server = mock(MockConfig::default()).await;
    let a = stable(&server.url(), false).await;
    let b = stable(&server.url(), false).await;
    assert_eq!(a["access_token"], b["access_token"]);
    assert!(b["expires_in"].as_u64().unwrap() <= 7200 && b["expires_in"].as_u64().unwrap() >= 7199);
}

#[tokio::test]
async fn client_credential_tokens_overlap_then_the_old_one_dies() {
    let server = mock(MockConfig { token_ttl: 2, ..Default::default() }).await;
    let a = client_credential(&server.url()).await;
    let b = client_credential(&server.url()).await;
    assert_ne!(a["access_token"], b["access_token"]);
    assert_eq!(works(&server, &a, 1).await, Ok(()), "the previous token still works during the overlap");
    assert_eq!(works(&server, &b, 2).await, Ok(()));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(works(&server, &a, 3).await, Err(42001), "after the overlap the previous token is expired");
    assert_eq!(works(&server, &b, 4).await, Ok(()));
}

#[tokio::test]
async fn stable_token_hands_out_a_new_one_near_expiry_with_overlap() {
    let server = mock(MockConfig { token_ttl: 2, ..Default::default() }).await;
    let a = stable(&server.url(), false).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = stable(&server.url(), false).await;
    assert_ne!(a["access_token"], b["access_token"]);
    assert_eq!(works(&server, &a, 1).await, Ok(()));
}

#[tokio::test]
async fn forced_refresh_invalidates_the_previous_token() {
    let server = mock(MockConfig::default()).await;
    let a = stable(&server.url(), false).await;
    let b = stable(&server.url(), true).await;
    assert_ne!(a["access_token"], b["access_token"]);
    assert_eq!(works(&server, &a, 1).await, Err(40001));
    assert_eq!(works(&server, &b, 2).await, Ok(()));
    assert_eq!(server.stats().forced_refreshes, 1);
    // At most one forced refresh every 30 s.
    assert_eq!(stable(&server.url(), true).await["errcode"], 45011);
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let server = mock(MockConfig::default()).await;
    let v: Value =
        reqwest::get(format!("{}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret=wrong", server.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(v["errcode"], 40125);
    let v: Value = reqwest::get(format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid=wxother&secret={SECRET}",
        server.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(v["errcode"], 40013);
}

#[tokio::test]
async fn client_msg_id_deduplicates_and_the_record_counts() {
    let server = mock(MockConfig::default()).await;
    let s = sender(&server, None);
    let body = template_body(&openid("oWx", 1));
    let first = s.send(Kind::Template, &body).await.unwrap().0;
    let again = s.send(Kind::Template, &body).await.unwrap().0;
    assert_eq!(first, again, "the duplicate gets the original msgid");
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.deduplicated, stats.duplicate_deliveries), (1, 1, 0));
    assert_eq!(server.records().len(), 1);
}

#[tokio::test]
async fn without_dedupe_a_repeat_is_delivered_and_counted_as_a_duplicate_delivery() {
    let server = mock(MockConfig { no_dedupe: true, ..MockConfig::default() }).await;
    let s = sender(&server, None);
    let body = template_body(&openid("oWx", 1));
    s.send(Kind::Template, &body).await.unwrap();
    s.send(Kind::Template, &body).await.unwrap();
    s.send(Kind::Template, &template_body(&openid("oWx", 2))).await.unwrap();
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.deduplicated, stats.duplicate_deliveries), (3, 0, 1));
    let records = server.records();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let same = |r: &Record| (r.touser.clone(), r.template_id.clone(), r.client_msg_id.clone(), r.data.clone());
    assert_eq!(same(&records[0]), same(&records[1]), "the same message twice");
    assert_ne!(records[0].msgid, records[1].msgid, "each delivery its own msgid");
    assert_eq!(records[2].touser, openid("oWx", 2));
    assert_eq!(records[2].data["thing1"]["value"], records[0].data["thing1"]["value"]);
}
