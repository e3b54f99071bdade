//! Delivery receipts against a real run: pushes signed as WeChat signs them (plaintext and safe
//! mode) are matched to rows; forged and replayed ones are refused; events import from a file;
//! `status --json` counts them.

mod common;

use std::path::Path;

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine;
use common::*;
use wxsend::mock::MockConfig;
use wxsend::wechat::push::signature;

const PUSH_TOKEN: &str = "push-token-123";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// Safe mode as WeChat does it: 16 random bytes, the length, the message, the appid; PKCS#7 to
/// 32 bytes; AES-256-CBC with the key's first 16 bytes as IV; base64.
fn encrypt(message: &str, appid: &str) -> String {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let key = engine.decode(format!("{AES_KEY}=")).unwrap();
    let mut plain = b"0123456789abcdef".to_vec();
    plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
    plain.extend_from_slice(message.as_bytes());
    plain.extend_from_slice(appid.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let len = plain.len();
    let cipher = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &key[..16]).unwrap();
    let out = cipher.encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut plain, len).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// `wxsend receipts serve` on a free port, with the push token and the AES key if any; its URL once it
/// says it listens (read from its output: a condition, not a wait).
/// In plaintext mode (no key) or safe mode (`aes_key`).
async fn serve_with(campaign: &Path, aes_key: Option<&str>) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env_remove("WXSEND_PUSH_AES_KEY");
    if let Some(key) = aes_key {
        cmd.env("WXSEND_PUSH_AES_KEY", key);
    }
    start_receipts_server(cmd).await
}

fn template_event(openid: &str, msgid: &str, status: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
    )
}

fn now() -> String {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string()
}

