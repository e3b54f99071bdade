//! The terminal UI of a campaign sent for many merchants: the plan and the one question, then a
//! row per merchant (sent, failed, quota left, state) above the campaign's progress and the
//! selected merchant's errors by code, then the report. It renders the application layer's
//! `Fleet`, `FleetBoard` and `FleetReport`; what is sent is decided there.

use std::time::Duration;

use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::terminal::{Input, Screen};
use super::theme::Theme;
use super::StartError;
use crate::app::fleet::{Fleet, FleetRun};
use crate::app::fleet_board::{plan_lines, FleetBoard, MerchantState, RowOutcome};
use crate::app::fleet_report::FleetReport;
use crate::app::report::LineKind;
use crate::app::text::progress;
use crate::app::{Consent, Exit, Gate, PreflightError};
use crate::engine::{EndReason, Event};
use crate::tr;

/// Where the screen is.
enum Phase {
    /// The plan, and the questions to answer before anything is sent.
    Confirm(Vec<String>),
    /// Sending (`stopping`: the operator asked every merchant to stop).
    Running { stopping: bool },
    /// Every merchant ended: the report.
    Done(Box<FleetReport>),
}

/// What the screen shows.
struct View {
    phase: Phase,
    plan: Vec<String>,
    board: FleetBoard,
    selected: usize,
    theme: Theme,
    title: String,
}

/// What a key asks for.
#[derive(Debug, PartialEq, Eq)]
enum Wish {
    None,
    Start,
    Stop,
    Quit,
}

impl View {
    fn on_key(&mut self, k: KeyEvent) -> Wish {
        let rows = self.board.rows.len();
        match (k.code, &self.phase) {
            (KeyCode::Up | KeyCode::Char('k'), _) => self.selected = self.selected.saturating_sub(1),
            (KeyCode::Down | KeyCode::Char('j'), _) => self.selected = (self.selected + 1).min(rows.saturating_sub(1)),
            (KeyCode::Char('y' | 'Y'), Phase::Confirm(_)) => return Wish::Start,
            (KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc, Phase::Confirm(_)) => return Wish::Quit,
            (KeyCode::Char('q' | 's') | KeyCode::Esc, Phase::Running { stopping: false }) => return Wish::Stop,
            (KeyCode::Char('q'), Phase::Running { stopping: true }) => return Wish::Quit,
            (KeyCode::Char('q') | KeyCode::Enter | KeyCode::Esc, Phase::Done(_)) => return Wish::Quit,
            _ => {}
        }
        Wish::None
    }

