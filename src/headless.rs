//! The headless front end: the plan and a progress line on stderr, a summary at the end. It
//! renders the application layer's values and decides nothing about sending.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::app::preflight::PreflightError;
use crate::app::text::{duration, printable, progress, thousands};
use crate::app::{Consent, Exit, Gate, Overview, Question, Run, RunReport, Session};
use crate::engine::{Event, PauseReason};
use crate::wechat::external_refresh_hint;

/// The plan, as printed before sending.
pub fn overview_lines(o: &Overview) -> Vec<String> {
    let mut lines = vec![
        format!("campaign {} ({}, template {}) from {}", o.campaign, o.kind, o.template_id, o.recipients),
        format!(
            "rows {}: ready {}, invalid {}, duplicates {}",
            thousands(o.rows),
            thousands(o.ready),
            thousands(o.invalid),
            thousands(o.duplicates)
        ),
    ];
    lines.push(o.template.clone());
    for line in &o.schedule {
        lines.push(format!("schedule: {line}"));
    }
    for note in &o.template_notes {
        lines.push(format!("note: {note}"));
    }
    let r = &o.resume;
    if r.is_resuming() {
        lines.push(format!(
            "resuming: already delivered {}, failed {}, unknown {}{}",
            thousands(r.delivered),
            thousands(r.failed),
            thousands(r.unknown_held.len() + r.unknown_resent),
            if r.unknown_held.is_empty() { "" } else { " (not resent; --resend-unknown resends them)" }
        ));
    }
    lines.extend(o.ledger.lines());
    for w in &o.warnings {
        lines.push(format!("warning: {w}"));
    }
    match &o.mock_api {
        Some(api) => lines.push(format!("api: embedded mock at {api} (nothing reaches WeChat)")),
        None => lines.push(format!("api: {} ({})", o.api, o.route)),
    }
    lines.push(format!(
        "to send now: {} messages at {}/s (concurrency {}), about {}",
        thousands(o.to_send),
        o.rate,
        o.concurrency,
        duration(o.estimate)
    ));
    lines
}

/// Ask `question` on the terminal: `true` for yes.
fn ask(question: &Question) -> bool {
    eprint!("{} type yes to confirm: ", printable(&question.text()));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y")
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
    match session.gate(consent) {
        Gate::Nothing | Gate::Go => {}
        Gate::Refuse(why) => return Err(PreflightError::NotConfirmed(why)),
        Gate::Ask(questions) => {
            if !questions.iter().all(ask) {
                return Err(PreflightError::NotConfirmed("not confirmed; nothing was sent".into()));
            }
        }
    }
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
            eprintln!(
                "quit; the journal is intact: run the same command to resume ({})",
                session.files.journal.display()
            );
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
struct Interrupts {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self { term: signal(SignalKind::terminate()).ok(), hup: signal(SignalKind::hangup()).ok() }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The name of the next interrupt to arrive.
    async fn next(&mut self) -> &'static str {
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
                    out.say(format!("paused: {}", reason.describe()));
                    if matches!(reason, PauseReason::Scheduled { .. }) {
                        out.hold(reason.clone());
                    }
                    if matches!(reason, PauseReason::FailureRate { .. }) {
                        out.say("stopping: a headless run does not resume on its own after the failure guard".into());
                        run.handle.stop();
                    }
                }
                Some(Event::Resumed) => {
                    out.held = None;
                    out.say("resumed".into())
                }
                Some(Event::TokenRefreshed { external, status }) => {
                    let note = if external { format!(" — {}", external_refresh_hint(status.source)) } else { String::new() };
                    out.say(format!("access token refreshed ({} refreshes){note}", status.refreshes));
                }
                Some(Event::RateChanged(r)) => out.say(format!("rate set to {r}/s")),
                Some(Event::Rows(_)) => {}
            },
            what = interrupts.next() => {
                if interrupted {
                    out.say(format!("{what} again: quitting at once"));
                    return None;
                }
                interrupted = true;
                out.say(format!("{what}: stopping, finishing {in_flight} requests in flight (Ctrl-C again to quit at once)"));
                run.handle.stop();
            }
        }
    }
}

/// The lines a headless run prints on stderr: on a terminal, one progress line rewritten in
/// place (every 250 ms); in a log, a progress line every 2 s. While the schedule holds the run,
/// the progress line is its countdown (once a minute in a log).
struct Lines {
    tty: bool,
    every: Duration,
    last_print: Instant,
    /// The progress line is on screen without its line end.
    line_open: bool,
    held: Option<PauseReason>,
}

impl Lines {
    fn new(tty: bool) -> Self {
        let every = if tty { Duration::from_millis(250) } else { Duration::from_secs(2) };
        Self { tty, every, last_print: Instant::now() - every, line_open: false, held: None }
    }

    /// A line of its own (the progress line, if open, is cleared first).
    fn say(&mut self, text: String) {
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

    fn progress(&mut self, c: &crate::engine::Counters, shared: Option<String>) {
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
            eprint!("\r\x1b[2Ksending {line}");
            self.line_open = true;
        } else {
            eprintln!("sending {line}");
        }
    }

    /// The run ended: end an open progress line.
    fn close(&mut self) {
        if self.line_open {
            eprintln!();
            self.line_open = false;
        }
    }
}
