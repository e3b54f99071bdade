//! The dispatcher: takes the rows to send and delivers each once, at a governed rate and
//! concurrency, retrying by error class, journaling every step. It knows nothing of terminals:
//! front ends read [`Event`]s and send [`Control`]s.

mod attempt;
mod board;
mod context;
mod dispatch;
pub mod events;
pub mod rate;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use attempt::backoff;
pub use context::{Context, EngineConfig, SharedPart};
pub use events::{Control, Counters, EndReason, Event, PauseReason, RowEvent, Summary};
pub use rate::{Limiter, LocalRate};

use crate::campaign::Campaign;
use crate::journal::JournalWriter;
use crate::wechat::Sender;

/// A campaign ready to run: the rows to send, in order.
#[derive(Debug)]
pub struct Engine {
    ctx: Context,
    rows: Vec<usize>,
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
        Self { ctx: Context { campaign, sender, journal, config, limiter, shared: None }, rows }
    }

    /// Share the rate and the rows with the other senders through Redis (before [`Engine::start`]:
    /// the engine owns its parts until then, so this cannot be lost).
    pub fn with_shared(mut self, shared: SharedPart) -> Self {
        self.ctx.shared = Some(shared);
        self
    }

    /// Start sending on the current runtime.
    pub fn start(self) -> (Handle, mpsc::Receiver<Event>) {
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        tokio::spawn(dispatch::run(Arc::new(self.ctx), self.rows, ctl_rx, ev_tx));
        (Handle { tx: ctl_tx }, ev_rx)
    }
}
