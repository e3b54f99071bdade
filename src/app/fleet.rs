//! A campaign sent for many merchants, run as one: each merchant is a [`Session`] of its own —
//! its account's token chain, its template id, its list, its journal in its own state folder,
//! its own quota checked before it starts — sharing the campaign's rate (each running merchant
//! gets an equal part, given again to the others when one ends) and the embedded mock when there
//! is one. A merchant WeChat stops (61023, 45009, 48001, any `stop` code) ends alone; the others
//! go on. At the end every merchant's failures file is merged into one that keeps the merchant
//! column, so it re-runs as it is.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::exit::Exit;
use super::fleet_report::{Failures, FleetReport, MerchantEnd, MerchantOutcome};
use super::merchant_lists::{combined_failures, merchant_lists, merge_failures, FailuresPart, MerchantListError};
use super::preflight::{Consent, PreflightError, QuotaCheck};
use super::report::RunReport;
use super::session::{PrepareError, SendOptions, Session};
use super::Gate;
use crate::campaign::{Campaign, CampaignConfig, LoadError};
use crate::engine::{Event, Handle, Summary};
use crate::mock::MockServer;

/// Why a campaign for many merchants cannot start. Nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The campaign file cannot be used.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The merchants' lists cannot be had.
    #[error(transparent)]
    Lists(#[from] MerchantListError),
    /// One merchant cannot be prepared (its list, journal, account or template).
    #[error("{}", crate::tr!("err.fleet.member", merchant = .merchant.clone(), error = .source.to_string()))]
    Member {
        /// The merchant's account name.
        merchant: String,
        /// Why.
        source: Box<PrepareError>,
    },
    /// The embedded mock did not start.
    #[error("{}", crate::tr!("err.prepare_error.mock", value0 = .0.to_string()))]
    Mock(std::io::Error),
}

impl FleetError {
    /// The campaign at `path` is sent for one account (its `[wechat]` names no `accounts`).
    pub fn one_account(path: &std::path::Path) -> Self {
        let message = crate::tr!("merchants.not_many");
        FleetError::Load(LoadError::Config { at: crate::campaign::Location::file(path), message })
    }

    /// The exit code: a merchant's own (4 for this machine's storage), 4 when a merchant's
    /// list cannot be written, else 2.
    pub fn exit(&self) -> Exit {
        match self {
            FleetError::Member { source, .. } => source.exit(),
            FleetError::Lists(MerchantListError::Write { .. }) => Exit::LocalWrite,
            _ => Exit::Input,
        }
    }
}

/// One merchant of the campaign, prepared.
#[derive(Debug)]
pub struct Member {
    /// The account's name.
    pub name: String,
    /// Its session (list, journal, plan, token chain).
    pub session: Session,
    /// What the preflight found: its quota, or why it does not start (set by
    /// [`Fleet::preflight`]).
    pub start: Option<Result<QuotaCheck, PreflightError>>,
}

impl Member {
    /// Whether it sends in this run: something to send and a preflight that passed.
    pub fn starts(&self) -> bool {
        matches!(self.start, Some(Ok(QuotaCheck::Known(_) | QuotaCheck::Unavailable(_))))
    }

    /// The merchant's appid.
    pub fn appid(&self) -> &str {
        &self.session.campaign.config.wechat.appid
    }

    /// How its part ended: its run's `report`, else its preflight's refusal, else nothing to send.
    fn outcome(&self, report: Option<RunReport>) -> MerchantOutcome {
        let end = match (report, &self.start) {
            (Some(r), _) => MerchantEnd::Ran(Box::new(r)),
            (None, Some(Err(e))) => MerchantEnd::Held(e.clone()),
            (None, _) => MerchantEnd::Nothing,
        };
        let exit = match &end {
            MerchantEnd::Ran(r) => r.exit,
            MerchantEnd::Held(_) => Exit::Stopped,
            MerchantEnd::Nothing => self.session.exit_without_sending(),
        };
        let quota = match &self.start {
            Some(Ok(QuotaCheck::Known(q))) => Some(q.remain),
            _ => None,
        };
        MerchantOutcome { name: self.name.clone(), appid: self.appid().to_string(), quota, end, exit }
    }
}

/// A campaign sent for many merchants, prepared.
#[derive(Debug)]
pub struct Fleet {
    /// The campaign file, parsed (its `merchants` set).
    pub config: CampaignConfig,
    /// The merchants the list has rows for, in the campaign's order.
    pub members: Vec<Member>,
    /// The merchants the list has no row for.
    pub idle: Vec<String>,
    /// Where the merged failures file goes.
    pub failures: PathBuf,
    /// Where the campaign's `report.json` goes (beside the merged failures file's usual place).
    pub report: PathBuf,
    /// The options given.
    pub options: SendOptions,
    /// The embedded mock all merchants send to, when the run goes there.
    pub mock: Option<Arc<MockServer>>,
    /// The list the merchants' rows were split from (none with a list per merchant).
    pub source: Option<PathBuf>,
}

