//! The campaign against the account's real templates, over 127.0.0.1 with the mock serving a
//! catalogue: unknown ids, keys missing or extra, enum values per row, `new` from a listed
//! template, the cache reused and refreshed, 48001 on the list endpoint.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::{MockConfig, MockServer};

const CATALOGUE: &str = r#"{
  "template": [{"template_id": "T_SHIP", "title": "订单发货提醒", "primary_industry": "IT", "deputy_industry": "电商",
    "content": "{{first.DATA}}\n订单号：{{keyword1.DATA}}\n物流公司：{{keyword2.DATA}}\n{{remark.DATA}}", "example": "订单号：SF1\n物流公司：顺丰"}],
  "subscribe": [{"priTmplId": "S_SHIP", "title": "发货通知", "type": 2,
    "content": "商品:{{thing1.DATA}}\n状态:{{phrase2.DATA}}\n", "example": "商品:杯\n状态:已发货\n",
    "keywordEnumValueList": [{"keywordCode": "phrase2.DATA", "enumValueList": ["已发货", "已签收"]}]}]
}"#;

async fn server(dir: &Path, deny: bool) -> MockServer {
    let file = dir.join("catalogue.json");
    std::fs::write(&file, CATALOGUE).unwrap();
    mock(MockConfig { templates: Some(file), deny_template_list: deny, ..MockConfig::default() }).await
}

