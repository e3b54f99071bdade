//! `wxsend demo`: the bundled sample campaign sent to the embedded mock with a realistic mix of
//! answers, in the terminal UI (or `--headless`).

use crate::app::{Consent, Exit, SendOptions};
use crate::cli::DemoArgs;
use crate::error::Error;

/// The sample campaign and recipients bundled into the binary for `wxsend demo`.
const DEMO_CAMPAIGN: &str = include_str!("../../samples/campaign.toml");
const DEMO_RECIPIENTS: &str = include_str!("../../samples/recipients.csv");

/// Write the sample into the cache folder and send it to the embedded mock (a new run each time).
pub fn run(args: DemoArgs) -> Result<Exit, Error> {
    let dir = dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("wxsend").join("demo");
    let campaign = dir.join("campaign.toml");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&campaign, DEMO_CAMPAIGN.replace("rate = 20", "rate = 10")))
        .and_then(|_| std::fs::write(dir.join("recipients.csv"), DEMO_RECIPIENTS));
    written.map_err(|source| Error::Write { path: dir.clone(), source })?;
    // A realistic mix: scripted refusals and bad openids (by prefix), transient -1s and 502s,
    // some latency, and one token invalidation by "another system".
    let mock = crate::mock::MockConfig {
        seed: 2026,
        system_error_rate: 0.04,
        http_502_rate: 0.02,
        latency: crate::mock::Latency::fixed(30),
        invalidate_tokens_at: vec![25],
        ..Default::default()
    };
    let opts = SendOptions { campaign, mock: Some(mock), new_run: true, ..Default::default() };
    let consent = Consent { yes: args.headless, may_ask: !args.headless };
    super::send::drive(opts, args.headless, consent)
}
