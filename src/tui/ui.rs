//! Drawing: a frame from `&App`, nothing else. Only visible rows are rendered, so the cost of a
//! frame does not grow with the number of rows.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::app::{App, Notice, Status};
use super::keys::{for_screen, Screen};
use super::popup;
use super::theme::Theme;
use crate::app::text::{duration, mask_openid, pad, pretty_body, printable, progress, thousands};
use crate::app::LineKind;
use crate::campaign::Rendered;
use crate::tr;

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.color };
    let [body, footer] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    match app.nav.screen {
        Screen::Preview => preview(frame, body, app, theme),
        Screen::Sending => sending(frame, body, app, theme),
        Screen::Done => done(frame, body, app, theme),
    }
    frame.render_widget(Paragraph::new(footer_line(app, theme)), footer);
    if let Some(overlay) = &app.overlay {
        popup::draw(frame, app, overlay, theme);
    }
}

/// The rows the table can show in `height` lines with the selection visible.
pub fn window(selected: usize, len: usize, height: usize) -> std::ops::Range<usize> {
    if height == 0 || len == 0 {
        return 0..0;
    }
    let start = selected.saturating_sub(height / 2).min(len.saturating_sub(height));
    start..(start + height).min(len)
}

fn footer_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for b in for_screen(app.nav.screen) {
        if let Some(word) = b.footer {
            spans.push(Span::styled(format!(" {} ", b.label), theme.title()));
            spans.push(Span::styled(tr!(word), theme.dim()));
        }
    }
    if let Some(n) = &app.notice {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(notice_text(n), theme.accent()));
    }
    Line::from(spans)
}

/// The footer's notice in words.
fn notice_text(notice: &Notice) -> String {
    match notice {
        Notice::Exporting => tr!("tui.notice.exporting"),
        Notice::Exported(n, path) => {
            tr!("tui.notice.exported", rows = thousands(*n), path = path.display().to_string())
        }
        Notice::ExportFailed(e) => tr!("tui.notice.export_failed", error = e.to_string()),
        Notice::TestSending(row, openid) => tr!("tui.notice.test_sending", row = row + 1, openid = mask_openid(openid)),
    }
}

fn header(app: &App, theme: Theme) -> Line<'static> {
    let c = &app.campaign;
    let mut spans = vec![
        Span::styled(format!(" {} ", c.config.name), theme.title()),
        Span::raw(tr!("tui.header.rows", kind = c.config.message.kind.as_str(), rows = thousands(c.recipients.len()))),
        Span::styled(tr!("tui.header.ready", count = thousands(c.checks.ready)), theme.ok()),
        Span::raw(" ─ "),
        Span::styled(
            tr!("tui.header.invalid", count = thousands(c.checks.invalid)),
            if c.checks.invalid > 0 { theme.bad() } else { theme.dim() },
        ),
        Span::raw(tr!("tui.header.duplicates", count = thousands(c.checks.duplicates))),
    ];
    let before = c.checks.ready.saturating_sub(app.run.to_send);
    if before > 0 {
        spans.push(Span::styled(tr!("tui.header.done_before", count = thousands(before)), theme.accent()));
    }
    if let Some(shared) = &app.run.shared {
        spans.push(Span::styled(format!(" ─ {}", shared.describe()), theme.accent()));
    }
    Line::from(spans)
}

