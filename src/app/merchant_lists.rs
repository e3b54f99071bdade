//! Each merchant's rows of a campaign sent for many. A list with a merchant column (the
//! campaign's `account_column`, or a failures file re-run with `--csv`) is split into one UTF-8
//! CSV per merchant in the merchant's state folder, every column kept, so each merchant's
//! journal binds the exact rows it sends and its failures file keeps the merchant column. With
//! `[recipients.files]` each merchant's own list is used as it is.

use std::path::{Path, PathBuf};

use crate::campaign::merchants::{merchant_dir, Merchants};
use crate::campaign::{workbook, CampaignConfig, LoadError, Location, Recipients};

/// Why the merchants' lists cannot be had. Exit code 2 (4 when one cannot be written): nothing
/// was sent.
#[derive(Debug, thiserror::Error)]
pub enum MerchantListError {
    /// The list cannot be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The list has no merchant column.
    #[error("{}", crate::tr!("err.merchant_list.no_column", file = .path.display().to_string(), column = .column.clone(), headers = .headers.join(", ")))]
    NoColumn {
        /// The list.
        path: PathBuf,
        /// The column looked for.
        column: String,
        /// The columns it has.
        headers: Vec<String>,
    },
    /// A row names no merchant of the campaign.
    #[error("{}", crate::tr!("err.merchant_list.stranger", at = .at.to_string(), value = format!("{:?}", .value), column = .column.clone(), known = .known.clone()))]
    Stranger {
        /// The row.
        at: Box<Location>,
        /// What it names.
        value: String,
        /// The merchant column.
        column: String,
        /// The campaign's merchants.
        known: String,
    },
    /// A merchant's list cannot be written in its state folder.
    #[error("{}", crate::tr!("err.merchant_list.write", file = .path.display().to_string(), error = .source.to_string()))]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The list each merchant sends to, by the merchants' order (`None`: the list has no row of
/// that merchant, which then sends nothing), and the name the lists go by (the state folder of
/// the campaign's combined failures file).
#[derive(Debug, Clone)]
pub struct MerchantLists {
    /// Each merchant's list.
    pub lists: Vec<Option<PathBuf>>,
    /// The list's name: its file stem (with `@sheet` for a workbook's sheet).
    pub stem: String,
    /// Where each merchant's rows were in the list they were split from (none for lists of
    /// their own).
    pub origin: Option<Origin>,
}

/// The list the merchants' lists were split from, and the line of each of their rows in it:
/// messages about a row name the operator's file and line, not the copy.
#[derive(Debug, Clone)]
pub struct Origin {
    path: PathBuf,
    sheet: Option<String>,
    /// By merchant, the line of each of its rows (by row index).
    lines: Vec<Vec<u64>>,
}

impl Origin {
    /// The list the rows were split from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where row `row` (0-based) of merchant `merchant`'s list was in the list.
    pub fn at(&self, merchant: usize, row: usize) -> Option<Location> {
        let line = *self.lines.get(merchant)?.get(row)?;
        Some(Location { path: self.path.clone(), line: Some(line), column: None, sheet: self.sheet.clone() })
    }
}

/// Each merchant's list of `config` (a campaign for many, its `recipients.csv` the list or the
/// `--csv` given): split from the list by the merchant column, or, with `[recipients.files]`
/// and no `--csv`, the merchants' own lists.
pub fn merchant_lists(
    config: &CampaignConfig,
    merchants: &Merchants,
    csv_given: bool,
) -> Result<MerchantLists, MerchantListError> {
    if merchants.files && !csv_given {
        return Ok(MerchantLists {
            lists: merchants.members.iter().map(|m| m.file.clone()).collect(),
            stem: "merchants".into(),
            origin: None,
        });
    }
    let r = &config.recipients;
    let source = if workbook::is_workbook(&r.csv) {
        workbook::load(&r.csv, r.sheet.as_deref(), &r.openid_column)?
    } else {
        Recipients::load(&r.csv, r.encoding, &r.openid_column)?
    };
    let stem = list_stem(&source);
    let rows = rows_by_merchant(&source, merchants)?;
    let mut lists = Vec::with_capacity(rows.len());
    let lines =
        rows.iter().map(|rows| rows.iter().filter_map(|&i| source.row(i)).map(|r| r.line()).collect()).collect();
    for (m, rows) in merchants.members.iter().zip(rows) {
        if rows.is_empty() {
            lists.push(None);
            continue;
        }
        let path = merchant_dir(&config.state_dir, &m.name).join("lists").join(format!("{stem}.csv"));
        let bytes = as_csv(&source, &rows).map_err(|source| MerchantListError::Write { path: path.clone(), source })?;
        // An unchanged list is left as it is (a resume reads the same bytes).
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            crate::private::write_whole(&path, &bytes, true)
                .map_err(|source| MerchantListError::Write { path: path.clone(), source })?;
        }
        lists.push(Some(path));
    }
    let origin = Origin { path: source.path.clone(), sheet: source.sheet.clone(), lines };
    Ok(MerchantLists { lists, stem, origin: Some(origin) })
}

