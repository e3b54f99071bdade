//! A journal is applied only to the exact list it was written for: the bytes that were parsed
//! (never the file read again later), the sheet, the encoding, the openid column, the header.
//! Each sheet of a workbook has a journal of its own; a list replaced while a sender starts up
//! changes nothing about whom it messages; journals and reports are private to their owner.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use rust_xlsxwriter::Workbook;
use wxsend::mock::{MockConfig, MockServer};

fn received(server: &MockServer) -> HashMap<String, usize> {
    let mut by_openid: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *by_openid.entry(r.touser).or_default() += 1;
    }
    by_openid
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn book_campaign(dir: &Path, api: &str, sheet: &str) -> PathBuf {
    let toml = format!(
        "name = \"sheets\"\n[wechat]\napi_base = \"{api}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TID\"\n[message.data]\nthing1 = \"{{{{product}}}}\"\n\
         [recipients]\nfile = \"list.xlsx\"\nsheet = \"{sheet}\"\n[send]\nrate = 1000\nconcurrency = 4\n"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_killed_then_another_sheet_sends_all_of_it_and_leaves_the_first_journal_untouched() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let a: Vec<String> = (0..300).map(|i| openid("oWxA", i)).collect();
    let b: Vec<String> = (0..600).map(|i| openid("oWxB", i)).collect();
    let mut book = Workbook::new();
    for (name, people) in [("A", &a), ("B", &b)] {
        let sheet = book.add_worksheet();
        sheet.set_name(name).unwrap();
        sheet.write_string(0, 0, "openid").unwrap();
        sheet.write_string(0, 1, "product").unwrap();
        for (i, o) in people.iter().enumerate() {
            sheet.write_string(i as u32 + 1, 0, o).unwrap();
            sheet.write_string(i as u32 + 1, 1, "保温杯").unwrap();
        }
    }
    book.save(dir.path().join("list.xlsx")).unwrap();

    // Sheet A, killed part-way.
    let c = book_campaign(dir.path(), &server.url(), "A");
    let out = send_command(&c, &cache, &[]).env("WXSEND_FAILPOINT_ABORT_AFTER_WRITES", "120").output().await.unwrap();
    assert_eq!(out.status.code(), None, "the run was to be killed: {}", stderr(&out));
    let a_journal = dir.path().join(".wxsend/sheets/list@A/journal.jsonl");
    let a_bytes = std::fs::read(&a_journal).unwrap();
    let sent_of_a = received(&server).len();
    assert!(sent_of_a > 0 && sent_of_a < a.len(), "{sent_of_a} of A were sent before the kill");

    // Sheet B: a journal of its own, every one of its people once.
    book_campaign(dir.path(), &server.url(), "B");
    let out = send_command(&c, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = received(&server);
    for o in &b {
        assert_eq!(got.get(o), Some(&1), "{o} of sheet B");
    }
    assert_eq!(std::fs::read(&a_journal).unwrap(), a_bytes, "sheet B's run touched sheet A's journal");

    // Sheet A again: resumes from its own journal, nobody twice.
    book_campaign(dir.path(), &server.url(), "A");
    let out = send_command(&c, &cache, &[]).output().await.unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let got = received(&server);
    assert!(got.values().all(|&n| n == 1), "someone got two messages: {got:?}");
    let delivered_a = a.iter().filter(|o| got.contains_key(*o)).count();
    assert!(
        delivered_a >= a.len() - 4,
        "only {delivered_a} of A's 300 (at most the 4 in flight at the kill stay unknown)"
    );
}

/// The template campaign of the mock's own catalogue (its list is fetched, so a test can hold
/// the sender there).
fn listed_campaign(dir: &Path, api: &str) -> PathBuf {
    let toml = format!(
        "name = \"swap\"\n[wechat]\napi_base = \"{api}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TPL_ORDER_SHIPPED\"\n[message.data]\n\
         thing1 = \"{{{{product}}}}\"\ncharacter_string2 = \"{{{{order}}}}\"\namount3 = \"12.00元\"\ntime4 = \"2026-12-06 10:00\"\n\
         [recipients]\ncsv = \"recipients.csv\"\n[send]\nrate = 1000\nconcurrency = 4\n"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn list_text(people: &[String]) -> String {
    let mut csv = String::from("openid,product,order\n");
    for (i, o) in people.iter().enumerate() {
        csv.push_str(&format!("{o},保温杯,SF{i:07}\n"));
    }
    csv
}

fn listed_send(campaign: &Path, cache: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(["send", campaign.to_str().unwrap(), "--headless", "--yes"])
        .env("WXSEND_TEST_SECRET", SECRET)
        .env("WXSEND_CACHE_DIR", cache)
        .env("WXSEND_LEDGER_DIR", cache.join("ledger"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_replaced_while_start_up_waits_on_the_template_list_changes_nobody_s_messages() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let people: Vec<String> = (0..300).map(|i| openid("oWx", i)).collect();
    let reversed: Vec<String> = people.iter().rev().cloned().collect();
    let list = dir.path().join("recipients.csv");
    std::fs::write(&list, list_text(&people)).unwrap();
    let c = listed_campaign(dir.path(), &server.url());

    // The sender has read the list and waits on the template list; the list is replaced by the
    // same people in the opposite order; then the sender goes on, and is killed part-way.
    server.state().hold_template_lists(true);
    let run = listed_send(&c, &cache).env("WXSEND_FAILPOINT_ABORT_AFTER_WRITES", "150").spawn().unwrap();
    wait_until(|| server.stats().template_lists_held >= 1).await;
    std::fs::write(&list, list_text(&reversed)).unwrap();
    server.state().hold_template_lists(false);
    let out = run.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), None, "the run was to be killed: {}", stderr(&out));
    let before = received(&server);
    assert!(!before.is_empty());

    // The replaced list is not the one the journal was written for: refused, nothing sent.
    let out = listed_send(&c, &cache).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("changed since this campaign's journal was started"), "{}", stderr(&out));
    assert_eq!(received(&server), before, "a refused run sent something");

    // The list it was written for resumes: everyone once, nobody twice.
    std::fs::write(&list, list_text(&people)).unwrap();
    let out = listed_send(&c, &cache).output().await.unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let got = received(&server);
    assert!(got.values().all(|&n| n == 1), "someone got two messages: {got:?}");
    assert!(got.len() >= people.len() - 4, "{} of 300 (at most the 4 in flight at the kill stay unknown)", got.len());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journals_reports_and_exports_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let people = mixed_openids(40, 7, 0);
    let c = write_campaign(dir.path(), "private", Some(&server.url()), "rate = 1000", &people);
    let out = send_command(&c, &dir.path().join("cache"), &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mode =
        |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;
    let state = dir.path().join(".wxsend/private/recipients");
    for file in ["journal.jsonl", "report.json", "failed-recipients.csv", "lock", "journal.reserve"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&dir.path().join(".wxsend/private")), 0o700);
    assert_eq!(mode(&dir.path().join(".wxsend")), 0o700);
}