/// The CSV columns the template reads, besides the openid (at most three, for the table).
fn mapped_columns(app: &App) -> Vec<usize> {
    let t = &app.campaign.template;
    let openid = app.campaign.recipients.openid_column;
    let mut cols = Vec::new();
    for i in 0..t.keys.len() {
        for c in t.field_columns(i) {
            if c != openid && !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    cols.truncate(3);
    cols
}

fn check_label(app: &App, row: usize, theme: Theme) -> (String, Style) {
    let first = app.campaign.checks.problems_of(row).first().map(|(_, p)| p.label());
    if let Some(d) = &app.drops {
        if d.is_dropped(row) {
            return (tr!("tui.rerun.dropped", code = d.code(row)), theme.warn());
        }
        if app.run.status[row] == Status::Pending {
            return (d.code(row).to_string(), theme.bad());
        }
    }
    match app.run.status[row] {
        Status::Invalid => (first.unwrap_or_else(|| tr!("tui.status.invalid")), theme.bad()),
        Status::Duplicate => (tr!("tui.status.duplicate"), theme.warn()),
        Status::DeliveredBefore => (tr!("tui.status.sent_before"), theme.dim()),
        Status::FailedBefore => (tr!("tui.status.failed_before"), theme.bad()),
        Status::Unknown => (tr!("tui.status.unknown"), theme.warn()),
        Status::Held => (tr!("tui.status.held"), theme.dim()),
        _ => match first {
            Some(w) => (tr!("tui.status.ready_but", warning = w), theme.warn()),
            None => (tr!("tui.status.ready"), theme.ok()),
        },
    }
}

fn preview(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let mut warnings: Vec<Line> =
        app.campaign.warnings.iter().map(|w| Line::styled(format!(" ⚠ {w}"), theme.warn())).collect();
    if let Some(d) = &app.drops {
        let counts: Vec<String> = d
            .counts()
            .into_iter()
            .map(|(c, (n, out))| {
                if out > 0 {
                    tr!("tui.rerun.count_dropped", code = c, count = n, dropped = out)
                } else {
                    format!("{c} ×{n}")
                }
            })
            .collect();
        warnings.push(Line::styled(tr!("tui.rerun.header", counts = counts.join(" · ")), theme.accent()));
    }
    let [head, warn, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if warnings.is_empty() { 0 } else { 2 }),
        Constraint::Min(3),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header(app, theme)), head);
    frame.render_widget(Paragraph::new(warnings).wrap(Wrap { trim: true }), warn);
    let (table_area, message_area) = if body.width >= 110 {
        let [a, b] = Layout::horizontal([Constraint::Min(50), Constraint::Length(52)]).areas(body);
        (a, b)
    } else {
        let [a, b] = Layout::vertical([Constraint::Percentage(55), Constraint::Min(6)]).areas(body);
        (a, b)
    };
    let cols = mapped_columns(app);
    let headers = &app.campaign.recipients.headers;
    let mut titles = vec!["#".to_string(), "openid".to_string()];
    titles.extend(cols.iter().map(|&c| headers[c].clone()));
    titles.push(tr!("tui.column.check"));
    let rows = visible_rows(app, table_area, theme, |r, row| {
        let (label, style) = check_label(app, r, theme);
        let mut cells = vec![Cell::from((r + 1).to_string()), Cell::from(mask_openid(row.openid()))];
        cells.extend(cols.iter().map(|&c| Cell::from(printable(row.field(c)).into_owned())));
        cells.push(Cell::from(Span::styled(label, style)));
        cells
    });
    let mut widths = vec![Constraint::Length(6), Constraint::Length(9)];
    widths.extend(cols.iter().map(|_| Constraint::Min(8)));
    widths.push(Constraint::Length(14));
    let title = table_title(app);
    let table = Table::new(rows, widths)
        .header(Row::new(titles).style(theme.title()))
        .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(table, table_area);
    message(frame, message_area, app, theme);
}

fn table_title(app: &App) -> String {
    let mut t =
        tr!("tui.table.shown", shown = thousands(app.nav.view.len()), rows = thousands(app.campaign.recipients.len()));
    if !app.nav.filter.is_empty() {
        t.push_str(&tr!("tui.table.filter", filter = app.nav.filter.clone()));
    }
    if app.nav.invalid_only {
        t.push_str(&tr!("tui.table.not_sent_only"));
    }
    if app.nav.failures_only {
        t.push_str(&tr!("tui.table.failures_only"));
    }
    t
}

