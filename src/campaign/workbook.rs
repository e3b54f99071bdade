//! Recipients from a spreadsheet (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) read with calamine.
//! Cells become the text a person sees in the sheet: text as is, whole numbers without `.0`,
//! decimals as shown (up to 15 significant digits), dates as `YYYY-MM-DD`, date-times as
//! `YYYY-MM-DD HH:MM`, formulas by their cached value. An openid cell that is not text, and a
//! cell holding a formula error, make their row invalid; messages name `file:sheet!row`.

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Ods, Reader, Sheets, Xls, Xlsb, Xlsx};
use chrono::{Datelike, Timelike};
use sha2::Digest;

use super::error::{closest, CsvProblem, LoadError, Location};
use super::recipients::{check_headers, CellProblem, Recipients, TableSource};
use super::workbook_limits::{check_cell, check_container, check_declared};

/// Spreadsheet file extensions read as workbooks.
pub const WORKBOOK_EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xlsb", "xls", "ods"];

/// Whether `path` names a spreadsheet.
pub fn is_workbook(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| WORKBOOK_EXTENSIONS.iter().any(|w| w.eq_ignore_ascii_case(e)))
}

type Book<'a> = Sheets<Cursor<&'a [u8]>>;

/// Open the workbook's bytes with the reader its extension names.
fn open<'a>(path: &Path, bytes: &'a [u8]) -> Result<Book<'a>, CsvProblem> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let cursor = Cursor::new(bytes);
    let detail = |e: &dyn std::fmt::Display| CsvProblem::Workbook { detail: e.to_string() };
    match ext.as_str() {
        "xls" => Xls::new(cursor).map(Sheets::Xls).map_err(|e| detail(&e)),
        "xlsb" => Xlsb::new(cursor).map(Sheets::Xlsb).map_err(|e| detail(&e)),
        "ods" => Ods::new(cursor).map(Sheets::Ods).map_err(|e| detail(&e)),
        _ => Xlsx::new(cursor).map(Sheets::Xlsx).map_err(|e| detail(&e)),
    }
}

/// Load the sheet `sheet` (default: the first) of the workbook at `path`. The file is read
/// once: the bytes hashed for the journal's binding are the bytes parsed. Its limits are checked
/// before the parser allocates anything (`workbook_limits`).
pub fn load(path: &Path, sheet: Option<&str>, openid_column: &str) -> Result<Recipients, LoadError> {
    super::recipients::check_file(path)?;
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    from_bytes(path, &bytes, sheet, openid_column)
}

/// Parse a workbook's bytes (`path` names its format and appears in messages); see [`load`]. A
/// panic inside the spreadsheet parser on a damaged file is a refusal of the file, not a crash.
pub fn from_bytes(
    path: &Path,
    bytes: &[u8],
    sheet: Option<&str>,
    openid_column: &str,
) -> Result<Recipients, LoadError> {
    let parse = std::panic::AssertUnwindSafe(|| parse(path, bytes, sheet, openid_column));
    std::panic::catch_unwind(parse).unwrap_or_else(|_| {
        Err(LoadError::Recipients {
            at: Location { path: path.to_path_buf(), line: None, column: None, sheet: sheet.map(str::to_string) },
            problem: Box::new(CsvProblem::Workbook {
                detail: "the file is damaged (the spreadsheet reader gave up on it); open it in Excel or WPS and save it again".into(),
            }),
        })
    })
}

fn parse(path: &Path, bytes: &[u8], sheet: Option<&str>, openid_column: &str) -> Result<Recipients, LoadError> {
    let fail = |sheet: Option<&str>, line: Option<u64>, problem: CsvProblem| LoadError::Recipients {
        at: Location { path: path.to_path_buf(), line, column: None, sheet: sheet.map(str::to_string) },
        problem: Box::new(problem),
    };
    let digest: [u8; 32] = sha2::Sha256::digest(bytes).into();
    check_container(bytes).map_err(|p| fail(None, None, p))?;
    let mut book = open(path, bytes).map_err(|p| fail(None, None, p))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(wanted) => names.iter().find(|n| n.as_str() == wanted).cloned().ok_or_else(|| {
            fail(
                None,
                None,
                CsvProblem::NoSuchSheet {
                    sheet: wanted.to_string(),
                    closest: closest(wanted, names.iter().map(String::as_str)),
                    sheets: names.clone(),
                },
            )
        })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| fail(None, None, CsvProblem::Workbook { detail: "it has no sheet".into() }))?,
    };
    let cells = read_cells(&mut book, &name).map_err(|p| fail(Some(&name), None, p))?;
    drop(book);
    let table = Table::of(cells, openid_column).map_err(|(line, p)| fail(Some(&name), line, p))?;
    let source = TableSource { path, sheet: name, digest, header_line: table.header_line };
    Recipients::from_table(source, table.headers, table.openid_index, table.rows, table.problems)
        .map_err(|problem| fail(None, None, problem))
}