/// Whether the campaign at `path` is sent for many merchants (`accounts = […]`).
pub fn is_fleet(path: &std::path::Path) -> Result<bool, LoadError> {
    Ok(CampaignConfig::load(path)?.merchants.is_some())
}

/// A campaign for many merchants taken apart: each merchant with rows as a campaign of one
/// account (its rows loaded and checked), the merchants without rows, and the lists.
#[derive(Debug)]
pub struct Split {
    /// The campaign file, parsed (`--csv` and `--state-dir` applied).
    pub config: CampaignConfig,
    /// Each merchant with rows: its place in `accounts`, its name, its campaign.
    pub each: Vec<(usize, String, Campaign)>,
    /// The merchants the list has no row for.
    pub idle: Vec<String>,
    /// The merchants' lists and where their rows came from.
    pub lists: super::merchant_lists::MerchantLists,
}

/// Take the campaign at `path` apart by merchant (`csv`: another list, with the merchant
/// column; `state_dir`: another state folder): what `send`, `check` and `status` of a campaign
/// for many read.
pub fn split(
    path: &std::path::Path,
    csv: Option<&std::path::Path>,
    state_dir: Option<&std::path::Path>,
) -> Result<Split, FleetError> {
    let mut config = CampaignConfig::load(path)?;
    let Some(merchants) = config.merchants.clone() else { return Err(FleetError::one_account(path)) };
    if let Some(csv) = csv {
        config.recipients.csv = csv.to_path_buf();
    }
    if let Some(dir) = state_dir {
        config.state_dir = dir.to_path_buf();
    }
    let lists = merchant_lists(&config, &merchants, csv.is_some())?;
    let (mut each, mut idle) = (Vec::new(), Vec::new());
    for (i, list) in lists.lists.iter().enumerate() {
        let name = merchants.members[i].name.clone();
        let Some(member) = list.as_ref().and_then(|l| merchants.member(&config, i, l)) else {
            idle.push(name);
            continue;
        };
        let campaign = Campaign::from_config(member)
            .map_err(|e| FleetError::Member { merchant: name.clone(), source: Box::new(e.into()) })?;
        each.push((i, name, campaign));
    }
    Ok(Split { config, each, idle, lists })
}

/// An equal part of `total` for each of `n` merchants (at least 1).
fn share(total: u32, n: usize) -> u32 {
    (total / u32::try_from(n.max(1)).unwrap_or(u32::MAX)).max(1)
}

impl Fleet {
    /// Load the campaign, split its list by merchant, and prepare every merchant that has rows
    /// (one failing refuses the whole campaign: nothing is sent).
    pub async fn prepare(opts: &SendOptions) -> Result<Self, FleetError> {
        let split = split(&opts.campaign, opts.csv.as_deref(), opts.state_dir.as_deref())?;
        let mock = match &opts.mock {
            Some(cfg) => Some(Arc::new(MockServer::start(cfg.clone()).await.map_err(FleetError::Mock)?)),
            None => None,
        };
        let Split { config, each, idle, lists } = split;
        let sending = each.len();
        let member_opts = SendOptions { csv: None, state_dir: None, export: None, ..opts.clone() };
        let mut members = Vec::with_capacity(sending);
        for (_, name, campaign) in each {
            let failed = |e: PrepareError| FleetError::Member { merchant: name.clone(), source: Box::new(e) };
            let mut session = Session::prepare_campaign(&member_opts, campaign, mock.clone()).await.map_err(failed)?;
            session.engine_config.rate = share(config.send.rate, sending);
            session.engine_config.concurrency = share(config.send.concurrency, sending);
            members.push(Member { name, session, start: None });
        }
        let state = if mock.is_some() { config.state_dir.join("mock") } else { config.state_dir.clone() };
        let failures = opts.export.clone().unwrap_or_else(|| combined_failures(&state, &lists.stem));
        let report = state.join(&lists.stem).join("report.json");
        let source = lists.origin.as_ref().map(|o| o.path().to_path_buf());
        Ok(Self { config, members, idle, failures, report, options: opts.clone(), mock, source })
    }

    /// Each merchant's preflight (a token can be had, its own quota covers its rows): a
    /// merchant that fails it does not start, the others do.
    pub async fn preflight(&mut self) {
        for m in &mut self.members {
            m.start = Some(m.session.preflight().await);
        }
    }

