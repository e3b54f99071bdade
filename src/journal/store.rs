//! A campaign's state folder: its paths, the lock that keeps a second sender out, the
//! fingerprints that tie a journal to its inputs, and opening (or starting) the journal.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::format::{JournalError, Line, ListBinding, Replay, RowRecord};
use super::replay::read_journal;
use super::writer::JournalWriter;
use super::writer::RESERVE_BYTES;
use crate::campaign::Campaign;

/// The fingerprints a journal is tied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    /// Of what decides the messages (not the pace), and the campaign's name.
    pub campaign: String,
    /// Of what decides the messages, whatever the campaign is called.
    pub message: String,
    /// Of the recipients file's bytes, as they were parsed.
    pub csv: String,
    /// The settings that chose, decoded and numbered the rows.
    pub list: ListBinding,
}

impl Fingerprints {
    /// Hash what decides the messages (not the pace): template, mapping, app; and take the list's
    /// binding from the recipients as they were read — the hash of the very bytes parsed (the
    /// file is never read a second time: one replaced meanwhile cannot change the binding).
    pub fn of(campaign: &Campaign) -> Self {
        let c = &campaign.config;
        let (mut named, mut message) = (Sha256::new(), Sha256::new());
        named.update(c.name.as_bytes());
        named.update([0]);
        for part in message_parts(campaign) {
            for h in [&mut named, &mut message] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        let r = &campaign.recipients;
        let list = ListBinding {
            file: r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            sheet: r.sheet.clone(),
            encoding: r.encoding.label().to_string(),
            openid_column: r.headers.get(r.openid_column).cloned().unwrap_or_default(),
            header_line: r.header_line,
        };
        Self { campaign: hex(&named.finalize()), message: hex(&message.finalize()), csv: hex(&r.digest), list }
    }

    /// One short key for the rows of this message and list, whatever the campaign is called:
    /// Redis keys a campaign's rows by it, so a renamed or copied campaign on another host shares
    /// the claims of the first.
    pub fn rows_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.csv.as_bytes());
        for part in
            [&self.list.file, self.list.sheet.as_deref().unwrap_or(""), &self.list.encoding, &self.list.openid_column]
        {
            h.update([0]);
            h.update(part.as_bytes());
        }
        h.update(self.list.header_line.to_le_bytes());
        format!("{}{}", &self.message[..16.min(self.message.len())], &hex(&h.finalize())[..16])
    }
}

