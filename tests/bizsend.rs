//! Official-account subscribe notifications (`kind = "mp_subscribe"`, `subscribe/bizsend`) against
//! the embedded mock over loopback: values checked by type and against the template's lists
//! before anything is sent, 43101 for followers with no subscription left (into the failures
//! file and the account's ledger), every other row delivered once, and delivery matched from
//! pushed `subscribe_msg_sent_event`s by openid and template (the send answers no msgid).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::{MockConfig, MockServer};

/// The bundled catalogue's official-account subscribe template: `phrase3` and `enum4` have lists.
const TEMPLATE: &str = "TPL_MP_SUB_SHIPPED";
const PUSH_TOKEN: &str = "push-token-bizsend";

/// What a row of the 300 is made to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Fine,
    /// 21 characters in a `thing` (at most 20).
    LongThing,
    /// A phrase not in the template's list.
    OffListPhrase,
    /// A follower with no subscription left (the mock's `oREFUSE` openids).
    NoSubscription,
}

fn row_kind(i: usize) -> Row {
    match i {
        _ if i % 30 == 7 => Row::NoSubscription,
        _ if i % 25 == 3 => Row::LongThing,
        _ if i % 20 == 11 => Row::OffListPhrase,
        _ => Row::Fine,
    }
}

fn people() -> Vec<(String, Row)> {
    (0..300)
        .map(|i| {
            let kind = row_kind(i);
            let openid = if kind == Row::NoSubscription { openid("oREFUSE", i) } else { openid("oWx", i) };
            (openid, kind)
        })
        .collect()
}

