//! The journal: an append-only JSON-lines file per campaign and recipients file that makes a run
//! resumable and keeps anyone from getting the same message twice.
//!
//! A `dispatch` line is handed to the OS before its request leaves, so killing the process never
//! loses it; an outcome line follows. Lines are fsynced at least every 100 ms and at the end
//! (group commit): only a power loss can cost the last ~100 ms of lines, and for template
//! messages the `client_msg_id` still makes WeChat drop a resent duplicate.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::campaign::Campaign;

/// Why the journal cannot be used. Exit code 2: nothing is sent.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: another wxsend is sending this campaign (the state folder is locked); wait for it or stop it first", path = .path.display())]
    Locked { path: PathBuf },
    #[error("{path}:{line}: the journal is damaged ({detail}); move it away and start again with --new-run only if you know what was sent", path = .path.display())]
    Corrupt { path: PathBuf, line: usize, detail: String },
    #[error("{path}: {what} changed since this campaign's journal was started; nothing was sent. Restore it to resume, or start a fresh run with --new-run (the old journal is kept beside it)", path = .path.display())]
    Changed { path: PathBuf, what: String },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Line {
    /// First line: what this journal is about.
    Header {
        version: u32,
        campaign: String,
        campaign_fp: String,
        csv: String,
        csv_fp: String,
        rows: usize,
        created: u64,
    },
    /// A run of `wxsend send` began.
    Run { at: u64, pending: usize, resend_unknown: bool },
    /// A request for `row` (0-based) is about to leave.
    Dispatch { row: usize, attempt: u32 },
    /// WeChat accepted the message.
    Ok {
        row: usize,
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        msgid: Option<String>,
    },
    /// The attempt failed but the row may be sent again (transient, token, slow down).
    Retry {
        row: usize,
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        errcode: Option<i64>,
        errmsg: String,
    },
    /// The row failed for good (or the campaign stopped on its answer).
    Failed {
        row: usize,
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        errcode: Option<i64>,
        errmsg: String,
    },
    /// A test send of `row` to the operator's own openid (never counts as the row sent).
    Test {
        row: usize,
        openid: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        errcode: Option<i64>,
        errmsg: String,
    },
    /// The run ended.
    End { at: u64, reason: String },
}

/// What the journal says about one row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RowRecord {
    /// Never dispatched, or its last attempt got an answer that allows sending again.
    #[default]
    Pending,
    /// Dispatched with no outcome: it may or may not have arrived.
    Unknown { attempts: u32 },
    /// Delivered (its msgid stays in the journal: a million of them need not be in memory).
    Delivered { attempts: u32 },
    /// Failed for good; boxed so that the common states stay small.
    Failed(Box<FailedRow>),
}

/// The last answer of a row that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    pub attempts: u32,
    pub errcode: Option<i64>,
    pub errmsg: String,
}

/// The journal's content, replayed.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    pub rows: Vec<RowRecord>,
    pub runs: usize,
}

impl Replay {
    pub fn delivered(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r, RowRecord::Delivered { .. })).count()
    }

    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r, RowRecord::Failed(_))).count()
    }

    pub fn unknown(&self) -> Vec<usize> {
        self.rows.iter().enumerate().filter(|(_, r)| matches!(r, RowRecord::Unknown { .. })).map(|(i, _)| i).collect()
    }

    fn apply(&mut self, line: &Line) {
        match line {
            Line::Dispatch { row, attempt } => {
                if let Some(r) = self.rows.get_mut(*row) {
                    *r = RowRecord::Unknown { attempts: *attempt };
                }
            }
            Line::Ok { row, attempt, .. } => {
                if let Some(r) = self.rows.get_mut(*row) {
                    *r = RowRecord::Delivered { attempts: *attempt };
                }
            }
            Line::Retry { row, .. } => {
                if let Some(r) = self.rows.get_mut(*row) {
                    *r = RowRecord::Pending;
                }
            }
            Line::Failed { row, attempt, errcode, errmsg } => {
                if let Some(r) = self.rows.get_mut(*row) {
                    *r = RowRecord::Failed(Box::new(FailedRow {
                        attempts: *attempt,
                        errcode: *errcode,
                        errmsg: errmsg.clone(),
                    }));
                }
            }
            Line::Run { .. } => self.runs += 1,
            Line::Header { .. } | Line::Test { .. } | Line::End { .. } => {}
        }
    }
}

