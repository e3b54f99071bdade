//! What a run leaves behind: the failures CSV (re-runnable as it is) and the JSON report; the one
//! export path both front ends use.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::campaign::{Campaign, DetectedEncoding, RowState};
use crate::engine::{Counters, EndReason, Summary};
use crate::journal::{Category, Replay, RowRecord};
use crate::wechat::{Code, TokenStatus};

/// The columns wxsend adds to the failures file.
pub const OWN_COLUMNS: [&str; 4] = ["wxsend_errcode", "wxsend_errmsg", "wxsend_attempts", "wxsend_hint"];

/// Write the invalid and failed rows of `campaign` to `path`: the original columns unchanged and
/// in order, plus wxsend's three. Returns the number of rows written.
pub fn write_failures(campaign: &Campaign, replay: &Replay, path: &Path) -> std::io::Result<usize> {
    write_failures_and_blocked(campaign, replay, path, &std::collections::HashSet::new())
}

/// [`write_failures`], plus the delivered rows in `blocked` (their receipt says the recipient
/// blocks the account), with `wxsend_errcode` = `user_block`.
pub fn write_failures_and_blocked(
    campaign: &Campaign,
    replay: &Replay,
    path: &Path,
    blocked: &std::collections::HashSet<usize>,
) -> std::io::Result<usize> {
    let r = &campaign.recipients;
    write_like_the_list(r, path, |w| write_failure_rows(campaign, replay, blocked, w))
}

