//! Command-line arguments and the dispatch from a subcommand to the library.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{CheckReport, Consent, Exit, SendOptions, Session};
use crate::campaign::Campaign;
use crate::error::{runtime, Error};

/// Send WeChat template and subscribe messages to every row of a CSV file.
#[derive(Debug, Parser)]
#[command(name = "wxsend", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    /// What to do.
    pub command: Command,
}

#[derive(Debug, Subcommand)]
/// The subcommands.
pub enum Command {
    /// Load a campaign, check every row and show what would be sent; sends nothing.
    Check(CheckArgs),
    /// Send the campaign: one message per ready row, resumable, never twice.
    Send(SendArgs),
    /// Check step by step that this machine can send the campaign: configuration, proxy, DNS,
    /// TCP, TLS, token, quota, clock; sends nothing.
    Doctor(DoctorArgs),
    /// List the account's templates of the campaign's kind: id, title, fields with labels, enum
    /// values, example.
    Templates(TemplatesArgs),
    /// Start a campaign from one of the account's templates: a campaign file with every key
    /// mapped and a CSV with the matching header.
    New(NewArgs),
    /// List the accounts of accounts.toml (no secrets).
    Accounts,
    /// The campaign at a glance without sending: rows sent, failed, unknown, pending, and the
    /// delivery receipts.
    Status(StatusArgs),
    /// Delivery receipts: serve an endpoint for WeChat's pushes, or import them from a file.
    Receipts(ReceiptsArgs),
    /// The account's delivery ledger: who got which message across every campaign; rebuild it
    /// from journals, show a person's history, keep a do-not-send list.
    Ledger(LedgerArgs),
    /// Run the embedded mock WeChat server on 127.0.0.1 until Ctrl-C.
    Mock(crate::mock::MockConfig),
    /// The whole product on a bundled sample campaign against the embedded mock (no credentials).
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
/// `wxsend ledger`.
pub struct LedgerArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: LedgerAction,
}

#[derive(Debug, Subcommand)]
/// What `wxsend ledger` does.
pub enum LedgerAction {
    /// Rebuild the account ledgers from the journals under these folders (searched to any
    /// depth), e.g. after the ledger folder was lost or moved.
    Rebuild {
        /// Folders holding state folders (`.wxsend`); default: `.wxsend` here.
        dirs: Vec<PathBuf>,
    },
    /// A person's history with an account: every message, campaign, outcome and time.
    Who {
        /// The person's openid.
        openid: String,
        /// Which account.
        #[command(flatten)]
        account: AccountPick,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// The account's do-not-send list: nobody on it is sent any message without
    /// `--include-suppressed`.
    Suppress {
        /// `add` or `remove`.
        #[arg(value_parser = ["add", "remove"])]
        action: String,
        /// A CSV with an `openid` column (a failures file works as it is).
        file: PathBuf,
        /// Which account.
        #[command(flatten)]
        account: AccountPick,
    },
}

#[derive(Debug, Args)]
/// The account a ledger command is about: an appid, or the campaign that names it.
pub struct AccountPick {
    /// The account's appid.
    #[arg(long, value_name = "APPID", required_unless_present = "campaign")]
    pub appid: Option<String>,
    /// A campaign file of the account.
    #[arg(long, value_name = "FILE")]
    pub campaign: Option<PathBuf>,
}

#[derive(Debug, Args)]
/// Which campaign state a status or receipts command reads.
pub struct StateArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// The recipients file the run used, if not the campaign's (`send --csv`).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// The state folder, if `send` was given `--state-dir`.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The state of `send --mock` runs.
    #[arg(long)]
    pub mock: bool,
}

#[derive(Debug, Args)]
/// `wxsend status`.
pub struct StatusArgs {
    #[command(flatten)]
    /// The campaign and its state folder.
    pub state: StateArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the failures file (invalid and failed rows) here.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// With --export: also the rows whose receipt says the recipient blocks the account.
    #[arg(long)]
    pub include_blocked: bool,
}

