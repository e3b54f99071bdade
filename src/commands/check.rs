//! `wxsend check`: the list checked against the campaign (and the account's template), the
//! report on standard output.

use std::io::Write;

use crate::app::{CheckReport, Exit};
use crate::campaign::Campaign;
use crate::cli::CheckArgs;
use crate::error::{runtime, Error};

/// Check the list; the exit says whether every row is ready (0), some are not (1), or the
/// campaign cannot be used (the `Err`).
pub fn run(args: CheckArgs) -> Result<Exit, Error> {
    if crate::app::fleet::is_fleet(&args.campaign)? {
        return merchants(&args);
    }
    // --offline asks WeChat nothing: an audience is checked as last pulled. The runtime comes
    // after the list is loaded, so that its threads never add to the load's peak memory.
    let audience = if args.csv.is_none() && !args.offline && super::audience::is_audience(&args.campaign)? {
        runtime()?.block_on(super::audience::make_list(&args.campaign, None, false, false))?
    } else {
        None
    };
    let mut campaign = Campaign::load(&args.campaign, args.csv.as_deref())?;
    let rt = runtime()?;
    let opts = crate::app::templates::CatalogueOptions {
        offline: args.offline,
        refresh: args.refresh_templates,
        ..Default::default()
    };
    let template = rt.block_on(crate::app::templates::check_standalone(&mut campaign, opts));
    let report = CheckReport::build(&campaign, args.show, args.all || args.json, template).with_ledger(&campaign);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        // An audience campaign's report says what the list was made of.
        let mut json = serde_json::to_value(&report)?;
        if let (Some(a), Some(map)) = (&audience, json.as_object_mut()) {
            map.insert("audience".into(), serde_json::to_value(a)?);
        }
        serde_json::to_writer_pretty(&mut out, &json).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        report.write_text(&mut out)
    };
    written.map_err(Error::Output)?;
    Ok(report.exit())
}

/// `check` of a campaign sent for many merchants: each merchant's table row, then the report of
/// each one with something to fix (or one JSON document).
fn merchants(args: &CheckArgs) -> Result<Exit, Error> {
    let opts = crate::app::templates::CatalogueOptions {
        offline: args.offline,
        refresh: args.refresh_templates,
        ..Default::default()
    };
    let every = args.all || args.json;
    let check = crate::app::fleet_check::check_fleet(&args.campaign, args.csv.as_deref(), args.show, every, opts);
    let report = runtime()?.block_on(check)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        report.write_text(&mut out)
    };
    written.map_err(Error::Output)?;
    Ok(report.exit())
}