fn status(campaign: &Path) -> serde_json::Value {
    let out = wxsend(&["status", campaign.to_str().unwrap(), "--json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_pushes_are_matched_to_rows_and_forged_or_replayed_ones_refused() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let openids = mixed_openids(5, 0, 0);
    let campaign = write_campaign(dir.path(), "rcpt", Some(&server.url()), "rate = 200", &openids);
    let out = send_command(&campaign, &dir.path().join("cache"), &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let journal = dir.path().join(".wxsend/rcpt/recipients/journal.jsonl");
    let msgids: std::collections::HashMap<usize, String> =
        wxsend::journal::read_msgids(&journal).unwrap().into_iter().map(|(m, r)| (r, m)).collect();
    assert_eq!(msgids.len(), 5, "every accepted row keeps its msgid");
    let before = status(&campaign);
    assert_eq!(before["sent"], 5);
    assert_eq!(before["receipts"]["pending"], 5);

    let (serve, url) = serve_with(&campaign, None).await;
    let http = reqwest::Client::new();
    let (ts, nonce) = (now(), "n0nce".to_string());
    let sig = signature(&[PUSH_TOKEN, &ts, &nonce]);
    // Each push of WeChat's has its own nonce; a (timestamp, nonce) seen before is a replay.
    let signed =
        |nonce: &str| format!("signature={}&timestamp={ts}&nonce={nonce}", signature(&[PUSH_TOKEN, &ts, nonce]));

    // The URL handshake.
    let echo =
        http.get(format!("{url}/?signature={sig}&timestamp={ts}&nonce={nonce}&echostr=hello")).send().await.unwrap();
    assert_eq!(echo.text().await.unwrap(), "hello");
    // One hex digit changed (never "changed" to what it was: 1 signature in 16 starts with 0).
    let flipped = if sig.starts_with('0') { '1' } else { '0' };
    let forged = http
        .get(format!("{url}/?signature={flipped}{}&timestamp={ts}&nonce={nonce}&echostr=hello", &sig[1..]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // Plaintext pushes for rows 1 and 2, and one for a message of another campaign.
    let post = |query: String, body: String| {
        let http = http.clone();
        let url = url.clone();
        async move { http.post(format!("{url}/wx?{query}")).body(body).send().await.unwrap() }
    };
    assert_eq!(
        post(signed("n1"), template_event(&openids[0], &msgids[&0], "success")).await.text().await.unwrap(),
        "success"
    );
    assert_eq!(post(signed("n2"), template_event(&openids[1], &msgids[&1], "failed:user block")).await.status(), 200);
    assert_eq!(
        post(signed("n3"), template_event("oSomeoneElse00000000000000000", "999", "success")).await.status(),
        200
    );
    // The same push again (its query seen in a log): a replay, refused.
    assert_eq!(post(signed("n1"), template_event(&openids[2], &msgids[&2], "success")).await.status(), 403);

    // Forged and replayed: refused, nothing recorded.
    let bad = format!("signature={}&timestamp={ts}&nonce={nonce}", signature(&["wrong-token", &ts, &nonce]));
    assert_eq!(post(bad, template_event(&openids[2], &msgids[&2], "success")).await.status(), 403);
    let old = (ts.parse::<u64>().unwrap() - 600).to_string();
    let replay = format!("signature={}&timestamp={old}&nonce={nonce}", signature(&[PUSH_TOKEN, &old, &nonce]));
    assert_eq!(post(replay, template_event(&openids[2], &msgids[&2], "success")).await.status(), 403);

    drop(serve);

    // Safe mode for row 3: only encrypted pushes with their msg_signature.
    let (serve, url) = serve_with(&campaign, Some(AES_KEY)).await;
    let post = |query: String, body: String| {
        let http = http.clone();
        let url = url.clone();
        async move { http.post(format!("{url}/wx?{query}")).body(body).send().await.unwrap() }
    };
    let encrypted = encrypt(&template_event(&openids[3], &msgids[&3], "failed: system failed"), APPID);
    let msg_sig = signature(&[PUSH_TOKEN, &ts, "n4", &encrypted]);
    let body =
        format!("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
    let safe = format!("{}&encrypt_type=aes&msg_signature={msg_sig}", signed("n4"));
    assert_eq!(post(safe.clone(), body.clone()).await.status(), 200);
    assert_eq!(post(safe, body.clone()).await.status(), 403, "a replayed encrypted push");
    let tampered =
        format!("{}&encrypt_type=aes&msg_signature={}", signed("n5"), signature(&[PUSH_TOKEN, &ts, "n5", "other"]));
    assert_eq!(post(tampered, body).await.status(), 403);
    // A real push's query (seen in a proxy's log) with a forged plaintext body: safe mode does
    // not fall back to plaintext.
    let forged = post(signed("n6"), template_event(&openids[4], &msgids[&4], "failed:user block")).await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("safe mode accepts only encrypted pushes"));

    let s = status(&campaign);
    assert_eq!(s["receipts"]["success"], 1, "{s}");
    assert_eq!(s["receipts"]["user_block"], 1, "{s}");
    assert_eq!(s["receipts"]["system_failed"], 1, "{s}");
    assert_eq!(s["receipts"]["pending"], 2, "{s}");
    assert_eq!(s["receipts"]["user_block"], 1, "the forged block was not recorded: {s}");
    assert_eq!(s["receipts_unmatched"], 1, "{s}");
    drop(serve);

    // The blocked row goes into the failures export on request.
    let export = dir.path().join("with-blocked.csv");
    let out =
        wxsend(&["status", campaign.to_str().unwrap(), "--export", export.to_str().unwrap(), "--include-blocked"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.contains(&openids[1]) && text.contains("user_block"), "{text}");
    assert!(!text.contains(&openids[0]), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_import_from_a_file() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let openids = mixed_openids(3, 0, 0);
    let campaign = write_campaign(dir.path(), "imp", Some(&server.url()), "rate = 200", &openids);
    let out = send_command(&campaign, &dir.path().join("cache"), &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let journal = dir.path().join(".wxsend/imp/recipients/journal.jsonl");
    let msgids: std::collections::HashMap<usize, String> =
        wxsend::journal::read_msgids(&journal).unwrap().into_iter().map(|(m, r)| (r, m)).collect();
    let json = format!(
        r#"{{"ToUserName":"gh","FromUserName":"{}","CreateTime":1,"MsgType":"event","Event":"TEMPLATESENDJOBFINISH","MsgID":{},"Status":"success"}}"#,
        openids[2], msgids[&2]
    );
    let file = dir.path().join("events.txt");
    std::fs::write(&file, format!("{}\n{json}\nnot an event\n", template_event(&openids[0], &msgids[&0], "success")))
        .unwrap();
    let out = wxsend(&["receipts", "import", campaign.to_str().unwrap(), file.to_str().unwrap()], &[]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("recorded 2 receipts (2 matched to rows, 0 unmatched)"), "{text}");
    assert!(text.contains("events.txt:3"), "the line that is not an event is named: {text}");
    let s = status(&campaign);
    assert_eq!((s["receipts"]["success"].as_u64(), s["receipts"]["pending"].as_u64()), (Some(2), Some(1)), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_before_the_send_matches_the_rows_sent_after() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let openids = mixed_openids(2, 0, 0);
    let campaign = write_campaign(dir.path(), "early", Some(&server.url()), "rate = 200", &openids);
    let (serve, url) = serve_with(&campaign, None).await;
    // The send runs while the server is up: its msgids are not known to the server yet.
    let out = send_command(&campaign, &dir.path().join("cache"), &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let journal = dir.path().join(".wxsend/early/recipients/journal.jsonl");
    let msgids: std::collections::HashMap<usize, String> =
        wxsend::journal::read_msgids(&journal).unwrap().into_iter().map(|(m, r)| (r, m)).collect();
    let (ts, nonce) = (now(), "n".to_string());
    let q = format!("signature={}&timestamp={ts}&nonce={nonce}", signature(&[PUSH_TOKEN, &ts, &nonce]));
    let reply = reqwest::Client::new()
        .post(format!("{url}/?{q}"))
        .body(template_event(&openids[1], &msgids[&1], "success"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    drop(serve);
    let s = status(&campaign);
    assert_eq!((s["receipts"]["success"].as_u64(), s["receipts_unmatched"].as_u64()), (Some(1), Some(0)), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_aes_key_is_refused_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let campaign =
        write_campaign(dir.path(), "badkey", Some("http://127.0.0.1:9"), "rate = 10", &mixed_openids(2, 0, 0));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
        .args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env("WXSEND_PUSH_AES_KEY", "too-short")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[receipts] aes_key is not an EncodingAESKey"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_pushed_as_soon_as_wechat_accepts_are_all_matched() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let rows = 2000;
    let openids = mixed_openids(rows, 0, 0);
    let campaign = write_campaign(dir.path(), "quick", Some(&server.url()), "rate = 1000\nconcurrency = 8", &openids);
    let (serve, url) = serve_with(&campaign, None).await;
    let send = send_command(&campaign, &dir.path().join("cache"), &[]).spawn().unwrap();
    // WeChat pushes each receipt right after it accepted the message: usually before the
    // sender's journal has its msgid.
    let http = reqwest::Client::new();
    let ts = now();
    let mut pushed = 0;
    while pushed < rows {
        let records = server.records();
        for r in &records[pushed..] {
            let nonce = format!("q{pushed}");
            let q = format!("signature={}&timestamp={ts}&nonce={nonce}", signature(&[PUSH_TOKEN, &ts, &nonce]));
            let body = template_event(&r.touser, r.msgid.as_deref().unwrap(), "success");
            let reply = http.post(format!("{url}/?{q}")).body(body).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            pushed += 1;
        }
        if pushed < rows {
            wait_until(|| server.records().len() > pushed).await;
        }
    }
    let out = send.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    drop(serve);
    let s = status(&campaign);
    assert_eq!(s["receipts"]["success"], rows, "{s}");
    assert_eq!(s["receipts_unmatched"], 0, "{s}");
    assert_eq!(s["receipts"]["pending"], 0, "{s}");
}
