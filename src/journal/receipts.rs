//! `receipts.jsonl` in a campaign's state folder: every delivery receipt WeChat pushed (or an
//! operator imported), appended and fsynced one by one in the journal's framing (JSON, tab,
//! CRC32C), with the row it was matched to; and `subscriptions.jsonl` beside it, the followers'
//! subscription changes. Read back tolerantly: a torn last line (a crash mid-write) is ignored.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wechat::push::{PushEvent, ReceiptStatus, SubscriptionChange};

/// One stored receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    /// The row (0-based) it was matched to; `None`: no row of this campaign has its msgid.
    pub row: Option<usize>,
    /// The event.
    #[serde(flatten)]
    pub event: PushEvent,
    /// When it was recorded (Unix seconds).
    pub recorded: u64,
}

/// The receipts file of a state folder.
#[derive(Debug, Clone)]
pub struct ReceiptsFile {
    path: PathBuf,
}

impl ReceiptsFile {
    /// `dir/receipts.jsonl`.
    pub fn in_dir(dir: &Path) -> Self {
        Self { path: dir.join("receipts.jsonl") }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `receipts` and fsync before returning: a receipt acknowledged to WeChat is on disk.
    pub fn append(&self, receipts: &[StoredReceipt]) -> std::io::Result<()> {
        append_framed(&self.path, receipts)
    }

    /// Every receipt recorded so far (none when there is no file). A receipt stored without a
    /// row — it arrived before the send recorded its msgid — is matched here against the journal
    /// beside it, so every reader (`status`, the export, the report) counts it.
    pub fn read(&self) -> std::io::Result<Vec<StoredReceipt>> {
        let mut receipts: Vec<StoredReceipt> = read_framed(&self.path)?;
        if receipts.iter().any(|r| r.row.is_none() && r.event.msgid.is_some()) {
            let journal = self.path.with_file_name("journal.jsonl");
            if let Ok((msgids, _)) = super::replay::read_msgids_from(&journal, 0) {
                let by_msgid: std::collections::HashMap<String, usize> = msgids.into_iter().collect();
                for r in receipts.iter_mut().filter(|r| r.row.is_none()) {
                    r.row = r.event.msgid.as_ref().and_then(|m| by_msgid.get(m).copied());
                }
            }
        }
        Ok(receipts)
    }
}

/// Append `items` to `path` in the journal's framing and fsync: what is acknowledged is on disk.
fn append_framed<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::private::create_dir_all(dir)?;
    }
    let mut bytes = Vec::new();
    for item in items {
        super::format::encode_record(item, &mut bytes);
    }
    let mut file = crate::private::options().create(true).read(true).append(true).open(path)?;
    // A record cut short (a full disk, a power cut) was never acknowledged: WeChat pushes it
    // again. It is cut away first, or the next record would be glued onto it and lost.
    cut_torn_tail(&mut file)?;
    file.write_all(&bytes)?;
    file.sync_data()
}

/// Every record of `path` (none when there is no file); a line that does not decode (a torn
/// last write) is skipped, never guessed at.
fn read_framed<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Vec<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| super::format::decode_record::<T>(l).ok())
        .collect())
}

/// `subscriptions.jsonl` of a state folder: the followers' subscription changes pushed to it.
#[derive(Debug, Clone)]
pub struct SubscriptionsFile {
    path: PathBuf,
}

impl SubscriptionsFile {
    /// `dir/subscriptions.jsonl`.
    pub fn in_dir(dir: &Path) -> Self {
        Self { path: dir.join("subscriptions.jsonl") }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `changes` and fsync.
    pub fn append(&self, changes: &[SubscriptionChange]) -> std::io::Result<()> {
        append_framed(&self.path, changes)
    }

    /// Every change recorded so far, in the order received.
    pub fn read(&self) -> std::io::Result<Vec<SubscriptionChange>> {
        read_framed(&self.path)
    }
}

/// Where the campaign's recipients stand with its template, each by the last change WeChat
/// pushed for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionCounts {
    /// Subscribed (accepted the prompt, or turned it on again in their settings).
    pub subscribed: usize,
    /// Declined the prompt.
    pub declined: usize,
    /// Turned the notifications off in their settings.
    pub turned_off: usize,
}