/// A sheet's cells with a value, in row order, as `(row, column, value)` (0-based): read one at a
/// time where the format allows (`.xlsx`, `.xlsb`: the declared range and every cell checked
/// before it is kept), from calamine's range otherwise (the container was checked before).
fn read_cells(book: &mut Book<'_>, name: &str) -> Result<Vec<(u32, u32, Data)>, CsvProblem> {
    let detail = |e: &dyn std::fmt::Display| CsvProblem::Workbook { detail: e.to_string() };
    let mut cells: Vec<(u32, u32, Data)> = Vec::new();
    let mut keep = |(row, col): (u32, u32), value: Data| -> Result<(), CsvProblem> {
        if !matches!(value, Data::Empty) {
            check_cell(row, col, cells.len() as u64 + 1)?;
            cells.push((row, col, value));
        }
        Ok(())
    };
    match book {
        Sheets::Xlsx(x) => {
            let mut reader = x.worksheet_cells_reader(name).map_err(|e| detail(&e))?;
            let d = reader.dimensions();
            check_declared(d.start, d.end)?;
            while let Some(cell) = reader.next_cell().map_err(|e| detail(&e))? {
                keep(cell.get_position(), Data::from(cell.get_value().clone()))?;
            }
        }
        Sheets::Xlsb(x) => {
            let mut reader = x.worksheet_cells_reader(name).map_err(|e| detail(&e))?;
            let d = reader.dimensions();
            check_declared(d.start, d.end)?;
            while let Some(cell) = reader.next_cell().map_err(|e| detail(&e))? {
                keep(cell.get_position(), Data::from(cell.get_value().clone()))?;
            }
        }
        other => {
            let range = other.worksheet_range(name).map_err(|e| detail(&e))?;
            let (top, left) = range.start().unwrap_or((0, 0));
            for (row, col, value) in range.used_cells() {
                keep((top + row as u32, left + col as u32), value.clone())?;
            }
        }
    }
    if !cells.is_sorted_by_key(|c| (c.0, c.1)) {
        cells.sort_by_key(|c| (c.0, c.1));
    }
    Ok(cells)
}

/// A sheet's cells as a recipients table: the header (the first row with a value), then each
/// row with a value, one text per header column.
struct Table {
    header_line: u64,
    headers: Vec<String>,
    openid_index: usize,
    rows: Vec<(u64, Vec<String>)>,
    problems: Vec<CellProblem>,
}

impl Table {
    fn of(cells: Vec<(u32, u32, Data)>, openid_column: &str) -> Result<Self, (Option<u64>, CsvProblem)> {
        // Columns count from the leftmost cell with a value, as a person reads the sheet.
        let first_col = cells.iter().map(|c| c.1).min().unwrap_or(0);
        let mut by_row =
            cells.chunk_by(|a, b| a.0 == b.0).filter(|row| row.iter().any(|c| !cell_text(&c.2).trim().is_empty()));
        let Some(header_cells) = by_row.next() else {
            return Err((None, CsvProblem::Empty { openid_column: openid_column.to_string() }));
        };
        let header_line = u64::from(header_cells[0].0) + 1;
        let width = header_cells.iter().map(|c| (c.1 - first_col) as usize + 1).max().unwrap_or(0);
        let mut headers = vec![String::new(); width];
        for (_, col, value) in header_cells {
            headers[(col - first_col) as usize] = cell_text(value).trim().to_string();
        }
        while headers.last().is_some_and(String::is_empty) {
            headers.pop();
        }
        let openid_index =
            check_headers(&headers, openid_column, first_col as usize).map_err(|p| (Some(header_line), p))?;
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for row in by_row {
            let index = rows.len();
            let mut texts = vec![String::new(); headers.len()];
            for (_, col, cell) in row {
                let Some(slot) = texts.get_mut((col - first_col) as usize) else { continue };
                *slot = cell_text(cell);
                let col = (col - first_col) as usize;
                if let Data::Error(e) = cell {
                    problems.push(CellProblem {
                        row: index,
                        column: headers[col].clone(),
                        detail: crate::tr!("workbook.formula_error", error = e.to_string()),
                    });
                } else if col == openid_index && !matches!(cell, Data::String(_)) {
                    problems.push(CellProblem {
                        row: index,
                        column: headers[col].clone(),
                        detail: format!(
                            "the openid cell holds a {} ({}), not text: an openid is text like oAbC…; format the column as Text and paste the openids again",
                            kind_of(cell),
                            texts[col]
                        ),
                    });
                }
            }
            if texts.iter().all(|t| t.trim().is_empty()) {
                continue;
            }
            rows.push((u64::from(row[0].0) + 1, texts));
        }
        Ok(Self { header_line, headers, openid_index, rows, problems })
    }
}

fn kind_of(cell: &Data) -> &'static str {
    match cell {
        Data::Int(_) | Data::Float(_) => "number",
        Data::Bool(_) => "true/false value",
        Data::DateTime(_) | Data::DateTimeIso(_) | Data::DurationIso(_) => "date",
        _ => "value",
    }
}

/// The text a person sees in the cell.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Data::DateTime(dt) if dt.is_duration() => {
            let secs = (dt.as_f64() * 86_400.0).round() as i64;
            format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
        }
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => date_text(
                &format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
                &format!("{:02}:{:02}", t.hour(), t.minute()),
            ),
            None => number_text(dt.as_f64()),
        },
        Data::DateTimeIso(s) => match s.split_once('T') {
            Some((date, time)) => date_text(date, time.get(..5).unwrap_or(time)),
            None => s.clone(),
        },
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

fn date_text(date: &str, hhmm: &str) -> String {
    if hhmm == "00:00" {
        date.to_string()
    } else {
        format!("{date} {hhmm}")
    }
}

/// A number as a spreadsheet shows it: whole numbers without `.0`, others with at most 15
/// significant digits and no trailing zeros.
pub fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{f:.0}");
    }
    let magnitude = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
    let decimals = (14 - magnitude).clamp(0, 15) as usize;
    let text = format!("{f:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_shown() {
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(-3.25), "-3.25");
        assert_eq!(number_text(13800138000.0), "13800138000");
        assert_eq!(number_text(1234.5678), "1234.5678");
    }
}
