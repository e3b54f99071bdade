//! The application layer: every use case without drawing. `check` builds a [`CheckReport`];
//! `send` prepares a [`Session`] (load, mock, journal, [`Plan`]), runs its preflight, test sends
//! and launches the engine ([`Run`]), and ends in a typed [`RunReport`] with its [`Exit`]. The
//! terminal UI and the headless front end render these types and never read each other.

pub mod accounts;
pub mod audience;
pub mod audience_list;
pub mod check;
pub mod doctor;
mod doctor_component;
pub mod exit;
pub mod export;
pub mod fleet;
pub mod fleet_board;
pub mod fleet_check;
pub mod fleet_report;
pub mod fleet_status;
pub mod gate;
pub mod ledger;
pub mod merchant_lists;
pub mod new_campaign;
pub mod plan;
pub mod preflight;
pub mod receipts;
pub mod report;
pub mod rerun;
pub mod run;
pub mod scheduler;
pub mod session;
pub mod shared;
pub mod status;
pub mod templates;
pub mod test_send;
pub mod text;
pub mod tokens;

pub use check::CheckReport;
pub use exit::Exit;
pub use gate::{Gate, Question};
pub use plan::{Overview, Plan, Resume};
pub use preflight::{Consent, PreflightError, QuotaCheck};
pub use report::{LineKind, ReportLine, RunReport};
pub use run::Run;
pub use session::{PrepareError, SendOptions, Session};
pub use test_send::{TestResult, TestSend, TestSender};
