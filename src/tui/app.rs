//! The TUI's state and its navigation: keys and the mouse change it and may ask for an effect
//! ([`Action`]); the run model (what engine events do to it) is in `model.rs`. Nothing here does
//! I/O, so every transition is a unit test.

use std::collections::HashMap;
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::keys::{lookup, Command, Screen};
pub use super::status::{Status, THROUGHPUT_SAMPLES};
use crate::app::{Resume, RunReport};
use crate::campaign::{Campaign, RowState};
use crate::engine::{Counters, PauseReason, Summary};
use crate::journal::RowRecord;
use crate::wechat::{Code, TokenStatus};

/// An effect the loop carries out for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    None,
    /// Leave the UI (while sending: after a graceful stop).
    Quit,
    /// Start sending.
    Start,
    /// Pause sending.
    Pause,
    /// Resume sending.
    Resume,
    /// Stop gracefully.
    Stop,
    /// Write the failures file now.
    Export,
    /// Set the rate (messages per second).
    SetRate(u32),
    /// Test-send a row to an openid.
    TestSend {
        /// The row (0-based).
        row: usize,
        /// The operator's own openid.
        openid: String,
    },
}

/// A layer drawn over the screen; it takes the keys while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The keys of this screen.
    Help,
    /// Start sending?
    Confirm,
    /// Stop sending?
    ConfirmStop,
    /// Stop and quit?
    ConfirmQuit,
    /// Raise the rate above the campaign's?
    ConfirmRate(u32),
    /// Typing a filter.
    Filter,
    /// Typing the openid for a test send.
    TestOpenid,
    /// A message; any key closes it.
    Message(String),
}

/// All the TUI knows.
#[derive(Debug)]
pub struct App {
    /// The campaign shown.
    pub campaign: Arc<Campaign>,
    /// The screen shown.
    pub screen: Screen,
    /// The layer over it, if any.
    pub overlay: Option<Overlay>,
    /// Text being typed in the filter or openid prompt.
    pub input: String,
    /// The filter applied to the rows.
    pub filter: String,
    /// Show only rows that will not be sent.
    pub invalid_only: bool,
    /// Show only failed rows.
    pub failures_only: bool,
    /// Row indexes shown by the table, in file order.
    pub view: Vec<usize>,
    /// Position in `view`.
    pub selected: usize,
    /// Rows that fit in the table (set by the loop from the terminal size).
    pub page: usize,
    /// While sending, keep the newest row selected.
    pub follow: bool,
    /// Each row's status.
    pub status: Vec<Status>,
    /// The final failure of each failed row: code and message.
    pub failures: HashMap<usize, (Code, String)>,
    /// Requests made per row (0: none yet); one byte a row, allocated once.
    pub attempts: Vec<u8>,
    /// The run's counters.
    pub counters: Counters,
    /// Rows this run sends.
    pub to_send: usize,
    /// Why sending is paused, if it is.
    pub pause: Option<PauseReason>,
    /// A graceful stop is under way.
    pub stopping: bool,
    /// Leave the UI once the run is over.
    pub quit_when_done: bool,
    /// The access token's state.
    pub token: Option<TokenStatus>,
    /// What to know about the token (e.g. another system replaced it).
    pub token_note: Option<String>,
    /// Requests per second, one sample a second.
    pub throughput: Vec<u64>,
    pub(super) last_sample: (u64, u64),
    /// The rate now.
    pub rate: u32,
    /// The campaign's rate.
    pub configured_rate: u32,
    /// What earlier runs did, when this run resumes a campaign.
    pub resume: Option<Resume>,
    /// What the account's delivery ledger held back (already sent, suppressed, second time).
    pub ledger_lines: Vec<String>,
    /// The daily quota, as the preflight found it.
    pub quota_line: Option<String>,
    /// Where messages go and how: `https://api.weixin.qq.com (proxy http://…)`.
    pub api_line: String,
    /// The campaign against the account's template, in one line.
    pub template_line: String,
    /// When sending may happen (`--at`, the window), if limited.
    pub schedule_lines: Vec<String>,
    /// The other senders on Redis and the aggregate rate, when scaled out.
    pub shared_line: Option<String>,
    /// The template could not be checked: the confirm screen says so first.
    pub template_unverified: bool,
    /// What the operator confirms beside the counts: journal repairs, campaign warnings.
    pub warnings: Vec<String>,
    /// The account's template, for the card's phone preview.
    pub template: Option<crate::wechat::catalogue::Template>,
    /// How long the run takes at the rate.
    pub estimate: String,
    /// The last thing worth telling the operator (export path, refusals).
    pub notice: Option<String>,
    /// The engine's summary, once the run is over.
    pub summary: Option<Summary>,
    /// The finished run, for the done screen.
    pub report: Option<RunReport>,
    /// Whether colours are allowed.
    pub color: bool,
}

