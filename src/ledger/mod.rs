//! The account's delivery ledger: who got which message, across every run, campaign name,
//! folder, list and sheet of one account (appid). One SQLite database per account (WAL, 0600).
//!
//! The journal stays the write-ahead truth of the send path; the ledger is fed from journals off
//! the hot path. Every journal is registered before its first request ([`Ledger::register`]);
//! [`Ledger::catch_up`] reads what each registered journal gained since it was last fed (at the
//! start of every run of the account and at its end), so a run that was killed is known to the
//! next run of any campaign. A message is identified by its key (see
//! `MessageTemplate::message_key`), which every `dispatch` record carries with its openid.
//!
//! Tables: `journals` (path, campaign, kind, template, bytes fed), `deliveries` (one row per
//! journal row that was dispatched: openid, message key, outcome, errcode, msgid, time; indexed
//! by key, and by openid and time — what a per-person frequency cap reads), `answers` (each
//! person's last answer from WeChat, for suppression) and `suppressed` (the operator's
//! do-not-send list).

mod db;
mod feed;
mod query;

pub use db::{default_dir, journal_name, path_for, Ledger, LedgerError, Stored};
pub use feed::CatchUp;
pub use query::{Earlier, EarlierKind, HistoryEntry, SUPPRESSING_CODES};
