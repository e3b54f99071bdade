//! Errors raised while loading a campaign: each names the file, and where it can, the line and column.

use std::fmt;
use std::path::PathBuf;

/// A place in an input file, printed as `file:line:column` (line and column 1-based, optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// The line (1-based), when known.
    pub line: Option<u64>,
    /// The column (1-based), when known.
    pub column: Option<u64>,
    /// The sheet of a workbook (then `line` is the sheet's row number).
    pub sheet: Option<String>,
}

impl Location {
    /// The file as a whole.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), line: None, column: None, sheet: None }
    }

    /// A line of the file.
    pub fn line(path: impl Into<PathBuf>, line: u64) -> Self {
        Self { path: path.into(), line: Some(line), column: None, sheet: None }
    }

    /// The location of byte offset `offset` in `text`.
    pub fn at_offset(path: impl Into<PathBuf>, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() as u64 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() as u64 + 1;
        Self { path: path.into(), line: Some(line), column: Some(column), sheet: None }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(sheet) = &self.sheet {
            write!(f, ":{sheet}")?;
            if let Some(line) = self.line {
                write!(f, "!{line}")?;
            }
            return Ok(());
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Why a recipients file cannot be used at all (as opposed to a single invalid row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvProblem {
    #[error("{}", crate::tr!("err.csv_problem.empty", openid_column = .openid_column.to_string()))]
    /// The file has no header.
    Empty {
        /// The column the header must have.
        openid_column: String,
    },
    #[error("{}", crate::tr!("err.csv_problem.missing_openid_column", column = .column.clone(), closest = closest_hint(.closest), headers = .headers.join(", ")))]
    /// The openid column is missing.
    MissingOpenidColumn {
        /// The column looked for.
        column: String,
        /// The header name closest to it.
        closest: Option<String>,
        /// The header's names.
        headers: Vec<String>,
    },
    #[error("{}", crate::tr!("err.csv_problem.duplicate_header", name = .name.to_string(), first = .first.to_string(), second = .second.to_string()))]
    /// A header name appears twice.
    DuplicateHeader {
        /// The name.
        name: String,
        /// Its first column (1-based).
        first: usize,
        /// Its second column.
        second: usize,
    },
    #[error("{}", crate::tr!("err.csv_problem.empty_header", column = .column.to_string()))]
    /// A header name is empty.
    EmptyHeader {
        /// The column (1-based).
        column: usize,
    },
    #[error("{}", crate::tr!("err.csv_problem.ambiguous_delimiter", seen = .seen.to_string(), openid_column = .openid_column.to_string()))]
    /// No delimiter yields the openid column.
    AmbiguousDelimiter {
        /// The delimiters found in the header.
        seen: String,
        /// The column looked for.
        openid_column: String,
    },
    #[error("{}", crate::tr!("err.csv_problem.encoding", encoding = .encoding.to_string(), offset = .offset.to_string()))]
    /// The bytes do not decode.
    Encoding {
        /// The encoding tried.
        encoding: &'static str,
        /// The first bad byte.
        offset: usize,
    },
    #[error("{}", crate::tr!("err.csv_problem.stray_bytes", offset = .offset.to_string()))]
    /// `encoding = "auto"`: a UTF-8 file with a few bad bytes is refused, never read as GBK.
    StrayBytes {
        /// The first bad byte.
        offset: usize,
    },
    #[error("{}", crate::tr!("err.csv_problem.too_large"))]
    /// Row offsets are 32-bit: the file is too large.
    TooLarge,
    #[error("{}", crate::tr!("err.csv_problem.binary", what = .what.to_string()))]
    /// A workbook, image or archive, or bytes that are mostly NUL: not a CSV.
    Binary {
        /// What it looks like.
        what: &'static str,
    },
    #[error("{}", crate::tr!("err.csv_problem.workbook", detail = .detail.to_string()))]
    /// calamine could not read the spreadsheet.
    Workbook {
        /// Its words.
        detail: String,
    },
    #[error("{}", crate::tr!("err.csv_problem.workbook_limit", what = .what.to_string(), limit = .limit.to_string()))]
    /// A workbook beyond what wxsend reads (declared range, cells, shared strings, inflated
    /// size): refused before anything that size is allocated.
    WorkbookLimit {
        /// What the workbook holds or declares.
        what: String,
        /// The limit, in words.
        limit: String,
    },
    #[error("{}", crate::tr!("err.csv_problem.no_such_sheet", sheet = format!("{:?}", .sheet), closest = .closest.as_ref().map(|c| crate::tr!("err.did_you_mean", name = format!("{c:?}"))).unwrap_or_default(), sheets = .sheets.join(", ")))]
    /// `sheet` names no sheet of the workbook.
    NoSuchSheet {
        /// The name asked for.
        sheet: String,
        /// The closest name.
        closest: Option<String>,
        /// The sheets there are.
        sheets: Vec<String>,
    },
}

fn closest_hint(closest: &Option<String>) -> String {
    closest.as_ref().map(|c| crate::tr!("err.did_you_mean", name = format!("`{c}`"))).unwrap_or_default()
}

/// Everything that makes a campaign unusable: exit code 2, nothing sent.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}", path = .path.display())]
    /// The file cannot be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The recipients path is not a file wxsend can read twice.
    #[error("{}", crate::tr!("err.load_error.not_a_file", path = .path.display().to_string(), what = .what))]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// The recipients file is larger than wxsend reads.
    #[error("{}", crate::tr!("err.load_error.too_large", path = .path.display().to_string(), size = .size.clone(), limit = .limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size, in words.
        size: String,
        /// The limit, in words.
        limit: &'static str,
    },
    /// The campaign file is wrong.
    #[error("{at}: {message}")]
    Config {
        /// Where.
        at: Location,
        /// What and how to fix it.
        message: String,
    },
    #[error("{at}: {problem}")]
    /// The recipients file cannot be used.
    Recipients {
        /// Where.
        at: Location,
        /// What is wrong.
        problem: Box<CsvProblem>,
    },
}

/// `1234567` → `1,234,567`: counts in messages, as the operator reads them.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The candidate closest to `word`, if any is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_from_offset_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        let at = Location::at_offset("c.toml", text, text.find('2').unwrap());
        assert_eq!(at.to_string(), "c.toml:2:6");
    }

    #[test]
    fn closest_finds_typos_and_ignores_strangers() {
        assert_eq!(closest("prodcut", ["openid", "product", "amount"]).as_deref(), Some("product"));
        assert_eq!(closest("zzzz", ["openid", "product"]), None);
    }
}
