//! Tests of `config.rs`.
use super::*;

const MINIMAL: &str = r#"
name = "t1"
[wechat]
appid = "wx0123456789abcdef"
[message]
kind = "template"
template_id = "TID"
[message.data]
keyword1 = "{{product}}"
[recipients]
csv = "r.csv"
"#;

fn parse(text: &str) -> Result<CampaignConfig, LoadError> {
    CampaignConfig::parse(Path::new("dir/c.toml"), text)
}

#[test]
fn defaults_apply_and_paths_resolve_next_to_the_campaign() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.wechat.token, TokenSpec::Stable);
    assert_eq!(c.wechat.secret_env, "WXSEND_APPSECRET");
    assert_eq!(c.wechat.api_base, DEFAULT_API_BASE);
    assert_eq!(c.recipients.csv, Path::new("dir/r.csv"));
    assert_eq!(c.recipients.openid_column, "openid");
    assert_eq!(c.send.rate, 20);
    assert_eq!(c.state_dir, Path::new("dir/.wxsend/t1"));
    assert_eq!(c.message.data[0].0, "keyword1");
    assert_eq!(c.message.data[0].1.at.to_string(), "dir/c.toml:9:12");
}

#[test]
fn unknown_key_names_the_closest_valid_one_and_its_line() {
    let text = MINIMAL.replace("[recipients]", "[send]\nratee = 5\n[recipients]");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.starts_with("dir/c.toml:11:1: unknown key `ratee`; did you mean `rate`?"), "{e}");
}

#[test]
fn a_secret_in_the_file_is_refused() {
    let text = MINIMAL.replace("[message]\n", "secret = \"abc\"\n[message]\n");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("unknown key `secret`"), "{e}");
    assert!(e.contains("secret_env"), "{e}");
}

#[test]
fn api_base_must_be_an_http_url() {
    let text = MINIMAL.replace("[message]\n", "api_base = \"api.weixin.qq.com\"\n[message]\n");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.starts_with("dir/c.toml:5:12: api_base \"api.weixin.qq.com\""), "{e}");
    let text = MINIMAL.replace("[message]\n", "api_base = \"http://127.0.0.1:9000/\"\n[message]\n");
    assert_eq!(parse(&text).unwrap().wechat.api_base, "http://127.0.0.1:9000/");
}

#[test]
fn token_sources_parse() {
    for (spec, want) in [
        ("stable", TokenSpec::Stable),
        ("client_credential", TokenSpec::ClientCredential),
        ("env:WX_TOKEN", TokenSpec::Env("WX_TOKEN".into())),
        ("command:tok get", TokenSpec::Command("tok get".into())),
        ("url:https://tokens.internal/wx/A", TokenSpec::Url("https://tokens.internal/wx/A".into())),
    ] {
        let text = MINIMAL.replace("[message]\n", &format!("token = \"{spec}\"\n[message]\n"));
        assert_eq!(parse(&text).unwrap().wechat.token, want);
    }
    let text = MINIMAL.replace("[message]\n", "token = \"magic\"\n[message]\n");
    assert!(parse(&text).unwrap_err().to_string().contains("unknown token source `magic`"));
    let text = MINIMAL.replace("[message]\n", "token = \"url:tokens.internal\"\n[message]\n");
    assert!(parse(&text).unwrap_err().to_string().contains("`url:` needs an http:// or https:// URL"));
}

