//! How a campaign for many merchants ended: each merchant's ending (its own report, the
//! preflight that held it, or nothing to send), the merged failures file and the commands that
//! resume the campaign and re-run its failures; as lines both front ends print.

use super::exit::Exit;
use super::preflight::PreflightError;
use super::report::{LineKind, ReportLine, RunReport};
use super::text::thousands;
use crate::tr;
use std::path::PathBuf;

/// How a merchant's part of the run ended.
#[derive(Debug, Clone)]
pub enum MerchantEnd {
    /// It sent, and ended as its report says.
    Ran(Box<RunReport>),
    /// Its preflight refused it: nothing of it was sent.
    Held(PreflightError),
    /// It had nothing to send.
    Nothing,
}

/// One merchant's line of the report.
#[derive(Debug, Clone)]
pub struct MerchantOutcome {
    /// The account's name.
    pub name: String,
    /// The merchant's appid.
    pub appid: String,
    /// The daily quota left before the run, when WeChat said.
    pub quota: Option<u64>,
    /// How it ended.
    pub end: MerchantEnd,
    /// Its exit code alone.
    pub exit: Exit,
}

/// A finished campaign for many merchants.
#[derive(Debug, Clone)]
pub struct FleetReport {
    /// Each merchant, in the campaign's order.
    pub merchants: Vec<MerchantOutcome>,
    /// The merchants the list has no row for.
    pub idle: Vec<String>,
    /// The merged failures file: its rows, or why it could not be written.
    pub failures: Result<usize, std::sync::Arc<std::io::Error>>,
    /// Where it is.
    pub failures_path: PathBuf,
    /// The command that re-runs it.
    pub rerun: String,
    /// The command that resumes the campaign.
    pub resume: String,
    /// How the process should exit: the worst of the merchants'.
    pub exit: Exit,
}

impl FleetReport {
    /// The report of `merchants` (each with its own exit); the campaign exits with the worst,
    /// or 4 when the merged failures file could not be written.
    pub fn new(merchants: Vec<MerchantOutcome>, idle: Vec<String>, failures: Failures, commands: [String; 2]) -> Self {
        let mut exit = merchants.iter().fold(Exit::Success, |e, m| worse(e, m.exit));
        if failures.rows.is_err() {
            exit = worse(exit, Exit::LocalWrite);
        }
        let [rerun, resume] = commands;
        Self { merchants, idle, failures: failures.rows, failures_path: failures.path, rerun, resume, exit }
    }
}

/// The merged failures file: where, and its rows or why it could not be written.
#[derive(Debug, Clone)]
pub struct Failures {
    /// Where it is.
    pub path: PathBuf,
    /// Its rows, or the error.
    pub rows: Result<usize, std::sync::Arc<std::io::Error>>,
}

/// The worse of two endings (the higher exit code: crashed, storage, stopped, input, partial).
fn worse(a: Exit, b: Exit) -> Exit {
    if b.code() > a.code() {
        b
    } else {
        a
    }
}

impl MerchantEnd {
    /// A word or two for the table.
    fn label(&self) -> String {
        match self {
            MerchantEnd::Ran(r) => super::fleet_board::MerchantState::Ended(r.summary.reason.clone()).label(),
            MerchantEnd::Held(_) => tr!("fleet.state.held"),
            MerchantEnd::Nothing => tr!("fleet.state.nothing"),
        }
    }
}

impl FleetReport {
    /// The summary: a table of the merchants, what went wrong with each and what to do, the
    /// merged failures file and the commands.
    pub fn lines(&self) -> Vec<ReportLine> {
        let mut out = Vec::new();
        let mut say = |kind, text: String| out.push(ReportLine { kind, text });
        let rows: Vec<[String; 6]> = self.merchants.iter().map(MerchantOutcome::cells).collect();
        for line in super::fleet_board::table(&rows) {
            say(LineKind::Info, line);
        }
        for m in &self.merchants {
            match &m.end {
                MerchantEnd::Ran(r) if r.summary.reason.is_fatal() => {
                    say(
                        LineKind::Problem,
                        tr!("fleet.stopped_alone", merchant = m.name.clone(), reason = r.summary.reason.describe()),
                    );
                }
                MerchantEnd::Held(e) => {
                    say(LineKind::Problem, tr!("fleet.held", merchant = m.name.clone(), reason = e.to_string()))
                }
                _ => {}
            }
        }
        if !self.idle.is_empty() {
            say(LineKind::Info, tr!("fleet.idle", merchants = self.idle.join(", ")));
        }
        match &self.failures {
            Ok(0) => {}
            Ok(n) => {
                let file = self.failures_path.display().to_string();
                say(LineKind::Info, tr!("fleet.failures", count = thousands(*n), file = file));
                say(LineKind::Advice, tr!("fleet.rerun", command = self.rerun.clone()));
            }
            Err(e) => say(
                LineKind::Problem,
                tr!("fleet.failures_unwritten", file = self.failures_path.display().to_string(), error = e.to_string()),
            ),
        }
        if self.merchants.iter().any(|m| m.exit != Exit::Success) {
            say(LineKind::Advice, tr!("fleet.resume", command = self.resume.clone()));
        }
        out
    }
}

impl MerchantOutcome {
    /// Its row of the table: name, appid, sent, failed, quota left, state.
    fn cells(&self) -> [String; 6] {
        let (sent, failed, requests) = match &self.end {
            MerchantEnd::Ran(r) => {
                (r.summary.counters.delivered, r.summary.counters.failed, r.summary.counters.requests)
            }
            _ => (0, 0, 0),
        };
        let quota = self.quota.map_or_else(|| "-".to_string(), |q| thousands(q.saturating_sub(requests) as usize));
        [self.name.clone(), self.appid.clone(), thousands(sent), thousands(failed), quota, self.end.label()]
    }
}
