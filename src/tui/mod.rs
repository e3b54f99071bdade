//! The terminal UI: a loop that owns the terminal, feeds keys and engine events to [`App`] and
//! carries out the actions it asks for. The terminal is restored on every way out.

pub mod app;
pub mod keys;
mod model;
mod nav;
pub mod popup;
pub mod status;
pub mod theme;
pub mod ui;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::execute;
use tokio::sync::mpsc;

pub use app::{Action, App, Briefing, Message, Notice};

use crate::app::text::printable;
use crate::app::{Consent, Exit, Gate, Run, Session, TestSend};
use crate::app::{PreflightError, QuotaCheck};
use crate::engine::{Event, Handle};

/// Whether colours are allowed (<https://no-color.org>).
pub fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Why the terminal UI sent nothing.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The preflight or the gate said no.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The terminal cannot be opened.
    #[error("{}", crate::tr!("tui.no_terminal", error = .0.to_string()))]
    Terminal(std::io::Error),
}

/// Run a prepared session in the terminal UI.
/// Nothing is sent when the preflight or the gate says no, or the terminal cannot be opened:
/// that is the `Err`, printed once at the binary's edge.
pub async fn run(session: Session, consent: Consent) -> Result<Exit, StartError> {
    let quota = session.preflight().await?;
    // The one send decision (app/gate.rs): refused before the UI opens, sent at once, or asked
    // in the confirm popup (at once when --yes left only the template's question).
    let gate = session.gate(consent);
    if let Gate::Refuse(why) = &gate {
        return Err(PreflightError::NotConfirmed(why.clone()).into());
    }
    let mut app = app_for(&session, quota);
    let mut screen = Screen::open().map_err(StartError::Terminal)?;
    let mut input = Input::start();
    let mut driver = Driver::new(&session);
    match &gate {
        Gate::Go => driver.apply(&mut app, Action::Start),
        Gate::Ask(questions) if consent.yes => app.ask_to_start(questions),
        Gate::Ask(_) | Gate::Nothing | Gate::Refuse(_) => {}
    }
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !driver.quit {
        if let Ok(size) = screen.terminal.size() {
            app.set_page(size.height.saturating_sub(16) as usize);
        }
        if screen.terminal.draw(|f| app.draw(f)).is_err() {
            break;
        }
        let action = tokio::select! {
            ev = input.events.recv() => match ev {
                Some(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => app.on_key(k),
                Some(TermEvent::Mouse(m)) => {
                    app.on_mouse(m);
                    Action::None
                }
                Some(_) => Action::None,
                None => Action::Quit,
            },
            ev = async {
                match driver.engine.as_mut() {
                    Some(run) => run.next().await,
                    None => std::future::pending().await,
                }
            } => {
                driver.on_engine(&mut app, ev).await;
                Action::None
            }
            Some(exported) = driver.exports.recv() => {
                app.notify(match exported {
                    Ok(n) => app::Notice::Exported(n, session.files.failures.clone()),
                    Err(e) => app::Notice::ExportFailed(e),
                });
                Action::None
            }
            Some(done) = driver.tests.recv() => {
                app.tell(app::Message::TestSent(done));
                Action::None
            }
            _ = tick.tick() => {
                if let Some(run) = &driver.engine {
                    app.set_shared(run.shared_view());
                }
                Action::None
            }
        };
        driver.apply(&mut app, action);
    }
    if driver.forced {
        let _ = tokio::time::timeout(Duration::from_millis(500), session.writer.flush()).await;
    }
    // The input thread, then the terminal, are given back before anything is printed.
    drop(input);
    drop(screen);
    Ok(driver.end(&app))
}

/// The app's state for `session`: the overview the confirm popup shows.
fn app_for(session: &Session, quota: QuotaCheck) -> App {
    let brief = Briefing {
        overview: session.overview(),
        quota: Some(quota),
        template: session.template.template.clone(),
        template_unverified: session.template_needs_consent().is_some(),
    };
    App::new(session.campaign.clone(), &session.journal.replay.rows, brief).with_color(colors_allowed())
}

/// The terminal while the UI owns it: the alternate screen and the mouse, given back when it is
/// dropped (ratatui's own panic hook restores the screen; ours gives the mouse back).
struct Screen {
    terminal: ratatui::DefaultTerminal,
}

impl Screen {
    fn open() -> std::io::Result<Self> {
        let terminal = ratatui::try_init()?;
        let _ = execute!(std::io::stdout(), EnableMouseCapture);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
            previous(info);
        }));
        Ok(Self { terminal })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        let _ = std::io::stdout().flush();
    }
}

