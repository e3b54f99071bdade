//! What a `send` will do, decided before anything is sent: which rows go now, what earlier runs
//! did, and everything the operator confirms (counts, warnings, rate, duration, where it goes).

use std::time::Duration;

use crate::campaign::{Campaign, Rendered};
use crate::journal::{Category, Replay};
use crate::ledger::{Earlier, EarlierKind, Ledger, LedgerError};

/// Which rows this run sends, and what earlier runs did with the others.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Rows (0-based) this run sends, in file order.
    pub to_send: Vec<usize>,
    /// What earlier runs of this journal left.
    pub resume: Resume,
    /// What the account's delivery ledger said about the rest.
    pub ledger: FromLedger,
    /// The rows the ledger holds back, and why (in file order).
    pub held: Vec<(usize, Held)>,
    /// A failures file's rows left out of its re-run (`--drop-permanent`, `D` in the UI).
    pub dropped: super::rerun::Dropped,
}

/// How the account's ledger is applied to a plan (from the command's flags and the campaign).
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerRules {
    /// `--new-run`: send again what earlier runs delivered (counted as second messages).
    pub new_run: bool,
    /// `--resend-unknown`: send what an earlier run sent without an answer.
    pub resend_unknown: bool,
    /// `--include-suppressed`: send to people the account holds back.
    pub include_suppressed: bool,
    /// Answers 43004/43101 at or after this time (Unix seconds) hold a person back.
    pub suppress_since: u64,
}

/// Why a row the journal would send is held back by the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// An earlier run (another journal) delivered this message to this person.
    AlreadySent,
    /// An earlier run sent it without an answer.
    EarlierUnknown,
    /// The account holds the person back (43004/43101 recently, or the do-not-send list).
    Suppressed,
    /// A failures file's row left out of its re-run: its code will not change.
    Dropped,
}

/// What the account's delivery ledger said about a plan's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FromLedger {
    /// Of the rows held back: already delivered by an earlier run of the same message.
    pub already_sent: usize,
    /// The first such run: its campaign and time (Unix seconds).
    pub already_by: Option<(String, u64)>,
    /// Sent by an earlier run without an answer (held back; `--resend-unknown` sends them).
    pub earlier_unknown: usize,
    /// Held back by the account (43004/43101 within `suppress_days`, or the do-not-send list).
    pub suppressed: usize,
    /// Sent again although an earlier run delivered it or may have (`--new-run`,
    /// `--resend-unknown`): people who get this message a second time.
    pub second_time: usize,
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