/// What decides the messages, in the order the fingerprints hash it: app, kind, template, the
/// bodies' fixed parts, the mapping, the openid column, duplicates.
fn message_parts(campaign: &Campaign) -> Vec<&str> {
    let c = &campaign.config;
    let m = &c.message;
    let mut parts = vec![
        c.wechat.appid.as_str(),
        m.kind.as_str(),
        m.template_id.as_str(),
        m.mp_appid.as_deref().unwrap_or(""),
        m.miniprogram_appid.as_deref().unwrap_or(""),
        m.url.as_ref().map_or("", |u| u.text.as_str()),
        m.page.as_ref().map_or("", |p| p.text.as_str()),
        m.miniprogram_state.as_str(),
        m.lang.as_str(),
    ];
    for (k, v) in &m.data {
        parts.push(k);
        parts.push(&v.text);
    }
    parts.push(&c.recipients.openid_column);
    parts.push(if c.recipients.allow_duplicates { "dup" } else { "nodup" });
    parts
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The files of one campaign run, in its state folder.
#[derive(Debug, Clone)]
pub struct StatePaths {
    /// The folder.
    pub dir: PathBuf,
    /// `journal.jsonl`.
    pub journal: PathBuf,
    /// `lock`.
    pub lock: PathBuf,
    /// `journal.reserve`: disk space kept for the outcomes of requests in flight when the disk
    /// fills.
    pub reserve: PathBuf,
    /// `failed-<stem>.csv`.
    pub failed: PathBuf,
    /// `report.json`.
    pub report: PathBuf,
    /// For a workbook's sheet: the folder an earlier wxsend kept for the whole workbook.
    pub legacy: Option<PathBuf>,
}

impl StatePaths {
    /// `<state_dir>/<file stem>/` for a CSV, `<state_dir>/<file stem>@<sheet>/` for a workbook's
    /// sheet: one journal per list, so a re-run of an exported failures file
    /// (`failed-<stem>.csv`) gets its own, and each sheet of a workbook its own.
    pub fn new(state_dir: &Path, csv: &Path, sheet: Option<&str>) -> Self {
        let stem = safe_name(
            &csv.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recipients".into()),
        );
        let name = match sheet {
            Some(sheet) => format!("{stem}@{}", safe_name(sheet)),
            None => stem.clone(),
        };
        let dir = state_dir.join(&name);
        Self {
            journal: dir.join("journal.jsonl"),
            lock: dir.join("lock"),
            reserve: dir.join("journal.reserve"),
            failed: dir.join(format!("failed-{name}.csv")),
            report: dir.join("report.json"),
            legacy: sheet.map(|_| state_dir.join(&stem)),
            dir,
        }
    }

    /// The state folder of the list `recipients` (see [`StatePaths::new`]).
    pub fn of(state_dir: &Path, recipients: &crate::campaign::Recipients) -> Self {
        Self::new(state_dir, &recipients.path, recipients.sheet.as_deref())
    }

    /// What is checked before anything is created in or beside the state folder: a folder (or
    /// parent) that is a link to nothing, a workbook journal of an earlier version.
    pub fn check(&self) -> Result<(), JournalError> {
        check_no_dangling_link(&self.dir)?;
        self.check_legacy()
    }

    /// Refuse a workbook whose journal is still in the folder an earlier wxsend kept for the
    /// whole workbook (without recording the sheet): applying it to another sheet would skip
    /// that sheet's people, starting afresh would message the first sheet's again.
    pub fn check_legacy(&self) -> Result<(), JournalError> {
        let Some(old) = &self.legacy else { return Ok(()) };
        if old.join("journal.jsonl").exists() && !self.journal.exists() {
            return Err(JournalError::SheetUnrecorded { old: old.clone(), new: self.dir.clone() });
        }
        Ok(())
    }
}

/// A file or folder name from a stem or sheet name: letters (any script), digits, `-_.`; anything
/// else `_`.
fn safe_name(text: &str) -> String {
    text.chars().map(|c| if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
}

/// The open journal of a run: the lock, the replayed state, and the writer.
#[derive(Debug)]
pub struct Journal {
    /// The state folder's files.
    pub paths: StatePaths,
    /// What the journal held when opened.
    pub replay: Replay,
    /// What opening repaired (an incomplete last record cut away), for the operator.
    pub repaired: Option<String>,
    /// The checkpoint opening found to match the journal: while this value holds the lock, the
    /// end of the run reads from it without reading the bytes it covers again.
    pub checkpoint: Option<super::replay::Prefix>,
    _lock: File,
}

impl Journal {
    /// Lock the state folder, check the fingerprints and replay the journal.
    /// `new_run` moves an existing journal aside and starts a fresh one; `mock` marks a journal
    /// of the embedded mock (never an account's delivery).
    pub fn open(
        paths: StatePaths,
        campaign: &Campaign,
        new_run: bool,
        mock: bool,
    ) -> Result<(Self, JournalWriter), JournalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        paths.check()?;
        let lock = lock_folder(&paths)?;
        let fp = Fingerprints::of(campaign);
        let rows = campaign.recipients.len();
        if new_run && paths.journal.exists() {
            let aside = paths.dir.join(format!("journal-{}.jsonl", unix_now()));
            std::fs::rename(&paths.journal, &aside).map_err(io(&paths.journal))?;
        }
        let exists = paths.journal.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let mut repaired = None;
        let mut torn_dispatch = None;
        let mut checkpoint = None;
        let replay = if exists {
            let read = read_journal(&paths.journal, rows)?;
            let (header, replay) = (read.header, read.replay);
            checkpoint = read.checkpoint;
            if let Some(torn) = read.torn {
                // Cut the incomplete record away before anything is appended, so the next
                // record starts on a line of its own.
                let f = OpenOptions::new().write(true).open(&paths.journal).map_err(io(&paths.journal))?;
                f.set_len(torn.offset).and_then(|()| f.sync_all()).map_err(io(&paths.journal))?;
                torn_dispatch = torn.dispatch;
                let request =
                    torn.dispatch.map_or(String::new(), |(row, _)| crate::tr!("journal.torn_request", row = row + 1));
                repaired = Some(crate::tr!(
                    "journal.torn",
                    path = paths.journal.display().to_string(),
                    bytes = torn.len,
                    request = request
                ));
            }
            match header {
                Some(h) => check_header(&paths.journal, &h, &fp, campaign)?,
                None => {
                    return Err(JournalError::Corrupt {
                        path: paths.journal.clone(),
                        line: 1,
                        detail: super::format::RecordError::NoHeader,
                    })
                }
            }
            replay
        } else {
            Replay { rows: vec![RowRecord::Pending; rows], runs: 0 }
        };
        make_reserve(&paths.reserve).map_err(|e| JournalError::Unwritable {
            detail: format!(
                "{}: {e} (wxsend keeps {} KiB free beside the journal)",
                paths.reserve.display(),
                RESERVE_BYTES / 1024
            ),
        })?;
        let file =
            crate::private::options().create(true).append(true).open(&paths.journal).map_err(io(&paths.journal))?;
        // A journal an earlier wxsend left readable by others: its openids are personal data.
        crate::private::restrict(&file).map_err(io(&paths.journal))?;
        let writer = JournalWriter::spawn(file, paths.journal.clone(), Some(paths.reserve.clone()))
            .map_err(io(&paths.journal))?;
        if !exists {
            writer.append(header(campaign, fp, rows, mock));
        }
        if let Some((row, attempt)) = torn_dispatch {
            // Written again whole: the row stays unknown on every later replay.
            writer.append(Line::Dispatch { row, attempt, who: who_of(campaign, row) });
        }
        // Everything so far reaches the disk now: a full disk is found before the first request.
        if !writer.sync_now() {
            let detail = writer.error().unwrap_or_else(|| paths.journal.display().to_string());
            return Err(JournalError::Unwritable { detail });
        }
        Ok((Self { paths, replay, repaired, checkpoint, _lock: lock }, writer))
    }
}

/// The first record of a new journal: what it is bound to (version 3).
fn header(campaign: &Campaign, fp: Fingerprints, rows: usize, mock: bool) -> Line {
    Line::Header {
        version: 3,
        campaign: campaign.config.name.clone(),
        campaign_fp: fp.campaign,
        csv: campaign.recipients.path.display().to_string(),
        csv_fp: fp.csv,
        rows,
        created: unix_now(),
        list: Some(Box::new(fp.list)),
        kind: Some(campaign.config.message.kind.as_str().to_string()),
        template: Some(campaign.config.message.template_id.clone()),
        appid: Some(campaign.config.wechat.appid.clone()),
        mock: mock.then_some(true),
    }
}

/// Create the state folder (0700) and take its lock, writing this process's pid into it; a live
/// holder's pid comes back in [`JournalError::Locked`].
fn lock_folder(paths: &StatePaths) -> Result<File, JournalError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| JournalError::Io { path, source }
    };
    crate::private::create_dir_all(&paths.dir)
        .and_then(|()| crate::private::restrict_dir(&paths.dir))
        .map_err(io(&paths.dir))?;
    let mut lock = crate::private::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&paths.lock)
        .map_err(io(&paths.lock))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // The holder wrote its pid when it took the lock. A lock left by a dead process is
            // released by the OS, so only a live holder gets here.
            let pid = std::fs::read_to_string(&paths.lock).ok().and_then(|t| t.trim().parse::<u32>().ok());
            return Err(JournalError::Locked { path: paths.dir.clone(), pid });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(JournalError::Io { path: paths.lock.clone(), source: e }),
    }
    {
        use std::io::{Seek, Write};
        let pid = std::process::id().to_string();
        let _ = lock.set_len(0).and_then(|()| lock.rewind()).and_then(|()| lock.write_all(pid.as_bytes()));
    }
    Ok(lock)
}

