//! Overlays: help, confirmations, prompts and messages.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Message, Overlay};
use super::keys::for_screen;
use super::theme::Theme;
use crate::app::text::{duration, thousands};

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
    // Wrapped lines need more rows than there are lines: estimate from the width.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
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
        Overlay::Help => show(frame, " keys ", help_lines(app, theme), 72),
        Overlay::Confirm => show(frame, " confirm ", confirm_lines(app, theme), 76),
        Overlay::ConfirmStop | Overlay::ConfirmQuit => {
            let then = if *overlay == Overlay::ConfirmQuit { ", then quit" } else { "" };
            let lines = vec![
                Line::styled(format!("Stop sending{then}?"), theme.title()),
                Line::raw("Requests in flight finish and are recorded; nothing new is sent."),
                Line::raw("Run the same command later to send the rest."),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(" y ", theme.title()),
                    Span::raw("stop   "),
                    Span::styled(" n ", theme.title()),
                    Span::raw("keep sending"),
                ]),
            ];
            show(frame, " stop ", lines, 70);
        }
        Overlay::ConfirmRate(r) => {
            let lines = vec![
                Line::styled(format!("Raise the rate to {r}/s?"), theme.title()),
                Line::raw(format!(
                    "The campaign is set to {}/s. Faster sending risks WeChat's per-minute quota (45011).",
                    app.run.configured_rate
                )),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(" y ", theme.title()),
                    Span::raw("raise   "),
                    Span::styled(" n ", theme.title()),
                    Span::raw("keep"),
                ]),
            ];
            show(frame, " rate ", lines, 70);
        }
        Overlay::Filter => {
            let lines = vec![
                Line::from(vec![Span::styled("filter: ", theme.title()), Span::raw(format!("{}▏", app.input))]),
                Line::styled(
                    "rows whose openid or any value contains this text · Enter apply · Esc cancel",
                    theme.dim(),
                ),
            ];
            show(frame, " filter ", lines, 70);
        }
        Overlay::TestOpenid => {
            let row = app.selected_row().map_or(0, |r| r + 1);
            let lines = vec![
                Line::styled(format!("Test-send row {row} to which openid? (your own)"), theme.title()),
                Line::raw(format!("{}▏", app.input)),
                Line::styled(
                    "set test_openid in [message] to skip this question · Enter send · Esc cancel",
                    theme.dim(),
                ),
            ];
            show(frame, " test send ", lines, 70);
        }
        Overlay::Message(text) => {
            let lines =
                vec![Line::raw(message_text(app, text)), Line::raw(""), Line::styled("any key closes", theme.dim())];
            show(frame, " wxsend ", lines, 76);
        }
    }
}

/// The keys of the screen shown.
fn help_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = for_screen(app.nav.screen)
        .map(|b| Line::from(vec![Span::styled(format!("{:>6}  ", b.label), theme.title()), Span::raw(b.help)]))
        .collect();
    lines.push(Line::from(vec![
        Span::styled("   Esc  ", theme.title()),
        Span::raw("close this layer or clear the filter"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("Ctrl-C  ", theme.title()),
        Span::raw("quit (while sending: stop gracefully; twice: quit at once)"),
    ]));
    lines.push(Line::styled("mouse wheel scrolls the table", theme.dim()));
    lines
}

/// A message popup's words.
pub(super) fn message_text(app: &App, message: &Message) -> String {
    match message {
        Message::NothingToSend => "nothing to send: every ready row is already done".into(),
        Message::InvalidRow(row) => {
            let why: Vec<String> = app.campaign.checks.problems_of(*row).iter().map(|(_, p)| p.to_string()).collect();
            format!("row {} is invalid: {}", row + 1, why.join("; "))
        }
        Message::BadTestOpenid(problem) => format!("not sent: {problem}"),
        Message::TestSent(done) => done.to_string(),
    }
}

/// The confirm popup: what is about to be sent, how, and what the ledger and warnings say —
/// the application layer's [`Overview`](crate::app::Overview), worded here.
fn confirm_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let b = &app.brief;
    let o = &b.overview;
    let quota = b.quota.as_ref().and_then(|q| q.describe()).unwrap_or_else(|| "not reported".into());
    let mut lines = vec![
        Line::styled(format!("Send {} messages now?", thousands(o.to_send)), theme.title()),
        Line::raw(""),
        Line::raw(format!("kind       {}", o.kind)),
        Line::raw(format!("template   {}", o.template_id)),
        Line::raw(format!("rate       {}/s, {} in flight at most", o.rate, o.concurrency)),
        Line::raw(format!("duration   about {}", duration(o.estimate))),
        Line::raw(format!("quota      {quota}")),
    ];
    match &o.mock_api {
        Some(api) => lines.push(Line::raw(format!("api        embedded mock at {api} (nothing reaches WeChat)"))),
        None if !o.api.is_empty() => lines.push(Line::raw(format!("api        {} ({})", o.api, o.route))),
        None => {}
    }
    for line in &o.schedule {
        lines.push(Line::raw(format!("schedule   {line}")));
    }
    if b.template_unverified {
        lines.insert(1, Line::styled(format!("⚠ {} — sending anyway is your call", o.template), theme.bad()));
    } else if !o.template.is_empty() {
        lines.push(Line::raw(o.template.clone()));
    }
    if o.resume.is_resuming() {
        let r = &o.resume;
        lines.push(Line::raw(format!(
            "resuming   already delivered {}, failed {}, unknown {}{}",
            thousands(r.delivered),
            thousands(r.failed),
            thousands(r.unknown_held.len() + r.unknown_resent),
            if r.unknown_held.is_empty() { "" } else { " (not resent; --resend-unknown resends them)" }
        )));
    }
    for line in o.ledger.lines() {
        lines.push(Line::styled(format!("ledger     {line}"), theme.warn()));
    }
    for w in &o.warnings {
        lines.push(Line::styled(format!("⚠ {w}"), theme.warn()));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(" y ", theme.title()),
        Span::raw("send   "),
        Span::styled(" n ", theme.title()),
        Span::raw("cancel"),
    ]));
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