/// Write `path` as a list like `r` (its delimiter; the BOM Excel needs when `r` had one or was
/// GBK): through a temporary file beside it, synced, then renamed over it; `rows` writes the
/// records and says how many.
pub(super) fn write_like_the_list(
    r: &crate::campaign::Recipients,
    path: &Path,
    rows: impl FnOnce(&mut csv::Writer<std::io::BufWriter<&std::fs::File>>) -> std::io::Result<usize>,
) -> std::io::Result<usize> {
    let tmp = temp_beside(path)?;
    let mut file = std::io::BufWriter::new(tmp.as_file());
    if r.encoding.had_bom() || r.encoding == DetectedEncoding::Gb18030 {
        file.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = csv::WriterBuilder::new().delimiter(r.delimiter).flexible(false).from_writer(file);
    let written = rows(&mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    persist(tmp, path)?;
    Ok(written)
}

/// The failures file's header and rows (see [`write_failures_and_blocked`]).
fn write_failure_rows(
    campaign: &Campaign,
    replay: &Replay,
    blocked: &std::collections::HashSet<usize>,
    w: &mut csv::Writer<std::io::BufWriter<&std::fs::File>>,
) -> std::io::Result<usize> {
    let r = &campaign.recipients;
    let keep: Vec<usize> = (0..r.headers.len()).filter(|&i| !r.is_own_column(i)).collect();
    let mut header: Vec<&str> = keep.iter().map(|&i| r.headers[i].as_str()).collect();
    header.extend(OWN_COLUMNS);
    w.write_record(&header)?;
    let mut written = 0;
    for row in r.rows() {
        let i = row.index();
        let (code, message, attempts, hint) = match (campaign.checks.state(i), replay.rows.get(i)) {
            (Some(RowState::Invalid), _) => {
                let problems: Vec<String> = campaign.checks.problems_of(i).iter().map(|(_, p)| p.to_string()).collect();
                ("invalid".to_string(), problems.join("; "), 0, crate::tr!("export.hint_invalid"))
            }
            (Some(RowState::Ready), Some(RowRecord::Failed(f))) => {
                let hint = f.code().hint().unwrap_or_default().to_string();
                (f.code().to_string(), f.errmsg.clone(), f.attempts, hint)
            }
            (Some(RowState::Ready), Some(RowRecord::Delivered { attempts })) if blocked.contains(&i) => {
                ("user_block".to_string(), crate::tr!("export.blocked"), *attempts, crate::tr!("export.hint_blocked"))
            }
            _ => continue,
        };
        let mut record: Vec<String> = keep.iter().map(|&c| row.field(c).to_string()).collect();
        record.push(code);
        record.push(message);
        record.push(attempts.to_string());
        record.push(hint);
        w.write_record(&record)?;
        written += 1;
    }
    Ok(written)
}

/// The failures file of a campaign from its state folder (`wxsend status --export`), with the
/// rows whose receipt says "user block" when `include_blocked`.
pub fn export_with_receipts(
    campaign: &Campaign,
    state_dir: Option<&Path>,
    path: &Path,
    include_blocked: bool,
) -> Result<usize, ExportError> {
    let paths = super::receipts::state_paths(campaign, state_dir)?;
    let rows = campaign.recipients.len();
    let replay = if paths.journal.exists() {
        crate::journal::read_bound(&paths.journal, campaign)?.replay
    } else {
        Replay { rows: vec![RowRecord::Pending; rows], runs: 0 }
    };
    let mut blocked = std::collections::HashSet::new();
    if include_blocked {
        let mut last = std::collections::HashMap::new();
        let file = crate::journal::receipts::ReceiptsFile::in_dir(&paths.dir);
        let read = file.read().map_err(|source| ExportError::Read { path: file.path().to_path_buf(), source })?;
        for r in read {
            if let Some(row) = r.row {
                last.insert(row, r.event.status);
            }
        }
        blocked.extend(
            last.into_iter().filter(|(_, s)| *s == crate::wechat::push::ReceiptStatus::UserBlock).map(|(r, _)| r),
        );
    }
    write_failures_and_blocked(campaign, &replay, path, &blocked)
        .map_err(|source| ExportError::Write { path: path.to_path_buf(), source })
}

/// A temporary file in `path`'s folder (created if missing), removed again on every path that
/// does not [`persist`] it: an error, a full disk, a panic.
fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if path.is_dir() {
        return Err(std::io::Error::other(format!("{} is a folder: name a file", path.display())));
    }
    std::fs::create_dir_all(dir)?;
    tempfile::Builder::new().prefix(".wxsend-").suffix(".tmp").tempfile_in(dir)
}

/// Put a finished temporary file in place of `path` at once (readers see the old file or the
/// new one, never half of one).
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// Each accepted row's msgid by 1-based row number, in row order; written as a JSON object.
/// A sorted list rather than a map: a million of them are sorted in place and written straight
/// from it.
#[derive(Debug, Default)]
pub struct Msgids(Vec<(usize, String)>);

impl Msgids {
    /// From `(row, msgid)` pairs in journal order (0-based rows): a row named twice keeps its
    /// last msgid.
    pub fn by_row(mut pairs: Vec<(usize, String)>) -> Self {
        pairs.sort_by_key(|(row, _)| *row);
        let mut out: Vec<(usize, String)> = Vec::with_capacity(pairs.len());
        for (row, id) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == row + 1 => last.1 = id,
                _ => out.push((row + 1, id)),
            }
        }
        Self(out)
    }
}

impl Serialize for Msgids {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(row, id)| (row, id)))
    }
}

