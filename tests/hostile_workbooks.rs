//! Workbooks built to exhaust the reader are refused with exit 2, naming the file and the limit,
//! before anything their size is allocated: a 2 KB sheet declaring A1:XFD1048576, ten million
//! shared strings, `.ods` repeats standing for billions of cells, an `.xls` declaring 2^32 rows,
//! a member that inflates past its declared size.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use rust_xlsxwriter::Workbook;
use zip::write::SimpleFileOptions;

fn campaign(dir: &Path, file: &str) -> PathBuf {
    let toml = format!(
        "name = \"hostile\"\n[wechat]\napi_base = \"http://127.0.0.1:9\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TID\"\n[message.data]\nthing1 = \"{{{{product}}}}\"\n\
         [recipients]\nfile = \"{file}\"\n"
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `wxsend check --offline` on the workbook: its exit code, its words, and how long it took.
fn check(dir: &Path, file: &str) -> (Option<i32>, String, Duration) {
    let c = campaign(dir, file);
    let started = Instant::now();
    let out = wxsend(&["check", c.to_str().unwrap(), "--offline"], &[]);
    let took = started.elapsed();
    eprintln!("{file}: exit {:?} after {took:?}", out.status.code());
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), took)
}

/// A small, valid list with `openid` and `product`.
fn small_book(path: &Path) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "openid").unwrap();
    sheet.write_string(0, 1, "product").unwrap();
    sheet.write_string(1, 0, openid("oWx", 1)).unwrap();
    sheet.write_string(1, 1, "保温杯").unwrap();
    book.save(path).unwrap();
}

/// `from` with its member `replace` written anew by `write` (every member deflated).
fn rewrite_member(from: &Path, to: &Path, replace: &str, write: &dyn Fn(&mut dyn Write)) {
    let mut src = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for i in 0..src.len() {
        let mut member = src.by_index(i).unwrap();
        let name = member.name().to_string();
        out.start_file(&name, deflated).unwrap();
        if name == replace {
            write(&mut out);
        } else {
            let mut bytes = Vec::new();
            member.read_to_end(&mut bytes).unwrap();
            out.write_all(&bytes).unwrap();
        }
    }
    out.finish().unwrap();
}

#[test]
fn a_sheet_declaring_every_cell_of_excel_is_refused_in_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "openid").unwrap();
    sheet.write_string(0, 1, "product").unwrap();
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    book.save(dir.path().join("list.xlsx")).unwrap();
    assert!(std::fs::metadata(dir.path().join("list.xlsx")).unwrap().len() < 8 * 1024);
    let (code, err, took) = check(dir.path(), "list.xlsx");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("list.xlsx"), "{err}");
    assert!(err.contains("A1:XFD1048576 (1,048,576 rows × 16,384 columns)"), "{err}");
    assert!(err.contains("1,024 columns"), "{err}");
    // A refusal, not a parse: well under a second here (generous for a busy machine).
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn ten_million_shared_strings_are_refused_in_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    small_book(&dir.path().join("small.xlsx"));
    let strings = |w: &mut dyn Write| {
        w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"10000000\" uniqueCount=\"10000000\">").unwrap();
        let chunk = b"<si><t>x</t></si>".repeat(10_000);
        for _ in 0..1_000 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(b"</sst>").unwrap();
    };
    rewrite_member(&dir.path().join("small.xlsx"), &dir.path().join("list.xlsx"), "xl/sharedStrings.xml", &strings);
    let (code, err, took) = check(dir.path(), "list.xlsx");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("list.xlsx: the workbook holds 10,000,000 shared strings"), "{err}");
    assert!(err.contains("5,000,000 shared strings"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn shared_strings_that_lie_about_their_count_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    small_book(&dir.path().join("small.xlsx"));
    let strings = |w: &mut dyn Write| {
        w.write_all(b"<sst uniqueCount=\"2\">").unwrap();
        let chunk = b"<si><t/></si>".repeat(100_000);
        for _ in 0..51 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(b"</sst>").unwrap();
    };
    rewrite_member(&dir.path().join("small.xlsx"), &dir.path().join("list.xlsx"), "xl/sharedStrings.xml", &strings);
    let (code, err, _) = check(dir.path(), "list.xlsx");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("5,000,001 shared strings"), "{err}");
}

