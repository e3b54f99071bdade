//! An `.xls` workbook checked before calamine opens it. calamine reads every sheet at open and
//! reserves room for the range each sheet's DIMENSIONS record declares (up to 2^32 rows), and
//! the compound file around the sheets declares counts of its own: both are checked here
//! against the file's size and [`super::workbook_limits`]. The compound file (CFB) is read just
//! far enough to find the `Workbook` (BIFF8) or `Book` (BIFF5) stream; its BIFF records are then
//! scanned for declared ranges, cell positions and the shared-string count.

use super::error::CsvProblem;
use super::workbook_limits::{check_cell, check_declared, MAX_SHARED_STRINGS};

/// The first bytes of a compound file (an `.xls` workbook).
pub const CFB_MAGIC: &[u8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
/// Sector ids from here on are markers, not sectors.
const RESERVED: u32 = 0xFFFF_FFFA;
const MINI_SECTOR: usize = 64;
const MINI_CUTOFF: u64 = 4096;

fn damaged(detail: &str) -> CsvProblem {
    CsvProblem::Workbook { detail: crate::tr!("workbook.xls_damaged", detail = detail) }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A compound file's sectors and allocation table, every count checked against the file.
struct Cfb<'a> {
    bytes: &'a [u8],
    sector: usize,
    fat: Vec<u32>,
}

impl<'a> Cfb<'a> {
    fn open(bytes: &'a [u8]) -> Result<Self, CsvProblem> {
        let header = bytes.get(..512).ok_or_else(|| damaged("shorter than its header"))?;
        let shift = u16_at(header, 0x1E).unwrap_or(0);
        if shift != 9 && shift != 12 {
            return Err(damaged("an unknown sector size"));
        }
        let sector = 1usize << shift;
        let sectors_in_file = (bytes.len() / sector) as u64;
        let fat_sectors = u64::from(u32_at(header, 0x2C).unwrap_or(0));
        let difat_sectors = u64::from(u32_at(header, 0x48).unwrap_or(0));
        // calamine reserves room for these counts of sectors before reading any.
        let dir_sectors = u64::from(u32_at(header, 0x28).unwrap_or(0));
        let mini_fat_sectors = u64::from(u32_at(header, 0x40).unwrap_or(0));
        if [fat_sectors, difat_sectors, dir_sectors, mini_fat_sectors].iter().any(|&n| n > sectors_in_file) {
            return Err(damaged("its header declares more sectors than the file holds"));
        }
        let mut fat_ids: Vec<u32> = (0..109).filter_map(|i| u32_at(header, 0x4C + 4 * i)).collect();
        // calamine follows the DIFAT chain until it ends, whatever the header counts: it must end.
        let mut next = u32_at(header, 0x44).unwrap_or(END_OF_CHAIN);
        let mut steps = 0u64;
        while next < RESERVED {
            steps += 1;
            let s = Self::slice(bytes, sector, next)
                .filter(|_| steps <= sectors_in_file)
                .ok_or_else(|| damaged("its list of allocation sectors runs outside the file or in a loop"))?;
            fat_ids.extend((0..sector / 4 - 1).filter_map(|i| u32_at(s, 4 * i)));
            next = u32_at(s, sector - 4).unwrap_or(END_OF_CHAIN);
        }
        fat_ids.truncate(fat_sectors as usize);
        let mut fat = Vec::with_capacity(fat_ids.len() * sector / 4);
        for id in fat_ids {
            let s = Self::slice(bytes, sector, id).ok_or_else(|| damaged("an allocation sector outside the file"))?;
            fat.extend((0..sector / 4).filter_map(|i| u32_at(s, 4 * i)));
        }
        Ok(Self { bytes, sector, fat })
    }

    fn slice(bytes: &[u8], sector: usize, id: u32) -> Option<&[u8]> {
        let start = (id as usize).checked_add(1)?.checked_mul(sector)?;
        bytes.get(start..start.checked_add(sector)?)
    }

    fn regular(&self, start: u32) -> Result<Vec<u8>, CsvProblem> {
        follow(start, &self.fat, |id| Self::slice(self.bytes, self.sector, id))
    }

    /// What calamine reads when it opens the file, checked: every directory entry's declared
    /// size within the file, and the chains of the directory, the mini stream and the mini
    /// allocation table ending without a loop.
    fn check_directory(&self) -> Result<(), CsvProblem> {
        let header = &self.bytes[..512];
        let directory = self.regular(u32_at(header, 0x30).unwrap_or(END_OF_CHAIN))?;
        for entry in directory.chunks(128) {
            let size = if self.sector == 512 {
                u64::from(u32_at(entry, 0x78).unwrap_or(0))
            } else {
                entry.get(0x78..0x80).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
            };
            if size > self.bytes.len() as u64 {
                return Err(damaged("a stream is declared larger than the file"));
            }
        }
        if u32_at(header, 0x40).unwrap_or(0) > 0 {
            let root = directory.get(..128).ok_or_else(|| damaged("it has no root entry"))?;
            self.regular(u32_at(root, 0x74).unwrap_or(END_OF_CHAIN))?;
            self.regular(u32_at(header, 0x3C).unwrap_or(END_OF_CHAIN))?;
        }
        Ok(())
    }

    /// The workbook stream: `Workbook`, or `Book` in older files.
    fn workbook(&self) -> Result<Vec<u8>, CsvProblem> {
        let header = &self.bytes[..512];
        let directory = self.regular(u32_at(header, 0x30).unwrap_or(END_OF_CHAIN))?;
        let entries: Vec<&[u8]> = directory.chunks_exact(128).collect();
        let name_of = |e: &[u8]| {
            let len = usize::from(u16_at(e, 0x40).unwrap_or(0)).min(64).saturating_sub(2);
            let units: Vec<u16> = (0..len / 2).filter_map(|i| u16_at(e, 2 * i)).collect();
            String::from_utf16_lossy(&units)
        };
        let found = ["Workbook", "Book"]
            .iter()
            .find_map(|want| entries.iter().find(|e| e.get(0x42) == Some(&2) && name_of(e).eq_ignore_ascii_case(want)))
            .ok_or_else(|| damaged("it has no Workbook stream"))?;
        let start = u32_at(found, 0x74).unwrap_or(END_OF_CHAIN);
        let size = u64::from(u32_at(found, 0x78).unwrap_or(0));
        if size > self.bytes.len() as u64 {
            return Err(damaged("its Workbook stream is declared larger than the file"));
        }
        let mut stream = if size >= MINI_CUTOFF {
            self.regular(start)?
        } else {
            let root = entries.first().ok_or_else(|| damaged("it has no root entry"))?;
            let mini_stream = self.regular(u32_at(root, 0x74).unwrap_or(END_OF_CHAIN))?;
            let mini_fat_bytes = self.regular(u32_at(header, 0x3C).unwrap_or(END_OF_CHAIN))?;
            let mini_fat: Vec<u32> =
                (0..mini_fat_bytes.len() / 4).filter_map(|i| u32_at(&mini_fat_bytes, 4 * i)).collect();
            follow(start, &mini_fat, |id| {
                let at = (id as usize).checked_mul(MINI_SECTOR)?;
                mini_stream.get(at..at.checked_add(MINI_SECTOR)?)
            })?
        };
        if (stream.len() as u64) < size {
            return Err(damaged("its Workbook stream is shorter than declared"));
        }
        stream.truncate(size as usize);
        Ok(stream)
    }
}

/// The sectors of the chain starting at `start` in `table`, joined (a loop is damage).
fn follow<'b>(start: u32, table: &[u32], get: impl Fn(u32) -> Option<&'b [u8]>) -> Result<Vec<u8>, CsvProblem> {
    let mut out = Vec::new();
    let mut id = start;
    let mut steps = 0;
    while id != END_OF_CHAIN {
        steps += 1;
        if steps > table.len() {
            return Err(damaged("a sector chain that loops"));
        }
        out.extend_from_slice(get(id).ok_or_else(|| damaged("a sector outside the file"))?);
        id = *table.get(id as usize).ok_or_else(|| damaged("a sector outside its table"))?;
    }
    Ok(out)
}

