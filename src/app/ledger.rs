//! The account's delivery ledger as the use cases open it: where it lives for a campaign, and
//! the rules a plan applies from the command's flags and the campaign's `[send]`.

use std::path::Path;

use super::plan::LedgerRules;
use super::session::SendOptions;
use crate::campaign::Campaign;
use crate::ledger::{default_dir, path_for, Ledger, LedgerError};

/// The ledger of `campaign`'s account, created if missing: under the user's ledger folder
/// (see [`default_dir`]), or for a run against the embedded mock under its state folder
/// `mock_state` (mock deliveries never reach an account's ledger).
pub fn open_for(campaign: &Campaign, mock_state: Option<&Path>) -> Result<Ledger, LedgerError> {
    Ledger::open(&path_of(campaign, mock_state))
}

/// The ledger of `campaign`'s account if it exists (readers such as `check` and `status` never
/// create one).
pub fn open_existing(campaign: &Campaign) -> Result<Option<Ledger>, LedgerError> {
    Ledger::open_existing(&path_of(campaign, None))
}

fn path_of(campaign: &Campaign, mock_state: Option<&Path>) -> std::path::PathBuf {
    let dir = match mock_state {
        Some(state) => state.join("ledger"),
        None => default_dir().unwrap_or_else(|| campaign.config.state_dir.join("ledger")),
    };
    path_for(&dir, &campaign.config.wechat.appid)
}

/// The ledger rules of a `send` with `opts`.
pub fn rules(campaign: &Campaign, opts: &SendOptions) -> LedgerRules {
    LedgerRules {
        new_run: opts.new_run,
        resend_unknown: opts.resend_unknown,
        include_suppressed: opts.include_suppressed || campaign.config.send.suppress_days == 0,
        suppress_since: crate::journal::unix_now()
            .saturating_sub(u64::from(campaign.config.send.suppress_days) * 86_400),
    }
}

/// What `wxsend ledger rebuild` did.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// Per account: the ledger file, journals fed and records read.
    pub accounts: std::collections::BTreeMap<String, (std::path::PathBuf, usize, usize)>,
    /// Journals left out: of the embedded mock, or written before journals named their account
    /// and recipients (they cannot say who got what).
    pub skipped: Vec<std::path::PathBuf>,
}

/// Feed every journal under `dirs` (folders searched to any depth; `journal*.jsonl`) into the
/// ledger of its account, under the ledger folder (`WXSEND_LEDGER_DIR` or the user's).
pub fn rebuild(dirs: &[std::path::PathBuf]) -> Result<Rebuilt, LedgerError> {
    let ledger_dir = default_dir().ok_or_else(|| LedgerError::Io {
        path: "WXSEND_LEDGER_DIR".into(),
        source: std::io::Error::other("no data folder: set WXSEND_LEDGER_DIR"),
    })?;
    let mut journals = Vec::new();
    for dir in dirs {
        find_journals(dir, &mut journals);
    }
    journals.sort();
    let mut done = Rebuilt::default();
    let mut open: std::collections::BTreeMap<String, Ledger> = Default::default();
    for journal in journals {
        let Some(appid) = crate::journal::header_appid(&journal) else {
            done.skipped.push(journal);
            continue;
        };
        let ledger = match open.entry(appid.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Ledger::open(&path_for(&ledger_dir, &appid))?),
        };
        match ledger.feed_file(&journal)? {
            Some(records) => {
                let entry = done.accounts.entry(appid).or_insert((ledger.path().to_path_buf(), 0, 0));
                entry.1 += 1;
                entry.2 += records;
            }
            None => done.skipped.push(journal),
        }
    }
    Ok(done)
}

fn find_journals(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            find_journals(&path, out);
        } else if kind.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("journal") && name.ends_with(".jsonl") {
                out.push(path);
            }
        }
    }
}

/// Every message the ledger of `appid` knows for `openid` (none when there is no ledger yet).
pub fn who(appid: &str, openid: &str) -> Result<Vec<crate::ledger::HistoryEntry>, LedgerError> {
    let Some(dir) = default_dir() else { return Ok(Vec::new()) };
    match Ledger::open_existing(&path_for(&dir, appid))? {
        Some(ledger) => ledger.history(openid),
        None => Ok(Vec::new()),
    }
}

/// Why `ledger suppress` could not run.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// The list of people cannot be read.
    #[error(transparent)]
    List(#[from] crate::campaign::LoadError),
    /// The ledger cannot be used.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Put the people of `file` (a CSV with an `openid` column) on `appid`'s do-not-send list, or
/// take them off (`add` false); how many changed and how many the file named.
pub fn suppress(appid: &str, file: &Path, add: bool) -> Result<(usize, usize), SuppressError> {
    let list = crate::campaign::Recipients::load(file, crate::campaign::EncodingChoice::Auto, "openid")?;
    let openids: Vec<String> = list.rows().map(|r| r.openid().to_string()).filter(|o| !o.is_empty()).collect();
    let dir = default_dir().ok_or_else(|| LedgerError::Io {
        path: "WXSEND_LEDGER_DIR".into(),
        source: std::io::Error::other("no data folder: set WXSEND_LEDGER_DIR"),
    })?;
    let mut ledger = Ledger::open(&path_for(&dir, appid))?;
    let note = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let changed = if add { ledger.suppress_add(&openids, &note)? } else { ledger.suppress_remove(&openids)? };
    Ok((changed, openids.len()))
}