#[test]
fn a_third_party_platform_sends_for_a_merchant_with_its_chain_settings() {
    use crate::wechat::protocol::{ComponentSpec, RefreshStore, TicketSource};
    let keys = "token = \"component\"\ncomponent_appid = \"wxc1\"\nticket = \"file:ticket.txt\"\nrefresh_token_env = \"WX_REFRESH\"\n";
    let text = MINIMAL.replace("[message]\n", &format!("{keys}[message]\n"));
    let TokenSpec::Component(c) = parse(&text).unwrap().wechat.token else { panic!("a component source") };
    assert_eq!(
        *c,
        ComponentSpec {
            component_appid: "wxc1".into(),
            component_secret_env: "WXSEND_COMPONENT_SECRET".into(),
            authorizer_appid: "wx0123456789abcdef".into(),
            ticket: TicketSource::File("dir/ticket.txt".into()),
            refresh_token: RefreshStore::File,
            refresh_token_env: Some("WX_REFRESH".into()),
        }
    );
    // With a shared Redis the refresh token is kept there; a file would go stale on other hosts.
    let shared = "[shared]\nredis = \"redis://127.0.0.1:1/0\"\n";
    let c = parse(&format!("{text}{shared}")).unwrap();
    assert!(matches!(c.wechat.token, TokenSpec::Component(c) if c.refresh_token == RefreshStore::Redis));
    let file = text.replace(keys, &format!("{keys}refresh_token = \"file\"\n"));
    assert!(parse(&format!("{file}{shared}")).unwrap_err().to_string().contains("use refresh_token = \"redis\""));
    let redis = text.replace(keys, &format!("{keys}refresh_token = \"redis\"\n"));
    assert!(parse(&redis).unwrap_err().to_string().contains("needs a Redis"));

    let other = text
        .replace("appid = \"wx0123456789abcdef\"", "appid = \"wx0123456789abcdef\"\nauthorizer_appid = \"wxOTHER\"");
    assert!(parse(&other).unwrap_err().to_string().contains("differ"));
    let no_ticket = text.replace("ticket = \"file:ticket.txt\"\n", "");
    assert!(parse(&no_ticket).unwrap_err().to_string().contains("needs `ticket`"));
    let bad_ticket = text.replace("file:ticket.txt", "ftp://x");
    assert!(parse(&bad_ticket).unwrap_err().to_string().contains("not a ticket source"));
    let stray = MINIMAL.replace("[message]\n", "component_appid = \"wxc1\"\n[message]\n");
    assert!(parse(&stray).unwrap_err().to_string().contains("`component_appid` is a setting of token = \"component\""));
}

#[test]
fn network_keys_parse_and_are_checked() {
    let text = format!("{MINIMAL}[network]\nproxy = \"none\"\nca_file = \"ca.pem\"\nconnect_timeout_ms = 2000\n");
    let c = parse(&text).unwrap();
    assert_eq!(c.network.proxy, crate::wechat::ProxySetting::Off);
    assert_eq!(c.network.ca_file.as_deref(), Some(Path::new("dir/ca.pem")));
    assert_eq!(c.network.connect_timeout, Duration::from_secs(2));
    let text = format!("{MINIMAL}[network]\nproxy = \"socks5://p:1080\"\n");
    assert!(parse(&text).unwrap_err().to_string().contains("socks5://, which wxsend does not speak"));
    let text = format!("{MINIMAL}[network]\nidle_timeout_ms = 5\n");
    assert!(parse(&text).unwrap_err().to_string().contains("`idle_timeout_ms` = 5: must be from 100 to 600000"));
}

#[test]
fn out_of_range_send_values_are_refused_with_their_key() {
    let text = MINIMAL.replace("[recipients]", "[send]\nrate = 0\n[recipients]");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("`rate` = 0: must be from 1"), "{e}");
    let text = MINIMAL.replace("[recipients]", "[send]\npause_on_failure_rate = 1.5\n[recipients]");
    assert!(parse(&text).unwrap_err().to_string().contains("pause_on_failure_rate"));
}

#[test]
fn uniform_needs_the_official_account() {
    let text = MINIMAL.replace("kind = \"template\"", "kind = \"uniform\"");
    assert!(parse(&text).unwrap_err().to_string().contains("mp_appid"));
}

#[test]
fn bad_names_and_kinds_are_refused() {
    let text = MINIMAL.replace("\"t1\"", "\"../x\"");
    assert!(parse(&text).unwrap_err().to_string().contains("`name`"));
    let text = MINIMAL.replace("\"template\"", "\"sms\"");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("dir/c.toml:6:"), "{e}");
}