impl App {
    /// A new app for `campaign`, with what earlier runs did (`records`, one per row).
    pub fn new(campaign: Arc<Campaign>, records: &[RowRecord], to_send: usize) -> Self {
        let rows = campaign.recipients.len();
        let status = (0..rows)
            .map(|i| match campaign.checks.state(i) {
                Some(RowState::Invalid) => Status::Invalid,
                Some(RowState::Duplicate) => Status::Duplicate,
                _ => match records.get(i) {
                    Some(RowRecord::Delivered { .. }) => Status::DeliveredBefore,
                    Some(RowRecord::Failed(_)) => Status::FailedBefore,
                    Some(RowRecord::Unknown { .. }) => Status::Unknown,
                    _ => Status::Pending,
                },
            })
            .collect();
        let mut failures = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let RowRecord::Failed(f) = r {
                failures.insert(i, (f.code(), f.errmsg.clone()));
            }
        }
        let rate = campaign.config.send.rate;
        let mut app = Self {
            screen: Screen::Preview,
            overlay: None,
            input: String::new(),
            filter: String::new(),
            invalid_only: false,
            failures_only: false,
            view: Vec::new(),
            selected: 0,
            page: 20,
            follow: true,
            status,
            failures,
            attempts: vec![0; rows],
            counters: Counters { total: to_send, rate_limit: rate, ..Default::default() },
            to_send,
            pause: None,
            stopping: false,
            quit_when_done: false,
            token: None,
            token_note: None,
            throughput: Vec::new(),
            last_sample: (0, 0),
            rate,
            configured_rate: rate,
            resume: None,
            ledger_lines: Vec::new(),
            quota_line: None,
            api_line: String::new(),
            template_line: String::new(),
            schedule_lines: Vec::new(),
            shared_line: None,
            template_unverified: false,
            warnings: Vec::new(),
            template: None,
            estimate: String::new(),
            notice: None,
            summary: None,
            report: None,
            color: true,
            campaign,
        };
        app.rebuild_view();
        app
    }

    /// The row index under the cursor.
    pub fn selected_row(&self) -> Option<usize> {
        self.view.get(self.selected).copied()
    }

    fn matches_filter(&self, row: usize) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        self.campaign.recipients.row(row).is_some_and(|r| r.fields().any(|f| f.to_lowercase().contains(&needle)))
    }

    /// Recompute the rows shown (on a filter change only, never per frame).
    pub fn rebuild_view(&mut self) {
        let keep_row = self.selected_row();
        let rows = self.campaign.recipients.len();
        self.view = (0..rows)
            .filter(|&i| {
                let s = self.status[i];
                (!self.invalid_only || matches!(s, Status::Invalid | Status::Duplicate))
                    && (!self.failures_only || s.is_failure())
                    && self.matches_filter(i)
            })
            .collect();
        self.selected = keep_row.and_then(|r| self.view.binary_search(&r).ok()).unwrap_or(0);
    }

    fn move_by(&mut self, delta: isize) {
        if self.view.is_empty() {
            self.selected = 0;
            return;
        }
        let max = self.view.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(max);
        if self.screen == Screen::Sending {
            self.follow = false;
        }
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.interrupt();
        }
        if let Some(overlay) = self.overlay.clone() {
            return self.on_overlay_key(overlay, key);
        }
        if key.code == KeyCode::Esc {
            if !self.filter.is_empty() {
                self.filter.clear();
                self.rebuild_view();
            }
            return Action::None;
        }
        match lookup(self.screen, key.code) {
            Some(command) => self.command(command),
            None => Action::None,
        }
    }

    /// Ctrl-C: quits; while sending, stops gracefully first (a second Ctrl-C quits at once).
    fn interrupt(&mut self) -> Action {
        if self.screen == Screen::Sending {
            if self.stopping {
                return Action::Quit;
            }
            self.stopping = true;
            self.quit_when_done = true;
            return Action::Stop;
        }
        Action::Quit
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Action {
        let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter);
        let no = matches!(key.code, KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc);
        match overlay {
            Overlay::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')) {
                    self.overlay = None;
                }
                Action::None
            }
            Overlay::Message(_) => {
                self.overlay = None;
                Action::None
            }
            Overlay::Confirm | Overlay::ConfirmStop | Overlay::ConfirmQuit | Overlay::ConfirmRate(_) if yes => {
                self.overlay = None;
                match overlay {
                    Overlay::Confirm => Action::Start,
                    Overlay::ConfirmStop => {
                        self.stopping = true;
                        Action::Stop
                    }
                    Overlay::ConfirmQuit => {
                        self.stopping = true;
                        self.quit_when_done = true;
                        Action::Stop
                    }
                    Overlay::ConfirmRate(r) => Action::SetRate(r),
                    _ => Action::None,
                }
            }
            Overlay::Confirm | Overlay::ConfirmStop | Overlay::ConfirmQuit | Overlay::ConfirmRate(_) => {
                if no {
                    self.overlay = None;
                }
                Action::None
            }
            Overlay::Filter | Overlay::TestOpenid => match key.code {
                KeyCode::Esc => {
                    self.overlay = None;
                    self.input.clear();
                    Action::None
                }
                KeyCode::Backspace => {
                    self.input.pop();
                    Action::None
                }
                KeyCode::Enter => {
                    self.overlay = None;
                    let text = std::mem::take(&mut self.input).trim().to_string();
                    if overlay == Overlay::Filter {
                        self.filter = text;
                        self.rebuild_view();
                        Action::None
                    } else {
                        match (self.selected_row(), crate::campaign::validate::check_openid(&text)) {
                            (Some(row), None) => Action::TestSend { row, openid: text },
                            (_, Some(problem)) => {
                                self.overlay = Some(Overlay::Message(format!("not sent: {problem}")));
                                Action::None
                            }
                            (None, _) => Action::None,
                        }
                    }
                }
                KeyCode::Char(c) => {
                    self.input.push(c);
                    Action::None
                }
                _ => Action::None,
            },
        }
    }

    fn command(&mut self, command: Command) -> Action {
        match command {
            Command::Quit => {
                if self.screen == Screen::Sending {
                    self.overlay = Some(Overlay::ConfirmQuit);
                    Action::None
                } else {
                    Action::Quit
                }
            }
            Command::Start => {
                if self.to_send == 0 {
                    self.overlay = Some(Overlay::Message("nothing to send: every ready row is already done".into()));
                } else {
                    self.overlay = Some(Overlay::Confirm);
                }
                Action::None
            }
            Command::TestSend => self.test_send(),
            Command::Pause => {
                if self.stopping {
                    Action::None
                } else if self.pause.is_some() {
                    Action::Resume
                } else {
                    Action::Pause
                }
            }
            Command::Stop => {
                if !self.stopping {
                    self.overlay = Some(Overlay::ConfirmStop);
                }
                Action::None
            }
            Command::Export => Action::Export,
            Command::RateUp => {
                let next = self.rate.saturating_add(rate_step(self.rate));
                if next > self.configured_rate && self.rate <= self.configured_rate {
                    self.overlay = Some(Overlay::ConfirmRate(next));
                    Action::None
                } else {
                    Action::SetRate(next)
                }
            }
            Command::RateDown => Action::SetRate(self.rate.saturating_sub(rate_step(self.rate)).max(1)),
            other => {
                self.navigate(other);
                Action::None
            }
        }
    }

    /// The commands that move around the table and its views (nothing leaves).
    fn navigate(&mut self, command: Command) {
        let page = self.page.max(1) as isize;
        match command {
            Command::Help => self.overlay = Some(Overlay::Help),
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_by(-page),
            Command::PageDown => self.move_by(page),
            Command::Top => self.move_by(isize::MIN / 2),
            Command::Bottom => {
                self.move_by(isize::MAX / 2);
                if self.screen == Screen::Sending {
                    self.follow = true;
                }
            }
            Command::Filter => {
                self.input = self.filter.clone();
                self.overlay = Some(Overlay::Filter);
            }
            Command::InvalidOnly => {
                self.invalid_only = !self.invalid_only;
                self.rebuild_view();
            }
            Command::FailuresOnly => {
                self.failures_only = !self.failures_only;
                self.rebuild_view();
            }
            _ => {}
        }
    }

    /// A test send of the selected row: to `test_openid`, else asked for (an invalid row says
    /// why it is invalid instead).
    fn test_send(&mut self) -> Action {
        let Some(row) = self.selected_row() else { return Action::None };
        if matches!(self.status[row], Status::Invalid) {
            let why: Vec<String> = self.campaign.checks.problems_of(row).iter().map(|(_, p)| p.to_string()).collect();
            self.overlay = Some(Overlay::Message(format!("row {} is invalid: {}", row + 1, why.join("; "))));
            return Action::None;
        }
        match &self.campaign.config.message.test_openid {
            Some(openid) => Action::TestSend { row, openid: openid.clone() },
            None => {
                self.input.clear();
                self.overlay = Some(Overlay::TestOpenid);
                Action::None
            }
        }
    }

    /// Mouse wheel scrolls the table.
    pub fn on_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollDown => self.move_by(3),
            MouseEventKind::ScrollUp => self.move_by(-3),
            _ => {}
        }
    }
}

/// How much `+`/`-` change the rate: about 10%, at least 1.
pub fn rate_step(rate: u32) -> u32 {
    (rate / 10).max(1)
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
