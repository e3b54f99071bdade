//! The headless front end: a progress line on stderr, a summary at the end, the same exit codes.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::engine::{Counters, EndReason, Event, PauseReason, Summary};
use crate::exit::{self, Exit};
use crate::session::{Finished, Session};
use crate::wechat::errors::hint;
use crate::wechat::external_refresh_hint;

/// How the operator agreed to send.
#[derive(Debug, Clone, Copy, Default)]
pub struct Consent {
    /// `--yes`: no question asked.
    pub yes: bool,
    /// Ask on the terminal when `--yes` is missing (else refuse).
    pub may_ask: bool,
    /// `--ignore-quota`: send even if the daily quota is smaller than the campaign.
    pub ignore_quota: bool,
}

/// `1,234,567`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `4m23s`, `1h02m`, `12s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The plan, as printed before sending.
pub fn describe_plan(session: &Session) -> Vec<String> {
    let c = &session.campaign;
    let p = &session.plan;
    let mut lines = vec![
        format!(
            "campaign {} ({}, template {}) from {}",
            c.config.name,
            c.config.message.kind.as_str(),
            c.config.message.template_id,
            c.recipients.path.display()
        ),
        format!(
            "rows {}: ready {}, invalid {}, duplicates {}",
            thousands(c.recipients.len()),
            thousands(c.checks.ready),
            thousands(c.checks.invalid),
            thousands(c.checks.duplicates)
        ),
    ];
    if p.already_delivered + p.already_failed + p.unknown_held.len() + p.unknown_resent > 0 {
        lines.push(format!(
            "resuming: already delivered {}, failed {}, unknown {}{}",
            thousands(p.already_delivered),
            thousands(p.already_failed),
            thousands(p.unknown_held.len() + p.unknown_resent),
            if p.unknown_held.is_empty() { "" } else { " (not resent; --resend-unknown resends them)" }
        ));
    }
    for w in &c.warnings {
        lines.push(format!("warning: {w}"));
    }
    if session.mock.is_some() {
        lines.push(format!("api: embedded mock at {} (nothing reaches WeChat)", c.config.wechat.api_base));
    }
    lines.push(format!(
        "to send now: {} messages at {}/s (concurrency {}), about {}",
        thousands(p.to_send.len()),
        c.config.send.rate,
        c.config.send.concurrency,
        duration(session.estimated_duration())
    ));
    lines
}

/// The progress line.
pub fn progress_line(c: &Counters) -> String {
    format!(
        "sending {}/{}  ok {}  failed {}  in flight {}  retrying {}  rate {:.1}/s  ETA {}",
        thousands(c.done()),
        thousands(c.total),
        thousands(c.delivered),
        thousands(c.failed),
        c.in_flight,
        c.retrying,
        c.rate(),
        c.eta().map_or_else(|| "-".into(), duration)
    )
}

fn confirm(session: &Session, consent: Consent) -> Result<(), String> {
    if consent.yes {
        return Ok(());
    }
    let n = session.plan.to_send.len();
    if !consent.may_ask || !std::io::stdin().is_terminal() {
        return Err(format!(
            "refusing to send {} messages without confirmation: add --yes to send from a script",
            thousands(n)
        ));
    }
    eprint!("send {} messages now? type yes to confirm: ", thousands(n));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if answer.trim().eq_ignore_ascii_case("yes") || answer.trim().eq_ignore_ascii_case("y") {
        Ok(())
    } else {
        Err("not confirmed; nothing was sent".into())
    }
}

/// Checks before anything is sent: a token can be had, the quota suffices, the operator agrees.
pub async fn preflight(session: &Session, consent: Consent) -> Result<Option<String>, String> {
    if session.plan.to_send.is_empty() {
        return Ok(None);
    }
    session.sender.tokens.get().await.map_err(|e| e.to_string())?;
    let quota_line = match session.quota().await {
        Ok(q) => {
            let needed = session.plan.to_send.len() as u64;
            if q.remain < needed && !consent.ignore_quota {
                return Err(format!(
                    "the daily quota has {} messages left and this run needs {}: send tomorrow, or add --ignore-quota to send {} now and the rest later",
                    q.remain, needed, q.remain
                ));
            }
            format!("daily quota: {} of {} left", thousands(q.remain as usize), thousands(q.daily_limit as usize))
        }
        Err(e) => format!("daily quota: not available ({e})"),
    };
    Ok(Some(quota_line))
}

/// Run a prepared session without a terminal UI.
pub async fn run(session: Session, consent: Consent) -> Exit {
    for line in describe_plan(&session) {
        eprintln!("{line}");
    }
    match preflight(&session, consent).await {
        Ok(Some(q)) => eprintln!("{q}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Input;
        }
    }
    if !session.plan.to_send.is_empty() {
        if let Err(e) = confirm(&session, consent) {
            eprintln!("error: {e}");
            return Exit::Input;
        }
    }
    let summary = drive(&session).await;
    finish(&session, &summary).await
}

