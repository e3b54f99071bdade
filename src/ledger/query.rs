//! What the ledger answers: which earlier run already sent a message to a person, who is held
//! back from the account's messages, a person's history, and the do-not-send list.

use rusqlite::params;

use super::db::{Ledger, LedgerError, Stored};

/// WeChat's answers that hold a person back from the account's later campaigns: 43004 (not
/// following the account) and 43101 (refused, or no subscription left).
pub const SUPPRESSING_CODES: [i64; 2] = [43004, 43101];

/// Why a person is not sent this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlierKind {
    /// An earlier run delivered this very message to them.
    Delivered,
    /// An earlier run sent it without an answer: it may have arrived.
    Unknown,
    /// Their last answer for the account was this errcode (43004, 43101), recently.
    Suppressed(i64),
    /// They are on the account's do-not-send list.
    DoNotSend,
}

/// An earlier run or answer that keeps a row from being sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// What it was.
    pub kind: EarlierKind,
    /// The campaign that sent it (or the list's note for the do-not-send list).
    pub campaign: String,
    /// When (Unix seconds).
    pub at: u64,
}

/// One message sent to a person, for `wxsend ledger who`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The campaign.
    pub campaign: String,
    /// `template`, `subscribe`, `uniform`.
    pub kind: String,
    /// The template.
    pub template: String,
    /// `delivered`, `failed`, `unknown`, `not_sent`.
    pub outcome: &'static str,
    /// WeChat's errcode, for a failure.
    pub errcode: Option<i64>,
    /// WeChat's msgid, for a delivery.
    pub msgid: Option<String>,
    /// When (Unix seconds).
    pub at: u64,
    /// The journal.
    pub journal: String,
}

/// A delivery (or an unanswered send) of a looked-up item's message to the same person.
struct Hit {
    item: usize,
    journal: i64,
    outcome: Stored,
    at: u64,
}

/// Look up `items[i]` for each `i` of `order` (sorted by key) in one read transaction: outside
/// one, each statement takes and releases the database's locks (two `fcntl` calls), which costs
/// more than the lookup itself.
fn lookup(
    conn: &rusqlite::Connection,
    items: &[(u64, &str)],
    order: &[usize],
    journal: Option<i64>,
) -> rusqlite::Result<Vec<Hit>> {
    let read = conn.unchecked_transaction()?;
    let mut hits = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT outcome, journal, at, openid FROM deliveries WHERE key = ?1 AND journal IS NOT ?2 AND outcome IN (0, 2)",
        )?;
        for &i in order {
            let (key, openid) = items[i];
            let mut rows = stmt.query(params![key as i64, journal])?;
            while let Some(r) = rows.next()? {
                if r.get_ref(3)?.as_str()? != openid {
                    continue;
                }
                hits.push(Hit {
                    item: i,
                    outcome: Stored::of(r.get(0)?),
                    journal: r.get(1)?,
                    at: r.get::<_, i64>(2)?.max(0) as u64,
                });
            }
        }
    }
    read.commit()?;
    Ok(hits)
}

