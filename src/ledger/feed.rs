//! Feeding the ledger from journals: each registered journal is read from where the last feed
//! stopped, whole records only, in one transaction per journal. A journal replaced at the same
//! path (`--new-run` moves the old one aside) is recognised by its first record, and its
//! entries are kept under the old journal's name.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rusqlite::{params, Transaction};

use super::db::{Ledger, LedgerError, Stored};
use crate::journal::{decode, Line};

/// What a catch-up read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// Journals that had grown.
    pub journals: usize,
    /// Records applied.
    pub records: usize,
    /// Registered journals that are no longer where they were (moved or deleted): what they
    /// had been fed stays in the ledger.
    pub missing: Vec<String>,
}

/// A journal's first record, as the ledger recognises the journal by it.
fn head_of(bytes: &[u8]) -> String {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    format!("{:08x}", crc32c::crc32c(line))
}

impl Ledger {
    /// Read what every registered journal gained since it was last fed.
    pub fn catch_up(&mut self) -> Result<CatchUp, LedgerError> {
        let journals: Vec<(i64, String, i64, Option<String>)> = {
            let mut stmt = self.conn.prepare("SELECT id, path, fed, head FROM journals").map_err(self.db())?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(self.db())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.db())?;
            rows
        };
        let mut done = CatchUp::default();
        for (id, path, fed, head) in journals {
            let Ok(len) = std::fs::metadata(&path).map(|m| m.len()) else {
                done.missing.push(path);
                continue;
            };
            if len == fed as u64 {
                continue;
            }
            let records = self.feed_journal(id, Path::new(&path), fed as u64, head)?;
            done.journals += 1;
            done.records += records;
        }
        Ok(done)
    }

    /// Feed one journal from byte `fed`: whole records only.
    fn feed_journal(&mut self, id: i64, path: &Path, fed: u64, head: Option<String>) -> Result<usize, LedgerError> {
        let name = path.display().to_string();
        let io = |source| LedgerError::Io { path: path.to_path_buf(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut first = Vec::new();
        (&mut file).take(64 * 1024).read_to_end(&mut first).map_err(io)?;
        let now_head = head_of(&first);
        let mut from = fed;
        let db = |source| LedgerError::Db { path: self.path.clone(), source };
        let tx = self.conn.transaction().map_err(db)?;
        if head.as_deref().is_some_and(|h| h != now_head) || file.metadata().map_err(io)?.len() < fed {
            // Another journal now lives at this path: what was fed stays, under the old one's name.
            let aside = format!("{name}#{}", head.unwrap_or_default());
            let old: i64 = tx
                .query_row(
                    "INSERT INTO journals (path, campaign, kind, template, fed, at, head)
                     SELECT ?1, campaign, kind, template, fed, at, head FROM journals WHERE id = ?2
                     ON CONFLICT(path) DO UPDATE SET fed = excluded.fed RETURNING id",
                    params![aside, id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            tx.execute("UPDATE deliveries SET journal = ?1 WHERE journal = ?2", params![old, id]).map_err(db)?;
            from = 0;
        }
        file.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let at: i64 =
            tx.query_row("SELECT at FROM journals WHERE path = ?1", params![name], |r| r.get(0)).map_err(db)?;
        let mut feed = Feeder { tx: &tx, journal: id, at };
        let mut records = 0;
        for line in bytes[..whole].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // A damaged record is the journal's reader's to report; the ledger skips it.
            if let Ok(line) = decode(line) {
                feed.apply(&line).map_err(db)?;
                records += 1;
            }
        }
        let at = feed.at;
        tx.execute(
            "UPDATE journals SET fed = ?1, at = ?2, head = ?3 WHERE id = ?4",
            params![(from + whole as u64) as i64, at, now_head, id],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(records)
    }

    /// Register and feed a journal found on disk (`wxsend ledger rebuild`): its header names the
    /// campaign, kind and template. Journals of the embedded mock and journals from before
    /// dispatch records named their recipient are skipped (`Ok(None)`).
    pub fn feed_file(&mut self, journal: &Path) -> Result<Option<usize>, LedgerError> {
        let io = |source| LedgerError::Io { path: journal.to_path_buf(), source };
        let mut first = Vec::new();
        std::io::BufRead::read_until(
            &mut std::io::BufReader::new(std::fs::File::open(journal).map_err(io)?),
            b'\n',
            &mut first,
        )
        .map_err(io)?;
        let text = first.strip_suffix(b"\n").unwrap_or(&first);
        let Ok(Line::Header { campaign, kind: Some(kind), template: Some(template), mock, .. }) = decode(text) else {
            return Ok(None);
        };
        if mock == Some(true) {
            return Ok(None);
        }
        let id = self.register(journal, &campaign, &kind, &template)?;
        let (path, fed, head): (String, i64, Option<String>) = self
            .conn
            .query_row("SELECT path, fed, head FROM journals WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.db())?;
        self.feed_journal(id, Path::new(&path), fed as u64, head).map(Some)
    }
}

/// Applies one journal's records inside a transaction.
struct Feeder<'a> {
    tx: &'a Transaction<'a>,
    journal: i64,
    /// The time of the run the records belong to (its `run` record).
    at: i64,
}

impl Feeder<'_> {
    fn apply(&mut self, line: &Line) -> rusqlite::Result<()> {
        match line {
            Line::Run { at, .. } => self.at = *at as i64,
            Line::Dispatch { row, who: Some(who), .. } => {
                let key = u64::from_str_radix(&who.key, 16).unwrap_or(0) as i64;
                self.tx.execute(
                    "INSERT INTO deliveries (journal, row, key, openid, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(journal, row) DO UPDATE SET key = excluded.key, openid = excluded.openid,
                       outcome = excluded.outcome, at = excluded.at",
                    params![self.journal, *row as i64, key, who.openid, Stored::Unknown as i64, self.at],
                )?;
            }
            Line::Dispatch { row, who: None, .. } | Line::Unanswered { row, .. } => {
                self.set(*row, Stored::Unknown, None, None)?
            }
            Line::Ok { row, msgid, .. } => {
                self.set(*row, Stored::Delivered, None, msgid.as_deref())?;
                self.answer(*row, 0)?;
            }
            Line::Failed { row, errcode, .. } => {
                self.set(*row, Stored::Failed, *errcode, None)?;
                if let Some(code) = errcode {
                    self.answer(*row, *code)?;
                }
            }
            Line::Retry { row, .. } => self.set(*row, Stored::NotSent, None, None)?,
            _ => {}
        }
        Ok(())
    }

    fn set(&self, row: usize, outcome: Stored, errcode: Option<i64>, msgid: Option<&str>) -> rusqlite::Result<()> {
        self.tx.execute(
            "UPDATE deliveries SET outcome = ?1, errcode = ?2, msgid = ?3 WHERE journal = ?4 AND row = ?5",
            params![outcome as i64, errcode, msgid, self.journal, row as i64],
        )?;
        Ok(())
    }

    /// The person's last answer from WeChat (what suppression reads).
    fn answer(&self, row: usize, code: i64) -> rusqlite::Result<()> {
        self.tx.execute(
            "INSERT INTO answers (openid, code, at) SELECT openid, ?1, ?2 FROM deliveries WHERE journal = ?3 AND row = ?4
             ON CONFLICT(openid) DO UPDATE SET code = excluded.code, at = excluded.at WHERE excluded.at >= answers.at",
            params![code, self.at, self.journal, row as i64],
        )?;
        Ok(())
    }
}
