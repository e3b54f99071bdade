//! The journal's records and what a replay makes of them: the record types (`Line`), their
//! framing (JSON, a tab, the CRC-32C of the JSON) with encoding and decoding, each row's state
//! (`RowRecord`, `Replay`), and the journal's errors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    #[error("{}", crate::tr!("err.journal.locked", path = .path.display().to_string(), pid = .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()))]
    /// Another process holds the lock.
    Locked {
        /// The state folder.
        path: PathBuf,
        /// The process holding it, when it could be read.
        pid: Option<u32>,
    },
    #[error("{}", crate::tr!("err.journal.damaged", path = .path.display().to_string(), line = .line, detail = .detail.to_string()))]
    /// A line inside the journal does not parse.
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        detail: RecordError,
    },
    #[error("{}", crate::tr!("err.journal.changed", path = .path.display().to_string(), what = .what.to_string()))]
    /// An input changed since the journal began.
    Changed {
        /// The journal.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    #[error("{}", crate::tr!("err.journal.sheetless", old = .old.display().to_string(), new = .new.display().to_string()))]
    /// A workbook's journal from before journals recorded their sheet.
    SheetUnrecorded {
        /// The workbook's old folder.
        old: PathBuf,
        /// This sheet's folder.
        new: PathBuf,
    },
    /// The journal cannot be written (disk full, read-only, I/O error).
    #[error("{}", crate::tr!("err.journal_error.unwritable", detail = .detail.to_string()))]
    Unwritable {
        /// The file and the OS error.
        detail: String,
    },
    /// The state folder is a symbolic link to nothing.
    #[error("{}", crate::tr!("err.journal.dangling", path = .path.display().to_string(), target = .target.clone()))]
    DanglingLink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: String,
    },
}

impl JournalError {
    /// Whether the cause is this machine's storage (full, read-only, failing) rather than the
    /// operator's input: such a run ends with exit 4, not 2.
    pub fn is_storage(&self) -> bool {
        match self {
            JournalError::Unwritable { .. } => true,
            JournalError::Io { source, .. } => {
                matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull
                        | std::io::ErrorKind::ReadOnlyFilesystem
                        | std::io::ErrorKind::QuotaExceeded
                        | std::io::ErrorKind::WriteZero
                ) || source.raw_os_error() == Some(5)
            }
            _ => false,
        }
    }
}

/// What besides its bytes decides a list's rows: the file's name (its reader), the sheet, the
/// encoding that decoded it, the openid column and the header's line. A journal is applied only
/// to a list read with the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBinding {
    /// The file's name (not its folder: a campaign folder moved keeps its journal).
    pub file: String,
    /// The workbook's sheet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The encoding the file was read as (`workbook` for a workbook).
    pub encoding: String,
    /// The openid column's name.
    pub openid_column: String,
    /// The header's line (or sheet row).
    pub header_line: u64,
}

/// The person and the message of a dispatch: the openid and the message's key (a hash of the
/// kind, template and rendered body without `client_msg_id`, see
/// `MessageTemplate::message_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// The recipient.
    pub openid: String,
    /// The message's key, as 16 hex digits.
    pub key: String,
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
        /// The settings that chose, decoded and numbered the rows (version 3 on; a version 2
        /// journal is bound by its bytes' fingerprint alone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<Box<ListBinding>>,
        /// The message kind (version 3 on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        /// The template id (version 3 on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
        /// The account (version 3 on): the delivery ledger it feeds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appid: Option<String>,
        /// A run against the embedded mock: never fed to an account's ledger.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mock: Option<bool>,
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
        /// Who the request is for and which message (version 3 on): the account's delivery
        /// ledger is fed from these, without the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        who: Option<Box<Who>>,
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
    /// The request may have reached WeChat and no answer came (a timeout after it was written, a
    /// reset or a cut answer): the row stays unknown, never pending, so nobody gets it twice.
    Unanswered {
        /// The row (0-based).
        row: usize,
        /// Its attempt number.
        attempt: u32,
        /// What went wrong.
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

/// Append `line` to `out` as one record: its JSON, a tab, the CRC32C of the JSON in 8 hex
/// digits, a newline. The checksum tells a torn or corrupted record from a valid one.
pub fn encode(line: &Line, out: &mut Vec<u8>) {
    encode_record(line, out);
}

/// Append any record in the journal's framing (JSON, a tab, its CRC32C, a newline): the
/// receipts file uses it too.
pub fn encode_record<T: serde::Serialize>(record: &T, out: &mut Vec<u8>) {
    let start = out.len();
    // Serializing these plain types cannot fail; an empty record would be caught on replay.
    let _ = serde_json::to_writer(&mut *out, record);
    frame(out, start);
}

/// Close the record that starts at `start`: a tab, the CRC32C of its JSON, a newline.
fn frame(out: &mut Vec<u8>, start: usize) {
    let crc = crc32c::crc32c(&out[start..]);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'\t');
    for shift in (0..8).rev() {
        out.push(HEX[((crc >> (shift * 4)) & 0xf) as usize]);
    }
    out.push(b'\n');
}

/// Parse one record (without its newline): JSON with a verified checksum, or JSON alone as
/// journals of version 1 were written.
pub fn decode(text: &[u8]) -> Result<Line, RecordError> {
    let json = checked_json(text)?;
    // The records of the send path (all but a handful per run) through a plain struct: serde
    // reads an internally tagged enum by buffering every field first, which made a million-row
    // resume spend most of its time here.
    if let Some(line) = serde_json::from_slice::<SendRecord<Box<Who>>>(json).ok().and_then(SendRecord::into_line) {
        return Ok(line);
    }
    serde_json::from_slice(json).map_err(|e| RecordError::Json(e.to_string()))
}

