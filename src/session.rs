//! Everything a `send` needs before and after the engine runs, shared by the TUI and the
//! headless front end: load, mock, journal, plan, quota; then failures and report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::campaign::{Campaign, LoadError, TokenSpec};
use crate::engine::{Engine, EngineConfig, Summary};
use crate::export::{self, Files, Totals};
use crate::journal::{replay_file, Journal, JournalError, JournalWriter, RowRecord, StatePaths};
use crate::mock::{MockConfig, MockServer};
use crate::wechat::client::ClientError;
use crate::wechat::{Quota, Secret, Sender, TokenCache, TokenError, TokenSource, WechatClient};

/// Options of `wxsend send` that shape the session.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub campaign: PathBuf,
    pub csv: Option<PathBuf>,
    /// Run against the embedded mock with this configuration.
    pub mock: Option<MockConfig>,
    pub resend_unknown: bool,
    pub new_run: bool,
    pub export: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

/// Why a send cannot start. Exit code 2: nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot start the embedded mock: {0}")]
    Mock(std::io::Error),
}

/// Which rows this run sends, and what earlier runs did.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub to_send: Vec<usize>,
    pub already_delivered: usize,
    pub already_failed: usize,
    /// Dispatched by an earlier run without an answer, and not resent.
    pub unknown_held: Vec<usize>,
    /// Unknown rows this run resends (`--resend-unknown`).
    pub unknown_resent: usize,
}

/// A prepared send.
#[derive(Debug)]
pub struct Session {
    pub campaign: Arc<Campaign>,
    pub sender: Sender,
    pub journal: Journal,
    pub writer: JournalWriter,
    pub plan: Plan,
    pub files: Files,
    pub mock: Option<MockServer>,
    pub engine_config: EngineConfig,
}

/// The secret used against the embedded mock (it accepts any).
const MOCK_SECRET: &str = "mock-secret";

impl Session {
    /// Load the campaign, start the mock if asked, open the journal and plan the run.
    pub async fn prepare(opts: &SendOptions) -> Result<Self, PrepareError> {
        let mut campaign = Campaign::load(&opts.campaign, opts.csv.as_deref())?;
        let mock = match &opts.mock {
            Some(cfg) => {
                let server = MockServer::start(cfg.clone()).await.map_err(PrepareError::Mock)?;
                campaign.config.wechat.api_base = server.url();
                Some(server)
            }
            None => None,
        };
        let cfg = &campaign.config;
        let client = WechatClient::new(&cfg.wechat.api_base, Duration::from_millis(cfg.send.timeout_ms))?;
        let (source, cache_dir) = if mock.is_some() {
            // The mock mints its own tokens; never touch the real token cache.
            (TokenSource::new(TokenSpec::Stable, &cfg.wechat.appid, Some(Secret::new(MOCK_SECRET)), &client), None)
        } else {
            (
                TokenSource::from_env(&cfg.wechat.token, &cfg.wechat.appid, &cfg.wechat.secret_env, &client)?,
                TokenCache::default_dir(),
            )
        };
        let tokens = Arc::new(TokenCache::new(source, cache_dir.as_deref()));
        let sender = Sender::new(client, tokens);

        let mut state_dir = opts.state_dir.clone().unwrap_or_else(|| cfg.state_dir.clone());
        if mock.is_some() {
            // Mock runs keep their own journals: they must never count as real deliveries.
            state_dir = state_dir.join("mock");
        }
        let paths = StatePaths::new(&state_dir, &campaign.recipients.path);
        let (journal, writer) = Journal::open(paths, &campaign, opts.new_run)?;
        let plan = plan(&campaign, &journal, opts.resend_unknown);
        writer.append(crate::journal::Line::Run {
            at: crate::journal::unix_now(),
            pending: plan.to_send.len(),
            resend_unknown: opts.resend_unknown,
        });
        let files = Files {
            journal: journal.paths.journal.clone(),
            failures: opts.export.clone().unwrap_or_else(|| journal.paths.failed.clone()),
            report: journal.paths.report.clone(),
        };
        let engine_config = EngineConfig::from_send(&campaign.config.send);
        Ok(Self { campaign: Arc::new(campaign), sender, journal, writer, plan, files, mock, engine_config })
    }

    /// The remaining daily quota of the campaign's endpoint, if the account may ask.
    pub async fn quota(&self) -> Result<Quota, String> {
        self.sender.quota(self.campaign.template.kind).await.map_err(|f| match f.errcode {
            Some(c) => format!("errcode {c}: {}", f.errmsg),
            None => f.errmsg,
        })
    }

    /// Messages at the configured rate take about this long.
    pub fn estimated_duration(&self) -> Duration {
        Duration::from_secs_f64(self.plan.to_send.len() as f64 / f64::from(self.campaign.config.send.rate.max(1)))
    }

    /// The engine for this run.
    pub fn engine(&self) -> Engine {
        Engine::new(
            self.campaign.clone(),
            self.sender.clone(),
            self.writer.clone(),
            self.engine_config.clone(),
            self.plan.to_send.clone(),
        )
    }

    /// After the run: replay the journal, write the failures CSV and the report.
    pub async fn finish(&self, summary: &Summary) -> Result<Finished, std::io::Error> {
        self.writer.flush().await;
        let rows = self.campaign.recipients.len();
        let (_, replay) = replay_file(&self.files.journal, rows).map_err(std::io::Error::other)?;
        let failures = export::write_failures(&self.campaign, &replay, &self.files.failures)?;
        let report = export::build_report(
            &self.campaign,
            &replay,
            summary.reason.clone(),
            summary.counters.clone(),
            summary.achieved_rate,
            summary.token.clone(),
            self.files.clone(),
        );
        export::write_report(&report, &self.files.report)?;
        let totals = export::totals(&self.campaign, &replay);
        let unknown_rows = replay.unknown();
        Ok(Finished { totals, failures_written: failures, unknown_rows })
    }

    /// The command that re-runs the failures file.
    pub fn rerun_command(&self) -> String {
        let mut cmd = format!(
            "wxsend send {} --csv {}",
            shell_quote(&self.campaign.config.path.display().to_string()),
            shell_quote(&self.files.failures.display().to_string())
        );
        if self.mock.is_some() {
            cmd.push_str(" --mock");
        }
        cmd
    }
}

/// What [`Session::finish`] found and wrote.
#[derive(Debug, Clone)]
pub struct Finished {
    pub totals: Totals,
    pub failures_written: usize,
    pub unknown_rows: Vec<usize>,
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn plan(campaign: &Campaign, journal: &Journal, resend_unknown: bool) -> Plan {
    let mut p = Plan::default();
    for i in campaign.checks.ready_rows() {
        match journal.replay.rows.get(i) {
            Some(RowRecord::Delivered { .. }) => p.already_delivered += 1,
            Some(RowRecord::Failed(_)) => p.already_failed += 1,
            Some(RowRecord::Unknown { .. }) if resend_unknown => {
                p.unknown_resent += 1;
                p.to_send.push(i);
            }
            Some(RowRecord::Unknown { .. }) => p.unknown_held.push(i),
            _ => p.to_send.push(i),
        }
    }
    p
}
