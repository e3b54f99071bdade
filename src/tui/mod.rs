//! The terminal UI: a loop that owns the terminal, feeds keys and engine events to [`App`] and
//! carries out the actions it asks for. The terminal is restored on every way out.

pub mod app;
pub mod keys;
pub mod popup;
pub mod theme;
pub mod ui;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::execute;
use tokio::sync::mpsc;

pub use app::{Action, App};

use crate::campaign::Rendered;
use crate::engine::{Event, Handle};
use crate::exit::{self, Exit};
use crate::headless::{self, duration, Consent};
use crate::journal::{replay_file, Line};
use crate::session::Session;
use crate::wechat::Outcome;

/// Whether colours are allowed (<https://no-color.org>).
pub fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Run a prepared session in the terminal UI.
pub async fn run(session: Session, consent: Consent) -> Exit {
    let quota_line = match headless::preflight(&session, consent).await {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Input;
        }
    };
    let mut app = App::new(session.campaign.clone(), &session.journal.replay.rows, session.plan.to_send.len());
    app.color = colors_allowed();
    app.quota_line = quota_line;
    app.estimate = duration(session.estimated_duration());
    app.plan_lines = headless::describe_plan(&session).into_iter().filter(|l| l.starts_with("resuming")).collect();

    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot open the terminal UI ({e}); use --headless");
            return Exit::Input;
        }
    };
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

    let (test_tx, mut tests) = mpsc::channel::<String>(8);
    let mut engine: Option<(Handle, mpsc::Receiver<Event>)> = None;
    let mut exit_code: Option<Exit> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut forced = false;
    if consent.yes && !session.plan.to_send.is_empty() {
        engine = Some(session.engine().start());
        app.started();
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
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match ev {
                    Some(ev) => {
                        app.on_event(&ev);
                        if let Event::Done(summary) = &ev {
                            match session.finish(summary).await {
                                Ok(finished) => {
                                    app.done_lines = headless::summary_lines(&session, summary, &finished);
                                    exit_code = Some(exit::after_send(&summary.reason, &finished.totals, session.campaign.checks.invalid));
                                }
                                Err(e) => {
                                    app.done_lines = vec![format!("error: writing the failures file or report: {e}")];
                                    exit_code = Some(Exit::Partial);
                                }
                            }
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
            Some(text) = tests.recv() => {
                app.overlay = Some(app::Overlay::Message(text));
                Action::None
            }
            _ = tick.tick() => Action::None,
        };
        match action {
            Action::None => {}
            Action::Quit => {
                forced = engine.is_some();
                break;
            }
            Action::Start => {
                engine = Some(session.engine().start());
                app.started();
            }
            Action::Pause => with_engine(&engine, Handle::pause),
            Action::Resume => with_engine(&engine, Handle::resume),
            Action::Stop => with_engine(&engine, Handle::stop),
            Action::SetRate(r) => with_engine(&engine, |h| h.set_rate(r)),
            Action::Export => app.notice = Some(export_now(&session).await),
            Action::TestSend { row, openid } => {
                app.notice = Some(format!("test-sending row {} to {}…", row + 1, ui::mask_openid(&openid)));
                let tx = test_tx.clone();
                let (campaign, sender, journal) =
                    (session.campaign.clone(), session.sender.clone(), session.writer.clone());
                tokio::spawn(async move {
                    let _ = tx.send(test_send(&campaign, &sender, &journal, row, &openid).await).await;
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
    for line in &app.done_lines {
        eprintln!("{line}");
    }
    if forced {
        eprintln!(
            "quit while sending; the journal is intact: run the same command to resume ({})",
            session.files.journal.display()
        );
        return Exit::Partial;
    }
    exit_code.unwrap_or_else(|| {
        let p = &session.plan;
        if p.to_send.is_empty()
            && p.unknown_held.is_empty()
            && p.already_failed == 0
            && session.campaign.checks.invalid == 0
        {
            Exit::Success
        } else {
            Exit::Partial
        }
    })
}

fn with_engine(engine: &Option<(Handle, mpsc::Receiver<Event>)>, f: impl FnOnce(&Handle)) {
    if let Some((h, _)) = engine {
        f(h);
    }
}

/// Write the failures file from the journal as it stands now.
async fn export_now(session: &Session) -> String {
    session.writer.flush().await;
    let rows = session.campaign.recipients.len();
    let result = replay_file(&session.files.journal, rows).map_err(|e| e.to_string()).and_then(|(_, replay)| {
        crate::export::write_failures(&session.campaign, &replay, &session.files.failures).map_err(|e| e.to_string())
    });
    match result {
        Ok(n) => format!("exported {n} rows to {}", session.files.failures.display()),
        Err(e) => format!("export failed: {e}"),
    }
}

/// Send row `row`'s message to `openid` (the operator's own), journaled apart from the campaign.
pub async fn test_send(
    campaign: &crate::campaign::Campaign,
    sender: &crate::wechat::Sender,
    journal: &crate::journal::JournalWriter,
    row: usize,
    openid: &str,
) -> String {
    let Some(r) = campaign.recipients.row(row) else { return format!("row {} does not exist", row + 1) };
    let mut rendered = Rendered::default();
    campaign.template.render(&r, &mut rendered);
    // Its own id: a test must never make WeChat drop the real message later.
    rendered.client_msg_id = format!(
        "test{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    );
    let mut buf = Vec::new();
    campaign.template.write_body(openid, &rendered, &mut buf);
    let result = sender.send(campaign.template.kind, &Bytes::from(buf)).await;
    let (errcode, errmsg, text) = match result {
        Ok((Outcome::Delivered { msgid }, _)) => (
            Some(0),
            "ok".to_string(),
            format!(
                "test send of row {} to {}: delivered{} — check the message on that phone",
                row + 1,
                ui::mask_openid(openid),
                msgid.map(|m| format!(" (msgid {m})")).unwrap_or_default()
            ),
        ),
        Ok((Outcome::Failed(f), _)) => {
            let hint = f.errcode.and_then(crate::wechat::errors::hint).map(|h| format!(" — {h}")).unwrap_or_default();
            (
                f.errcode,
                f.errmsg.clone(),
                format!("test send of row {} failed: {} {}{hint}", row + 1, f.code_label(), f.errmsg),
            )
        }
        Err(e) => (None, e.to_string(), format!("test send of row {} failed: {e}", row + 1)),
    };
    journal.append(Line::Test { row, openid: openid.to_string(), errcode, errmsg });
    text
}
