//! Appending to the journal from any task: one buffer, dispatch lines written through to the OS
//! before their request leaves, a background thread that fsyncs (group commit).

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
}

/// The longest a written line waits for fsync.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);

impl WriterInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writing> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write `line` into the buffer; with `through`, flush the buffer to the OS as well.
    fn write(&self, line: &Line, through: bool) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let mut out = self.lock();
        let Writing { file, record } = &mut *out;
        record.clear();
        super::encode(line, record);
        let mut result = file.write_all(record);
        if result.is_ok() && through {
            result = file.flush();
        }
        drop(out);
        self.unsynced.store(true, Ordering::Relaxed);
        #[cfg(feature = "failpoints")]
        failpoint::after_write();
        match result {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Flush the buffer and fsync.
    fn sync(&self) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        if !self.unsynced.swap(false, Ordering::Relaxed) {
            return true;
        }
        let flushed = self.lock().file.flush();
        #[cfg(not(feature = "bench-unsynced-journal"))]
        let flushed = flushed.and_then(|()| self.sync_file.sync_data());
        match flushed {
            Ok(()) => true,
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
    pub(crate) fn spawn(file: File, path: PathBuf) -> std::io::Result<Self> {
        let sync_file = file.try_clone()?;
        let inner = Arc::new(WriterInner {
            out: Mutex::new(Writing {
                file: BufWriter::with_capacity(64 * 1024, file),
                record: Vec::with_capacity(256),
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
