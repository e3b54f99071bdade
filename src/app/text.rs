//! Words and numbers as the operator reads them, shared by both front ends: counts with
//! thousands separators, durations, the progress line, masked openids, a pretty request body.

use std::time::Duration;

use crate::engine::Counters;

/// `1,234,567`.
pub fn thousands(n: usize) -> String {
    crate::campaign::error::thousands(n as u64)
}

/// A moment (Unix seconds) as the local date: `2026-12-04`.
pub fn local_date(unix: u64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_opt(i64::try_from(unix).unwrap_or(i64::MAX), 0)
        .single()
        .map_or_else(|| unix.to_string(), |t| t.format("%Y-%m-%d").to_string())
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

/// `text` followed by spaces up to `width` terminal columns (CJK and most emoji take two), so
/// labels in either language line up; text already as wide is returned with one space.
pub fn pad(text: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(w).max(1)))
}

/// The progress of a run in one line: done of total, ok, failed, in flight, retrying, the rate
/// against the limit, and the time left.
pub fn progress(c: &Counters) -> String {
    let later =
        if c.retry_later > 0 { crate::tr!("progress.later", count = thousands(c.retry_later)) } else { String::new() };
    crate::tr!(
        "progress.line",
        done = thousands(c.done()),
        total = thousands(c.total),
        ok = thousands(c.delivered),
        failed = thousands(c.failed),
        in_flight = c.in_flight,
        retrying = c.retrying,
        later = later,
        rate = format!("{:.1}", c.rate()),
        limit = c.rate_limit,
        eta = c.eta().map_or_else(|| "-".into(), duration)
    )
}

/// `oWxp…cF`: enough to tell rows apart, not the whole identifier.
pub fn mask_openid(openid: &str) -> String {
    let n = openid.chars().count();
    if n <= 8 {
        return openid.to_string();
    }
    let head: String = openid.chars().take(4).collect();
    let tail: String = openid.chars().skip(n - 2).collect();
    format!("{head}…{tail}")
}

/// `text` made safe for a terminal: control characters (NUL, ESC sequences, carriage returns,
/// line breaks) from a CSV or an answer are shown escaped (`\u{1b}`), never interpreted.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A request body as indented JSON lines (the access token is never part of a body).
pub fn pretty_body(body: &serde_json::Value) -> Vec<String> {
    serde_json::to_string_pretty(body).unwrap_or_default().lines().map(str::to_string).collect()
}

/// `s` as one word of a POSIX shell command: as it is when it needs no quotes, else in single
/// quotes.
pub fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `header` and `rows` as lines of columns lined up by display width (CJK and most emoji
/// take two columns), two spaces between them.
pub fn columns<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> Vec<String> {
    let width = |c: usize| {
        std::iter::once(header)
            .chain(rows)
            .map(|r| unicode_width::UnicodeWidthStr::width(r[c].as_str()))
            .max()
            .unwrap_or(0)
            + 2
    };
    let widths: Vec<usize> = (0..N).map(width).collect();
    std::iter::once(header)
        .chain(rows)
        .map(|r| {
            let mut line: String =
                r.iter().zip(&widths).take(N.saturating_sub(1)).map(|(cell, w)| pad(cell, *w)).collect();
            line.push_str(r.last().map_or("", String::as_str));
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration(Duration::from_secs(12)), "12s");
        assert_eq!(duration(Duration::from_secs(263)), "4m23s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(mask_openid("oWxp0123456789cF"), "oWxp…cF");
        assert_eq!(mask_openid("short"), "short");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("plain 文字"), "plain 文字");
        assert_eq!(printable("a\u{1b}[2Jb\0c\r\n"), "a\\u{1b}[2Jb\\u{0}c\\r\\n");
    }

    #[test]
    fn progress_names_every_count() {
        let c =
            Counters { total: 2000, delivered: 1500, failed: 3, in_flight: 8, rate_limit: 20, ..Default::default() };
        assert_eq!(progress(&c), "1,503/2,000  ok 1,500  failed 3  in flight 8  retrying 0  rate 0.0/s of 20/s  ETA -");
    }
}
