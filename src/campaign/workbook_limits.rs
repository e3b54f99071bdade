//! What a workbook may hold, checked before it is parsed: a 2 KB file can declare a range of 17
//! billion cells, a million-fold inflation, or ten million shared strings, and the parser would
//! try to allocate all of it. Zip-based workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.ods`) are
//! measured member by member (each inflated within the size its directory declares, the whole
//! within [`MAX_INFLATED`]); shared strings are counted, `.ods` sheets measured as the parser
//! would lay them out, `.xls` files checked by `xls_limits`; cells read one at a time are
//! checked by [`check_cell`]. Every refusal is a [`CsvProblem::WorkbookLimit`] (exit 2).

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

pub(super) use super::error::thousands;
use super::error::CsvProblem;

/// Columns a sheet may use or declare (Excel allows 16,384; a recipients list needs a few).
pub const MAX_COLUMNS: u32 = 1_024;
/// Rows a sheet may use or declare: Excel's own maximum.
pub const MAX_ROWS: u32 = 1_048_576;
/// Cells with a value in the sheet read (20 columns of a full Excel sheet).
pub const MAX_CELLS: u64 = 20_000_000;
/// Shared strings in a workbook.
pub const MAX_SHARED_STRINGS: u64 = 5_000_000;
/// Bytes a workbook inflates to, all members together (a CSV may be 1 GiB too).
pub const MAX_INFLATED: u64 = 1 << 30;
/// Members of a workbook's zip archive.
pub const MAX_MEMBERS: usize = 10_000;

fn refuse(what: String, limit: String) -> CsvProblem {
    CsvProblem::WorkbookLimit { what, limit }
}

fn damaged(detail: impl std::fmt::Display) -> CsvProblem {
    CsvProblem::Workbook { detail: detail.to_string() }
}

/// A1-style name of a 0-based column: 0 → `A`, 16383 → `XFD`.
pub fn column_name(mut col: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    name.reverse();
    String::from_utf8_lossy(&name).into_owned()
}

/// The range a sheet declares (0-based, inclusive), refused when wider or longer than wxsend
/// reads: checked before a cell is read.
pub fn check_declared(start: (u32, u32), end: (u32, u32)) -> Result<(), CsvProblem> {
    let rows = u64::from(end.0.saturating_sub(start.0)) + 1;
    let cols = u64::from(end.1.saturating_sub(start.1)) + 1;
    if rows > u64::from(MAX_ROWS) || cols > u64::from(MAX_COLUMNS) {
        let range = format!(
            "{}{}:{}{}",
            column_name(start.1),
            u64::from(start.0) + 1,
            column_name(end.1),
            u64::from(end.0) + 1
        );
        return Err(refuse(
            crate::tr!("workbook.range", range = range, rows = thousands(rows), columns = thousands(cols)),
            limits_words(),
        ));
    }
    Ok(())
}

/// A cell at `(row, col)` (0-based), the `count`-th with a value: refused outside the rows and
/// columns wxsend reads, or past [`MAX_CELLS`].
pub fn check_cell(row: u32, col: u32, count: u64) -> Result<(), CsvProblem> {
    if row >= MAX_ROWS || col >= MAX_COLUMNS {
        return Err(refuse(
            crate::tr!("workbook.cell", cell = format!("{}{}", column_name(col), u64::from(row) + 1)),
            limits_words(),
        ));
    }
    if count > MAX_CELLS {
        return Err(refuse(crate::tr!("workbook.cells", count = thousands(MAX_CELLS)), limits_words()));
    }
    Ok(())
}

fn limits_words() -> String {
    crate::tr!(
        "workbook.limits",
        rows = thousands(u64::from(MAX_ROWS)),
        columns = thousands(u64::from(MAX_COLUMNS)),
        last = column_name(MAX_COLUMNS - 1),
        cells = thousands(MAX_CELLS)
    )
}

/// Check a workbook's bytes before calamine opens them (see the module's documentation).
pub fn check_container(bytes: &[u8]) -> Result<(), CsvProblem> {
    if bytes.starts_with(b"PK\x03\x04") {
        check_zip(bytes)
    } else if bytes.starts_with(super::xls_limits::CFB_MAGIC) {
        super::xls_limits::check(bytes)
    } else {
        Ok(())
    }
}

fn check_zip(bytes: &[u8]) -> Result<(), CsvProblem> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(damaged)?;
    if zip.len() > MAX_MEMBERS {
        return Err(refuse(
            crate::tr!("workbook.members", count = thousands(zip.len() as u64)),
            crate::tr!("workbook.members_limit", count = thousands(MAX_MEMBERS as u64)),
        ));
    }
    let mut declared = 0u64;
    for i in 0..zip.len() {
        declared = declared.saturating_add(zip.by_index_raw(i).map_err(damaged)?.size());
    }
    if declared > MAX_INFLATED {
        return Err(refuse(
            crate::tr!("workbook.inflates", bytes = thousands(declared)),
            crate::tr!("workbook.inflated_limit", bytes = thousands(MAX_INFLATED)),
        ));
    }
    declared_shared_strings(&mut zip)?;
    for i in 0..zip.len() {
        let file = zip.by_index(i).map_err(damaged)?;
        let name = file.name().to_string();
        let mut member = Bounded { inner: file, left: 0, name: name.clone() };
        member.left = member.inner.size();
        match name.as_str() {
            "xl/sharedStrings.xml" => count_shared_strings(member)?,
            "content.xml" => super::ods_limits::check(member)?,
            _ => {
                std::io::copy(&mut member, &mut std::io::sink()).map_err(inflate_error)?;
            }
        }
    }
    Ok(())
}

