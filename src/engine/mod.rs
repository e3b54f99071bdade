//! The dispatcher: takes the rows to send and delivers each once, at a governed rate and
//! concurrency, retrying by error class, journaling every step. It knows nothing of terminals:
//! front ends read [`Event`]s and send [`Control`]s.

mod attempt;
mod board;
mod dispatch;
pub mod events;
pub mod rate;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use attempt::backoff;
pub use events::{Control, Counters, EndReason, Event, PauseReason, RowEvent, Summary};
pub use rate::{Limiter, LocalRate};

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
pub struct Shared {
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
    pub coord: Option<Coordination>,
}

/// A campaign ready to run: the rows to send, in order.
#[derive(Debug)]
pub struct Engine {
    shared: Shared,
    rows: Vec<usize>,
}

/// The engine's part in scale-out: the shared rate and rows, and the first Redis failure seen
/// after a request left (dispatching stops on it).
#[derive(Debug)]
pub struct Coordination {
    /// The account's rate across senders.
    pub rate: Arc<crate::shared::SharedRate>,
    /// The campaign's rows across senders.
    pub rows: crate::shared::SharedRows,
    lost: std::sync::Mutex<Option<String>>,
}

impl Coordination {
    /// Coordination through `rate` and `rows`.
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

/// Controls a running campaign.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Control>,
}

impl Handle {
    /// Send a control.
    pub fn send(&self, c: Control) {
        let _ = self.tx.send(c);
    }

    /// Whether the engine has ended (controls go nowhere).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Pause sending.
    pub fn pause(&self) {
        self.send(Control::Pause);
    }

    /// Resume sending.
    pub fn resume(&self) {
        self.send(Control::Resume);
    }

    /// Stop gracefully.
    pub fn stop(&self) {
        self.send(Control::Stop);
    }

    /// Change the rate.
    pub fn set_rate(&self, rate: u32) {
        self.send(Control::SetRate(rate));
    }
}

impl Engine {
    /// An engine that sends `rows` of `campaign`.
    pub fn new(
        campaign: Arc<Campaign>,
        sender: Sender,
        journal: JournalWriter,
        config: EngineConfig,
        rows: Vec<usize>,
    ) -> Self {
        let limiter = LocalRate::new(config.rate, config.burst);
        Self { shared: Shared { campaign, sender, journal, config, limiter, coord: None }, rows }
    }

    /// Share the rate and the rows with the other senders through Redis (before [`Engine::start`]:
    /// the engine owns its parts until then, so this cannot be lost).
    pub fn with_coordination(mut self, coord: Coordination) -> Self {
        self.shared.coord = Some(coord);
        self
    }

    /// Start sending on the current runtime.
    pub fn start(self) -> (Handle, mpsc::Receiver<Event>) {
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        tokio::spawn(dispatch::run(Arc::new(self.shared), self.rows, ctl_rx, ev_tx));
        (Handle { tx: ctl_tx }, ev_rx)
    }
}
