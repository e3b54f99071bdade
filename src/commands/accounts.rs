//! `wxsend accounts`: the accounts of accounts.toml, one line each, without a secret; a
//! platform's merchants imported (`--import-authorizers`) or checked (`--check`).

use crate::app::text::thousands as t;
use crate::app::Exit;
use crate::cli::AccountsArgs;
use crate::error::{runtime, Error};
use crate::tr;

/// `wxsend accounts`.
pub fn run(args: AccountsArgs) -> Result<Exit, Error> {
    if let Some(platform) = &args.import_authorizers {
        let imported = runtime()?.block_on(crate::app::accounts::import_authorizers(platform))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&imported)?);
            return Ok(Exit::Success);
        }
        let line = tr!(
            "accounts.imported",
            added = imported.added.len(),
            kept = imported.kept.len(),
            total = imported.total,
            pages = imported.pages,
            file = imported.file.display().to_string()
        );
        println!("{line}");
        for name in &imported.added {
            println!("  + {}", crate::app::text::printable(name));
        }
        return Ok(Exit::Success);
    }
    if args.check {
        return check(args.json);
    }
    list()
}

/// Each merchant's authorization and quota; exit 1 when one cannot be sent for.
fn check(json: bool) -> Result<Exit, Error> {
    use crate::app::accounts::Authorization;
    let checked = runtime()?.block_on(crate::app::accounts::check_merchants())?;
    let all_fine = checked.iter().all(|m| m.authorization == Authorization::Authorized);
    if json {
        println!("{}", serde_json::to_string_pretty(&checked)?);
    } else if checked.is_empty() {
        println!("{}", tr!("accounts.no_merchants"));
    } else {
        for m in &checked {
            let state = match &m.authorization {
                Authorization::Authorized => tr!("accounts.authorized"),
                Authorization::Withdrawn => tr!("accounts.withdrawn"),
                Authorization::NotWhitelisted => tr!("accounts.not_whitelisted"),
                Authorization::Failed(why) => {
                    tr!("accounts.failed", why = crate::app::text::printable(why).into_owned())
                }
            };
            let quota = m.quota.map_or_else(String::new, |q| {
                tr!("accounts.quota", remain = t(q.remain as usize), limit = t(q.daily_limit as usize))
            });
            let name = crate::app::text::pad(&crate::app::text::printable(&m.account), 20);
            println!("  {name} {}  {state}{quota}", m.appid);
        }
    }
    Ok(if all_fine { Exit::Success } else { Exit::Partial })
}

/// The accounts, one line each.
fn list() -> Result<Exit, Error> {
    use crate::campaign::account::{accounts_path, describe, load_accounts};
    let path = accounts_path().ok_or(Error::NoConfigFolder)?;
    let accounts = load_accounts(&path)?;
    match accounts {
        accounts if accounts.is_empty() => {
            println!("{}", tr!("accounts.none", path = path.display().to_string()));
            println!("\n[accounts.shop]\nappid = \"wx0123456789abcdef\"\nsecret_env = \"SHOP_APPSECRET\"\n# token = \"url:https://tokens.internal/wx/wx0123456789abcdef\"\n# proxy = \"http://proxy.corp:3128\"\n# ca_file = \"corp-ca.pem\"");
        }
        accounts => {
            println!("{}:", path.display());
            for (name, account) in &accounts {
                println!("  {}", crate::app::text::printable(&describe(name, account)));
            }
        }
    }
    Ok(Exit::Success)
}
