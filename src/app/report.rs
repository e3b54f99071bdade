//! The end of a run, typed: why it ended, what this run and the whole campaign came to, where
//! the files are, what to run next, and the exit code. Both front ends render it.

use std::time::Duration;

use crate::engine::Summary;

use super::exit::Exit;
use super::export::{Files, Totals};
use super::text::{duration, pad, thousands};
use crate::tr;

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
            tr!(
                "report.headline",
                outcome = s.reason.describe(),
                delivered = thousands(c.delivered),
                failed = thousands(c.failed),
                elapsed = duration(Duration::from_millis(c.elapsed_ms)),
                rate = format!("{:.1}", s.achieved_rate)
            ),
        );
        say(
            LineKind::Info,
            tr!(
                "report.campaign",
                delivered = thousands(t.delivered),
                ready = thousands(self.ready),
                failed = thousands(t.failed),
                unknown = thousands(t.unknown),
                pending = thousands(t.pending),
                invalid = thousands(self.invalid),
                duplicates = thousands(self.duplicates)
            ),
        );
        if t.already_sent + t.earlier_unknown + t.suppressed > 0 {
            say(
                LineKind::Info,
                tr!(
                    "report.ledger",
                    already = thousands(t.already_sent),
                    unknown = thousands(t.earlier_unknown),
                    suppressed = thousands(t.suppressed)
                ),
            );
        }
        if t.dropped > 0 {
            say(LineKind::Info, tr!("rerun.report", count = thousands(t.dropped)));
        }
        if t.elsewhere + t.elsewhere_unknown > 0 {
            say(
                LineKind::Info,
                tr!(
                    "report.elsewhere",
                    rows = thousands(t.elsewhere),
                    unknown = if t.elsewhere_unknown > 0 {
                        tr!("report.elsewhere_unknown", count = thousands(t.elsewhere_unknown))
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
                tr!(
                    "report.receipts",
                    success = thousands(r.success),
                    user_block = thousands(r.user_block),
                    system_failed = thousands(r.system_failed),
                    pending = thousands(r.pending)
                ),
            );
        }
        if c.retry_later > 0 {
            say(LineKind::Problem, tr!("report.retry_later", count = thousands(c.retry_later)));
        }
        if !c.failures_by_code.is_empty() {
            say(LineKind::Info, tr!("report.errors"));
            for (code, n) in &c.failures_by_code {
                say(LineKind::Info, format!("  {code:>9} ×{n}  {}", code.hint().unwrap_or("")));
            }
        }
        if !self.unknown_rows.is_empty() {
            let shown: Vec<String> = self.unknown_rows.iter().take(20).map(|r| (r + 1).to_string()).collect();
            say(
                LineKind::Problem,
                tr!(
                    "report.unknown",
                    rows = format!("{}{}", shown.join(", "), if self.unknown_rows.len() > 20 { ", …" } else { "" })
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
        let file = |label: &str, path: &std::path::Path| format!("{}{}", pad(&tr!(label), 9), path.display());
        say(LineKind::Info, file("report.journal", &self.files.journal));
        match &self.failures {
            Ok(n) => {
                say(
                    LineKind::Info,
                    format!("{} {}", file("report.failures", &self.files.failures), tr!("report.rows", count = n)),
                );
                say(LineKind::Info, file("report.report", &self.files.report));
                if *n > 0 {
                    say(LineKind::Advice, tr!("report.rerun", command = self.rerun.clone()));
                }
            }
            Err(e) => {
                say(LineKind::Problem, tr!("report.files_failed", error = e.to_string(), command = self.resume.clone()))
            }
        }
        if t.pending > 0 && !s.reason.is_fatal() {
            say(LineKind::Advice, tr!("report.resume", command = self.resume.clone()));
        } else if t.pending > 0 {
            say(LineKind::Advice, tr!("report.resume_after_fix", command = self.resume.clone()));
        }
        out
    }
}
