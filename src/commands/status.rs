//! `wxsend status`: where every row of a campaign stands, over all runs (and across senders on
//! Redis), with its receipts; `--export` writes the failures file.

use crate::app::Exit;
use crate::cli::StatusArgs;
use crate::error::{runtime, Error};

/// `wxsend status`.
pub fn run(args: StatusArgs) -> Result<Exit, Error> {
    let (campaign, dir) = super::state::load(&args.state)?;
    let mut report = crate::app::status::status(&campaign, dir.as_deref())?;
    if campaign.config.shared.redis.is_some() {
        report.senders = runtime()?.block_on(crate::app::status::shared_status(&campaign))?;
    }
    if let Some(path) = &args.export {
        let n = crate::app::export::export_with_receipts(&campaign, dir.as_deref(), path, args.include_blocked)?;
        eprintln!("failures: {} ({n} rows)", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Exit::Success);
    }
    use crate::app::text::thousands as t;
    println!("campaign {}: {} rows", report.campaign, t(report.rows));
    println!(
        "sent {}  failed {}  unknown {}  pending {}  not sendable {}",
        t(report.sent),
        t(report.failed),
        t(report.unknown),
        t(report.pending),
        t(report.not_sendable)
    );
    for line in report.ledger.lines() {
        println!("ledger: {}", crate::app::text::printable(&line));
    }
    let r = &report.receipts;
    println!(
        "receipts: success {}  user_block {}  system_failed {}  pending {}{}",
        t(r.success),
        t(r.user_block),
        t(r.system_failed),
        t(r.pending),
        if report.receipts_unmatched > 0 {
            format!("  (unmatched {})", t(report.receipts_unmatched))
        } else {
            String::new()
        }
    );
    if let Some(senders) = &report.senders {
        let all = |f: fn(&crate::app::status::SenderShare) -> usize| senders.iter().map(f).sum::<usize>();
        println!(
            "across senders (Redis): delivered {}, failed {}, sent without an answer yet {}",
            t(all(|s| s.delivered)),
            t(all(|s| s.failed)),
            t(all(|s| s.sent))
        );
        println!("senders (Redis): {}", senders.len());
        for s in senders {
            println!(
                "  {}: delivered {}, failed {}, sent without an answer yet {}, left for later {}",
                s.sender,
                t(s.delivered),
                t(s.failed),
                t(s.sent),
                t(s.retry)
            );
        }
    } else if report.journal.is_none() {
        println!("(no journal yet: nothing was sent)");
    }
    Ok(Exit::Success)
}
