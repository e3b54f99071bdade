//! Appending to the journal from any task: one buffer, dispatch lines written through to the OS
//! before their request leaves, a background thread that fsyncs (group commit), and a reserve
//! of disk space given up when the disk fills so the outcomes of requests in flight are still
//! recorded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Line;

/// Appends lines from any task. Lines go into one buffer; a dispatch line is written through to
/// the OS before its request leaves; a background thread fsyncs at least every
/// [`SYNC_INTERVAL`] (group commit). No thread hand-off per message.
///
/// When a write fails, no further dispatch line is accepted (so no new request leaves), the
/// reserve file is deleted to make room, and what was accepted is written again: the outcomes
/// of the requests already in flight still reach the journal. Whatever still cannot be written
/// is kept in memory, tried once more at the end, and reported by
/// [`JournalWriter::unrecorded_accepted`].
#[derive(Debug, Clone)]
pub struct JournalWriter {
    inner: Arc<WriterInner>,
}

#[derive(Debug)]
struct WriterInner {
    out: Mutex<Writing>,
    /// A second handle for fsync, so appends are not blocked while the disk syncs.
    #[cfg_attr(feature = "bench-unsynced-journal", allow(dead_code))]
    sync_file: File,
    path: PathBuf,
    unsynced: AtomicBool,
    /// A write failed: no dispatch line is accepted any more.
    failed: AtomicBool,
    /// The first write error, for the end of the run (never printed here: a terminal UI may own
    /// the screen).
    error: Mutex<Option<String>>,
}

/// The buffered file and the scratch buffer a record is encoded into, under one lock.
#[derive(Debug)]
struct Writing {
    file: BufWriter<File>,
    record: Vec<u8>,
    /// The space kept free for the end of a run (deleted on the first failed write).
    reserve: Option<PathBuf>,
    /// Writing is impossible for now: records wait in `pending`.
    broken: bool,
    /// Encoded records not yet handed to `file`, in order.
    pending: Vec<u8>,
    /// Rows whose `ok` record is in `pending` (accepted by WeChat, not yet recorded).
    pending_ok: Vec<usize>,
}

/// The longest a written line waits for fsync.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// The size of the reserve file kept beside the journal: room for the outcomes of the requests
/// in flight when the disk fills.
pub const RESERVE_BYTES: usize = 16 * 1024;

impl Writing {
    /// Give up the reserve and hand everything accepted so far to the OS.
    fn rescue(&mut self) -> std::io::Result<()> {
        if let Some(reserve) = self.reserve.take() {
            let _ = std::fs::remove_file(reserve);
        }
        self.file.flush()?;
        if !self.pending.is_empty() {
            self.file.write_all(&self.pending)?;
            self.file.flush()?;
            self.pending.clear();
            self.pending_ok.clear();
        }
        self.broken = false;
        Ok(())
    }

    /// Keep an encoded record (`record`) for later.
    fn keep(&mut self, line: &Line) {
        let Writing { record, pending, pending_ok, .. } = self;
        pending.extend_from_slice(record);
        if let Line::Ok { row, .. } = line {
            pending_ok.push(*row);
        }
    }
}

impl WriterInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writing> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write `line` into the buffer; with `through`, flush the buffer to the OS as well.
    /// `false` when the line did not reach the journal as asked (a dispatch line: its request
    /// must not leave).
    fn write(&self, line: &Line, through: bool) -> bool {
        let dispatch = matches!(line, Line::Dispatch { .. });
        if dispatch && self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let mut out = self.lock();
        out.record.clear();
        super::encode(line, &mut out.record);
        if out.broken {
            if !dispatch {
                out.keep(line);
            }
            return false;
        }
        let Writing { file, record, .. } = &mut *out;
        let buffered = file.write_all(record);
        let was_buffered = buffered.is_ok();
        let result = buffered.and_then(|()| if through { file.flush() } else { Ok(()) });
        self.unsynced.store(true, Ordering::Relaxed);
        let Err(e) = result else {
            drop(out);
            #[cfg(feature = "failpoints")]
            failpoint::after_write();
            return true;
        };
        self.fail(e);
        if !was_buffered && !dispatch {
            out.keep(line);
        }
        if was_buffered {
            if let Line::Dispatch { row, attempt } = *line {
                // The dispatch record is in the buffer but its request never leaves: say so, so
                // the row is sent on the next run instead of standing as unknown.
                out.record.clear();
                let withdrawn = Line::Retry {
                    row,
                    attempt,
                    errcode: None,
                    errmsg: "not sent: the journal could not be written".into(),
                };
                super::encode(&withdrawn, &mut out.record);
                out.keep(&withdrawn);
            }
        }
        if out.rescue().is_err() {
            out.broken = true;
        }
        false
    }

    /// Flush the buffer (with anything kept from a failed write) and fsync.
    fn sync(&self) -> bool {
        if !self.unsynced.swap(false, Ordering::Relaxed) {
            return !self.failed.load(Ordering::Relaxed);
        }
        let flushed = {
            let mut out = self.lock();
            if out.broken {
                out.rescue()
            } else {
                out.file.flush()
            }
        };
        #[cfg(not(feature = "bench-unsynced-journal"))]
        let flushed = flushed.and_then(|()| self.sync_file.sync_data());
        match flushed {
            Ok(()) => !self.failed.load(Ordering::Relaxed),
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn fail(&self, e: std::io::Error) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            let mut error = self.error.lock().unwrap_or_else(|p| p.into_inner());
            *error = Some(format!("{}: {e}", self.path.display()));
        }
    }
}