    /// The one send decision for all merchants (see [`super::gate`]): the rows of the
    /// merchants that start, and the first template that could not be checked.
    pub fn gate(&self, consent: Consent) -> Gate {
        let starting = self.members.iter().filter(|m| m.starts());
        let to_send = starting.clone().map(|m| m.session.plan.to_send.len()).sum();
        let template =
            starting.clone().find_map(|m| m.session.template_needs_consent().map(|why| format!("{}: {why}", m.name)));
        super::gate::decide(to_send, template, consent)
    }

    /// Start every merchant that passed its preflight.
    pub fn launch(&self) -> FleetRun {
        let (tx, events) = mpsc::unbounded_channel();
        let mut handles = Vec::with_capacity(self.members.len());
        for (i, m) in self.members.iter().enumerate() {
            if !m.starts() {
                handles.push(None);
                continue;
            }
            let mut run = m.session.launch();
            handles.push(Some(run.handle.clone()));
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = run.next().await {
                    if tx.send((i, event)).is_err() {
                        break;
                    }
                }
            });
        }
        let live = handles.iter().flatten().count();
        // The rate is shared by the merchants that started (one held gives its part away).
        for h in handles.iter().flatten() {
            h.set_rate(share(self.config.send.rate, live));
        }
        FleetRun { handles, events, live, rate: self.config.send.rate, summaries: vec![None; self.members.len()] }
    }

    /// After the run: each merchant's report (its journal replayed, its failures file and
    /// report written), then the merged failures file.
    pub async fn finish(&self, run: &FleetRun) -> FleetReport {
        let mut outcomes = Vec::with_capacity(self.members.len());
        for (m, summary) in self.members.iter().zip(&run.summaries) {
            let report = match summary {
                Some(summary) => Some(m.session.finish(summary).await),
                None => None,
            };
            outcomes.push(report);
        }
        let parts: Vec<FailuresPart> = self
            .members
            .iter()
            .zip(&outcomes)
            .filter(|(_, r)| r.is_some())
            .map(|(m, _)| FailuresPart {
                merchant: m.name.clone(),
                path: m.session.files.failures.clone(),
                delimiter: m.session.campaign.recipients.delimiter,
            })
            .collect();
        let column = self.config.merchants.as_ref().map_or("account", |m| m.column.as_str());
        let rows = merge_failures(&parts, column, &self.failures).map_err(Arc::new);
        let merchants = self.members.iter().zip(outcomes).map(|(m, report)| m.outcome(report)).collect();
        let failures = Failures { path: self.failures.clone(), rows };
        let mut report =
            FleetReport::new(merchants, self.idle.clone(), failures, [self.rerun_command(), self.resume_command()]);
        let written = report.write_json(&self.config.name, &self.report).map(|()| self.report.clone());
        report.record_json(written);
        report
    }

    /// The command that re-runs the merged failures file.
    pub fn rerun_command(&self) -> String {
        self.options.rerun_command(&self.failures, self.mock.is_some())
    }

    /// The command that resumes the campaign (every merchant's journal), with every flag it
    /// needs.
    pub fn resume_command(&self) -> String {
        self.options.resume_command(self.mock.is_some())
    }
}

/// The merchants' runs as one: their events in one stream, tagged with the merchant's place.
#[derive(Debug)]
pub struct FleetRun {
    /// Each merchant's controls (`None`: it did not start).
    pub handles: Vec<Option<Handle>>,
    events: mpsc::UnboundedReceiver<(usize, Event)>,
    live: usize,
    rate: u32,
    /// Each merchant's summary, once it ended.
    pub summaries: Vec<Option<Summary>>,
}

impl FleetRun {
    /// The next event of any merchant, `None` once every merchant has ended. When one ends its
    /// part of the rate goes to the others.
    pub async fn next(&mut self) -> Option<(usize, Event)> {
        if self.live == 0 {
            return None;
        }
        let (i, event) = self.events.recv().await?;
        if let Event::Done(summary) = &event {
            if let Some(slot) = self.summaries.get_mut(i) {
                *slot = Some((**summary).clone());
            }
            self.live -= 1;
            if let Some(slot) = self.handles.get_mut(i) {
                *slot = None;
            }
            let share = share(self.rate, self.live);
            for h in self.handles.iter().flatten() {
                h.set_rate(share);
            }
        }
        Some((i, event))
    }

    /// How many merchants are still sending.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Stop every merchant gracefully (requests in flight finish).
    pub fn stop(&self) {
        for h in self.handles.iter().flatten() {
            h.stop();
        }
    }
}
