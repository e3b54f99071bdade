//! One file per subcommand, each turning the application layer's typed results into lines on
//! the terminal and returning how it ended (`Result<Exit, Error>`, printed once by `main.rs`).

mod accounts;
mod audience;
mod check;
mod demo;
mod doctor;
pub mod help;
mod ledger;
mod mock;
mod new;
mod receipts;
mod send;
mod state;
mod status;
mod templates;

use crate::app::Exit;
use crate::cli::{Cli, Command};
use crate::error::Error;

/// The language the command line asks for, read before it is parsed (so that `--help` and
/// clap's own errors speak it): `--lang X` or `--lang=X`, then the environment. An unknown one
/// is English here; [`run`] refuses it once the line is parsed.
pub fn early_language(args: &[std::ffi::OsString]) -> crate::i18n::Lang {
    let flag = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        match a.strip_prefix("--lang=") {
            Some(v) => Some(v.to_string()),
            None if a == "--lang" => args.get(i + 1).and_then(|v| v.to_str()).map(str::to_string),
            None => None,
        }
    });
    crate::i18n::choose(flag.as_deref(), |k| std::env::var(k).ok()).unwrap_or(crate::i18n::Lang::En)
}

/// Run a parsed command line and say how it ended.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    crate::i18n::set(crate::i18n::choose(cli.lang.as_deref(), |k| std::env::var(k).ok())?);
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Send(args) => send::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Templates(args) => templates::run(args),
        Command::New(args) => new::run(args),
        Command::Accounts(args) => accounts::run(args),
        Command::Status(args) => status::run(args),
        Command::Receipts(args) => receipts::run(args),
        Command::Audience(args) => audience::run(args),
        Command::Ledger(args) => ledger::run(args),
        Command::Mock(config) => mock::run(*config),
        Command::Demo(args) => demo::run(args),
        Command::Completions { shell } => help::completions(shell),
        Command::Man => help::man(),
    }
}