#[test]
fn mp_subscribe_names_its_links_as_bizsend_does() {
    let base = MINIMAL.replace("kind = \"template\"", "kind = \"mp_subscribe\"");
    // `page` is the web page; `miniprogram = { appid, pagepath }` the mini program.
    let text = base.replace(
        "template_id = \"TID\"",
        "template_id = \"TID\"\npage = \"https://a.example/{{id}}\"\nminiprogram = { appid = \"wxmp\", pagepath = \"pages/o?id={{id}}\" }",
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.message.kind, Kind::MpSubscribe);
    assert_eq!(c.message.url.as_ref().map(|u| u.text.as_str()), Some("https://a.example/{{id}}"));
    assert_eq!(c.message.page.as_ref().map(|p| p.text.as_str()), Some("pages/o?id={{id}}"));
    assert_eq!(c.message.miniprogram_appid.as_deref(), Some("wxmp"));
    // The other kinds' names are refused with the right one, at their line.
    let e = parse(&base.replace("template_id = \"TID\"", "template_id = \"TID\"\nurl = \"https://a\"")).unwrap_err();
    assert!(e.to_string().contains("dir/c.toml:8:") && e.to_string().contains("page = \"https://"), "{e}");
    let e = parse(&base.replace("template_id = \"TID\"", "template_id = \"TID\"\nminiprogram_appid = \"wx\""));
    assert!(e.unwrap_err().to_string().contains("miniprogram = { appid"));
    let e =
        parse(&base.replace(
            "template_id = \"TID\"",
            "template_id = \"TID\"\nminiprogram = { appid = \"wx\", pagepath = \"\" }",
        ));
    assert!(e.unwrap_err().to_string().contains("`pagepath`"));
    // And `miniprogram = {…}` belongs to mp_subscribe only.
    let e =
        parse(&MINIMAL.replace(
            "template_id = \"TID\"",
            "template_id = \"TID\"\nminiprogram = { appid = \"wx\", pagepath = \"p\" }",
        ));
    assert!(e.unwrap_err().to_string().contains("`miniprogram_appid` and `page`"));
}

#[test]
fn an_audience_instead_of_a_file_keeps_its_list_in_the_state_folder() {
    let text = MINIMAL.replace(
        "csv = \"r.csv\"",
        "tags = [\"VIP\", \"101\"]\nexcept_tags = [\"新关注\"]\nsince = \"2026-11-01\"\nvalues = \"v.csv\"\naudience_max_age_minutes = 5",
    );
    let c = parse(&text).unwrap();
    let a = c.recipients.audience.as_ref().unwrap();
    assert_eq!(a.spec.tags, ["VIP", "101"]);
    assert_eq!(a.spec.except, ["新关注"]);
    assert!(a.spec.with_info, "since is read from the followers' details");
    assert_eq!(a.values.as_deref(), Some(Path::new("dir/v.csv")));
    assert_eq!(a.max_age, Duration::from_secs(300));
    assert_eq!(c.recipients.csv, Path::new("dir/.wxsend/t1/audience/followers.csv"));
    let everyone = parse(&MINIMAL.replace("csv = \"r.csv\"", "followers = true")).unwrap();
    assert!(everyone.recipients.audience.unwrap().spec.tags.is_empty());
    // A file and an audience, values without an audience, a date that is not one.
    let e = parse(&MINIMAL.replace("csv = \"r.csv\"", "csv = \"r.csv\"\nfollowers = true")).unwrap_err();
    assert!(e.to_string().contains("keep one"), "{e}");
    let e = parse(&MINIMAL.replace("csv = \"r.csv\"", "csv = \"r.csv\"\nvalues = \"v.csv\"")).unwrap_err();
    assert!(e.to_string().contains("followers = true"), "{e}");
    let e = parse(&MINIMAL.replace("csv = \"r.csv\"", "followers = true\nsince = \"last week\"")).unwrap_err();
    assert!(e.to_string().contains("dir/c.toml:12:") && e.to_string().contains("2026-11-01"), "{e}");
}