/// The selected row's message: as the recipient sees it, then the exact JSON body.
fn message(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(r) = app.selected_row() else {
        frame.render_widget(Block::default().borders(Borders::ALL).title(tr!("tui.card.no_row")), area);
        return;
    };
    let c = &app.campaign;
    let mut lines: Vec<Line> = Vec::new();
    let Some(row) = c.recipients.row(r) else { return };
    if let Some(d) = &app.drops {
        let hint = d.hint(r).map(|h| format!(" — {h}")).unwrap_or_default();
        lines.push(Line::styled(format!("⚠ {}{hint}", d.code(r)), theme.bad()));
    }
    for (_, p) in c.checks.problems_of(r) {
        let style = if p.severity() == crate::campaign::Severity::Error { theme.bad() } else { theme.warn() };
        lines.push(Line::styled(format!("⚠ {p}"), style));
    }
    if matches!(app.run.status[r], Status::Invalid) && row.field_count() != c.recipients.headers.len() {
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(tr!("tui.card.row", row = r + 1))),
            area,
        );
        return;
    }
    let mut rendered = Rendered::default();
    c.template.render(&row, &mut rendered);
    match &app.brief.template {
        // The account's template: what the phone shows, label by label.
        Some(template) => {
            let phone =
                crate::app::templates::phone_lines(template, c.config.message.kind, &c.template.keys, &rendered);
            let mut phone = phone.into_iter();
            if let Some(title) = phone.next() {
                lines.push(Line::styled(format!("┌ {title} "), theme.accent()));
            }
            for l in phone {
                lines.push(Line::from(vec![
                    Span::styled("│ ", theme.accent()),
                    Span::raw(printable(&l.replace(['\n', '\r'], "⏎")).into_owned()),
                ]));
            }
        }
        None => {
            lines.push(Line::styled(format!("┌ {} ", c.config.message.template_id), theme.accent()));
            let key_width = c.template.keys.iter().map(|k| unicode_width::UnicodeWidthStr::width(k.as_str())).max();
            for (k, v) in c.template.keys.iter().zip(&rendered.values) {
                lines.push(Line::from(vec![
                    Span::styled("│ ", theme.accent()),
                    Span::styled(pad(k, key_width.unwrap_or(0) + 2), theme.dim()),
                    Span::raw(printable(&v.replace(['\n', '\r'], "⏎")).into_owned()),
                ]));
            }
            if let Some(page) = &rendered.page {
                lines.push(Line::from(vec![
                    Span::styled("│ ", theme.accent()),
                    Span::styled(format!("→ {page}"), theme.dim()),
                ]));
            } else if let Some(url) = &rendered.url {
                lines.push(Line::from(vec![
                    Span::styled("│ ", theme.accent()),
                    Span::styled(format!("→ {url}"), theme.dim()),
                ]));
            }
        }
    }
    lines.push(Line::styled("└", theme.accent()));
    let body = c.template.body_json(row.openid(), &rendered);
    lines.push(Line::styled(tr!("tui.card.body"), theme.dim()));
    for l in pretty_body(&body) {
        lines.push(Line::raw(printable(&l).into_owned()));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(tr!(
            "tui.card.row_line",
            row = r + 1,
            line = row.line()
        ))),
        area,
    );
}

fn status_cell(app: &App, row: usize, theme: Theme) -> (String, Style) {
    match app.run.status[row] {
        Status::Pending => (tr!("tui.status.pending"), theme.dim()),
        Status::Invalid => (tr!("tui.status.invalid"), theme.bad()),
        Status::Duplicate => (tr!("tui.status.duplicate"), theme.dim()),
        Status::InFlight(a) if a > 1 => (tr!("tui.status.sending_try", attempt = a), theme.accent()),
        Status::InFlight(_) => (tr!("tui.status.sending"), theme.accent()),
        Status::Retrying(a) => (tr!("tui.status.retrying", attempt = a), theme.warn()),
        Status::Delivered => (tr!("tui.status.ok"), theme.ok()),
        Status::Failed => (tr!("tui.status.failed"), theme.bad()),
        Status::Unknown => (tr!("tui.status.unknown"), theme.warn()),
        Status::DeliveredBefore => (tr!("tui.status.sent_before"), theme.dim()),
        Status::FailedBefore => (tr!("tui.status.failed_before"), theme.bad()),
        Status::Held => (tr!("tui.status.held"), theme.dim()),
        Status::Elsewhere { unknown: false } => (tr!("tui.status.elsewhere"), theme.dim()),
        Status::Elsewhere { unknown: true } => (tr!("tui.status.elsewhere_unknown"), theme.warn()),
    }
}

