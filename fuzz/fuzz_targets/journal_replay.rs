//! Any bytes as a journal: read (with a torn tail at most) or refused as damaged, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    std::fs::write(&path, data).unwrap();
    match wxsend::journal::read_journal(&path, 16) {
        Ok(j) => assert_eq!(j.replay.rows.len(), 16),
        Err(e) => assert!(e.to_string().contains("journal.jsonl")),
    }
});
