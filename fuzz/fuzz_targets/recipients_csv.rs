//! Any bytes as a recipients file: loaded or refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wxsend::campaign::{EncodingChoice, Recipients};

fuzz_target!(|data: &[u8]| {
    for choice in [EncodingChoice::Auto, EncodingChoice::Utf8, EncodingChoice::Gbk] {
        if let Ok(r) = Recipients::from_bytes(std::path::Path::new("r.csv"), data.to_vec(), choice, "openid") {
            for row in r.rows() {
                let _ = (row.openid(), row.line(), row.fields().count());
            }
        }
    }
});
