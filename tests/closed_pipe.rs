//! `wxsend … | head -1`: every command whose reader goes away ends quietly with 0 — no panic, no
//! "error:", whatever it was printing. Standard output is a pipe whose reading end is closed
//! before the command starts, so every write fails (deterministically, not by a race with `head`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use wxsend::mock::MockConfig;

/// Run the binary with standard output already closed at the far end; its exit code and stderr.
fn closed(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(args).stdout(writer).stderr(Stdio::piped()).stdin(Stdio::null());
    cmd.env_remove("WXSEND_REDIS_URL").env_remove("WXSEND_APPSECRET");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The sample campaign and list copied into `dir`, its API the mock at `api`.
fn sample(dir: &Path, api: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let text = std::fs::read_to_string(root.join("campaign.toml"))
        .unwrap()
        .replace("https://api.weixin.qq.com", api)
        .replace("WXSEND_APPSECRET", "WXSEND_TEST_SECRET");
    std::fs::write(dir.join("campaign.toml"), text).unwrap();
    std::fs::copy(root.join("recipients.csv"), dir.join("recipients.csv")).unwrap();
    dir.join("campaign.toml").to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_whose_reader_is_gone_ends_quietly_with_0() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = sample(dir.path(), &server.url());
    let cache = dir.path().join("cache");
    let ledger = ledger_beside(&cache);
    let accounts = dir.path().join("accounts.toml");
    std::fs::write(
        &accounts,
        "[accounts.a]\nappid = \"wx0123456789abcdef\"\n[accounts.b]\nappid = \"wxfedcba9876543210\"\n",
    )
    .unwrap();
    let events = dir.path().join("events.txt");
    std::fs::write(&events, "<xml><Event>TEMPLATESENDJOBFINISH</Event><MsgID>1</MsgID><FromUserName>o1</FromUserName><Status>success</Status></xml>\n").unwrap();
    let envs = [
        ("WXSEND_TEST_SECRET", SECRET),
        ("WXSEND_CACHE_DIR", cache.to_str().unwrap()),
        ("WXSEND_LEDGER_DIR", ledger.to_str().unwrap()),
        ("WXSEND_ACCOUNTS", accounts.to_str().unwrap()),
    ];
    let new = dir.path().join("new.toml");
    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["accounts"],
        vec!["check", &campaign, "--offline"],
        vec!["check", &campaign, "--offline", "--json"],
        vec!["templates", &campaign],
        vec!["templates", &campaign, "--json"],
        vec!["doctor", &campaign],
        vec!["status", &campaign],
        vec!["status", &campaign, "--json"],
        vec!["receipts", "import", &campaign, events.to_str().unwrap()],
        vec!["ledger", "who", "oWx0000000000000000000000001", "--appid", "wx0123456789abcdef"],
        vec!["new", new.to_str().unwrap(), "--template", "TPL_ORDER_SHIPPED", "--from", &campaign],
    ];
    for args in commands {
        let (code, stderr) = closed(&args, &envs);
        assert_eq!(code, Some(0), "wxsend {}: {stderr}", args.join(" "));
        assert!(!stderr.contains("panicked") && !stderr.contains("error:"), "wxsend {}: {stderr}", args.join(" "));
    }
}
