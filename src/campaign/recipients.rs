//! The recipients CSV: encoding and delimiter detection, header rules, compact row storage.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;

use super::config::EncodingChoice;
use super::csv_scan::Compactor;
use super::error::{closest, CsvProblem, LoadError, Location};
use super::file_checks::binary_kind;
pub use super::file_checks::{check_file, MAX_FILE_BYTES};

/// The encoding a recipients file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectedEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// GB18030 (GBK).
    Gb18030,
    /// UTF-16, little-endian (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// A spreadsheet (cells, no text encoding): its failures export as UTF-8 with a BOM.
    Workbook,
}

impl DetectedEncoding {
    /// The encoding's name for messages.
    pub fn label(self) -> &'static str {
        match self {
            DetectedEncoding::Utf8 => "utf-8",
            DetectedEncoding::Utf8Bom => "utf-8 with BOM",
            DetectedEncoding::Gb18030 => "gbk/gb18030",
            DetectedEncoding::Utf16Le => "utf-16le",
            DetectedEncoding::Utf16Be => "utf-16be",
            DetectedEncoding::Workbook => "workbook",
        }
    }

    /// Whether the file started with a byte-order mark (an export mirrors it for Excel).
    pub fn had_bom(self) -> bool {
        matches!(
            self,
            DetectedEncoding::Utf8Bom
                | DetectedEncoding::Utf16Le
                | DetectedEncoding::Utf16Be
                | DetectedEncoding::Workbook
        )
    }
}

/// The header's rules, for CSV and workbooks alike: no empty name, no name twice, the openid
/// column present. The openid column's index, or what is wrong (`first_column` is added to
/// the column numbers it names: a sheet's data may start right of column A).
pub(crate) fn check_headers(headers: &[String], openid_column: &str, first_column: usize) -> Result<usize, CsvProblem> {
    // One pass with the first column of each name: a header of 100,000 columns is checked in
    // linear time.
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            return Err(CsvProblem::EmptyHeader { column: first_column + i + 1 });
        }
        if let Some(&j) = seen.get(name.as_str()) {
            return Err(CsvProblem::DuplicateHeader { name: name.clone(), first: j + 1, second: i + 1 });
        }
        seen.insert(name, i);
    }
    headers.iter().position(|h| h == openid_column).ok_or_else(|| CsvProblem::MissingOpenidColumn {
        column: openid_column.to_string(),
        closest: closest(openid_column, headers.iter().map(String::as_str)),
        headers: headers.to_vec(),
    })
}

/// One data row: where it was in the file and where its fields are stored.
#[derive(Debug, Clone, Copy)]
struct RawRow {
    line: u32,
    first_field: u32,
    fields: u32,
}

/// All rows of a recipients file in one text buffer plus field offsets (no allocation per cell).
#[derive(Debug)]
pub struct Recipients {
    /// The file.
    pub path: PathBuf,
    /// How it was decoded.
    pub encoding: DetectedEncoding,
    /// Its delimiter.
    pub delimiter: u8,
    /// The header's names.
    pub headers: Vec<String>,
    /// The index of the openid column.
    pub openid_column: usize,
    /// The sheet, for a workbook (then a row's line is its row number in the sheet).
    pub sheet: Option<String>,
    /// SHA-256 of the very bytes that were parsed (read once: a file replaced afterwards does
    /// not change what this list is bound to).
    pub digest: [u8; 32],
    /// The line (or sheet row) of the header: the rows are numbered from it.
    pub header_line: u64,
    /// Cells that make their row invalid (a workbook's openid that is a number, a formula
    /// error), by row.
    pub cell_problems: Vec<CellProblem>,
    data: String,
    ends: Vec<u32>,
    rows: Vec<RawRow>,
}

/// Where a table of cells came from: the workbook, its sheet, the hash of the workbook's bytes
/// as read, and the header's row.
#[derive(Debug)]
pub struct TableSource<'a> {
    /// The workbook.
    pub path: &'a Path,
    /// The sheet the rows are from.
    pub sheet: String,
    /// SHA-256 of the workbook's bytes that were parsed.
    pub digest: [u8; 32],
    /// The header's row number in the sheet.
    pub header_line: u64,
}

