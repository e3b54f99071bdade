//! Where the operator is: the screen, the rows the table shows (filter and views) and the
//! selection. It knows nothing of sending; the run model tells it which rows are failures.

use super::keys::Screen;
use super::status::Status;
use crate::campaign::Campaign;

/// The screen, the table's view of the rows and the cursor in it.
#[derive(Debug)]
pub(super) struct Navigation {
    /// The screen shown.
    pub(super) screen: Screen,
    /// The filter applied to the rows (a substring of the openid or any value, any case).
    pub(super) filter: String,
    /// Show only rows that will not be sent.
    pub(super) invalid_only: bool,
    /// Show only failed rows.
    pub(super) failures_only: bool,
    /// Row indexes shown by the table, in file order.
    pub(super) view: Vec<usize>,
    /// Position in `view`.
    pub(super) selected: usize,
    /// Rows that fit in the table (set by the loop from the terminal size).
    pub(super) page: usize,
    /// While sending, keep the newest row selected.
    pub(super) follow: bool,
}

impl Navigation {
    /// The preview screen over no rows yet (the app builds the view once the statuses exist).
    pub(super) fn new() -> Self {
        Self {
            screen: Screen::Preview,
            filter: String::new(),
            invalid_only: false,
            failures_only: false,
            view: Vec::new(),
            selected: 0,
            page: 20,
            follow: true,
        }
    }

    /// The row index under the cursor.
    pub(super) fn selected_row(&self) -> Option<usize> {
        self.view.get(self.selected).copied()
    }

    fn matches_filter(&self, campaign: &Campaign, row: usize) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        campaign.recipients.row(row).is_some_and(|r| r.fields().any(|f| f.to_lowercase().contains(&needle)))
    }

    /// Recompute the rows shown (on a filter or view change only, never per frame), keeping the
    /// selected row selected when it is still shown.
    pub(super) fn rebuild(&mut self, campaign: &Campaign, status: &[Status]) {
        let keep_row = self.selected_row();
        self.view = (0..campaign.recipients.len())
            .filter(|&i| {
                let s = status[i];
                (!self.invalid_only || matches!(s, Status::Invalid | Status::Duplicate))
                    && (!self.failures_only || s.is_failure())
                    && self.matches_filter(campaign, i)
            })
            .collect();
        self.selected = keep_row.and_then(|r| self.view.binary_search(&r).ok()).unwrap_or(0);
    }

    /// Move the cursor by `delta` rows, within the view; while sending, the operator's move stops
    /// following the newest row.
    pub(super) fn move_by(&mut self, delta: isize) {
        if self.view.is_empty() {
            self.selected = 0;
            return;
        }
        let max = self.view.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(max);
        if self.screen == Screen::Sending {
            self.follow = false;
        }
    }

    /// A row just failed: shown at once when only failures are.
    pub(super) fn failed(&mut self, row: usize) {
        if self.failures_only && self.view.binary_search(&row).is_err() {
            let at = self.view.partition_point(|r| *r < row);
            self.view.insert(at, row);
        }
    }

    /// A row just started: the cursor follows it when following.
    pub(super) fn started(&mut self, row: usize) {
        if self.follow {
            if let Ok(at) = self.view.binary_search(&row) {
                self.selected = self.selected.max(at);
            }
        }
    }
}
