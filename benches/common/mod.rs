//! Generated campaigns for the benchmarks.
#![allow(dead_code)]

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Write a template campaign with `rows` recipients into `dir`; returns the campaign path.
pub fn generate(dir: &Path, rows: usize) -> PathBuf {
    let csv = dir.join("recipients.csv");
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
    w.flush().unwrap();
    let toml = dir.join("c.toml");
    std::fs::write(
        &toml,
        "name = \"bench\"\n[wechat]\nappid = \"wx1\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\nurl = \"https://e.com/{{order_id}}\"\n[message.data]\nthing1 = \"{{product}}\"\namount2 = \"{{amount}}元\"\ntime3 = \"{{shipped_at}}\"\ncharacter_string4 = \"{{order_id}}\"\n[recipients]\ncsv = \"recipients.csv\"\n",
    )
    .unwrap();
    toml
}

/// Peak resident memory of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
