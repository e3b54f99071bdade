//! What the operator leaves out of a failures file's re-run, before confirming: whole codes
//! (the permanent classes to start with) and rows one by one.

use std::collections::{BTreeMap, BTreeSet};

use crate::app::rerun::{errcode_column, DropRules};
use crate::campaign::Campaign;
use crate::wechat::Code;

/// The drops of a re-run: a row is left out when its code is dropped, unless the operator
/// flipped it back, or when its code is kept and the operator flipped it out.
#[derive(Debug)]
pub(super) struct Drops {
    pub(super) rules: DropRules,
    flipped: BTreeSet<usize>,
    /// Each row's `wxsend_errcode`.
    codes: Vec<String>,
}

impl Drops {
    /// The drops of `campaign`'s list when it is a failures file (the permanent classes dropped
    /// to start with); `None` for any other list.
    pub(super) fn for_failures(campaign: &Campaign) -> Option<Self> {
        let column = errcode_column(campaign)?;
        let r = &campaign.recipients;
        let codes = (0..r.len()).map(|i| r.row(i).map(|row| row.field(column).trim().to_string()).unwrap_or_default());
        Some(Self { rules: DropRules::permanent(), flipped: BTreeSet::new(), codes: codes.collect() })
    }

    /// The code that put `row` in the failures file.
    pub(super) fn code(&self, row: usize) -> &str {
        self.codes.get(row).map_or("", String::as_str)
    }

    /// What the code means and what to do, in the current language (none for `invalid`).
    pub(super) fn hint(&self, row: usize) -> Option<&'static str> {
        self.code(row).parse::<i64>().ok().and_then(|c| Code::of(Some(c)).hint())
    }

    /// Whether `row` is left out of the re-run.
    pub(super) fn is_dropped(&self, row: usize) -> bool {
        self.rules.drops(self.code(row)) != self.flipped.contains(&row)
    }

    /// `d`: leave `row` out, or take it back.
    pub(super) fn toggle_row(&mut self, row: usize) {
        if !self.flipped.remove(&row) {
            self.flipped.insert(row);
        }
    }

    /// `D` and a code: leave every row with it out, or take them all back.
    pub(super) fn toggle_code(&mut self, code: &str) {
        let code = code.trim();
        if self.rules.drops(code) {
            self.rules.keep_code(code);
        } else {
            self.rules.drop_code(code);
        }
        let codes = &self.codes;
        self.flipped.retain(|r| codes.get(*r).is_none_or(|c| c != code));
    }

    /// `P`: leave the permanent classes out, or take them back.
    pub(super) fn toggle_permanent(&mut self) {
        let drop = !self.rules.drops_permanent();
        for code in crate::app::rerun::PERMANENT {
            if drop {
                self.rules.drop_code(code);
            } else {
                self.rules.keep_code(code);
            }
        }
    }

    /// Every row left out.
    pub(super) fn dropped_rows(&self) -> BTreeSet<usize> {
        (0..self.codes.len()).filter(|&r| self.is_dropped(r)).collect()
    }

    /// Rows by code: how many, and how many of them are left out.
    pub(super) fn counts(&self) -> BTreeMap<&str, (usize, usize)> {
        let mut out: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (row, code) in self.codes.iter().enumerate() {
            let entry = out.entry(code.as_str()).or_default();
            entry.0 += 1;
            if self.is_dropped(row) {
                entry.1 += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drops(codes: &[&str]) -> Drops {
        Drops {
            rules: DropRules::permanent(),
            flipped: BTreeSet::new(),
            codes: codes.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn permanent_codes_start_dropped_and_rows_and_codes_toggle() {
        let mut d = drops(&["43101", "-1", "43101", "invalid", "40003"]);
        assert_eq!(d.dropped_rows(), BTreeSet::from([0, 2, 4]));
        d.toggle_row(2);
        assert_eq!(d.dropped_rows(), BTreeSet::from([0, 4]), "row 3 taken back");
        d.toggle_row(1);
        assert_eq!(d.dropped_rows(), BTreeSet::from([0, 1, 4]), "a transient row left out by hand");
        d.toggle_code("invalid");
        assert_eq!(d.dropped_rows(), BTreeSet::from([0, 1, 3, 4]));
        d.toggle_code("43101");
        assert_eq!(d.dropped_rows(), BTreeSet::from([1, 3, 4]), "43101 kept, row 3's flip forgotten");
        d.toggle_permanent();
        assert_eq!(d.dropped_rows(), BTreeSet::from([0, 1, 2, 3, 4]));
        d.toggle_permanent();
        assert_eq!(d.dropped_rows(), BTreeSet::from([1, 3]));
        assert_eq!(d.counts().get("43101"), Some(&(2, 0)));
    }
}
