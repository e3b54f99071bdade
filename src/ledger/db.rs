//! The ledger's database: where each account's file is, opening it (WAL, 0600, its tables),
//! registering journals, and the ledger's errors.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// Why the ledger cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database refused.
    #[error("{}", crate::tr!("err.ledger.unusable", path = .path.display().to_string(), source = .source.to_string()))]
    Db {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// The file or its folder cannot be made.
    #[error("{}", crate::tr!("err.ledger.create", path = .path.display().to_string(), source = .source.to_string()))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Outcomes as stored (`deliveries.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum Stored {
    /// WeChat accepted the message.
    Delivered = 0,
    /// WeChat refused it for good (errcode kept).
    Failed = 1,
    /// Sent without an answer: it may have arrived.
    Unknown = 2,
    /// Its last attempt was not sent or got a retryable answer: nothing arrived.
    NotSent = 3,
}

impl Stored {
    pub(super) fn of(code: i64) -> Self {
        match code {
            0 => Stored::Delivered,
            1 => Stored::Failed,
            2 => Stored::Unknown,
            _ => Stored::NotSent,
        }
    }
}

/// The schema (`PRAGMA user_version` 1). Deliveries are keyed by the message key first: the
/// plan's lookups go straight down the table's own tree, with no second index to visit; the
/// feed's updates by journal row use `deliveries_row`.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journals (
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, campaign TEXT NOT NULL, kind TEXT NOT NULL,
  template TEXT NOT NULL, fed INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL DEFAULT 0, head TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
  key INTEGER NOT NULL, journal INTEGER NOT NULL, row INTEGER NOT NULL, openid TEXT NOT NULL,
  outcome INTEGER NOT NULL, errcode INTEGER, msgid TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (key, journal, row)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_row ON deliveries(journal, row);
CREATE INDEX IF NOT EXISTS deliveries_openid ON deliveries(openid, at);
CREATE TABLE IF NOT EXISTS answers (openid TEXT PRIMARY KEY, code INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressed (openid TEXT PRIMARY KEY, note TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
";

/// One account's ledger, open.
#[derive(Debug)]
pub struct Ledger {
    /// The connection (WAL); the feed and the queries use it too.
    pub(super) conn: Connection,
    /// The database file, for messages.
    pub(super) path: PathBuf,
}

/// Where the ledgers are kept: `WXSEND_LEDGER_DIR`, else the user's data folder
/// (`~/.local/share/wxsend/ledger` on Linux). Not the campaign's folder: a campaign copied,
/// renamed or moved must find the same ledger.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WXSEND_LEDGER_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::data_dir().map(|d| d.join("wxsend").join("ledger"))
}

/// The ledger file of `appid` in `dir`.
pub fn path_for(dir: &Path, appid: &str) -> PathBuf {
    let name: String =
        appid.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    dir.join(format!("{name}.sqlite"))
}

impl Ledger {
    /// Open (creating it, 0600 in a 0700 folder) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| LedgerError::Io { path: p, source }
        };
        if let Some(dir) = path.parent() {
            crate::private::create_dir_all(dir).map_err(io(dir))?;
        }
        // Created with its mode before SQLite opens it (SQLite would make it 0644).
        crate::private::options().create(true).append(true).open(path).map_err(io(path))?;
        Self::connect(path)
    }

    /// Open the ledger at `path` if there is one (readers never create it).
    pub fn open_existing(path: &Path) -> Result<Option<Self>, LedgerError> {
        if !path.exists() {
            return Ok(None);
        }
        Self::connect(path).map(Some)
    }

    fn connect(path: &Path) -> Result<Self, LedgerError> {
        let db = |source| LedgerError::Db { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        // Lookups of a million rows read the database through memory mapping and a large page
        // cache, not one read(2) per page.
        conn.pragma_update(None, "mmap_size", 1i64 << 32).map_err(db)?;
        conn.pragma_update(None, "cache_size", -262_144i64).map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn db(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        move |source| LedgerError::Db { path: self.path.clone(), source }
    }

    /// Register `journal` (before its first request) with what its dispatches send: from now on
    /// every [`Ledger::catch_up`] reads it. Returns the journal's id in the ledger (its absolute
    /// path names it).
    pub fn register(&self, journal: &Path, campaign: &str, kind: &str, template: &str) -> Result<i64, LedgerError> {
        let name = journal_name(journal);
        self.conn
            .query_row(
                "INSERT INTO journals (path, campaign, kind, template, fed, at) VALUES (?1, ?2, ?3, ?4, 0, ?5)
                 ON CONFLICT(path) DO UPDATE SET campaign = excluded.campaign, kind = excluded.kind, template = excluded.template
                 RETURNING id",
                rusqlite::params![name, campaign, kind, template, crate::journal::unix_now() as i64],
                |r| r.get(0),
            )
            .map_err(self.db())
    }

    /// The id of the journal at `journal` if the ledger knows it (`check` and `status` leave a
    /// campaign's own journal out of what "earlier runs" did).
    pub fn journal_id(&self, journal: &Path) -> Result<Option<i64>, LedgerError> {
        match self.conn.query_row("SELECT id FROM journals WHERE path = ?1", [journal_name(journal)], |r| r.get(0)) {
            Ok(id) => Ok(Some(id)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(self.db()(e)),
        }
    }
}

/// A journal's name in the ledger: its absolute path (a copy elsewhere is another journal).
pub fn journal_name(journal: &Path) -> String {
    std::fs::canonicalize(journal)
        .or_else(|_| std::path::absolute(journal))
        .unwrap_or_else(|_| journal.to_path_buf())
        .display()
        .to_string()
}
