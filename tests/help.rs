//! `--help` of every command in both languages, and the manual against it: every command and
//! option the manual names exists, and every option of `--help` is in the manual.

use std::collections::BTreeSet;

use clap::CommandFactory;

/// Every command path: `[]`, `["send"]`, `["receipts", "serve"]`, …
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(s.get_name().to_string());
            walk(s, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&wxsend::cli::Cli::command(), Vec::new(), &mut out);
    out
}

fn help(path: &[String], lang: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
        .args(path)
        .arg("--help")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("WXSEND_LANG", lang)
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs of three or more plain English words outside the usage line.
fn english_sentences(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("用法")) {
        let mut run: Vec<&str> = Vec::new();
        for word in line.split_whitespace().chain(std::iter::once("")) {
            let bare = word.trim_end_matches([',', ';', ':', '.', ')']).trim_start_matches('(');
            if bare.len() >= 2 && bare.chars().all(|c| c.is_ascii_alphabetic()) {
                run.push(bare);
            } else {
                if run.len() >= 3 {
                    found.push(run.join(" "));
                }
                run.clear();
            }
        }
    }
    found
}

#[test]
fn every_command_has_help_in_both_languages() {
    for path in command_paths() {
        let zh = help(&path, "zh-CN");
        assert!(zh.contains("用法：") && zh.contains("显示帮助"), "{path:?}:\n{zh}");
        let leaks = english_sentences(&zh);
        assert!(leaks.is_empty(), "{path:?} --help in Chinese shows English {leaks:?}:\n{zh}");
        let en = help(&path, "en");
        assert!(en.contains("Usage:") && en.contains("Print help"), "{path:?}:\n{en}");
        assert!(!en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{path:?} in English:\n{en}");
    }
}

/// The manual: the README and every page under docs/ (English).
fn manual() -> String {
    let mut text = std::fs::read_to_string("README.md").unwrap();
    if let Ok(dir) = std::fs::read_dir("docs") {
        for entry in dir.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "md") {
                text.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    text
}

/// The long options of every command's `--help`, with the command that has each.
fn options_in_help() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    fn walk(cmd: &clap::Command, name: &str, out: &mut BTreeSet<(String, String)>) {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long() {
                if !["help", "version"].contains(&long) {
                    out.insert((name.to_string(), format!("--{long}")));
                }
            }
        }
        for s in cmd.get_subcommands() {
            walk(s, &format!("{name} {}", s.get_name()), out);
        }
    }
    walk(&wxsend::cli::Cli::command(), "wxsend", &mut out);
    out
}

#[test]
fn the_manual_and_help_name_the_same_commands_and_options() {
    let manual = manual();
    let options = options_in_help();
    for (command, option) in &options {
        assert!(manual.contains(option.as_str()), "{command} {option} is in --help but not in the manual");
    }
    let known: BTreeSet<&str> = options.iter().map(|(_, o)| o.as_str()).collect();
    let mut named = BTreeSet::new();
    for word in manual.split(|c: char| c.is_whitespace() || "`|(),;[]\"'".contains(c)) {
        let word = word.split('=').next().unwrap_or("").trim_end_matches(['.', ':']);
        let name = word.strip_prefix("--").unwrap_or("");
        if name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        {
            named.insert(word.to_string());
        }
    }
    // Options of other programs the manual shows in examples.
    let others = ["--release", "--locked", "--all-targets", "--nocapture", "--ignored", "--check", "--bench", "--help"];
    // redis-server's, in the Redis section.
    let others = [others.as_slice(), &["--appendonly"]].concat();
    let unknown: Vec<_> =
        named.iter().filter(|o| !known.contains(o.as_str()) && !others.contains(&o.as_str())).collect();
    assert!(unknown.is_empty(), "the manual names options no command has: {unknown:?}");
    let commands: BTreeSet<String> =
        wxsend::cli::Cli::command().get_subcommands().map(|s| s.get_name().to_string()).collect();
    // Commands the manual runs: in inline code (`wxsend send …`) and at the start of a line of
    // a code block.
    let mut in_code = false;
    let mut block_lines = Vec::new();
    for line in manual.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            if let Some(rest) = line.trim_start().strip_prefix("wxsend ") {
                block_lines.push(rest);
            }
        }
    }
    for w in manual.split("`wxsend ").skip(1).chain(block_lines) {
        let word: String = w.chars().take_while(|c| c.is_ascii_lowercase()).collect();
        if !word.is_empty() {
            assert!(commands.contains(&word), "the manual runs `wxsend {word}`, no such command");
        }
    }
}

#[test]
fn completions_for_every_shell_and_a_manual_page() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxsend"))
            .args(args)
            .env("WXSEND_LANG", "en")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(&["completions", shell]);
        assert!(script.contains("wxsend") && script.contains("skip-template-check"), "{shell}:\n{script}");
    }
    let bash = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wxsend.bash"), &bash).unwrap();
    let check = std::process::Command::new("bash").arg("-n").arg(dir.path().join("wxsend.bash")).status().unwrap();
    assert!(check.success(), "bash -n rejects the completion script");
    let man = run(&["man"]);
    assert!(man.contains(".TH wxsend 1"), "{man}");
    for command in ["check", "send", "doctor", "status", "receipts", "ledger", "demo"] {
        assert!(man.contains(command), "the manual page lacks {command}");
    }
}

/// The READMEs are read in a minute: at most 200 lines, each linking the other at its top.
#[test]
fn each_readme_is_short_and_links_the_other() {
    for (file, other) in [("README.md", "README.zh-CN.md"), ("README.zh-CN.md", "README.md")] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.lines().count() <= 200, "{file}: {} lines", text.lines().count());
        let top: String = text.lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(top.contains(&format!("({other})")), "{file} does not link {other} at its top");
    }
    for page in ["campaigns", "sending", "network", "redis", "receipts", "exit-codes", "mock", "language"] {
        for path in [format!("docs/{page}.md"), format!("docs/zh-CN/{page}.md")] {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let other = if path.contains("zh-CN") { format!("../{page}.md") } else { format!("zh-CN/{page}.md") };
            assert!(text.lines().take(3).any(|l| l.contains(&other)), "{path} does not link {other} at its top");
        }
    }
}
