//! Reading a journal back: its header and the state of every row, streamed line by line, with
//! each record's checksum verified. A last record that is incomplete (a crash, a power cut or a
//! full disk cut it short) is reported as a torn tail for [`super::Journal::open`] to repair;
//! a bad record with good ones after it is damage, and refuses.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::checkpoint::{self, Checkpoint};
use super::format::{decode_for_replay, JournalError, Line, RecordError, Replay, RowRecord};

/// An incomplete last record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where it starts: the file is whole up to here.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// When it was a `dispatch` record whose row can still be read: that row and attempt. Its
    /// request may have left before the cut (a power cut loses what was not yet fsynced), so the
    /// row is counted unknown, never pending.
    pub dispatch: Option<(usize, u32)>,
}

/// A journal as read from disk.
#[derive(Debug, Clone)]
pub struct ReadJournal {
    /// The first record.
    pub header: Option<Line>,
    /// Every row's state.
    pub replay: Replay,
    /// The incomplete last record, if any.
    pub torn: Option<TornTail>,
    /// The checkpoint the read started from, found to match the journal's bytes; a process that
    /// holds the journal's lock can trust it again without reading those bytes
    /// ([`read_journal_with_msgids`]).
    pub checkpoint: Option<Prefix>,
}

/// The first `len` bytes of a journal, known by their CRC-32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// How many bytes.
    pub len: u64,
    /// Their CRC-32C.
    pub crc: u32,
}

/// Read a journal: its header, the state of each of `rows` rows, and a torn last record.
pub fn read_journal(path: &Path, rows: usize) -> Result<ReadJournal, JournalError> {
    read(path, rows, None, None)
}

/// [`read_journal`], also collecting each accepted row with its msgid, in journal order, in the
/// same pass (the end of a run needs both; one pass over a million records instead of two).
/// `trusted`: a checkpoint this process already matched against the journal and whose lock it
/// has held since (nothing but its own appends changed the file), used without reading its bytes
/// again.
pub fn read_journal_with_msgids(
    path: &Path,
    rows: usize,
    trusted: Option<Prefix>,
) -> Result<(ReadJournal, Vec<(usize, String)>), JournalError> {
    let mut msgids = Vec::new();
    let read = read(path, rows, Some(&mut msgids), trusted)?;
    Ok((read, msgids))
}

fn read(
    path: &Path,
    rows: usize,
    mut msgids: Option<&mut Vec<(usize, String)>>,
    trusted: Option<Prefix>,
) -> Result<ReadJournal, JournalError> {
    let io = |source| JournalError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io)?;
    let from = resume_at_checkpoint(path, &mut file, rows, msgids.is_some(), trusted).map_err(io)?;
    let used = (from.offset > 0).then_some(Prefix { len: from.offset, crc: from.crc });
    let (mut header, mut replay) = (from.header, from.replay);
    if let (Some(m), Some(ids)) = (msgids.as_deref_mut(), from.msgids) {
        *m = ids;
    }
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    // A bad record is only damage once a good one follows it.
    let mut bad: Option<(usize, RecordError, TornTail)> = None;
    let (mut offset, mut number, mut crc) = (from.offset, from.lines, from.crc);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        // Read record by record: a journal of a million rows is never held in memory at once.
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        number += 1;
        let start = offset;
        offset += n as u64;
        crc = crc32c::crc32c_append(crc, &buf);
        let complete = buf.last() == Some(&b'\n');
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) && complete {
            continue;
        }
        if let Some((line, detail, _)) = bad.take() {
            return Err(JournalError::Corrupt { path: path.to_path_buf(), line, detail });
        }
        let parsed = if complete { decode_for_replay(text) } else { Err(RecordError::CutShort) };
        match parsed {
            Ok(line) if header.is_none() && start == 0 => header = Some(line),
            Ok(line) => {
                replay.apply(&line);
                if let (Some(m), Line::Ok { row, msgid: Some(id), .. }) = (msgids.as_deref_mut(), line) {
                    m.push((row, id));
                }
            }
            Err(detail) => {
                let torn = TornTail { offset: start, len: n as u64, dispatch: torn_dispatch(text) };
                bad = Some((number, detail, torn));
            }
        }
    }
    // A whole journal read far past its checkpoint (the end of a run reads it with its msgids)
    // leaves a new one: the next reader replays only what is appended after it.
    if let (None, Some(m)) = (&bad, msgids) {
        if rows > 0 && offset - from.offset >= checkpoint::MIN_BYTES {
            let point = Checkpoint { len: offset, crc, lines: number, replay, msgids: std::mem::take(m) };
            let _ = checkpoint::save(path, &point);
            (replay, *m) = (point.replay, point.msgids);
        }
    }
    let torn = bad.map(|(_, _, t)| t);
    if let Some((row, attempt)) = torn.as_ref().and_then(|t| t.dispatch) {
        if let Some(r) = replay.rows.get_mut(row) {
            if *r == RowRecord::Pending {
                *r = RowRecord::Unknown { attempts: attempt };
            }
        }
    }
    Ok(ReadJournal { header, replay, torn, checkpoint: used })
}

