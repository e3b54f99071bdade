//! The journal's promise under the failures of a real machine: a torn last record, transient
//! outages that outlast the retries, SIGTERM, locks, hostile files and token commands.

mod common;

use tokio::io::AsyncBufReadExt;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use wxsend::app::{SendOptions, Session};
use wxsend::engine::Event;
use wxsend::journal::{replay_file, Category};
use wxsend::mock::MockConfig;
use wxsend::wechat::{TokenCache, TokenError, TokenSource, TokenSpec};

fn once_each(server: &wxsend::mock::MockServer, n: usize) {
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for r in server.records() {
        *per_user.entry(r.touser).or_default() += 1;
    }
    assert_eq!(per_user.len(), n, "every row delivered");
    assert!(per_user.values().all(|&c| c == 1), "nobody twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_record_is_cut_away_with_a_warning_and_the_campaign_completes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig::default()).await;
    let openids = mixed_openids(30, 0, 0);
    let campaign = write_campaign(dir.path(), "torn", Some(&server.url()), "rate = 500", &openids);
    let journal = dir.path().join(".wxsend/torn/recipients/journal.jsonl");
    // A first run, then a power cut that leaves half a record (and a second one that cut
    // mid-line without a newline).
    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut bytes = std::fs::read(&journal).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(br#"{"t":"ok","row":12"#);
    std::fs::write(&journal, &bytes).unwrap();

    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("the last record was incomplete"), "{err}");
    assert!(err.contains("journal.jsonl"), "{err}");
    // Cut away, then the new run's records follow on lines of their own.
    let after = String::from_utf8(std::fs::read(&journal).unwrap()).unwrap();
    assert!(after.len() > whole);
    assert!(after.lines().all(|l| l.starts_with('{') && l.contains('\t')), "every record whole, each on its line");
    let (_, replay) = replay_file(&journal, 30).unwrap();
    assert!(replay.rows.iter().all(|r| r.category() == Category::Delivered));
    // And again: a finished campaign run once more exits 0 and sends nothing.
    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    once_each(&server, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_whose_retries_ran_out_on_transient_answers_are_sent_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let openids = mixed_openids(12, 0, 0);
    let send = "rate = 1000\nmax_attempts = 2\npause_on_failure_rate = 1.0";
    let campaign = write_campaign(dir.path(), "outage", None, send, &openids);
    // A 502 outage: every answer is a gateway error.
    let outage = MockConfig { http_502_rate: 1.0, ..Default::default() };
    let session = Session::prepare(&SendOptions {
        campaign: campaign.clone(),
        mock: Some(outage),
        skip_template_check: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut engine = {
        let mut config = session.engine_config.clone();
        config.backoff_base = Duration::from_millis(1);
        config.backoff_max = Duration::from_millis(2);
        wxsend::engine::Engine::new(
            session.campaign.clone(),
            session.sender.clone(),
            session.writer.clone(),
            config,
            session.plan.to_send.clone(),
        )
        .start()
    };
    let summary = loop {
        if let Some(Event::Done(s)) = engine.1.recv().await {
            break *s;
        }
    };
    assert_eq!(summary.counters.retry_later, 12);
    assert_eq!(summary.counters.failed, 0, "a transient answer is not a refusal");
    let report = session.finish(&summary).await;
    assert_eq!(report.totals.pending, 12);
    assert_eq!(report.failures.as_ref().ok(), Some(&0), "nothing in the failures file");
    assert!(report.lines().iter().any(|l| l.text.starts_with("retry later: 12 rows")));
    drop(session);

    // WeChat is healthy again: the same command sends all twelve.
    let session = Session::prepare(&SendOptions {
        campaign,
        mock: Some(MockConfig::default()),
        skip_template_check: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(session.plan.to_send.len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_and_the_same_command_sends_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(20), ..Default::default() }).await;
    let openids = mixed_openids(200, 0, 0);
    let campaign = write_campaign(dir.path(), "term", Some(&server.url()), "rate = 100\nconcurrency = 8", &openids);
    let journal = dir.path().join(".wxsend/term/recipients/journal.jsonl");
    let child = send_command(&campaign, &cache, &[]).spawn().unwrap();
    wait_until(|| server.stats().accepted >= 20).await;
    let pid = child.id().unwrap().to_string();
    let sent_at = std::time::Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().await.unwrap();
    assert!(sent_at.elapsed() < Duration::from_secs(5), "SIGTERM took {:?}", sent_at.elapsed());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    assert!(err.contains("report"), "the summary and files are written: {err}");
    let (_, replay) = replay_file(&journal, 200).unwrap();
    assert!(replay.unknown().is_empty(), "every request in flight got its outcome");

    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    once_each(&server, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sender_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "locked", None, "rate = 10", &mixed_openids(3, 0, 0));
    let opts =
        SendOptions { campaign, mock: Some(MockConfig::default()), skip_template_check: true, ..Default::default() };
    let first = Session::prepare(&opts).await.unwrap();
    let e = Session::prepare(&opts).await.unwrap_err().to_string();
    assert!(e.contains(&format!("another wxsend (pid {})", std::process::id())), "{e}");
    drop(first);
    // Released with its holder: the next one takes it over.
    Session::prepare(&opts).await.expect("a lock whose holder is gone is taken over");
}

#[test]
fn recipients_that_are_not_a_regular_file_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "fifo", None, "rate = 10", &mixed_openids(3, 0, 0));
    let fifo = dir.path().join("list.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for csv in [fifo.clone(), dir.path().to_path_buf()] {
        let out = wxsend(&["check", campaign.to_str().unwrap(), "--csv", csv.to_str().unwrap()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(csv.to_str().unwrap()) && err.contains("save the recipients to a regular file"), "{err}");
    }
}

#[test]
fn a_dangling_state_folder_link_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "link", None, "rate = 10", &mixed_openids(3, 0, 0));
    let state = dir.path().join("state");
    std::os::unix::fs::symlink(dir.path().join("gone"), &state).unwrap();
    let out = wxsend(
        &[
            "send",
            campaign.to_str().unwrap(),
            "--mock",
            "--yes",
            "--headless",
            "--skip-template-check",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a symbolic link to") && err.contains("which does not exist"), "{err}");
}

#[test]
fn export_into_a_folder_names_the_path_and_the_rerun_command_keeps_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "exp", None, "rate = 100", &mixed_openids(6, 3, 0));
    let folder = dir.path().join("out");
    std::fs::create_dir(&folder).unwrap();
    let state = dir.path().join("st");
    let args = [
        "send",
        campaign.to_str().unwrap(),
        "--mock",
        "--yes",
        "--headless",
        "--skip-template-check",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let mut with_export: Vec<&str> = args.to_vec();
    with_export.extend(["--export", folder.to_str().unwrap()]);
    let out = wxsend(&with_export, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("{} is a folder", folder.display())), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert!(leftovers.is_empty(), "no temporary file left: {leftovers:?}");

    let out = wxsend(&args, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("--state-dir {}", state.display())), "the rerun command keeps --state-dir: {err}");
}

fn command_source(command: &str) -> TokenCache {
    let client = wxsend::wechat::WechatClient::new("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
    TokenCache::new(TokenSource::new(TokenSpec::Command(command.into()), APPID, None, &client), None)
}

#[tokio::test(start_paused = true)]
async fn a_hanging_token_command_is_stopped_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let (shell, child) = (dir.path().join("shell"), dir.path().join("child"));
    // The command starts a grandchild and waits for it: both must go. (On the paused clock the
    // 30 s pass at once, so the shell may be stopped before it got as far as either file.)
    let command = format!("echo $$ > {}; sleep 300 & echo $! > {}; wait", shell.display(), child.display());
    let e = command_source(&command).get().await.unwrap_err();
    assert!(e.to_string().contains("no answer within 30 s"), "{e}");
    // Each process is known by its command line too: a busy machine (pid_max 32768) may give
    // a dead one's pid to another process within seconds.
    let folder = dir.path().display().to_string().into_bytes();
    for (f, own) in [(shell, folder), (child, b"sleep\x00300".to_vec())] {
        let Ok(pid) = std::fs::read_to_string(&f) else { continue };
        // Killed: gone, or a zombie waiting to be reaped (a SIGKILL takes effect when the process
        // is next scheduled: wait for that, on the real clock, not for a guessed time).
        let stat = format!("/proc/{}/stat", pid.trim());
        let cmdline = format!("/proc/{}/cmdline", pid.trim());
        let dead = || {
            let state = std::fs::read_to_string(&stat).unwrap_or_default();
            let ours = std::fs::read(&cmdline).is_ok_and(|c| c.windows(own.len()).any(|w| w == own.as_slice()));
            !ours || state.split_whitespace().nth(2).is_none_or(|s| s == "Z")
        };
        let start = std::time::Instant::now();
        while !dead() {
            assert!(start.elapsed() < Duration::from_secs(20), "a process of the token command is still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[tokio::test]
async fn token_commands_that_fail_or_print_garbage_are_named() {
    let cases: &[(&str, &str)] = &[
        ("echo 'cannot reach vault' >&2; exit 3", "exited with exit status: 3: cannot reach vault"),
        (r#"echo '{"errcode":40125,"errmsg":"invalid appsecret"}'"#, "40125"),
        ("head -c 10000000 /dev/zero | tr '\\0' 'a'", "more than 64 KiB"),
        ("printf 'not a token!'", "not a token"),
        ("printf '%0600d' 7", "at most 512"),
        ("true", "printed nothing"),
    ];
    for (command, want) in cases {
        let e: TokenError = command_source(command).get().await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains(want), "{command}: {text}");
        if !matches!(e, TokenError::Api { .. }) {
            assert!(text.contains(command), "the source is named: {text}");
        }
    }
    let ok = command_source("printf 'Tok_en-123'").get().await.unwrap();
    assert_eq!(ok.expose(), "Tok_en-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_or_output_ever_holds_the_secret_or_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig { invalidate_tokens_at: vec![5], ..Default::default() }).await;
    let openids = mixed_openids(20, 4, 7);
    let campaign = write_campaign(dir.path(), "secret", Some(&server.url()), "rate = 500", &openids);
    let mut outputs = Vec::new();
    for args in [vec!["check", campaign.to_str().unwrap()], vec!["check", campaign.to_str().unwrap(), "--json"]] {
        outputs.push(wxsend(&args, &[("WXSEND_TEST_SECRET", SECRET)]));
    }
    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    outputs.push(out);
    // The tokens the mock handed out, from the cache file (the one place a token may be kept).
    let mut tokens = Vec::new();
    for f in std::fs::read_dir(&cache).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        tokens.push(v["access_token"].as_str().unwrap().to_string());
        assert!(!text.contains(SECRET), "the token cache holds no secret");
    }
    assert!(!tokens.is_empty());
    let mut files = Vec::new();
    let mut stack = vec![dir.path().join(".wxsend")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    assert!(files.len() >= 4, "journal, lock, failures, report: {files:?}");
    let mut texts: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.display().to_string(), String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()))
        .collect();
    for (i, o) in outputs.iter().enumerate() {
        texts.push((format!("stdout {i}"), String::from_utf8_lossy(&o.stdout).into_owned()));
        texts.push((format!("stderr {i}"), String::from_utf8_lossy(&o.stderr).into_owned()));
    }
    for (what, text) in &texts {
        assert!(!text.contains(SECRET), "{what} holds the app secret");
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "{what} holds an access token");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_fails_ends_the_run_as_crashed_not_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = mock(MockConfig::default()).await;
    let openids = mixed_openids(40, 0, 0);
    let campaign = write_campaign(dir.path(), "crashed", Some(&server.url()), "rate = 1000", &openids);
    let out = send_command(&campaign, &cache, &[]).env("WXSEND_FAILPOINT_PANIC_AT_ROW", "20").output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("crashed: a sending task failed: failpoint: a worker failed at row 20"), "{err}");
    assert!(!err.contains("stopped by the operator"), "{err}");
    // The journal is intact: the same command sends the rest, nobody twice.
    let out = send_command(&campaign, &cache, &[]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    once_each(&server, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_interrupt_during_the_graceful_stop_quits_at_once_with_the_journal_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // Slow answers: the graceful stop has requests in flight to wait for.
    let server = mock(MockConfig { latency: wxsend::mock::Latency::fixed(2000), ..Default::default() }).await;
    let openids = mixed_openids(50, 0, 0);
    let campaign = write_campaign(dir.path(), "twice", Some(&server.url()), "rate = 1000\nconcurrency = 8", &openids);
    let journal = dir.path().join(".wxsend/twice/recipients/journal.jsonl");
    let mut child = send_command(&campaign, &cache, &[]).spawn().unwrap();
    wait_until(|| server.stats().send_requests >= 8).await;
    let pid = child.id().unwrap().to_string();
    let kill = || assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    // The second interrupt only once the first was taken (two signals sent at once merge into one).
    kill();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Ctrl-C again to quit at once") {
            break;
        }
    }
    kill();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = child.wait().await.unwrap();
    let err = seen;
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("quit; the journal is intact"), "{err}");
    // Consistent: it reads back, and the requests abandoned in flight are unknown, not pending.
    let (_, replay) = replay_file(&journal, 50).unwrap();
    assert!(!replay.unknown().is_empty());
    assert!(replay.unknown().len() <= 8);
}

#[test]
fn a_recipients_file_too_large_binary_or_unreadable_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = write_campaign(dir.path(), "hostile", None, "rate = 10", &mixed_openids(3, 0, 0));
    let check = |csv: &std::path::Path| {
        let out = wxsend(&["check", campaign.to_str().unwrap(), "--csv", csv.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // 2 GB (sparse: refused from its size, before a byte is read).
    let huge = dir.path().join("huge.csv");
    std::fs::File::create(&huge).unwrap().set_len(2_000_000_000).unwrap();
    let err = check(&huge);
    assert!(err.contains("huge.csv: is 2.0 GB") && err.contains("split it into several files"), "{err}");

    // Binary: an image saved under a .csv name.
    let binary = dir.path().join("photo.csv");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8));
    std::fs::write(&binary, bytes).unwrap();
    let err = check(&binary);
    assert!(err.contains("photo.csv") && err.contains("not a text file (a PNG image)"), "{err}");
    // A workbook named .csv: the most common mix-up.
    let workbook = dir.path().join("list.csv");
    std::fs::write(&workbook, b"PK\x03\x04\x14\x00\x06\x00").unwrap();
    let err = check(&workbook);
    assert!(err.contains("list.csv") && err.contains(".xlsx"), "{err}");
    // The zeros of a preallocated file.
    let zeros = dir.path().join("zeros.csv");
    std::fs::write(&zeros, vec![0u8; 10_000]).unwrap();
    let err = check(&zeros);
    assert!(err.contains("zeros.csv") && err.contains("mostly NUL bytes"), "{err}");

    // Unreadable: a regular file whose read fails (EIO), even for root.
    let err = check(std::path::Path::new("/proc/self/mem"));
    assert!(err.contains("/proc/self/mem") && err.contains("Input/output error"), "{err}");
}
