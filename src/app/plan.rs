//! What a `send` will do, decided before anything is sent: which rows go now, what earlier runs
//! did, and everything the operator confirms (counts, warnings, rate, duration, where it goes).

use std::time::Duration;

use crate::campaign::Campaign;
use crate::journal::{Category, Replay};

/// Which rows this run sends, and what earlier runs did with the others.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Rows (0-based) this run sends, in file order.
    pub to_send: Vec<usize>,
    /// What earlier runs of this journal left.
    pub resume: Resume,
}

/// What earlier runs of the journal did with the ready rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// Delivered by an earlier run: skipped.
    pub delivered: usize,
    /// Failed for good in an earlier run: skipped (they are in the failures file).
    pub failed: usize,
    /// Sent by an earlier run without an answer, and held back (not resent).
    pub unknown_held: Vec<usize>,
    /// Unknown rows this run resends (`--resend-unknown`).
    pub unknown_resent: usize,
}

impl Resume {
    /// Whether an earlier run left anything (this run resumes a campaign).
    pub fn is_resuming(&self) -> bool {
        self.delivered + self.failed + self.unknown_held.len() + self.unknown_resent > 0
    }
}

impl Plan {
    /// The plan for the ready rows of `campaign` given what the journal says.
    pub fn new(campaign: &Campaign, replay: &Replay, resend_unknown: bool) -> Self {
        let mut p = Plan::default();
        for i in campaign.checks.ready_rows() {
            match replay.rows.get(i).map_or(Category::Pending, |r| r.category()) {
                Category::Delivered => p.resume.delivered += 1,
                Category::Failed => p.resume.failed += 1,
                Category::Unknown if resend_unknown => {
                    p.resume.unknown_resent += 1;
                    p.to_send.push(i);
                }
                Category::Unknown => p.resume.unknown_held.push(i),
                Category::Pending => p.to_send.push(i),
            }
        }
        p
    }

    /// Whether the whole campaign is already done with nothing held back: the run has nothing to
    /// do and nothing to report as missing.
    pub fn is_complete(&self, invalid: usize) -> bool {
        self.to_send.is_empty() && self.resume.unknown_held.is_empty() && self.resume.failed == 0 && invalid == 0
    }
}

/// Everything the operator sees before confirming a run, typed for both front ends.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The campaign's name.
    pub campaign: String,
    /// `template`, `subscribe` or `uniform`.
    pub kind: &'static str,
    /// The template the messages use.
    pub template_id: String,
    /// The recipients file.
    pub recipients: String,
    /// Rows in the file, and how many are ready, invalid and duplicates.
    pub rows: usize,
    /// Rows that pass every check.
    pub ready: usize,
    /// Rows that will not be sent because a check failed.
    pub invalid: usize,
    /// Rows skipped because their openid came earlier.
    pub duplicates: usize,
    /// What earlier runs did.
    pub resume: Resume,
    /// Campaign-wide warnings (e.g. uniform_send withdrawn).
    pub warnings: Vec<String>,
    /// The embedded mock's address when the run goes there (nothing reaches WeChat).
    pub mock_api: Option<String>,
    /// The campaign against the account's template, in one line.
    pub template: String,
    /// Notes from that check (keys WeChat no longer shows).
    pub template_notes: Vec<String>,
    /// When sending may happen (`--at`, the window), in words; empty when any time.
    pub schedule: Vec<String>,
    /// The API base messages go to.
    pub api: String,
    /// How they travel: `direct`, or the proxy (never its credentials).
    pub route: String,
    /// Messages this run sends.
    pub to_send: usize,
    /// Messages per second.
    pub rate: u32,
    /// Requests in flight at most.
    pub concurrency: u32,
    /// How long the run takes at the configured rate.
    pub estimate: Duration,
}
