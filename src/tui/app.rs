//! The terminal UI's state, owned by parts, and what keys and the mouse do to it: they change it
//! and may ask for an effect ([`Action`]) the loop carries out. Nothing here does I/O or words a
//! person reads (drawing does), so every transition is a unit test.

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::keys::{lookup, Command, Screen};
use super::model::RunModel;
use super::nav::Navigation;
pub use super::status::{Status, THROUGHPUT_SAMPLES};
use crate::app::export::ExportError;
use crate::app::shared::SharedView;
use crate::app::{Overview, QuotaCheck, RunReport, TestSend};
use crate::campaign::{Campaign, Problem};
use crate::engine::Event;
use crate::journal::RowRecord;
use crate::wechat::catalogue::Template;

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
    /// Re-run the failures file just written, here.
    Rerun,
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
    /// Typing the code whose rows a re-run leaves out (or takes back).
    DropCode,
    /// Something to tell; any key closes it.
    Message(Message),
}

/// What a message popup tells, worded when drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `s` with nothing left: every ready row is done.
    NothingToSend,
    /// `t` on a row that fails its checks (the row, 0-based).
    InvalidRow(usize),
    /// The openid typed for a test send is not one.
    BadTestOpenid(Problem),
    /// How a test send ended.
    TestSent(TestSend),
    /// `d`, `D` or `P` on a list that is not a failures file.
    NotARerun,
    /// The failures file cannot be re-run (its words).
    RerunFailed(String),
}

/// The last thing worth telling in the footer, worded when drawn.
#[derive(Debug)]
pub enum Notice {
    /// The failures file is being written.
    Exporting,
    /// It was written: rows and where.
    Exported(usize, PathBuf),
    /// It could not be written.
    ExportFailed(ExportError),
    /// A test send is on its way: the row (0-based) and the openid.
    TestSending(usize, String),
}

/// What the operator confirms before sending, as the application layer found it: the run's
/// overview, the quota, the account's template. Set once, before the UI opens.
#[derive(Debug, Clone)]
pub struct Briefing {
    /// Counts, resume, ledger, route, schedule, warnings and the estimate.
    pub overview: Overview,
    /// The daily quota, as the preflight found it (`None`: not asked).
    pub quota: Option<QuotaCheck>,
    /// The account's template, for the card's phone preview.
    pub template: Option<Template>,
    /// The template could not be checked: the confirm popup says so first.
    pub template_unverified: bool,
    /// The rows the account's delivery ledger holds back (not sent by this run).
    pub held: Vec<usize>,
}

impl Briefing {
    /// What the campaign alone tells, sending `to_send` rows (tests and previews).
    pub fn of(campaign: &Campaign, to_send: usize) -> Self {
        Self {
            overview: Overview::of(campaign, to_send),
            quota: None,
            template: None,
            template_unverified: false,
            held: Vec::new(),
        }
    }
}

/// All the terminal UI knows, in parts: where the operator is ([`Navigation`]), what the run
/// did ([`RunModel`]), what was confirmed ([`Briefing`]), and the layer and notice on top.
/// Keys and engine events change it; drawing reads it.
#[derive(Debug)]
pub struct App {
    pub(super) campaign: Arc<Campaign>,
    pub(super) nav: Navigation,
    pub(super) run: RunModel,
    pub(super) brief: Briefing,
    pub(super) overlay: Option<Overlay>,
    /// Text being typed in the filter or openid prompt.
    pub(super) input: String,
    pub(super) notice: Option<Notice>,
    pub(super) color: bool,
    /// What a re-run of a failures file leaves out (`None`: not a re-run).
    pub(super) drops: Option<super::drops::Drops>,
}

impl App {
    /// A new app for `campaign`, with what earlier runs did (`records`, one per row) and what the
    /// operator is asked to confirm.
    pub fn new(campaign: Arc<Campaign>, records: &[RowRecord], brief: Briefing) -> Self {
        let mut run = RunModel::new(&campaign, records, brief.overview.to_send);
        for &row in &brief.held {
            if let Some(s) = run.status.get_mut(row).filter(|s| **s == Status::Pending) {
                *s = Status::Held;
            }
        }
        let mut app = Self {
            nav: Navigation::new(),
            run,
            brief,
            overlay: None,
            input: String::new(),
            notice: None,
            color: true,
            drops: None,
            campaign,
        };
        app.rebuild_view();
        app
    }