impl Ledger {
    /// For each `(message key, openid)`: the earlier run outside `journal` (this run's own, which
    /// the journal's replay decides) that delivered that message to that person, else one that
    /// sent it without an answer. The keys are looked up in order (neighbouring pages).
    pub fn earlier(
        &self,
        items: &[(u64, &str)],
        journal: Option<i64>,
        kind: &str,
        template: &str,
    ) -> Result<Vec<Option<Earlier>>, LedgerError> {
        let mut out = vec![None; items.len()];
        // No journal of this template: no key can match, nothing to look up.
        let known: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM journals WHERE kind = ?1 AND template = ?2 AND id IS NOT ?3)",
                params![kind, template, journal],
                |r| r.get(0),
            )
            .map_err(self.db())?;
        if !known || items.is_empty() {
            return Ok(out);
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_unstable_by_key(|&i| items[i].0 as i64);
        // A million lookups take a second or two on one core: large plans are looked up by one
        // reader per core, each over its own run of sorted keys (WAL lets readers share).
        let threads =
            if items.len() >= 100_000 { std::thread::available_parallelism().map_or(1, |n| n.get()).min(4) } else { 1 };
        let chunk = order.len().div_ceil(threads);
        let mut parts = order.chunks(chunk);
        let first = parts.next().unwrap_or_default();
        let path = &self.path;
        let found: Vec<Vec<Hit>> = std::thread::scope(|scope| {
            let workers: Vec<_> = parts
                .map(|part| {
                    scope.spawn(move || {
                        let conn = rusqlite::Connection::open_with_flags(
                            path,
                            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
                        lookup(&conn, items, part, journal)
                    })
                })
                .collect();
            // This thread takes the first run on the ledger's own connection.
            let mut found = vec![lookup(&self.conn, items, first, journal)];
            found.extend(workers.into_iter().map(|w| w.join().unwrap_or(Err(rusqlite::Error::InvalidQuery))));
            found.into_iter().collect::<Result<_, _>>()
        })
        .map_err(self.db())?;
        let mut campaigns: std::collections::HashMap<i64, String> = Default::default();
        for hit in found.into_iter().flatten() {
            let campaign = match campaigns.get(&hit.journal) {
                Some(name) => name.clone(),
                None => {
                    let name: String = self
                        .conn
                        .query_row("SELECT campaign FROM journals WHERE id = ?1", [hit.journal], |r| r.get(0))
                        .map_err(self.db())?;
                    campaigns.insert(hit.journal, name.clone());
                    name
                }
            };
            let kind = if hit.outcome == Stored::Delivered { EarlierKind::Delivered } else { EarlierKind::Unknown };
            let better = match &out[hit.item] {
                None => true,
                Some(b) => b.kind != EarlierKind::Delivered && kind == EarlierKind::Delivered,
            };
            if better {
                out[hit.item] = Some(Earlier { kind, campaign, at: hit.at });
            }
        }
        Ok(out)
    }

    /// For each openid: why the account holds them back — on the do-not-send list, or their last
    /// answer was 43004 or 43101 at or after `since` (Unix seconds).
    pub fn held_back(&self, openids: &[&str], since: u64) -> Result<Vec<Option<Earlier>>, LedgerError> {
        let read = self.conn.unchecked_transaction().map_err(self.db())?;
        let mut listed =
            self.conn.prepare_cached("SELECT note, at FROM suppressed WHERE openid = ?1").map_err(self.db())?;
        let mut answered = self
            .conn
            .prepare_cached("SELECT code, at FROM answers WHERE openid = ?1 AND code IN (43004, 43101) AND at >= ?2")
            .map_err(self.db())?;
        let mut out = Vec::with_capacity(openids.len());
        for openid in openids {
            let on_list = listed
                .query_row(params![openid], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
                .map_err(self.db())?;
            if let Some((note, at)) = on_list {
                out.push(Some(Earlier { kind: EarlierKind::DoNotSend, campaign: note, at: at.max(0) as u64 }));
                continue;
            }
            let answer = answered
                .query_row(params![openid, since as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
                .map_err(self.db())?;
            out.push(answer.map(|(code, at)| Earlier {
                kind: EarlierKind::Suppressed(code),
                campaign: String::new(),
                at: at.max(0) as u64,
            }));
        }
        drop((listed, answered));
        read.commit().map_err(self.db())?;
        Ok(out)
    }

    /// Every message the ledger knows for `openid`, newest first.
    pub fn history(&self, openid: &str) -> Result<Vec<HistoryEntry>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.campaign, j.kind, j.template, d.outcome, d.errcode, d.msgid, d.at, j.path
                 FROM deliveries d JOIN journals j ON j.id = d.journal WHERE d.openid = ?1 ORDER BY d.at DESC, d.journal",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![openid], |r| {
                Ok(HistoryEntry {
                    campaign: r.get(0)?,
                    kind: r.get(1)?,
                    template: r.get(2)?,
                    outcome: match Stored::of(r.get(3)?) {
                        Stored::Delivered => "delivered",
                        Stored::Failed => "failed",
                        Stored::Unknown => "unknown",
                        Stored::NotSent => "not_sent",
                    },
                    errcode: r.get(4)?,
                    msgid: r.get(5)?,
                    at: r.get::<_, i64>(6)?.max(0) as u64,
                    journal: r.get(7)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    /// Put `openids` on the account's do-not-send list with `note` (where they came from); how
    /// many were not on it yet.
    pub fn suppress_add(&mut self, openids: &[String], note: &str) -> Result<usize, LedgerError> {
        let now = crate::journal::unix_now() as i64;
        let db = |source| LedgerError::Db { path: self.path.clone(), source };
        let tx = self.conn.transaction().map_err(db)?;
        let mut added = 0;
        {
            let mut stmt =
                tx.prepare("INSERT OR IGNORE INTO suppressed (openid, note, at) VALUES (?1, ?2, ?3)").map_err(db)?;
            for openid in openids {
                added += stmt.execute(params![openid, note, now]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(added)
    }

    /// Take `openids` off the do-not-send list; how many were on it.
    pub fn suppress_remove(&mut self, openids: &[String]) -> Result<usize, LedgerError> {
        let db = |source| LedgerError::Db { path: self.path.clone(), source };
        let tx = self.conn.transaction().map_err(db)?;
        let mut removed = 0;
        {
            let mut stmt = tx.prepare("DELETE FROM suppressed WHERE openid = ?1").map_err(db)?;
            for openid in openids {
                removed += stmt.execute(params![openid]).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(removed)
    }
}
