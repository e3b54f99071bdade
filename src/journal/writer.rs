//! Appending to the journal from any task: one buffer, dispatch lines written through to the OS
//! before their request leaves (the dispatches of every worker ready at that moment in one
//! write), a background thread that fsyncs (group commit), and a reserve of disk space given up
//! when the disk fills so the outcomes of requests in flight are still recorded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::format::Line;

/// Appends lines from any task. Lines go into one buffer; a dispatch line is written through to
/// the OS before its request leaves; a background thread fsyncs at least every
/// [`SYNC_INTERVAL`] (group commit). No thread hand-off per message.
///
/// Dispatch lines are committed in groups: the first worker to wait becomes the leader, lets
/// the other workers that are ready run (one yield), and writes every dispatch line buffered by
/// then with one `write`; the others wait for that write. No request leaves before the write
/// that holds its dispatch line has succeeded.
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
    /// Woken after each group write (its followers learn whether their line is in it).
    committed: tokio::sync::Notify,
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
    /// Dispatch lines buffered so far (each one's number is its place in this count).
    dispatched: u64,
    /// Dispatch lines up to this number have reached the OS: their requests may leave.
    committed: u64,
    /// Dispatch lines up to this number were withdrawn by a failed write: their requests never
    /// leave.
    withdrawn: u64,
    /// The row and attempt of each dispatch line buffered but not yet written to the OS.
    uncommitted: Vec<(usize, u32)>,
    /// A worker is gathering the group to write.
    leading: bool,
    /// Writes through to the OS so far.
    writes_through: u64,
}

/// How many times a group's leader yields at most while other workers still join the group.
const GATHER_ROUNDS: usize = 4;

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

    /// Encode `line` into the buffer: `Some` of its number among dispatch lines (0 for other
    /// lines), `None` when it did not reach the buffer (a dispatch line after a failure is
    /// refused: its request must not leave).
    fn write(&self, line: &Line) -> Option<u64> {
        let dispatch = matches!(line, Line::Dispatch { .. });
        if dispatch && self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let mut out = self.lock();
        out.record.clear();
        super::format::encode(line, &mut out.record);
        if out.broken {
            if !dispatch {
                out.keep(line);
            }
            return None;
        }
        let Writing { file, record, .. } = &mut *out;
        let buffered = file.write_all(record);
        self.unsynced.store(true, Ordering::Relaxed);
        if let Err(e) = buffered {
            // Not in the buffer: an outcome is kept for later, a dispatch is simply not sent.
            if !dispatch {
                out.keep(line);
            }
            self.write_failed(&mut out, e);
            return None;
        }
        let mut number = 0;
        if let Line::Dispatch { row, attempt, .. } = *line {
            out.dispatched += 1;
            number = out.dispatched;
            out.uncommitted.push((row, attempt));
        }
        drop(out);
        #[cfg(feature = "failpoints")]
        failpoint::after_write();
        Some(number)
    }

    /// Hand the buffer to the OS; every dispatch line buffered so far is then committed.
    fn write_through(&self, out: &mut Writing) -> bool {
        if out.broken {
            return false;
        }
        match out.file.flush() {
            Ok(()) => {
                out.committed = out.dispatched;
                out.uncommitted.clear();
                out.writes_through += 1;
                true
            }
            Err(e) => {
                self.write_failed(out, e);
                false
            }
        }
    }

    /// A write failed: refuse further dispatches, withdraw the dispatch lines not yet written
    /// through (their requests never leave; a `retry` line says so, and the rows are sent on the
    /// next run), give up the reserve and write what was accepted.
    fn write_failed(&self, out: &mut Writing, e: std::io::Error) {
        self.fail(e);
        out.withdrawn = out.dispatched;
        for (row, attempt) in std::mem::take(&mut out.uncommitted) {
            let withdrawn = Line::Retry {
                row,
                attempt,
                errcode: None,
                errmsg: "not sent: the journal could not be written".into(),
            };
            out.record.clear();
            super::format::encode(&withdrawn, &mut out.record);
            out.keep(&withdrawn);
        }
        if out.rescue().is_err() {
            out.broken = true;
        }
    }

    /// Wait until dispatch line number `number` has reached the OS (leading the group write if
    /// no other worker is); `false` when it was withdrawn instead.
    async fn commit(&self, number: u64) -> bool {
        loop {
            let notified = self.committed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut out = self.lock();
                if out.committed >= number {
                    return true;
                }
                if out.withdrawn >= number || out.broken {
                    return false;
                }
                if !out.leading {
                    out.leading = true;
                    break;
                }
            }
            notified.await;
        }
        // The leader: hand the turn to the other workers that are ready, so their dispatch
        // lines join this write, then write them all. The leader yields again while the group
        // still grows (a few times at most, so a steady stream never holds a write back).
        let leader = Leader(self);
        let mut seen = number;
        for _ in 0..GATHER_ROUNDS {
            tokio::task::yield_now().await;
            let now = self.lock().dispatched;
            if now == seen {
                break;
            }
            seen = now;
        }
        let mut out = self.lock();
        self.write_through(&mut out);
        let committed = out.committed >= number;
        drop(out);
        drop(leader);
        committed
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
            } else if self.write_through(&mut out) {
                Ok(())
            } else {
                Err(std::io::Error::other("the journal cannot be written"))
            }
        };
        self.committed.notify_waiters();
        #[cfg(not(feature = "bench-unsynced-journal"))]
        let flushed = flushed.and_then(|()| self.sync_file.sync_data());
        match flushed {
            Ok(()) => !self.failed.load(Ordering::Relaxed),
            Err(e) => {
                // A failed write has already recorded its error; this is the fsync's.
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

/// The group write's leader: whatever happens to its task, the next waiter can lead and the
/// waiting ones learn the outcome.
struct Leader<'a>(&'a WriterInner);

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.0.lock().leading = false;
        self.0.committed.notify_waiters();
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
                dispatched: 0,
                committed: 0,
                withdrawn: 0,
                uncommitted: Vec::new(),
                leading: false,
                writes_through: 0,
            }),
            sync_file,
            path,
            unsynced: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            committed: tokio::sync::Notify::new(),
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
        self.inner.write(&line);
    }

    /// Append a line and hand it to the OS before returning (with the lines of every other task
    /// ready to write one: one write for the group): it survives the process being killed, and
    /// is fsynced within [`SYNC_INTERVAL`]. `false` if the journal cannot be written.
    pub async fn append_written(&self, line: Line) -> bool {
        match self.inner.write(&line) {
            None => false,
            Some(0) => {
                let mut out = self.inner.lock();
                self.inner.write_through(&mut out)
            }
            Some(number) => self.inner.commit(number).await,
        }
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
#[path = "writer_tests.rs"]
mod tests;