impl Drop for WriterInner {
    fn drop(&mut self) {
        self.sync();
    }
}

impl JournalWriter {
    /// A writer appending to `file` (at `path`), with its fsync thread started.
    /// `reserve`, when given, is the reserve file deleted to make room when the disk fills.
    pub(crate) fn spawn(file: File, path: PathBuf, reserve: Option<PathBuf>) -> std::io::Result<Self> {
        let sync_file = file.try_clone()?;
        let inner = Arc::new(WriterInner {
            out: Mutex::new(Writing {
                file: BufWriter::with_capacity(64 * 1024, file),
                record: Vec::with_capacity(256),
                reserve,
                broken: false,
                pending: Vec::new(),
                pending_ok: Vec::new(),
            }),
            sync_file,
            path,
            unsynced: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
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

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The first write error (file and OS error), once writing has failed.
    pub fn error(&self) -> Option<String> {
        self.inner.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Rows (0-based) that WeChat accepted but whose `ok` record could not be written even after
    /// the reserve was given up: the journal shows them as unknown, and they must not be sent
    /// again.
    pub fn unrecorded_accepted(&self) -> Vec<usize> {
        self.inner.lock().pending_ok.clone()
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

    /// Flush and fsync everything appended so far, from synchronous code; `false` if the
    /// journal cannot be written ([`Self::error`] says why).
    pub fn sync_now(&self) -> bool {
        self.inner.unsynced.store(true, Ordering::Relaxed);
        self.inner.sync()
    }

    /// Flush and fsync everything appended so far.
    pub async fn flush(&self) -> bool {
        self.inner.unsynced.store(true, Ordering::Relaxed);
        self.inner.sync()
    }
}

/// The crash-anywhere test's hook: with `WXSEND_FAILPOINT_ABORT_AFTER_WRITES=N` the process
/// aborts right after its N-th journal record (a dispatch record has then reached the OS, other
/// records may still sit in the buffer, exactly as in a real crash). Test builds only.
#[cfg(feature = "failpoints")]
mod failpoint {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    static WRITES: AtomicU64 = AtomicU64::new(0);

    pub(super) fn after_write() {
        let limit = LIMIT
            .get_or_init(|| std::env::var("WXSEND_FAILPOINT_ABORT_AFTER_WRITES").ok().and_then(|v| v.parse().ok()));
        if let Some(n) = limit {
            if WRITES.fetch_add(1, Ordering::Relaxed) + 1 >= *n {
                std::process::abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/dev/full` fails every write with ENOSPC: the writer refuses dispatches, keeps the
    /// outcomes it could not write and names the rows WeChat accepted.
    #[tokio::test]
    async fn a_disk_that_stays_full_keeps_outcomes_in_memory_and_names_them() {
        let Ok(file) = std::fs::OpenOptions::new().append(true).open("/dev/full") else {
            return;
        };
        let writer = JournalWriter::spawn(file, PathBuf::from("/dev/full"), None).unwrap();
        assert!(!writer.append_written(Line::Dispatch { row: 3, attempt: 1 }).await);
        assert!(writer.error().is_some_and(|e| e.contains("/dev/full") && e.contains("No space left")));
        writer.append(Line::Ok { row: 1, attempt: 1, msgid: Some("9".into()) });
        writer.append(Line::Failed { row: 2, attempt: 1, errcode: Some(43101), errmsg: "refused".into() });
        writer.append(Line::Ok { row: 5, attempt: 1, msgid: None });
        assert!(!writer.append_written(Line::Dispatch { row: 6, attempt: 1 }).await, "no request after a failure");
        assert!(!writer.flush().await);
        assert_eq!(writer.unrecorded_accepted(), vec![1, 5]);
    }

    /// Once writing has failed no request may leave, but the outcomes of those in flight are
    /// still written while the disk takes them.
    #[tokio::test]
    async fn after_a_failure_no_request_leaves_but_outcomes_are_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let writer = JournalWriter::spawn(file, path.clone(), None).unwrap();
        assert!(writer.append_written(Line::Dispatch { row: 0, attempt: 1 }).await);
        writer.inner.fail(std::io::Error::from_raw_os_error(28));
        assert!(!writer.append_written(Line::Dispatch { row: 1, attempt: 1 }).await);
        writer.append(Line::Ok { row: 0, attempt: 1, msgid: None });
        assert!(!writer.flush().await, "the run still ends as a journal failure");
        assert!(writer.unrecorded_accepted().is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("\"t\":\"ok\""), "{text}");
    }
}
