//! Load + validate a generated 1,000,000-row recipients file; prints time and peak RSS.
//!
//! Run: `cargo bench --bench load_validate` (ROWS=N to change the size).

mod common;

use std::time::Instant;

use wxsend::campaign::config::CampaignConfig;
use wxsend::campaign::Campaign;

fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = common::generate(dir.path(), rows);
    let csv = dir.path().join("recipients.csv");
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    let before = common::peak_rss_kib();

    // Baseline in the same run: just reading the file's bytes.
    let t = Instant::now();
    let bytes = std::fs::read(&csv).unwrap();
    let read_s = t.elapsed().as_secs_f64();
    drop(bytes);

    let t = Instant::now();
    let config = CampaignConfig::load(&toml).expect("campaign");
    let campaign = Campaign::from_config(config).expect("load");
    let load_s = t.elapsed().as_secs_f64();
    let peak = common::peak_rss_kib();
    println!("rows              {}", campaign.recipients.len());
    println!("csv size          {:.1} MiB", size as f64 / 1048576.0);
    println!("read file         {:.3} s (baseline)", read_s);
    println!("load + validate   {:.3} s ({:.1}x the read)", load_s, load_s / read_s.max(1e-9));
    println!("ready / invalid   {} / {}", campaign.checks.ready, campaign.checks.invalid);
    println!("row storage       {:.1} MiB", campaign.recipients.heap_bytes() as f64 / 1048576.0);
    println!("peak RSS          {:.1} MiB (before load {:.1} MiB)", peak as f64 / 1024.0, before as f64 / 1024.0);
    println!(
        "peak RSS budget   {:.1} MiB (2 x csv + 64 MiB): {}",
        (2 * size) as f64 / 1048576.0 + 64.0,
        if peak * 1024 <= 2 * size + 64 * 1048576 { "within" } else { "OVER" }
    );
}