impl SubscriptionCounts {
    /// Count the last change of each follower `counts` admits (the campaign's template and
    /// recipients).
    pub fn of(changes: &[SubscriptionChange], counts: impl Fn(&SubscriptionChange) -> bool) -> Self {
        let mut last: std::collections::HashMap<&str, &SubscriptionChange> = Default::default();
        for c in changes.iter().filter(|c| counts(c)) {
            last.insert(&c.openid, c);
        }
        let mut out = Self::default();
        for c in last.values() {
            match (c.accepted, c.from_settings) {
                (true, _) => out.subscribed += 1,
                (false, false) => out.declined += 1,
                (false, true) => out.turned_off += 1,
            }
        }
        out
    }
}

/// Cut `file` back to its last whole line (ending in a newline), fsynced, when its last line is
/// incomplete. Reads backwards from the end, 64 KiB at a time.
fn cut_torn_tail(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let start = end.saturating_sub(chunk.len() as u64);
        let piece = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(piece)?;
        if end == len && piece.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
            file.set_len(start + i as u64 + 1)?;
            return file.sync_data();
        }
        if start == 0 {
            file.set_len(0)?;
            return file.sync_data();
        }
        end = start;
    }
}

/// Receipts counted by what they say; `pending` is the accepted rows with none yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptCounts {
    /// Delivered.
    pub success: usize,
    /// The recipient blocks the account.
    pub user_block: usize,
    /// WeChat failed to deliver.
    pub system_failed: usize,
    /// Accepted by WeChat, no receipt yet.
    pub pending: usize,
}

impl ReceiptCounts {
    /// Count the last receipt of each row among `receipts`, against `accepted` rows.
    pub fn of(receipts: &[StoredReceipt], accepted: usize) -> Self {
        let mut last: std::collections::HashMap<usize, ReceiptStatus> = Default::default();
        for r in receipts {
            if let Some(row) = r.row {
                last.insert(row, r.event.status);
            }
        }
        let mut c = ReceiptCounts::default();
        for status in last.values() {
            match status {
                ReceiptStatus::Success => c.success += 1,
                ReceiptStatus::UserBlock => c.user_block += 1,
                ReceiptStatus::SystemFailed => c.system_failed += 1,
            }
        }
        c.pending = accepted.saturating_sub(last.len());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_survive_a_torn_last_line_and_count_once_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let file = ReceiptsFile::in_dir(dir.path());
        let r = |row, status| StoredReceipt {
            row,
            event: PushEvent {
                openid: "o".into(),
                msgid: Some("1".into()),
                template_id: None,
                status,
                detail: String::new(),
                created: 0,
            },
            recorded: 0,
        };
        file.append(&[r(Some(0), ReceiptStatus::SystemFailed), r(Some(0), ReceiptStatus::Success)]).unwrap();
        file.append(&[r(Some(1), ReceiptStatus::UserBlock), r(None, ReceiptStatus::Success)]).unwrap();
        let mut bytes = std::fs::read(file.path()).unwrap();
        bytes.extend_from_slice(b"{\"row\":2,\"openid\"");
        std::fs::write(file.path(), bytes).unwrap();
        let read = file.read().unwrap();
        assert_eq!(read.len(), 4);
        let c = ReceiptCounts::of(&read, 5);
        assert_eq!((c.success, c.user_block, c.system_failed, c.pending), (1, 1, 0, 3));
    }

    #[test]
    fn the_receipt_after_a_torn_tail_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = ReceiptsFile::in_dir(dir.path());
        let r = |row: usize| StoredReceipt {
            row: Some(row),
            event: PushEvent {
                openid: format!("o{row}"),
                msgid: Some(row.to_string()),
                template_id: None,
                status: ReceiptStatus::Success,
                detail: String::new(),
                created: 0,
            },
            recorded: 0,
        };
        file.append(&[r(0), r(1)]).unwrap();
        // A power cut took the last 7 bytes of the second record.
        let bytes = std::fs::read(file.path()).unwrap();
        std::fs::write(file.path(), &bytes[..bytes.len() - 7]).unwrap();
        // WeChat pushes row 1 again, then row 2: both acknowledged, both kept.
        file.append(&[r(1)]).unwrap();
        file.append(&[r(2)]).unwrap();
        let rows: Vec<_> = file.read().unwrap().iter().filter_map(|s| s.row).collect();
        assert_eq!(rows, [0, 1, 2]);
        // A file holding nothing but a fragment is cut to nothing.
        std::fs::write(file.path(), b"{\"row\":9").unwrap();
        file.append(&[r(3)]).unwrap();
        let rows: Vec<_> = file.read().unwrap().iter().filter_map(|s| s.row).collect();
        assert_eq!(rows, [3]);
    }
}
