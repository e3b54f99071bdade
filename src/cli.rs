//! The command line as clap reads it: every subcommand's arguments, and nothing else (each
//! subcommand runs in `commands/<name>.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Send WeChat template and subscribe messages to every row of a CSV file.
#[derive(Debug, Parser)]
#[command(name = "wxsend", version, about, long_about = None)]
pub struct Cli {
    /// The language of what wxsend prints and shows: en or zh-CN (default: WXSEND_LANG, then
    /// LC_ALL / LC_MESSAGES / LANG; a zh_* locale is Chinese). JSON output stays English.
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
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
    /// List the accounts of accounts.toml (no secrets); import a platform's merchants; check them.
    Accounts(AccountsArgs),
    /// The campaign at a glance without sending: rows sent, failed, unknown, pending, and the
    /// delivery receipts.
    Status(StatusArgs),
    /// Delivery receipts: serve an endpoint for WeChat's pushes, or import them from a file.
    Receipts(ReceiptsArgs),
    /// Write a recipients list from the account's followers: everyone, or by tags; resumable.
    Audience(AudienceArgs),
    /// The account's delivery ledger: who got which message across every campaign; rebuild it
    /// from journals, show a person's history, keep a do-not-send list.
    Ledger(LedgerArgs),
    /// Run the embedded mock WeChat server on 127.0.0.1 until Ctrl-C.
    Mock(Box<crate::mock::MockConfig>),
    /// The whole product on a bundled sample campaign against the embedded mock (no credentials).
    Demo(DemoArgs),
    /// Print a shell completion script: `wxsend completions bash > /etc/bash_completion.d/wxsend`.
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        #[arg(value_enum, hide_possible_values = true)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `wxsend man > wxsend.1; man ./wxsend.1`.
    Man,
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
/// `wxsend accounts`.
pub struct AccountsArgs {
    /// Write every merchant that authorized the platform of this `token = "component"` account
    /// as an account (api_get_authorizer_list), its refresh token saved; existing accounts kept.
    #[arg(long, value_name = "ACCOUNT")]
    pub import_authorizers: Option<String>,
    /// Check every `token = "component"` account: authorized, withdrawn (61023) or not
    /// whitelisted (61004), and the quota left today.
    #[arg(long, conflicts_with = "import_authorizers")]
    pub check: bool,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
/// `wxsend audience`.
pub struct AudienceArgs {
    /// The campaign whose account, token source, proxy and Redis are used (its state folder
    /// keeps the pull's checkpoint).
    pub campaign: PathBuf,
    /// The recipients CSV to write (openid first).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Followers of this tag (a name or an id); repeat for a union.
    #[arg(long = "tag", value_name = "NAME_OR_ID")]
    pub tags: Vec<String>,
    /// Only followers with every --tag (an intersection).
    #[arg(long)]
    pub all_tags: bool,
    /// Leave out the followers of this tag; repeatable.
    #[arg(long = "except-tag", value_name = "NAME_OR_ID")]
    pub except_tags: Vec<String>,
    /// Only those who followed on or after this date (2026-11-01, China time); needs --with-info.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Also write subscribe_time, remark, tags and unionid (user/info/batchget, 100 a call).
    #[arg(long)]
    pub with_info: bool,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// The kind of the template: template (official-account template messages), subscribe
    /// (mini-program subscribe messages) or mp_subscribe (official-account subscribe
    /// notifications); default: the --from campaign's.
    #[arg(long, value_enum, hide_possible_values = true)]
    pub kind: Option<NewKind>,
}

/// The kinds whose templates can be listed.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NewKind {
    /// Official-account template messages.
    Template,
    /// Mini-program subscribe messages.
    Subscribe,
    /// Official-account subscribe notifications (bizsend).
    #[value(name = "mp_subscribe")]
    MpSubscribe,
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
    /// Re-running a failures file (--csv): leave out the rows whose code will not change (43101,
    /// 43004, 40003, 40037, 47003); they are written to dropped-<file> beside it.
    #[arg(long)]
    pub drop_permanent: bool,
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
