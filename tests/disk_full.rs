//! The state folder on a full disk (a 64 KiB tmpfs): the run stops with exit 4 naming the disk,
//! without a panic or a temporary file left behind; once there is space again the same command
//! (with `--resend-unknown`) completes with nobody messaged twice; run again, it exits 0.
//! Mounting needs root: elsewhere the test reports itself ignored (libtest-mimic).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::*;
use wxsend::mock::MockConfig;

struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str()?])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}"), self.0.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let probe = tempfile::tempdir().unwrap();
    let can_mount = Tmpfs::mount(&probe.path().join("probe"), "64k").is_some();
    if !can_mount {
        eprintln!("cannot mount a tmpfs here (needs root): the disk-full test is ignored");
    }
    let tests = vec![
        libtest_mimic::Trial::test("a_full_disk_stops_the_run_cleanly_and_the_same_command_resumes", || {
            full_disk();
            Ok(())
        })
        .with_ignored_flag(!can_mount),
        libtest_mimic::Trial::test("a_read_only_state_folder_is_named_and_nothing_is_sent", || {
            read_only();
            Ok(())
        })
        .with_ignored_flag(!can_mount),
        libtest_mimic::Trial::test("a_receipt_refused_on_a_full_disk_is_kept_when_wechat_pushes_it_again", || {
            receipts_on_a_full_disk();
            Ok(())
        })
        .with_ignored_flag(!can_mount),
    ];
    libtest_mimic::run(&args, tests).exit();
}

fn full_disk() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let disk = Tmpfs::mount(&state, "64k").expect("mount");
        let cache = dir.path().join("cache");
        // WeChat without client_msg_id dedupe: a row resent by mistake would arrive twice.
        let server = mock(MockConfig { no_dedupe: true, ..MockConfig::default() }).await;
        let rows = 1500;
        let openids = mixed_openids(rows, 0, 0);
        let campaign =
            write_campaign(dir.path(), "full", Some(&server.url()), "rate = 5000\nconcurrency = 8", &openids);
        let run = |extra: &[&str]| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxsend"));
            cmd.args([
                "send",
                campaign.to_str().unwrap(),
                "--headless",
                "--yes",
                "--state-dir",
                state.to_str().unwrap(),
                "--skip-template-check",
            ])
            .args(extra)
            .env("WXSEND_TEST_SECRET", SECRET)
            .env("WXSEND_CACHE_DIR", &cache)
            .env("WXSEND_LEDGER_DIR", cache.join("ledger"));
            cmd.output().unwrap()
        };

        // Full before the start: refused with exit 4, nothing sent.
        let filler = state.join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 64 * 1024]);
        let out = run(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert_eq!(server.stats().send_requests, 0, "nothing sent on a full disk");
        std::fs::remove_file(&filler).unwrap();

        // Full part way.
        let out = run(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("No space left on device"), "{err}");
        assert!(err.contains("journal.jsonl"), "names the file: {err}");
        assert!(!err.contains("panicked"), "{err}");
        let sent = server.stats().accepted as usize;
        assert!(sent > 0 && sent < rows, "stopped part way: {sent}");
        let tmp: Vec<_> = walk(&state)
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".tmp")))
            .collect();
        assert!(tmp.is_empty(), "temporary files left: {tmp:?}");

        // The outcomes of the requests in flight were written with the reserve's space: no row
        // WeChat accepted stands as unknown, so resending the unknown rows duplicates nobody.
        assert!(!err.contains("do NOT add --resend-unknown"), "{err}");
        assert!(!state.join("recipients").join("journal.reserve").exists(), "the reserve was given up");

        // Space is back: the same command (with the unknown rows) completes, and nobody got a
        // message twice.
        disk.resize("4m");
        let out = run(&["--resend-unknown"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let mut per_user: HashMap<String, usize> = HashMap::new();
        for r in server.records() {
            *per_user.entry(r.touser).or_default() += 1;
        }
        assert_eq!(per_user.len(), rows);
        assert!(per_user.values().all(|&n| n == 1));
        assert_eq!(server.stats().duplicate_deliveries, 0);
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(0), "a finished campaign: {}", String::from_utf8_lossy(&out.stderr));
        drop(disk);
    });
}

