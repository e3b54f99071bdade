//! What the ledger answers: which earlier run already sent a message to a person, who is held
//! back from the account's messages, a person's history, and the do-not-send list.

use rusqlite::params;

use super::{Ledger, LedgerError, Stored};

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

impl Ledger {
    /// For each `(message key, openid)`: the earlier run outside `journal` that delivered that
    /// message to that person, else one that sent it without an answer.
    pub fn earlier(&self, items: &[(u64, &str)], journal: &str) -> Result<Vec<Option<Earlier>>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.outcome, j.campaign, d.at, d.openid FROM deliveries d JOIN journals j ON j.path = d.journal
                 WHERE d.key = ?1 AND d.journal != ?2 AND d.outcome IN (0, 2)",
            )
            .map_err(self.db())?;
        let mut out = Vec::with_capacity(items.len());
        for (key, openid) in items {
            let mut best: Option<Earlier> = None;
            let mut rows = stmt.query(params![*key as i64, journal]).map_err(self.db())?;
            while let Some(r) = rows.next().map_err(self.db())? {
                let seen: String = r.get(3).map_err(self.db())?;
                if seen != *openid {
                    continue;
                }
                let kind = match Stored::of(r.get(0).map_err(self.db())?) {
                    Stored::Delivered => EarlierKind::Delivered,
                    _ => EarlierKind::Unknown,
                };
                let candidate = Earlier {
                    kind,
                    campaign: r.get(1).map_err(self.db())?,
                    at: r.get::<_, i64>(2).map_err(self.db())?.max(0) as u64,
                };
                let better = match &best {
                    None => true,
                    Some(b) => b.kind != EarlierKind::Delivered && candidate.kind == EarlierKind::Delivered,
                };
                if better {
                    best = Some(candidate);
                }
            }
            out.push(best);
        }
        Ok(out)
    }

    /// For each openid: why the account holds them back — on the do-not-send list, or their last
    /// answer was 43004 or 43101 at or after `since` (Unix seconds).
    pub fn held_back(&self, openids: &[&str], since: u64) -> Result<Vec<Option<Earlier>>, LedgerError> {
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
        Ok(out)
    }

    /// Every message the ledger knows for `openid`, newest first.
    pub fn history(&self, openid: &str) -> Result<Vec<HistoryEntry>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT j.campaign, j.kind, j.template, d.outcome, d.errcode, d.msgid, d.at, d.journal
                 FROM deliveries d JOIN journals j ON j.path = d.journal WHERE d.openid = ?1 ORDER BY d.at DESC, d.journal",
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
