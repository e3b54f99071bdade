//! Load + validate a generated 1,000,000-row recipients file; prints time and peak RSS.
//!
//! Run: `cargo bench --bench load_validate` (ROWS=N to change the size).

use std::io::{BufWriter, Write};
use std::time::Instant;

use wxsend::campaign::config::CampaignConfig;
use wxsend::campaign::Campaign;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("recipients.csv");
    {
        let mut w = BufWriter::new(std::fs::File::create(&csv).expect("create csv"));
        writeln!(w, "openid,name,product,amount,order_id,shipped_at").unwrap();
        let mut rng = fastrand::Rng::with_seed(1);
        for i in 0..rows {
            let openid: String = std::iter::once('o').chain((0..27).map(|_| rng.alphanumeric())).collect();
            writeln!(
                w,
                "{openid},张伟{},保温杯 {},{}.{:02},SF{:09},2026-11-{:02} 10:30",
                i % 97,
                i % 13,
                i % 400,
                i % 100,
                i,
                1 + i % 28
            )
            .unwrap();
        }
    }
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    let toml = dir.path().join("c.toml");
    std::fs::write(
        &toml,
        "name = \"bench\"\n[wechat]\nappid = \"wx1\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\nurl = \"https://e.com/{{order_id}}\"\n[message.data]\nthing1 = \"{{product}}\"\namount2 = \"{{amount}}元\"\ntime3 = \"{{shipped_at}}\"\ncharacter_string4 = \"{{order_id}}\"\n[recipients]\ncsv = \"recipients.csv\"\n",
    )
    .unwrap();
    let before = peak_rss_kib();

    // Baseline in the same run: just reading the file's bytes.
    let t = Instant::now();
    let bytes = std::fs::read(&csv).unwrap();
    let read_s = t.elapsed().as_secs_f64();
    drop(bytes);

    let t = Instant::now();
    let config = CampaignConfig::load(&toml).expect("campaign");
    let campaign = Campaign::from_config(config).expect("load");
    let load_s = t.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
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
