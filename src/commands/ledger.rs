//! `wxsend ledger rebuild|who|suppress`: the account's delivery ledger.

use crate::app::Exit;
use crate::error::Error;
use crate::tr;

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
                        let key = if *journals == 1 { "ledger_cli.read_one" } else { "ledger_cli.read" };
                        let (journals, records) = (thousands(*journals), thousands(*records));
                        let path = path.display().to_string();
                        println!(
                            "{}",
                            tr!(key, appid = appid.clone(), journals = journals, records = records, path = path)
                        );
                    }
                    if done.accounts.is_empty() {
                        let dirs = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
                        println!("{}", tr!("ledger_cli.none_found", dirs = dirs));
                    }
                    for path in &done.skipped {
                        println!("{}", tr!("ledger_cli.skipped", path = path.display().to_string()));
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
                    println!("{}", tr!("ledger_cli.no_message", appid = appid.clone(), openid = openid.clone()));
                    Ok(Exit::Success)
                }
                Ok(history) => {
                    let count = history.len();
                    println!(
                        "{}",
                        tr!("ledger_cli.history", appid = appid.clone(), count = count, openid = openid.clone())
                    );
                    for h in history {
                        let code = h.errcode.map(|c| format!(" {c}")).unwrap_or_default();
                        let campaign = tr!("ledger_cli.campaign", campaign = printable(&h.campaign).into_owned());
                        let (at, template) = (local_date(h.at), printable(&h.template));
                        println!("  {at}  {:<9}{code}  {} {template} {campaign}", h.outcome, h.kind);
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
                    let key = if add { "ledger_cli.added" } else { "ledger_cli.removed" };
                    let (changed, named, rest) = (thousands(changed), thousands(named), thousands(named - changed));
                    println!("{}", tr!(key, appid = appid.clone(), changed = changed, named = named, rest = rest));
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