/// The account a journal was written for (its header, version 3 on), unless it was a run of
/// the embedded mock.
pub fn header_appid(journal: &Path) -> Option<String> {
    match first_line(journal)? {
        Line::Header { appid: Some(appid), mock, .. } if mock != Some(true) => Some(appid),
        _ => None,
    }
}

/// When a journal began (its header's `created`, Unix seconds): receipts older than that are
/// not of its sends.
pub fn header_created(journal: &Path) -> Option<u64> {
    match first_line(journal)? {
        Line::Header { created, .. } => Some(created),
        _ => None,
    }
}

/// The journal's first record, if it reads.
fn first_line(journal: &Path) -> Option<Line> {
    use std::io::BufRead;
    let mut first = Vec::new();
    std::io::BufReader::new(File::open(journal).ok()?).read_until(b'\n', &mut first).ok()?;
    super::format::decode(first.strip_suffix(b"\n").unwrap_or(&first)).ok()
}

/// The person and message of `campaign`'s row `row`, as a dispatch record carries them.
pub fn who_of(campaign: &Campaign, row: usize) -> Option<Box<super::format::Who>> {
    let key = campaign.message_key(row, &mut Default::default())?;
    let openid = campaign.recipients.row(row)?.openid().to_string();
    Some(Box::new(super::format::Who { openid, key: format!("{key:016x}") }))
}

