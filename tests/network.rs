//! The company network, all on 127.0.0.1: a CONNECT proxy that alone resolves the API host, a
//! TLS server with a private CA, NO_PROXY, an untrusted certificate, a proxy wanting credentials
//! and plain HTTP through a proxy. The real binary runs against the embedded mock behind them.

mod common;
#[path = "common/net.rs"]
mod net;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use net::*;
use wxsend::mock::{MockConfig, MockServer};

const PROXY_VARS: [&str; 8] =
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"];

/// The mock behind a TLS front whose certificate a private CA signed; the CA's PEM is written
/// to `dir/corp-ca.pem` for the campaigns that trust it.
async fn corporate(dir: &Path) -> (MockServer, SocketAddr) {
    let pki = TestPki::new();
    let server = mock(MockConfig::default()).await;
    let front = tls_front(&pki, addr(&server)).await;
    std::fs::write(dir.join("corp-ca.pem"), &pki.ca_pem).unwrap();
    (server, front)
}

fn addr(server: &MockServer) -> SocketAddr {
    server.url().trim_start_matches("http://").parse().unwrap()
}

/// `wxsend send` with the test secret, no proxy variables but `env`.
async fn send(campaign: &Path, cache: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = send_command(campaign, cache, &[]);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_connect_proxy_to_a_host_only_it_resolves_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let (proxy, log) = connect_proxy(front, addr(&server), Some("Basic b3BzOnMzY3JldA==".into())).await;
    let network = format!("rate = 200\n[network]\nproxy = \"http://ops:s3cret@{proxy}\"\nca_file = \"corp-ca.pem\"\n");
    let campaign = write_campaign(
        dir.path(),
        "proxied",
        Some(&format!("https://{PRIVATE_HOST}")),
        &network,
        &mixed_openids(30, 0, 0),
    );

    let (code, out) = send(&campaign, &dir.path().join("cache"), &[]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(server.stats().accepted, 30);
    assert!(out.contains(&format!("api: https://{PRIVATE_HOST} (proxy http://{proxy} (with credentials))")), "{out}");
    assert!(!out.contains("s3cret"), "the proxy password is never printed: {out}");
    let log = log.lock().unwrap().clone();
    assert!(!log.connects.is_empty() && log.connects.iter().all(|c| c == &format!("{PRIVATE_HOST}:443")), "{log:?}");
    assert!(log.auth.iter().all(|a| a == "Basic b3BzOnMzY3JldA=="), "{log:?}");

    // The same through HTTPS_PROXY, trusting the CA through SSL_CERT_FILE instead of ca_file.
    let before = log.connects.len();
    let (proxy_open, log_open) = connect_proxy(front, addr(&server), None).await;
    let campaign = write_campaign(
        dir.path(),
        "env",
        Some(&format!("https://{PRIVATE_HOST}")),
        "rate = 200",
        &mixed_openids(5, 0, 0),
    );
    let ca = dir.path().join("corp-ca.pem");
    let (code, out) = send(
        &campaign,
        &dir.path().join("cache2"),
        &[("HTTPS_PROXY", &format!("http://{proxy_open}")), ("SSL_CERT_FILE", ca.to_str().unwrap())],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(!log_open.lock().unwrap().connects.is_empty());
    assert_eq!(log.connects.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_bypasses_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let (proxy, log) = connect_proxy(front, addr(&server), None).await;
    let network = "rate = 200\n[network]\nca_file = \"corp-ca.pem\"\n";
    let base = format!("https://localhost:{}", front.port());
    let campaign = write_campaign(dir.path(), "direct", Some(&base), network, &mixed_openids(10, 0, 0));
    let (code, out) = send(
        &campaign,
        &dir.path().join("cache"),
        &[("HTTPS_PROXY", &format!("http://{proxy}")), ("NO_PROXY", "example.com,localhost")],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("api: {base} (direct)")), "{out}");
    assert_eq!(server.stats().accepted, 10);
    assert!(log.lock().unwrap().connects.is_empty(), "NO_PROXY: the proxy saw nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_explained_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let base = format!("https://localhost:{}", front.port());
    let campaign = write_campaign(dir.path(), "untrusted", Some(&base), "rate = 200", &mixed_openids(10, 0, 0));
    let (code, out) = send(&campaign, &dir.path().join("cache"), &[]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "the TLS certificate of localhost was issued by a certificate authority this machine does not trust"
        ),
        "{out}"
    );
    assert!(out.contains("set `ca_file`"), "{out}");
    assert_eq!(server.stats().send_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_wanting_credentials_or_refusing_the_host_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let (proxy, _) = connect_proxy(front, addr(&server), Some("Basic b3BzOnMzY3JldA==".into())).await;
    let network = format!("rate = 200\n[network]\nproxy = \"http://{proxy}\"\nca_file = \"corp-ca.pem\"\n");
    let campaign =
        write_campaign(dir.path(), "auth", Some(&format!("https://{PRIVATE_HOST}")), &network, &mixed_openids(3, 0, 0));
    let (code, out) = send(&campaign, &dir.path().join("cache"), &[]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("the proxy {}:{}", proxy.ip(), proxy.port())) && out.contains("wants credentials (407"),
        "{out}"
    );

    let (open, _) = connect_proxy(front, addr(&server), None).await;
    let network = format!("rate = 200\n[network]\nproxy = \"http://{open}\"\nca_file = \"corp-ca.pem\"\n");
    let campaign =
        write_campaign(dir.path(), "refused", Some("https://elsewhere.test"), &network, &mixed_openids(3, 0, 0));
    let (code, out) = send(&campaign, &dir.path().join("cache"), &[]).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("refused a tunnel to elsewhere.test:443 (403 Forbidden)"), "{out}");
    assert_eq!(server.stats().send_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_goes_to_the_proxy_in_absolute_form() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let (proxy, log) = connect_proxy(front, addr(&server), None).await;
    let campaign = write_campaign(
        dir.path(),
        "plain",
        Some(&format!("http://{PRIVATE_HOST}")),
        "rate = 200",
        &mixed_openids(4, 0, 0),
    );
    let (code, out) = send(&campaign, &dir.path().join("cache"), &[("HTTP_PROXY", &format!("http://{proxy}"))]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(server.stats().accepted, 4);
    let log = log.lock().unwrap().clone();
    assert!(log.plain.iter().any(|l| l.starts_with(&format!("POST http://{PRIVATE_HOST}/cgi-bin/"))), "{log:?}");
}

fn doctor(campaign: &Path, cache: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(["doctor", campaign.to_str().unwrap()]).env("WXSEND_TEST_SECRET", SECRET).env("WXSEND_CACHE_DIR", cache);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_walks_every_step_through_a_proxy_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, front) = corporate(dir.path()).await;
    let (proxy, _) = connect_proxy(front, addr(&server), None).await;
    let network = format!("rate = 200\n[network]\nproxy = \"http://{proxy}\"\nca_file = \"corp-ca.pem\"\n");
    let campaign =
        write_campaign(dir.path(), "doc", Some(&format!("https://{PRIVATE_HOST}")), &network, &mixed_openids(3, 0, 0));
    // The samples' template, which the mock account lists.
    let text = std::fs::read_to_string(&campaign)
        .unwrap()
        .replace("template_id = \"TID\"", "template_id = \"TPL_ORDER_SHIPPED\"");
    std::fs::write(&campaign, text).unwrap();
    let (code, out) = tokio::task::spawn_blocking({
        let (campaign, cache) = (campaign.clone(), dir.path().join("cache"));
        move || doctor(&campaign, &cache, &[])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}");
    for step in ["✓ configuration", "✓ proxy", "✓ dns", "✓ tcp", "✓ tunnel", "✓ tls", "✓ token", "✓ quota", "✓ clock"]
    {
        assert!(out.contains(step), "{step}:\n{out}");
    }
    assert!(out.contains(&format!("{PRIVATE_HOST} is resolved by the proxy")), "{out}");
    assert!(out.contains("issued by Corp Inspection CA"), "{out}");
    assert!(out.contains("TPL_ORDER_SHIPPED 「订单发货提醒」 is in the account's list"), "{out}");
    assert!(out.contains("ready to send"), "{out}");
    // The same walk in Chinese: step names stay (they are identifiers), the words are Chinese.
    let (code, zh) = tokio::task::spawn_blocking({
        let (campaign, cache) = (campaign.clone(), dir.path().join("cache"));
        move || doctor(&campaign, &cache, &[("WXSEND_LANG", "zh-CN")])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{zh}");
    for words in [
        "✓ configuration 活动 doc",
        "由代理解析）",
        "的证书已验证，签发者 Corp Inspection CA",
        "在账号的模板列表中",
        "可以发送",
    ] {
        assert!(zh.contains(words), "{words}:\n{zh}");
    }

    // An id the account does not have fails that step.
    let text = std::fs::read_to_string(&campaign).unwrap().replace("TPL_ORDER_SHIPPED", "TPL_GONE");
    std::fs::write(&campaign, text).unwrap();
    let (code, out) = tokio::task::spawn_blocking({
        let (campaign, cache) = (campaign.clone(), dir.path().join("cache"));
        move || doctor(&campaign, &cache, &[])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("✗ template") && out.contains("\"TPL_GONE\" is not in the account's list"), "{out}");
    assert_eq!(server.stats().send_requests, 0, "doctor sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_ip_to_whitelist_on_40164() {
    let server = mock(MockConfig { refuse_ip: Some("203.0.113.7".into()), ..MockConfig::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "ip", Some(&server.url()), "rate = 200", &mixed_openids(3, 0, 0));
    let (code, out) = tokio::task::spawn_blocking({
        let (campaign, cache) = (campaign.clone(), dir.path().join("cache"));
        move || doctor(&campaign, &cache, &[])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("✓ tcp") && out.contains("✗ token"), "{out}");
    assert!(out.contains("WeChat refused the request from IP 203.0.113.7"), "{out}");
    assert!(out.contains("IP白名单"), "{out}");
    assert!(!out.contains("✓ quota"), "{out}");
}
