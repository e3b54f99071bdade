//! A prepared `send`: everything the use case needs that is not drawing, shared by the TUI and
//! the headless front end — load, mock, journal, plan, preflight, test send, launch; then the
//! failures file, the report and the exit code.

use std::path::PathBuf;
use std::sync::Arc;

use super::exit::Exit;
use super::export::{self, Files};
use super::plan::{Overview, Plan};
use super::preflight::{PreflightError, QuotaCheck};
use super::report::RunReport;
use super::run::Run;
use super::templates::{check_campaign, CatalogueOptions, TemplateCheck, TemplateStatus};
use super::test_send::TestSender;
use super::tokens::token_source;
use crate::campaign::schedule::{parse_at, Schedule};
use crate::campaign::{Campaign, LoadError, TokenSpec};
use crate::engine::{Engine, EngineConfig, Summary};
use crate::journal::{Journal, JournalError, JournalWriter, Replay, StatePaths};
use crate::mock::{MockConfig, MockServer};
use crate::shared::{Redis, SharedTokens};
use crate::wechat::client::ClientError;
use crate::wechat::{Quota, Secret, Sender, TokenCache, TokenError, TokenSource, WechatClient};

/// Options of `wxsend send` that shape the session.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// The campaign file.
    pub campaign: PathBuf,
    /// Another recipients file (`--csv`).
    pub csv: Option<PathBuf>,
    /// Run against the embedded mock with this configuration.
    pub mock: Option<MockConfig>,
    /// Resend rows dispatched without an answer (`--resend-unknown`).
    pub resend_unknown: bool,
    /// Start a fresh journal and send again what earlier runs delivered (`--new-run`).
    pub new_run: bool,
    /// Send to people the account holds back (`--include-suppressed`).
    pub include_suppressed: bool,
    /// Where to write the failures file (`--export`).
    pub export: Option<PathBuf>,
    /// The state folder (`--state-dir`).
    pub state_dir: Option<PathBuf>,
    /// Send even when the daily quota is smaller than the run (`--ignore-quota`).
    pub ignore_quota: bool,
    /// Do not check the campaign against the account's templates (`--skip-template-check`).
    pub skip_template_check: bool,
    /// Fetch the account's templates even when a cached list is young enough
    /// (`--refresh-templates`).
    pub refresh_templates: bool,
    /// Send nothing before this time (`--at`).
    pub at: Option<String>,
    /// A failures file re-run without its permanent failures (`--drop-permanent`).
    pub drop_permanent: bool,
}

