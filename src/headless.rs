//! The headless front end: the plan and a progress line on stderr, a summary at the end. It
//! renders the application layer's values and decides nothing about sending.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::app::preflight::PreflightError;
use crate::app::text::{duration, printable, progress, thousands};
use crate::app::{Consent, Exit, Gate, Overview, Question, Run, RunReport, Session};
use crate::engine::{Event, PauseReason};
use crate::tr;
use crate::wechat::external_refresh_hint;

/// The plan, as printed before sending.
pub fn overview_lines(o: &Overview) -> Vec<String> {
    let mut lines = vec![
        tr!(
            "headless.campaign",
            campaign = o.campaign.clone(),
            kind = o.kind,
            template = o.template_id.clone(),
            recipients = o.recipients.clone()
        ),
        tr!(
            "headless.rows",
            rows = thousands(o.rows),
            ready = thousands(o.ready),
            invalid = thousands(o.invalid),
            duplicates = thousands(o.duplicates)
        ),
    ];
    lines.push(o.template.clone());
    lines.extend(o.schedule.iter().map(|line| tr!("headless.schedule", line = line.clone())));
    lines.extend(o.template_notes.iter().map(|note| tr!("headless.note", note = note.clone())));
    let r = &o.resume;
    if r.is_resuming() {
        let held = if r.unknown_held.is_empty() { String::new() } else { tr!("popup.confirm.unknown_held") };
        lines.push(tr!(
            "headless.resuming",
            delivered = thousands(r.delivered),
            failed = thousands(r.failed),
            unknown = thousands(r.unknown_held.len() + r.unknown_resent),
            held = held
        ));
    }
    lines.extend(o.ledger.lines());
    lines.extend(o.dropped.line());
    lines.extend(o.warnings.iter().map(|w| tr!("headless.warning", warning = w.clone())));
    match &o.mock_api {
        Some(api) => lines.push(tr!("headless.api_mock", api = api.clone())),
        None => lines.push(tr!("headless.api", api = o.api.clone(), route = o.route.clone())),
    }
    lines.push(tr!(
        "headless.to_send",
        count = thousands(o.to_send),
        rate = o.rate,
        concurrency = o.concurrency,
        duration = duration(o.estimate)
    ));
    lines
}

/// Through the gate: at once, refused, or every question answered yes on the terminal.
pub(crate) fn pass(gate: Gate) -> Result<(), PreflightError> {
    match gate {
        Gate::Nothing | Gate::Go => Ok(()),
        Gate::Refuse(why) => Err(PreflightError::NotConfirmed(why)),
        Gate::Ask(questions) if questions.iter().all(ask) => Ok(()),
        Gate::Ask(_) => Err(PreflightError::NotConfirmed(tr!("headless.not_confirmed"))),
    }
}

/// Ask `question` on the terminal: `true` for yes.
fn ask(question: &Question) -> bool {
    eprint!("{}", tr!("headless.ask", question = printable(&question.text()).into_owned()));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    let answer = answer.trim();
    answer.eq_ignore_ascii_case("yes") || answer.eq_ignore_ascii_case("y") || answer == "是"
}

/// Run a prepared session without a terminal UI.
/// Nothing is sent when the preflight or the gate says no: that is the `Err`, printed once at
/// the binary's edge.
pub async fn run(session: Session, consent: Consent) -> Result<Exit, PreflightError> {
    for line in overview_lines(&session.overview()) {
        eprintln!("{}", printable(&line));
    }
    if let Some(line) = session.preflight().await?.describe() {
        eprintln!("{line}");
    }
    pass(session.gate(consent))?;
    let mut run = session.launch();
    match watch(&mut run).await {
        Some(summary) => {
            let report = session.finish(&summary).await;
            print_report(&report);
            Ok(report.exit)
        }
        None => {
            // A second interrupt: out at once, with what the journal holds made durable.
            let _ = tokio::time::timeout(Duration::from_millis(500), session.writer.flush()).await;
            eprintln!("{}", tr!("headless.quit", journal = session.files.journal.display().to_string()));
            Ok(Exit::Partial)
        }
    }
}

/// Print a finished run's summary.
pub fn print_report(report: &RunReport) {
    for line in report.lines() {
        eprintln!("{}", printable(&line.text));
    }
}

