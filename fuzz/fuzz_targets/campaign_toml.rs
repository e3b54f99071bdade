//! Any text as a campaign file: parsed or refused with a place, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wxsend::campaign::config::CampaignConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = CampaignConfig::parse(std::path::Path::new("c.toml"), text) {
            assert!(e.to_string().starts_with("c.toml"));
        }
    }
});
