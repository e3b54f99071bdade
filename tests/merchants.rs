//! A third-party platform's merchants on loopback: `wxsend accounts --import-authorizers`
//! writes every merchant the mock's platform lists (two pages) as an account with its refresh
//! token saved 0600, keeps the accounts already there, prints no secret; `accounts --check`
//! tells an authorized merchant (with its quota) from a withdrawn one.

mod common;

use common::*;
use wxsend::mock::component::{AES_KEY, COMPONENT_APPID, COMPONENT_SECRET, PUSH_TOKEN};
use wxsend::mock::MockConfig;

const SECRET_VAR: &str = "WXSEND_TEST_COMPONENT_SECRET";
const REFRESH_VAR: &str = "WXSEND_TEST_REFRESH_TOKEN";
const MERCHANTS: usize = 150;

async fn post(url: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new().post(format!("{url}{path}")).send().await.unwrap().json().await.unwrap()
}

fn merchant(i: usize) -> String {
    format!("wxm{i:015}")
}

fn words(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platforms_merchants_are_imported_with_their_refresh_tokens_and_checked() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut refresh = Vec::new();
    for i in 0..MERCHANTS {
        let answer = post(&server.url(), &format!("/mock/authorize?appid={}", merchant(i))).await;
        refresh.push(answer["authorizer_refresh_token"].as_str().unwrap().to_string());
    }
    // The platform's own account: the first merchant, the ticket from `receipts serve`.
    let accounts = dir.path().join("accounts.toml");
    let platform = format!(
        "[accounts.platform-a]\nappid = \"{}\"\ntoken = \"component\"\ncomponent_appid = \"{COMPONENT_APPID}\"\n\
         component_secret_env = \"{SECRET_VAR}\"\nticket = \"receipts\"\nrefresh_token_env = \"{REFRESH_VAR}\"\napi_base = \"{}\"\n",
        merchant(0),
        server.url()
    );
    std::fs::write(&accounts, &platform).unwrap();
    let campaign = dir.path().join("c.toml");
    std::fs::write(
        &campaign,
        "name = \"c\"\n[wechat]\naccount = \"platform-a\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n[message.data]\nk = \"v\"\n[recipients]\nfile = \"r.csv\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("r.csv"), "openid\n").unwrap();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    serve
        .args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_LANG", "en")
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env("WXSEND_PUSH_AES_KEY", AES_KEY)
        .env("WXSEND_ACCOUNTS", &accounts)
        .env("WXSEND_CACHE_DIR", &cache);
    let (serve, url) = start_receipts_server(serve).await;
    let pushed = post(&server.url(), &format!("/mock/push-ticket?url={url}/auth")).await;
    assert_eq!(pushed["answer"], "success", "{pushed}");
    drop(serve);

    let env = [
        ("WXSEND_ACCOUNTS", accounts.to_str().unwrap()),
        ("WXSEND_CACHE_DIR", cache.to_str().unwrap()),
        (SECRET_VAR, COMPONENT_SECRET),
        (REFRESH_VAR, refresh[0].as_str()),
    ];
    let out = wxsend(&["accounts", "--import-authorizers", "platform-a"], &env);
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("{} merchants added as accounts, 1 already there", MERCHANTS - 1)), "{text}");
    assert_eq!(server.stats().authorizer_list_calls, 2, "two pages of 100");
    for secret in refresh.iter().map(String::as_str).chain([COMPONENT_SECRET]) {
        assert!(!text.contains(secret), "a secret was printed");
        assert!(!std::fs::read_to_string(&accounts).unwrap().contains(secret), "a secret in accounts.toml");
    }
    let written = std::fs::read_to_string(&accounts).unwrap();
    assert!(written.starts_with(&platform), "the existing account is kept as it was");
    let table: toml::Table = toml::from_str(&written).unwrap();
    let listed = table["accounts"].as_table().unwrap();
    assert_eq!(listed.len(), MERCHANTS);
    let last = &listed[&merchant(MERCHANTS - 1)];
    assert_eq!(last["token"].as_str(), Some("component"));
    assert_eq!(last["component_appid"].as_str(), Some(COMPONENT_APPID));
    assert_eq!(last["api_base"].as_str(), Some(server.url().as_str()));
    // Each new merchant's refresh token, 0600 in the token cache folder.
    for (i, token) in refresh.iter().enumerate().skip(1) {
        let file = cache.join(format!("component-{COMPONENT_APPID}-{}.refresh.json", merchant(i)));
        let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(kept["authorizer_refresh_token"], token.as_str());
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
    // Again: nothing new, nothing rewritten.
    let out = wxsend(&["accounts", "--import-authorizers", "platform-a"], &env);
    assert!(
        words(&out).contains(&format!("0 merchants added as accounts, {MERCHANTS} already there")),
        "{}",
        words(&out)
    );
    assert_eq!(std::fs::read_to_string(&accounts).unwrap(), written);

    // --check: one merchant withdraws; the others are authorized with their quota.
    post(&server.url(), &format!("/mock/withdraw?appid={}", merchant(7))).await;
    let out = wxsend(&["accounts", "--check", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", words(&out));
    let checked: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checked.len(), MERCHANTS);
    let state =
        |i: usize| checked.iter().find(|m| m["appid"] == merchant(i).as_str()).unwrap()["authorization"].clone();
    assert_eq!(state(7)["state"], "withdrawn");
    assert_eq!(state(8)["state"], "authorized");
    let eighth = checked.iter().find(|m| m["appid"] == merchant(8).as_str()).unwrap();
    assert!(eighth["quota"]["remain"].as_u64().is_some(), "{eighth}");
    let out = wxsend(&["accounts", "--check"], &env);
    let text = words(&out);
    assert!(text.contains(&format!("{}  withdrawn (61023)", merchant(7))), "{text}");
    assert!(!refresh.iter().any(|r| text.contains(r.as_str())), "a refresh token was printed");
}
