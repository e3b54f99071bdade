//! How a campaign for many merchants ended: each merchant's ending (its own report, the
//! preflight that held it, or nothing to send), the merged failures file and the commands that
//! resume the campaign and re-run its failures; as lines both front ends print.

use super::exit::Exit;
use super::preflight::PreflightError;
use super::report::{LineKind, ReportLine, RunReport};
use super::text::thousands;
use crate::tr;
use serde::Serialize;
use std::path::{Path, PathBuf};

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
    /// The campaign's `report.json`: where it was written, or why it could not be (`None`
    /// until [`FleetReport::record_json`]).
    pub json: Option<Result<PathBuf, std::sync::Arc<std::io::Error>>>,
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
        Self { merchants, idle, failures: failures.rows, failures_path: failures.path, rerun, resume, exit, json: None }
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

/// `report.json` of a campaign for many merchants, for programs: each merchant's ending
/// (English reason), counts and files, the merged failures file and the exit code.
#[derive(Debug, Serialize)]
struct FleetJson<'a> {
    campaign: &'a str,
    exit: i32,
    failures: &'a Path,
    failed_rows: Option<usize>,
    merchants: Vec<MerchantJson<'a>>,
    idle: &'a [String],
}

/// One merchant in `report.json`.
#[derive(Debug, Serialize)]
struct MerchantJson<'a> {
    merchant: &'a str,
    appid: &'a str,
    /// `completed`, `stopped`, `not_started` or `nothing_to_send`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    sent: usize,
    failed: usize,
    exit: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_left: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    journal: Option<&'a Path>,
}

impl FleetReport {
    /// Keep how writing `report.json` went: a file that could not be written makes the exit 4.
    pub fn record_json(&mut self, written: std::io::Result<PathBuf>) {
        if written.is_err() {
            self.exit = worse(self.exit, Exit::LocalWrite);
        }
        self.json = Some(written.map_err(std::sync::Arc::new));
    }

    /// Write `report.json` of campaign `campaign` to `path` (0600, whole or not at all).
    pub fn write_json(&self, campaign: &str, path: &Path) -> std::io::Result<()> {
        let merchants = self.merchants.iter().map(MerchantOutcome::json).collect();
        let doc = FleetJson {
            campaign,
            exit: self.exit.code(),
            failures: &self.failures_path,
            failed_rows: self.failures.as_ref().ok().copied(),
            merchants,
            idle: &self.idle,
        };
        let bytes = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
        crate::private::write_whole(path, &bytes, true)
    }
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
        match &self.json {
            Some(Ok(path)) => say(LineKind::Info, tr!("fleet.report_file", file = path.display().to_string())),
            Some(Err(e)) => say(LineKind::Problem, tr!("fleet.report_unwritten", error = e.to_string())),
            None => {}
        }
        if self.merchants.iter().any(|m| m.exit != Exit::Success) {
            say(LineKind::Advice, tr!("fleet.resume", command = self.resume.clone()));
        }
        out
    }
}

impl MerchantOutcome {
    /// Its entry of `report.json` (the reason in English: programs read it).
    fn json(&self) -> MerchantJson<'_> {
        let english = |f: &dyn Fn() -> String| crate::i18n::with(crate::i18n::Lang::En, f);
        let (state, reason, c, files) = match &self.end {
            MerchantEnd::Ran(r) => {
                let state = if r.summary.reason.is_fatal() { "stopped" } else { "completed" };
                (state, Some(r.summary.reason.describe_en()), Some(&r.summary.counters), Some(&r.files))
            }
            MerchantEnd::Held(e) => ("not_started", Some(english(&|| e.to_string())), None, None),
            MerchantEnd::Nothing => ("nothing_to_send", None, None, None),
        };
        let quota_left = self.quota.map(|q| q.saturating_sub(c.map_or(0, |c| c.requests)));
        MerchantJson {
            merchant: &self.name,
            appid: &self.appid,
            state,
            reason,
            sent: c.map_or(0, |c| c.delivered),
            failed: c.map_or(0, |c| c.failed),
            exit: self.exit.code(),
            quota_left,
            report: files.map(|f| f.report.as_path()),
            journal: files.map(|f| f.journal.as_path()),
        }
    }

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