/// One errcode in the report.
#[derive(Debug, Serialize)]
pub struct CodeCount {
    /// Rows that failed with the code.
    pub count: u64,
    /// What it means and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

/// Where a run's files are.
#[derive(Debug, Clone, Serialize)]
pub struct Files {
    /// The journal.
    pub journal: PathBuf,
    /// The failures CSV.
    pub failures: PathBuf,
    /// `report.json`.
    pub report: PathBuf,
}

/// `report.json`: the whole campaign as the journal sees it, and this run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The campaign's name.
    pub campaign: String,
    /// What the delivery receipts received so far say (`wxsend receipts` records them).
    pub receipts: crate::journal::receipts::ReceiptCounts,
    /// WeChat's msgid of every accepted row (1-based row number → msgid), to match receipts.
    pub msgids: Msgids,
    /// `template`, `subscribe`, `mp_subscribe` or `uniform`.
    pub kind: &'static str,
    /// The template the messages use.
    pub template_id: String,
    /// The recipients file.
    pub csv: String,
    /// When the run ended (Unix seconds).
    pub finished_at: u64,
    /// Why the run ended, in words.
    pub outcome: String,
    /// Why the run ended, typed.
    pub reason: EndReason,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows never sendable.
    pub invalid: usize,
    /// Rows skipped as repeated openids.
    pub duplicates: usize,
    /// Rows that pass every check.
    pub ready: usize,
    /// Over all runs of this journal.
    pub delivered: usize,
    /// Failed for good, over all runs.
    pub failed: usize,
    /// Sent without an answer, over all runs.
    pub unknown: usize,
    /// Not sent yet.
    pub pending: usize,
    /// Rows failed for good, by errcode, with what to do.
    pub failures_by_code: BTreeMap<Code, CodeCount>,
    /// People the account's ledger says already got this message from an earlier run (not sent).
    pub already_sent: usize,
    /// People an earlier run sent this message without an answer (held back).
    pub earlier_unknown: usize,
    /// People the account holds back (43004/43101 within `suppress_days`, the do-not-send list).
    pub suppressed: usize,
    /// This run's counters.
    pub this_run: Counters,
    /// How long this run took.
    pub elapsed_secs: f64,
    /// Requests per second this run achieved.
    pub achieved_rate: f64,
    /// Messages per second the campaign allows.
    pub configured_rate: u32,
    /// The access token's state at the end (redacted).
    pub token: TokenStatus,
    /// Where the run's files are.
    pub files: Files,
}

/// Counts over the ready rows of a replayed journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Delivered.
    pub delivered: usize,
    /// Failed for good.
    pub failed: usize,
    /// Sent without an answer.
    pub unknown: usize,
    /// Not sent yet.
    pub pending: usize,
    /// Finished by another sender on Redis.
    pub elsewhere: usize,
    /// Sent by another sender without an answer (it may have arrived; not resent here).
    pub elsewhere_unknown: usize,
    /// Delivered to the same person by an earlier run of the same message (the account's
    /// ledger): done, not sent again.
    pub already_sent: usize,
    /// Sent by an earlier run of the same message without an answer: held back.
    pub earlier_unknown: usize,
    /// Held back by the account (43004/43101 recently, or the do-not-send list).
    pub suppressed: usize,
    /// A failures file's rows left out of its re-run: their codes will not change.
    pub dropped: usize,
}

impl Totals {
    /// Move the rows the account's ledger held back out of "not sent yet" (those this run's
    /// journal still has pending).
    pub fn apply_ledger(&mut self, replay: &Replay, held: &[(usize, super::plan::Held)]) {
        use super::plan::Held;
        for (row, held) in held {
            if replay.rows.get(*row).map_or(Category::Pending, RowRecord::category) != Category::Pending {
                continue;
            }
            self.pending = self.pending.saturating_sub(1);
            match held {
                Held::AlreadySent => self.already_sent += 1,
                Held::EarlierUnknown => self.earlier_unknown += 1,
                Held::Suppressed => self.suppressed += 1,
                Held::Dropped => self.dropped += 1,
            }
        }
    }
}

/// Counts over the ready rows of `campaign` as `replay` sees them.
pub fn totals(campaign: &Campaign, replay: &Replay) -> Totals {
    let mut t = Totals::default();
    for i in campaign.checks.ready_rows() {
        match replay.rows.get(i).map_or(Category::Pending, RowRecord::category) {
            Category::Delivered => t.delivered += 1,
            Category::Failed => t.failed += 1,
            Category::Unknown => t.unknown += 1,
            Category::Pending => t.pending += 1,
        }
    }
    t
}

