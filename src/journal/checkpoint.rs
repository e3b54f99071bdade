//! A checkpoint of a journal's replay: every row's state and every accepted row's msgid as they
//! stood at a byte offset of the journal, kept beside it (`journal.checkpoint`, 0600), so that a
//! reader of a long journal replays only what was appended since.
//!
//! It is a cache, never the truth: it names the journal length it covers and the CRC-32C of those
//! bytes, and a reader uses it only when the journal's first `len` bytes still have that CRC (a
//! journal cut back by a torn-tail repair, replaced by `--new-run`, or edited by hand fails the
//! check and is replayed whole). Its own bytes end with a CRC of their own, so a checkpoint half
//! written when the machine stopped is ignored too.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::format::{FailedRow, Replay, RowRecord};

const MAGIC: &[u8] = b"wxsend journal checkpoint 1\n";

/// A journal replay is checkpointed once it read at least this many bytes past the checkpoint it
/// started from: below that, replaying the records again costs less than a few milliseconds.
pub const MIN_BYTES: u64 = 8 << 20;

/// The state of a journal's rows at `len` bytes.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The journal bytes it covers (always whole records).
    pub len: u64,
    /// The CRC-32C of those bytes.
    pub crc: u32,
    /// The lines in those bytes (for the line numbers of errors found after them).
    pub lines: usize,
    /// Every row's state.
    pub replay: Replay,
    /// Every accepted row with its msgid, in journal order.
    pub msgids: Vec<(usize, String)>,
}

/// Where the checkpoint of `journal` is kept.
pub fn path_for(journal: &Path) -> PathBuf {
    journal.with_extension("checkpoint")
}

/// The checkpoint of `journal` for a list of `rows` rows, when one is there, whole, and for as
/// many rows; `None` otherwise (the caller replays the journal whole). Its msgids are decoded
/// only when `msgids` asks for them.
pub fn load(journal: &Path, rows: usize, msgids: bool) -> Option<Checkpoint> {
    let bytes = std::fs::read(path_for(journal)).ok()?;
    let body = bytes.strip_prefix(MAGIC)?;
    let (body, sum) = body.split_at_checked(body.len().checked_sub(4)?)?;
    if crc32c::crc32c(body) != u32::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut r = Reader(body);
    let (len, crc, lines, count, runs) = (r.u64()?, r.u32()?, r.u64()?, r.u64()?, r.u64()?);
    if count != rows as u64 {
        return None;
    }
    let mut replay = Replay { rows: Vec::with_capacity(rows), runs: usize::try_from(runs).ok()? };
    for _ in 0..rows {
        replay.rows.push(r.record()?);
    }
    let mut ids = Vec::new();
    if msgids {
        let n = r.u64()?;
        ids.reserve(usize::try_from(n).ok()?);
        for _ in 0..n {
            let row = r.u32()? as usize;
            let len = r.u16()? as usize;
            ids.push((row, String::from_utf8(r.take(len)?.to_vec()).ok()?));
        }
    }
    Some(Checkpoint { len, crc, lines: usize::try_from(lines).ok()?, replay, msgids: ids })
}

/// Write `checkpoint` beside `journal` (0600, renamed into place). Nothing is written when a row
/// number, a msgid or an errmsg does not fit its field.
pub fn save(journal: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    let rows = &checkpoint.replay.rows;
    let long_failure = rows.iter().any(|r| matches!(r, RowRecord::Failed(f) if f.errmsg.len() > 0xFFFF));
    let fits = u32::try_from(rows.len()).is_ok()
        && !long_failure
        && checkpoint.msgids.iter().all(|(row, id)| id.len() <= 0xFFFF && u32::try_from(*row).is_ok());
    if !fits {
        return Ok(());
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 48 + rows.len() * 5 + checkpoint.msgids.len() * 26);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&checkpoint.len.to_le_bytes());
    out.extend_from_slice(&checkpoint.crc.to_le_bytes());
    for n in [checkpoint.lines, rows.len(), checkpoint.replay.runs] {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    for record in rows {
        put_record(&mut out, record);
    }
    out.extend_from_slice(&(checkpoint.msgids.len() as u64).to_le_bytes());
    for (row, id) in &checkpoint.msgids {
        out.extend_from_slice(&(*row as u32).to_le_bytes());
        out.extend_from_slice(&(id.len() as u16).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
    }
    let sum = crc32c::crc32c(&out[MAGIC.len()..]);
    out.extend_from_slice(&sum.to_le_bytes());
    crate::private::write_whole(&path_for(journal), &out, false)
}

/// Whether the first `len` bytes of `file` (read from its start) have the CRC-32C `crc`; the
/// file is left just past them. The first line read is given back: the journal's header.
pub fn prefix_matches(file: &mut File, len: u64, crc: u32) -> std::io::Result<Option<Vec<u8>>> {
    let mut sum = 0u32;
    let mut first: Option<Vec<u8>> = None;
    let mut head = Vec::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(None);
        }
        let chunk = &buf[..n];
        sum = crc32c::crc32c_append(sum, chunk);
        if first.is_none() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    head.extend_from_slice(&chunk[..end]);
                    first = Some(std::mem::take(&mut head));
                }
                None => head.extend_from_slice(chunk),
            }
        }
        left -= n as u64;
    }
    Ok(first.filter(|_| sum == crc))
}

/// The first line of `file` (read from its start), without its line end; `None` when the file
/// has no whole line.
pub fn first_line(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::BufRead;
    let mut line = Vec::new();
    std::io::BufReader::new(&mut *file).read_until(b'\n', &mut line)?;
    Ok(line.strip_suffix(b"\n").map(<[u8]>::to_vec))
}

fn put_record(out: &mut Vec<u8>, record: &RowRecord) {
    match record {
        RowRecord::Pending => out.push(0),
        RowRecord::Unknown { attempts } => {
            out.push(1);
            out.extend_from_slice(&attempts.to_le_bytes());
        }
        RowRecord::Delivered { attempts } => {
            out.push(2);
            out.extend_from_slice(&attempts.to_le_bytes());
        }
        RowRecord::Failed(f) => {
            out.push(if f.errcode.is_some() { 3 } else { 4 });
            out.extend_from_slice(&f.attempts.to_le_bytes());
            if let Some(code) = f.errcode {
                out.extend_from_slice(&code.to_le_bytes());
            }
            out.extend_from_slice(&(f.errmsg.len() as u16).to_le_bytes());
            out.extend_from_slice(f.errmsg.as_bytes());
        }
    }
}

/// Little-endian fields read off the front of a slice; `None` once it runs out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn record(&mut self) -> Option<RowRecord> {
        let tag = self.take(1)?[0];
        Some(match tag {
            0 => RowRecord::Pending,
            1 => RowRecord::Unknown { attempts: self.u32()? },
            2 => RowRecord::Delivered { attempts: self.u32()? },
            3 | 4 => {
                let attempts = self.u32()?;
                let errcode = if tag == 3 { Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?)) } else { None };
                let len = self.u16()? as usize;
                let errmsg = String::from_utf8(self.take(len)?.to_vec()).ok()?;
                RowRecord::Failed(Box::new(FailedRow { attempts, errcode, errmsg }))
            }
            _ => return None,
        })
    }
}
