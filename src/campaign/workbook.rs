//! Recipients from a spreadsheet (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) read with calamine.
//! Cells become the text a person sees in the sheet: text as is, whole numbers without `.0`,
//! decimals as shown (up to 15 significant digits), dates as `YYYY-MM-DD`, date-times as
//! `YYYY-MM-DD HH:MM`, formulas by their cached value. An openid cell that is not text, and a
//! cell holding a formula error, make their row invalid; messages name `file:sheet!row`.

use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};
use chrono::{Datelike, Timelike};

use super::error::{closest, CsvProblem, LoadError, Location};
use super::recipients::{check_headers, CellProblem, Recipients};

/// Spreadsheet file extensions read as workbooks.
pub const WORKBOOK_EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xlsb", "xls", "ods"];

/// Whether `path` names a spreadsheet.
pub fn is_workbook(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| WORKBOOK_EXTENSIONS.iter().any(|w| w.eq_ignore_ascii_case(e)))
}

/// Load the sheet `sheet` (default: the first) of the workbook at `path`.
pub fn load(path: &Path, sheet: Option<&str>, openid_column: &str) -> Result<Recipients, LoadError> {
    let fail = |sheet: Option<&str>, line: Option<u64>, problem: CsvProblem| LoadError::Recipients {
        at: Location { path: path.to_path_buf(), line, column: None, sheet: sheet.map(str::to_string) },
        problem: Box::new(problem),
    };
    super::recipients::check_file(path)?;
    let mut book =
        open_workbook_auto(path).map_err(|e| fail(None, None, CsvProblem::Workbook { detail: e.to_string() }))?;
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
    let range = book
        .worksheet_range(&name)
        .map_err(|e| fail(Some(&name), None, CsvProblem::Workbook { detail: e.to_string() }))?;
    let first_row = u64::from(range.start().map_or(0, |(row, _)| row)) + 1;
    let first_col = range.start().map_or(0, |(_, col)| col as usize);

    let mut rows = range.rows().enumerate().map(|(i, cells)| (first_row + i as u64, cells));
    let (header_line, headers) = loop {
        let Some((line, cells)) = rows.next() else {
            return Err(fail(Some(&name), None, CsvProblem::Empty { openid_column: openid_column.to_string() }));
        };
        if cells.iter().any(|c| !cell_text(c).trim().is_empty()) {
            let mut headers: Vec<String> = cells.iter().map(|c| cell_text(c).trim().to_string()).collect();
            while headers.last().is_some_and(String::is_empty) {
                headers.pop();
            }
            break (line, headers);
        }
    };
    let openid_index =
        check_headers(&headers, openid_column, first_col).map_err(|p| fail(Some(&name), Some(header_line), p))?;

    let mut table = Vec::new();
    let mut problems = Vec::new();
    for (line, cells) in rows {
        let mut texts: Vec<String> = cells.iter().take(headers.len()).map(cell_text).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        texts.resize(headers.len(), String::new());
        let index = table.len();
        for (col, cell) in cells.iter().take(headers.len()).enumerate() {
            if let Data::Error(e) = cell {
                problems.push(CellProblem {
                    row: index,
                    column: headers[col].clone(),
                    detail: format!("the cell holds the formula error {e}"),
                });
            } else if col == openid_index && !matches!(cell, Data::String(_) | Data::Empty) {
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
        table.push((line, texts));
    }
    Recipients::from_table(path, Some(name), headers, openid_index, table, problems)
        .map_err(|problem| fail(None, None, problem))
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
