//! Overlays: help, confirmations, prompts and messages.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Message, Overlay};
use super::keys::for_screen;
use super::theme::Theme;
use crate::app::text::{duration, pad, thousands};
use crate::tr;

fn area(frame: &Frame, width: u16, lines: usize) -> Rect {
    let full = frame.area();
    let w = width.min(full.width.saturating_sub(2)).max(20);
    let h = (lines as u16 + 2).min(full.height.saturating_sub(2)).max(3);
    full.centered(Constraint::Length(w), Constraint::Length(h))
}

/// A double-width character (CJK, most emoji) straddling the popup's left or right edge keeps
/// half of itself outside the cleared area, and the terminal draws it over the border. Replace
/// such a character by a space on the outside of each edge.
fn clear_split_wide_characters(buf: &mut ratatui::buffer::Buffer, rect: Rect) {
    use unicode_width::UnicodeWidthStr;
    for y in rect.top()..rect.bottom() {
        // Left: a wide character starting just outside covers the border's cell.
        if rect.x > 0 {
            if let Some(cell) = buf.cell_mut((rect.x - 1, y)) {
                if cell.symbol().width() > 1 {
                    cell.set_symbol(" ");
                }
            }
        }
        // Right: the second half of a character the popup cut is left alone outside it.
        let outside = rect.right();
        if outside < buf.area.right() {
            let starts_inside = buf.cell((outside - 1, y)).is_some_and(|c| c.symbol().is_empty() || c.symbol() == " ");
            if let Some(cell) = buf.cell_mut((outside, y)) {
                if starts_inside && cell.symbol().is_empty() {
                    cell.set_symbol(" ");
                }
            }
        }
    }
}

fn show(frame: &mut Frame, title: &str, lines: Vec<Line<'static>>, width: u16) {
    // Wrapped lines need more rows than there are lines: estimate from the width, with a row to
    // spare for each wrapped line (wrapping at word boundaries leaves lines short of the width),
    // so the last line is never cut.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| {
            let w = l.width().max(1);
            w.div_ceil(inner) + usize::from(w > inner)
        })
        .sum();
    let rect = area(frame, width, rows);
    frame.render_widget(Clear, rect);
    clear_split_wide_characters(frame.buffer_mut(), rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title.to_string())),
        rect,
    );
}

/// Draw `overlay` over the screen.
pub fn draw(frame: &mut Frame, app: &App, overlay: &Overlay, theme: Theme) {
    match overlay {
        Overlay::Help => show(frame, &tr!("popup.help.title"), help_lines(app, theme), 72),
        Overlay::Confirm => show(frame, &tr!("popup.confirm.title"), confirm_lines(app, theme), 76),
        Overlay::ConfirmStop | Overlay::ConfirmQuit => {
            let question = if *overlay == Overlay::ConfirmQuit {
                tr!("popup.stop.question_quit")
            } else {
                tr!("popup.stop.question")
            };
            let lines = vec![
                Line::styled(question, theme.title()),
                Line::raw(tr!("popup.stop.in_flight")),
                Line::raw(tr!("popup.stop.later")),
                Line::raw(""),
                answers(theme, &tr!("popup.stop.yes"), &tr!("popup.stop.no")),
            ];
            show(frame, &tr!("popup.stop.title"), lines, 70);
        }
        Overlay::ConfirmRate(r) => {
            let lines = vec![
                Line::styled(tr!("popup.rate.question", rate = r), theme.title()),
                Line::raw(tr!("popup.rate.risk", rate = app.run.configured_rate)),
                Line::raw(""),
                answers(theme, &tr!("popup.rate.yes"), &tr!("popup.rate.no")),
            ];
            show(frame, &tr!("popup.rate.title"), lines, 70);
        }
        Overlay::Filter => prompt(frame, app, theme, ["popup.filter.title", "popup.filter.prompt", "popup.filter.how"]),
        Overlay::TestOpenid => {
            let row = app.selected_row().map_or(0, |r| r + 1);
            let lines = vec![
                Line::styled(tr!("popup.test.question", row = row), theme.title()),
                Line::raw(format!("{}▏", app.input)),
                Line::styled(tr!("popup.test.how"), theme.dim()),
            ];
            show(frame, &tr!("popup.test.title"), lines, 70);
        }
        Overlay::DropCode => prompt(frame, app, theme, ["popup.drop.title", "popup.drop.prompt", "popup.drop.how"]),
        Overlay::Message(text) => {
            let lines = vec![
                Line::raw(message_text(app, text)),
                Line::raw(""),
                Line::styled(tr!("popup.message.any_key"), theme.dim()),
            ];
            show(frame, " wxsend ", lines, 76);
        }
    }
}

