//! `wxsend ledger rebuild|who|suppress`: the account's delivery ledger.

use crate::app::Exit;
use crate::error::Error;

/// The appid a ledger command names, or why it cannot be had.
fn pick_appid(pick: &crate::cli::AccountPick) -> Result<String, Error> {
    match (&pick.appid, &pick.campaign) {
        (Some(appid), _) => Ok(appid.clone()),
        (None, Some(path)) => Ok(crate::campaign::CampaignConfig::load(path)?.wechat.appid),
        (None, None) => Err(Error::NoAccount),
    }
}

/// `wxsend ledger`.
pub fn run(args: crate::cli::LedgerArgs) -> Result<Exit, Error> {
    use crate::app::text::{local_date, printable, thousands};
    use crate::cli::LedgerAction;
    match args.action {
        LedgerAction::Rebuild { dirs } => {
            let dirs = if dirs.is_empty() { vec![std::path::PathBuf::from(".wxsend")] } else { dirs };
            match crate::app::ledger::rebuild(&dirs) {
                Ok(done) => {
                    for (appid, (path, journals, records)) in &done.accounts {
                        println!(
                            "{appid}: {} journal{} read, {} records, into {}",
                            thousands(*journals),
                            if *journals == 1 { "" } else { "s" },
                            thousands(*records),
                            path.display()
                        );
                    }
                    if done.accounts.is_empty() {
                        println!(
                            "no journal of an account found under {}",
                            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                        );
                    }
                    for path in &done.skipped {
                        println!(
                            "skipped {} (a run of the embedded mock, or written before journals named their account)",
                            path.display()
                        );
                    }
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
        LedgerAction::Who { openid, account, json } => {
            let appid = pick_appid(&account)?;
            match crate::app::ledger::who(&appid, &openid) {
                Ok(history) if json => {
                    println!("{}", serde_json::to_string_pretty(&history)?);
                    Ok(Exit::Success)
                }
                Ok(history) if history.is_empty() => {
                    println!("{appid}: no message to {openid} in the ledger");
                    Ok(Exit::Success)
                }
                Ok(history) => {
                    println!("{appid}: {} messages to {openid}, newest first", history.len());
                    for h in history {
                        let code = h.errcode.map(|c| format!(" {c}")).unwrap_or_default();
                        println!(
                            "  {}  {:<9}{code}  {} {} (campaign {})",
                            local_date(h.at),
                            h.outcome,
                            h.kind,
                            printable(&h.template),
                            printable(&h.campaign)
                        );
                    }
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
        LedgerAction::Suppress { action, file, account } => {
            let appid = pick_appid(&account)?;
            let add = action == "add";
            match crate::app::ledger::suppress(&appid, &file, add) {
                Ok((changed, named)) => {
                    let (verb, state) = if add { ("added to", "already on it") } else { ("removed from", "not on it") };
                    println!(
                        "{appid}: {} of {} people {verb} the do-not-send list ({} {state})",
                        thousands(changed),
                        thousands(named),
                        thousands(named - changed)
                    );
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