async fn drive(session: &Session) -> Summary {
    let (handle, mut events) = session.engine().start();
    let tty = std::io::stderr().is_terminal();
    let every = if tty { Duration::from_millis(250) } else { Duration::from_secs(2) };
    let mut last_print = Instant::now() - every;
    let mut last = Counters::default();
    let mut interrupts = 0;
    let mut line_open = false;
    let say = |text: String, line_open: &mut bool| {
        if *line_open {
            eprint!("\r\x1b[2K");
            *line_open = false;
        }
        eprintln!("{text}");
    };
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                None => break,
                Some(Event::Done(summary)) => {
                    if line_open {
                        eprintln!();
                    }
                    return *summary;
                }
                Some(Event::Progress(c)) => {
                    last = c;
                    if last_print.elapsed() >= every {
                        last_print = Instant::now();
                        if tty {
                            eprint!("\r\x1b[2K{}", progress_line(&last));
                            line_open = true;
                        } else {
                            eprintln!("{}", progress_line(&last));
                        }
                    }
                }
                Some(Event::Paused(reason)) => {
                    say(format!("paused: {}", reason.describe()), &mut line_open);
                    if matches!(reason, PauseReason::FailureRate { .. }) {
                        say("stopping: a headless run does not resume on its own after the failure guard".into(), &mut line_open);
                        handle.stop();
                    }
                }
                Some(Event::Resumed) => say("resumed".into(), &mut line_open),
                Some(Event::TokenRefreshed { external, status }) => {
                    let note = if external { format!(" — {}", external_refresh_hint(status.source)) } else { String::new() };
                    say(format!("access token refreshed ({} refreshes){note}", status.refreshes), &mut line_open);
                }
                Some(Event::RateChanged(r)) => say(format!("rate set to {r}/s"), &mut line_open),
                Some(Event::Rows(_)) => {}
            },
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                if interrupts == 1 {
                    say(format!("stopping: finishing {} requests in flight (Ctrl-C again to quit at once)", last.in_flight), &mut line_open);
                    handle.stop();
                } else {
                    let _ = tokio::time::timeout(Duration::from_millis(500), session.writer.flush()).await;
                    say(format!("quit; the journal is intact: run the same command to resume ({})", session.files.journal.display()), &mut line_open);
                    std::process::exit(Exit::Partial.code());
                }
            }
        }
    }
    // The engine ended without a summary: only if its task died.
    Summary {
        counters: last,
        reason: EndReason::Stopped,
        unanswered: 0,
        achieved_rate: 0.0,
        token: session.sender.tokens.status(),
    }
}

/// Write the files, print the summary and say how the run ended.
pub async fn finish(session: &Session, summary: &Summary) -> Exit {
    let finished = match session.finish(summary).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: writing the failures file or report: {e}");
            return Exit::Partial;
        }
    };
    for line in summary_lines(session, summary, &finished) {
        eprintln!("{line}");
    }
    exit::after_send(&summary.reason, &finished.totals, session.campaign.checks.invalid)
}

/// The end-of-run summary, for the headless front end and the TUI's done screen.
pub fn summary_lines(session: &Session, summary: &Summary, f: &Finished) -> Vec<String> {
    let c = &summary.counters;
    let t = &f.totals;
    let mut lines = vec![
        format!(
            "{}: this run delivered {}, failed {} in {} ({:.1} requests/s)",
            summary.reason.describe(),
            thousands(c.delivered),
            thousands(c.failed),
            duration(Duration::from_millis(c.elapsed_ms)),
            summary.achieved_rate
        ),
        format!(
            "campaign: delivered {} of {} ready; failed {}; unknown {}; not sent yet {}; invalid {}; duplicates {}",
            thousands(t.delivered),
            thousands(session.campaign.checks.ready),
            thousands(t.failed),
            thousands(t.unknown),
            thousands(t.pending),
            thousands(session.campaign.checks.invalid),
            thousands(session.campaign.checks.duplicates)
        ),
    ];
    if !c.failures_by_code.is_empty() {
        lines.push("errors this run:".into());
        for (code, n) in &c.failures_by_code {
            let h = code.parse::<i64>().ok().and_then(hint).unwrap_or("");
            lines.push(format!("  {code:>9} ×{n}  {h}"));
        }
    }
    if !f.unknown_rows.is_empty() {
        let shown: Vec<String> = f.unknown_rows.iter().take(20).map(|r| (r + 1).to_string()).collect();
        lines.push(format!(
            "unknown: rows {}{} were sent without an answer; they are not resent unless you add --resend-unknown",
            shown.join(", "),
            if f.unknown_rows.len() > 20 { ", …" } else { "" }
        ));
    }
    lines.push(format!("journal  {}", session.files.journal.display()));
    lines.push(format!("failures {} ({} rows)", session.files.failures.display(), f.failures_written));
    lines.push(format!("report   {}", session.files.report.display()));
    if f.failures_written > 0 {
        lines.push(format!("re-run the failures: {}", session.rerun_command()));
    }
    if t.pending > 0 && !summary.reason.is_fatal() {
        lines.push("resume: run the same command again to send the rest".into());
    } else if t.pending > 0 {
        lines.push("resume: fix the cause above, then run the same command again to send the rest".into());
    }
    lines
}
