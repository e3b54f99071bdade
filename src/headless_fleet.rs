//! The headless front end of a campaign sent for many merchants: each merchant's plan in a few
//! lines, one question for all, one progress line for all (with how many merchants are
//! sending, done and stopped), a line when a merchant ends, and the merchants' table at the end.

use std::io::IsTerminal;
use std::time::Duration;

use crate::app::fleet::{Fleet, FleetRun};
use crate::app::fleet_board::{plan_lines, FleetBoard};
use crate::app::preflight::PreflightError;
use crate::app::text::printable;
use crate::app::{Consent, Exit};
use crate::engine::{Event, PauseReason};
use crate::headless::{pass, Interrupts, Lines};
use crate::tr;

/// Run a prepared campaign for many merchants without a terminal UI. Nothing is sent when the
/// gate says no (the `Err`); a merchant whose preflight fails is left out and named.
pub async fn run(mut fleet: Fleet, consent: Consent) -> Result<Exit, PreflightError> {
    for line in plan_lines(&fleet) {
        eprintln!("{}", printable(&line));
    }
    fleet.preflight().await;
    for m in &fleet.members {
        match &m.start {
            Some(Ok(q)) => {
                if let Some(line) = q.describe() {
                    eprintln!("{}", tr!("fleet.merchant_line", merchant = m.name.clone(), line = line));
                }
            }
            Some(Err(e)) => eprintln!("{}", tr!("fleet.held", merchant = m.name.clone(), reason = e.to_string())),
            None => {}
        }
    }
    pass(fleet.gate(consent))?;
    let mut board = FleetBoard::of(&fleet);
    let mut run = fleet.launch();
    if !watch(&mut run, &mut board).await {
        for m in &fleet.members {
            let _ = tokio::time::timeout(Duration::from_millis(500), m.session.writer.flush()).await;
        }
        eprintln!("{}", tr!("fleet.quit", command = fleet.resume_command()));
        return Ok(Exit::Partial);
    }
    let report = fleet.finish(&run).await;
    for line in report.lines() {
        eprintln!("{}", printable(&line.text));
    }
    Ok(report.exit)
}

/// Follow every merchant to its end: `false` when a second interrupt asked to quit at once.
async fn watch(run: &mut FleetRun, board: &mut FleetBoard) -> bool {
    let mut out = Lines::new(std::io::stderr().is_terminal());
    let mut interrupted = false;
    let mut interrupts = Interrupts::new();
    loop {
        tokio::select! {
            ev = run.next() => {
                let Some((i, event)) = ev else {
                    out.close();
                    return true;
                };
                board.apply(i, &event);
                let name = board.rows.get(i).map(|r| r.name.clone()).unwrap_or_default();
                match &event {
                    Event::Progress(_) => out.progress(&board.totals(), Some(board.state_line())),
                    Event::Done(summary) => out.say(tr!("fleet.merchant_line", merchant = name, line = summary.reason.describe())),
                    Event::Paused(reason) => {
                        out.say(tr!("fleet.merchant_line", merchant = name, line = tr!("headless.paused", reason = reason.describe())));
                        if matches!(reason, PauseReason::FailureRate { .. }) {
                            // That merchant alone: the others go on.
                            if let Some(Some(h)) = run.handles.get(i) {
                                h.stop();
                            }
                        }
                    }
                    _ => {}
                }
            }
            what = interrupts.next() => {
                if interrupted {
                    out.say(tr!("headless.again", what = what));
                    return false;
                }
                interrupted = true;
                let in_flight = board.totals().in_flight;
                out.say(tr!("headless.stopping", what = what, in_flight = in_flight));
                run.stop();
            }
        }
    }
}