#[test]
fn a_member_inflating_past_its_declared_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    small_book(&dir.path().join("list.xlsx"));
    // Patch the central directory's uncompressed size of the sheet to 10 bytes (its local header
    // keeps the real one): the archive now lies about what the member inflates to.
    let mut bytes = std::fs::read(dir.path().join("list.xlsx")).unwrap();
    let name = b"xl/worksheets/sheet1.xml";
    let mut at = 0;
    let mut patched = false;
    while let Some(p) = bytes[at..].windows(4).position(|w| w == b"PK\x01\x02") {
        let entry = at + p;
        let len = u16::from_le_bytes([bytes[entry + 28], bytes[entry + 29]]) as usize;
        if &bytes[entry + 46..entry + 46 + len] == name {
            bytes[entry + 24..entry + 28].copy_from_slice(&10u32.to_le_bytes());
            patched = true;
        }
        at = entry + 4;
    }
    assert!(patched);
    std::fs::write(dir.path().join("list.xlsx"), bytes).unwrap();
    let (code, err, _) = check(dir.path(), "list.xlsx");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("inflates past the size the archive declares"), "{err}");
}

#[test]
fn ods_repeats_standing_for_billions_of_cells_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="名单">
<table:table-row><table:table-cell office:value-type="string"><text:p>openid</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>product</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1000000"><table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"#;
    let mut out = zip::ZipWriter::new(std::fs::File::create(dir.path().join("list.ods")).unwrap());
    out.start_file("mimetype", SimpleFileOptions::default()).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    out.start_file("content.xml", SimpleFileOptions::default()).unwrap();
    out.write_all(content.as_bytes()).unwrap();
    out.finish().unwrap();
    let (code, err, took) = check(dir.path(), "list.ods");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("list.ods: a sheet of the workbook repeats cells to 1,000,001 rows × 1,000 columns"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A compound file (an `.xls`) whose workbook stream is `records`, padded to 4,096 bytes.
fn xls(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
    const END: u32 = 0xFFFF_FFFE;
    let mut stream = Vec::new();
    for (kind, data) in records {
        stream.extend_from_slice(&kind.to_le_bytes());
        stream.extend_from_slice(&(data.len() as u16).to_le_bytes());
        stream.extend_from_slice(data);
    }
    stream.resize(4096, 0);
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
    header[0x18..0x1A].copy_from_slice(&0x3Eu16.to_le_bytes());
    header[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes());
    header[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes());
    header[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
    header[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
    header[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
    header[0x30..0x34].copy_from_slice(&1u32.to_le_bytes());
    header[0x38..0x3C].copy_from_slice(&4096u32.to_le_bytes());
    header[0x3C..0x40].copy_from_slice(&END.to_le_bytes());
    header[0x44..0x48].copy_from_slice(&END.to_le_bytes());
    for i in 0..109 {
        let id = if i == 0 { 0 } else { 0xFFFF_FFFF };
        header[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&u32::to_le_bytes(id));
    }
    // FAT: sector 0 is the FAT, 1 the directory, 2..=9 the stream.
    let mut fat = vec![0xFFFF_FFFFu32; 128];
    fat[0] = 0xFFFF_FFFD;
    fat[1] = END;
    for (s, next) in fat.iter_mut().enumerate().take(9).skip(2) {
        *next = s as u32 + 1;
    }
    fat[9] = END;
    let mut dir = vec![0u8; 512];
    let mut entry = |i: usize, name: &str, kind: u8, start: u32, size: u32, child: u32| {
        let e = &mut dir[i * 128..(i + 1) * 128];
        let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
        for (j, u) in units.iter().enumerate() {
            e[2 * j..2 * j + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[0x40..0x42].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
        e[0x42] = kind;
        e[0x44..0x48].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        e[0x48..0x4C].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        e[0x4C..0x50].copy_from_slice(&child.to_le_bytes());
        e[0x74..0x78].copy_from_slice(&start.to_le_bytes());
        e[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
    };
    entry(0, "Root Entry", 5, END, 0, 1);
    entry(1, "Workbook", 2, 2, 4096, 0xFFFF_FFFF);
    let mut file = header;
    file.extend(fat.iter().flat_map(|v| v.to_le_bytes()));
    file.extend_from_slice(&dir);
    file.extend_from_slice(&stream);
    file
}

#[test]
fn an_xls_declaring_four_billion_rows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bof = vec![0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut dims = Vec::new();
    dims.extend_from_slice(&0u32.to_le_bytes());
    dims.extend_from_slice(&u32::MAX.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    dims.extend_from_slice(&2u16.to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(dir.path().join("list.xls"), xls(&[(0x0809, bof), (0x0200, dims), (0x000A, vec![])])).unwrap();
    let (code, err, took) = check(dir.path(), "list.xls");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("list.xls: the sheet declares the range A1:B4294967295"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn an_xls_cell_beyond_the_columns_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A NUMBER record at row 3, column 5000 (IV is .xls's own last column; this one lies).
    let mut number = Vec::new();
    number.extend_from_slice(&2u16.to_le_bytes());
    number.extend_from_slice(&5000u16.to_le_bytes());
    number.extend_from_slice(&[0; 10]);
    std::fs::write(dir.path().join("list.xls"), xls(&[(0x0203, number), (0x000A, vec![])])).unwrap();
    let (code, err, _) = check(dir.path(), "list.xls");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the sheet has a value in cell GJI3"), "{err}");
}

mod mutated {
    use super::*;
    use proptest::prelude::*;
    use wxsend::campaign::workbook::from_bytes;

    /// A valid workbook of each zip format and an `.xls`: the seeds the mutations start from.
    fn seeds() -> Vec<(&'static str, Vec<u8>)> {
        let dir = tempfile::tempdir().unwrap();
        small_book(&dir.path().join("list.xlsx"));
        let mut dims = Vec::new();
        for v in [0u32, 3] {
            dims.extend_from_slice(&v.to_le_bytes());
        }
        dims.extend_from_slice(&[0, 0, 2, 0, 0, 0]);
        vec![
            ("list.xlsx", std::fs::read(dir.path().join("list.xlsx")).unwrap()),
            (
                "list.xls",
                xls(&[(0x0809, vec![0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), (0x0200, dims)]),
            ),
        ]
    }

    proptest! {
        // The same 256 cases every run: CI must not turn red on a case found by chance (the
        // fuzz target, `cargo fuzz run workbook`, is where new ones are looked for).
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_2026),
            ..ProptestConfig::default()
        })]

        /// Bytes of a real workbook with some changed, cut or grown: read or refused, never a
        /// panic, an abort or a hang.
        #[test]
        fn a_damaged_workbook_is_read_or_refused(
            seed in 0..2usize,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
            cut in any::<prop::sample::Index>(),
            as_name in 0..4usize,
        ) {
            let (_, mut bytes) = seeds().swap_remove(seed);
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if cut.index(8) == 0 {
                bytes.truncate(cut.index(bytes.len()));
            }
            let name = ["list.xlsx", "list.xls", "list.ods", "list.xlsb"][as_name];
            if let Ok(r) = from_bytes(Path::new(name), &bytes, None, "openid") {
                for row in r.rows() {
                    let _ = (row.openid(), row.fields().count());
                }
            }
        }
    }
}

#[test]
fn a_compound_file_declaring_huge_directories_or_a_looping_chain_is_refused_under_any_name() {
    use wxsend::campaign::workbook::from_bytes;
    let records = [(0x0809u16, vec![0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])];
    // The header's count of directory sectors (calamine reserves room for them all at once).
    let mut huge_dir = xls(&records);
    huge_dir[0x28..0x2C].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    // A DIFAT chain that points at itself (calamine follows it until it ends).
    let mut looping = xls(&records);
    looping[0x44..0x48].copy_from_slice(&2u32.to_le_bytes());
    looping[512 * 3 - 4..512 * 3].copy_from_slice(&2u32.to_le_bytes());
    // The root entry's stream (the mini stream) declared larger than the file.
    let mut huge_root = xls(&records);
    let root = 512 + 512; // header, FAT sector, then the directory
    huge_root[root + 0x78..root + 0x7C].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    for (what, bytes) in [("directories", huge_dir), ("a loop", looping), ("the root", huge_root)] {
        for name in ["list.xls", "list.xlsx", "list.xlsb", "list.ods"] {
            let e = from_bytes(Path::new(name), &bytes, None, "openid").map(|_| ()).unwrap_err().to_string();
            assert!(e.contains("damaged") || e.contains("cannot read"), "{what} as {name}: {e}");
        }
    }
}