impl FromLedger {
    /// What the confirmation says about it, one line each (both front ends print these).
    pub fn lines(&self) -> Vec<String> {
        use super::text::thousands;
        let mut out = Vec::new();
        if self.already_sent > 0 {
            let by = self.already_by.as_ref().map_or(String::new(), |(campaign, at)| {
                crate::tr!("ledger.by", campaign = campaign.clone(), date = super::text::local_date(*at))
            });
            out.push(crate::tr!("ledger.already_sent", count = thousands(self.already_sent), by = by));
        }
        if self.earlier_unknown > 0 {
            out.push(crate::tr!("ledger.earlier_unknown", count = thousands(self.earlier_unknown)));
        }
        if self.suppressed > 0 {
            out.push(crate::tr!("ledger.suppressed", count = thousands(self.suppressed)));
        }
        if self.second_time > 0 {
            out.push(crate::tr!("ledger.second_time", count = thousands(self.second_time)));
        }
        out
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

    /// Ask the account's `ledger` about every row this plan would send (`journal` is this run's
    /// own journal, if the ledger knows it, whose rows the replay already decided): a person who already got the same
    /// message from an earlier run — under any campaign name, folder, list or sheet — is not
    /// sent, nor one an earlier run sent it to without an answer, nor one the account holds
    /// back, unless `rules` say otherwise.
    pub fn consult(
        &mut self,
        campaign: &Campaign,
        ledger: &Ledger,
        journal: Option<i64>,
        rules: LedgerRules,
    ) -> Result<(), LedgerError> {
        let mut scratch = Rendered::default();
        let openids: Vec<&str> =
            self.to_send.iter().map(|&row| campaign.recipients.row(row).map_or("", |r| r.openid())).collect();
        let items: Vec<(u64, &str)> = self
            .to_send
            .iter()
            .zip(&openids)
            .map(|(&row, openid)| (campaign.message_key(row, &mut scratch).unwrap_or(0), *openid))
            .collect();
        let m = &campaign.config.message;
        let earlier = ledger.earlier(&items, journal, m.kind.as_str(), &m.template_id)?;
        let held_back = if rules.include_suppressed {
            vec![None; openids.len()]
        } else {
            ledger.held_back(&openids, rules.suppress_since)?
        };
        let mut keep = Vec::with_capacity(self.to_send.len());
        let (l, held) = (&mut self.ledger, &mut self.held);
        for ((&row, earlier), held_back) in self.to_send.iter().zip(earlier).zip(held_back) {
            if held_back.is_some() {
                l.suppressed += 1;
                held.push((row, Held::Suppressed));
                continue;
            }
            match earlier {
                Some(_) if rules.new_run => {
                    l.second_time += 1;
                    keep.push(row);
                }
                Some(Earlier { kind: EarlierKind::Delivered, campaign, at }) => {
                    l.already_sent += 1;
                    l.already_by.get_or_insert((campaign, at));
                    held.push((row, Held::AlreadySent));
                }
                Some(_) if rules.resend_unknown => {
                    l.second_time += 1;
                    keep.push(row);
                }
                Some(_) => {
                    l.earlier_unknown += 1;
                    held.push((row, Held::EarlierUnknown));
                }
                None => keep.push(row),
            }
        }
        self.to_send = keep;
        Ok(())
    }

    /// Whether the whole campaign is already done with nothing held back: the run has nothing to
    /// do and nothing to report as missing.
    pub fn is_complete(&self, invalid: usize) -> bool {
        self.to_send.is_empty()
            && self.resume.unknown_held.is_empty()
            && self.resume.failed == 0
            && invalid == 0
            && self.ledger.earlier_unknown == 0
            && self.ledger.suppressed == 0
    }
}

/// Everything the operator sees before confirming a run, typed for both front ends.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The campaign's name.
    pub campaign: String,
    /// `template`, `subscribe`, `mp_subscribe` or `uniform`.
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
    /// What the account's delivery ledger held back, and who gets the message a second time.
    pub ledger: FromLedger,
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
    /// A failures file's rows left out of this re-run, by code, and the file that holds them.
    pub dropped: super::rerun::Dropped,
}

impl Overview {
    /// What the campaign alone tells, sending `to_send` rows: no earlier run, no ledger, no
    /// template check, no schedule and no route yet (the session fills those in).
    pub fn of(c: &Campaign, to_send: usize) -> Self {
        Self {
            campaign: c.config.name.clone(),
            kind: c.config.message.kind.as_str(),
            template_id: c.config.message.template_id.clone(),
            recipients: c.recipients.path.display().to_string(),
            rows: c.recipients.len(),
            ready: c.checks.ready,
            invalid: c.checks.invalid,
            duplicates: c.checks.duplicates,
            resume: Resume::default(),
            ledger: FromLedger::default(),
            warnings: c.warnings.iter().map(ToString::to_string).collect(),
            mock_api: None,
            template: String::new(),
            template_notes: Vec::new(),
            schedule: Vec::new(),
            api: String::new(),
            route: String::new(),
            to_send,
            rate: c.config.send.rate,
            concurrency: c.config.send.concurrency,
            estimate: Duration::from_secs_f64(to_send as f64 / f64::from(c.config.send.rate.max(1))),
            dropped: super::rerun::Dropped::default(),
        }
    }
}