/// A cell that makes its row invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// The row (0-based, among data rows).
    pub row: usize,
    /// The column's name.
    pub column: String,
    /// What is wrong and the fix.
    pub detail: String,
}

/// Borrowed view of one row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    recipients: &'a Recipients,
    index: usize,
    raw: RawRow,
}

impl<'a> Row<'a> {
    /// 0-based index among the data rows.
    pub fn index(&self) -> usize {
        self.index
    }

    /// 1-based line of the file where the row starts.
    pub fn line(&self) -> u64 {
        u64::from(self.raw.line)
    }

    /// Number of fields the row actually has.
    pub fn field_count(&self) -> usize {
        self.raw.fields as usize
    }

    /// Field `column` as written (empty when the row is short).
    pub fn field(&self, column: usize) -> &'a str {
        if column >= self.raw.fields as usize {
            return "";
        }
        let i = self.raw.first_field as usize + column;
        let start = if i == 0 { 0 } else { self.recipients.ends[i - 1] as usize };
        let end = self.recipients.ends[i] as usize;
        self.recipients.data.get(start..end).unwrap_or("")
    }

    /// The openid, trimmed of surrounding whitespace.
    pub fn openid(&self) -> &'a str {
        self.field(self.recipients.openid_column).trim()
    }

    /// All fields as written, in file order.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.field_count()).map(move |c| self.field(c))
    }
}

/// The UTF-8 byte order mark.
const BOM: &str = "\u{feff}";

impl Recipients {
    /// Read and parse the recipients file.
    pub fn load(path: &Path, encoding: EncodingChoice, openid_column: &str) -> Result<Self, LoadError> {
        let io = |source| LoadError::Io { path: path.to_path_buf(), source };
        check_file(path)?;
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_bytes(path, bytes, encoding, openid_column)
    }