    fn draw(&self, f: &mut Frame) {
        // The merchants' table as tall as its merchants (at most a third of the screen); while
        // sending, the latest rows under it, else the plan or the report.
        let rows = u16::try_from(self.board.rows.len()).unwrap_or(u16::MAX).saturating_add(3);
        let table_height = rows.min(f.area().height / 3).max(5);
        let running = matches!(self.phase, Phase::Running { .. });
        let [head, table, recent, detail, keys] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Length(table_height),
            if running { Constraint::Min(5) } else { Constraint::Length(0) },
            if running { Constraint::Length(7) } else { Constraint::Min(6) },
            Constraint::Length(1),
        ])
        .areas(f.area());
        if running {
            f.render_widget(self.recent_table(), recent);
        }
        let totals = self.board.totals();
        let head_lines = vec![
            Line::styled(self.title.clone(), self.theme.title()),
            Line::raw(progress(&totals)),
            Line::raw(self.board.state_line()),
        ];
        f.render_widget(Paragraph::new(head_lines).block(Block::default().borders(Borders::BOTTOM)), head);
        f.render_widget(self.merchant_table(), table);
        let (title, lines) = self.detail();
        let block = Block::default().borders(Borders::ALL).title(title);
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), detail);
        let hint = match &self.phase {
            Phase::Confirm(_) => tr!("tui.fleet.keys.confirm"),
            Phase::Running { stopping: false } => tr!("tui.fleet.keys.running"),
            Phase::Running { stopping: true } => tr!("tui.fleet.keys.stopping"),
            Phase::Done(_) => tr!("tui.fleet.keys.done"),
        };
        f.render_widget(Paragraph::new(Line::styled(hint, self.theme.dim())), keys);
    }

    /// The merchant column: as wide as the widest name (display width: CJK names take two
    /// columns a character).
    fn name_width(&self) -> Constraint {
        let widest = self.board.rows.iter().map(|r| unicode_width::UnicodeWidthStr::width(r.name.as_str())).max();
        Constraint::Length(u16::try_from(widest.unwrap_or(0).max(8) + 2).unwrap_or(u16::MAX))
    }

    /// The latest rows of all merchants, newest first: merchant, row, openid, what happened.
    fn recent_table(&self) -> Table<'static> {
        let rows: Vec<Row> = self
            .board
            .recent
            .iter()
            .map(|r| {
                let style = match r.outcome {
                    RowOutcome::Delivered => self.theme.ok(),
                    RowOutcome::Failed(_) => self.theme.bad(),
                    _ => self.theme.warn(),
                };
                let merchant = self.board.rows.get(r.merchant).map(|m| m.name.clone()).unwrap_or_default();
                Row::new(vec![merchant, r.row.to_string(), r.openid.clone(), r.outcome.label()]).style(style)
            })
            .collect();
        let header =
            [tr!("fleet.col.merchant"), tr!("tui.fleet.col_row"), "openid".to_string(), tr!("fleet.col.state")];
        let widths = [self.name_width(), Constraint::Length(8), Constraint::Length(16), Constraint::Min(16)];
        Table::new(rows, widths)
            .header(Row::new(header).style(self.theme.title()))
            .block(Block::default().borders(Borders::ALL).title(tr!("tui.fleet.rows")))
    }

    fn merchant_table(&self) -> Table<'static> {
        let header = crate::app::fleet_board::header();
        let rows: Vec<Row> = self
            .board
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let style = match &r.state {
                    s if s.is_problem() => self.theme.bad(),
                    MerchantState::Ended(EndReason::Completed) => self.theme.ok(),
                    _ => ratatui::style::Style::default(),
                };
                let style = if i == self.selected { style.patch(self.theme.selected()) } else { style };
                let quota = r.quota_left().map_or_else(|| "-".into(), |q| crate::app::text::thousands(q as usize));
                Row::new(vec![
                    r.name.clone(),
                    r.appid.clone(),
                    crate::app::text::thousands(r.counters.delivered),
                    crate::app::text::thousands(r.counters.failed),
                    quota,
                    r.state.label(),
                ])
                .style(style)
            })
            .collect();
        let widths = [
            self.name_width(),
            Constraint::Length(20),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Min(12),
        ];
        Table::new(rows, widths)
            .header(Row::new(header).style(self.theme.title()))
            .block(Block::default().borders(Borders::ALL).title(tr!("tui.fleet.merchants")))
    }

    /// The panel under the table: the plan and questions, the selected merchant, or the report.
    fn detail(&self) -> (String, Vec<Line<'static>>) {
        match &self.phase {
            Phase::Confirm(questions) => {
                let mut lines: Vec<Line> =
                    questions.iter().map(|q| Line::styled(q.clone(), self.theme.warn())).collect();
                lines.extend(self.plan.iter().map(|l| Line::raw(l.clone())));
                (tr!("tui.fleet.plan"), lines)
            }
            Phase::Done(report) => {
                let lines = report
                    .lines()
                    .into_iter()
                    .skip(self.board.rows.len() + 1)
                    .map(|l| match l.kind {
                        LineKind::Problem => Line::styled(l.text, self.theme.bad()),
                        LineKind::Advice => Line::styled(l.text, self.theme.accent()),
                        LineKind::Info => Line::raw(l.text),
                    })
                    .collect();
                (tr!("tui.fleet.report"), lines)
            }
            Phase::Running { .. } => self.selected_lines(),
        }
    }

    /// The selected merchant: its progress, its end, its errors by code with what to do.
    fn selected_lines(&self) -> (String, Vec<Line<'static>>) {
        let Some(r) = self.board.rows.get(self.selected) else { return (String::new(), Vec::new()) };
        let mut lines = vec![Line::raw(progress(&r.counters))];
        match &r.state {
            MerchantState::Held(why) => lines.push(Line::styled(why.clone(), self.theme.bad())),
            MerchantState::Ended(reason) if reason.is_fatal() => {
                lines.push(Line::styled(reason.describe(), self.theme.bad()))
            }
            _ => {}
        }
        let mut by_code: Vec<_> = r.counters.failures_by_code.iter().collect();
        by_code.sort_by(|a, b| b.1.cmp(a.1));
        for (code, n) in by_code {
            let hint = code.hint().unwrap_or_default();
            lines.push(Line::from(vec![Span::styled(format!("{code:>9} ×{n:<6}"), self.theme.bad()), Span::raw(hint)]));
        }
        (tr!("tui.fleet.selected", merchant = r.name.clone(), appid = r.appid.clone()), lines)
    }
}

