//! Recipients in a workbook (`[recipients] file = "list.xlsx"`, `sheet = "名单"`): cells read as
//! the sheet shows them, a number in the openid column invalidates its row (named
//! `list.xlsx:名单!row`), and the failures export as CSV with a BOM and the same columns.

mod common;

use std::path::Path;

use common::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use wxsend::mock::MockConfig;

fn write_book(path: &Path) {
    let mut book = Workbook::new();
    let other = book.add_worksheet();
    other.set_name("说明").unwrap();
    other.write_string(0, 0, "名单 is the list").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("名单").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (col, name) in ["openid", "name", "qty", "price", "day", "at", "total"].iter().enumerate() {
        sheet.write_string(0, col as u16, *name).unwrap();
    }
    // Row 2: every kind of cell.
    sheet.write_string(1, 0, openid("oWx", 1)).unwrap();
    sheet.write_string(1, 1, "张三").unwrap();
    sheet.write_number(1, 2, 12.0).unwrap();
    sheet.write_number(1, 3, 12.5).unwrap();
    sheet.write_datetime_with_format(1, 4, ExcelDateTime::from_ymd(2026, 11, 25).unwrap(), &date).unwrap();
    let at = ExcelDateTime::from_ymd(2026, 11, 25).unwrap().and_hms(9, 30, 0).unwrap();
    sheet.write_datetime_with_format(1, 5, at, &datetime).unwrap();
    sheet.write_formula(1, 6, Formula::new("=C2*2").set_result("24")).unwrap();
    // Row 3: the openid typed as a number.
    sheet.write_number(2, 0, 12345.0).unwrap();
    sheet.write_string(2, 1, "李四").unwrap();
    for col in 2..7 {
        sheet.write_number(2, col, 1.0).unwrap();
    }
    // Row 4 is empty; row 5 is plain.
    sheet.write_string(4, 0, openid("oWx", 5)).unwrap();
    sheet.write_string(4, 1, "王五").unwrap();
    for col in 2..7 {
        sheet.write_number(4, col, 3.0).unwrap();
    }
    book.save(path).unwrap();
}

fn campaign(dir: &Path, sheet: &str) -> std::path::PathBuf {
    let toml = format!(
        "name = \"book\"\n[wechat]\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TID\"\n[message.data]\n\
         thing1 = \"{{{{name}}}}\"\nnumber2 = \"{{{{qty}}}}\"\namount3 = \"{{{{price}}}}\"\ndate4 = \"{{{{day}}}}\"\ntime5 = \"{{{{at}}}}\"\nnumber6 = \"{{{{total}}}}\"\n\
         [recipients]\nfile = \"list.xlsx\"\nsheet = \"{sheet}\"\n"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn a_workbook_reads_as_the_sheet_shows_and_a_numeric_openid_is_named_by_sheet_and_row() {
    let dir = tempfile::tempdir().unwrap();
    write_book(&dir.path().join("list.xlsx"));
    let c = campaign(dir.path(), "名单");
    let out = wxsend(&["check", c.to_str().unwrap(), "--json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"], 3, "{report}");
    assert_eq!(report["invalid"], 1);
    let data = &report["preview"][0]["body"]["data"];
    assert_eq!(data["thing1"]["value"], "张三");
    assert_eq!(data["number2"]["value"], "12");
    assert_eq!(data["amount3"]["value"], "12.5");
    assert_eq!(data["date4"]["value"], "2026-11-25");
    assert_eq!(data["time5"]["value"], "2026-11-25 09:30");
    assert_eq!(data["number6"]["value"], "24");
    let problem = &report["problems"][0];
    assert!(problem["at"].as_str().unwrap().ends_with("list.xlsx:名单!3"), "{problem}");
    assert!(
        problem["message"].as_str().unwrap().contains("the openid cell holds a number (12345), not text"),
        "{problem}"
    );

    let out = wxsend(&["check", c.to_str().unwrap()], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("list.xlsx:名单!3 row 2"), "{text}");

    let wrong = campaign(dir.path(), "名单2");
    let out = wxsend(&["check", wrong.to_str().unwrap()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no sheet named \"名单2\" (did you mean \"名单\"?); the sheets are: 说明, 名单"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_of_a_workbook_export_as_csv_with_a_bom_and_the_same_columns() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    write_book(&dir.path().join("list.xlsx"));
    let c = campaign(dir.path(), "名单");
    let text = std::fs::read_to_string(&c)
        .unwrap()
        .replace("[message]", &format!("api_base = \"{}\"\n[message]", server.url()));
    std::fs::write(&c, text).unwrap();
    let out = send_command(&c, &dir.path().join("cache"), &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.stats().accepted, 2);
    let failed = std::fs::read(dir.path().join(".wxsend/book/list@名单/failed-list@名单.csv")).unwrap();
    let failed = String::from_utf8(failed).unwrap();
    assert!(failed.starts_with("\u{feff}openid,name,qty,price,day,at,total,wxsend_errcode"), "{failed}");
    assert!(failed.contains("12345,李四,1,1,1,1,1,invalid"), "{failed}");
}