/// A campaign of `kind` and `template_id` with `data` lines, and a CSV of `rows` (the header
/// first).
fn campaign(dir: &Path, server: &MockServer, kind: &str, template_id: &str, data: &str, csv: &str) -> PathBuf {
    let toml = format!(
        "name = \"tpl\"\n[wechat]\napi_base = \"{}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"{kind}\"\ntemplate_id = \"{template_id}\"\n[message.data]\n{data}\n[recipients]\nfile = \"list.csv\"\n",
        server.url()
    );
    std::fs::write(dir.join("list.csv"), csv).unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn check(campaign: &Path, cache: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["check", campaign.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = wxsend(&args, &[("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())]);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn ship_rows() -> String {
    format!("openid,order,carrier\n{},SF1,顺丰\n{},SF2,中通\n", openid("oWx", 1), openid("oWx", 2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_id_and_keys_are_checked_against_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), false).await;
    let cache = dir.path().join("cache");
    let good = "keyword1 = \"{{order}}\"\nkeyword2 = \"{{carrier}}\"";

    // Matches: verified, with the phone's view; first/remark left out is only a note.
    let c = campaign(dir.path(), &server, "template", "T_SHIP", good, &ship_rows());
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("template verified: 「订单发货提醒」"), "{out}");
    assert!(out.contains("note: `first` is not in [message.data]: fine, WeChat no longer shows it"), "{out}");
    assert!(out.contains("「订单发货提醒」\n      订单号: SF1\n      物流公司: 顺丰"), "{out}");

    // An id from another account.
    let c = campaign(dir.path(), &server, "template", "T_SHIPX", good, &ship_rows());
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("template_id \"T_SHIPX\" is not one of this account's 1 template templates"), "{out}");
    assert!(out.contains("the closest: T_SHIP 「订单发货提醒」"), "{out}");

    // A key the template does not have.
    let c = campaign(
        dir.path(),
        &server,
        "template",
        "T_SHIP",
        &format!("{good}\nkeyword3 = \"{{{{order}}}}\""),
        &ship_rows(),
    );
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("key `keyword3` is not in template 「订单发货提醒」"), "{out}");
    assert!(out.contains("keyword1 (订单号), keyword2 (物流公司)"), "{out}");

    // A template key with no data.
    let c = campaign(dir.path(), &server, "template", "T_SHIP", "keyword1 = \"{{order}}\"", &ship_rows());
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("has `keyword2` (物流公司) but [message.data] does not set it"), "{out}");

    // Send refuses the same before anything leaves.
    let out = wxsend(
        &["send", c.to_str().unwrap(), "--headless", "--yes"],
        &[("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has `keyword2` (物流公司)"), "{err}");
    assert_eq!(server.stats().send_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enum_value_outside_the_list_makes_its_row_invalid_and_it_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), false).await;
    let cache = dir.path().join("cache");
    let csv = format!(
        "openid,product,status\n{},保温杯,已发货\n{},雨伞,运输中\n{},围巾,已签收\n",
        openid("oWx", 1),
        openid("oWx", 2),
        openid("oWx", 3)
    );
    let c = campaign(
        dir.path(),
        &server,
        "subscribe",
        "S_SHIP",
        "thing1 = \"{{product}}\"\nphrase2 = \"{{status}}\"",
        &csv,
    );
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("list.csv:3 row 2"), "{out}");
    assert!(out.contains("phrase2: \"运输中\" is not one of the template's values (已发货 / 已签收)"), "{out}");

    let out = wxsend(
        &["send", c.to_str().unwrap(), "--headless", "--yes"],
        &[("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = server.stats();
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.sends_by_errcode.get(&47003), None, "the invalid row never reached WeChat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_cached_and_refreshed_on_demand_and_new_makes_a_campaign_that_passes() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), false).await;
    let cache = dir.path().join("cache");
    let base = campaign(
        dir.path(),
        &server,
        "template",
        "T_SHIP",
        "keyword1 = \"{{order}}\"\nkeyword2 = \"{{carrier}}\"",
        &ship_rows(),
    );
    assert_eq!(check(&base, &cache, &[]).0, Some(0));
    assert_eq!(check(&base, &cache, &[]).0, Some(0));
    assert_eq!(server.stats().template_list_calls, 1, "the second check used the cache");
    let (code, out) = check(&base, &cache, &["--refresh-templates"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(server.stats().template_list_calls, 2);
    // template_cache_minutes = 0: every check asks.
    let text = std::fs::read_to_string(&base).unwrap();
    std::fs::write(&base, format!("template_cache_minutes = 0\n{text}")).unwrap();
    assert_eq!(check(&base, &cache, &[]).0, Some(0));
    assert_eq!(server.stats().template_list_calls, 3);
    std::fs::write(&base, text).unwrap();
    let cached: Vec<_> = std::fs::read_dir(cache.join("templates")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(cached.len(), 1);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cached[0]).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // `templates` lists them; `new` starts a campaign from one.
    let env = [("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())];
    let out = wxsend(&["templates", base.to_str().unwrap()], &env);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("T_SHIP  「订单发货提醒」") && listed.contains("keyword1             订单号"), "{listed}");
    let new = dir.path().join("ship.toml");
    let out = wxsend(&["new", new.to_str().unwrap(), "--template", "T_SHIP", "--from", base.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let header = std::fs::read_to_string(dir.path().join("ship.csv")).unwrap();
    assert_eq!(header, "openid,订单号,物流公司\n");
    std::fs::write(dir.path().join("ship.csv"), format!("{header}{},SF9,顺丰\n", openid("oWx", 9))).unwrap();
    let (code, out) = check(&new, &cache, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("template verified: 「订单发货提醒」"), "{out}");
    // Never over an existing file.
    let out = wxsend(&["new", new.to_str().unwrap(), "--template", "T_SHIP", "--from", base.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_account_subscribe_notifications_list_and_start_from_newtmpl() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), false).await;
    let cache = dir.path().join("cache");
    let rows = format!("openid,product,state\n{},杯,已发货\n{},碗,运输中\n", openid("oWx", 1), openid("oWx", 2));
    let base = campaign(
        dir.path(),
        &server,
        "mp_subscribe",
        "S_SHIP",
        "thing1 = \"{{product}}\"\nphrase2 = \"{{state}}\"",
        &rows,
    );
    let (code, out) = check(&base, &cache, &[]);
    assert_eq!(code, Some(1), "a phrase outside the template's list: {out}");
    assert!(out.contains("template verified: 「发货通知」") && out.contains("phrase2"), "{out}");
    let env = [("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())];
    let out = wxsend(&["templates", base.to_str().unwrap()], &env);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("S_SHIP  「发货通知」") && listed.contains("已发货"), "{listed}");
    let new = dir.path().join("notice.toml");
    let args = [
        "new",
        new.to_str().unwrap(),
        "--template",
        "S_SHIP",
        "--from",
        base.to_str().unwrap(),
        "--kind",
        "mp_subscribe",
    ];
    let out = wxsend(&args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let made = std::fs::read_to_string(&new).unwrap();
    assert!(made.contains("kind = \"mp_subscribe\"") && made.contains("# page = \"https://"), "{made}");
    let header = std::fs::read_to_string(dir.path().join("notice.csv")).unwrap();
    std::fs::write(dir.path().join("notice.csv"), format!("{header}{},杯,已签收\n", openid("oWx", 9))).unwrap();
    let (code, out) = check(&new, &cache, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("商品: 杯") && out.contains("状态: 已签收"), "the phone preview: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_permission_to_list_is_not_verified_and_send_needs_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), true).await;
    let cache = dir.path().join("cache");
    let c = campaign(
        dir.path(),
        &server,
        "template",
        "T_SHIP",
        "keyword1 = \"{{order}}\"\nkeyword2 = \"{{carrier}}\"",
        &ship_rows(),
    );
    let (code, out) = check(&c, &cache, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("!! template NOT verified: errcode 48001: this app may not list its templates"), "{out}");

    let env = [("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())];
    let out = wxsend(&["send", c.to_str().unwrap(), "--headless", "--yes"], &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("send anyway with --skip-template-check"), "{err}");
    assert_eq!(server.stats().send_requests, 0);
    let out = wxsend(&["send", c.to_str().unwrap(), "--headless", "--yes", "--skip-template-check"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.stats().accepted, 2);

    // Without credentials check says so, offline on purpose too.
    let out = wxsend(&["check", c.to_str().unwrap(), "--offline"], &[("WXSEND_CACHE_DIR", cache.to_str().unwrap())]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("template NOT verified: --offline"));
}