#[derive(Debug, Args)]
/// `wxsend receipts`.
pub struct ReceiptsArgs {
    #[command(subcommand)]
    /// Serve or import.
    pub command: ReceiptsCommand,
}

#[derive(Debug, Subcommand)]
/// The receipts subcommands.
pub enum ReceiptsCommand {
    /// Receive WeChat's pushes (set this address, behind your HTTPS front, as the account's
    /// server URL, or forward the pushes to it) until Ctrl-C.
    Serve {
        #[command(flatten)]
        /// The campaign and its state folder.
        state: StateArgs,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Record the events of FILE: one XML or JSON event per line, as your server received them.
    Import {
        #[command(flatten)]
        /// The campaign and its state folder.
        state: StateArgs,
        /// The events.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
/// `wxsend templates`.
pub struct TemplatesArgs {
    /// The campaign file whose app (and kind) to list.
    pub campaign: PathBuf,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Ask WeChat even when a cached list is young enough.
    #[arg(long)]
    pub refresh_templates: bool,
}

#[derive(Debug, Args)]
/// `wxsend new`.
pub struct NewArgs {
    /// The campaign file to write (its CSV is written beside it, same name).
    pub out: PathBuf,
    /// The template's id (`wxsend templates` lists them).
    #[arg(long)]
    pub template: String,
    /// The campaign whose [wechat] and [network] (app, credentials, proxy) the new one uses.
    #[arg(long, value_name = "CAMPAIGN")]
    pub from: PathBuf,
    /// The kind of the template (default: the --from campaign's).
    #[arg(long, value_enum)]
    pub kind: Option<NewKind>,
}

/// The kinds whose templates can be listed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NewKind {
    /// Official-account template messages.
    Template,
    /// Mini-program subscribe messages.
    Subscribe,
}

#[derive(Debug, Args)]
/// `wxsend doctor`.
pub struct DoctorArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// Use this recipients CSV instead of the campaign's.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// The steps as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
/// `wxsend demo`.
pub struct DemoArgs {
    /// No terminal UI: progress on stderr, summary at the end.
    #[arg(long)]
    pub headless: bool,
}

#[derive(Debug, Args)]
/// `wxsend send`.
pub struct SendArgs {
    /// The campaign file (TOML).
    pub campaign: PathBuf,
    /// Use this recipients CSV instead of the campaign's (e.g. an exported failures file).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Send to the embedded mock WeChat server instead of WeChat (no credentials needed).
    #[arg(long)]
    pub mock: bool,
    /// No terminal UI: progress on stderr, summary at the end.
    #[arg(long)]
    pub headless: bool,
    /// Send without asking (required when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also resend rows an earlier run dispatched without getting an answer.
    #[arg(long)]
    pub resend_unknown: bool,
    /// Send without checking the campaign against the account's templates (when they cannot be
    /// listed: no permission, uniform, network).
    #[arg(long)]
    pub skip_template_check: bool,
    /// Send nothing before this time: "2026-11-25 09:00" (seconds optional; the campaign's
    /// timezone, default this machine's) or RFC 3339 with an offset.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Ask WeChat for the account's templates even when a cached list is young enough.
    #[arg(long)]
    pub refresh_templates: bool,
    /// Start a fresh journal (the old one is kept beside it) and send the message again to people
    /// who already got it, from this campaign or any other of the account: they WILL get it twice.
    #[arg(long)]
    pub new_run: bool,
    /// Send to people the account holds back: their last answer was 43004 (not following) or
    /// 43101 (refused) within `suppress_days`, or they are on the do-not-send list.
    #[arg(long)]
    pub include_suppressed: bool,
    /// Write the failures CSV here instead of the state folder.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Keep the journal, failures and report here instead of the campaign's state folder.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Send even when WeChat reports a daily quota smaller than the campaign.
    #[arg(long)]
    pub ignore_quota: bool,
}

#[derive(Debug, Args)]
/// `wxsend check`.
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
    /// List every row with a problem (the text report lists 20 per check, then a count).
    #[arg(long)]
    pub all: bool,
    /// Do not ask WeChat for the account's templates (a cached list is still used).
    #[arg(long)]
    pub offline: bool,
    /// Ask WeChat for the account's templates even when a cached list is young enough.
    #[arg(long)]
    pub refresh_templates: bool,
}

/// Run a parsed command line and say how it ended.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Send(args) => send(args),
        Command::Doctor(args) => crate::commands::doctor(args),
        Command::Templates(args) => crate::commands::templates(args),
        Command::New(args) => crate::commands::new(args),
        Command::Accounts => crate::commands::accounts(),
        Command::Status(args) => crate::commands::status(args),
        Command::Receipts(args) => crate::commands::receipts(args),
        Command::Ledger(args) => crate::commands::ledger(args),
        Command::Mock(config) => mock(config),
        Command::Demo(args) => demo(args),
    }
}