/// Where a replay starts: the journal's checkpoint when it still matches the journal's bytes
/// (`file` is then just past them), else the journal's first byte with every row pending.
struct Start {
    offset: u64,
    crc: u32,
    lines: usize,
    header: Option<Line>,
    replay: Replay,
    msgids: Option<Vec<(usize, String)>>,
}

fn resume_at_checkpoint(
    path: &Path,
    file: &mut File,
    rows: usize,
    msgids: bool,
    trusted: Option<Prefix>,
) -> std::io::Result<Start> {
    use std::io::{Seek, SeekFrom};
    let fresh = || Start {
        offset: 0,
        crc: 0,
        lines: 0,
        header: None,
        replay: Replay { rows: vec![RowRecord::Pending; rows], runs: 0 },
        msgids: None,
    };
    let size = file.metadata()?.len();
    let Some(point) = checkpoint::load(path, rows, msgids).filter(|p| p.len <= size && p.len > 0) else {
        return Ok(fresh());
    };
    let header = if trusted == Some(Prefix { len: point.len, crc: point.crc }) {
        let first = checkpoint::first_line(file)?;
        file.seek(SeekFrom::Start(point.len))?;
        first
    } else {
        checkpoint::prefix_matches(file, point.len, point.crc)?
    };
    let Some(header) = header.and_then(|h| decode_for_replay(&h).ok()) else {
        file.seek(SeekFrom::Start(0))?;
        return Ok(fresh());
    };
    Ok(Start {
        offset: point.len,
        crc: point.crc,
        lines: point.lines,
        header: Some(header),
        replay: point.replay,
        msgids: msgids.then_some(point.msgids),
    })
}

/// Read a journal: its header line and the state of each of `rows` rows (a torn last record is
/// tolerated as [`read_journal`] describes).
pub fn replay_file(path: &Path, rows: usize) -> Result<(Option<Line>, Replay), JournalError> {
    read_journal(path, rows).map(|j| (j.header, j.replay))
}

