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