/// Why a send cannot start. Exit code 2: nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The campaign or recipients file cannot be used.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The state folder or journal cannot be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The account's delivery ledger cannot be used.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// This sender cannot take part in the shared campaign (its id, a lost shared state).
    #[error("{}", crate::tr!("err.prepare_error.shared_setup", value0 = .0.to_string()))]
    SharedSetup(#[from] super::shared::SharedSetupError),
    /// The token source cannot be set up (e.g. the secret is missing).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The HTTP client cannot be built for the API base.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// `--drop-permanent` on a list that is not a failures file, or its dropped rows cannot be
    /// written.
    #[error(transparent)]
    Rerun(#[from] super::rerun::RerunError),
    /// The embedded mock did not start.
    #[error("{}", crate::tr!("err.prepare_error.mock", value0 = .0.to_string()))]
    Mock(std::io::Error),
    /// The shared Redis cannot be reached.
    #[error("{}", crate::tr!("err.prepare_error.shared", value0 = .0.to_string()))]
    Shared(#[from] crate::shared::SharedError),
    /// `--at` cannot be read.
    #[error(transparent)]
    At(crate::campaign::schedule::ScheduleError),
    /// The campaign does not match the account's template.
    #[error("{}", .0.join("; "))]
    Template(Vec<String>),
}

impl PrepareError {
    /// The exit code: 4 when this machine's storage is the cause (nothing was sent, and nothing
    /// about the input is wrong), else 2.
    pub fn exit(&self) -> Exit {
        match self {
            PrepareError::Journal(e) if e.is_storage() => Exit::LocalWrite,
            PrepareError::Rerun(super::rerun::RerunError::Write { .. }) => Exit::LocalWrite,
            _ => Exit::Input,
        }
    }
}

/// A prepared send.
#[derive(Debug)]
pub struct Session {
    /// The loaded and checked campaign.
    pub campaign: Arc<Campaign>,
    /// The client and the shared token cache.
    pub sender: Sender,
    /// The open journal (holds the state folder's lock) and what it replayed.
    pub journal: Journal,
    /// Appends to the journal.
    pub writer: JournalWriter,
    /// Which rows this run sends.
    pub plan: Plan,
    /// Where the run's files go.
    pub files: Files,
    /// The embedded mock, when the run goes there (one for all merchants of a campaign sent for
    /// many).
    pub mock: Option<Arc<MockServer>>,
    /// The engine's pace and retry settings.
    pub engine_config: EngineConfig,
    /// The options the session was prepared with (for the commands it prints).
    pub options: SendOptions,
    /// The campaign against the account's template.
    pub template: TemplateCheck,
    /// When sending may happen (`--at`, `[send] window`).
    pub schedule: Schedule,
    /// Redis, when several senders share this campaign.
    pub shared: Option<super::shared::SharedSession>,
    /// The account's delivery ledger, fed again from this run's journal at its end.
    pub ledger: std::sync::Mutex<crate::ledger::Ledger>,
}

impl Drop for Session {
    /// Give this sender's id back in Redis (see `SharedSession::claim`) however the session ends — sent,
    /// refused, nothing to send, the terminal UI quit — so the next run from this folder claims
    /// it at once. On a thread of its own with its own connection: a drop cannot await.
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else { return };
        let campaign = self.campaign.clone();
        let released = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                let cfg = &campaign.config.shared;
                let Some(url) = &cfg.redis else { return };
                if let Ok(redis) = Redis::connect(url, cfg.password(), &cfg.prefix).await {
                    shared.release_with(redis, &campaign).await;
                }
            });
        });
        let _ = released.join();
    }
}

/// The secret used against the embedded mock (it accepts any).
const MOCK_SECRET: &str = "mock-secret";

impl Session {
    /// Load the campaign, start the mock if asked, open the journal and plan the run.
    pub async fn prepare(opts: &SendOptions) -> Result<Self, PrepareError> {
        let campaign = Campaign::load(&opts.campaign, opts.csv.as_deref())?;
        Self::prepare_campaign(opts, campaign, None).await
    }

