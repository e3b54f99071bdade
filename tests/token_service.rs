//! `token = "url:…"`: a central token service made in the test (it alone holds the app secret
//! and asks the mock's stable_token); wxsend asks the service with its header, never WeChat's
//! token endpoints, and asks again after WeChat invalidates the token (40001).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxsend::mock::MockConfig;

/// A token service on 127.0.0.1: `GET /wx/<appid>` with `authorization: Bearer svc-key`
/// answers the mock's current token; anything else gets 401.
async fn token_service(mock_url: String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (counter, mock_url) = (counter.clone(), mock_url.clone());
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_lowercase();
                    let body = if text.starts_with(&format!("get /wx/{} ", APPID.to_lowercase()))
                        || text.starts_with(&format!("get /wx/{}?", APPID.to_lowercase()))
                    {
                        if !text.contains("authorization: bearer svc-key\r\n") {
                            let _ = socket
                                .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 6\r\n\r\nwho?\r\n")
                                .await;
                            continue;
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let answer = stable_token(&mock_url).await;
                        serde_json::json!({"access_token": answer["access_token"], "expires_in": answer["expires_in"]})
                            .to_string()
                    } else {
                        r#"{"errcode":404,"errmsg":"no such app"}"#.to_string()
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_token_service_is_used_and_asked_again_after_40001() {
    let server = mock(MockConfig { invalidate_tokens_at: vec![12], ..MockConfig::default() }).await;
    let (service, calls) = token_service(server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "svc", Some(&server.url()), "rate = 500", &mixed_openids(30, 0, 0));
    let text = std::fs::read_to_string(&campaign).unwrap().replace(
        "secret_env = \"WXSEND_TEST_SECRET\"\n",
        &format!("token = \"url:{service}/wx/{APPID}?key=k-77\"\ntoken_headers = {{ Authorization = \"env:TOKEN_SVC_AUTH\" }}\n"),
    );
    std::fs::write(&campaign, text).unwrap();

    let mut cmd = send_command(&campaign, &dir.path().join("cache"), &[]);
    cmd.env_remove("WXSEND_TEST_SECRET").env("TOKEN_SVC_AUTH", "Bearer svc-key");
    let out = cmd.output().await.unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert_eq!(server.stats().accepted, 30);
    let asked = calls.load(Ordering::SeqCst);
    assert!(asked >= 2, "asked again after the invalidation: {asked}");
    let stats = server.stats();
    assert_eq!(stats.stable_token_calls as usize, asked, "every WeChat token call came from the service");
    assert_eq!(stats.token_calls, 0);
    assert!(!all.contains("svc-key") && !all.contains("k-77"), "{all}");

    // A wrong key: the service's refusal is shown, nothing is sent.
    let mut cmd = send_command(&campaign, &dir.path().join("cache"), &["--new-run"]);
    cmd.env_remove("WXSEND_TEST_SECRET").env("TOKEN_SVC_AUTH", "Bearer wrong");
    let before = server.stats().send_requests;
    let out = cmd.output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("the token service {service}/wx/{APPID} failed: HTTP 401")), "{err}");
    assert!(!err.contains("k-77") && !err.contains("Bearer wrong"), "{err}");
    assert_eq!(server.stats().send_requests, before);
}