    /// Parse file contents; `path` is used in messages.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        encoding: EncodingChoice,
        openid_column: &str,
    ) -> Result<Self, LoadError> {
        let fail = |line: Option<u64>, problem: CsvProblem| LoadError::Recipients {
            at: Location { path: path.to_path_buf(), line, column: None, sheet: None },
            problem: Box::new(problem),
        };
        if bytes.len() >= u32::MAX as usize {
            return Err(fail(None, CsvProblem::TooLarge));
        }
        if let Some(what) = binary_kind(&bytes) {
            return Err(fail(None, CsvProblem::Binary { what }));
        }
        let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        let (text, detected) = decode(bytes, encoding).map_err(|(problem, line)| fail(line, problem))?;
        let start = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let delimiter = detect_delimiter(&text[start..], openid_column).map_err(|p| fail(Some(1), p))?;
        let mut reader = Compactor::new(text.into_bytes(), start, delimiter);

        let (headers, header_line): (Vec<String>, u64) = loop {
            let Some(line) = reader.next_record() else {
                return Err(fail(None, CsvProblem::Empty { openid_column: openid_column.to_string() }));
            };
            if !is_blank(&reader) {
                break (reader.fields().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect(), line);
            }
        };
        let openid_index = check_headers(&headers, openid_column, 0).map_err(|p| fail(Some(header_line), p))?;

        let mut ends: Vec<u32> = Vec::new();
        let mut rows: Vec<RawRow> = Vec::new();
        while let Some(line) = reader.next_record() {
            if is_blank(&reader) {
                continue;
            }
            let raw = RawRow {
                line: u32::try_from(line).map_err(|_| fail(None, CsvProblem::TooLarge))?,
                first_field: u32::try_from(ends.len()).map_err(|_| fail(None, CsvProblem::TooLarge))?,
                fields: reader.len() as u32,
            };
            if !reader.keep(&mut ends) {
                return Err(fail(None, CsvProblem::TooLarge));
            }
            rows.push(raw);
        }
        // Fields are slices of valid UTF-8 split at ASCII bytes, so this only fails on a bug.
        let data = String::from_utf8(reader.into_kept()).map_err(|e| {
            fail(None, CsvProblem::Encoding { encoding: "UTF-8", offset: e.utf8_error().valid_up_to() })
        })?;
        ends.shrink_to_fit();
        rows.shrink_to_fit();
        Ok(Self {
            path: path.to_path_buf(),
            encoding: detected,
            delimiter,
            headers,
            openid_column: openid_index,
            sheet: None,
            digest,
            header_line,
            cell_problems: Vec::new(),
            data,
            ends,
            rows,
        })
    }

    /// Recipients from a table already read into cells (a workbook's sheet): `rows` holds each
    /// row's number in the sheet and its cells, one per header.
    pub fn from_table(
        source: TableSource<'_>,
        headers: Vec<String>,
        openid_column: usize,
        rows: Vec<(u64, Vec<String>)>,
        cell_problems: Vec<CellProblem>,
    ) -> Result<Self, CsvProblem> {
        let mut data = String::new();
        let mut ends = Vec::new();
        let mut raw_rows = Vec::with_capacity(rows.len());
        for (line, cells) in rows {
            raw_rows.push(RawRow {
                line: u32::try_from(line).map_err(|_| CsvProblem::TooLarge)?,
                first_field: u32::try_from(ends.len()).map_err(|_| CsvProblem::TooLarge)?,
                fields: cells.len() as u32,
            });
            for cell in cells {
                data.push_str(&cell);
                ends.push(u32::try_from(data.len()).map_err(|_| CsvProblem::TooLarge)?);
            }
        }
        Ok(Self {
            path: source.path.to_path_buf(),
            encoding: DetectedEncoding::Workbook,
            delimiter: b',',
            headers,
            openid_column,
            sheet: Some(source.sheet),
            digest: source.digest,
            header_line: source.header_line,
            cell_problems,
            data,
            ends,
            rows: raw_rows,
        })
    }

    /// Where line (or sheet row) `line` is, for messages: `list.csv:12` or `list.xlsx:名单!12`.
    pub fn location(&self, line: u64) -> Location {
        Location { path: self.path.clone(), line: Some(line), column: None, sheet: self.sheet.clone() }
    }

    /// The file (and sheet) as a whole, for messages: `list.csv` or `list.xlsx:名单`.
    pub fn source_name(&self) -> String {
        match &self.sheet {
            Some(sheet) => format!("{}:{sheet}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    /// The cells that make row `index` invalid.
    pub fn cell_problems_of(&self, index: usize) -> impl Iterator<Item = &CellProblem> + '_ {
        let start = self.cell_problems.partition_point(|p| p.row < index);
        self.cell_problems[start..].iter().take_while(move |p| p.row == index)
    }

    /// Number of data rows (blank lines excluded).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `index` (0-based), if it exists.
    pub fn row(&self, index: usize) -> Option<Row<'_>> {
        self.rows.get(index).map(|&raw| Row { recipients: self, index, raw })
    }

    /// All rows in file order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        self.rows.iter().enumerate().map(move |(index, &raw)| Row { recipients: self, index, raw })
    }

    /// Whether column `index` is one of wxsend's own (`wxsend_*`, from an exported failures file).
    pub fn is_own_column(&self, index: usize) -> bool {
        self.headers.get(index).is_some_and(|h| h.starts_with("wxsend_"))
    }

    /// The index of the column named `name`, ignoring wxsend's own columns.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().enumerate().position(|(i, h)| h == name && !self.is_own_column(i))
    }

    /// Bytes held by the row storage (for benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * 4 + self.rows.capacity() * std::mem::size_of::<RawRow>()
    }
}