/// The table rows that fit in `area` (borders and header take 3 lines), the selection
/// highlighted; `cells` builds one row's cells. Only these rows are touched.
fn visible_rows<'a>(
    app: &'a App,
    area: Rect,
    theme: Theme,
    cells: impl Fn(usize, crate::campaign::Row<'a>) -> Vec<Cell<'a>>,
) -> Vec<Row<'a>> {
    let range = window(app.nav.selected, app.nav.view.len(), area.height.saturating_sub(3) as usize);
    app.nav.view[range.clone()]
        .iter()
        .enumerate()
        .filter_map(|(i, &r)| {
            let row = app.campaign.recipients.row(r)?;
            let style = if range.start + i == app.nav.selected { theme.selected() } else { Style::default() };
            Some(Row::new(cells(r, row)).style(style))
        })
        .collect()
}

fn rows_table(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let wide = area.width >= 100;
    let rows = visible_rows(app, area, theme, |r, row| {
        let (label, style) = status_cell(app, r, theme);
        let (code, msg) = match app.run.failures.get(&r) {
            Some(f) if f.later => (f.code.to_string(), tr!("tui.status.retry_later", errmsg = f.errmsg.clone())),
            Some(f) => (f.code.to_string(), f.errmsg.clone()),
            None => (String::new(), String::new()),
        };
        let msg = if wide { msg } else { code.clone() + " " + &msg };
        let mut cells = vec![
            Cell::from((r + 1).to_string()),
            Cell::from(mask_openid(row.openid())),
            Cell::from(Span::styled(label, style)),
        ];
        if wide {
            cells.push(Cell::from(code));
        }
        cells.push(Cell::from(printable(&msg).into_owned()));
        cells.push(Cell::from(app.run.attempts.get(r).filter(|a| **a > 0).map(|a| a.to_string()).unwrap_or_default()));
        cells
    });
    let (widths, titles) = if wide {
        (
            vec![
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(14),
                Constraint::Length(9),
                Constraint::Min(20),
                Constraint::Length(5),
            ],
            vec![
                "#".into(),
                "openid".into(),
                tr!("tui.column.status"),
                tr!("tui.column.code"),
                tr!("tui.column.message"),
                tr!("tui.column.tries"),
            ],
        )
    } else {
        (
            vec![
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Min(10),
                Constraint::Length(5),
            ],
            vec![
                "#".into(),
                "openid".into(),
                tr!("tui.column.status"),
                tr!("tui.column.code_message"),
                tr!("tui.column.tries"),
            ],
        )
    };
    let follow =
        if app.nav.screen == Screen::Sending && app.nav.follow { tr!("tui.table.following") } else { String::new() };
    let table = Table::new(rows, widths)
        .header(Row::new(titles).style(theme.title()))
        .block(Block::default().borders(Borders::ALL).title(format!("{}{follow}", table_title(app))));
    frame.render_widget(table, area);
}

fn errors_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let mut by_code: Vec<_> = app.run.counters.failures_by_code.iter().collect();
    by_code.sort_by(|a, b| b.1.cmp(a.1));
    let mut lines: Vec<Line> = by_code
        .iter()
        .map(|(code, n)| {
            let hint = code.hint().unwrap_or_default();
            Line::from(vec![Span::styled(format!("{code:>9} ×{n:<6}"), theme.bad()), Span::raw(hint)])
        })
        .collect();
    if !app.run.counters.retries_by_code.is_empty() {
        let retried: Vec<String> = app.run.counters.retries_by_code.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        lines.push(Line::styled(tr!("tui.errors.retried", codes = retried.join(", ")), theme.dim()));
    }
    if lines.is_empty() {
        lines.push(Line::styled(tr!("tui.errors.none"), theme.ok()));
    }
    lines
}

