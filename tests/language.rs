//! The language chosen once per process: `--lang`, then `WXSEND_LANG`, then the locale; the
//! headless send flow in both languages; JSON and the journal stay English.

use std::path::{Path, PathBuf};
use std::process::Output;

/// `wxsend ARGS` with only `LANG` (and the given variables) deciding the language, its cache
/// (where `demo` writes) in `home`.
fn wxsend(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"));
    cmd.args(args).env("XDG_CACHE_HOME", home).env("WXSEND_LEDGER_DIR", home.join("ledger"));
    for k in ["WXSEND_LANG", "LC_ALL", "LC_MESSAGES", "LANG"] {
        cmd.env_remove(k);
    }
    cmd.envs(envs.iter().copied());
    cmd.output().expect("run wxsend")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The demo's report.json (the demo's state folder is under the cache).
fn report_json(home: &Path) -> PathBuf {
    let mut dirs = vec![home.join("wxsend/demo")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "report.json") {
                return path;
            }
        }
    }
    panic!("no report.json under {}", home.display());
}

#[test]
fn a_chinese_locale_runs_the_headless_demo_in_chinese_and_json_stays_english() {
    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["demo", "--headless"], &[("LANG", "zh_CN.UTF-8")]);
    let err = stderr(&out);
    for words in
        ["活动 order-shipped-2026-11", "现在发送：45 条消息", "已完成：本次送达", "本次的错误：", "重发失败的行："]
    {
        assert!(err.contains(words), "{words:?} missing:\n{err}");
    }
    assert!(err.contains("用户拒收或无剩余订阅次数"), "the errcode hint in Chinese:\n{err}");
    for english in ["to send now", "this run delivered", "re-run the failures", "errors this run"] {
        assert!(!err.contains(english), "{english:?} in the Chinese run:\n{err}");
    }
    let report_path = report_json(home.path());
    // The failures file's words follow the run's language; its codes do not.
    let failures = std::fs::read_to_string(report_path.with_file_name("failed-recipients.csv")).unwrap();
    assert!(failures.lines().next().unwrap().ends_with(",wxsend_errcode,wxsend_errmsg,wxsend_attempts,wxsend_hint"));
    let refused = failures.lines().find(|l| l.contains(",43101,")).expect("a 43101 row");
    assert!(refused.ends_with(",用户拒收或无剩余订阅次数，下次发送请剔除"), "{refused}");
    let invalid = failures.lines().find(|l| l.contains(",invalid,")).expect("an invalid row");
    assert!(invalid.contains("在本文件中改正这一行的值"), "{invalid}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["outcome"], "completed", "report.json keeps English: {report}");
    let hints: Vec<&str> = report["failures_by_code"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v["hint"].as_str()).collect())
        .unwrap_or_default();
    assert!(!hints.is_empty() && hints.iter().all(|h| !h.chars().any(|c| c > '\u{2fff}')), "English: {hints:?}");
}

#[test]
fn lang_overrides_the_locale_and_c_is_english() {
    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["--lang", "en", "demo", "--headless"], &[("LANG", "zh_CN.UTF-8")]);
    let err = stderr(&out);
    assert!(err.contains("to send now: 45 messages") && err.contains("completed: this run delivered"), "{err}");
    assert!(!err.contains("现在发送"), "{err}");

    // Each run in a home of its own: a second demo in the same one meets its ledger.
    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["demo", "--headless"], &[("LANG", "C")]);
    assert!(stderr(&out).contains("to send now: 45 messages"), "{}", stderr(&out));

    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["demo", "--headless"], &[("LANG", "en_US.UTF-8"), ("WXSEND_LANG", "zh-CN")]);
    assert!(stderr(&out).contains("现在发送：45 条消息"), "WXSEND_LANG before the locale:\n{}", stderr(&out));
}

#[test]
fn an_unknown_language_is_refused_before_anything_runs() {
    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["--lang", "fr", "demo", "--headless"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--lang = \"fr\": wxsend speaks en and zh-CN"), "{}", stderr(&out));
    assert!(!home.path().join("wxsend/demo").exists(), "nothing ran");

    let out = wxsend(home.path(), &["check", "samples/campaign.toml", "--offline"], &[("WXSEND_LANG", "klingon")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("WXSEND_LANG"), "{}", stderr(&out));
}

#[test]
fn an_error_is_printed_once_in_the_chosen_language() {
    let home = tempfile::tempdir().unwrap();
    let out = wxsend(home.path(), &["check", "/nonexistent/campaign.toml", "--offline"], &[("LANG", "zh_CN.UTF-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("错误："), "{err}");
    assert_eq!(err.matches("错误").count(), 1, "printed once:\n{err}");
}

#[test]
fn a_bad_column_is_named_with_its_fix_in_chinese_and_in_english() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("campaign");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("samples/campaign.toml", dir.join("campaign.toml")).unwrap();
    let csv = std::fs::read_to_string("samples/recipients.csv").unwrap().replacen("openid,", "open_id,", 1);
    std::fs::write(dir.join("recipients.csv"), csv).unwrap();
    let campaign = dir.join("campaign.toml");
    let args = ["check", campaign.to_str().unwrap(), "--offline"];
    let zh = wxsend(home.path(), &args, &[("LANG", "zh_CN.UTF-8")]);
    assert_eq!(zh.status.code(), Some(2));
    let err = stderr(&zh);
    assert!(
        err.contains("recipients.csv:1: 没有名为 `openid` 的列") && err.contains("（是不是 `open_id`？）"),
        "{err}"
    );
    assert!(err.contains("表头中有：open_id, name"), "{err}");
    let en = wxsend(home.path(), &args, &[("LANG", "C")]);
    assert!(
        stderr(&en).contains("no column is named `openid`") && stderr(&en).contains("(did you mean `open_id`?)"),
        "{}",
        stderr(&en)
    );
}

#[test]
fn check_and_status_answer_in_the_locales_language() {
    let home = tempfile::tempdir().unwrap();
    let zh = wxsend(home.path(), &["check", "samples/campaign.toml", "--offline"], &[("LANG", "zh_CN.UTF-8")]);
    let out = String::from_utf8_lossy(&zh.stdout);
    for words in [
        "活动       order-shipped-2026-11",
        "逗号分隔",
        "共 50 行  可发 45  无效 4",
        "不会发送的行（无效或重复）",
        "openid 为空",
        "前 3 个可发行",
    ] {
        assert!(out.contains(words), "{words:?} missing:\n{out}");
    }
    assert!(!out.contains("rows not sent") && !out.contains("ready rows, as sent"), "{out}");
    let state = home.path().join("state");
    let args = ["status", "samples/campaign.toml", "--state-dir", state.to_str().unwrap()];
    let zh = wxsend(home.path(), &args, &[("LANG", "zh_CN.UTF-8")]);
    let out = String::from_utf8_lossy(&zh.stdout);
    assert!(out.contains("活动 order-shipped-2026-11：共 50 行") && out.contains("送达回执：成功 0"), "{out}");
    let en = wxsend(home.path(), &args, &[("LANG", "C")]);
    assert!(String::from_utf8_lossy(&en.stdout).contains("campaign order-shipped-2026-11: 50 rows"));
}