fn read_only() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let disk = Tmpfs::mount(&state, "1m").expect("mount");
        disk.resize("1m,ro");
        let server = mock(MockConfig::default()).await;
        let campaign = write_campaign(dir.path(), "ro", Some(&server.url()), "rate = 100", &mixed_openids(5, 0, 0));
        let out = Command::new(env!("CARGO_BIN_EXE_wxsend"))
            .args(["send", campaign.to_str().unwrap(), "--headless", "--yes", "--state-dir", state.to_str().unwrap()])
            .arg("--skip-template-check")
            .env("WXSEND_TEST_SECRET", SECRET)
            .env("WXSEND_CACHE_DIR", dir.path().join("cache"))
            .env("WXSEND_LEDGER_DIR", dir.path().join("cache/ledger"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("Read-only file system") && err.contains(state.to_str().unwrap()), "{err}");
        assert_eq!(server.stats().send_requests, 0);
        drop(disk);
    });
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The receipts server on a full disk: the push gets 500 (WeChat pushes it again), nothing it
/// half-wrote survives, and the pushes after space is back are acknowledged and kept.
fn receipts_on_a_full_disk() {
    use tokio::io::AsyncBufReadExt;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let _disk = Tmpfs::mount(&state, "64k").expect("mount");
        let server = mock(MockConfig::default()).await;
        let openids = mixed_openids(3, 0, 0);
        let campaign = write_campaign(dir.path(), "rcpt", Some(&server.url()), "rate = 100", &openids);
        let state_arg = state.to_str().unwrap().to_string();
        let out = send_command(&campaign, &dir.path().join("cache"), &["--state-dir", &state_arg]).output().await.unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let journal = state.join("recipients/journal.jsonl");
        let msgids: HashMap<usize, String> =
            wxsend::journal::read_msgids(&journal).unwrap().into_iter().map(|(m, r)| (r, m)).collect();

        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
            .args(["receipts", "serve", campaign.to_str().unwrap(), "--listen", "127.0.0.1:0", "--state-dir", &state_arg])
            .env("WXSEND_PUSH_TOKEN", "tok")
            .env_remove("WXSEND_PUSH_AES_KEY")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines.next_line().await.unwrap().expect("serve printed its address");
            if let Some(rest) = line.strip_prefix("receiving WeChat's pushes on ") {
                break rest.split(' ').next().unwrap().to_string();
            }
        };
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
        let push = |nonce: &str, row: usize| {
            let q = format!("signature={}&timestamp={ts}&nonce={nonce}", wxsend::wechat::push::signature(&["tok", &ts, nonce]));
            let body = format!(
                "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{}</MsgID><Status><![CDATA[success]]></Status></xml>",
                openids[row], msgids[&row]
            );
            let url = url.clone();
            async move { reqwest::Client::new().post(format!("{url}/?{q}")).body(body).send().await.unwrap().status() }
        };
        assert_eq!(push("n0", 0).await, 200);
        // More receipts, until the next one crosses into a block the full disk will not give: it
        // is then written in part (a torn record on disk) before the write fails.
        let receipts = state.join("recipients/receipts.jsonl");
        let record = std::fs::metadata(&receipts).unwrap().len();
        for k in 1..(4096 / record) {
            assert_eq!(push(&format!("fill{k}"), 0).await, 200);
        }
        // The disk fills up.
        let filler = state.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut f, &[0u8; 512]).is_ok() {}
        drop(f);
        assert_eq!(push("n1", 1).await, 500, "WeChat is told to push it again");
        let torn = std::fs::read(&receipts).unwrap();
        assert!(!torn.ends_with(b"\n"), "the refused record was written in part: the case under test");
        // Space is back: WeChat's second try and the next push are kept.
        std::fs::remove_file(&filler).unwrap();
        assert_eq!(push("n1", 1).await, 200);
        assert_eq!(push("n2", 2).await, 200);
        drop(child);
        let out = wxsend(&["status", campaign.to_str().unwrap(), "--json", "--state-dir", &state_arg], &[]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["receipts"]["success"], 3, "{s}");
        assert_eq!(s["receipts_unmatched"], 0, "{s}");
    });
}