/// The row and attempt of a cut `dispatch` record, when enough of it survived to tell.
fn torn_dispatch(text: &[u8]) -> Option<(usize, u32)> {
    let text = std::str::from_utf8(text).ok()?;
    let rest = text.strip_prefix(r#"{"t":"dispatch","row":"#)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let row = digits.parse().ok()?;
    // A row number cut short could name another row: trust it only if its field is complete.
    let after = &rest[digits.len()..];
    if !after.starts_with(',') {
        return None;
    }
    let attempt = after
        .strip_prefix(r#","attempt":"#)
        .map(|a| a.chars().take_while(char::is_ascii_digit).collect::<String>())
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    Some((row, attempt))
}

/// The msgid of every row WeChat accepted, from the journal's `ok` records (the same pass as
/// [`read_journal_with_msgids`], without the rows' states).
pub fn read_msgids(path: &Path) -> Result<std::collections::HashMap<String, usize>, JournalError> {
    read_journal_with_msgids(path, 0, None).map(|(_, msgids)| msgids.into_iter().map(|(row, id)| (id, row)).collect())
}

/// The msgids of the `ok` records from byte `from` of the journal on, whole records only, and the
/// byte after the last whole record: a reader following a running send reads only what it has
/// not read (the receipts server on a push for a msgid it does not know yet).
pub fn read_msgids_from(path: &Path, from: u64) -> std::io::Result<(Vec<(String, usize)>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    if file.metadata()?.len() <= from {
        return Ok((Vec::new(), from));
    }
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let found = bytes[..whole]
        .split(|&b| b == b'\n')
        .filter_map(|l| match decode_for_replay(l) {
            Ok(Line::Ok { row, msgid: Some(id), .. }) => Some((id, row)),
            _ => None,
        })
        .collect();
    Ok((found, from + whole as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::encode;

    fn journal(lines: &[Line]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            encode(l, &mut out);
        }
        out
    }

    fn header() -> Line {
        Line::Header {
            version: 2,
            campaign: "c".into(),
            campaign_fp: "a".into(),
            csv: "r.csv".into(),
            csv_fp: "b".into(),
            rows: 3,
            created: 0,
            list: None,
            kind: None,
            template: None,
            appid: None,
            mock: None,
        }
    }

    #[test]
    fn a_cut_last_record_is_a_torn_tail_but_damage_inside_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let good = journal(&[
            header(),
            Line::Dispatch { row: 0, attempt: 1, who: None },
            Line::Ok { row: 0, attempt: 1, msgid: Some("7".into()) },
        ]);
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"t":"ok","row":1"#);
        std::fs::write(&path, &torn).unwrap();
        let j = read_journal(&path, 3).unwrap();
        assert!(matches!(j.header, Some(Line::Header { rows: 3, .. })));
        assert_eq!(j.replay.rows[0], RowRecord::Delivered { attempts: 1 });
        assert_eq!(j.torn, Some(TornTail { offset: good.len() as u64, len: 17, dispatch: None }));

        let mut inside = good.clone();
        inside.extend_from_slice(b"{\"t\":\"dispa\n");
        inside.extend_from_slice(&journal(&[Line::Dispatch { row: 1, attempt: 1, who: None }]));
        std::fs::write(&path, inside).unwrap();
        let e = read_journal(&path, 3).unwrap_err().to_string();
        assert!(e.contains("journal.jsonl:4: the journal is damaged"), "{e}");
    }

    #[test]
    fn a_torn_dispatch_keeps_its_row_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut bytes = journal(&[header()]);
        bytes.extend_from_slice(br#"{"t":"dispatch","row":2,"attempt":1}	0000"#);
        std::fs::write(&path, &bytes).unwrap();
        let j = read_journal(&path, 3).unwrap();
        assert_eq!(j.torn.unwrap().dispatch, Some((2, 1)));
        assert_eq!(j.replay.rows[2], RowRecord::Unknown { attempts: 1 });
        // A row number that may itself be cut short is not trusted.
        assert_eq!(torn_dispatch(br#"{"t":"dispatch","row":1"#), None);
    }

    #[test]
    fn a_record_whose_checksum_fails_is_damage_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut bytes = journal(&[header(), Line::Dispatch { row: 0, attempt: 1, who: None }]);
        // Flip the row number of the dispatch record: still valid JSON, wrong checksum.
        let at = bytes.windows(7).position(|w| w == b"\"row\":0").unwrap() + 6;
        bytes[at] = b'1';
        bytes.extend_from_slice(&journal(&[Line::Ok { row: 0, attempt: 1, msgid: None }]));
        std::fs::write(&path, &bytes).unwrap();
        let e = read_journal(&path, 3).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
    }

    #[test]
    fn journals_without_checksums_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"t":"header","version":1,"campaign":"c","campaign_fp":"a","csv":"r.csv","csv_fp":"b","rows":2,"created":0}"#,
                "\n",
                r#"{"t":"dispatch","row":1,"attempt":1}"#,
                "\n"
            ),
        )
        .unwrap();
        let j = read_journal(&path, 2).unwrap();
        assert_eq!(j.replay.rows[1], RowRecord::Unknown { attempts: 1 });
        assert!(j.torn.is_none());
    }

    /// A journal of `rows` rows each dispatched and accepted (about 10 MiB at 80,000 rows).
    fn long_journal(rows: usize) -> Vec<u8> {
        let mut h = header();
        if let Line::Header { rows: r, .. } = &mut h {
            *r = rows;
        }
        let mut out = journal(&[h]);
        for row in 0..rows {
            encode(&Line::Dispatch { row, attempt: 1, who: None }, &mut out);
            let line = match row % 7 {
                3 => Line::Failed { row, attempt: 1, errcode: Some(43101), errmsg: "refused 拒收".into() },
                5 => Line::Failed { row, attempt: 2, errcode: None, errmsg: "timed out".into() },
                6 => continue,
                _ => {
                    Line::Ok { row, attempt: 1, msgid: Some(format!("{}", 4_674_045_479_742_390_278u64 + row as u64)) }
                }
            };
            encode(&line, &mut out);
        }
        out
    }

    fn full(path: &Path, rows: usize) -> (Replay, Vec<(usize, String)>) {
        std::fs::remove_file(checkpoint::path_for(path)).ok();
        let (j, m) = read_journal_with_msgids(path, rows, None).unwrap();
        std::fs::remove_file(checkpoint::path_for(path)).ok();
        (j.replay, m)
    }

    #[test]
    fn a_long_read_leaves_a_checkpoint_and_the_next_read_starts_there_with_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let rows = 80_000;
        let mut bytes = long_journal(rows);
        std::fs::write(&path, &bytes).unwrap();
        let (want, want_ids) = full(&path, rows);

        let (first, ids) = read_journal_with_msgids(&path, rows, None).unwrap();
        assert_eq!((first.replay.rows.clone(), &ids), (want.rows.clone(), &want_ids));
        assert_eq!(first.checkpoint, None, "the first read replays the journal whole");
        let cp = checkpoint::path_for(&path);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cp).unwrap().permissions().mode() & 0o777, 0o600);

        // Records appended after the checkpoint are replayed on top of it.
        let more = journal(&[
            Line::Run { at: 1, pending: 1, resend_unknown: false },
            Line::Dispatch { row: 6, attempt: 2, who: None },
            Line::Ok { row: 6, attempt: 2, msgid: Some("99".into()) },
            Line::Retry { row: 3, attempt: 1, errcode: Some(-1), errmsg: "busy".into() },
        ]);
        bytes.extend_from_slice(&more);
        let elsewhere = dir.path().join("copy.jsonl");
        std::fs::write(&elsewhere, &bytes).unwrap();
        let (want, want_ids) = full(&elsewhere, rows);
        std::fs::write(&path, &bytes).unwrap();
        let again = read_journal(&path, rows).unwrap();
        assert_eq!(again.checkpoint.map(|p| p.len), Some((bytes.len() - more.len()) as u64));
        assert_eq!(again.replay.rows, want.rows);
        assert_eq!(again.replay.runs, want.runs);
        assert!(matches!(again.header, Some(Line::Header { .. })));
        let (with_ids, ids) = read_journal_with_msgids(&path, rows, again.checkpoint).unwrap();
        assert_eq!((with_ids.replay.rows, ids), (want.rows, want_ids));
        // Another list length never uses it.
        assert_eq!(read_journal(&path, rows + 1).unwrap().checkpoint, None);
    }

    #[test]
    fn a_checkpoint_that_no_longer_matches_the_journal_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let rows = 80_000;
        let bytes = long_journal(rows);
        std::fs::write(&path, &bytes).unwrap();
        read_journal_with_msgids(&path, rows, None).unwrap();
        let cp = checkpoint::path_for(&path);
        assert!(cp.exists());

        // The same length, one record changed (and its checksum with it): a journal edited by
        // hand, or another journal put in its place.
        let edited = String::from_utf8(bytes.clone()).unwrap();
        let at = edited.find(r#"{"t":"ok","row":0,"#).unwrap();
        let end = at + edited[at..].find('\n').unwrap();
        let mut swapped = edited[..at].to_string();
        let mut line = Vec::new();
        encode(&Line::Ok { row: 0, attempt: 1, msgid: Some("4674045479742390270".into()) }, &mut line);
        swapped.push_str(std::str::from_utf8(&line).unwrap().trim_end());
        swapped.push_str(&edited[end..]);
        assert_eq!(swapped.len(), edited.len());
        std::fs::write(&path, &swapped).unwrap();
        let (read, ids) = read_journal_with_msgids(&path, rows, None).unwrap();
        assert_eq!(read.checkpoint, None);
        assert_eq!(ids[0], (0, "4674045479742390270".to_string()));

        // Cut back (a torn tail repaired, then a shorter run): longer than the journal, ignored.
        std::fs::write(&path, &bytes).unwrap();
        read_journal_with_msgids(&path, rows, None).unwrap();
        std::fs::write(&path, &bytes[..1000]).unwrap();
        let (read, _) = read_journal_with_msgids(&path, rows, None).unwrap();
        assert_eq!(read.checkpoint, None);

        // A checkpoint damaged on disk is ignored; one trusted for other bytes is checked anyway.
        std::fs::write(&path, &bytes).unwrap();
        read_journal_with_msgids(&path, rows, None).unwrap();
        let mut damaged = std::fs::read(&cp).unwrap();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 1;
        std::fs::write(&cp, &damaged).unwrap();
        assert_eq!(read_journal(&path, rows).unwrap().checkpoint, None);
        let (want, _) = full(&path, rows);
        read_journal_with_msgids(&path, rows, None).unwrap();
        std::fs::write(&path, &swapped).unwrap();
        let wrong = Some(Prefix { len: 1, crc: 2 });
        let (read, _) = read_journal_with_msgids(&path, rows, wrong).unwrap();
        assert_eq!(read.checkpoint, None);
        assert_eq!(read.replay.rows.len(), want.rows.len());
    }

    #[test]
    fn a_torn_record_after_the_checkpoint_is_still_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let rows = 80_000;
        let mut bytes = long_journal(rows);
        std::fs::write(&path, &bytes).unwrap();
        read_journal_with_msgids(&path, rows, None).unwrap();
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(br#"{"t":"dispatch","row":6,"attempt":2}	00"#);
        std::fs::write(&path, &bytes).unwrap();
        let j = read_journal(&path, rows).unwrap();
        assert_eq!(j.checkpoint.map(|p| p.len), Some(whole));
        let torn = j.torn.unwrap();
        assert_eq!((torn.offset, torn.dispatch), (whole, Some((6, 2))));
        assert_eq!(j.replay.rows[6], RowRecord::Unknown { attempts: 1 });
    }
}