/// Check an `.xls` workbook's declared ranges, cells and shared strings (see the module's
/// documentation).
pub fn check(bytes: &[u8]) -> Result<(), CsvProblem> {
    let cfb = Cfb::open(bytes)?;
    cfb.check_directory()?;
    let stream = cfb.workbook()?;
    let mut at = 0;
    let mut cells = 0u64;
    while let (Some(kind), Some(len)) = (u16_at(&stream, at), u16_at(&stream, at + 2)) {
        let data = stream.get(at + 4..at + 4 + usize::from(len)).unwrap_or(&[]);
        at += 4 + usize::from(len);
        match kind {
            0x0200 => check_dimensions(data)?,
            // NUMBER, LABEL, BOOLERR, RK, LABELSST, FORMULA: row and column first.
            0x0203 | 0x0204 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                if let (Some(row), Some(col)) = (u16_at(data, 0), u16_at(data, 2)) {
                    cells += 1;
                    check_cell(u32::from(row), u32::from(col), cells)?;
                }
            }
            // MULRK: a row, its first column, the values, its last column.
            0x00BD => {
                if let (Some(row), Some(first), Some(last)) =
                    (u16_at(data, 0), u16_at(data, 2), u16_at(data, data.len().saturating_sub(2)))
                {
                    cells += u64::from(last.saturating_sub(first)) + 1;
                    check_cell(u32::from(row), u32::from(last.max(first)), cells)?;
                }
            }
            // SST: the total, then the unique count.
            0x00FC => {
                if let Some(unique) = u32_at(data, 4).map(u64::from).filter(|&n| n > MAX_SHARED_STRINGS) {
                    return Err(CsvProblem::WorkbookLimit {
                        what: crate::tr!("workbook.strings", count = unique),
                        limit: crate::tr!("workbook.strings_limit", count = MAX_SHARED_STRINGS),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A DIMENSIONS record, read as calamine reads it (BIFF8: 32-bit rows; BIFF5: 16-bit).
fn check_dimensions(r: &[u8]) -> Result<(), CsvProblem> {
    let (first_row, end_row, mut first_col, end_col) = match r.len() {
        10 => (
            u32::from(u16_at(r, 0).unwrap_or(0)),
            u32::from(u16_at(r, 2).unwrap_or(0)),
            u32::from(u16_at(r, 4).unwrap_or(0)),
            u32::from(u16_at(r, 6).unwrap_or(0)),
        ),
        14 => (
            u32_at(r, 0).unwrap_or(0),
            u32_at(r, 4).unwrap_or(0),
            u32::from(u16_at(r, 8).unwrap_or(0)),
            u32::from(u16_at(r, 10).unwrap_or(0)),
        ),
        _ => return Ok(()),
    };
    if first_col > 0xFF || end_col < first_col {
        first_col = 0;
    }
    if end_row == 0 || end_col == 0 {
        return Ok(());
    }
    if end_row - 1 < first_row || end_col - 1 < first_col {
        return Err(damaged("a sheet declares a range that ends before it starts"));
    }
    check_declared((first_row, first_col), (end_row - 1, end_col - 1))
}