/// [`decode`] for a replay, which needs no dispatch's recipient: `who` is skipped unread (no
/// allocation), and a dispatch comes back with `who: None`.
pub fn decode_for_replay(text: &[u8]) -> Result<Line, RecordError> {
    let json = checked_json(text)?;
    if let Some(line) =
        serde_json::from_slice::<SendRecord<serde::de::IgnoredAny>>(json).ok().and_then(SendRecord::into_line)
    {
        return Ok(line);
    }
    serde_json::from_slice(json).map_err(|e| RecordError::Json(e.to_string()))
}

/// What a dispatch's `who` is read as: the recipient, or nothing (skipped).
trait ReadWho {
    fn into_who(self) -> Option<Box<Who>>;
}

impl ReadWho for Box<Who> {
    fn into_who(self) -> Option<Box<Who>> {
        Some(self)
    }
}

impl ReadWho for serde::de::IgnoredAny {
    fn into_who(self) -> Option<Box<Who>> {
        None
    }
}

/// The fields of the send path's records (`dispatch`, `ok`, `retry`, `failed`, `unanswered`),
/// flat: [`decode`] reads these without serde's buffering of tagged enums.
#[derive(Deserialize)]
struct SendRecord<'a, W> {
    #[serde(borrow)]
    t: std::borrow::Cow<'a, str>,
    row: Option<usize>,
    attempt: Option<u32>,
    #[serde(default)]
    msgid: Option<String>,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
    #[serde(default = "Option::default")]
    who: Option<W>,
}

impl<W: ReadWho> SendRecord<'_, W> {
    /// The record as a [`Line`], when it is one of the send path's with every field it needs.
    fn into_line(self) -> Option<Line> {
        let (row, attempt) = (self.row?, self.attempt?);
        Some(match self.t.as_ref() {
            "dispatch" => Line::Dispatch { row, attempt, who: self.who.and_then(W::into_who) },
            "ok" => Line::Ok { row, attempt, msgid: self.msgid },
            "retry" => Line::Retry { row, attempt, errcode: self.errcode, errmsg: self.errmsg? },
            "failed" => Line::Failed { row, attempt, errcode: self.errcode, errmsg: self.errmsg? },
            "unanswered" => Line::Unanswered { row, attempt, errmsg: self.errmsg? },
            _ => return None,
        })
    }
}

/// Read one record in the journal's framing; the checksum must match when present.
pub fn decode_record<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, RecordError> {
    serde_json::from_slice(checked_json(text)?).map_err(|e| RecordError::Json(e.to_string()))
}

/// Why one record of the journal (or of the receipts file) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Its checksum does not match its JSON.
    #[error("{}", crate::tr!("err.record_error.checksum"))]
    Checksum,
    /// It is not a record as wxsend writes them (serde's words).
    #[error("{0}")]
    Json(String),
    /// It has no line end: the writer was cut off while writing it.
    #[error("{}", crate::tr!("err.record_error.cut_short"))]
    CutShort,
    /// The first record is not the journal's header.
    #[error("{}", crate::tr!("err.record_error.no_header"))]
    NoHeader,
}

/// A record's JSON, its checksum verified when it has one.
fn checked_json(text: &[u8]) -> Result<&[u8], RecordError> {
    let json = match text.iter().rposition(|&b| b == b'\t') {
        Some(tab) => {
            let (json, crc) = (&text[..tab], &text[tab + 1..]);
            let want = std::str::from_utf8(crc).ok().and_then(|c| u32::from_str_radix(c, 16).ok());
            if crc.len() != 8 || want != Some(crc32c::crc32c(json)) {
                return Err(RecordError::Checksum);
            }
            json
        }
        None => text,
    };
    Ok(json)
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
            Line::Dispatch { row, attempt, .. } => {
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
            Line::Unanswered { row, attempt, .. } => {
                if let Some(r) = self.rows.get_mut(*row) {
                    *r = RowRecord::Unknown { attempts: *attempt };
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
            Line::Dispatch { row: 0, attempt: 1, who: None },
            Line::Ok { row: 0, attempt: 1, msgid: Some("1".into()) },
            Line::Dispatch { row: 1, attempt: 1, who: None },
            Line::Dispatch { row: 2, attempt: 1, who: None },
            Line::Retry { row: 2, attempt: 1, errcode: Some(-1), errmsg: "system error".into() },
            Line::Dispatch { row: 3, attempt: 1, who: None },
            Line::Failed { row: 3, attempt: 1, errcode: Some(43101), errmsg: "refused".into() },
            Line::Dispatch { row: 99, attempt: 1, who: None },
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
    fn records_carry_a_checksum_and_decode_back() {
        let l = Line::Ok { row: 7, attempt: 1, msgid: Some("4674045479742390278".into()) };
        let mut out = Vec::new();
        encode(&l, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let (json, crc) = text.trim_end().split_once('\t').unwrap();
        assert_eq!(json, r#"{"t":"ok","row":7,"attempt":1,"msgid":"4674045479742390278"}"#);
        assert_eq!(crc, format!("{:08x}", crc32c::crc32c(json.as_bytes())));
        assert_eq!(decode(&out[..out.len() - 1]).unwrap(), l);
    }

    #[test]
    fn lines_round_trip_as_json() {
        let l = Line::Failed { row: 3, attempt: 2, errcode: None, errmsg: "timed out".into() };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(text, r#"{"t":"failed","row":3,"attempt":2,"errmsg":"timed out"}"#);
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), l);
    }
}