    /// Draw the whole screen from this state (the frame's size decides the layout).
    pub fn draw(&self, frame: &mut ratatui::Frame) {
        super::ui::draw(frame, self);
    }

    /// The same app drawn with or without colours (<https://no-color.org>).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// The same app re-running a failures file: its permanent classes left out to start with,
    /// `d`, `D` and `P` to change that before confirming.
    pub fn rerunning(mut self) -> Self {
        self.drops = super::drops::Drops::for_failures(&self.campaign);
        self
    }

    /// The rows a re-run leaves out, when this is one.
    pub fn dropped_rows(&self) -> Option<std::collections::BTreeSet<usize>> {
        self.drops.as_ref().map(super::drops::Drops::dropped_rows)
    }

    /// How many of the rows this run would send the operator left out.
    pub(super) fn dropped_to_send(&self) -> usize {
        let Some(d) = &self.drops else { return 0 };
        (0..self.run.status.len()).filter(|&r| self.run.status[r] == Status::Pending && d.is_dropped(r)).count()
    }

    /// Set how many table rows fit (from the terminal's height), for page moves.
    pub fn set_page(&mut self, rows: usize) {
        self.nav.page = rows.max(1);
    }

    /// Whether the UI should end now that the run is over (the operator quit while sending).
    pub fn quit_when_done(&self) -> bool {
        self.run.quit_when_done
    }

    /// The finished run's report: the done screen shows it, and the loop prints it at the end.
    pub fn finished(&mut self, report: RunReport) {
        self.run.report = Some(report);
    }

    /// The report, once the run finished.
    pub fn report(&self) -> Option<&RunReport> {
        self.run.report.as_ref()
    }

    /// The other senders on Redis, as the run last saw them.
    pub fn set_shared(&mut self, view: Option<SharedView>) {
        self.run.shared = view;
    }

    /// Something to tell in the footer.
    pub fn notify(&mut self, notice: Notice) {
        self.notice = Some(notice);
    }

    /// Show a message popup.
    pub fn tell(&mut self, message: Message) {
        self.overlay = Some(Overlay::Message(message));
    }

    /// The engine started: switch to the sending screen.
    pub fn started(&mut self) {
        self.nav.screen = Screen::Sending;
        self.nav.follow = true;
        self.nav.invalid_only = false;
        self.rebuild_view();
    }

    /// The send decision asks before anything leaves (`--yes` with a template that could not be
    /// checked): open the confirm popup now, showing the template's question first.
    pub fn ask_to_start(&mut self, questions: &[crate::app::Question]) {
        if questions.iter().any(|q| matches!(q, crate::app::Question::Template(_))) {
            self.brief.template_unverified = true;
        }
        self.overlay = Some(Overlay::Confirm);
    }

    /// An engine event; at the end of the run, the done screen.
    pub fn on_event(&mut self, ev: &Event) {
        if self.run.on_event(ev, &mut self.nav) {
            self.nav.screen = Screen::Done;
            self.overlay = None;
        }
    }

    /// The row index under the cursor.
    pub fn selected_row(&self) -> Option<usize> {
        self.nav.selected_row()
    }

