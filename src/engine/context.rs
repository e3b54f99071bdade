//! What the engine's parts share: its settings (`EngineConfig`), the context every worker
//! holds (`Context`: campaign, sender, journal, rate) and its part in scale-out (`SharedPart`).

use std::sync::Arc;
use std::time::Duration;

use super::rate::LocalRate;
use crate::campaign::{Campaign, SendConfig};
use crate::journal::JournalWriter;
use crate::wechat::Sender;

/// Pace and persistence settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Messages per second.
    pub rate: u32,
    /// Extra requests allowed at once above the rate.
    pub burst: u32,
    /// Workers, and so requests in flight at most.
    pub concurrency: u32,
    /// Transient failures a row may have before it is given up for this run.
    pub max_attempts: u32,
    /// Share of failures over the window that pauses sending.
    pub pause_on_failure_rate: f64,
    /// Results the failure-rate guard looks at.
    pub failure_window: usize,
    /// The guard does not judge on fewer results than this.
    pub failure_window_min: usize,
    /// The first retry's wait.
    pub backoff_base: Duration,
    /// The longest retry wait.
    pub backoff_max: Duration,
    /// The wait after a 45011 (WeChat: retry next minute).
    pub minute_quota_pause: Duration,
    /// The wait before retrying a 43108 (concurrent sends to one user).
    pub per_user_retry: Duration,
    /// How often row events and progress are sent to the front end.
    pub event_interval: Duration,
    /// Start held by the schedule (`send --at`, a closed window) until a
    /// [`Control::Schedule`] opens it.
    pub start_held: bool,
}

impl EngineConfig {
    /// The engine settings of a campaign's `[send]`.
    pub fn from_send(send: &SendConfig) -> Self {
        Self {
            rate: send.rate,
            burst: send.burst,
            concurrency: send.concurrency,
            max_attempts: send.max_attempts,
            pause_on_failure_rate: send.pause_on_failure_rate,
            failure_window: 100,
            failure_window_min: 20,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            minute_quota_pause: Duration::from_secs(60),
            per_user_retry: Duration::from_secs(2),
            event_interval: Duration::from_millis(50),
            start_held: false,
        }
    }
}

/// What every worker shares.
#[derive(Debug)]
pub struct Context {
    /// The campaign.
    pub campaign: Arc<Campaign>,
    /// The client and token cache.
    pub sender: Sender,
    /// The journal.
    pub journal: JournalWriter,
    /// Pace and retry settings.
    pub config: EngineConfig,
    /// This process's rate, shared by the workers.
    pub limiter: LocalRate,
    /// Redis: the account's rate and the campaign's rows across senders, when scaled out.
    pub shared: Option<SharedPart>,
}

/// The engine's part in scale-out: the shared rate and rows, and the first Redis failure seen
/// after a request left (dispatching stops on it).
#[derive(Debug)]
pub struct SharedPart {
    /// The account's rate across senders.
    pub rate: Arc<crate::shared::SharedRate>,
    /// The campaign's rows across senders.
    pub rows: crate::shared::SharedRows,
    lost: std::sync::Mutex<Option<String>>,
}

impl SharedPart {
    /// SharedPart through `rate` and `rows`.
    pub fn new(rate: Arc<crate::shared::SharedRate>, rows: crate::shared::SharedRows) -> Self {
        Self { rate, rows, lost: std::sync::Mutex::new(None) }
    }

    /// Remember that Redis failed (`detail`).
    pub fn lost(&self, detail: String) {
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        lost.get_or_insert(detail);
    }

    /// The Redis failure seen, if any.
    pub fn lost_detail(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