    /// [`Session::prepare`] for a campaign already loaded (a merchant's of a campaign sent for
    /// many), against `mock` when one is running already.
    pub async fn prepare_campaign(
        opts: &SendOptions,
        mut campaign: Campaign,
        mock: Option<Arc<MockServer>>,
    ) -> Result<Self, PrepareError> {
        let send_cfg = &campaign.config.send;
        let at = match &opts.at {
            Some(text) => Some(parse_at(text, send_cfg.zone).map_err(PrepareError::At)?),
            None => None,
        };
        let schedule = Schedule { at, window: send_cfg.window, zone: send_cfg.zone };
        let mock = match (mock, &opts.mock) {
            (Some(server), _) => Some(point_at_mock(server, &mut campaign)),
            (None, Some(cfg)) => Some(start_mock(cfg, &mut campaign).await?),
            (None, None) => None,
        };
        let mut state_dir = opts.state_dir.clone().unwrap_or_else(|| campaign.config.state_dir.clone());
        if mock.is_some() {
            // Mock runs keep their own journals: they must never count as real deliveries.
            state_dir = state_dir.join("mock");
        }
        let (sender, mut shared) = connect(&campaign, mock.is_some(), &state_dir).await?;
        let template = if opts.skip_template_check {
            TemplateCheck::not_verified("skipped (--skip-template-check)")
        } else {
            let catalogue = CatalogueOptions {
                refresh: opts.refresh_templates,
                cache: mock.is_none(),
                ..CatalogueOptions::default()
            };
            check_campaign(&mut campaign, Some(&sender), catalogue).await
        };
        if !template.errors.is_empty() {
            return Err(PrepareError::Template(template.errors));
        }
        let paths = StatePaths::of(&state_dir, &campaign.recipients);
        // The account's ledger learns what every earlier run did — before this journal is opened
        // (`--new-run` moves the old one aside) and after (this journal registered).
        paths.check()?;
        let mut ledger = super::ledger::open_for(&campaign, mock.is_some().then_some(state_dir.as_path()))?;
        ledger.catch_up()?;
        let (journal, writer) = Journal::open(paths, &campaign, opts.new_run, mock.is_some())?;
        let m = &campaign.config.message;
        let journal_id =
            ledger.register(&journal.paths.journal, &campaign.config.name, m.kind.as_str(), &m.template_id)?;
        ledger.catch_up()?;
        if let Some(shared) = shared.as_mut() {
            // After the state folder's lock: a second process on this folder was refused by it.
            shared.claim(&campaign).await?;
            shared.establish(&campaign, &journal.paths.dir, &journal.replay).await?;
            shared.join(&campaign, &journal.paths.dir).await?;
            shared.reconcile(&campaign, &journal.replay).await?;
        }
        let mut plan = Plan::new(&campaign, &journal.replay, opts.resend_unknown);
        plan.consult(&campaign, &ledger, Some(journal_id), super::ledger::rules(&campaign, opts))?;
        if opts.drop_permanent {
            let rules = super::rerun::DropRules::permanent();
            super::rerun::drop_from(&mut plan, &campaign, &rules, &Default::default())?;
        }
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
        let campaign = Arc::new(campaign);
        let options = opts.clone();
        Ok(Self {
            campaign,
            sender,
            journal,
            writer,
            plan,
            files,
            mock,
            engine_config,
            options,
            template,
            schedule,
            shared,
            ledger: std::sync::Mutex::new(ledger),
        })
    }

    /// Everything the operator confirms before the run.
    pub fn overview(&self) -> Overview {
        let s = &self.schedule;
        let mut schedule = Vec::new();
        if let Some(at) = s.at {
            schedule.push(crate::tr!("schedule.starts_at", at = s.show(at), zone = s.zone.name()));
        }
        if let Some(w) = s.window {
            schedule.push(crate::tr!("schedule.window", window = w, zone = s.zone.name()));
        }
        let mut warnings: Vec<String> = self.campaign.warnings.iter().map(ToString::to_string).collect();
        warnings.extend(self.journal.repaired.iter().cloned());
        Overview {
            resume: self.plan.resume.clone(),
            ledger: self.plan.ledger.clone(),
            warnings,
            mock_api: self.mock.as_ref().map(|m| m.url()),
            schedule,
            template: self.template.headline(),
            template_notes: self.template.notes.clone(),
            api: self.sender.client.base().to_string(),
            route: self.sender.client.http().route(),
            dropped: self.plan.dropped.clone(),
            ..Overview::of(&self.campaign, self.plan.to_send.len())
        }
    }

    /// The remaining daily quota of the campaign's endpoint, if the account may ask.
    pub async fn quota(&self) -> Result<Quota, crate::wechat::Failure> {
        self.sender.quota(self.campaign.template.kind).await
    }

    /// Before anything is sent: a token can be had and the daily quota covers the run (unless
    /// `--ignore-quota`).
    pub async fn preflight(&self) -> Result<QuotaCheck, PreflightError> {
        if self.plan.to_send.is_empty() {
            return Ok(QuotaCheck::NothingToSend);
        }
        self.sender.tokens.get().await?;
        let quota = self.sender.quota(self.campaign.template.kind).await;
        if let Err(f) = &quota {
            if f.errcode.is_none() && f.class == crate::wechat::ErrorClass::Stop {
                // A certificate not trusted, a proxy refusing, a token that cannot be had (a
                // cached one refused, and the source refusing a new one): no message would get through.
                return Err(PreflightError::Network(f.errmsg.clone()));
            }
        }
        match quota.map_err(|f| match f.errcode {
            Some(c) => format!("errcode {c}: {}", f.errmsg),
            None => f.errmsg,
        }) {
            Ok(q) => {
                let needed = self.plan.to_send.len() as u64;
                if q.remain < needed && !self.options.ignore_quota {
                    return Err(PreflightError::QuotaTooSmall { remain: q.remain, needed });
                }
                Ok(QuotaCheck::Known(q))
            }
            Err(e) => Ok(QuotaCheck::Unavailable(e)),
        }
    }

