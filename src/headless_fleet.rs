//! The headless front end of a campaign sent for many merchants: each merchant's plan in a few
//! lines, one question for all, one progress line for all (with how many merchants are
//! sending, done and stopped), a line when a merchant ends, and the merchants' table at the end.

use std::io::IsTerminal;
use std::time::Duration;

use crate::app::fleet::{Fleet, FleetRun};
use crate::app::fleet_board::FleetBoard;
use crate::app::preflight::PreflightError;
use crate::app::text::{duration, printable, thousands};
use crate::app::{Consent, Exit, Gate};
use crate::engine::{Event, PauseReason};
use crate::headless::{ask, Interrupts, Lines};
use crate::tr;

/// The plan of every merchant, as printed before sending.
pub fn overview_lines(fleet: &Fleet) -> Vec<String> {
    let c = &fleet.config;
    let mut lines = vec![tr!(
        "fleet.campaign",
        campaign = c.name.clone(),
        kind = c.message.kind.as_str(),
        count = fleet.members.len() + fleet.idle.len()
    )];
    for m in &fleet.members {
        let o = m.session.overview();
        lines.push(tr!(
            "fleet.merchant_plan",
            merchant = m.name.clone(),
            appid = m.appid().to_string(),
            template = o.template_id.clone(),
            recipients = o.recipients.clone(),
            ready = thousands(o.ready),
            invalid = thousands(o.invalid),
            to_send = thousands(o.to_send)
        ));
        let mut notes = vec![o.template.clone()];
        notes.extend(o.ledger.lines());
        notes.extend(o.warnings.iter().map(|w| tr!("headless.warning", warning = w.clone())));
        if o.resume.is_resuming() {
            let r = &o.resume;
            notes.push(tr!(
                "headless.resuming",
                delivered = thousands(r.delivered),
                failed = thousands(r.failed),
                unknown = thousands(r.unknown_held.len() + r.unknown_resent),
                held = String::new()
            ));
        }
        lines.extend(notes.into_iter().map(|n| format!("    {n}")));
    }
    if !fleet.idle.is_empty() {
        lines.push(tr!("fleet.idle", merchants = fleet.idle.join(", ")));
    }
    let to_send: usize = fleet.members.iter().map(|m| m.session.plan.to_send.len()).sum();
    let rate = c.send.rate.max(1);
    lines.push(tr!(
        "fleet.to_send",
        count = thousands(to_send),
        rate = rate,
        duration = duration(Duration::from_secs((to_send as u64).div_ceil(u64::from(rate))))
    ));
    if let Some(api) = fleet.mock.as_ref().map(|m| m.url()) {
        lines.push(tr!("headless.api_mock", api = api));
    }
    lines
}

/// Run a prepared campaign for many merchants without a terminal UI. Nothing is sent when the
/// gate says no (the `Err`); a merchant whose preflight fails is left out and named.
pub async fn run(mut fleet: Fleet, consent: Consent) -> Result<Exit, PreflightError> {
    for line in overview_lines(&fleet) {
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
    match fleet.gate(consent) {
        Gate::Go | Gate::Nothing => {}
        Gate::Refuse(why) => return Err(PreflightError::NotConfirmed(why)),
        Gate::Ask(questions) => {
            if !questions.iter().all(ask) {
                return Err(PreflightError::NotConfirmed(tr!("headless.not_confirmed")));
            }
        }
    }
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
