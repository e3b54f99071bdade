//! The end of a run, typed: why it ended, what this run and the whole campaign came to, where
//! the files are, what to run next, and the exit code. Both front ends render it.

use std::time::Duration;

use crate::engine::Summary;

use super::exit::Exit;
use super::export::{Files, Totals};
use super::text::{duration, thousands};

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The engine's summary of this run.
    pub summary: Summary,
    /// Over all runs of this journal, counted over the ready rows.
    pub totals: Totals,
    /// Ready rows in the campaign.
    pub ready: usize,
    /// Rows never sendable.
    pub invalid: usize,
    /// Rows skipped as repeated openids.
    pub duplicates: usize,
    /// Rows (0-based) sent without an answer.
    pub unknown_rows: Vec<usize>,
    /// Rows in the failures file, or why the failures file or report could not be written.
    pub failures: Result<usize, std::sync::Arc<super::export::ExportError>>,
    /// Where the journal, failures file and report are.
    pub files: Files,
    /// The command that re-runs the failures file.
    pub rerun: String,
    /// The command that resumes this campaign (the same command, with every flag it needs).
    pub resume: String,
    /// How the process should exit.
    pub exit: Exit,
    /// What the delivery receipts recorded so far say about the delivered rows.
    pub receipts: crate::journal::receipts::ReceiptCounts,
}

/// What a line of the summary is, so that a front end can style it without reading its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A fact.
    Info,
    /// Something went wrong.
    Problem,
    /// What to do next.
    Advice,
}

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    /// How to read it.
    pub kind: LineKind,
    /// The words.
    pub text: String,
}

impl RunReport {
    /// The summary, line by line.
    pub fn lines(&self) -> Vec<ReportLine> {
        let mut out = self.totals_lines();
        out.extend(self.attention_lines());
        out.extend(self.file_lines());
        out
    }

    /// What this run did, where the campaign stands, and what the ledger and other senders hold.
    fn totals_lines(&self) -> Vec<ReportLine> {
        let s = &self.summary;
        let c = &s.counters;
        let t = &self.totals;
        let mut out = Vec::new();
        let mut say = |kind, text: String| out.push(ReportLine { kind, text });
        let headline = if s.reason.is_fatal() { LineKind::Problem } else { LineKind::Info };
        say(
            headline,
            format!(
                "{}: this run delivered {}, failed {} in {} ({:.1} requests/s)",
                s.reason.describe(),
                thousands(c.delivered),
                thousands(c.failed),
                duration(Duration::from_millis(c.elapsed_ms)),
                s.achieved_rate
            ),
        );
        say(
            LineKind::Info,
            format!(
                "campaign: delivered {} of {} ready; failed {}; unknown {}; not sent yet {}; invalid {}; duplicates {}",
                thousands(t.delivered),
                thousands(self.ready),
                thousands(t.failed),
                thousands(t.unknown),
                thousands(t.pending),
                thousands(self.invalid),
                thousands(self.duplicates)
            ),
        );
        if t.already_sent + t.earlier_unknown + t.suppressed > 0 {
            say(
                LineKind::Info,
                format!(
                    "account ledger: already sent by an earlier run {}; sent earlier without an answer {} (held back; --resend-unknown sends them); held back by the account {} (--include-suppressed sends them)",
                    thousands(t.already_sent),
                    thousands(t.earlier_unknown),
                    thousands(t.suppressed)
                ),
            );
        }
        if t.elsewhere + t.elsewhere_unknown > 0 {
            say(
                LineKind::Info,
                format!(
                    "other senders (Redis): finished or sending {} rows{}",
                    thousands(t.elsewhere),
                    if t.elsewhere_unknown > 0 {
                        format!(
                            "; {} sent there without an answer (unknown: check that sender's journal)",
                            thousands(t.elsewhere_unknown)
                        )
                    } else {
                        String::new()
                    }
                ),
            );
        }
        out
    }

    /// Receipts, transient answers, errors by code, unknown rows.
    fn attention_lines(&self) -> Vec<ReportLine> {
        let (c, t) = (&self.summary.counters, &self.totals);
        let mut out = Vec::new();
        let mut say = |kind, text: String| out.push(ReportLine { kind, text });
        if t.delivered > 0 {
            let r = &self.receipts;
            say(
                LineKind::Info,
                format!(
                    "receipts: success {}, user_block {}, system_failed {}, pending {} (errcode 0 is WeChat's acceptance; `wxsend receipts serve` records what arrived)",
                    thousands(r.success),
                    thousands(r.user_block),
                    thousands(r.system_failed),
                    thousands(r.pending)
                ),
            );
        }
        if c.retry_later > 0 {
            say(
                LineKind::Problem,
                format!(
                    "retry later: {} rows got only transient answers (timeouts, 5xx, -1) this run; they are not failed and the next run sends them",
                    thousands(c.retry_later)
                ),
            );
        }
        if !c.failures_by_code.is_empty() {
            say(LineKind::Info, "errors this run:".into());
            for (code, n) in &c.failures_by_code {
                say(LineKind::Info, format!("  {code:>9} ×{n}  {}", code.hint().unwrap_or("")));
            }
        }
        if !self.unknown_rows.is_empty() {
            let shown: Vec<String> = self.unknown_rows.iter().take(20).map(|r| (r + 1).to_string()).collect();
            say(
                LineKind::Problem,
                format!(
                    "unknown: rows {}{} were sent without an answer; they are not resent unless you add --resend-unknown",
                    shown.join(", "),
                    if self.unknown_rows.len() > 20 { ", …" } else { "" }
                ),
            );
        }
        out
    }

    /// The run's files, and how to re-run the failures or resume.
    fn file_lines(&self) -> Vec<ReportLine> {
        let (s, t) = (&self.summary, &self.totals);
        let mut out = Vec::new();
        let mut say = |kind, text: String| out.push(ReportLine { kind, text });
        say(LineKind::Info, format!("journal  {}", self.files.journal.display()));
        match &self.failures {
            Ok(n) => {
                say(LineKind::Info, format!("failures {} ({n} rows)", self.files.failures.display()));
                say(LineKind::Info, format!("report   {}", self.files.report.display()));
                if *n > 0 {
                    say(LineKind::Advice, format!("re-run the failures: {}", self.rerun));
                }
            }
            Err(e) => say(
                LineKind::Problem,
                format!("error: writing the failures file or report: {e}; the journal keeps every row: free space and run `{}` again", self.resume),
            ),
        }
        if t.pending > 0 && !s.reason.is_fatal() {
            say(LineKind::Advice, format!("resume: run the same command again to send the rest: {}", self.resume));
        } else if t.pending > 0 {
            say(
                LineKind::Advice,
                format!(
                    "resume: fix the cause above, then run the same command again to send the rest: {}",
                    self.resume
                ),
            );
        }
        out
    }
}