/// An `mp_subscribe` campaign of the 300 people in `dir`, named `name`, with `template`.
fn write_bizsend(dir: &Path, name: &str, api_base: &str, template: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let toml = format!(
        "name = \"{name}\"\n[wechat]\napi_base = \"{api_base}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"mp_subscribe\"\ntemplate_id = \"{template}\"\npage = \"https://shop.example.com/o/{{{{order}}}}\"\n\
         [message.data]\nthing1 = \"{{{{product}}}}\"\ncharacter_string2 = \"{{{{order}}}}\"\nphrase3 = \"{{{{state}}}}\"\nenum4 = \"快递\"\n\
         [recipients]\nfile = \"people.csv\"\n[send]\nrate = 2000\nsuppress_days = 30\n"
    );
    let mut csv = String::from("openid,product,order,state\n");
    for (i, (openid, kind)) in people().iter().enumerate() {
        let product = if *kind == Row::LongThing {
            "超长的商品名称一二三四五六七八九十一二三四五六"
        } else {
            "保温杯"
        };
        let state = if *kind == Row::OffListPhrase { "已发出" } else { "已发货" };
        csv.push_str(&format!("{openid},{product},SF{i:07},{state}\n"));
    }
    std::fs::write(dir.join("people.csv"), csv).unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn words(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `wxsend ARGS` with the test's secret, token cache and ledger.
fn run(args: &[&str], home: &Path) -> std::process::Output {
    wxsend(
        args,
        &[
            ("WXSEND_TEST_SECRET", SECRET),
            ("WXSEND_CACHE_DIR", home.join("cache").to_str().unwrap()),
            ("WXSEND_LEDGER_DIR", home.join("ledger").to_str().unwrap()),
        ],
    )
}

/// `wxsend receipts serve CAMPAIGN` on a free port with the test's push token; the child and
/// its URL.
async fn serve_receipts(campaign: &Path) -> (tokio::process::Child, String) {
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    serve
        .args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("WXSEND_LANG", "en")
        .env("WXSEND_PUSH_TOKEN", PUSH_TOKEN)
        .env_remove("WXSEND_PUSH_AES_KEY");
    start_receipts_server(serve).await
}

fn received(server: &MockServer) -> HashMap<String, usize> {
    let mut by_openid: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *by_openid.entry(r.touser).or_default() += 1;
    }
    by_openid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_row_bizsend_campaign_is_checked_sent_once_and_its_receipts_matched() {
    let server = mock(MockConfig::default()).await;
    let home = tempfile::tempdir().unwrap();
    let campaign = write_bizsend(&home.path().join("notice"), "notice", &server.url(), TEMPLATE);
    let all = people();
    let count = |k: Row| all.iter().filter(|(_, kind)| *kind == k).count();
    let (long, off_list, refused) = (count(Row::LongThing), count(Row::OffListPhrase), count(Row::NoSubscription));
    assert!(long > 5 && off_list > 5 && refused > 5);

    // check verifies the template in the account's list and refuses both kinds of bad value.
    let out = run(&["check", campaign.to_str().unwrap(), "--json"], home.path());
    assert_eq!(out.status.code(), Some(1), "{}", words(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "mp_subscribe");
    assert_eq!(report["invalid"], long + off_list, "{report}");
    let problems = report["problems"].as_array().unwrap();
    let by_check =
        |check: &str, field: &str| problems.iter().filter(|p| p["check"] == check && p["field"] == field).count();
    assert_eq!(by_check("subscribe_rule", "thing1"), long, "{report}");
    assert_eq!(by_check("not_in_list", "phrase3"), off_list, "{report}");
    let preview = report["preview"][0]["body"].to_string();
    assert!(preview.contains("\"page\":\"https://shop.example.com/o/SF0000000\""), "{preview}");

    // send: the valid rows once each; the followers with no subscription left fail with 43101.
    let out = run(&["send", campaign.to_str().unwrap(), "--headless", "--yes"], home.path());
    let text = words(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let got = received(&server);
    for (openid, kind) in &all {
        let expected = usize::from(*kind == Row::Fine);
        assert_eq!(got.get(openid).copied().unwrap_or(0), expected, "{openid} ({kind:?}): {text}");
    }
    let stats = server.stats();
    assert_eq!(stats.sends_by_errcode.get(&43101).copied(), Some(refused as u64));
    assert_eq!(stats.sends_by_errcode.get(&47003), None, "a bad value reached WeChat");
    let delivered = count(Row::Fine);
    assert_eq!(stats.accepted as usize, delivered);
    let failures = std::fs::read_to_string(home.path().join("notice/.wxsend/notice/people/failed-people.csv")).unwrap();
    let refused_lines: Vec<&str> = failures.lines().filter(|l| l.starts_with("oREFUSE")).collect();
    assert_eq!(refused_lines.len(), refused, "{failures}");
    assert!(refused_lines.iter().all(|l| l.contains(",43101,")), "{failures}");

    // The send answered no msgid; the pushed subscribe_msg_sent_events are matched by openid and
    // template, and status counts every delivered row a success.
    let (serve, url) = serve_receipts(&campaign).await;
    let request = serde_json::json!({ "url": format!("{url}/wx"), "token": PUSH_TOKEN });
    let pushed = post_json(&format!("{}/mock/push", server.url()), &request).await;
    assert_eq!(pushed["pushed"], delivered, "{pushed}");
    assert_eq!(pushed["acknowledged"], delivered, "{pushed}");
    drop(serve);
    let out = run(&["status", campaign.to_str().unwrap(), "--json"], home.path());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["sent"], delivered, "{status}");
    assert_eq!(status["failed"], refused, "{status}");
    assert_eq!(status["receipts"]["success"], delivered, "{status}");
    assert_eq!(status["receipts"]["pending"], 0, "{status}");
    assert_eq!(status["receipts_unmatched"], 0, "{status}");

    // The next campaign of the account (another template, another folder) holds the 43101
    // followers back: the ledger's suppression, not a file name or a row number.
    let next = write_bizsend(&home.path().join("next"), "next", &server.url(), "TPL_OTHER_NOTICE");
    std::fs::write(
        next.with_file_name("people.csv"),
        std::fs::read_to_string(next.with_file_name("people.csv"))
            .unwrap()
            .replace("超长的商品名称一二三四五六七八九十一二三四五六", "保温杯")
            .replace("已发出", "已发货"),
    )
    .unwrap();
    let before = server.stats().send_requests;
    let out = run(&["send", next.to_str().unwrap(), "--headless", "--yes", "--skip-template-check"], home.path());
    let text = words(&out);
    assert!(text.contains(&format!("held back by the account: {refused}")), "{text}");
    assert_eq!(server.stats().send_requests - before, (300 - refused) as u64, "{text}");
    let got = received(&server);
    assert!(all.iter().filter(|(_, k)| *k == Row::NoSubscription).all(|(o, _)| !got.contains_key(o)), "{text}");
}

/// The mock judges bizsend with WeChat's rules of its own: no msgid in the answer, a one-off
/// subscription used up by one message (then 43101), typed values and the template's lists
/// (47003).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_answers_bizsend_as_wechat_documents_it() {
    let server = mock(MockConfig::default()).await;
    let token = stable_token(&server.url()).await["access_token"].as_str().unwrap().to_string();
    let send = |openid: &str, thing: &str, phrase: &str, kind: &str| {
        let (url, token) = (server.url(), token.clone());
        let body = serde_json::json!({
            "touser": openid, "template_id": TEMPLATE, "page": "https://shop.example.com/o/1",
            "data": { "thing1": { "value": thing }, "character_string2": { "value": "SF1" },
                      "phrase3": { "value": phrase }, "enum4": { "value": kind } }
        });
        async move { post_json(&format!("{url}/cgi-bin/message/subscribe/bizsend?access_token={token}"), &body).await }
    };
    let a = openid("oWx", 1);
    let first = send(&a, "保温杯", "已发货", "快递").await;
    assert_eq!(first, serde_json::json!({ "errcode": 0, "errmsg": "ok" }), "no msgid");
    let again = send(&a, "保温杯", "已发货", "快递").await;
    assert_eq!(again["errcode"], 43101, "a one-off subscription allows one message: {again}");
    let b = openid("oWx", 2);
    for (thing, phrase, kind, key) in [
        ("一二三四五六七八九十一二三四五六七八九十一", "已发货", "快递", "thing1"),
        ("保温杯", "已发出", "快递", "phrase3"),
        ("保温杯", "已发货", "顺丰", "enum4"),
    ] {
        let answer = send(&b, thing, phrase, kind).await;
        assert_eq!(answer["errcode"], 47003, "{answer}");
        assert!(answer["errmsg"].as_str().unwrap().contains(&format!("data.{key}.value")), "{answer}");
    }
    assert_eq!(send(&b, "保温杯", "运输中", "自提").await["errcode"], 0, "a refusal uses no subscription");
    assert_eq!(server.records().len(), 2);
}

/// A subscribe receipt counts for a row only when it names the campaign's template and was made
/// after the journal began; the followers' subscription changes are kept and counted per
/// follower of the list, for the campaign's template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_receipts_match_by_template_and_time_and_subscription_changes_are_counted() {
    use wxsend::wechat::push::signature;
    let server = mock(MockConfig::default()).await;
    let home = tempfile::tempdir().unwrap();
    let campaign = write_bizsend(&home.path().join("notice"), "notice", &server.url(), TEMPLATE);
    let out = run(&["send", campaign.to_str().unwrap(), "--headless", "--yes"], home.path());
    assert_eq!(out.status.code(), Some(1), "{}", words(&out));
    let fine: Vec<String> = people().into_iter().filter(|(_, k)| *k == Row::Fine).map(|(o, _)| o).collect();

    let (serve, url) = serve_receipts(&campaign).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let head = |openid: &str, created: u64, event: &str| {
        format!("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>")
    };
    let sent = |openid: &str, template: &str, created: u64| {
        format!("{}<SubscribeMsgSentEvent><List><TemplateId><![CDATA[{template}]]></TemplateId><MsgID>17</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>", head(openid, created, "subscribe_msg_sent_event"))
    };
    let change = |openid: &str, template: &str, event: &str, status: &str| {
        format!("{}<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[{template}]]></TemplateId><SubscribeStatusString><![CDATA[{status}]]></SubscribeStatusString></List></SubscribeMsgPopupEvent></xml>", head(openid, now, event))
    };
    let bodies = [
        sent(&fine[0], TEMPLATE, now),
        sent(&fine[1], "ANOTHER_TEMPLATE", now),
        sent(&fine[2], TEMPLATE, 1_600_000_000),
        change(&fine[0], TEMPLATE, "subscribe_msg_popup_event", "accept"),
        change(&fine[1], TEMPLATE, "subscribe_msg_popup_event", "reject"),
        change(&fine[2], TEMPLATE, "subscribe_msg_popup_event", "accept"),
        change(&fine[2], TEMPLATE, "subscribe_msg_change_event", "reject"),
        change(&fine[3], "ANOTHER_TEMPLATE", "subscribe_msg_change_event", "reject"),
        change(&openid("oNOTLISTED", 1), TEMPLATE, "subscribe_msg_popup_event", "accept"),
    ];
    let http = reqwest::Client::new();
    let ts = now.to_string();
    for (i, body) in bodies.iter().enumerate() {
        let nonce = format!("n{i}");
        let sig = signature(&[PUSH_TOKEN, &ts, &nonce]);
        let answer = http
            .post(format!("{url}/wx?signature={sig}&timestamp={ts}&nonce={nonce}"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), "success");
    }
    drop(serve);
    let out = run(&["status", campaign.to_str().unwrap(), "--json"], home.path());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["receipts"]["success"], 1, "{status}");
    assert_eq!(status["receipts_unmatched"], 2, "another template, and before the journal began: {status}");
    let s = &status["subscriptions"];
    assert_eq!((&s["subscribed"], &s["declined"], &s["turned_off"]), (&1.into(), &1.into(), &1.into()), "{status}");
    let out = run(&["status", campaign.to_str().unwrap()], home.path());
    let text = words(&out);
    assert!(text.contains("subscriptions to this template: subscribed 1  declined 1  turned off 1"), "{text}");
    let out = wxsend(&["status", campaign.to_str().unwrap(), "--lang", "zh-CN"], &[]);
    assert!(words(&out).contains("订阅本模板：已订阅 1  拒绝 1  已关闭 1"), "{}", words(&out));
}
