//! The one error a command ends with: each boundary's typed error, wrapped as it is, with the
//! exit code it means. Commands return `Result<Exit, Error>`; `main.rs` alone prints it (once,
//! on standard error) and exits with its code.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::app::Exit;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The campaign, an account or a recipients file cannot be used.
    #[error(transparent)]
    Load(#[from] crate::campaign::LoadError),
    /// `--since` is not a date.
    #[error("{}", crate::tr!("err.bad_since", given = .0.clone()))]
    BadSince(String),
    /// A list could not be pulled from the account's followers.
    #[error(transparent)]
    Audience(#[from] crate::app::audience::AudienceError),
    /// A platform's merchants could not be imported or checked.
    #[error(transparent)]
    Accounts(#[from] crate::app::accounts::AccountsError),
    /// An audience campaign's list could not be made.
    #[error(transparent)]
    AudienceList(#[from] crate::app::audience_list::ListError),
    /// A send could not be prepared.
    #[error(transparent)]
    Prepare(#[from] crate::app::session::PrepareError),
    /// A campaign for many merchants could not be prepared.
    #[error(transparent)]
    Fleet(#[from] crate::app::fleet::FleetError),
    /// A campaign for many merchants' status could not be read or exported.
    #[error(transparent)]
    FleetStatus(#[from] crate::app::fleet_status::FleetStatusError),
    /// Nothing was sent: no token, a quota too small, a network that lets nothing through, or
    /// the operator did not agree.
    #[error(transparent)]
    Preflight(#[from] crate::app::preflight::PreflightError),
    /// The terminal UI sent nothing (the preflight or gate said no, or no terminal).
    #[error(transparent)]
    Tui(#[from] crate::tui::StartError),
    /// A campaign's status cannot be read.
    #[error(transparent)]
    Status(#[from] crate::app::status::StatusError),
    /// Receipts cannot be opened, read or recorded.
    #[error(transparent)]
    Receipts(#[from] crate::app::receipts::ReceiptsError),
    /// The failures file cannot be written.
    #[error(transparent)]
    Export(#[from] crate::app::export::ExportError),
    /// The account's templates cannot be listed.
    #[error("{}", crate::tr!("err.error.catalogue", kind = .kind.to_string(), source = .source.to_string()))]
    Catalogue {
        /// `template` or `subscribe`.
        kind: &'static str,
        /// Why.
        source: crate::app::templates::CatalogueError,
    },
    /// The account's delivery ledger cannot be used.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// `ledger suppress` cannot read its list or use the ledger.
    #[error(transparent)]
    Suppress(#[from] crate::app::ledger::SuppressError),
    /// The shared Redis cannot be read.
    #[error(transparent)]
    Shared(#[from] crate::shared::SharedError),
    /// A file cannot be read.
    #[error("{path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file given as a base is not TOML.
    #[error("{path}: {source}", path = .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<toml::de::Error>,
    },
    /// `wxsend new` would overwrite a file.
    #[error("{}", crate::tr!("err.error.exists", path = .0.display().to_string()))]
    Exists(PathBuf),
    /// A file cannot be written.
    #[error("{path}: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A campaign file cannot be made from the template.
    #[error("{}", crate::tr!("err.error.new_campaign", value0 = .0.to_string()))]
    NewCampaign(#[from] toml::ser::Error),
    /// `wxsend new` names a template the account does not have.
    #[error("{}", crate::tr!("err.error.no_such_template", id = format!("{:?}", .id), kind = .kind, known = if .known.is_empty() { crate::tr!("err.error.it_has_none") } else { .known.join(", ") }))]
    NoSuchTemplate {
        /// The id given.
        id: String,
        /// `template` or `subscribe`.
        kind: &'static str,
        /// The account's templates (id and title).
        known: Vec<String>,
    },
    /// A ledger command does not say which account.
    #[error("{}", crate::tr!("err.error.no_account"))]
    NoAccount,
    /// There is no configuration folder to find accounts.toml in.
    #[error("{}", crate::tr!("err.error.no_config_folder"))]
    NoConfigFolder,
    /// `receipts serve` without the token WeChat signs pushes with.
    #[error("{}", crate::tr!("err.error.no_push_token"))]
    NoPushToken,
    /// A server cannot listen on its address.
    #[error("{}", crate::tr!("err.error.listen", addr = .addr.to_string(), source = .source.to_string()))]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A server stopped with an error.
    #[error("{}", crate::tr!("err.error.serve", value0 = .0.to_string()))]
    Serve(std::io::Error),
    /// The embedded mock cannot start.
    #[error("{}", crate::tr!("err.error.mock", value0 = .0.to_string()))]
    Mock(std::io::Error),
    /// The async runtime cannot start.
    #[error("{}", crate::tr!("err.error.runtime", value0 = .0.to_string()))]
    Runtime(std::io::Error),
    /// A report cannot be written as JSON (a bug in wxsend: please report it).
    #[error("{}", crate::tr!("err.error.report_json", value0 = .0.to_string()))]
    Json(#[from] serde_json::Error),
    /// Standard output cannot be written.
    #[error("{}", crate::tr!("err.error.output", value0 = .0.to_string()))]
    Output(std::io::Error),
    /// `--lang` or `WXSEND_LANG` names a language wxsend does not speak.
    #[error(transparent)]
    Lang(#[from] crate::i18n::LangError),
}

impl Error {
    /// The exit code the README's table gives it.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Prepare(e) => e.exit(),
            Error::Fleet(e) => e.exit(),
            Error::FleetStatus(e) => e.exit(),
            Error::Audience(e) => e.exit(),
            Error::Accounts(e) => e.exit(),
            Error::AudienceList(e) => e.exit(),
            Error::Status(e) => e.exit(),
            Error::Receipts(e) => e.exit(),
            Error::Export(e) => e.exit(),
            Error::Write { .. } => Exit::LocalWrite,
            Error::Runtime(_) | Error::Json(_) => Exit::Crashed,
            Error::Output(_) => Exit::LocalWrite,
            _ => Exit::Input,
        }
    }

    /// What the binary prints for it, in the process's language: one line per the README's
    /// `error: …` (control characters made visible).
    pub fn report(&self) -> String {
        let message = crate::app::text::printable(&self.to_string()).into_owned();
        crate::tr!("error.line", message = message)
    }

    /// Whether it is standard output closed by the reader (`wxsend … | head -1`): not an error.
    pub fn is_closed_pipe(&self) -> bool {
        match self {
            Error::Output(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            Error::Json(e) => e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe),
            _ => false,
        }
    }
}

/// The runtime for the commands that do I/O: one thread. A send's workers, reqwest's
/// connections and the front end share it; on a real network the client's CPU per message is a
/// few percent of one core at the rates WeChat allows (BENCHMARKS.md).
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)
}
