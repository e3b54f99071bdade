//! `wxsend send` as a script runs it: the real binary against the embedded mock on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use common::*;
use wxsend::mock::{MockConfig, MockServer};

fn run(campaign: &Path, cache: &Path, extra: &[&str]) -> Output {
    let c = campaign.display().to_string();
    let mut args = vec!["send", c.as_str(), "--headless", "--skip-template-check"];
    args.extend_from_slice(extra);
    let cache = cache.display().to_string();
    let out = wxsend(&args, &[("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.as_str())]);
    eprintln!("--- wxsend {extra:?} exit {:?}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn deliveries(server: &MockServer) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in server.records() {
        *m.entry(r.touser).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_quota_stops_with_exit_3_and_a_later_run_sends_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { daily_quota: Some(20), ..Default::default() }).await;
    let openids = mixed_openids(30, 0, 0);
    let campaign = write_campaign(dir.path(), "quota", Some(&server.url()), "rate = 1000\nconcurrency = 4", &openids);

    // The quota is smaller than the campaign: refused unless the operator insists.
    let o = run(&campaign, &cache, &["--yes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the daily quota has 20 messages left and this run needs 30"), "{}", stderr(&o));
    assert_eq!(server.stats().send_requests, 0);

    let o = run(&campaign, &cache, &["--yes", "--ignore-quota"]);
    assert_eq!(o.status.code(), Some(3), "45009 stops the campaign");
    let err = stderr(&o);
    assert!(err.contains("stopped by WeChat: 45009"), "{err}");
    assert!(err.contains("daily API quota reached"), "{err}");
    assert!(err.contains("not sent yet 10"), "{err}");
    assert_eq!(server.stats().accepted, 20);

    // The next day.
    server.state().reset_daily_quota();
    let o = run(&campaign, &cache, &["--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming: already delivered 20"), "{}", stderr(&o));
    let d = deliveries(&server);
    assert_eq!(d.len(), 30);
    assert!(d.values().all(|&n| n == 1));
    // Three runs, one token: the later runs used the on-disk cache.
    assert_eq!(server.stats().stable_token_calls, 1);
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Nothing in the state folder or the output shows the secret or the token.
    let token = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&files[0]).unwrap()).unwrap()
        ["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    for entry in walk(&dir.path().join(".wxsend")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(&token) && !text.contains(SECRET), "{} leaks a secret", entry.display());
    }
    assert!(!err.contains(&token) && !err.contains(SECRET));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_a_script_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let campaign = write_campaign(dir.path(), "noyes", Some(&server.url()), "rate = 100", &mixed_openids(5, 0, 0));
    let o = run(&campaign, &dir.path().join("cache"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("add --yes"), "{}", stderr(&o));
    assert_eq!(server.stats().send_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let campaign = write_campaign(dir.path(), "nosecret", Some(&server.url()), "rate = 100", &mixed_openids(5, 0, 0));
    let c = campaign.display().to_string();
    let o = wxsend(&["send", &c, "--headless", "--yes", "--skip-template-check"], &[("WXSEND_TEST_SECRET", "")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("export it in the environment variable WXSEND_TEST_SECRET"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_csv_is_refused_until_a_new_run_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig::default()).await;
    let campaign = write_campaign(dir.path(), "changed", Some(&server.url()), "rate = 1000", &mixed_openids(5, 0, 0));
    assert_eq!(run(&campaign, &cache, &["--yes"]).status.code(), Some(0));
    let csv = dir.path().join("recipients.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str(&format!("{},围巾,SF9999999\n", openid("oWx", 99)));
    std::fs::write(&csv, text).unwrap();
    let o = run(&campaign, &cache, &["--yes"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("the recipients file"), "{err}");
    assert!(err.contains("changed since this campaign's journal was started"), "{err}");
    assert!(err.contains("--new-run"), "{err}");
    assert_eq!(server.stats().accepted, 5);
    // A changed message is refused as well.
    std::fs::write(&campaign, std::fs::read_to_string(&campaign).unwrap().replace("TID", "TID2")).unwrap();
    let o = run(&campaign, &cache, &["--yes"]);
    assert!(stderr(&o).contains("changed since"), "{}", stderr(&o));
    let o = run(&campaign, &cache, &["--yes", "--new-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.stats().accepted, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_state_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let campaign = write_campaign(dir.path(), "locked", Some(&server.url()), "rate = 1000", &mixed_openids(5, 0, 0));
    let state = dir.path().join(".wxsend").join("locked").join("recipients");
    std::fs::create_dir_all(&state).unwrap();
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(state.join("lock")).unwrap();
    lock.lock().unwrap();
    let o = run(&campaign, &dir.path().join("cache"), &["--yes"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("another wxsend is sending this campaign"), "{}", stderr(&o));
    assert_eq!(server.stats().send_requests, 0);
    lock.unlock().unwrap();
    assert_eq!(run(&campaign, &dir.path().join("cache"), &["--yes"]).status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_in_every_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let campaign = write_campaign(
        dir.path(),
        "rate",
        Some(&server.url()),
        "rate = 50\nburst = 1\nconcurrency = 16",
        &mixed_openids(150, 0, 0),
    );
    assert_eq!(run(&campaign, &dir.path().join("cache"), &["--yes"]).status.code(), Some(0));
    let mut at: Vec<u64> = server.records().iter().map(|r| r.at_ms).collect();
    at.sort_unstable();
    assert_eq!(at.len(), 150);
    let worst = (0..at.len()).map(|i| at[i..].iter().take_while(|&&t| t < at[i] + 1000).count()).max().unwrap();
    eprintln!("worst one-second window: {worst}");
    // rate + the limiter's burst (at least a twentieth of a second's worth, so that late
    // wake-ups cost no rate), plus one for the jitter between leaving wxsend and reaching the mock.
    let burst = wxsend::engine::rate::effective_burst(50, 1) as usize;
    assert_eq!(burst, 3);
    assert!(worst <= 50 + burst + 1, "{worst} messages within one second");
    assert!(worst >= 45, "{worst}: far below the configured rate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failures_file_reruns_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig::default()).await;
    let mut openids = mixed_openids(20, 5, 0);
    openids[2] = "not an openid".into();
    let campaign = write_campaign(dir.path(), "rerun", Some(&server.url()), "rate = 1000", &openids);
    // With a BOM, as Excel writes it; the export keeps it.
    let csv = dir.path().join("recipients.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, format!("\u{feff}{text}")).unwrap();
    let o = run(&campaign, &cache, &["--yes"]);
    assert_eq!(o.status.code(), Some(1));
    let failed = dir.path().join(".wxsend/rerun/recipients/failed-recipients.csv");
    let bytes = std::fs::read(&failed).unwrap();
    assert!(bytes.starts_with("\u{feff}openid,product,order,wxsend_errcode".as_bytes()));
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.lines().count(), 1 + 4 + 1, "{text}");
    assert!(text.contains(",invalid,openid contains whitespace,0"), "{text}");
    assert!(stderr(&o).contains(&format!(
        "re-run the failures: wxsend send {} --csv {}",
        campaign.display(),
        failed.display()
    )));
    // Re-run the failures file as it is: its own journal, the wxsend_ columns ignored.
    let f = failed.display().to_string();
    let o = run(&campaign, &cache, &["--yes", "--csv", &f]);
    assert_eq!(o.status.code(), Some(1), "the refusals are held back");
    assert!(stderr(&o).contains("rows 5: ready 4, invalid 1"), "{}", stderr(&o));
    // They answered 43101 (refused) moments ago: the account holds them back…
    assert!(stderr(&o).contains("held back by the account: 4"), "{}", stderr(&o));
    assert_eq!(server.stats().sends_by_errcode.get(&43101), Some(&4));
    // …until the operator says otherwise.
    let o = run(&campaign, &cache, &["--yes", "--csv", &f, "--include-suppressed"]);
    assert_eq!(o.status.code(), Some(1), "the refusals fail again");
    assert_eq!(server.stats().sends_by_errcode.get(&43101), Some(&8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_its_export_refuse_a_journal_written_for_another_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let openids = mixed_openids(12, 4, 0);
    let campaign = write_campaign(dir.path(), "sorted", Some(&server.url()), "rate = 1000", &openids);
    assert_eq!(run(&campaign, &dir.path().join("cache"), &["--yes"]).status.code(), Some(1), "refusals fail");
    // The operator sorts the list afterwards: row numbers now name other people.

    let csv = dir.path().join("recipients.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let export = dir.path().join("f.csv");
    let cache = dir.path().join("cache");
    for extra in [vec![], vec!["--export", export.to_str().unwrap()]] {
        let mut args = vec!["status", campaign.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let out = wxsend(&args, &[("WXSEND_CACHE_DIR", cache.to_str().unwrap())]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("recipients file") && err.contains("changed since"), "{err}");
    }
    assert!(!export.exists(), "no failures file naming the wrong people");
}