/// The report of a run that ended with `summary`, over everything the journal holds.
/// `msgids` holds each accepted row (0-based) with its msgid, in journal order (from the same
/// pass as `replay`).
pub fn build_report(
    campaign: &Campaign,
    replay: &Replay,
    summary: &Summary,
    files: Files,
    msgids: Vec<(usize, String)>,
    held: &[(usize, super::plan::Held)],
) -> Report {
    let mut t = totals(campaign, replay);
    t.apply_ledger(replay, held);
    let mut failures_by_code: BTreeMap<Code, CodeCount> = BTreeMap::new();
    for i in campaign.checks.ready_rows() {
        if let Some(RowRecord::Failed(f)) = replay.rows.get(i) {
            let code = f.code();
            failures_by_code.entry(code).or_insert(CodeCount { count: 0, hint: code.hint_en() }).count += 1;
        }
    }
    let (reason, counters) = (summary.reason.clone(), summary.counters.clone());
    let dir = files.journal.parent().unwrap_or(Path::new("."));
    let receipts = crate::journal::receipts::ReceiptsFile::in_dir(dir).read().unwrap_or_default();
    let msgids = Msgids::by_row(msgids);
    Report {
        receipts: crate::journal::receipts::ReceiptCounts::of(&receipts, t.delivered),
        msgids,
        campaign: campaign.config.name.clone(),
        kind: campaign.config.message.kind.as_str(),
        template_id: campaign.config.message.template_id.clone(),
        csv: campaign.recipients.path.display().to_string(),
        finished_at: crate::journal::unix_now(),
        outcome: reason.describe_en(),
        reason,
        rows: campaign.recipients.len(),
        invalid: campaign.checks.invalid,
        duplicates: campaign.checks.duplicates,
        ready: campaign.checks.ready,
        delivered: t.delivered,
        already_sent: t.already_sent,
        earlier_unknown: t.earlier_unknown,
        suppressed: t.suppressed,
        failed: t.failed,
        unknown: t.unknown,
        pending: t.pending,
        failures_by_code,
        elapsed_secs: counters.elapsed_ms as f64 / 1000.0,
        this_run: counters,
        achieved_rate: summary.achieved_rate,
        configured_rate: campaign.config.send.rate,
        token: summary.token.clone(),
        files,
    }
}

/// Write the report as pretty JSON.
pub fn write_report(report: &Report, path: &Path) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut tmp);
    serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
    out.flush()?;
    drop(out);
    tmp.as_file().sync_all()?;
    persist(tmp, path)
}
/// The failures file written from the journal as it stands: the journal's buffer handed to the
/// OS first, then the replay and the file written on a blocking thread, never on the runtime.
#[derive(Debug)]
pub struct FailuresExport {
    writer: crate::journal::JournalWriter,
    campaign: std::sync::Arc<Campaign>,
    journal: PathBuf,
    failures: PathBuf,
}

impl FailuresExport {
    /// The export of `campaign`'s journal to its failures file (both in `files`).
    pub fn new(writer: &crate::journal::JournalWriter, campaign: &std::sync::Arc<Campaign>, files: &Files) -> Self {
        Self {
            writer: writer.clone(),
            campaign: campaign.clone(),
            journal: files.journal.clone(),
            failures: files.failures.clone(),
        }
    }

    /// Write it; the number of rows written.
    pub async fn run(self) -> Result<usize, ExportError> {
        self.writer.flush().await;
        let Self { campaign, journal, failures, .. } = self;
        tokio::task::spawn_blocking(move || {
            let (_, replay) = crate::journal::replay_file(&journal, campaign.recipients.len())?;
            write_failures(&campaign, &replay, &failures)
                .map_err(|source| ExportError::Write { path: failures, source })
        })
        .await
        .map_err(|e| ExportError::Stopped(e.to_string()))?
    }
}

/// Why the failures file (or the report) was not written. The journal keeps every row either way.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The journal cannot be read.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// A file it needs cannot be read.
    #[error("{path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file cannot be written.
    #[error("{path}: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The task writing it ended before it finished (a bug in wxsend: please report it).
    #[error("{}", crate::tr!("err.export_error.stopped", value0 = .0.to_string()))]
    Stopped(String),
}

impl ExportError {
    /// 4 when this machine's storage is the cause, 5 when wxsend failed, else 2.
    pub fn exit(&self) -> super::Exit {
        match self {
            ExportError::Journal(e) if !e.is_storage() => super::Exit::Input,
            ExportError::Read { .. } => super::Exit::Input,
            ExportError::Stopped(_) => super::Exit::Crashed,
            _ => super::Exit::LocalWrite,
        }
    }
}