/// The fingerprints a journal is tied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub campaign: String,
    pub csv: String,
}

impl Fingerprints {
    /// Hash what decides the messages (not the pace): template, mapping, app; and the CSV bytes.
    pub fn of(campaign: &Campaign) -> Result<Self, JournalError> {
        let c = &campaign.config;
        let m = &c.message;
        let mut h = Sha256::new();
        let mut put = |s: &str| {
            h.update(s.as_bytes());
            h.update([0]);
        };
        put(&c.name);
        put(&c.wechat.appid);
        put(m.kind.as_str());
        put(&m.template_id);
        put(m.mp_appid.as_deref().unwrap_or(""));
        put(m.miniprogram_appid.as_deref().unwrap_or(""));
        put(m.url.as_ref().map_or("", |u| u.text.as_str()));
        put(m.page.as_ref().map_or("", |p| p.text.as_str()));
        put(&m.miniprogram_state);
        put(&m.lang);
        for (k, v) in &m.data {
            put(k);
            put(&v.text);
        }
        put(&c.recipients.openid_column);
        put(if c.recipients.allow_duplicates { "dup" } else { "nodup" });
        let campaign_fp = hex(&h.finalize());
        let path = &campaign.recipients.path;
        let io = |source| JournalError::Io { path: path.clone(), source };
        let mut csv = Sha256::new();
        std::io::copy(&mut File::open(path).map_err(io)?, &mut csv).map_err(io)?;
        Ok(Self { campaign: campaign_fp, csv: hex(&csv.finalize()) })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The files of one campaign run, in its state folder.
#[derive(Debug, Clone)]
pub struct StatePaths {
    pub dir: PathBuf,
    pub journal: PathBuf,
    pub lock: PathBuf,
    pub failed: PathBuf,
    pub report: PathBuf,
}

impl StatePaths {
    /// `<state_dir>/<csv file stem>/`: one journal per recipients file, so a re-run of an
    /// exported failures file (`failed-<stem>.csv`) gets its own.
    pub fn new(state_dir: &Path, csv: &Path) -> Self {
        let stem: String = csv
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "recipients".into())
            .chars()
            .map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
            .collect();
        let dir = state_dir.join(&stem);
        Self {
            journal: dir.join("journal.jsonl"),
            lock: dir.join("lock"),
            failed: dir.join(format!("failed-{stem}.csv")),
            report: dir.join("report.json"),
            dir,
        }
    }
}

/// The open journal of a run: the lock, the replayed state, and the writer.
#[derive(Debug)]
pub struct Journal {
    pub paths: StatePaths,
    pub replay: Replay,
    _lock: File,
}

impl Journal {
    /// Lock the state folder, check the fingerprints and replay the journal.
    /// `new_run` moves an existing journal aside and starts a fresh one.
    pub fn open(paths: StatePaths, campaign: &Campaign, new_run: bool) -> Result<(Self, JournalWriter), JournalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        std::fs::create_dir_all(&paths.dir).map_err(io(&paths.dir))?;
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&paths.lock).map_err(io(&paths.lock))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(JournalError::Locked { path: paths.dir.clone() }),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(JournalError::Io { path: paths.lock.clone(), source: e })
            }
        }
        let fp = Fingerprints::of(campaign)?;
        let rows = campaign.recipients.len();
        if new_run && paths.journal.exists() {
            let aside = paths.dir.join(format!("journal-{}.jsonl", unix_now()));
            std::fs::rename(&paths.journal, &aside).map_err(io(&paths.journal))?;
        }
        let exists = paths.journal.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let replay = if exists {
            let (header, replay) = replay_file(&paths.journal, rows)?;
            match header {
                Some(h) => check_header(&paths, &h, &fp, campaign)?,
                None => {
                    return Err(JournalError::Corrupt {
                        path: paths.journal.clone(),
                        line: 1,
                        detail: "no header line".into(),
                    })
                }
            }
            replay
        } else {
            Replay { rows: vec![RowRecord::Pending; rows], runs: 0 }
        };
        let file = OpenOptions::new().create(true).append(true).open(&paths.journal).map_err(io(&paths.journal))?;
        let writer = JournalWriter::spawn(file, paths.journal.clone()).map_err(io(&paths.journal))?;
        if !exists {
            writer.append(Line::Header {
                version: 1,
                campaign: campaign.config.name.clone(),
                campaign_fp: fp.campaign,
                csv: campaign.recipients.path.display().to_string(),
                csv_fp: fp.csv,
                rows,
                created: unix_now(),
            });
        }
        Ok((Self { paths, replay, _lock: lock }, writer))
    }
}

