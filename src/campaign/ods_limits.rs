//! The sheets of an `.ods` workbook measured as calamine will lay them out, before it does:
//! calamine reads every sheet of `content.xml` at open and repeats a cell or row as often as
//! `table:number-columns-repeated` / `table:number-rows-repeated` say, so one short element can
//! stand for billions of cells. A cell counts once a cell with a value follows it in its row
//! (trailing empty cells and empty rows at the end cost nothing, as in calamine).

use std::io::Read;

use quick_xml::events::{BytesStart, Event};

use super::error::CsvProblem;
use super::workbook_limits::{check_declared, is_local, thousands, xml_error, MAX_CELLS};

/// One sheet's extent so far.
#[derive(Debug, Default)]
struct Extent {
    /// Rows before this one (repeats counted).
    rows: u64,
    /// The first and one past the last row with a value.
    first: Option<u64>,
    end: u64,
    /// The widest row with a value (repeated cells counted up to its last value).
    width: u64,
    /// Cells calamine keeps before repeating rows.
    stored: u64,
}

/// One row being read.
#[derive(Debug, Default)]
struct RowScan {
    repeat: u64,
    width: u64,
    empty_run: u64,
    has_value: bool,
}

fn repeat_of(e: &BytesStart<'_>, attr: &[u8]) -> Result<u64, CsvProblem> {
    match e.try_get_attribute(attr).map_err(|err| CsvProblem::Workbook { detail: err.to_string() })? {
        Some(a) => String::from_utf8_lossy(&a.value)
            .trim()
            .parse::<u64>()
            .map_err(|_| CsvProblem::Workbook { detail: "a repeat count that is not a number in content.xml".into() }),
        None => Ok(1),
    }
}

fn has_value(e: &BytesStart<'_>) -> Result<bool, CsvProblem> {
    Ok(e.try_get_attribute(b"office:value-type")
        .map_err(|err| CsvProblem::Workbook { detail: err.to_string() })?
        .is_some())
}

impl Extent {
    fn end_row(&mut self, row: RowScan) -> Result<(), CsvProblem> {
        self.stored = self.stored.saturating_add(row.width);
        if row.has_value {
            self.first.get_or_insert(self.rows);
            self.end = self.rows.saturating_add(row.repeat);
            self.width = self.width.max(row.width);
        }
        self.rows = self.rows.saturating_add(row.repeat);
        self.check()
    }

    fn check(&self) -> Result<(), CsvProblem> {
        let span = self.end.saturating_sub(self.first.unwrap_or(self.end));
        if span > 0 && self.width > 0 {
            let last = |n: u64| u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX);
            let first = u32::try_from(self.first.unwrap_or(0)).unwrap_or(u32::MAX);
            check_declared((first, 0), (last(self.end).max(first), last(self.width)))?;
        }
        let laid_out = span.saturating_mul(self.width);
        if self.stored > MAX_CELLS || laid_out > MAX_CELLS {
            return Err(CsvProblem::WorkbookLimit {
                what: format!(
                    "a sheet of the workbook repeats cells to {} rows × {} columns",
                    thousands(span),
                    thousands(self.width)
                ),
                limit: format!("{} cells", thousands(MAX_CELLS)),
            });
        }
        Ok(())
    }
}

/// Measure every sheet of `content.xml` (read through the caller's size bound).
pub(super) fn check(content: impl Read) -> Result<(), CsvProblem> {
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(content));
    let mut buf = Vec::new();
    let mut sheet = Extent::default();
    let mut row: Option<RowScan> = None;
    loop {
        let event = xml.read_event_into(&mut buf).map_err(xml_error)?;
        match &event {
            Event::Start(e) | Event::Empty(e) if is_local(e, b"table") => sheet = Extent::default(),
            Event::Start(e) | Event::Empty(e) if is_local(e, b"table-row") => {
                let scan = RowScan { repeat: repeat_of(e, b"table:number-rows-repeated")?, ..RowScan::default() };
                if matches!(event, Event::Empty(_)) {
                    sheet.end_row(scan)?;
                } else {
                    row = Some(scan);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"table-row" => {
                if let Some(scan) = row.take() {
                    sheet.end_row(scan)?;
                }
            }
            Event::Start(e) | Event::Empty(e) if is_local(e, b"table-cell") || is_local(e, b"covered-table-cell") => {
                if let Some(scan) = row.as_mut() {
                    let repeat = repeat_of(e, b"table:number-columns-repeated")?;
                    // A cell with content (an element of its own) or a value type holds a value.
                    if matches!(event, Event::Start(_)) || has_value(e)? {
                        scan.width = scan.width.saturating_add(scan.empty_run).saturating_add(repeat);
                        scan.empty_run = 0;
                        scan.has_value = true;
                    } else {
                        scan.empty_run = scan.empty_run.saturating_add(repeat);
                    }
                    // Wider than wxsend reads is refused before the row is laid out.
                    check_declared((0, 0), (0, u32::try_from(scan.width.saturating_sub(1)).unwrap_or(u32::MAX)))?;
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}