/// A state folder (or its parent) that is a symbolic link to nothing: say so, rather than the
/// OS's "File exists" when the folder is created.
/// Make sure the reserve file holds [`RESERVE_BYTES`] of real blocks (written, not sparse), so
/// deleting it frees that much space on a full disk.
fn make_reserve(path: &Path) -> std::io::Result<()> {
    if path.metadata().is_ok_and(|m| m.len() >= RESERVE_BYTES as u64) {
        return Ok(());
    }
    let written = crate::private::options().write(true).create(true).truncate(true).open(path).and_then(|mut f| {
        std::io::Write::write_all(&mut f, &[0x20; RESERVE_BYTES])?;
        f.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn check_no_dangling_link(dir: &Path) -> Result<(), JournalError> {
    // The nearest part of the path that is there decides: a link to nothing, or a real entry.
    for p in dir.ancestors() {
        let Ok(meta) = p.symlink_metadata() else { continue };
        if meta.file_type().is_symlink() && !p.exists() {
            let target = std::fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_default();
            return Err(JournalError::DanglingLink { path: p.to_path_buf(), target });
        }
        break;
    }
    Ok(())
}

/// Read `journal` for `campaign`, refusing it when it was written for another recipients file
/// or message (its header's fingerprints): every reader of a journal — `status`,
/// `status --export`, `receipts` — applies a journal's rows only to the exact list it was
/// written for, as `send` does.
pub fn read_bound(journal: &Path, campaign: &Campaign) -> Result<super::replay::ReadJournal, JournalError> {
    check_bound(journal, campaign)?;
    read_journal(journal, campaign.recipients.len())
}

/// Whether `journal` was written for `campaign` as it is now (see [`read_bound`]); only its first
/// record is read.
pub fn check_bound(journal: &Path, campaign: &Campaign) -> Result<(), JournalError> {
    use std::io::BufRead;
    let io = |source| JournalError::Io { path: journal.to_path_buf(), source };
    let mut first = Vec::new();
    std::io::BufReader::new(File::open(journal).map_err(io)?).read_until(b'\n', &mut first).map_err(io)?;
    let text = first.strip_suffix(b"\n").unwrap_or(&first);
    let header = super::format::decode(text).map_err(|detail| JournalError::Corrupt {
        path: journal.to_path_buf(),
        line: 1,
        detail,
    })?;
    check_header(journal, &header, &Fingerprints::of(campaign), campaign)
}

fn check_header(journal: &Path, line: &Line, fp: &Fingerprints, campaign: &Campaign) -> Result<(), JournalError> {
    let Line::Header { campaign_fp, csv_fp, rows, list, .. } = line else {
        return Err(JournalError::Corrupt {
            path: journal.to_path_buf(),
            line: 1,
            detail: super::format::RecordError::NoHeader,
        });
    };
    let changed = |what: String| Err(JournalError::Changed { path: journal.to_path_buf(), what });
    let source = campaign.recipients.source_name();
    if *csv_fp != fp.csv || *rows != campaign.recipients.len() {
        return changed(crate::tr!("journal.changed_file", source = source.clone()));
    }
    if let Some(list) = list {
        if let Some(what) = binding_change(list, &fp.list) {
            return changed(crate::tr!("journal.changed_reading", source = source.clone(), what = what));
        }
    }
    if *campaign_fp != fp.campaign {
        return changed(crate::tr!("journal.changed_message", campaign = campaign.config.path.display().to_string()));
    }
    Ok(())
}

/// Which setting differs between the binding a journal was written with and the list as read
/// now, in words: `the sheet: 名单 then, 退款 now`.
fn binding_change(then: &ListBinding, now: &ListBinding) -> Option<String> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let differ = |what: &str, a: String, b: String| (a != b).then(|| format!("{what}: {a} then, {b} now"));
    differ("the file", then.file.clone(), now.file.clone())
        .or_else(|| differ("the sheet", show(&then.sheet), show(&now.sheet)))
        .or_else(|| differ("the encoding", then.encoding.clone(), now.encoding.clone()))
        .or_else(|| differ("the openid column", then.openid_column.clone(), now.openid_column.clone()))
        .or_else(|| differ("the header's line", then.header_line.to_string(), now.header_line.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_paths_are_per_recipients_file() {
        let p = StatePaths::new(Path::new("/s"), Path::new("/data/my list.csv"), None);
        assert_eq!(p.dir, Path::new("/s/my_list"));
        assert_eq!(p.failed, Path::new("/s/my_list/failed-my_list.csv"));
        assert_eq!(p.legacy, None);
        let sheet = StatePaths::new(Path::new("/s"), Path::new("/data/list.xlsx"), Some("名单 B"));
        assert_eq!(sheet.dir, Path::new("/s/list@名单_B"));
        assert_eq!(sheet.failed, Path::new("/s/list@名单_B/failed-list@名单_B.csv"));
        assert_eq!(sheet.legacy.as_deref(), Some(Path::new("/s/list")));
    }
}