/// Run a prepared campaign for many merchants in the terminal UI. Nothing is sent when the gate
/// refuses or the question is declined, or the terminal cannot be opened (the `Err`).
pub async fn run(mut fleet: Fleet, consent: Consent) -> Result<Exit, StartError> {
    fleet.preflight().await;
    let gate = fleet.gate(consent);
    let questions = match &gate {
        Gate::Refuse(why) => return Err(PreflightError::NotConfirmed(why.clone()).into()),
        Gate::Ask(q) => q.iter().map(|q| q.text()).collect(),
        Gate::Go | Gate::Nothing => Vec::new(),
    };
    let c = &fleet.config;
    let title = tr!(
        "fleet.campaign",
        campaign = c.name.clone(),
        kind = c.message.kind.as_str(),
        count = fleet.members.len() + fleet.idle.len()
    );
    let mut view = View {
        phase: Phase::Confirm(questions.clone()),
        plan: plan_lines(&fleet),
        board: FleetBoard::of(&fleet),
        selected: 0,
        theme: Theme { color: super::colors_allowed() },
        title,
    };
    let mut screen = Screen::open().map_err(StartError::Terminal)?;
    let mut input = Input::start();
    let mut run = None;
    if questions.is_empty() {
        run = Some(start(&fleet, &mut view));
    }
    let outcome = drive(&fleet, &mut view, &mut run, &mut screen, &mut input).await;
    drop(input);
    drop(screen);
    match outcome {
        Ending::Declined => Err(PreflightError::NotConfirmed(tr!("headless.not_confirmed")).into()),
        Ending::Forced => {
            for m in &fleet.members {
                let _ = tokio::time::timeout(Duration::from_millis(500), m.session.writer.flush()).await;
            }
            eprintln!("{}", tr!("fleet.quit", command = fleet.resume_command()));
            Ok(Exit::Partial)
        }
        Ending::Report(report) => {
            for line in report.lines() {
                eprintln!("{}", crate::app::text::printable(&line.text));
            }
            Ok(report.exit)
        }
    }
}

fn start(fleet: &Fleet, view: &mut View) -> FleetRun {
    view.phase = Phase::Running { stopping: false };
    fleet.launch()
}

/// How the screen was left.
enum Ending {
    Declined,
    Forced,
    Report(Box<FleetReport>),
}

/// The loop: keys, the merchants' events and a tick, until the report is read or the operator
/// quits.
async fn drive(
    fleet: &Fleet,
    view: &mut View,
    run: &mut Option<FleetRun>,
    screen: &mut Screen,
    input: &mut Input,
) -> Ending {
    // Drawn ten times a second and after a key, not after every event: a few hundred merchants
    // send twenty progress events a second each.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut redraw = true;
    loop {
        if std::mem::take(&mut redraw) && screen.terminal.draw(|f| view.draw(f)).is_err() {
            return Ending::Forced;
        }
        let wish = tokio::select! {
            ev = input.events.recv() => match ev {
                Some(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                    redraw = true;
                    view.on_key(k)
                }
                Some(_) => Wish::None,
                None => Wish::Quit,
            },
            ev = async {
                match run.as_mut() {
                    Some(r) => r.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match ev {
                    Some((i, event)) => {
                        view.board.apply(i, &event);
                        if let (Event::Paused(crate::engine::PauseReason::FailureRate { .. }), Some(r)) = (&event, run.as_ref()) {
                            // That merchant alone stops: the others go on.
                            if let Some(Some(h)) = r.handles.get(i) {
                                h.stop();
                            }
                        }
                    }
                    None => {
                        if let Some(r) = run.take() {
                            view.phase = Phase::Done(Box::new(fleet.finish(&r).await));
                        }
                    }
                }
                Wish::None
            }
            _ = tick.tick() => {
                redraw = true;
                Wish::None
            }
        };
        match (wish, &view.phase) {
            (Wish::Start, Phase::Confirm(_)) => *run = Some(start(fleet, view)),
            (Wish::Stop, _) => {
                if let Some(r) = run.as_ref() {
                    r.stop();
                }
                view.phase = Phase::Running { stopping: true };
            }
            (Wish::Quit, Phase::Confirm(_)) => return Ending::Declined,
            (Wish::Quit, Phase::Running { .. }) => return Ending::Forced,
            (Wish::Quit, Phase::Done(_)) => {
                let Phase::Done(report) = std::mem::replace(&mut view.phase, Phase::Running { stopping: true }) else {
                    return Ending::Forced;
                };
                return Ending::Report(report);
            }
            _ => {}
        }
    }
}
