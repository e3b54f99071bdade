//! The account's delivery ledger: nobody gets the same message twice whatever the campaign is
//! called, wherever its folder is and whatever list carries the person — only `--new-run` sends
//! again, and says to how many; people WeChat said do not follow (43004) or refused (43101) are
//! held back from the account's next campaigns; `ledger rebuild` gives the same answers from
//! the journals alone.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::{MockConfig, MockServer};

fn received(server: &MockServer) -> HashMap<String, usize> {
    let mut by_openid: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *by_openid.entry(r.touser).or_default() += 1;
    }
    by_openid
}

fn words(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `send` with the test's ledger in `ledger` (shared by every folder of the test, as the user's
/// ledger is shared by every campaign of the account).
fn send(campaign: &Path, ledger: &Path, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = send_command(campaign, &ledger.join("cache"), extra);
    cmd.env("WXSEND_LEDGER_DIR", ledger);
    cmd
}

fn rename(campaign: &Path, from: &str, to: &str) {
    let text =
        std::fs::read_to_string(campaign).unwrap().replace(&format!("name = \"{from}\""), &format!("name = \"{to}\""));
    std::fs::write(campaign, text).unwrap();
}

async fn killed_part_way(server: &MockServer, campaign: &Path, ledger: &Path) -> usize {
    let out = send(campaign, ledger, &[]).env("WXSEND_FAILPOINT_ABORT_AFTER_WRITES", "150").output().await.unwrap();
    assert_eq!(out.status.code(), None, "the run was to be killed: {}", words(&out));
    let reached = received(server).len();
    assert!(reached > 0, "nothing was sent before the kill");
    reached
}

fn assert_once(server: &MockServer, people: &[String], unknown_at_most: usize) {
    let got = received(server);
    assert!(
        got.values().all(|&n| n == 1),
        "someone got two messages: {:?}",
        got.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    let missing = people.iter().filter(|o| !got.contains_key(*o)).count();
    assert!(missing <= unknown_at_most, "{missing} people never got the message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_killed_then_renamed_sends_nobody_twice() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let people: Vec<String> = (0..300).map(|i| openid("oWx", i)).collect();
    let c = write_campaign(dir.path(), "first", Some(&server.url()), "rate = 1000\nconcurrency = 4", &people);
    let reached = killed_part_way(&server, &c, &ledger).await;

    rename(&c, "first", "renamed");
    let out = send(&c, &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{text}");
    assert!(text.contains("already sent: "), "{text}");
    assert!(text.contains("by campaign first on "), "{text}");
    // At most the 4 requests in flight at the kill stay unknown (held back, never resent).
    assert_once(&server, &people, 4);
    assert!(received(&server).len() >= reached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_killed_then_copied_to_another_folder_with_its_list_sends_nobody_twice() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let first = dir.path().join("first");
    std::fs::create_dir_all(&first).unwrap();
    let people: Vec<String> = (0..300).map(|i| openid("oWx", i)).collect();
    let c = write_campaign(&first, "orders", Some(&server.url()), "rate = 1000\nconcurrency = 4", &people);
    killed_part_way(&server, &c, &ledger).await;

    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for file in ["campaign.toml", "recipients.csv"] {
        std::fs::copy(first.join(file), copy.join(file)).unwrap();
    }
    let out = send(&copy.join("campaign.toml"), &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{text}");
    assert!(text.contains("already sent: "), "{text}");
    assert_once(&server, &people, 4);
}

/// Two campaigns of the same message with different names, lists overlapping by 100 people.
fn two_campaigns(dir: &Path, api: &str) -> (PathBuf, PathBuf, Vec<String>) {
    let all: Vec<String> = (0..300).map(|i| openid("oWx", i)).collect();
    let (x_dir, y_dir) = (dir.join("x"), dir.join("y"));
    std::fs::create_dir_all(&x_dir).unwrap();
    std::fs::create_dir_all(&y_dir).unwrap();
    // The same rendered message: the order number is the same per person in both lists.
    let write = |folder: &Path, name: &str, people: &[String]| {
        let c = write_campaign(folder, name, Some(api), "rate = 1000", &[]);
        let mut csv = String::from("openid,product,order\n");
        for o in people {
            csv.push_str(&format!("{o},保温杯,SF{}\n", &o[o.len() - 7..]));
        }
        std::fs::write(folder.join("recipients.csv"), csv).unwrap();
        c
    };
    let x = write(&x_dir, "november", &all[..200]);
    let y = write(&y_dir, "november-again", &all[100..]);
    (x, y, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_under_two_names_skips_and_counts_the_overlap_and_new_run_sends_again() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let (x, y, all) = two_campaigns(dir.path(), &server.url());
    let out = send(&x, &ledger, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));

    // Before sending: `check` and `status` count the overlap.
    let env = [("WXSEND_LEDGER_DIR", ledger.to_str().unwrap())];
    let out = wxsend(&["check", y.to_str().unwrap(), "--offline"], &env);
    assert!(words(&out).contains("ledger: already sent: 100, by campaign november on "), "{}", words(&out));
    let out = wxsend(&["check", y.to_str().unwrap(), "--offline", "--json"], &env);
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["ledger"]["already_sent"], 100, "{check}");
    let out = wxsend(&["status", y.to_str().unwrap()], &env);
    let text = words(&out);
    assert!(text.contains("pending 100") && text.contains("ledger: already sent: 100"), "{text}");
    let out = wxsend(&["status", y.to_str().unwrap(), "--json"], &env);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let held = status["held_rows"].as_array().unwrap();
    assert_eq!(held.len(), 100, "{status}");
    assert_eq!(held[0]["reason"], "already_sent");
    assert_eq!(held[0]["openid"], all[100].as_str(), "the first of y's list is the first of the overlap");

    let out = send(&y, &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("already sent: 100, by campaign november on "), "{text}");
    assert!(text.contains("to send now: 100 messages"), "{text}");
    assert_once(&server, &all, 0);
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(y.parent().unwrap().join(".wxsend/november-again/recipients/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["already_sent"], 100, "{report}");
    assert_eq!(report["pending"], 0, "{report}");

    // --new-run is the one way to send it again, and it says to how many people.
    let out = send(&y, &ledger, &["--new-run"]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SECOND TIME: 200 people already got this message"), "{text}");
    let got = received(&server);
    assert_eq!(all[100..].iter().filter(|o| got[*o] == 2).count(), 200);
    assert!(all[..100].iter().all(|o| got[o] == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_does_not_follow_is_held_back_from_the_next_campaign_until_included() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let mut people: Vec<String> = (0..20).map(|i| openid("oWx", i)).collect();
    people.push(openid("oERR43004_", 1));
    people.push(openid("oERR43004_", 2));
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let c1 = write_campaign(&one, "welcome", Some(&server.url()), "rate = 1000", &people);
    let out = send(&c1, &ledger, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "two rows fail with 43004: {}", words(&out));

    // Another campaign, another message: the two are held back, counted, not sent.
    let c2 = write_campaign(&two, "december", Some(&server.url()), "rate = 1000", &people);
    std::fs::write(&c2, std::fs::read_to_string(&c2).unwrap().replace("{{product}}", "{{product}}（十二月）")).unwrap();
    let before = server.records().len();
    let out = send(&c2, &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("held back by the account: 2"), "{text}");
    assert_eq!(server.records().len(), before + 20, "{text}");
    let stats = server.stats();

    // --include-suppressed sends them.
    let out = send(&c2, &ledger, &["--include-suppressed"]).output().await.unwrap();
    let text = words(&out);
    assert!(!text.contains("held back by the account"), "{text}");
    assert_eq!(server.stats().send_requests, stats.send_requests + 2, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_rebuilt_from_the_journals_gives_the_same_answers() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let (x, y, all) = two_campaigns(dir.path(), &server.url());
    let out = send(&x, &ledger, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    let db = ledger.join(format!("{APPID}.sqlite"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    }
    std::fs::remove_dir_all(&ledger).unwrap();

    let out = wxsend(
        &["ledger", "rebuild", dir.path().to_str().unwrap()],
        &[("WXSEND_LEDGER_DIR", ledger.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert!(words(&out).contains("1 journal"), "{}", words(&out));

    let out = send(&y, &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("already sent: 100, by campaign november on "), "{text}");
    assert_once(&server, &all, 0);

    let out =
        wxsend(&["ledger", "who", &all[150], "--appid", APPID], &[("WXSEND_LEDGER_DIR", ledger.to_str().unwrap())]);
    let text = words(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("november") && text.contains("delivered"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_do_not_send_list_holds_people_back_until_they_are_removed() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let people: Vec<String> = (0..10).map(|i| openid("oWx", i)).collect();
    let c = write_campaign(dir.path(), "list", Some(&server.url()), "rate = 1000", &people);
    let file = dir.path().join("do-not-send.csv");
    std::fs::write(&file, format!("openid,why\n{},asked us\n{},asked us\n", people[3], people[7])).unwrap();
    let env = [("WXSEND_LEDGER_DIR", ledger.to_str().unwrap())];
    let add = ["ledger", "suppress", "add", file.to_str().unwrap(), "--campaign", c.to_str().unwrap()];
    let out = wxsend(&add, &env);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert!(words(&out).contains("2 of 2 people added to the do-not-send list"), "{}", words(&out));

    let out = send(&c, &ledger, &[]).output().await.unwrap();
    let text = words(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("held back by the account: 2"), "{text}");
    let got = received(&server);
    assert_eq!(got.len(), 8);
    assert!(!got.contains_key(&people[3]) && !got.contains_key(&people[7]));

    let remove = ["ledger", "suppress", "remove", file.to_str().unwrap(), "--appid", APPID];
    assert_eq!(wxsend(&remove, &env).status.code(), Some(0));
    let out = send(&c, &ledger, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert_eq!(received(&server).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_suppress_days_applies_unless_the_campaign_sets_its_own() {
    let server = mock(MockConfig { no_dedupe: true, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let accounts = dir.path().join("accounts.toml");
    std::fs::write(
        &accounts,
        format!("[accounts.shop]\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\napi_base = \"{}\"\nsuppress_days = 0\n", server.url()),
    )
    .unwrap();
    let people = vec![openid("oWx", 1), openid("oERR43004_", 2)];
    let with_account = |folder: &str, name: &str, send: &str| {
        let d = dir.path().join(folder);
        std::fs::create_dir_all(&d).unwrap();
        let c = write_campaign(&d, name, None, send, &people);
        let text = std::fs::read_to_string(&c)
            .unwrap()
            .replace(&format!("appid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n"), "account = \"shop\"\n");
        std::fs::write(&c, text.replace("{{product}}", &format!("{{{{product}}}} {name}"))).unwrap();
        c
    };
    let run = |c: PathBuf| {
        let mut cmd = send(&c, &ledger, &[]);
        cmd.env("WXSEND_ACCOUNTS", &accounts);
        cmd
    };
    let out = run(with_account("one", "first", "rate = 100")).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", words(&out));
    // The account turns suppression off: the 43004 person is asked again.
    let before = server.stats().send_requests;
    let out = run(with_account("two", "second", "rate = 100")).output().await.unwrap();
    assert!(!words(&out).contains("held back by the account"), "{}", words(&out));
    assert_eq!(server.stats().send_requests, before + 2);
    // A campaign's own [send] suppress_days wins over the account's.
    let before = server.stats().send_requests;
    let out = run(with_account("three", "third", "rate = 100\nsuppress_days = 30")).output().await.unwrap();
    assert!(words(&out).contains("held back by the account: 1"), "{}", words(&out));
    assert_eq!(server.stats().send_requests, before + 1);
}