    /// Recompute the rows shown (on a filter change only, never per frame).
    fn rebuild_view(&mut self) {
        self.nav.rebuild(&self.campaign, &self.run.status);
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
            if !self.nav.filter.is_empty() {
                self.nav.filter.clear();
                self.rebuild_view();
            }
            return Action::None;
        }
        match lookup(self.nav.screen, key.code) {
            Some(command) => self.command(command),
            None => Action::None,
        }
    }

    /// Ctrl-C: quits; while sending, stops gracefully first (a second Ctrl-C quits at once).
    fn interrupt(&mut self) -> Action {
        if self.nav.screen == Screen::Sending {
            if self.run.stopping {
                return Action::Quit;
            }
            self.run.stopping = true;
            self.run.quit_when_done = true;
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
                        self.run.stopping = true;
                        Action::Stop
                    }
                    Overlay::ConfirmQuit => {
                        self.run.stopping = true;
                        self.run.quit_when_done = true;
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
            Overlay::Filter | Overlay::TestOpenid | Overlay::DropCode => match key.code {
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
                        self.nav.filter = text;
                        self.rebuild_view();
                        Action::None
                    } else if overlay == Overlay::DropCode {
                        if let Some(d) = self.drops.as_mut() {
                            d.toggle_code(&text);
                        }
                        Action::None
                    } else {
                        match (self.selected_row(), crate::campaign::validate::check_openid(&text)) {
                            (Some(row), None) => Action::TestSend { row, openid: text },
                            (_, Some(problem)) => {
                                self.overlay = Some(Overlay::Message(Message::BadTestOpenid(problem)));
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
                if self.nav.screen == Screen::Sending {
                    self.overlay = Some(Overlay::ConfirmQuit);
                    Action::None
                } else {
                    Action::Quit
                }
            }
            Command::Start => {
                if self.run.to_send == 0 {
                    self.overlay = Some(Overlay::Message(Message::NothingToSend));
                } else {
                    self.overlay = Some(Overlay::Confirm);
                }
                Action::None
            }
            Command::TestSend => self.test_send(),
            Command::Pause => {
                if self.run.stopping {
                    Action::None
                } else if self.run.pause.is_some() {
                    Action::Resume
                } else {
                    Action::Pause
                }
            }
            Command::Stop => {
                if !self.run.stopping {
                    self.overlay = Some(Overlay::ConfirmStop);
                }
                Action::None
            }
            Command::Export => Action::Export,
            Command::RateUp => {
                let next = self.run.rate.saturating_add(rate_step(self.run.rate));
                if next > self.run.configured_rate && self.run.rate <= self.run.configured_rate {
                    self.overlay = Some(Overlay::ConfirmRate(next));
                    Action::None
                } else {
                    Action::SetRate(next)
                }
            }
            Command::RateDown => Action::SetRate(self.run.rate.saturating_sub(rate_step(self.run.rate)).max(1)),
            Command::Rerun => Action::Rerun,
            Command::DropRow | Command::DropCode | Command::DropPermanent => {
                self.drop(command);
                Action::None
            }
            other => {
                self.navigate(other);
                Action::None
            }
        }
    }

    /// `d`, `D`, `P`: what a re-run leaves out.
    fn drop(&mut self, command: Command) {
        let row = self.selected_row();
        let Some(drops) = self.drops.as_mut() else {
            self.overlay = Some(Overlay::Message(Message::NotARerun));
            return;
        };
        match (command, row) {
            (Command::DropRow, Some(row)) => drops.toggle_row(row),
            (Command::DropCode, _) => {
                self.input.clear();
                self.overlay = Some(Overlay::DropCode);
            }
            (Command::DropPermanent, _) => drops.toggle_permanent(),
            _ => {}
        }
    }

    /// The commands that move around the table and its views (nothing leaves).
    fn navigate(&mut self, command: Command) {
        let page = self.nav.page.max(1) as isize;
        match command {
            Command::Help => self.overlay = Some(Overlay::Help),
            Command::Up => self.nav.move_by(-1),
            Command::Down => self.nav.move_by(1),
            Command::PageUp => self.nav.move_by(-page),
            Command::PageDown => self.nav.move_by(page),
            Command::Top => self.nav.move_by(isize::MIN / 2),
            Command::Bottom => {
                self.nav.move_by(isize::MAX / 2);
                if self.nav.screen == Screen::Sending {
                    self.nav.follow = true;
                }
            }
            Command::Filter => {
                self.input = self.nav.filter.clone();
                self.overlay = Some(Overlay::Filter);
            }
            Command::InvalidOnly => {
                self.nav.invalid_only = !self.nav.invalid_only;
                self.rebuild_view();
            }
            Command::FailuresOnly => {
                self.nav.failures_only = !self.nav.failures_only;
                self.rebuild_view();
            }
            _ => {}
        }
    }

    /// A test send of the selected row: to `test_openid`, else asked for (an invalid row says
    /// why it is invalid instead).
    fn test_send(&mut self) -> Action {
        let Some(row) = self.selected_row() else { return Action::None };
        if matches!(self.run.status[row], Status::Invalid) {
            self.overlay = Some(Overlay::Message(Message::InvalidRow(row)));
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
            MouseEventKind::ScrollDown => self.nav.move_by(3),
            MouseEventKind::ScrollUp => self.nav.move_by(-3),
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