/// The name a list's state goes by: its file stem, `@sheet` for a workbook's sheet.
fn list_stem(source: &Recipients) -> String {
    let stem = source.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "list".into());
    match &source.sheet {
        Some(sheet) => format!("{stem}@{sheet}"),
        None => stem,
    }
}

/// The rows of each merchant (indexes into `source`), in the merchants' order; a row naming no
/// merchant of the campaign is an error naming its line.
fn rows_by_merchant(source: &Recipients, merchants: &Merchants) -> Result<Vec<Vec<usize>>, MerchantListError> {
    let column = source.column(&merchants.column).ok_or_else(|| MerchantListError::NoColumn {
        path: source.path.clone(),
        column: merchants.column.clone(),
        headers: source.headers.clone(),
    })?;
    let mut rows = vec![Vec::new(); merchants.members.len()];
    for row in source.rows() {
        let value = row.field(column);
        match merchants.find(value) {
            Some(m) => rows[m].push(row.index()),
            None => {
                return Err(MerchantListError::Stranger {
                    at: Box::new(source.location(row.line())),
                    value: value.to_string(),
                    column: merchants.column.clone(),
                    known: merchants.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    }
    Ok(rows)
}

/// `rows` of `source` as a CSV with its header, every column as written.
fn as_csv(source: &Recipients, rows: &[usize]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    w.write_record(&source.headers)?;
    for row in rows.iter().filter_map(|&i| source.row(i)) {
        w.write_record(row.fields())?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// Where the campaign's combined failures file goes: `<state folder>/<list>/failed.csv`.
pub fn combined_failures(state_dir: &Path, stem: &str) -> PathBuf {
    state_dir.join(stem).join("failed.csv")
}

/// One merchant's failures file, to be merged.
#[derive(Debug, Clone)]
pub struct FailuresPart {
    /// The merchant's account name.
    pub merchant: String,
    /// Its failures file (absent: nothing failed).
    pub path: PathBuf,
    /// The file's delimiter (its list's).
    pub delimiter: u8,
}

/// Merge the merchants' failures files into `out` (UTF-8 with the BOM Excel needs): the columns
/// of all, in the order first met, with the merchant column first when the lists had none (its
/// value the merchant's name), so the file re-runs as it is. The number of rows written.
pub fn merge_failures(parts: &[FailuresPart], column: &str, out: &Path) -> std::io::Result<usize> {
    let mut headers: Vec<String> = Vec::new();
    let mut tables = Vec::new();
    for part in parts {
        let file = match std::fs::File::open(&part.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut r = csv::ReaderBuilder::new().delimiter(part.delimiter).flexible(true).from_reader(file);
        let own: Vec<String> = r
            .headers()?
            .iter()
            .enumerate()
            .map(|(i, h)| if i == 0 { h.trim_start_matches('\u{feff}') } else { h }.to_string())
            .collect();
        for h in &own {
            if !headers.contains(h) {
                headers.push(h.clone());
            }
        }
        let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
        tables.push((part.merchant.as_str(), own, rows));
    }
    if !headers.iter().any(|h| h == column) {
        headers.insert(0, column.to_string());
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::from("\u{feff}".as_bytes()));
    w.write_record(&headers)?;
    let mut written = 0;
    for (merchant, own, rows) in &tables {
        for row in rows {
            let cell = |h: &String| match own.iter().position(|o| o == h) {
                Some(i) => row.get(i).unwrap_or_default(),
                None if h == column => merchant,
                None => "",
            };
            w.write_record(headers.iter().map(cell))?;
            written += 1;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    crate::private::write_whole(out, &bytes, true)?;
    Ok(written)
}
