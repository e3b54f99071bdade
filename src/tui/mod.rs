//! The terminal UI: a loop that owns the terminal, feeds keys and engine events to [`App`] and
//! carries out the actions it asks for. The terminal is restored on every way out.

pub mod app;
mod driver;
mod drops;
pub mod fleet;
pub mod gauge;
pub mod keys;
mod model;
mod nav;
pub mod popup;
pub mod status;
mod terminal;
pub mod theme;
pub mod ui;

use std::time::Duration;

pub use app::{Action, App, Briefing, Message, Notice};
use driver::Driver;
use terminal::{Input, Screen};

use crate::app::{Consent, Exit, Gate, Session};
use crate::app::{PreflightError, QuotaCheck};

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
    let mut driver = Driver::new(session);
    match &gate {
        Gate::Go => driver.apply(&mut app, Action::Start),
        Gate::Ask(questions) if consent.yes => app.ask_to_start(questions),
        Gate::Ask(_) | Gate::Nothing | Gate::Refuse(_) => {}
    }
    loop {
        driver.drive(&mut app, &mut screen, &mut input).await;
        if !driver.rerun {
            break;
        }
        // `r` on the done screen: the failures file just written, as the next list.
        match driver.next_session().await {
            Ok((session, quota)) => {
                app = app_for(&session, quota).rerunning();
                driver = Driver::new(session);
            }
            Err(e) => {
                driver.rerun = false;
                app.tell(app::Message::RerunFailed(e.to_string()));
            }
        }
    }
    if driver.forced {
        let _ = tokio::time::timeout(Duration::from_millis(500), driver.session.writer.flush()).await;
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
        held: session.plan.held.iter().map(|(row, _)| *row).collect(),
    };
    App::new(session.campaign.clone(), &session.journal.replay.rows, brief).with_color(colors_allowed())
}