/// What stops a headless run from outside: Ctrl-C, `kill` (SIGTERM: systemd, docker stop,
/// Kubernetes, `timeout`), or the terminal going away (SIGHUP).
pub(crate) struct Interrupts {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    pub(crate) fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self { term: signal(SignalKind::terminate()).ok(), hup: signal(SignalKind::hangup()).ok() }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The name of the next interrupt to arrive.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn on(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = on(&mut self.term) => "SIGTERM",
                _ = on(&mut self.hup) => "SIGHUP",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Follow a run to its end: progress, pauses, token changes. The first interrupt stops it
/// gracefully; a second one returns `None` at once.
async fn watch(run: &mut Run) -> Option<crate::engine::Summary> {
    let mut out = Lines::new(std::io::stderr().is_terminal());
    let mut in_flight = 0;
    let mut interrupted = false;
    let mut interrupts = Interrupts::new();
    loop {
        tokio::select! {
            ev = run.next() => match ev {
                None => return None,
                Some(Event::Done(summary)) => {
                    out.close();
                    return Some(*summary);
                }
                Some(Event::Progress(c)) => {
                    in_flight = c.in_flight;
                    out.progress(&c, run.shared_view().map(|v| v.describe()));
                }
                Some(Event::Paused(reason)) => {
                    out.say(tr!("headless.paused", reason = reason.describe()));
                    if matches!(reason, PauseReason::Scheduled { .. }) {
                        out.hold(reason.clone());
                    }
                    if matches!(reason, PauseReason::FailureRate { .. }) {
                        out.say(tr!("headless.guard_stops"));
                        run.handle.stop();
                    }
                }
                Some(Event::Resumed) => {
                    out.held = None;
                    out.say(tr!("headless.resumed"))
                }
                Some(Event::TokenRefreshed { external, status }) => {
                    let note = if external { format!(" — {}", external_refresh_hint(status.source)) } else { String::new() };
                    out.say(tr!("headless.token_refreshed", refreshes = status.refreshes, note = note));
                }
                Some(Event::RateChanged(r)) => out.say(tr!("headless.rate_set", rate = r)),
                Some(Event::Rows(_)) => {}
            },
            what = interrupts.next() => {
                if interrupted {
                    out.say(tr!("headless.again", what = what));
                    return None;
                }
                interrupted = true;
                out.say(tr!("headless.stopping", what = what, in_flight = in_flight));
                run.handle.stop();
            }
        }
    }
}

/// The lines a headless run prints on stderr: on a terminal, one progress line rewritten in
/// place (every 250 ms); in a log, a progress line every 2 s. While the schedule holds the run,
/// the progress line is its countdown (once a minute in a log).
pub(crate) struct Lines {
    tty: bool,
    every: Duration,
    last_print: Instant,
    /// The progress line is on screen without its line end.
    line_open: bool,
    held: Option<PauseReason>,
}

impl Lines {
    pub(crate) fn new(tty: bool) -> Self {
        let every = if tty { Duration::from_millis(250) } else { Duration::from_secs(2) };
        Self { tty, every, last_print: Instant::now() - every, line_open: false, held: None }
    }

    /// A line of its own (the progress line, if open, is cleared first).
    pub(crate) fn say(&mut self, text: String) {
        if self.line_open {
            eprint!("\r\x1b[2K");
            self.line_open = false;
        }
        eprintln!("{}", printable(&text));
    }

    /// The schedule holds the run: its countdown replaces the progress line.
    fn hold(&mut self, reason: PauseReason) {
        self.held = Some(reason);
        self.last_print = Instant::now();
    }

    pub(crate) fn progress(&mut self, c: &crate::engine::Counters, shared: Option<String>) {
        if let Some(reason) = self.held.as_ref() {
            let due = if self.tty { self.every } else { Duration::from_secs(60) };
            if self.last_print.elapsed() >= due {
                self.last_print = Instant::now();
                if self.tty {
                    eprint!("\r\x1b[2K{}", reason.describe());
                    self.line_open = true;
                } else {
                    eprintln!("{}", reason.describe());
                }
            }
            return;
        }
        if self.last_print.elapsed() < self.every {
            return;
        }
        self.last_print = Instant::now();
        let line = match shared {
            Some(shared) => format!("{} | {shared}", progress(c)),
            None => progress(c),
        };
        if self.tty {
            eprint!("\r\x1b[2K{}", tr!("headless.sending", line = line));
            self.line_open = true;
        } else {
            eprintln!("{}", tr!("headless.sending", line = line));
        }
    }

    /// The run ended: end an open progress line.
    pub(crate) fn close(&mut self) {
        if self.line_open {
            eprintln!();
            self.line_open = false;
        }
    }
}
