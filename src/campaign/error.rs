//! Errors raised while loading a campaign: each names the file, and where it can, the line and column.

use std::fmt;
use std::path::PathBuf;

/// A place in an input file, printed as `file:line:column` (line and column 1-based, optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), line: None, column: None }
    }

    pub fn line(path: impl Into<PathBuf>, line: u64) -> Self {
        Self { path: path.into(), line: Some(line), column: None }
    }

    /// The location of byte offset `offset` in `text`.
    pub fn at_offset(path: impl Into<PathBuf>, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() as u64 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() as u64 + 1;
        Self { path: path.into(), line: Some(line), column: Some(column) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
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
    #[error("the file is empty: it needs a header line naming the columns, one of them `{openid_column}`")]
    Empty { openid_column: String },
    #[error("no column is named `{column}` (the campaign's `openid_column`){}; the header has: {}", closest_hint(.closest), .headers.join(", "))]
    MissingOpenidColumn { column: String, closest: Option<String>, headers: Vec<String> },
    #[error("the header names column `{name}` twice (columns {first} and {second}); rename one")]
    DuplicateHeader { name: String, first: usize, second: usize },
    #[error("the header has an empty column name (column {column})")]
    EmptyHeader { column: usize },
    #[error("cannot tell the delimiter: the header contains {seen}, and none of them splits it into a header with the `{openid_column}` column; set the delimiter in the file to one of comma, semicolon or tab")]
    AmbiguousDelimiter { seen: String, openid_column: String },
    #[error("not valid {encoding} text at byte {offset} (set `encoding` in [recipients] to the file's encoding: utf-8 or gbk)")]
    Encoding { encoding: &'static str, offset: usize },
    #[error("the file is larger than 4 GiB; split it into several campaigns")]
    TooLarge,
    #[error("{0}")]
    Malformed(String),
}

fn closest_hint(closest: &Option<String>) -> String {
    closest.as_ref().map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

/// Everything that makes a campaign unusable: exit code 2, nothing sent.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{at}: {message}")]
    Config { at: Location, message: String },
    #[error("{at}: {problem}")]
    Recipients { at: Location, problem: Box<CsvProblem> },
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