    /// What must happen before the first message leaves (see [`super::gate`]); both front ends
    /// ask this, after the preflight, and launch only on [`super::Gate::Go`] or answered
    /// questions.
    pub fn gate(&self, consent: super::preflight::Consent) -> super::Gate {
        super::gate::decide(self.plan.to_send.len(), self.template_needs_consent(), consent)
    }

    /// Whether sending needs the operator's explicit consent because the template could not be
    /// checked (the list could not be had) and `--skip-template-check` was not given: the
    /// headless front end refuses, the terminal UI asks.
    pub fn template_needs_consent(&self) -> Option<String> {
        match &self.template.status {
            TemplateStatus::NotVerified { .. } if !self.options.skip_template_check => Some(format!(
                "{}; send anyway with --skip-template-check, or run `wxsend doctor` to see why",
                self.template.headline()
            )),
            _ => None,
        }
    }

    /// What a test send needs, to run in its own task.
    pub fn tester(&self) -> TestSender {
        TestSender { campaign: self.campaign.clone(), sender: self.sender.clone(), journal: self.writer.clone() }
    }

    /// Start sending the plan's rows.
    pub fn launch(&self) -> Run {
        let mut config = self.engine_config.clone();
        config.start_held = self.schedule.is_set() && super::scheduler::starts_held(&self.schedule);
        let engine = Engine::new(
            self.campaign.clone(),
            self.sender.clone(),
            self.writer.clone(),
            config,
            self.plan.to_send.clone(),
        );
        let (engine, shared_rate) = match &self.shared {
            Some(shared) => {
                let part = shared.engine_part(&self.campaign);
                let rate = part.rate.clone();
                (engine.with_shared(part), Some(rate))
            }
            None => (engine, None),
        };
        let (handle, events) = engine.start();
        let shared_view = match (&self.shared, shared_rate) {
            (Some(shared), Some(rate)) => {
                Some(super::shared::watch(shared, &self.campaign, &self.journal.paths.dir, rate, handle.clone()))
            }
            _ => None,
        };
        if self.schedule.is_set() {
            tokio::spawn(super::scheduler::drive(handle.clone(), self.schedule));
        }
        let mut run = Run::new(handle, events, self.sender.tokens.clone());
        run.shared = shared_view;
        run
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

    /// Write the failures file from the journal as it stands now; the number of rows written.
    pub async fn export_failures(&self) -> Result<usize, export::ExportError> {
        self.exporter().run().await
    }

    /// The failures export as a value of its own, to run in a task of its own (the terminal UI
    /// keeps drawing while it runs).
    pub fn exporter(&self) -> export::FailuresExport {
        export::FailuresExport::new(&self.writer, &self.campaign, &self.files)
    }

    fn write_failures(&self, replay: &Replay) -> Result<usize, export::ExportError> {
        export::write_failures(&self.campaign, replay, &self.files.failures)
            .map_err(|source| export::ExportError::Write { path: self.files.failures.clone(), source })
    }

    /// After the run: replay the journal, write the failures file and the report, and say how
    /// the run ended (with its exit code).
    pub async fn finish(&self, summary: &Summary) -> RunReport {
        let checks = &self.campaign.checks;
        // One pass over the journal gives every row's state and every accepted row's msgid.
        self.writer.flush().await;
        let rows = self.campaign.recipients.len();
        let read = crate::journal::read_journal_with_msgids(&self.files.journal, rows, self.journal.checkpoint)
            .map_err(export::ExportError::from);
        let (replay, msgids) = match read {
            Ok((read, msgids)) => (Ok(read.replay), msgids),
            Err(e) => (Err(e), Default::default()),
        };
        let (mut totals, unknown_rows) = match &replay {
            Ok(r) => (export::totals(&self.campaign, r), r.unknown()),
            Err(_) => (export::Totals { pending: self.plan.to_send.len(), ..Default::default() }, Vec::new()),
        };
        if let Ok(r) = &replay {
            totals.apply_ledger(r, &self.plan.held);
        }
        if let (Some(shared), Ok(r)) = (&self.shared, &replay) {
            shared.settle(&self.campaign, r, &mut totals).await;
        }
        // What this run did reaches the account's ledger now (else the next run of the account
        // reads it from this journal).
        if let Ok(mut ledger) = self.ledger.lock() {
            let _ = ledger.catch_up();
        }
        let failures = replay.and_then(|replay| {
            let written = self.write_failures(&replay)?;
            let report =
                export::build_report(&self.campaign, &replay, summary, self.files.clone(), msgids, &self.plan.held);
            export::write_report(&report, &self.files.report)
                .map_err(|source| export::ExportError::Write { path: self.files.report.clone(), source })?;
            Ok(written)
        });
        let failures = failures.map_err(Arc::new);
        let mut exit = Exit::of_run(&summary.reason, &totals, checks.invalid);
        if failures.is_err() && !matches!(exit, Exit::Crashed | Exit::Stopped) {
            exit = Exit::LocalWrite;
        }
        let receipts =
            crate::journal::receipts::ReceiptsFile::in_dir(&self.journal.paths.dir).read().unwrap_or_default();
        let receipts = crate::journal::receipts::ReceiptCounts::of(&receipts, totals.delivered);
        RunReport {
            receipts,
            summary: summary.clone(),
            totals,
            ready: checks.ready,
            invalid: checks.invalid,
            duplicates: checks.duplicates,
            unknown_rows,
            failures,
            files: self.files.clone(),
            rerun: self.rerun_command(),
            resume: self.resume_command(),
            exit,
        }
    }

    /// How a run that sent nothing ends: 0 when the campaign is complete, else 1.
    pub fn exit_without_sending(&self) -> Exit {
        if self.plan.is_complete(self.campaign.checks.invalid) {
            Exit::Success
        } else {
            Exit::Partial
        }
    }

    /// The command that re-runs the failures file, with every flag it needs; it leaves out the
    /// rows whose code will not change (`--drop-permanent`: they are kept in a file of their own).
    pub fn rerun_command(&self) -> String {
        self.options.rerun_command(&self.files.failures, self.mock.is_some())
    }

    /// The command that resumes this campaign, with every flag it needs.
    pub fn resume_command(&self) -> String {
        self.options.resume_command(self.mock.is_some())
    }
}

impl SendOptions {
    /// `wxsend send` of this campaign with `failures` as its list and `--drop-permanent`, and
    /// the flags a run on `mock` (or another state folder) needs.
    pub fn rerun_command(&self, failures: &std::path::Path, mock: bool) -> String {
        let mut cmd = format!(
            "wxsend send {} --csv {} --drop-permanent",
            super::text::shell_quote(&self.campaign.display().to_string()),
            super::text::shell_quote(&failures.display().to_string())
        );
        self.push_common_flags(&mut cmd, mock);
        cmd
    }

