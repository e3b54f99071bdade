//! `token = "component"` end to end on loopback: the mock (as WeChat) pushes a signed, encrypted
//! `component_verify_ticket` to `wxsend receipts serve`; a campaign sends for a merchant with the
//! platform's chain (ticket → component_access_token → authorizer_access_token); a rotated
//! refresh token is saved and works on the next run while the old one is refused; a withdrawn
//! merchant stops the run before anything is sent; two processes on one Redis fetch the
//! merchant's token once; no secret of the chain appears in anything the runs wrote.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::component::{AES_KEY, COMPONENT_APPID, COMPONENT_SECRET, PUSH_TOKEN};
use wxsend::mock::{MockConfig, MockServer};

const SECRET_VAR: &str = "WXSEND_TEST_COMPONENT_SECRET";
const REFRESH_VAR: &str = "WXSEND_TEST_REFRESH_TOKEN";

/// A component campaign for merchant `APPID` of `rows` recipients in `dir`.
fn component_campaign(dir: &Path, name: &str, server: &MockServer, rows: usize, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let openids: Vec<String> = (0..rows).map(|i| openid(&format!("oC{name}"), i)).collect();
    let path = write_campaign(dir, name, Some(&server.url()), "rate = 500", &openids);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "secret_env = \"WXSEND_TEST_SECRET\"\n",
        &format!(
            "token = \"component\"\ncomponent_appid = \"{COMPONENT_APPID}\"\ncomponent_secret_env = \"{SECRET_VAR}\"\nticket = \"receipts\"\nrefresh_token_env = \"{REFRESH_VAR}\"\n{extra}"
        ),
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn post(server: &MockServer, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().post(format!("{}{path}", server.url())).send().await.unwrap();
    r.json().await.unwrap()
}

/// Merchant `APPID` authorizes the mock's platform: its first refresh token.
async fn authorize(server: &MockServer) -> String {
    let answer = post(server, &format!("/mock/authorize?appid={APPID}")).await;
    answer["authorizer_refresh_token"].as_str().unwrap().to_string()
}

/// `wxsend receipts serve` for `campaign` with the platform's push token and key, its token
/// cache in `cache`; its URL once it says it listens.
async fn serve(campaign: &Path, cache: &Path) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env("WXSEND_PUSH_AES_KEY", AES_KEY)
        .env("WXSEND_CACHE_DIR", cache)
        .env("WXSEND_LEDGER_DIR", ledger_beside(cache));
    start_receipts_server(cmd).await
}