/// Read a journal: its header line and the state of each of `rows` rows.
pub fn replay_file(path: &Path, rows: usize) -> Result<(Option<Line>, Replay), JournalError> {
    let io = |source| JournalError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let mut replay = Replay { rows: vec![RowRecord::Pending; rows], runs: 0 };
    let mut header = None;
    // Read line by line: a journal of a million rows is never held in memory at once.
    let mut bad: Option<(usize, String)> = None;
    for (i, text) in BufReader::new(file).lines().enumerate() {
        let text = text.map_err(io)?;
        if text.trim().is_empty() {
            continue;
        }
        // A crash can cut the very last line short; a bad line with more after it is damage.
        if let Some((line, detail)) = bad.take() {
            return Err(JournalError::Corrupt { path: path.to_path_buf(), line, detail });
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(line) if i == 0 => header = Some(line),
            Ok(line) => replay.apply(&line),
            Err(e) => bad = Some((i + 1, e.to_string())),
        }
    }
    Ok((header, replay))
}

fn check_header(paths: &StatePaths, line: &Line, fp: &Fingerprints, campaign: &Campaign) -> Result<(), JournalError> {
    let Line::Header { campaign_fp, csv_fp, rows, .. } = line else {
        return Err(JournalError::Corrupt { path: paths.journal.clone(), line: 1, detail: "no header line".into() });
    };
    if *csv_fp != fp.csv || *rows != campaign.recipients.len() {
        return Err(JournalError::Changed {
            path: paths.journal.clone(),
            what: format!("the recipients file {}", campaign.recipients.path.display()),
        });
    }
    if *campaign_fp != fp.campaign {
        return Err(JournalError::Changed {
            path: paths.journal.clone(),
            what: format!("the message of {} (template, mapping or app)", campaign.config.path.display()),
        });
    }
    Ok(())
}

/// Appends lines from any task. Lines go into one buffer; a dispatch line is written through to
/// the OS before its request leaves; a background thread fsyncs at least every
/// [`SYNC_INTERVAL`] (group commit). No thread hand-off per message.
#[derive(Debug, Clone)]
pub struct JournalWriter {
    inner: Arc<WriterInner>,
}

#[derive(Debug)]
struct WriterInner {
    out: Mutex<BufWriter<File>>,
    /// A second handle for fsync, so appends are not blocked while the disk syncs.
    sync_file: File,
    path: PathBuf,
    unsynced: AtomicBool,
    failed: AtomicBool,
}

/// The longest a written line waits for fsync.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

impl WriterInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BufWriter<File>> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write `line` into the buffer; with `through`, flush the buffer to the OS as well.
    fn write(&self, line: &Line, through: bool) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let mut out = self.lock();
        let mut ok = serde_json::to_writer(&mut *out, line).is_ok() && out.write_all(b"\n").is_ok();
        if ok && through {
            ok = out.flush().is_ok();
        }
        drop(out);
        self.unsynced.store(true, Ordering::Relaxed);
        if !ok {
            self.fail();
        }
        ok
    }

    /// Flush the buffer and fsync.
    fn sync(&self) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        if !self.unsynced.swap(false, Ordering::Relaxed) {
            return true;
        }
        let flushed = self.lock().flush().is_ok();
        let ok = flushed && self.sync_file.sync_data().is_ok();
        if !ok {
            self.fail();
        }
        ok
    }

    fn fail(&self) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            eprintln!("error: {}: cannot write the journal; sending stops", self.path.display());
        }
    }
}

impl Drop for WriterInner {
    fn drop(&mut self) {
        self.sync();
    }
}

