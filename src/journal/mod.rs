//! The journal: an append-only JSON-lines file per campaign and recipients file that makes a run
//! resumable and keeps anyone from getting the same message twice.
//!
//! A `dispatch` line is handed to the OS before its request leaves, so killing the process never
//! loses it; an outcome line follows. Lines are fsynced at least every 100 ms and at the end
//! (group commit): only a power loss can cost the last ~100 ms of lines, and for template
//! messages the `client_msg_id` still makes WeChat drop a resent duplicate.

mod checkpoint;
mod format;
pub mod receipts;
mod replay;
mod store;
mod writer;

pub use format::{
    decode, decode_for_replay, decode_record, encode, encode_record, Category, FailedRow, JournalError, Line,
    ListBinding, RecordError, Replay, RowRecord, Who,
};
pub use replay::{
    read_journal, read_journal_with_msgids, read_msgids, read_msgids_from, replay_file, Prefix, ReadJournal, TornTail,
};
pub use store::{
    check_bound, header_appid, header_created, read_bound, unix_now, who_of, Fingerprints, Journal, StatePaths,
};
pub use writer::{JournalWriter, SYNC_INTERVAL};
