//! What the terminal UI's actions act on for one session: the run (once launched), the test
//! sends and failures exports running in tasks of their own, the event loop that feeds the app,
//! and how the session ends (quit, or a re-run of its failures in a session of its own).

use std::time::Duration;

use ratatui::crossterm::event::{Event as TermEvent, KeyEventKind};
use tokio::sync::mpsc;

use super::app::{self, Action, App};
use super::terminal::{Input, Screen};
use crate::app::text::printable;
use crate::app::{Exit, QuotaCheck, Run, SendOptions, Session, TestSend};
use crate::engine::{Event, Handle};

/// Why the failures file cannot be re-run: it cannot be prepared as a session, or its
/// preflight says no. Nothing was sent; the done screen stays.
#[derive(Debug, thiserror::Error)]
pub(super) enum NextSessionError {
    /// The session cannot be prepared (the list, the journal, the ledger, the token).
    #[error(transparent)]
    Prepare(#[from] crate::app::PrepareError),
    /// The preflight refused.
    #[error(transparent)]
    Preflight(#[from] crate::app::PreflightError),
}

/// What the UI's actions act on: the run (once launched), the test sends and failures exports
/// running in tasks of their own, and how the UI ends.
pub(super) struct Driver {
    pub(super) session: Session,
    engine: Option<Run>,
    exit_code: Option<Exit>,
    /// The operator quit.
    quit: bool,
    /// The operator quit while sending.
    pub(super) forced: bool,
    /// The operator asked to re-run this session's failures (`r`).
    pub(super) rerun: bool,
    tests: mpsc::Receiver<TestSend>,
    test_tx: mpsc::Sender<TestSend>,
    exports: mpsc::Receiver<Result<usize, crate::app::export::ExportError>>,
    export_tx: mpsc::Sender<Result<usize, crate::app::export::ExportError>>,
}

impl Driver {
    pub(super) fn new(session: Session) -> Self {
        let (test_tx, tests) = mpsc::channel(8);
        let (export_tx, exports) = mpsc::channel(4);
        Self {
            session,
            engine: None,
            exit_code: None,
            quit: false,
            forced: false,
            rerun: false,
            tests,
            test_tx,
            exports,
            export_tx,
        }
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
    pub(super) fn end(&self, app: &App) -> Exit {
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
    pub(super) fn apply(&mut self, app: &mut App, action: Action) {
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
                if let Some(rows) = app.dropped_rows() {
                    let campaign = self.session.campaign.clone();
                    let rules = crate::app::rerun::DropRules::default();
                    if let Err(e) = crate::app::rerun::drop_from(&mut self.session.plan, &campaign, &rules, &rows) {
                        app.tell(app::Message::RerunFailed(e.to_string()));
                        return;
                    }
                }
                self.engine = Some(self.session.launch());
                app.started();
            }
            Action::Rerun => self.rerun = self.engine.is_none(),
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

impl Driver {
    /// Feed keys and engine events to `app` and carry out what it asks, until the operator quits
    /// or asks to re-run the failures.
    pub(super) async fn drive(&mut self, app: &mut App, screen: &mut Screen, input: &mut Input) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while !self.quit && !self.rerun {
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
                    match self.engine.as_mut() {
                        Some(run) => run.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.on_engine(app, ev).await;
                    Action::None
                }
                Some(exported) = self.exports.recv() => {
                    app.notify(match exported {
                        Ok(n) => app::Notice::Exported(n, self.session.files.failures.clone()),
                        Err(e) => app::Notice::ExportFailed(e),
                    });
                    Action::None
                }
                Some(done) = self.tests.recv() => {
                    app.tell(app::Message::TestSent(done));
                    Action::None
                }
                _ = tick.tick() => {
                    if let Some(run) = &self.engine {
                        app.set_shared(run.shared_view());
                    }
                    Action::None
                }
            };
            self.apply(app, action);
        }
    }

    /// The session that re-runs this one's failures file (its own journal, as `--csv FILE`
    /// gives it), and its quota; the failure in words when it cannot be prepared.
    pub(super) async fn next_session(&self) -> Result<(Session, QuotaCheck), NextSessionError> {
        let opts = SendOptions {
            csv: Some(self.session.files.failures.clone()),
            new_run: false,
            drop_permanent: false,
            at: None,
            export: None,
            ..self.session.options.clone()
        };
        let session = Session::prepare(&opts).await?;
        let quota = session.preflight().await?;
        Ok((session, quota))
    }
}
