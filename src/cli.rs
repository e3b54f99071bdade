//! Command-line arguments and the dispatch from a subcommand to the library.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::campaign::Campaign;
use crate::check::CheckReport;
use crate::exit::Exit;

/// Send WeChat template and subscribe messages to every row of a CSV file.
#[derive(Debug, Parser)]
#[command(name = "wxsend", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a campaign, check every row and show what would be sent; sends nothing.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// Use this recipients CSV instead of the campaign's `[recipients] csv`.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Print the rendered request body of the first N ready rows.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub show: usize,
    /// Print the report as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Run a parsed command line and say how it ended.
pub fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> Exit {
    let campaign = match Campaign::load(&args.campaign, args.csv.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Input;
        }
    };
    let report = CheckReport::build(&campaign, args.show);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        report.write_text(&mut out)
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the report: {e}");
        }
    }
    report.exit()
}
