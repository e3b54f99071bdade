//! Any bytes as a workbook of each format: read or refused within the limits, never a panic or
//! an allocation the size of a declared range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wxsend::campaign::workbook::from_bytes;

fuzz_target!(|data: &[u8]| {
    for name in ["list.xlsx", "list.xlsb", "list.xls", "list.ods"] {
        if let Ok(r) = from_bytes(std::path::Path::new(name), data, None, "openid") {
            for row in r.rows() {
                let _ = (row.openid(), row.line(), row.fields().count());
            }
        }
    }
});