    /// The same `wxsend send` again (its list and `--drop-permanent` as given), with the flags
    /// a run on `mock` (or another state folder) needs.
    pub fn resume_command(&self, mock: bool) -> String {
        let mut cmd = format!("wxsend send {}", super::text::shell_quote(&self.campaign.display().to_string()));
        if let Some(csv) = &self.csv {
            cmd.push_str(&format!(" --csv {}", super::text::shell_quote(&csv.display().to_string())));
        }
        if self.drop_permanent {
            cmd.push_str(" --drop-permanent");
        }
        self.push_common_flags(&mut cmd, mock);
        cmd
    }

    fn push_common_flags(&self, cmd: &mut String, mock: bool) {
        if let Some(dir) = &self.state_dir {
            cmd.push_str(&format!(" --state-dir {}", super::text::shell_quote(&dir.display().to_string())));
        }
        if mock {
            cmd.push_str(" --mock");
        }
    }
}

/// Start the embedded mock and point the campaign at it.
async fn start_mock(cfg: &crate::mock::MockConfig, campaign: &mut Campaign) -> Result<Arc<MockServer>, PrepareError> {
    let server = MockServer::start(cfg.clone()).await.map_err(PrepareError::Mock)?;
    Ok(point_at_mock(Arc::new(server), campaign))
}

/// Point the campaign at the embedded mock (on this machine: never through a proxy).
pub(super) fn point_at_mock(server: Arc<MockServer>, campaign: &mut Campaign) -> Arc<MockServer> {
    campaign.config.wechat.api_base = server.url();
    campaign.config.network.proxy = crate::wechat::ProxySetting::Off;
    server
}

/// The client, the token cache (shared through Redis when senders share one) and this
/// sender's part in scale-out. Against the embedded mock: its own tokens, never the real token
/// cache, and never shared.
async fn connect(
    campaign: &Campaign,
    mock: bool,
    state_dir: &std::path::Path,
) -> Result<(Sender, Option<super::shared::SharedSession>), PrepareError> {
    let cfg = &campaign.config;
    let client = WechatClient::for_sending(&cfg.wechat.api_base, &cfg.network, cfg.send.concurrency as usize)?;
    let (source, cache_dir) = if mock {
        (TokenSource::new(TokenSpec::Stable, &cfg.wechat.appid, Some(Secret::new(MOCK_SECRET)), &client), None)
    } else {
        (token_source(cfg, &client)?, TokenCache::default_dir())
    };
    let mut tokens = TokenCache::new(source, cache_dir.as_deref());
    let shared = match (&cfg.shared.redis, mock) {
        (Some(url), false) => {
            let redis = Redis::connect(url, cfg.shared.password(), &cfg.shared.prefix).await?;
            let identity = super::shared::identity(state_dir)
                .map_err(|source| super::shared::SharedSetupError::Io { path: state_dir.join("sender-id"), source })?;
            let owner = identity.owner.clone();
            tokens = share_tokens(tokens, cfg, &redis, &owner);
            let fingerprint = super::shared::rows_fingerprint(campaign);
            Some(super::shared::SharedSession { redis, owner, identity, fingerprint, epoch: String::new() })
        }
        _ => None,
    };
    Ok((Sender::new(client, Arc::new(tokens)), shared))
}

/// The token cache shared through `redis`: the account's token under `<prefix>:access_token:`;
/// a third-party platform's chain under WxJava's WxOpen keys (the platform's token, the
/// merchant's token, and the merchant's refresh token when it is kept in Redis).
pub(super) fn share_tokens(
    tokens: TokenCache,
    cfg: &crate::campaign::CampaignConfig,
    redis: &Redis,
    owner: &str,
) -> TokenCache {
    let crate::wechat::protocol::TokenSpec::Component(c) = &cfg.wechat.token else {
        return tokens.with_shared(Arc::new(SharedTokens::new(redis.clone(), &cfg.wechat.appid, owner)));
    };
    let keyed = |kind: &str, appid: &str| {
        let key = format!("wechat_{kind}:{appid}");
        Arc::new(SharedTokens::at(redis.clone(), key.clone(), format!("{key}:lock"), owner))
    };
    let refresh: Option<Arc<dyn crate::wechat::token::component::RefreshTokenStore>> = match c.refresh_token {
        crate::wechat::protocol::RefreshStore::Redis => {
            Some(Arc::new(crate::shared::RefreshInRedis::new(redis.clone(), &c.authorizer_appid)))
        }
        crate::wechat::protocol::RefreshStore::File => None,
    };
    tokens
        .with_component_stores(keyed("component_access_token", &c.component_appid), refresh)
        .with_shared(keyed("authorizer_access_token", &c.authorizer_appid))
}
