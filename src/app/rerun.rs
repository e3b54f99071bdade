//! Re-running a failures file: which of its rows to drop before sending (by the code that put
//! each there), and the dropped rows kept in a file of their own beside it, so nothing is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::campaign::Campaign;

/// The codes of answers that will not change on a retry: the person refused (43101), does not
/// follow (43004), is no user of the app (40003), the template id is wrong (40037), a value
/// breaks the template's rules (47003). `D` in the terminal UI and `--drop-permanent` drop them.
pub const PERMANENT: [&str; 5] = ["43101", "43004", "40003", "40037", "47003"];

/// Which codes of a failures file are not sent again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropRules {
    codes: BTreeSet<String>,
}

impl DropRules {
    /// Drop the permanent classes ([`PERMANENT`]).
    pub fn permanent() -> Self {
        Self { codes: PERMANENT.iter().map(|c| (*c).to_string()).collect() }
    }

    /// Also drop every row with `code` (`wxsend_errcode` as the failures file writes it).
    pub fn drop_code(&mut self, code: &str) {
        self.codes.insert(code.trim().to_string());
    }

    /// Whether a row with this `wxsend_errcode` is dropped.
    pub fn drops(&self, code: &str) -> bool {
        self.codes.contains(code.trim())
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Stop dropping rows with `code`.
    pub fn keep_code(&mut self, code: &str) {
        self.codes.remove(code.trim());
    }

    /// Whether every permanent class is dropped.
    pub fn drops_permanent(&self) -> bool {
        PERMANENT.iter().all(|c| self.codes.contains(*c))
    }
}

/// The rows of a failures file a re-run leaves out, by code, and where they were written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// The rows (0-based), in file order.
    pub rows: Vec<usize>,
    /// How many of them had each code.
    pub by_code: BTreeMap<String, usize>,
    /// The file holding them (`dropped-<failures file name>`), when any were dropped.
    pub file: Option<PathBuf>,
}

/// A re-run's drops cannot be applied. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// The list has no `wxsend_errcode` column: it is not a failures file.
    #[error("{}", crate::tr!("rerun.not_failures", path = .path.display().to_string()))]
    NotAFailuresFile {
        /// The list.
        path: PathBuf,
    },
    /// The dropped rows cannot be written beside the list.
    #[error("{}", crate::tr!("rerun.write", path = .path.display().to_string(), source = .source.to_string()))]
    Write {
        /// The dropped file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Leave the rows `rules` drop, and the `extra` rows the operator dropped one by one, out of
/// `plan` (they are held, never sent) and write them to [`dropped_path`] before anything is
/// sent, so nothing is lost.
pub fn drop_from(
    plan: &mut super::plan::Plan,
    campaign: &Campaign,
    rules: &DropRules,
    extra: &BTreeSet<usize>,
) -> Result<(), RerunError> {
    if errcode_column(campaign).is_none() {
        return Err(RerunError::NotAFailuresFile { path: campaign.recipients.path.clone() });
    }
    let mut dropped = dropped_rows(campaign, rules, extra);
    write_dropped(campaign, &mut dropped)
        .map_err(|source| RerunError::Write { path: dropped_path(&campaign.recipients.path), source })?;
    let gone: BTreeSet<usize> = dropped.rows.iter().copied().collect();
    plan.to_send.retain(|r| !gone.contains(r));
    // A row the ledger already holds back stays counted as that, once.
    let held: BTreeSet<usize> = plan.held.iter().map(|(r, _)| *r).collect();
    plan.held.extend(dropped.rows.iter().filter(|r| !held.contains(r)).map(|&r| (r, super::plan::Held::Dropped)));
    plan.held.sort_by_key(|(r, _)| *r);
    plan.dropped = dropped;
    Ok(())
}

impl Dropped {
    /// One line for the operator (empty when nothing was dropped): how many, by code, and where.
    pub fn line(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let codes: Vec<String> = self.by_code.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        Some(crate::tr!(
            "rerun.dropped",
            count = self.rows.len(),
            codes = codes.join(", "),
            file = file.display().to_string()
        ))
    }
}

/// The index of the `wxsend_errcode` column of a failures file, if the list is one.
pub fn errcode_column(campaign: &Campaign) -> Option<usize> {
    campaign.recipients.headers.iter().position(|h| h == "wxsend_errcode")
}

/// The rows of `campaign`'s list (a failures file) that `rules` drop, with `extra` rows the
/// operator dropped one by one.
pub fn dropped_rows(campaign: &Campaign, rules: &DropRules, extra: &BTreeSet<usize>) -> Dropped {
    let mut out = Dropped::default();
    let column = errcode_column(campaign);
    for i in 0..campaign.recipients.len() {
        let code = column.and_then(|c| campaign.recipients.row(i).map(|r| r.field(c).trim().to_string()));
        let by_rule = code.as_deref().is_some_and(|c| rules.drops(c));
        if by_rule || extra.contains(&i) {
            out.rows.push(i);
            *out.by_code.entry(code.unwrap_or_default()).or_default() += 1;
        }
    }
    out
}

/// `dropped-<name>` beside the failures file `list`.
pub fn dropped_path(list: &Path) -> PathBuf {
    let name = list.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "failures.csv".into());
    list.with_file_name(format!("dropped-{name}"))
}

/// Write the dropped rows (header and rows exactly as the list has them) to
/// [`dropped_path`]; an existing file is replaced whole (temporary file, then rename).
pub fn write_dropped(campaign: &Campaign, dropped: &mut Dropped) -> std::io::Result<()> {
    if dropped.rows.is_empty() {
        return Ok(());
    }
    let path = dropped_path(&campaign.recipients.path);
    let r = &campaign.recipients;
    super::export::write_like_the_list(r, &path, |w| {
        w.write_record(&r.headers)?;
        for row in dropped.rows.iter().filter_map(|&i| r.row(i)) {
            w.write_record(row.fields())?;
        }
        Ok(dropped.rows.len())
    })?;
    dropped.file = Some(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permanent_classes_are_dropped_and_transient_ones_kept() {
        let rules = DropRules::permanent();
        for code in ["43101", "43004", "40003", "40037", "47003", " 43101 "] {
            assert!(rules.drops(code), "{code}");
        }
        for code in ["-1", "transport", "45009", "45011", "invalid", "user_block", "43019", ""] {
            assert!(!rules.drops(code), "{code}");
        }
        let mut rules = DropRules::default();
        assert!(rules.is_empty() && !rules.drops("43101"));
        rules.drop_code("invalid");
        assert!(rules.drops("invalid") && !rules.drops("43101"));
    }

    #[test]
    fn dropped_files_sit_beside_the_failures_file() {
        assert_eq!(
            dropped_path(Path::new("/s/recipients/failed-recipients.csv")),
            Path::new("/s/recipients/dropped-failed-recipients.csv")
        );
    }
}
