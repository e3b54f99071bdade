//! The journal: an append-only JSON-lines file per campaign and recipients file that makes a run
//! resumable and keeps anyone from getting the same message twice.
//!
//! A `dispatch` line is handed to the OS before its request leaves, so killing the process never
//! loses it; an outcome line follows. Lines are fsynced at least every 100 ms and at the end
//! (group commit): only a power loss can cost the last ~100 ms of lines, and for template
//! messages the `client_msg_id` still makes WeChat drop a resent duplicate.

mod replay;
mod store;
mod writer;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use replay::replay_file;
pub use store::{unix_now, Fingerprints, Journal, StatePaths};
pub use writer::{JournalWriter, SYNC_INTERVAL};

/// Why the journal cannot be used. Exit code 2: nothing is sent.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}", path = .path.display())]
    /// The file cannot be used.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    #[error("{path}: another wxsend is sending this campaign (the state folder is locked); wait for it or stop it first", path = .path.display())]
    /// Another process holds the lock.
    Locked {
        /// The state folder.
        path: PathBuf,
    },
    #[error("{path}:{line}: the journal is damaged ({detail}); move it away and start again with --new-run only if you know what was sent", path = .path.display())]
    /// A line inside the journal does not parse.
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    #[error("{path}: {what} changed since this campaign's journal was started; nothing was sent. Restore it to resume, or start a fresh run with --new-run (the old journal is kept beside it)", path = .path.display())]
    /// An input changed since the journal began.
    Changed {
        /// The journal.
        path: PathBuf,
        /// What changed.
        what: String,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Line {
    /// First line: what this journal is about.
    Header {
        /// Format version.
        version: u32,
        /// The campaign's name.
        campaign: String,
        /// Fingerprint of what decides the messages.
        campaign_fp: String,
        /// The recipients file.
        csv: String,
        /// Fingerprint of the recipients file's bytes.
        csv_fp: String,
        /// Data rows in the recipients file.
        rows: usize,
        /// When the journal began (Unix seconds).
        created: u64,
    },
    /// A run of `wxsend send` began.
    Run {
        /// When (Unix seconds).
        at: u64,
        /// Rows it planned to send.
        pending: usize,
        /// Whether it resent unknown rows.
        resend_unknown: bool,
    },
    /// A request for `row` (0-based) is about to leave.
    Dispatch {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
    },
    /// WeChat accepted the message.
    Ok {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        /// WeChat's msgid (template messages).
        msgid: Option<String>,
    },
    /// The attempt failed but the row may be sent again (transient, token, slow down).
    Retry {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        /// WeChat's errcode (`None`: transport).
        errcode: Option<i64>,
        /// WeChat's errmsg with its rid, or the transport failure.
        errmsg: String,
    },
    /// The row failed for good (or the campaign stopped on its answer).
    Failed {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        /// WeChat's errcode (`None`: transport).
        errcode: Option<i64>,
        /// WeChat's errmsg with its rid, or the transport failure.
        errmsg: String,
    },
    /// A test send of `row` to the operator's own openid (never counts as the row sent).
    Test {
        /// The row (0-based).
        row: usize,
        /// Where it went.
        openid: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        /// WeChat's errcode (0: delivered).
        errcode: Option<i64>,
        /// WeChat's errmsg.
        errmsg: String,
    },
    /// The run ended.
    End {
        /// When (Unix seconds).
        at: u64,
        /// Why, in words.
        reason: String,
    },
}

/// What the journal says about one row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RowRecord {
    /// Never dispatched, or its last attempt got an answer that allows sending again.
    #[default]
    Pending,
    /// Dispatched with no outcome: it may or may not have arrived.
    Unknown {
        /// Requests made for the row.
        attempts: u32,
    },
    /// Delivered (its msgid stays in the journal: a million of them need not be in memory).
    Delivered {
        /// Requests made for the row.
        attempts: u32,
    },
    /// Failed for good; boxed so that the common states stay small.
    Failed(Box<FailedRow>),
}

/// Where a row stands over all runs: the one classification every count, screen and export uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Not sent yet (or its last attempt may be repeated).
    Pending,
    /// Sent without an answer: it may or may not have arrived.
    Unknown,
    /// WeChat accepted it.
    Delivered,
    /// Failed for good.
    Failed,
}

impl RowRecord {
    /// This row's category.
    pub fn category(&self) -> Category {
        match self {
            RowRecord::Pending => Category::Pending,
            RowRecord::Unknown { .. } => Category::Unknown,
            RowRecord::Delivered { .. } => Category::Delivered,
            RowRecord::Failed(_) => Category::Failed,
        }
    }
}

/// The last answer of a row that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    /// Requests made for the row.
    pub attempts: u32,
    /// WeChat's errcode (`None`: a transport failure).
    pub errcode: Option<i64>,
    /// WeChat's errmsg with its rid, or what went wrong in transport.
    pub errmsg: String,
}

impl FailedRow {
    /// What the failure is grouped under.
    pub fn code(&self) -> crate::wechat::Code {
        crate::wechat::Code::of(self.errcode)
    }
}

/// The journal's content, replayed.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Each row's state, by row index.
    pub rows: Vec<RowRecord>,
    /// Runs recorded.
    pub runs: usize,
}

impl Replay {
    /// The rows (0-based) sent without an answer.
    pub fn unknown(&self) -> Vec<usize> {
        self.rows.iter().enumerate().filter(|(_, r)| r.category() == Category::Unknown).map(|(i, _)| i).collect()
    }

    /// Apply one line to the rows it names.
    pub fn apply(&mut self, line: &Line) {
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
    fn lines_round_trip_as_json() {
        let l = Line::Failed { row: 3, attempt: 2, errcode: None, errmsg: "timed out".into() };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(text, r#"{"t":"failed","row":3,"attempt":2,"errmsg":"timed out"}"#);
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), l);
    }
}
