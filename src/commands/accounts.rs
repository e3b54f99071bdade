//! `wxsend accounts`: the accounts of accounts.toml, one line each, without a secret.

use crate::app::Exit;
use crate::error::Error;

/// `wxsend accounts`.
pub fn run() -> Result<Exit, Error> {
    use crate::campaign::account::{accounts_path, describe, load_accounts};
    let path = accounts_path().ok_or(Error::NoConfigFolder)?;
    let accounts = load_accounts(&path)?;
    match accounts {
        accounts if accounts.is_empty() => {
            println!("{}", crate::tr!("accounts.none", path = path.display().to_string()));
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
