//! No import circle between the files of src/: every `use crate::…`, `use super::…` and
//! `use self::…` line is resolved to the file that defines the module it names, and the graph of
//! files must have no cycle. (A `mod.rs` re-exports its children's types; a child imports its
//! siblings, never its parent.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file (`src/journal/replay.rs` → `journal::replay`; `mod.rs` and
/// `lib.rs` name their folder).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The `use` declarations of a file's text (outside `#[cfg(test)]` modules), each whole.
fn uses(text: &str) -> Vec<String> {
    let body = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        let t = line.trim();
        if let Some(c) = current.as_mut() {
            c.push_str(t);
        } else if let Some(rest) =
            t.strip_prefix("pub use ").or_else(|| t.strip_prefix("pub(crate) use ")).or_else(|| t.strip_prefix("use "))
        {
            current = Some(rest.to_string());
        }
        if current.as_ref().is_some_and(|c| c.ends_with(';')) {
            out.push(current.take().unwrap().trim_end_matches(';').to_string());
        }
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.replace(char::is_whitespace, "");
    let Some(open) = tree.find('{') else { return vec![tree] };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(|p| expand(&format!("{prefix}{p}"))).collect()
}

#[test]
fn no_file_of_src_imports_a_file_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let by_module: BTreeMap<Vec<String>, PathBuf> = all
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &by_module {
        let text = std::fs::read_to_string(file).unwrap();
        for decl in uses(&text) {
            for path in expand(&decl) {
                let mut segs: Vec<&str> = path.split("::").collect();
                let mut target: Vec<String> = match segs.first().copied() {
                    Some("crate") => Vec::new(),
                    Some("super") => module[..module.len().saturating_sub(1)].to_vec(),
                    Some("self") => module.clone(),
                    // `use child::X` in a parent names its child module.
                    Some(first) if by_module.contains_key(&[module.as_slice(), &[first.to_string()]].concat()) => {
                        segs.insert(0, "self");
                        module.clone()
                    }
                    _ => continue,
                };
                segs.remove(0);
                while segs.first() == Some(&"super") {
                    target.pop();
                    segs.remove(0);
                }
                // The longest module prefix that is a file.
                let mut found = by_module.get(&target).cloned();
                for seg in segs {
                    let name = seg.split(" as ").next().unwrap_or(seg);
                    target.push(name.to_string());
                    match by_module.get(&target) {
                        Some(f) => found = Some(f.clone()),
                        None => break,
                    }
                }
                if let Some(to) = found.filter(|to| to != file) {
                    edges.entry(file.clone()).or_default().insert(to);
                }
            }
        }
    }
    // Cycles: files that reach themselves.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<PathBuf> = edges[start].iter().cloned().collect();
        while let Some(f) = stack.pop() {
            if &f == start {
                circles.push(start.strip_prefix(&src).unwrap().display().to_string());
                break;
            }
            if seen.insert(f.clone()) {
                stack.extend(edges.get(&f).into_iter().flatten().cloned());
            }
        }
    }
    assert!(circles.is_empty(), "files in an import circle: {circles:#?}");
}