/// Run a prepared session in the TUI on a terminal, else headless.
fn drive(opts: SendOptions, headless: bool, consent: Consent) -> Result<Exit, Error> {
    let rt = runtime()?;
    let tui = !headless && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let exit = rt.block_on(async {
        let session = Session::prepare(&opts).await?;
        if tui {
            Ok(crate::tui::run(session, consent).await?)
        } else {
            Ok(crate::headless::run(session, consent).await?)
        }
    });
    // A quit during sending leaves requests in flight: they are abandoned (their rows stay
    // unknown in the journal), not waited for.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    exit
}

/// The sample campaign and recipients bundled into the binary for `wxsend demo`.
const DEMO_CAMPAIGN: &str = include_str!("../samples/campaign.toml");
const DEMO_RECIPIENTS: &str = include_str!("../samples/recipients.csv");

fn demo(args: DemoArgs) -> Result<Exit, Error> {
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
    drive(opts, args.headless, consent)
}

fn send(args: SendArgs) -> Result<Exit, Error> {
    let opts = SendOptions {
        campaign: args.campaign,
        csv: args.csv,
        mock: args.mock.then(crate::mock::MockConfig::default),
        resend_unknown: args.resend_unknown,
        new_run: args.new_run,
        include_suppressed: args.include_suppressed,
        export: args.export,
        state_dir: args.state_dir,
        ignore_quota: args.ignore_quota,
        skip_template_check: args.skip_template_check,
        refresh_templates: args.refresh_templates,
        at: args.at,
    };
    // Someone can answer when standard input is a terminal: the terminal UI's popup, or a
    // headless y/N prompt.
    let consent = Consent { yes: args.yes, may_ask: std::io::IsTerminal::is_terminal(&std::io::stdin()) };
    drive(opts, args.headless, consent)
}

fn mock(config: crate::mock::MockConfig) -> Result<Exit, Error> {
    // One thread (the runtime every command uses): the mock shares the machine with the sender
    // it answers, and one thread handing requests over to no other costs the least CPU per
    // request (BENCHMARKS.md).
    runtime()?.block_on(async {
        let server = crate::mock::MockServer::start(config).await.map_err(Error::Mock)?;
        eprintln!("wxsend mock listening on {}", server.url());
        eprintln!("use it with: api_base = \"{}\" (or `wxsend send CAMPAIGN --mock`); Ctrl-C stops", server.url());
        let _ = tokio::signal::ctrl_c().await;
        let stats = server.stats();
        server.stop().await;
        eprintln!(
            "stopped: {} send requests, {} accepted, {} token calls, {} stable_token calls",
            stats.send_requests, stats.accepted, stats.token_calls, stats.stable_token_calls
        );
        Ok(Exit::Success)
    })
}

fn check(args: CheckArgs) -> Result<Exit, Error> {
    let campaign = Campaign::load(&args.campaign, args.csv.as_deref())?;
    let rt = runtime()?;
    let mut campaign = campaign;
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
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        report.write_text(&mut out)
    };
    written.map_err(serde_json::Error::io)?;
    Ok(report.exit())
}
