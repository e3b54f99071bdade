//! A third-party platform's merchants on loopback: `wxsend accounts --import-authorizers`
//! writes every merchant the mock's platform lists (two pages) as an account with its refresh
//! token saved 0600, keeps the accounts already there, prints no secret; `accounts --check`
//! tells an authorized merchant (with its quota) from a withdrawn one.

mod common;

use common::*;
use std::path::PathBuf;
use wxsend::mock::component::{AES_KEY, COMPONENT_APPID, COMPONENT_SECRET, PUSH_TOKEN};
use wxsend::mock::MockConfig;

const SECRET_VAR: &str = "WXSEND_TEST_COMPONENT_SECRET";
const REFRESH_VAR: &str = "WXSEND_TEST_REFRESH_TOKEN";
const MERCHANTS: usize = 150;

async fn post(url: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new().post(format!("{url}{path}")).send().await.unwrap().json().await.unwrap()
}

/// WeChat pushes the platform's ticket to `receipts serve` (run on a campaign of `account`),
/// which keeps it in `cache` for every account of the platform.
async fn push_ticket(
    server: &wxsend::mock::MockServer,
    dir: &std::path::Path,
    accounts: &std::path::Path,
    cache: &std::path::Path,
    account: &str,
) {
    let campaign = dir.join("serve.toml");
    let text = format!(
        "name = \"serve\"\n[wechat]\naccount = \"{account}\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n[message.data]\nk = \"v\"\n[recipients]\nfile = \"serve.csv\"\n"
    );
    std::fs::write(&campaign, text).unwrap();
    std::fs::write(dir.join("serve.csv"), "openid\n").unwrap();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    serve
        .args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_LANG", "en")
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env("WXSEND_PUSH_AES_KEY", AES_KEY)
        .env("WXSEND_ACCOUNTS", accounts)
        .env("WXSEND_CACHE_DIR", cache);
    let (serve, url) = start_receipts_server(serve).await;
    let pushed = post(&server.url(), &format!("/mock/push-ticket?url={url}/auth")).await;
    assert_eq!(pushed["answer"], "success", "{pushed}");
    drop(serve);
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
    push_ticket(&server, dir.path(), &accounts, &cache, "platform-a").await;

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

const SHOPS: [&str; 3] = ["shop-a", "shop-b", "shop-c"];
const ROWS_PER_SHOP: usize = 30;

fn shop_appid(i: usize) -> String {
    format!("wxshop{i:012}")
}

fn refresh_var(i: usize) -> String {
    format!("WXSEND_TEST_REFRESH_{i}")
}

/// The three shops of the mock's platform as accounts, its ticket pushed to `receipts serve`:
/// the accounts file, the token cache and each shop's first refresh token.
async fn three_shops(server: &wxsend::mock::MockServer, dir: &std::path::Path) -> (PathBuf, PathBuf, Vec<String>) {
    let cache = dir.join("cache");
    let accounts = dir.join("accounts.toml");
    let mut text = String::new();
    let mut refresh = Vec::new();
    for (i, shop) in SHOPS.iter().enumerate() {
        let answer = post(&server.url(), &format!("/mock/authorize?appid={}", shop_appid(i))).await;
        refresh.push(answer["authorizer_refresh_token"].as_str().unwrap().to_string());
        text.push_str(&format!(
            "[accounts.{shop}]\nappid = \"{}\"\ntoken = \"component\"\ncomponent_appid = \"{COMPONENT_APPID}\"\n\
             component_secret_env = \"{SECRET_VAR}\"\nticket = \"receipts\"\nrefresh_token_env = \"{}\"\napi_base = \"{}\"\n",
            shop_appid(i),
            refresh_var(i),
            server.url()
        ));
    }
    std::fs::write(&accounts, text).unwrap();
    push_ticket(server, dir, &accounts, &cache, "shop-a").await;
    (accounts, cache, refresh)
}

/// One campaign for the three shops: a list with a `shop` column, each shop's own template id;
/// of each shop's rows, one answered -1 once (one attempt: left for the next run), one
/// refused for good (48002) and one invalid openid (40003).
fn fleet_campaign(dir: &std::path::Path) -> PathBuf {
    let campaign = dir.join("notice.toml");
    std::fs::write(
        &campaign,
        "name = \"notice\"\n[wechat]\naccounts = [\"shop-a\", \"shop-b\", \"shop-c\"]\n[message]\nkind = \"template\"\n\
         [message.templates]\nshop-a = \"TPL_A\"\nshop-b = \"TPL_B\"\nshop-c = \"TPL_C\"\n[message.data]\nfirst = \"{{name}}\"\n\
         [recipients]\nfile = \"list.csv\"\naccount_column = \"shop\"\n[send]\nrate = 300\nmax_attempts = 1\n",
    )
    .unwrap();
    let mut list = String::from("shop,openid,name\n");
    for row in 0..ROWS_PER_SHOP {
        for (i, shop) in SHOPS.iter().enumerate() {
            let openid = match row {
                0 => openid(&format!("oFLAKY{i}"), row),
                1 => openid(&format!("oBLOCK{i}"), row),
                2 => openid(&format!("oBAD{i}"), row),
                _ => openid(&format!("o{i}x"), row),
            };
            list.push_str(&format!("{shop},{openid},顾客{row}\n"));
        }
    }
    std::fs::write(dir.join("list.csv"), list).unwrap();
    campaign
}

/// Every accepted message by the shop its authorizer token was issued for, and the templates
/// seen for each.
fn accepted_by_shop(server: &wxsend::mock::MockServer) -> Vec<(usize, std::collections::BTreeSet<String>)> {
    let records = server.records();
    (0..SHOPS.len())
        .map(|i| {
            let mine: Vec<_> =
                records.iter().filter(|r| r.authorizer.as_deref() == Some(shop_appid(i).as_str())).collect();
            (mine.len(), mine.iter().map(|r| r.template_id.clone()).collect())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_merchants_one_campaign_one_withdrawn_midway_stops_alone_and_the_failures_rerun() {
    let dir = tempfile::tempdir().unwrap();
    // The platform's template, under each shop's own id in each shop's own list: another
    // shop's id is refused (40037), as WeChat does.
    let templates = dir.path().join("templates.json");
    let entry = |id: &str| serde_json::json!({"template_id": id, "title": "到店通知", "content": "{{first.DATA}}\n{{remark.DATA}}", "example": ""});
    let apps: serde_json::Map<String, serde_json::Value> = ["TPL_A", "TPL_B", "TPL_C"]
        .iter()
        .enumerate()
        .map(|(i, id)| (shop_appid(i), serde_json::json!({"template": [entry(id)], "subscribe": []})))
        .collect();
    let list = serde_json::json!({"template": [], "subscribe": [], "apps": apps});
    std::fs::write(&templates, list.to_string()).unwrap();
    let server = mock(MockConfig { templates: Some(templates), ..MockConfig::default() }).await;
    let (accounts, cache, mut refresh) = three_shops(&server, dir.path()).await;
    let campaign = fleet_campaign(dir.path());
    // shop-b withdraws its authorization after ten of its messages were accepted.
    let answer = post(&server.url(), &format!("/mock/withdraw?appid={}&after=10", shop_appid(1))).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
    let send = |extra: &[&str], refresh: &[String]| {
        let mut cmd = send_command(&campaign, &cache, extra);
        cmd.env("WXSEND_ACCOUNTS", &accounts).env("WXSEND_LANG", "en").env(SECRET_VAR, COMPONENT_SECRET);
        for (i, token) in refresh.iter().enumerate() {
            cmd.env(refresh_var(i), token);
        }
        cmd
    };
    let mut check = vec![
        ("WXSEND_ACCOUNTS", accounts.to_str().unwrap()),
        ("WXSEND_CACHE_DIR", cache.to_str().unwrap()),
        (SECRET_VAR, COMPONENT_SECRET),
    ];
    let vars: Vec<String> = (0..3).map(refresh_var).collect();
    for (var, token) in vars.iter().zip(&refresh) {
        check.push((var.as_str(), token.as_str()));
    }
    // check: each shop's template verified against its own account's list, its quota, its rows.
    let out = wxsend(&["check", campaign.to_str().unwrap()], &check);
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for (i, shop) in SHOPS.iter().enumerate() {
        let row = format!(
            "{shop}    {}  TPL_{} (verified)  30     0          100,000     ready",
            shop_appid(i),
            ["A", "B", "C"][i]
        );
        assert!(text.contains(&row), "{text}");
    }
    assert!(text.contains("all 3 merchants are ready"), "{text}");
    // shop-b's id under shop-a: not in shop-a's list, so check refuses it before anything is sent.
    let swapped = dir.path().join("swapped.toml");
    std::fs::write(
        &swapped,
        std::fs::read_to_string(&campaign).unwrap().replace("shop-a = \"TPL_A\"", "shop-a = \"TPL_B\""),
    )
    .unwrap();
    let out = wxsend(&["check", swapped.to_str().unwrap()], &check);
    let text = words(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("TPL_B (NOT verified)") && text.contains("template does not match"), "{text}");
    let out = send(&[], &refresh).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(3), "a merchant stopped: {text}");
    assert!(text.contains("shop-b stopped alone (the others went on)"), "{text}");
    assert!(text.contains("61023") && text.contains("--import-authorizers"), "named with the fix: {text}");
    // Each message went out with its merchant's authorizer token and its merchant's template.
    let by_shop = accepted_by_shop(&server);
    let tpl = |t: &str| std::collections::BTreeSet::from([t.to_string()]);
    assert_eq!(by_shop[0], (ROWS_PER_SHOP - 3, tpl("TPL_A")), "shop-a completed");
    assert_eq!(by_shop[1], (10, tpl("TPL_B")), "shop-b stopped at its withdrawal");
    assert_eq!(by_shop[2], (ROWS_PER_SHOP - 3, tpl("TPL_C")), "shop-c completed");
    assert_eq!(server.stats().accepted, 2 * (ROWS_PER_SHOP - 3) as u64 + 10, "only with authorizer tokens");

    // report.json for programs: each merchant's ending in English, its files; 0600.
    let report = dir.path().join(".wxsend/notice/list/report.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["exit"], 3);
    assert_eq!(json["failed_rows"], 6);
    assert_eq!(json["merchants"][0]["state"], "completed");
    assert_eq!(json["merchants"][0]["sent"], 27);
    assert_eq!(json["merchants"][1]["state"], "stopped");
    assert!(json["merchants"][1]["reason"].as_str().unwrap().contains("61023"), "{json}");
    assert!(std::path::Path::new(json["merchants"][2]["journal"].as_str().unwrap()).exists(), "{json}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&report).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // status: a row per merchant, from each one's own state folder.
    let out = wxsend(&["status", campaign.to_str().unwrap(), "--json"], &check);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let of = |i: usize, key: &str| status["merchants"][i]["status"][key].as_u64().unwrap();
    assert_eq!([of(0, "sent"), of(1, "sent"), of(2, "sent")], [27, 10, 27], "{status}");
    assert_eq!(of(1, "pending"), 18, "shop-b's row answered -1 and its rows after the withdrawal: {status}");
    let out = wxsend(&["status", campaign.to_str().unwrap()], &check);
    assert!(words(&out).contains("shop-b    wxshop000000000001  10    2"), "{}", words(&out));
    // The merged failures file keeps the merchant column: the three shops' failed rows.
    let failures = dir.path().join(".wxsend/notice/list/failed.csv");
    let failed_rows = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        let text = text.trim_start_matches('\u{feff}');
        assert!(text.starts_with("shop,openid,name,wxsend_errcode"), "{text}");
        text.lines().skip(1).map(|l| l.split(',').take(2).collect::<Vec<_>>().join(",")).collect()
    };
    let mut expected: Vec<String> = Vec::new();
    for (i, shop) in SHOPS.iter().enumerate() {
        expected.push(format!("{shop},{}", openid(&format!("oBLOCK{i}"), 1)));
        expected.push(format!("{shop},{}", openid(&format!("oBAD{i}"), 2)));
    }
    let mut got = failed_rows(&failures);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // status --export writes the same rows, merged with the merchant column.
    let exported = dir.path().join("exported.csv");
    let out = wxsend(&["status", campaign.to_str().unwrap(), "--export", exported.to_str().unwrap()], &check);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    let mut again = failed_rows(&exported);
    again.sort();
    assert_eq!(again, expected);

    // shop-b authorizes the platform again; its new refresh token is given to the next runs.
    let answer = post(&server.url(), &format!("/mock/authorize?appid={}", shop_appid(1))).await;
    refresh[1] = answer["authorizer_refresh_token"].as_str().unwrap().to_string();
    // The failures file re-runs as it is: each row to its own merchant, the invalid openids left
    // out (--drop-permanent); the blocked ones are refused again and listed again.
    let out = send(&["--csv", failures.to_str().unwrap(), "--drop-permanent"], &refresh).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(server.stats().sends_by_errcode.get(&48002), Some(&6), "{text}");
    assert_eq!(server.stats().sends_by_errcode.get(&40003), Some(&3), "the permanent rows were left out: {text}");
    let again = failed_rows(&dir.path().join(".wxsend/notice/failed/failed.csv"));
    assert_eq!(again.len(), 3, "{again:?}");
    for (i, shop) in SHOPS.iter().enumerate() {
        assert!(again.contains(&format!("{shop},{}", openid(&format!("oBLOCK{i}"), 1))), "{again:?}");
    }
    // The first campaign resumed: what each shop left (the row answered -1, and shop-b's rows
    // after its withdrawal), each once.
    let out = send(&[], &refresh).output().await.unwrap();
    let text = words(&out);
    let by_shop = accepted_by_shop(&server);
    assert_eq!([by_shop[0].0, by_shop[1].0, by_shop[2].0], [ROWS_PER_SHOP - 2; 3], "{text}");
    assert_eq!(by_shop[1].1, tpl("TPL_B"));
    assert_eq!(server.stats().duplicate_deliveries, 0, "nobody got a message twice");
    for secret in refresh.iter().map(String::as_str).chain([COMPONENT_SECRET]) {
        assert!(!text.contains(secret), "a secret was printed");
    }
}

/// The accounts of two platforms (shop-a, shop-b of one; other-1 of another) and a plain one.
fn mixed_accounts(dir: &std::path::Path) -> PathBuf {
    let accounts = dir.join("accounts.toml");
    let component = |name: &str, appid: &str, platform: &str| {
        format!(
            "[accounts.{name}]\nappid = \"{appid}\"\ntoken = \"component\"\ncomponent_appid = \"{platform}\"\nticket = \"receipts\"\napi_base = \"http://127.0.0.1:9\"\n"
        )
    };
    let text = [
        component("shop-a", "wxshop000000000000", COMPONENT_APPID),
        component("shop-b", "wxshop000000000001", COMPONENT_APPID),
        "[accounts.plain]\nappid = \"wx0123456789abcdef\"\n".to_string(),
    ]
    .concat();
    std::fs::write(&accounts, text).unwrap();
    accounts
}

const FLEET: &str = "name = \"f\"\n[wechat]\naccounts = [\"shop-a\", \"shop-b\"]\n[message]\nkind = \"template\"\n\
[message.templates]\nshop-a = \"TPL_A\"\nshop-b = \"TPL_B\"\n[message.data]\nk = \"{{v}}\"\n[recipients]\nfile = \"list.csv\"\naccount_column = \"shop\"\n";

#[test]
fn a_campaign_for_many_merchants_names_what_is_wrong_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = mixed_accounts(dir.path());
    let list = format!("shop,openid,v\nshop-a,{},1\nshop-z,{},2\n", openid("oA", 1), openid("oB", 2));
    std::fs::write(dir.path().join("list.csv"), list).unwrap();
    std::fs::write(dir.path().join("good.csv"), format!("shop,openid,v\nshop-a,{},1\n", openid("oA", 1))).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("shop-b = \"TPL_B\"\n", "", "has no template id for the merchant shop-b"),
        ("shop-b = \"TPL_B\"\n", "shop-b = \"TPL_B\"\nshop-x = \"T\"\n", "names shop-x, which is not one of this campaign's `accounts`"),
        ("[message.templates]", "template_id = \"T\"\n[message.templates]", "`template_id` with `accounts`"),
        ("[message]", "appid = \"wx0123456789abcdef\"\n[message]", "sets `appid` and `accounts`"),
        ("account_column = \"shop\"\n", "", "needs to know each row's merchant"),
        ("file = \"list.csv\"", "file = \"list.csv\"", "list.csv:3: the shop column says \"shop-z\", which is not one of this campaign's merchants (shop-a, shop-b)"),
        ("account_column = \"shop\"", "account_column = \"store\"", "has no column store"),
        ("[\"shop-a\", \"shop-b\"]", "\"everyone\"", "write a list of accounts of accounts.toml"),
        ("[\"shop-a\", \"shop-b\"]", "[\"shop-a\", \"shop-a\"]", "names \"shop-a\" twice"),
        ("[\"shop-a\", \"shop-b\"]", "[\"shop-a\", \"../x\"]", "the account name \"../x\" cannot name the merchant's state folder"),
        ("account_column = \"shop\"\n", "[recipients.files]\nshop-a = \"good.csv\"\n", "has both `file` and [recipients.files]"),
    ];
    let env = [("WXSEND_ACCOUNTS", accounts.to_str().unwrap())];
    for (from, to, expected) in cases {
        let campaign = dir.path().join("f.toml");
        assert!(FLEET.contains(from), "{from}");
        std::fs::write(&campaign, FLEET.replacen(from, to, 1)).unwrap();
        let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
        let text = words(&out);
        assert_eq!(out.status.code(), Some(2), "{expected}: {text}");
        assert!(text.contains(expected), "expected {expected:?} in: {text}");
    }
    // A row that cannot be sent is named where it is in the operator's list, not in the copy
    // of the merchant's rows.
    let rows = format!("shop,openid,v\nshop-a,{},1\nshop-b,bad id,2\nshop-b,{},3\n", openid("oA", 1), openid("oB", 3));
    std::fs::write(dir.path().join("rows.csv"), rows).unwrap();
    let campaign = dir.path().join("f.toml");
    std::fs::write(&campaign, FLEET.replace("list.csv", "rows.csv")).unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
    let text = words(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let named = format!("{}:3 row 1", dir.path().join("rows.csv").display());
    assert!(text.contains(&named), "{named} in {text}");
    // Files per merchant, one missing.
    let campaign = dir.path().join("f.toml");
    let files = FLEET
        .replace("file = \"list.csv\"\naccount_column = \"shop\"\n", "[recipients.files]\nshop-a = \"good.csv\"\n");
    std::fs::write(&campaign, files).unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
    assert!(words(&out).contains("has no list for the merchant shop-b"), "{}", words(&out));
    // `all` takes every component account of one platform: here there is one.
    std::fs::write(&campaign, FLEET.replace("[\"shop-a\", \"shop-b\"]", "\"all\"").replace("list.csv", "good.csv"))
        .unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert!(
        words(&out).contains("all 1 merchants are ready") && words(&out).contains("no rows in the list for: shop-b"),
        "{}",
        words(&out)
    );
    // A second platform's account makes `all` ambiguous.
    let more = std::fs::read_to_string(&accounts).unwrap()
        + "[accounts.other-1]\nappid = \"wxother000000000001\"\ntoken = \"component\"\ncomponent_appid = \"wxc1c1c1c1c1c1c1c1\"\nticket = \"receipts\"\n";
    std::fs::write(&accounts, more).unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
    assert!(words(&out).contains("holds the merchants of several platforms"), "{}", words(&out));
    // A campaign of one account with a key of many; a command of one account on a campaign of many.
    std::fs::write(&campaign, "name = \"one\"\n[wechat]\naccount = \"plain\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n[message.data]\nk = \"v\"\n[recipients]\nfile = \"good.csv\"\naccount_column = \"shop\"\n").unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap(), "--offline"], &env);
    assert!(words(&out).contains("account_column belongs to a campaign for several merchants"), "{}", words(&out));
    std::fs::write(&campaign, FLEET.replace("list.csv", "good.csv")).unwrap();
    let out = wxsend(&["receipts", "import", campaign.to_str().unwrap(), "none.jsonl"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", words(&out));
    assert!(words(&out).contains("is sent for 2 merchants (shop-a, shop-b)"), "{}", words(&out));
    // Nothing was sent or journaled anywhere.
    assert!(!dir.path().join(".wxsend/f/merchants/shop-a/good").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_merchant_has_its_own_quota_and_one_used_up_stops_alone() {
    let dir = tempfile::tempdir().unwrap();
    // WeChat's quota is per app: 20 a day for each shop.
    let server = mock(MockConfig { daily_quota: Some(20), ..MockConfig::default() }).await;
    let (accounts, cache, refresh) = three_shops(&server, dir.path()).await;
    let campaign = dir.path().join("q.toml");
    std::fs::write(
        &campaign,
        "name = \"q\"\n[wechat]\naccounts = [\"shop-a\", \"shop-b\", \"shop-c\"]\n[message]\nkind = \"template\"\n\
         [message.templates]\nshop-a = \"TPL_A\"\nshop-b = \"TPL_B\"\nshop-c = \"TPL_C\"\n[message.data]\nfirst = \"hi\"\n\
         [recipients]\nfile = \"list.csv\"\naccount_column = \"shop\"\n",
    )
    .unwrap();
    let mut list = String::from("shop,openid\n");
    for (i, rows) in [10, 10, 25].into_iter().enumerate() {
        for row in 0..rows {
            list.push_str(&format!("{},{}\n", SHOPS[i], openid(&format!("o{i}q"), row)));
        }
    }
    std::fs::write(dir.path().join("list.csv"), list).unwrap();
    let send = |extra: &[&str]| {
        let mut cmd = send_command(&campaign, &cache, extra);
        cmd.env("WXSEND_ACCOUNTS", &accounts).env(SECRET_VAR, COMPONENT_SECRET);
        for (i, token) in refresh.iter().enumerate() {
            cmd.env(refresh_var(i), token);
        }
        cmd
    };
    // shop-c's 25 rows do not fit its 20: it does not start; the other two send theirs.
    let out = send(&[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(
            "shop-c: not started, nothing of it sent: the daily quota has 20 messages left and this run needs 25"
        ),
        "{text}"
    );
    let by_shop = accepted_by_shop(&server);
    assert_eq!([by_shop[0].0, by_shop[1].0, by_shop[2].0], [10, 10, 0], "{text}");
    // --ignore-quota: shop-c sends its 20, then WeChat's 45009 stops it alone.
    let out = send(&["--ignore-quota"]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("shop-c stopped alone") && text.contains("45009"), "{text}");
    let by_shop = accepted_by_shop(&server);
    assert_eq!([by_shop[0].0, by_shop[1].0, by_shop[2].0], [10, 10, 20], "{text}");
    // The next day the same command sends shop-c's last 5.
    server.state().reset_daily_quota();
    let out = send(&[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let by_shop = accepted_by_shop(&server);
    assert_eq!([by_shop[0].0, by_shop[1].0, by_shop[2].0], [10, 10, 25], "{text}");
}
