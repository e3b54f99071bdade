//! Tests of the recipients loader: encodings, delimiters, quoting, line numbers.
use super::*;

fn load(bytes: &[u8]) -> Result<Recipients, LoadError> {
    Recipients::from_bytes(Path::new("r.csv"), bytes.to_vec(), EncodingChoice::Auto, "openid")
}

#[test]
fn utf8_with_and_without_bom() {
    let r = load("openid,name\noA,张三\n".as_bytes()).unwrap();
    assert_eq!(r.encoding, DetectedEncoding::Utf8);
    assert_eq!(r.row(0).unwrap().field(1), "张三");
    let r = load("\u{feff}openid,name\noA,张三\n".as_bytes()).unwrap();
    assert_eq!(r.encoding, DetectedEncoding::Utf8Bom);
    assert_eq!(r.headers[0], "openid");
}

#[test]
fn gbk_bytes_are_detected_and_decoded() {
    let bytes = encode_gbk("openid,商品\r\noA,保温杯\r\n").into_owned();
    assert!(std::str::from_utf8(&bytes).is_err());
    let r = load(&bytes).unwrap();
    assert_eq!(r.encoding, DetectedEncoding::Gb18030);
    assert_eq!(r.headers[1], "商品");
    assert_eq!(r.row(0).unwrap().field(1), "保温杯");
}

#[test]
fn a_utf8_list_with_stray_bytes_is_refused_never_read_as_gbk() {
    let mut bytes = "openid,商品\noA,保温杯\noB,围巾\n".as_bytes().to_vec();
    // A GBK "你" pasted into a UTF-8 file, on line 4.
    bytes.extend_from_slice(b"oC,\xc4\xe3\n");
    bytes.extend_from_slice("oD,雨伞\n".as_bytes());
    let e = load(&bytes).unwrap_err().to_string();
    assert!(e.starts_with("r.csv:4: bytes that are not UTF-8"), "{e}");
    assert!(e.contains("encoding = \"gbk\""), "{e}");
    // A real GBK file (some of whose pairs happen to be valid UTF-8) still loads as GBK.
    let gbk = encode_gbk("openid,商品\noA,保温杯\noB,羽绒枕\noC,无线充电器\n").into_owned();
    assert_eq!(load(&gbk).unwrap().encoding, DetectedEncoding::Gb18030);
}

#[test]
fn a_header_of_100000_columns_is_checked_in_linear_time() {
    let mut header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    header[0] = "openid".into();
    let started = std::time::Instant::now();
    assert_eq!(check_headers(&header, "openid", 0).unwrap(), 0);
    header[99_999] = "c5".into();
    let e = check_headers(&header, "openid", 0).unwrap_err();
    assert!(matches!(e, CsvProblem::DuplicateHeader { first: 6, second: 100_000, .. }), "{e:?}");
    // Linear: milliseconds (the old pairwise test took 14 s); generous for a debug build on a busy core.
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
}

#[test]
fn forced_utf8_refuses_gbk_with_the_line() {
    let bytes = encode_gbk("openid,name\noA,x\noB,张三\n").into_owned();
    let e = Recipients::from_bytes(Path::new("r.csv"), bytes, EncodingChoice::Utf8, "openid").unwrap_err();
    assert_eq!(e.to_string(), "r.csv:3: not valid UTF-8 text at byte 20 (set `encoding` in [recipients] to the file's encoding: utf-8 or gbk)");
}

#[test]
fn utf16_excel_unicode_text_loads() {
    let mut bytes = vec![0xFF, 0xFE];
    for u in "openid\tname\noA\tLi\n".encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let r = load(&bytes).unwrap();
    assert_eq!(r.encoding, DetectedEncoding::Utf16Le);
    assert_eq!(r.delimiter, b'\t');
    assert_eq!(r.row(0).unwrap().field(1), "Li");
}

#[test]
fn delimiters_are_detected_from_the_header() {
    assert_eq!(load(b"openid;name\noA;x\n").unwrap().delimiter, b';');
    assert_eq!(load(b"openid\tname\noA\tx\n").unwrap().delimiter, b'\t');
    // A comma inside a quoted header name does not count.
    assert_eq!(load(b"\"a,b\";openid\nx;oA\n").unwrap().delimiter, b';');
    // Both seen, only one yields the openid column.
    assert_eq!(load(b"openid;amount,cents\noA;1,5\n").unwrap().delimiter, b';');
}

#[test]
fn a_single_column_header_that_is_not_openid_is_refused() {
    let e = load(b"a|b|c\noA|x|y\n").unwrap_err().to_string();
    assert!(e.contains("no column is named `openid`"), "{e}");
}

#[test]
fn quoted_fields_keep_commas_quotes_and_newlines() {
    let r = load(b"openid,note\noA,\"a, \"\"b\"\"\nc\"\noB,x\n").unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r.row(0).unwrap().field(1), "a, \"b\"\nc");
    assert_eq!(r.row(1).unwrap().line(), 4);
}

#[test]
fn crlf_blank_lines_and_trimming() {
    let r = load(b" openid , name \r\n\r\n  oA  ,x\r\n   \r\noB,y\r\n").unwrap();
    assert_eq!(r.headers, vec!["openid", "name"]);
    assert_eq!(r.len(), 2);
    assert_eq!(r.row(0).unwrap().openid(), "oA");
    assert_eq!(r.row(0).unwrap().field(0), "  oA  ");
    assert_eq!(r.row(1).unwrap().line(), 5);
}

#[test]
fn ragged_rows_are_kept_with_their_real_field_count() {
    let r = load(b"openid,a,b\noA,1,2\noB,1\noC,1,2,3\n").unwrap();
    assert_eq!(r.row(1).unwrap().field_count(), 2);
    assert_eq!(r.row(1).unwrap().field(2), "");
    assert_eq!(r.row(2).unwrap().field_count(), 4);
    assert_eq!(r.row(2).unwrap().line(), 4);
}

#[test]
fn header_problems_are_input_errors() {
    assert!(load(b"").unwrap_err().to_string().contains("the file is empty"));
    assert!(load(b"\n\n").unwrap_err().to_string().contains("the file is empty"));
    let e = load(b"openid,name,name\n").unwrap_err().to_string();
    assert_eq!(e, "r.csv:1: the header names column `name` twice (columns 2 and 3); rename one");
    let e = load(b"open_id,name\n").unwrap_err().to_string();
    assert!(e.contains("did you mean `open_id`?"), "{e}");
    assert!(load(b"openid,,x\n").unwrap_err().to_string().contains("empty column name (column 2)"));
}

#[test]
fn own_columns_are_ignored_for_lookup() {
    let r = load(b"openid,wxsend_errcode,name\noA,43101,x\n").unwrap();
    assert!(r.is_own_column(1));
    assert_eq!(r.column("wxsend_errcode"), None);
    assert_eq!(r.column("name"), Some(2));
}
