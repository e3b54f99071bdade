//! What can be read as a recipients file at all, decided before parsing: a regular file (not a
//! folder, FIFO or pipe), not larger than wxsend reads, and text rather than a workbook, image
//! or archive saved under a `.csv` name.

use std::path::Path;

use super::error::LoadError;

/// The largest recipients file read: the whole file is held in memory while it is parsed, and a
/// list this long is already a hundred days of an account's default daily quota.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Refuse what cannot be read as a recipients file before opening it: a folder, a FIFO (opening
/// it waits for a writer forever), a pipe (`--csv <(…)` can be read only once while the
/// journal's fingerprint reads the file again), a file over [`MAX_FILE_BYTES`].
pub fn check_file(path: &Path) -> Result<u64, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "not a regular file (a pipe, FIFO or device)" };
        return Err(LoadError::NotAFile { path: path.to_path_buf(), what });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: format!("{:.1} GB", meta.len() as f64 / 1e9),
            limit: "1 GiB",
        });
    }
    Ok(meta.len())
}

/// What a file that is not text looks like, from its first bytes: a known signature, or NUL
/// bytes making up more than 1 in 64 of its first 64 KiB (a NUL or two in a field is text with a
/// stray control character, reported and escaped with its row). UTF-16 text is not binary.
pub(crate) fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "a zip archive, such as an .xlsx or .ods workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an .xls workbook"),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x1f\x8b", "a gzip archive"),
    ];
    if let Some((_, what)) = SIGNATURES.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(what);
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return None;
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let nuls = head.iter().filter(|&&b| b == 0).count();
    (nuls > 0 && nuls * 64 > head.len()).then_some("it is mostly NUL bytes")
}
