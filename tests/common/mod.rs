//! Helpers shared by the integration tests: the embedded mock on 127.0.0.1 and clients for it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use wxsend::campaign::{Kind, TokenSpec};
use wxsend::mock::{MockConfig, MockServer};
use wxsend::wechat::{Secret, Sender, TokenCache, TokenSource, WechatClient};

pub const APPID: &str = "wx0123456789abcdef";
pub const SECRET: &str = "app-secret-for-tests-0001";

pub async fn mock(config: MockConfig) -> MockServer {
    MockServer::start(MockConfig { appid: Some(APPID.into()), secret: Some(SECRET.into()), ..config })
        .await
        .expect("start mock")
}

pub fn client(server: &MockServer) -> WechatClient {
    WechatClient::new(&server.url(), Duration::from_secs(5)).expect("client")
}

pub fn cache(server: &MockServer, spec: TokenSpec, dir: Option<&Path>) -> Arc<TokenCache> {
    let client = client(server);
    let source = TokenSource::new(spec, APPID, Some(Secret::new(SECRET)), &client);
    Arc::new(TokenCache::new(source, dir))
}

pub fn sender(server: &MockServer, dir: Option<&Path>) -> Sender {
    Sender::new(client(server), cache(server, TokenSpec::Stable, dir))
}

/// A 28-character openid with `prefix`, unique per `n`.
pub fn openid(prefix: &str, n: usize) -> String {
    let tail = format!("{n:0>width$}", width = 28 - prefix.len());
    format!("{prefix}{tail}")
}

pub fn template_body(openid: &str) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "touser": openid,
            "template_id": "TID",
            "client_msg_id": format!("id-{openid}"),
            "data": { "thing1": { "value": "保温杯" } }
        }))
        .unwrap(),
    )
}

pub fn subscribe_body(openid: &str, thing: &str) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "touser": openid, "template_id": "TID", "data": { "thing1": { "value": thing } },
            "miniprogram_state": "formal", "lang": "zh_CN"
        }))
        .unwrap(),
    )
}

pub const TEMPLATE: Kind = Kind::Template;