fn is_blank(record: &Compactor) -> bool {
    record.fields().all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

/// Decode the file to UTF-8 text according to `choice`.
fn decode(bytes: Vec<u8>, choice: EncodingChoice) -> Result<(String, DetectedEncoding), (CsvProblem, Option<u64>)> {
    let line_of = |bytes: &[u8], offset: usize| {
        bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() as u64 + 1
    };
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&bytes) {
        if enc == encoding_rs::UTF_8 {
            return match String::from_utf8(bytes) {
                Ok(text) => Ok((text, DetectedEncoding::Utf8Bom)),
                Err(e) => {
                    let offset = e.utf8_error().valid_up_to();
                    Err((CsvProblem::Encoding { encoding: "UTF-8", offset }, Some(line_of(e.as_bytes(), offset))))
                }
            };
        }
        if choice == EncodingChoice::Auto {
            let detected =
                if enc == encoding_rs::UTF_16LE { DetectedEncoding::Utf16Le } else { DetectedEncoding::Utf16Be };
            return match enc.decode_without_bom_handling_and_without_replacement(&bytes[bom_len..]) {
                Some(text) => Ok((text.into_owned(), detected)),
                None => Err((CsvProblem::Encoding { encoding: enc.name(), offset: 0 }, None)),
            };
        }
    }
    match choice {
        EncodingChoice::Utf8 => String::from_utf8(bytes).map(|t| (t, DetectedEncoding::Utf8)).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            (CsvProblem::Encoding { encoding: "UTF-8", offset }, Some(line_of(e.as_bytes(), offset)))
        }),
        EncodingChoice::Gbk => decode_gb18030(&bytes).map(|t| (t, DetectedEncoding::Gb18030)).map_err(|offset| {
            (CsvProblem::Encoding { encoding: "GBK/GB18030", offset }, Some(line_of(&bytes, offset)))
        }),
        EncodingChoice::Auto => match String::from_utf8(bytes) {
            Ok(text) => Ok((text, DetectedEncoding::Utf8)),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                if mostly_utf8(&bytes) {
                    return Err((CsvProblem::StrayBytes { offset }, Some(line_of(&bytes, offset))));
                }
                decode_gb18030(&bytes).map(|t| (t, DetectedEncoding::Gb18030)).map_err(|offset| {
                    (CsvProblem::Encoding { encoding: "UTF-8 or GBK", offset }, Some(line_of(&bytes, offset)))
                })
            }
        },
    }
}

/// Whether bytes that are not valid UTF-8 are still mostly UTF-8: more well-formed multi-byte
/// characters than broken sequences. A GBK file forms a UTF-8 character only by chance (about
/// one Chinese character in twelve); a UTF-8 list with a stray byte pair is almost all well
/// formed, and reading it as GBK would send every Chinese value garbled.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut good, mut bad) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        good += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            bad += 1;
        }
    }
    good > bad
}

/// Decode GB18030 strictly; on failure, the byte offset where decoding broke.
fn decode_gb18030(bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok(out),
        encoding_rs::DecoderResult::Malformed(bad, _) => Err(read.saturating_sub(bad as usize)),
        encoding_rs::DecoderResult::OutputFull => Err(read),
    }
}

/// Pick the delimiter from the header line: the one that yields the openid column, else the only one seen.
fn detect_delimiter(body: &str, openid_column: &str) -> Result<u8, CsvProblem> {
    let header = first_nonblank_line(body);
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if b == *d {
                    *n += 1;
                }
            }
        }
    }
    let seen: Vec<u8> = counts.iter().filter(|(_, n)| *n > 0).map(|(d, _)| *d).collect();
    let splits_to_openid = |d: u8| {
        let mut reader = csv::ReaderBuilder::new().delimiter(d).has_headers(false).from_reader(header.as_bytes());
        let mut rec = csv::StringRecord::new();
        matches!(reader.read_record(&mut rec), Ok(true)) && rec.iter().any(|f| f.trim() == openid_column)
    };
    match seen.as_slice() {
        [] => Ok(b','),
        [only] => Ok(*only),
        many => {
            let fitting: Vec<u8> = many.iter().copied().filter(|&d| splits_to_openid(d)).collect();
            match fitting.as_slice() {
                [one] => Ok(*one),
                _ => {
                    // Several split it into a header with the openid column: take the most frequent.
                    if let Some(best) = fitting
                        .iter()
                        .copied()
                        .max_by_key(|d| counts.iter().find(|(c, _)| c == d).map_or(0, |(_, n)| *n))
                    {
                        return Ok(best);
                    }
                    Err(CsvProblem::AmbiguousDelimiter {
                        seen: many.iter().map(|&d| delimiter_name(d)).collect::<Vec<_>>().join(" and "),
                        openid_column: openid_column.to_string(),
                    })
                }
            }
        }
    }
}

fn first_nonblank_line(body: &str) -> &str {
    body.split('\n').find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The name of a delimiter byte, for messages.
pub fn delimiter_name(d: u8) -> &'static str {
    match d {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "another character",
    }
}

/// Text as it would be written with `encoding`, for tests and samples.
pub fn encode_gbk(text: &str) -> Cow<'_, [u8]> {
    encoding_rs::GBK.encode(text).0
}

#[cfg(test)]
#[path = "recipients_tests.rs"]
mod tests;
