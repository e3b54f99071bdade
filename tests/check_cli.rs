//! `wxsend check` as an operator runs it: the real binary on the samples and on broken inputs.

use std::path::Path;
use std::process::{Command, Output};

fn wxsend(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wxsend"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run wxsend")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

const CAMPAIGN: &str = r#"
name = "t"
[wechat]
appid = "wx0123456789abcdef"
[message]
kind = "template"
template_id = "TID"
[message.data]
thing1 = "{{product}}"
[recipients]
csv = "r.csv"
"#;

fn write_case(dir: &Path, campaign: &str, csv: &[u8]) -> String {
    std::fs::write(dir.join("c.toml"), campaign).unwrap();
    std::fs::write(dir.join("r.csv"), csv).unwrap();
    dir.join("c.toml").display().to_string()
}

#[test]
fn sample_campaign_lists_invalid_rows_and_exits_1() {
    let o = wxsend(&["check", "samples/campaign.toml", "--show", "2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("rows 50  ready 45  invalid 4  duplicates 1  with warnings 1"), "{out}");
    assert!(out.contains("samples/recipients.csv:22 row 21 -: openid is empty"), "{out}");
    assert!(out.contains("samples/recipients.csv:42 row 41"), "{out}");
    assert!(out.contains("row has 3 fields, the header has 6"), "{out}");
    assert!(out.contains("openid already on row 3 (line 4)"), "{out}");
    assert!(out.contains("first 2 ready rows"), "{out}");
    assert!(out.contains("\"client_msg_id\": \"wx"), "{out}");
    assert!(!out.contains("access_token="), "{out}");
}

#[test]
fn gbk_excel_file_loads_cleanly() {
    let o = wxsend(&["check", "samples/campaign.toml", "--csv", "samples/recipients-excel-gbk.csv"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("gbk/gb18030"), "{out}");
    assert!(out.contains("rows 8  ready 8  invalid 0"), "{out}");
}

#[test]
fn uniform_campaign_warns_about_the_withdrawal() {
    let (out, _) = text(&wxsend(&["check", "samples/uniform.toml"]));
    assert!(out.contains("warning: kind = \"uniform\": WeChat withdrew uniform_send on 2023-09-20"), "{out}");
}

#[test]
fn subscribe_rules_are_enforced_before_sending() {
    let (out, _) = text(&wxsend(&["check", "samples/subscribe.toml"]));
    assert!(out.contains("samples/recipients.csv:9 row 8"), "{out}");
    assert!(out.contains("the `thing` rule; WeChat would answer 47003"), "{out}");
    assert!(out.contains("the `time/date` rule"), "{out}");
}

#[test]
fn json_report_is_one_document_with_the_counts() {
    let o = wxsend(&["check", "samples/campaign.toml", "--json", "--show", "1"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["rows"], 50);
    assert_eq!(v["ready"], 45);
    assert_eq!(v["invalid"], 4);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["problems"][0]["line"], 9);
    assert_eq!(v["problems"][0]["check"], "too_long_for_template");
    assert_eq!(v["problems"][0]["severity"], "warning");
    assert_eq!(v["problems"][1]["line"], 22);
    assert_eq!(v["problems"][1]["check"], "empty_openid");
    assert_eq!(v["preview"][0]["body"]["touser"], "oWxpTyGJMuHbEL31IeL2HPcHyGcF");
}

#[test]
fn unknown_placeholder_is_an_input_error_naming_place_and_closest_column() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_case(
        dir.path(),
        &CAMPAIGN.replace("{{product}}", "{{prodcut}}"),
        b"openid,product\noWxpTyGJMuHbEL31IeL2HPcHyGcF,x\n",
    );
    let o = wxsend(&["check", &c]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(out.is_empty());
    assert!(err.contains("c.toml:9:10: [message.data] thing1: placeholder `{{prodcut}}`"), "{err}");
    assert!(err.contains("did you mean `{{product}}`?"), "{err}");
}

#[test]
fn missing_openid_column_empty_file_and_duplicate_headers_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (csv, expect) in [
        (&b"open_id,product\nx,y\n"[..], "r.csv:1: no column is named `openid`"),
        (&b""[..], "r.csv: the file is empty"),
        (&b"openid,product,product\n"[..], "the header names column `product` twice"),
        (&b"open,id;x\n"[..], "r.csv:1: cannot tell the delimiter: the header contains comma and semicolon"),
    ] {
        let c = write_case(dir.path(), CAMPAIGN, csv);
        let o = wxsend(&["check", &c]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "want {expect:?} in {err}");
    }
}

#[test]
fn unknown_campaign_key_exits_2_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_case(
        dir.path(),
        &CAMPAIGN.replace("[recipients]", "[send]\nconcurency = 4\n[recipients]"),
        b"openid,product\n",
    );
    let o = wxsend(&["check", &c]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("c.toml:11:1: unknown key `concurency`; did you mean `concurrency`?"), "{err}");
}

#[test]
fn missing_campaign_file_exits_2() {
    let o = wxsend(&["check", "no/such/campaign.toml"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("no/such/campaign.toml"), "{err}");
}

#[test]
fn control_characters_from_the_csv_are_escaped_and_long_lists_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("openid,product,order\n");
    // An ESC sequence that would clear the screen, and a NUL, in an openid.
    csv.push_str("oWx\u{1b}[2J000000000000000000000,杯,1\n");
    csv.push_str("oWx\u{0}0000000000000000000000001,杯,2\n");
    for i in 0..45 {
        csv.push_str(&format!("short{i},杯,3\n"));
    }
    std::fs::write(dir.path().join("recipients.csv"), csv).unwrap();
    let campaign = dir.path().join("c.toml");
    std::fs::write(
        &campaign,
        "name = \"esc\"\n[wechat]\nappid = \"wx1\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n\
         [message.data]\nthing1 = \"{{product}}\"\n[recipients]\ncsv = \"recipients.csv\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
        .args(["check", campaign.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{0}'), "raw control characters printed:\n{text}");
    assert!(text.contains("oWx\\u{1b}[2J"), "{text}");
    let listed = text.lines().filter(|l| l.contains(" row ") && l.contains("short")).count();
    assert_eq!(listed, 20, "20 rows per check:\n{text}");
    assert!(text.contains("… and 25 more rows with openid_length (--all lists every row)"), "{text}");
    let all = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
        .args(["check", campaign.to_str().unwrap(), "--all"])
        .output()
        .unwrap();
    let text = String::from_utf8(all.stdout).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains(" row ") && l.contains("short")).count(), 45);
}
