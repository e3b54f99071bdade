//! The terminal UI: a loop that owns the terminal, feeds keys and engine events to [`App`] and
//! carries out the actions it asks for. The terminal is restored on every way out.

pub mod app;
pub mod keys;
pub mod model;
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

pub use app::{Action, App};

use crate::app::text::{duration, mask_openid, printable};
use crate::app::PreflightError;
use crate::app::{Consent, Exit, Gate, Run, Session, TestSend};
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
    #[error("cannot open the terminal UI ({0}); use --headless")]
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
    let overview = session.overview();
    let mut app = App::new(session.campaign.clone(), &session.journal.replay.rows, session.plan.to_send.len());
    app.color = colors_allowed();
    app.quota_line = quota.describe();
    app.estimate = duration(overview.estimate);
    app.template_line = overview.template.clone();
    app.schedule_lines = overview.schedule.clone();
    app.template_unverified = session.template_needs_consent().is_some();
    app.template = session.template.template.clone();
    app.api_line = match &overview.mock_api {
        Some(api) => format!("embedded mock at {api} (nothing reaches WeChat)"),
        None => format!("{} ({})", overview.api, overview.route),
    };
    app.resume = Some(overview.resume).filter(|r| r.is_resuming());
    app.ledger_lines = overview.ledger.lines();
    app.warnings = overview.warnings.clone();

    let mut terminal = ratatui::try_init().map_err(StartError::Terminal)?;
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));

    let stop_input = Arc::new(AtomicBool::new(false));
    let (key_tx, mut keys) = mpsc::channel::<TermEvent>(64);
    let flag = stop_input.clone();
    let input = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            if event::poll(Duration::from_millis(100)).unwrap_or(false) {
                match event::read() {
                    Ok(ev) => {
                        if key_tx.blocking_send(ev).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    });

    let (test_tx, mut tests) = mpsc::channel::<TestSend>(8);
    let (export_tx, mut exports) = mpsc::channel::<Result<usize, crate::app::export::ExportError>>(4);
    let mut engine: Option<Run> = None;
    let mut exit_code: Option<Exit> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut forced = false;
    match &gate {
        Gate::Go => {
            engine = Some(session.launch());
            app.started();
        }
        Gate::Ask(questions) if consent.yes => app.ask_to_start(questions),
        Gate::Ask(_) | Gate::Nothing | Gate::Refuse(_) => {}
    }

    loop {
        if let Ok(size) = terminal.size() {
            app.page = size.height.saturating_sub(16).max(1) as usize;
        }
        if terminal.draw(|f| ui::draw(f, &app)).is_err() {
            break;
        }
        let action = tokio::select! {
            ev = keys.recv() => match ev {
                Some(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => app.on_key(k),
                Some(TermEvent::Mouse(m)) => {
                    app.on_mouse(m);
                    Action::None
                }
                Some(_) => Action::None,
                None => Action::Quit,
            },
            ev = async {
                match engine.as_mut() {
                    Some(run) => run.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match ev {
                    Some(ev) => {
                        app.on_event(&ev);
                        if let Event::Done(summary) = &ev {
                            let report = session.finish(summary).await;
                            exit_code = Some(report.exit);
                            app.report = Some(report);
                            engine = None;
                            if app.quit_when_done {
                                break;
                            }
                        }
                    }
                    None => engine = None,
                }
                Action::None
            }
            Some(exported) = exports.recv() => {
                app.notice = Some(match exported {
                    Ok(n) => format!("exported {n} rows to {}", session.files.failures.display()),
                    Err(e) => format!("export failed: {e}"),
                });
                Action::None
            }
            Some(done) = tests.recv() => {
                app.overlay = Some(app::Overlay::Message(done.to_string()));
                Action::None
            }
            _ = tick.tick() => {
                if let Some(run) = &engine {
                    app.shared_line = run.shared_line();
                }
                Action::None
            }
        };
        match action {
            Action::None => {}
            Action::Quit => {
                forced = engine.is_some();
                break;
            }
            Action::Start => {
                engine = Some(session.launch());
                app.started();
            }
            Action::Pause => with_engine(&engine, Handle::pause),
            Action::Resume => with_engine(&engine, Handle::resume),
            Action::Stop => with_engine(&engine, Handle::stop),
            Action::SetRate(r) => with_engine(&engine, |h| h.set_rate(r)),
            Action::Export => {
                // In a task of its own, the replay on a blocking thread: frames keep coming.
                app.notice = Some("exporting the failures…".into());
                let (exporter, tx) = (session.exporter(), export_tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(exporter.run().await).await;
                });
            }
            Action::TestSend { row, openid } => {
                app.notice = Some(format!("test-sending row {} to {}…", row + 1, mask_openid(&openid)));
                let tx = test_tx.clone();
                let tester = session.tester();
                tokio::spawn(async move {
                    let _ = tx.send(tester.send(row, &openid).await).await;
                });
            }
        }
    }

    if forced {
        let _ = tokio::time::timeout(Duration::from_millis(500), session.writer.flush()).await;
    }
    stop_input.store(true, Ordering::Relaxed);
    let _ = input.join();
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    let _ = std::io::stdout().flush();
    if let Some(report) = &app.report {
        for line in report.lines() {
            eprintln!("{}", printable(&line.text));
        }
    }
    if forced {
        eprintln!(
            "quit while sending; the journal is intact: run the same command to resume ({})",
            session.files.journal.display()
        );
        return Ok(Exit::Partial);
    }
    Ok(exit_code.unwrap_or_else(|| session.exit_without_sending()))
}

fn with_engine(engine: &Option<Run>, f: impl FnOnce(&Handle)) {
    if let Some(run) = engine {
        f(&run.handle);
    }
}
