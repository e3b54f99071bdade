//! The app secret and tokens never show up in errors, messages or Debug output.

mod common;

use common::*;
use wxsend::campaign::{Kind, TokenSpec};
use wxsend::mock::MockConfig;
use wxsend::wechat::{AccessToken, Secret, Sender, TokenCache, TokenSource, WechatClient};

const KNOWN_SECRET: &str = "KNOWN-secret-value-0123456789";
const KNOWN_TOKEN: &str = "KNOWNtokenValue0123456789abcdefghijklmnop";

fn assert_clean(text: &str) {
    assert!(!text.contains(KNOWN_SECRET), "secret leaked: {text}");
    assert!(!text.contains(KNOWN_TOKEN), "token leaked: {text}");
}

#[tokio::test]
async fn a_refused_secret_is_not_echoed() {
    let server = mock(MockConfig::default()).await;
    for spec in [TokenSpec::Stable, TokenSpec::ClientCredential] {
        let client = client(&server);
        let source = TokenSource::new(spec, APPID, Some(Secret::new(KNOWN_SECRET)), &client);
        assert_clean(&format!("{source:?}"));
        let cache = TokenCache::new(source, None);
        let err = cache.get().await.unwrap_err();
        assert!(err.to_string().contains("40125"), "{err}");
        assert_clean(&err.to_string());
        assert_clean(&format!("{err:?} {cache:?}"));
    }
}

#[tokio::test]
async fn transport_errors_do_not_carry_the_url_with_secret_or_token() {
    // A port nobody listens on: connection refused, with the secret/token in the query string.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = WechatClient::new(&base, std::time::Duration::from_secs(2)).unwrap();
    let source = TokenSource::new(TokenSpec::ClientCredential, APPID, Some(Secret::new(KNOWN_SECRET)), &client);
    let err = TokenCache::new(source, None).get().await.unwrap_err();
    assert_clean(&format!("{err} {err:?}"));
    let o = client.send(Kind::Template, &AccessToken::new(KNOWN_TOKEN), template_body(&openid("oWx", 1))).await;
    let text = format!("{o:?}");
    assert!(text.contains("cannot connect"), "{text}");
    assert_clean(&text);
}

#[tokio::test]
async fn a_failing_send_with_a_known_token_does_not_show_it() {
    let server = mock(MockConfig::default()).await;
    let var = "WXSEND_TEST_TOKEN_SECRETS";
    std::env::set_var(var, KNOWN_TOKEN);
    let client = client(&server);
    let tokens =
        std::sync::Arc::new(TokenCache::new(TokenSource::new(TokenSpec::Env(var.into()), APPID, None, &client), None));
    let s = Sender::new(client, tokens.clone());
    let (o, _) = s.send(Kind::Template, &template_body(&openid("oWx", 1))).await.unwrap();
    assert_clean(&format!("{o:?}"));
    assert_clean(&format!("{:?} {:?}", tokens.status(), s));
    assert_eq!(tokens.status().token.as_deref(), Some("KNOW…"));
}