/// The terminal's keys and mouse, read on a thread of their own (crossterm blocks) and handed
/// over on a channel; the thread ends when this is dropped.
struct Input {
    events: mpsc::Receiver<TermEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Input {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel::<TermEvent>(64);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if event::poll(Duration::from_millis(100)).unwrap_or(false) {
                    let Ok(ev) = event::read() else { break };
                    if tx.blocking_send(ev).is_err() {
                        break;
                    }
                }
            }
        });
        Self { events, stop, thread: Some(thread) }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the UI's actions act on: the run (once launched), the test sends and failures exports
/// running in tasks of their own, and how the UI ends.
struct Driver<'a> {
    session: &'a Session,
    engine: Option<Run>,
    exit_code: Option<Exit>,
    /// The operator quit.
    quit: bool,
    /// The operator quit while sending.
    forced: bool,
    tests: mpsc::Receiver<TestSend>,
    test_tx: mpsc::Sender<TestSend>,
    exports: mpsc::Receiver<Result<usize, crate::app::export::ExportError>>,
    export_tx: mpsc::Sender<Result<usize, crate::app::export::ExportError>>,
}

impl<'a> Driver<'a> {
    fn new(session: &'a Session) -> Self {
        let (test_tx, tests) = mpsc::channel(8);
        let (export_tx, exports) = mpsc::channel(4);
        Self { session, engine: None, exit_code: None, quit: false, forced: false, tests, test_tx, exports, export_tx }
    }

    /// An engine event: to the app; at the end, the run's report.
    async fn on_engine(&mut self, app: &mut App, ev: Option<Event>) {
        let Some(ev) = ev else {
            self.engine = None;
            return;
        };
        app.on_event(&ev);
        if let Event::Done(summary) = &ev {
            let report = self.session.finish(summary).await;
            self.exit_code = Some(report.exit);
            app.finished(report);
            self.engine = None;
            self.quit |= app.quit_when_done();
        }
    }

    /// After the terminal is given back: the run's report, and how the UI ended.
    fn end(&self, app: &App) -> Exit {
        if let Some(report) = app.report() {
            for line in report.lines() {
                eprintln!("{}", printable(&line.text));
            }
        }
        if self.forced {
            let journal = self.session.files.journal.display().to_string();
            eprintln!("{}", crate::tr!("tui.quit_while_sending", journal = journal));
            return Exit::Partial;
        }
        self.exit_code.unwrap_or_else(|| self.session.exit_without_sending())
    }

    /// Carry out what the app asked for.
    fn apply(&mut self, app: &mut App, action: Action) {
        let handle = |engine: &Option<Run>, f: &dyn Fn(&Handle)| {
            if let Some(run) = engine {
                f(&run.handle);
            }
        };
        match action {
            Action::None => {}
            Action::Quit => {
                self.forced = self.engine.is_some();
                self.quit = true;
            }
            Action::Start => {
                self.engine = Some(self.session.launch());
                app.started();
            }
            Action::Pause => handle(&self.engine, &Handle::pause),
            Action::Resume => handle(&self.engine, &Handle::resume),
            Action::Stop => handle(&self.engine, &Handle::stop),
            Action::SetRate(r) => handle(&self.engine, &|h| h.set_rate(r)),
            Action::Export => {
                // In a task of its own, the replay on a blocking thread: frames keep coming.
                app.notify(app::Notice::Exporting);
                let (exporter, tx) = (self.session.exporter(), self.export_tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(exporter.run().await).await;
                });
            }
            Action::TestSend { row, openid } => {
                app.notify(app::Notice::TestSending(row, openid.clone()));
                let (tester, tx) = (self.session.tester(), self.test_tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(tester.send(row, &openid).await).await;
                });
            }
        }
    }
}