/// A one-line prompt: its label, the text typed so far, what the keys do (catalogue keys of the
/// title, the label and the help line).
fn prompt(frame: &mut Frame, app: &App, theme: Theme, [title, label, how]: [&str; 3]) {
    let lines = vec![
        Line::from(vec![Span::styled(tr!(label), theme.title()), Span::raw(format!("{}▏", app.input))]),
        Line::styled(tr!(how), theme.dim()),
    ];
    show(frame, &tr!(title), lines, 70);
}

/// The answer keys of a question: ` y yes   n no`.
fn answers(theme: Theme, yes: &str, no: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(" y ", theme.title()),
        Span::raw(format!("{yes}   ")),
        Span::styled(" n ", theme.title()),
        Span::raw(no.to_string()),
    ])
}

/// The keys of the screen shown.
fn help_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = for_screen(app.nav.screen)
        .map(|b| Line::from(vec![Span::styled(format!("{:>6}  ", b.label), theme.title()), Span::raw(tr!(b.help))]))
        .collect();
    lines.push(Line::from(vec![Span::styled("   Esc  ", theme.title()), Span::raw(tr!("popup.help.esc"))]));
    lines.push(Line::from(vec![Span::styled("Ctrl-C  ", theme.title()), Span::raw(tr!("popup.help.ctrl_c"))]));
    lines.push(Line::styled(tr!("popup.help.mouse"), theme.dim()));
    lines
}

/// A message popup's words.
pub(super) fn message_text(app: &App, message: &Message) -> String {
    match message {
        Message::NothingToSend => tr!("popup.message.nothing_to_send"),
        Message::InvalidRow(row) => {
            let why: Vec<String> = app.campaign.checks.problems_of(*row).iter().map(|(_, p)| p.to_string()).collect();
            tr!("popup.message.invalid_row", row = row + 1, problems = why.join("; "))
        }
        Message::BadTestOpenid(problem) => tr!("popup.message.not_sent", problem = problem.to_string()),
        Message::TestSent(done) => done.to_string(),
        Message::NotARerun => tr!("popup.message.not_a_rerun"),
        Message::RerunFailed(why) => tr!("popup.message.rerun_failed", why = why.clone()),
    }
}

