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

/// Write a template campaign and its recipients into `dir`; returns the campaign path.
pub fn write_campaign(
    dir: &Path,
    name: &str,
    api_base: Option<&str>,
    send: &str,
    rows: &[String],
) -> std::path::PathBuf {
    let api = api_base.map(|b| format!("api_base = \"{b}\"\n")).unwrap_or_default();
    let toml = format!(
        "name = \"{name}\"\n[wechat]\n{api}appid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TID\"\n[message.data]\nthing1 = \"{{{{product}}}}\"\ncharacter_string2 = \"{{{{order}}}}\"\n\
         [recipients]\ncsv = \"recipients.csv\"\n[send]\n{send}\n"
    );
    let mut csv = String::from("openid,product,order\n");
    for (i, openid) in rows.iter().enumerate() {
        csv.push_str(&format!("{openid},保温杯,SF{i:07}\n"));
    }
    std::fs::write(dir.join("recipients.csv"), csv).unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// Openids for `n` rows: plain ones, with every `refuse`-th refusing and every `bad`-th invalid at WeChat.
pub fn mixed_openids(n: usize, refuse: usize, bad: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if refuse > 0 && i % refuse == refuse - 1 {
                openid("oREFUSE", i)
            } else if bad > 0 && i % bad == bad - 1 {
                openid("oBAD", i)
            } else {
                openid("oWx", i)
            }
        })
        .collect()
}

/// The account ledger folder of a test whose token cache is `cache`: `<cache>.ledger`, beside it
/// (never the user's own ledger, never inside the cache).
pub fn ledger_beside(cache: &Path) -> std::path::PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".ledger");
    cache.with_file_name(name)
}

/// The mock's `stable_token` answer for the test app (`access_token`, `expires_in`).
pub async fn stable_token(mock_url: &str) -> serde_json::Value {
    stable_token_forced(mock_url, false).await
}

/// The mock's `stable_token` answer, with `force_refresh` as given.
pub async fn stable_token_forced(mock_url: &str, force: bool) -> serde_json::Value {
    let body = serde_json::json!({ "grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force });
    post_json(&format!("{mock_url}/cgi-bin/stable_token"), &body).await
}

/// POST `body` to `url` and its JSON answer.
pub async fn post_json(url: &str, body: &serde_json::Value) -> serde_json::Value {
    reqwest::Client::new().post(url).json(body).send().await.unwrap().json().await.unwrap()
}

/// Run the real binary.
pub fn wxsend(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(args);
    // Each test's account ledger beside its token cache (never the user's own); without a cache,
    // a folder that does not exist (readers find no ledger).
    let ledger = envs
        .iter()
        .find(|(k, _)| *k == "WXSEND_CACHE_DIR")
        .map(|(_, cache)| ledger_beside(Path::new(cache)))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("wxsend-tests-no-ledger-{}", std::process::id())));
    cmd.env("WXSEND_LEDGER_DIR", ledger);
    // English unless the test chooses (whatever the machine's locale).
    cmd.env("WXSEND_LANG", "en");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run wxsend")
}

/// Wait until `done()` holds, checking every 10 ms; panics after 60 s (a hang, not a slow machine).
pub async fn wait_until(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "the condition never held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `wxsend send CAMPAIGN --headless --yes --skip-template-check EXTRA…` with the test secret and a token cache in
/// `cache`; stdout and stderr piped.
pub fn send_command(campaign: &Path, cache: &Path, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    // The tests' own template ids are not in the mock account's list: skip that check here
    // (tests/templates.rs covers it).
    cmd.args(["send", campaign.to_str().unwrap(), "--headless", "--yes", "--skip-template-check"])
        .args(extra)
        .env("WXSEND_TEST_SECRET", SECRET)
        .env("WXSEND_CACHE_DIR", cache)
        .env("WXSEND_LEDGER_DIR", ledger_beside(cache))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Start `cmd` (a `wxsend receipts serve … --listen 127.0.0.1:0` command) and wait until it says
/// where it listens (read from its output: a condition, not a wait); the child and its URL.
pub async fn start_receipts_server(mut cmd: tokio::process::Command) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    cmd.stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next_line().await.unwrap().expect("serve printed its address");
        if let Some(rest) = line.strip_prefix("receiving WeChat's pushes on ") {
            return (child, rest.split(' ').next().unwrap().to_string());
        }
    }
}