fn token_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    match &app.run.token {
        Some(t) => {
            let token = t.token.clone().unwrap_or_else(|| "-".into());
            lines.push(Line::raw(tr!("tui.token.line", token = token, source = t.source)));
            let age = t.age_secs.map(|a| duration(Duration::from_secs(a))).unwrap_or_else(|| "-".into());
            lines.push(Line::raw(tr!("tui.token.age", age = age, refreshes = t.refreshes)));
        }
        None => lines.push(Line::styled(tr!("tui.token.none"), theme.dim())),
    }
    if let Some(source) = app.run.replaced_elsewhere {
        lines.push(Line::styled(crate::wechat::external_refresh_hint(source), theme.warn()));
    }
    lines
}

fn sending(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let banner = app.run.pause.as_ref().map(|p| {
        let what = match p {
            crate::engine::PauseReason::MinuteQuota { .. } => tr!("tui.sending.resumes_by_itself"),
            _ => tr!("tui.sending.resume_keys"),
        };
        tr!("tui.sending.paused_banner", reason = p.describe(), what = what)
    });
    let banner = if app.run.stopping { Some(tr!("tui.sending.stopping_banner")) } else { banner };
    let error_height = (errors_lines(app, theme).len() as u16 + 2).min(8);
    let [head, gauge, ban, stats, errors, table] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(if banner.is_some() { 1 } else { 0 }),
        Constraint::Length(5),
        Constraint::Length(error_height),
        Constraint::Min(4),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header(app, theme)), head);
    let ratio =
        if app.run.counters.total == 0 { 1.0 } else { app.run.counters.done() as f64 / app.run.counters.total as f64 };
    let title = if app.run.pause.is_some() {
        tr!("tui.sending.paused")
    } else if app.run.stopping {
        tr!("tui.sending.stopping")
    } else {
        tr!("tui.sending.sending")
    };
    frame.render_widget(
        Gauge::default()
            .block(Block::default().borders(Borders::ALL).title(title))
            .gauge_style(theme.ok())
            .ratio(ratio.clamp(0.0, 1.0))
            .label(progress(&app.run.counters)),
        gauge,
    );
    if let Some(b) = banner {
        frame.render_widget(Paragraph::new(b).style(theme.banner()), ban);
    }
    let (spark_area, token_area) = if stats.width >= 100 {
        let [a, b] = Layout::horizontal([Constraint::Min(30), Constraint::Length(48)]).areas(stats);
        (Some(a), b)
    } else {
        (None, stats)
    };
    if let Some(a) = spark_area {
        let width = a.width.saturating_sub(2) as usize;
        let data = &app.run.throughput[app.run.throughput.len().saturating_sub(width)..];
        frame.render_widget(
            Sparkline::default()
                .block(Block::default().borders(Borders::ALL).title(tr!("tui.sending.per_second")))
                .data(data.iter().copied())
                .style(theme.accent()),
            a,
        );
    }
    frame.render_widget(
        Paragraph::new(token_lines(app, theme))
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(tr!("tui.sending.access_token"))),
        token_area,
    );
    frame.render_widget(
        Paragraph::new(errors_lines(app, theme))
            .block(Block::default().borders(Borders::ALL).title(tr!("tui.sending.errors_by_code"))),
        errors,
    );
    rows_table(frame, table, app, theme);
}

fn done(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let lines: Vec<Line> = app
        .run
        .report
        .iter()
        .flat_map(|r| r.lines())
        .map(|l| match l.kind {
            LineKind::Advice => Line::styled(l.text, theme.accent()),
            LineKind::Problem => Line::styled(l.text, theme.bad()),
            LineKind::Info => Line::raw(l.text),
        })
        .collect();
    let inner = area.width.saturating_sub(2).max(1) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (wrapped as u16 + 2).min(area.height / 2 + 2);
    let [head, summary, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(height), Constraint::Min(3)]).areas(area);
    frame.render_widget(Paragraph::new(header(app, theme)), head);
    let title = match &app.run.summary {
        Some(s) if s.reason.is_fatal() => Span::styled(tr!("tui.done.stopped"), theme.bad()),
        Some(_) => Span::styled(tr!("tui.done.done"), theme.ok()),
        None => Span::raw(tr!("tui.done.done")),
    };
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::default().borders(Borders::ALL).title(title)),
        summary,
    );
    rows_table(frame, table, app, theme);
}