/// A member read no further than its declared size: one that inflates past it is refused
/// (calamine would read on), so the sizes checked above are the sizes parsed.
pub(super) struct Bounded<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(std::io::Error::other(PastDeclared(self.name.clone()))),
        }
    }
}

#[derive(Debug)]
struct PastDeclared(String);

impl std::fmt::Display for PastDeclared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "its member {} inflates past the size the archive declares for it", self.0)
    }
}

impl std::error::Error for PastDeclared {}

/// A read error while inflating: a member larger than declared, or a damaged archive.
pub(super) fn inflate_error(e: std::io::Error) -> CsvProblem {
    io_problem(&e)
}

/// An XML reader's error: the member's read error (see [`inflate_error`]), or bad XML.
pub(super) fn xml_error(e: quick_xml::Error) -> CsvProblem {
    match &e {
        quick_xml::Error::Io(io) => io_problem(io),
        _ => damaged(e),
    }
}

fn io_problem(e: &std::io::Error) -> CsvProblem {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<PastDeclared>()) {
        Some(past) => refuse(
            crate::tr!("workbook.hostile", detail = past.to_string()),
            crate::tr!("workbook.declared_limit", bytes = thousands(MAX_INFLATED)),
        ),
        None => damaged(e),
    }
}

fn too_many_strings(n: u64) -> CsvProblem {
    refuse(
        crate::tr!("workbook.strings", count = thousands(n)),
        crate::tr!("workbook.strings_limit", count = thousands(MAX_SHARED_STRINGS)),
    )
}

/// The counts a workbook declares for its shared strings (`uniqueCount` in `.xlsx`, the first
/// record of `.xlsb`): a refusal from the first bytes, before any string is read.
fn declared_shared_strings(zip: &mut ZipArchive<Cursor<&[u8]>>) -> Result<(), CsvProblem> {
    let mut head = Vec::with_capacity(4096);
    let names: Vec<&str> = zip.file_names().collect();
    let xml = names.contains(&"xl/sharedStrings.xml");
    let bin = names.contains(&"xl/sharedStrings.bin");
    if xml {
        let file = zip.by_name("xl/sharedStrings.xml").map_err(damaged)?;
        file.take(4096).read_to_end(&mut head).map_err(inflate_error)?;
        let text = String::from_utf8_lossy(&head);
        let key = "uniqueCount=\"";
        let declared = text
            .find(key)
            .map(|at| &text[at + key.len()..])
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = declared.filter(|&n| n > MAX_SHARED_STRINGS) {
            return Err(too_many_strings(n));
        }
    } else if bin {
        let file = zip.by_name("xl/sharedStrings.bin").map_err(damaged)?;
        file.take(16).read_to_end(&mut head).map_err(inflate_error)?;
        // BrtBeginSst (record 159, written 9F 01), its size, then cstTotal and cstUnique.
        if let [0x9F, 0x01, _size, rest @ ..] = head.as_slice() {
            if let Some(unique) = rest.get(4..8) {
                let n = u64::from(u32::from_le_bytes([unique[0], unique[1], unique[2], unique[3]]));
                if n > MAX_SHARED_STRINGS {
                    return Err(too_many_strings(n));
                }
            }
        }
    }
    Ok(())
}

/// Count the `<si>` elements of `xl/sharedStrings.xml` as it inflates (the declared count may
/// lie).
fn count_shared_strings(member: impl Read) -> Result<(), CsvProblem> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(member));
    let mut buf = Vec::new();
    let mut count = 0u64;
    loop {
        match xml.read_event_into(&mut buf).map_err(xml_error)? {
            Event::Start(e) | Event::Empty(e) if is_local(&e, b"si") => {
                count += 1;
                if count > MAX_SHARED_STRINGS {
                    return Err(too_many_strings(count));
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// Whether the element's name, without its namespace prefix, is `local`.
pub(super) fn is_local(e: &BytesStart<'_>, local: &[u8]) -> bool {
    e.local_name().as_ref() == local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_named_as_excel_names_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(1023), "AMJ");
        assert_eq!(column_name(16383), "XFD");
    }

    #[test]
    fn the_whole_sheet_declared_is_refused() {
        let e = check_declared((0, 0), (MAX_ROWS - 1, 16383)).unwrap_err().to_string();
        assert!(e.contains("A1:XFD1048576 (1,048,576 rows × 16,384 columns)"), "{e}");
        assert!(check_declared((0, 0), (MAX_ROWS - 1, MAX_COLUMNS - 1)).is_ok());
        assert!(check_cell(5, MAX_COLUMNS, 1).is_err());
        assert!(check_cell(5, 3, MAX_CELLS + 1).is_err());
    }
}
