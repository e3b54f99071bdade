//! The language catalogues (locales/en.toml, locales/zh-CN.toml): the same keys with the same
//! placeholders in both, Chinese in the Chinese one, and every key the code names present (and
//! every key present named by the code).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Keys whose Chinese text may be free of Chinese characters (technical terms, symbols).
const SAME_IN_BOTH: &[&str] = &["tui.sending.access_token", "fleet.col.appid"];

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => panic!("{prefix}: not text: {other:?}"),
    }
}

fn catalogue(name: &str) -> BTreeMap<String, String> {
    let path = Path::new("locales").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    flatten("", &value, &mut out);
    out
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("%{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find('}') else { break };
        out.insert(after[..j].to_string());
        rest = &after[j + 1..];
    }
    out
}

fn has_cjk(text: &str) -> bool {
    let ranges = ['\u{4e00}'..='\u{9fff}', '\u{3000}'..='\u{303f}', '\u{ff00}'..='\u{ffef}'];
    text.chars().any(|c| ranges.iter().any(|r| r.contains(&c)))
}

#[test]
fn both_catalogues_have_the_same_keys_and_placeholders() {
    let (en, zh) = (catalogue("en.toml"), catalogue("zh-CN.toml"));
    let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(only_en.is_empty(), "missing in zh-CN.toml: {only_en:?}");
    assert!(only_zh.is_empty(), "missing in en.toml: {only_zh:?}");
    for (key, text) in &en {
        assert_eq!(placeholders(text), placeholders(&zh[key]), "{key}: the placeholders differ");
    }
    for (key, text) in &zh {
        assert!(has_cjk(text) || SAME_IN_BOTH.contains(&key.as_str()), "{key}: not translated: {text:?}");
    }
}

/// Literals ending so are file names (`report.json`), not keys.
const FILE_ENDINGS: &[&str] = &["toml", "json", "jsonl", "csv", "reserve", "checkpoint", "lock", "txt", "db"];

/// Every string literal in src/ shaped like a catalogue key (`section.name`, its first part a
/// section of the catalogue).
fn keys_named_in_the_code() -> BTreeSet<String> {
    let sections: BTreeSet<String> =
        catalogue("en.toml").keys().filter_map(|k| k.split('.').next().map(str::to_string)).collect();
    let mut out = BTreeSet::new();
    let mut dirs = vec![Path::new("src").to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in text.split('"').skip(1).step_by(2) {
                let shaped = literal.contains('.')
                    && literal.split('.').all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    });
                let file_name = literal.rsplit('.').next().is_some_and(|ext| FILE_ENDINGS.contains(&ext));
                if shaped && !file_name && literal.split('.').next().is_some_and(|s| sections.contains(s)) {
                    out.insert(literal.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_key_the_code_names_is_in_the_catalogue_and_every_key_is_used() {
    let en = catalogue("en.toml");
    let named = keys_named_in_the_code();
    // A literal is a key, or the path of a group of keys (`cli.common.help_command`).
    let missing: Vec<_> = named
        .iter()
        .filter(|k| !en.contains_key(*k) && !en.keys().any(|key| key.starts_with(&format!("{k}."))))
        .collect();
    assert!(missing.is_empty(), "named in src/ but not in locales/en.toml: {missing:?}");
    // The command line's texts are named by their place in the command tree (next test).
    let tree: BTreeSet<String> = wxsend::commands::help::keys().into_iter().map(|(k, _)| k).collect();
    let unused: Vec<_> = en.keys().filter(|k| !named.contains(*k) && !tree.contains(*k)).collect();
    assert!(unused.is_empty(), "in locales/en.toml but named nowhere in src/: {unused:?}");
}

/// Every command and argument of the command line has its text in the catalogue, and the
/// English one is what the code's own documentation says (so `--help` does not drift from it).
#[test]
fn every_command_and_argument_has_its_help_in_the_catalogue() {
    let en = catalogue("en.toml");
    for (key, english) in wxsend::commands::help::keys() {
        assert_eq!(en.get(&key), Some(&english), "{key}: locales/en.toml differs from the code's text");
    }
}