/// The confirm popup: what is about to be sent, how, and what the ledger and warnings say —
/// the application layer's [`Overview`](crate::app::Overview), worded here.
fn confirm_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let b = &app.brief;
    let o = &b.overview;
    let quota = b.quota.as_ref().and_then(|q| q.describe()).unwrap_or_else(|| tr!("popup.confirm.not_reported"));
    let field = |label: &str, value: String| Line::raw(format!("{}{value}", pad(&tr!(label), 11)));
    let mut lines = vec![
        Line::styled(
            tr!("popup.confirm.question", count = thousands(o.to_send.saturating_sub(app.dropped_to_send()))),
            theme.title(),
        ),
        Line::raw(""),
        field("popup.confirm.kind", o.kind.to_string()),
        field("popup.confirm.template", o.template_id.clone()),
        field("popup.confirm.rate", tr!("popup.confirm.rate_value", rate = o.rate, concurrency = o.concurrency)),
        field("popup.confirm.duration", tr!("popup.confirm.about", duration = duration(o.estimate))),
        field("popup.confirm.quota", quota),
    ];
    match &o.mock_api {
        Some(api) => lines.push(field("popup.confirm.api", tr!("popup.confirm.mock", api = api.clone()))),
        None if !o.api.is_empty() => lines.push(field("popup.confirm.api", format!("{} ({})", o.api, o.route))),
        None => {}
    }
    for line in &o.schedule {
        lines.push(field("popup.confirm.schedule", line.clone()));
    }
    if b.template_unverified {
        lines.insert(1, Line::styled(tr!("popup.confirm.unverified", template = o.template.clone()), theme.bad()));
    } else if !o.template.is_empty() {
        lines.push(Line::raw(o.template.clone()));
    }
    if o.resume.is_resuming() {
        let r = &o.resume;
        let held = if r.unknown_held.is_empty() { String::new() } else { tr!("popup.confirm.unknown_held") };
        let resuming = tr!(
            "popup.confirm.resuming_value",
            delivered = thousands(r.delivered),
            failed = thousands(r.failed),
            unknown = thousands(r.unknown_held.len() + r.unknown_resent),
            held = held
        );
        lines.push(field("popup.confirm.resuming", resuming));
    }
    for line in o.ledger.lines() {
        lines.push(field("popup.confirm.ledger", line).style(theme.warn()));
    }
    if let Some(line) = o.dropped.line() {
        lines.push(Line::styled(line, theme.warn()));
    }
    if let Some(d) = &app.drops {
        let codes: Vec<String> = d
            .counts()
            .into_iter()
            .filter(|(_, (_, out))| *out > 0)
            .map(|(c, (_, out))| format!("{c} ×{out}"))
            .collect();
        let count = d.dropped_rows().len();
        if count > 0 {
            lines.push(Line::styled(
                tr!("popup.confirm.will_drop", count = count, codes = codes.join(", ")),
                theme.warn(),
            ));
        }
    }
    for w in &o.warnings {
        lines.push(Line::styled(format!("⚠ {w}"), theme.warn()));
    }
    lines.push(Line::raw(""));
    lines.push(answers(theme, &tr!("popup.confirm.yes"), &tr!("popup.confirm.no")));
    lines
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;
    use ratatui::text::Line;
    use ratatui::widgets::Paragraph;
    use ratatui::Terminal;

    /// A row of CJK text under a popup at every offset: the popup's left and right borders stay
    /// whole, never half of a character.
    #[test]
    fn a_popup_over_wide_characters_keeps_its_borders() {
        for shift in 0..2u16 {
            let mut t = Terminal::new(TestBackend::new(60, 8)).unwrap();
            t.draw(|f| {
                let row = format!("{}{}", " ".repeat(shift as usize), "陶瓷马克杯保温杯".repeat(4));
                f.render_widget(Paragraph::new(vec![Line::raw(row.clone()); 8]), f.area());
                super::show(f, " confirm ", vec![Line::raw("Send 45 messages now?")], 30);
            })
            .unwrap();
            let buf = t.backend().buffer().clone();
            let rect: Rect =
                buf.area.centered(ratatui::layout::Constraint::Length(30), ratatui::layout::Constraint::Length(3));
            for y in rect.top()..rect.bottom() {
                let left = buf[(rect.x, y)].symbol().to_string();
                let right = buf[(rect.right() - 1, y)].symbol().to_string();
                assert!(["│", "┌", "└"].contains(&left.as_str()), "shift {shift}, row {y}: left edge {left:?}");
                assert!(["│", "┐", "┘"].contains(&right.as_str()), "shift {shift}, row {y}: right edge {right:?}");
                let before = buf[(rect.x - 1, y)].symbol().to_string();
                assert!(
                    unicode_width::UnicodeWidthStr::width(before.as_str()) <= 1,
                    "shift {shift}, row {y}: {before:?} spills over the border"
                );
            }
        }
    }
}