/// A send of `campaign` with the platform's secret and `refresh` as the first refresh token.
fn send(campaign: &Path, cache: &Path, refresh: &str, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = send_command(campaign, cache, extra);
    cmd.env(SECRET_VAR, COMPONENT_SECRET).env(REFRESH_VAR, refresh).env_remove("WXSEND_REDIS_URL");
    cmd
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The one file in `dir` whose name ends with `suffix`.
fn find(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> =
        files(dir).into_iter().map(|(p, _)| p).filter(|p| p.to_string_lossy().ends_with(suffix)).collect();
    assert_eq!(found.len(), 1, "one {suffix} in {}: {found:?}", dir.display());
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_ticket_then_a_campaign_sent_for_a_merchant_with_its_own_token_and_a_rotation_saved() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let refresh0 = authorize(&server).await;
    post(&server, "/mock/rotate-refresh-tokens?on=true").await;
    let campaign = component_campaign(dir.path(), "merchant", &server, 50, "");

    // Before any ticket: the run stops, saying what to do.
    let out = send(&campaign, &cache, &refresh0, &[]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("component_verify_ticket") && text.contains("receipts serve"), "{text}");
    assert_eq!(server.stats().send_requests, 0);

    // WeChat pushes the ticket to `receipts serve`, which keeps it (0600).
    let (receiver, url) = serve(&campaign, &cache).await;
    let pushed = post(&server, &format!("/mock/push-ticket?url={url}/auth")).await;
    assert_eq!((pushed["status"].as_u64(), pushed["answer"].as_str()), (Some(200), Some("success")), "{pushed}");
    let ticket_file = find(&cache, ".ticket.json");
    assert_eq!(mode(&ticket_file), 0o600);
    let ticket: serde_json::Value = serde_json::from_slice(&std::fs::read(&ticket_file).unwrap()).unwrap();
    let ticket = ticket["component_verify_ticket"].as_str().unwrap().to_string();
    drop(receiver);

    let out = send(&campaign, &cache, &refresh0, &[]).output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let stats = server.stats();
    assert_eq!(stats.accepted, 50);
    assert_eq!(stats.accepted_by_authorizer.get(APPID), Some(&50), "every message with the merchant's token");
    assert_eq!((stats.component_token_calls, stats.authorizer_token_calls), (1, 1));

    // The rotated refresh token was saved (0600) and is not the first one.
    let refresh_file = find(&cache, ".refresh.json");
    assert_eq!(mode(&refresh_file), 0o600);
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&refresh_file).unwrap()).unwrap();
    let refresh1 = kept["authorizer_refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh0);

    // A second run with the merchant's token forgotten: the saved refresh token gets a new one
    // (the variable still holds the old one, read only while none is kept).
    for (p, _) in files(&cache) {
        if p.file_name().unwrap().to_string_lossy().starts_with(APPID) {
            std::fs::remove_file(p).unwrap();
        }
    }
    let again = component_campaign(&dir.path().join("second"), "again", &server, 5, "");
    let out = send(&again, &cache, &refresh0, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.stats().authorizer_token_calls, 2);
    assert_eq!(server.stats().accepted_by_authorizer.get(APPID), Some(&55));

    // The old refresh token is refused: a cache without the saved one stops with 61023.
    let fresh = dir.path().join("fresh-cache");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::copy(&ticket_file, fresh.join(ticket_file.file_name().unwrap())).unwrap();
    let third = component_campaign(&dir.path().join("third"), "third", &server, 5, "");
    let out = send(&third, &fresh, &refresh0, &[]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("61023"), "{text}");

    // No secret of the chain in anything the runs wrote or printed (the token cache is where
    // tokens are kept, 0600, and is not searched; everything else is).
    let tokens: Vec<String> = files(&cache)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|(_, b)| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["access_token"].as_str().map(str::to_string))
        .collect();
    assert_eq!(tokens.len(), 2, "the platform's and the merchant's tokens are cached: {tokens:?}");
    let status =
        wxsend(&["status", campaign.to_str().unwrap(), "--json"], &[("WXSEND_CACHE_DIR", cache.to_str().unwrap())]);
    let mut written: Vec<(PathBuf, Vec<u8>)> =
        files(dir.path()).into_iter().filter(|(p, _)| !p.starts_with(&cache) && !p.starts_with(&fresh)).collect();
    written.push(("send output".into(), [stdout.as_bytes(), stderr.as_bytes()].concat()));
    written.push(("status --json".into(), [status.stdout, status.stderr].concat()));
    for secret in [COMPONENT_SECRET, &ticket, &refresh0, &refresh1, &tokens[0], &tokens[1]] {
        for (path, bytes) in &written {
            let hit = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!hit, "{} holds a secret of the chain", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_merchant_stops_the_run_before_anything_is_sent() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let refresh = authorize(&server).await;
    let campaign = component_campaign(dir.path(), "gone", &server, 10, "");
    let (receiver, url) = serve(&campaign, &cache).await;
    post(&server, &format!("/mock/push-ticket?url={url}/auth")).await;

    // Before the withdrawal, the doctor walks the chain: every link holds.
    let doctor = |cache: &Path| {
        let envs = [
            (SECRET_VAR, COMPONENT_SECRET),
            (REFRESH_VAR, refresh.as_str()),
            ("WXSEND_CACHE_DIR", cache.to_str().unwrap()),
        ];
        let out = wxsend(&["doctor", campaign.to_str().unwrap()], &envs);
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    // (The test's template id is not in the mock account's list: the template step fails.)
    let (_, text) = doctor(&cache);
    for step in ["ticket", "platform", "merchant", "token"] {
        assert!(text.lines().any(|l| l.contains(step) && l.contains('✓')), "{step} ✓: {text}");
    }
    assert!(text.contains("received") && text.contains("valid 12 h"), "{text}");

    // The merchant withdraws; WeChat tells the platform, and `receipts serve` records it.
    let told = post(&server, &format!("/mock/withdraw?appid={APPID}&url={url}/auth")).await;
    assert_eq!(told["answer"].as_str(), Some("success"), "{told}");
    drop(receiver);
    let (code, text) = doctor(&cache);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.lines().any(|l| l.contains("merchant") && l.contains('✗') && l.contains("withdrew")), "{text}");

    let out = send(&campaign, &cache, &refresh, &[]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("61023"), "names the errcode: {text}");
    assert!(text.contains("authorize the platform again"), "says what to do: {text}");
    assert!(text.contains(APPID), "names the merchant: {text}");
    assert_eq!(server.stats().send_requests, 0, "nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_redis_fetch_the_merchants_token_once() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let redis = redis_server::RedisServer::start(dir.path().join("redis"));
    let refresh = authorize(&server).await;
    post(&server, "/mock/rotate-refresh-tokens?on=true").await;
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a = component_campaign(&a_dir, "hosta", &server, 20, "");
    let b = component_campaign(&b_dir, "hostb", &server, 20, "");
    // The ticket reaches both hosts' caches (each runs its own `receipts serve`).
    let (a_cache, b_cache) = (dir.path().join("cache-a"), dir.path().join("cache-b"));
    for (campaign, cache) in [(&a, &a_cache), (&b, &b_cache)] {
        let (receiver, url) = serve(campaign, cache).await;
        post(&server, &format!("/mock/push-ticket?url={url}/auth")).await;
        drop(receiver);
    }
    let run = |campaign: &Path, cache: &Path| {
        let mut cmd = send(campaign, cache, &refresh, &[]);
        cmd.env("WXSEND_REDIS_URL", redis.url());
        cmd.output()
    };
    let (ra, rb) = tokio::join!(run(&a, &a_cache), run(&b, &b_cache));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.status.code(), Some(0), "{}", String::from_utf8_lossy(&ra.stderr));
    assert_eq!(rb.status.code(), Some(0), "{}", String::from_utf8_lossy(&rb.stderr));
    let stats = server.stats();
    assert_eq!(stats.accepted_by_authorizer.get(APPID), Some(&40));
    assert_eq!(stats.authorizer_token_calls, 1, "one host fetched, the other read it from Redis");
    assert_eq!(stats.component_token_calls, 1);
    // The rotation is in Redis, under WxJava's key, for every host.
    let mut conn = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let kept: String =
        redis::cmd("GET").arg(format!("wechat_authorizer_refresh_token:{APPID}")).query(&mut conn).unwrap();
    assert!(!kept.is_empty() && kept != refresh);
}
