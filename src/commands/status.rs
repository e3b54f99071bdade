//! `wxsend status`: where every row of a campaign stands, over all runs (and across senders on
//! Redis), with its receipts; `--export` writes the failures file.

use crate::app::text::thousands as t;
use crate::app::Exit;
use crate::cli::StatusArgs;
use crate::error::{runtime, Error};
use crate::tr;

/// `wxsend status`.
pub fn run(args: StatusArgs) -> Result<Exit, Error> {
    if crate::app::fleet::is_fleet(&args.state.campaign)? {
        return merchants(&args);
    }
    let (campaign, dir) = super::state::load(&args.state)?;
    let mut report = crate::app::status::status(&campaign, dir.as_deref())?;
    if campaign.config.shared.redis.is_some() {
        report.senders = runtime()?.block_on(crate::app::status::shared_status(&campaign))?;
    }
    if let Some(path) = &args.export {
        let n = crate::app::export::export_with_receipts(&campaign, dir.as_deref(), path, args.include_blocked)?;
        eprintln!("{}", tr!("status.exported", path = path.display().to_string(), count = t(n)));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Exit::Success);
    }
    println!("{}", tr!("status.campaign", campaign = report.campaign.clone(), rows = t(report.rows)));
    println!(
        "{}",
        tr!(
            "status.rows",
            sent = t(report.sent),
            failed = t(report.failed),
            unknown = t(report.unknown),
            pending = t(report.pending),
            not_sendable = t(report.not_sendable)
        )
    );
    for line in report.ledger.lines() {
        println!("{}", tr!("check.ledger", line = crate::app::text::printable(&line).into_owned()));
    }
    let r = &report.receipts;
    let unmatched = if report.receipts_unmatched > 0 {
        tr!("status.unmatched", count = t(report.receipts_unmatched))
    } else {
        String::new()
    };
    let receipts = tr!(
        "status.receipts",
        success = t(r.success),
        user_block = t(r.user_block),
        system_failed = t(r.system_failed),
        pending = t(r.pending),
        unmatched = unmatched
    );
    println!("{receipts}");
    let s = &report.subscriptions;
    if *s != Default::default() {
        let line = tr!(
            "status.subscriptions",
            subscribed = t(s.subscribed),
            declined = t(s.declined),
            turned_off = t(s.turned_off)
        );
        println!("{line}");
    }
    match &report.senders {
        Some(senders) => print_senders(senders),
        None if report.journal.is_none() => println!("{}", tr!("status.no_journal")),
        None => {}
    }
    Ok(Exit::Success)
}

/// Each sender's share of a campaign shared on Redis, and all of them together.
fn print_senders(senders: &[crate::app::status::SenderShare]) {
    let all = |f: fn(&crate::app::status::SenderShare) -> usize| senders.iter().map(f).sum::<usize>();
    let (delivered, failed, sent) = (t(all(|s| s.delivered)), t(all(|s| s.failed)), t(all(|s| s.sent)));
    println!("{}", tr!("status.across", delivered = delivered, failed = failed, sent = sent));
    println!("{}", tr!("status.senders", count = senders.len()));
    for s in senders {
        let share = tr!(
            "status.sender",
            sender = s.sender.clone(),
            delivered = t(s.delivered),
            failed = t(s.failed),
            sent = t(s.sent),
            retry = t(s.retry)
        );
        println!("  {share}");
    }
}

/// `status` of a campaign sent for many merchants: a row per merchant (or one JSON document);
/// `--export` merges the merchants' failures into one file with the merchant column.
fn merchants(args: &StatusArgs) -> Result<Exit, Error> {
    let s = &args.state;
    let (path, csv, dir) = (&s.campaign, s.csv.as_deref(), s.state_dir.as_deref());
    let report = crate::app::fleet_status::fleet_status(path, csv, dir, s.mock)?;
    if let Some(out) = &args.export {
        let n = crate::app::fleet_status::export_fleet(path, csv, dir, s.mock, out, args.include_blocked)?;
        eprintln!("{}", tr!("status.exported", path = out.display().to_string(), count = t(n)));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Exit::Success);
    }
    let header = [
        tr!("fleet.col.merchant"),
        tr!("fleet.col.appid"),
        tr!("fleet.col.sent"),
        tr!("fleet.col.failed"),
        tr!("fleet.col.unknown"),
        tr!("fleet.col.pending"),
        tr!("fleet.col.not_sendable"),
    ];
    let rows: Vec<[String; 7]> = report
        .merchants
        .iter()
        .map(|m| {
            let r = &m.status;
            [m.merchant.clone(), m.appid.clone(), t(r.sent), t(r.failed), t(r.unknown), t(r.pending), t(r.not_sendable)]
        })
        .collect();
    println!("{}", tr!("fleet.check.campaign", campaign = report.campaign.clone(), count = report.merchants.len()));
    for line in crate::app::text::columns(&header, &rows) {
        println!("{}", crate::app::text::printable(&line));
    }
    if !report.idle.is_empty() {
        println!("{}", tr!("fleet.idle", merchants = report.idle.join(", ")));
    }
    Ok(Exit::Success)
}