impl JournalWriter {
    fn spawn(file: File, path: PathBuf) -> std::io::Result<Self> {
        let sync_file = file.try_clone()?;
        let inner = Arc::new(WriterInner {
            out: Mutex::new(BufWriter::with_capacity(64 * 1024, file)),
            sync_file,
            path,
            unsynced: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new().name("wxsend-journal-sync".into()).spawn(move || loop {
            std::thread::sleep(SYNC_INTERVAL);
            match weak.upgrade() {
                Some(inner) => {
                    inner.sync();
                }
                None => break,
            }
        })?;
        Ok(Self { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A writer on a new file at `path`, for tests of what writes to a journal.
    #[cfg(test)]
    pub(crate) fn scratch(path: &Path) -> std::io::Result<Self> {
        Self::spawn(File::create(path)?, path.to_path_buf())
    }

    /// Append a line; it reaches the OS with the next dispatch or sync, and the disk within
    /// [`SYNC_INTERVAL`].
    pub fn append(&self, line: Line) {
        self.inner.write(&line, false);
    }

    /// Append a line and hand it to the OS before returning: it survives the process being
    /// killed, and is fsynced within [`SYNC_INTERVAL`]. `false` if the journal cannot be written.
    pub async fn append_written(&self, line: Line) -> bool {
        self.inner.write(&line, true)
    }

    /// Flush and fsync everything appended so far.
    pub async fn flush(&self) -> bool {
        self.inner.unsynced.store(true, Ordering::Relaxed);
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_follows_the_last_line_of_each_row() {
        let mut r = Replay { rows: vec![RowRecord::Pending; 5], runs: 0 };
        for l in [
            Line::Dispatch { row: 0, attempt: 1 },
            Line::Ok { row: 0, attempt: 1, msgid: Some("1".into()) },
            Line::Dispatch { row: 1, attempt: 1 },
            Line::Dispatch { row: 2, attempt: 1 },
            Line::Retry { row: 2, attempt: 1, errcode: Some(-1), errmsg: "system error".into() },
            Line::Dispatch { row: 3, attempt: 1 },
            Line::Failed { row: 3, attempt: 1, errcode: Some(43101), errmsg: "refused".into() },
            Line::Dispatch { row: 99, attempt: 1 },
        ] {
            r.apply(&l);
        }
        assert_eq!(r.rows[0], RowRecord::Delivered { attempts: 1 });
        assert_eq!(r.rows[1], RowRecord::Unknown { attempts: 1 });
        assert_eq!(r.rows[2], RowRecord::Pending);
        assert!(matches!(&r.rows[3], RowRecord::Failed(f) if f.errcode == Some(43101)));
        assert_eq!(r.rows[4], RowRecord::Pending);
        assert_eq!(r.unknown(), vec![1]);
    }

    #[test]
    fn a_cut_last_line_is_tolerated_but_damage_inside_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let good = [
            r#"{"t":"header","version":1,"campaign":"c","campaign_fp":"a","csv":"r.csv","csv_fp":"b","rows":2,"created":0}"#,
            r#"{"t":"dispatch","row":0,"attempt":1}"#,
            r#"{"t":"ok","row":0,"attempt":1,"msgid":"7"}"#,
        ]
        .join("\n");
        std::fs::write(&path, format!("{good}\n{{\"t\":\"dispa")).unwrap();
        let (header, replay) = replay_file(&path, 2).unwrap();
        assert!(matches!(header, Some(Line::Header { rows: 2, .. })));
        assert_eq!(replay.rows[0], RowRecord::Delivered { attempts: 1 });
        std::fs::write(&path, format!("{good}\n{{\"t\":\"dispa\n{}\n", r#"{"t":"dispatch","row":1,"attempt":1}"#))
            .unwrap();
        let e = replay_file(&path, 2).unwrap_err().to_string();
        assert!(e.contains("journal.jsonl:4: the journal is damaged"), "{e}");
    }

    #[test]
    fn lines_round_trip_as_json() {
        let l = Line::Failed { row: 3, attempt: 2, errcode: None, errmsg: "timed out".into() };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(text, r#"{"t":"failed","row":3,"attempt":2,"errmsg":"timed out"}"#);
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), l);
    }

    #[test]
    fn state_paths_are_per_recipients_file() {
        let p = StatePaths::new(Path::new("/s"), Path::new("/data/my list.csv"));
        assert_eq!(p.dir, Path::new("/s/my_list"));
        assert_eq!(p.failed, Path::new("/s/my_list/failed-my_list.csv"));
    }
}
