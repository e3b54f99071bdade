//! Per-row checks: openid shape, empty values, WeChat's content rules per kind, duplicates.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::config::Kind;
use super::recipients::{Recipients, Row};
use super::render::{MessageTemplate, Rendered};

/// Whether a problem stops the row from being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is sent; WeChat will alter the message (cut or strip).
    Warning,
    /// The row is not sent.
    Error,
}

/// Everything wxsend checks in a row. Each is documented in the README under "Row checks".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Problem {
    /// The row has a different number of fields than the header.
    WrongFieldCount { found: usize, expected: usize },
    /// The openid cell is empty.
    EmptyOpenid,
    /// The openid contains spaces or tabs.
    OpenidWhitespace,
    /// The openid contains a character WeChat never uses (they are `A-Z a-z 0-9 _ -`).
    OpenidCharacter { character: char },
    /// The openid is implausibly short or long (WeChat's are 28 characters).
    OpenidLength { length: usize },
    /// A template value, url or page renders to nothing.
    EmptyValue { field: String },
    /// A subscribe value contains a line break or control character (WeChat rejects it).
    ControlCharacter { field: String },
    /// A subscribe value breaks the rule of its key's type (WeChat rejects it with 47003).
    SubscribeRule { field: String, rule: String, detail: String },
    /// A template-message value is longer than the 20 characters WeChat shows.
    TooLongForTemplate { field: String, length: usize },
    /// A template-message value has a line break or control character, which WeChat strips.
    LineBreakInTemplate { field: String },
    /// The openid already appears on an earlier row; this row is skipped.
    Duplicate { first_row: usize, first_line: u64 },
}

impl Problem {
    pub fn severity(&self) -> Severity {
        match self {
            Problem::TooLongForTemplate { .. } | Problem::LineBreakInTemplate { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// A short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Problem::WrongFieldCount { .. } => "field count",
            Problem::EmptyOpenid => "no openid",
            Problem::OpenidWhitespace | Problem::OpenidCharacter { .. } | Problem::OpenidLength { .. } => "bad openid",
            Problem::EmptyValue { .. } => "empty value",
            Problem::ControlCharacter { .. } => "control char",
            Problem::SubscribeRule { .. } => "value rule",
            Problem::TooLongForTemplate { .. } => "cut at 20",
            Problem::LineBreakInTemplate { .. } => "line break",
            Problem::Duplicate { .. } => "duplicate",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::WrongFieldCount { found, expected } => {
                write!(f, "row has {found} fields, the header has {expected}")
            }
            Problem::EmptyOpenid => write!(f, "openid is empty"),
            Problem::OpenidWhitespace => write!(f, "openid contains whitespace"),
            Problem::OpenidCharacter { character } => {
                write!(f, "openid contains {character:?}, which WeChat openids never do (A-Z a-z 0-9 _ -)")
            }
            Problem::OpenidLength { length } => write!(
                f,
                "openid is {length} characters long; WeChat's are 28 (wxsend accepts {OPENID_MIN} to {OPENID_MAX})"
            ),
            Problem::EmptyValue { field } => write!(f, "{field}: renders empty; WeChat rejects empty values"),
            Problem::ControlCharacter { field } => {
                write!(f, "{field}: contains a line break or control character; WeChat rejects it")
            }
            Problem::SubscribeRule { field, rule, detail } => {
                write!(f, "{field}: {detail} (the `{rule}` rule; WeChat would answer 47003)")
            }
            Problem::TooLongForTemplate { field, length } => {
                write!(f, "{field}: {length} characters; WeChat shows the first 20 and cuts the rest")
            }
            Problem::LineBreakInTemplate { field } => {
                write!(f, "{field}: contains a line break; WeChat shows it on one line")
            }
            Problem::Duplicate { first_row, first_line } => write!(
                f,
                "openid already on row {} (line {first_line}); skipped (set allow_duplicates = true to keep)",
                first_row + 1
            ),
        }
    }
}

/// The verdict for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Ready,
    Invalid,
    Duplicate,
}

/// Results of checking every row: a state per row and the problems of the rows that have any.
#[derive(Debug, Default)]
pub struct Checks {
    states: Vec<RowState>,
    /// (row index, problem), in row order.
    problems: Vec<(usize, Problem)>,
    pub ready: usize,
    pub invalid: usize,
    pub duplicates: usize,
    /// Rows that will be sent but carry a warning.
    pub warned: usize,
}

impl Checks {
    pub fn state(&self, row: usize) -> Option<RowState> {
        self.states.get(row).copied()
    }

    /// All problems, in row order.
    pub fn problems(&self) -> &[(usize, Problem)] {
        &self.problems
    }

    /// The problems of one row.
    pub fn problems_of(&self, row: usize) -> &[(usize, Problem)] {
        let start = self.problems.partition_point(|(r, _)| *r < row);
        let end = self.problems.partition_point(|(r, _)| *r <= row);
        &self.problems[start..end]
    }

    /// Indexes of rows that will be sent, in order.
    pub fn ready_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.states.iter().enumerate().filter(|(_, s)| **s == RowState::Ready).map(|(i, _)| i)
    }
}

pub const OPENID_MIN: usize = 16;
pub const OPENID_MAX: usize = 64;

/// Check every row of `recipients` against `template`.
pub fn check_all(recipients: &Recipients, template: &MessageTemplate, allow_duplicates: bool) -> Checks {
    let mut checks = Checks { states: Vec::with_capacity(recipients.len()), ..Default::default() };
    let mut seen: HashMap<&str, usize> =
        if allow_duplicates { HashMap::new() } else { HashMap::with_capacity(recipients.len()) };
    let mut rendered = Rendered::default();
    let mut found = Vec::new();
    for row in recipients.rows() {
        found.clear();
        check_row(recipients, &row, template, &mut rendered, &mut found);
        let mut state = if found.iter().any(|p: &Problem| p.severity() == Severity::Error) {
            RowState::Invalid
        } else {
            RowState::Ready
        };
        if state == RowState::Ready && !allow_duplicates {
            let openid = row.openid();
            match seen.get(openid) {
                Some(&first) => {
                    let first_line = recipients.row(first).map_or(0, |r| r.line());
                    found.push(Problem::Duplicate { first_row: first, first_line });
                    state = RowState::Duplicate;
                }
                None => {
                    seen.insert(openid, row.index());
                }
            }
        }
        match state {
            RowState::Ready => {
                checks.ready += 1;
                if !found.is_empty() {
                    checks.warned += 1;
                }
            }
            RowState::Invalid => checks.invalid += 1,
            RowState::Duplicate => checks.duplicates += 1,
        }
        checks.states.push(state);
        checks.problems.extend(found.drain(..).map(|p| (row.index(), p)));
    }
    checks
}

/// Check one row, rendering it into `rendered`, and push what is wrong into `out`.
pub fn check_row(
    recipients: &Recipients,
    row: &Row<'_>,
    template: &MessageTemplate,
    rendered: &mut Rendered,
    out: &mut Vec<Problem>,
) {
    let expected = recipients.headers.len();
    if row.field_count() != expected {
        out.push(Problem::WrongFieldCount { found: row.field_count(), expected });
        return;
    }
    if let Some(p) = check_openid(row.openid()) {
        out.push(p);
    }
    template.render_values(row, rendered);
    for (key, value) in template.keys.iter().zip(&rendered.values) {
        if value.trim().is_empty() {
            out.push(Problem::EmptyValue { field: key.clone() });
            continue;
        }
        match template.kind {
            Kind::Subscribe => {
                if value.chars().any(char::is_control) {
                    out.push(Problem::ControlCharacter { field: key.clone() });
                } else if let Some((rule, detail)) = check_subscribe_value(key, value) {
                    out.push(Problem::SubscribeRule { field: key.clone(), rule: rule.to_string(), detail });
                }
            }
            Kind::Template | Kind::Uniform => {
                if value.chars().any(char::is_control) {
                    out.push(Problem::LineBreakInTemplate { field: key.clone() });
                }
                let length = value.chars().count();
                if length > TEMPLATE_SHOWN_CHARS {
                    out.push(Problem::TooLongForTemplate { field: key.clone(), length });
                }
            }
        }
    }
    if template.url_uses_columns() && rendered.url.as_deref().is_some_and(|u| u.trim().is_empty()) {
        out.push(Problem::EmptyValue { field: "url".into() });
    }
    if template.page_uses_columns() && rendered.page.as_deref().is_some_and(|p| p.trim().is_empty()) {
        out.push(Problem::EmptyValue { field: "page".into() });
    }
}

/// Template messages show at most this many characters of each value.
pub const TEMPLATE_SHOWN_CHARS: usize = 20;

/// The shape of a plausible openid.
pub fn check_openid(openid: &str) -> Option<Problem> {
    if openid.is_empty() {
        return Some(Problem::EmptyOpenid);
    }
    if openid.chars().any(char::is_whitespace) {
        return Some(Problem::OpenidWhitespace);
    }
    if let Some(character) = openid.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Some(Problem::OpenidCharacter { character });
    }
    let length = openid.len();
    if !(OPENID_MIN..=OPENID_MAX).contains(&length) {
        return Some(Problem::OpenidLength { length });
    }
    None
}

/// The type prefix of a subscribe key: `thing1` → `thing`, `character_string12` → `character_string`.
pub fn key_prefix(key: &str) -> &str {
    key.trim_end_matches(|c: char| c.is_ascii_digit())
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ebef}')
}

fn is_symbol(c: char) -> bool {
    c.is_ascii_punctuation()
}

fn too_long(limit: usize, length: usize) -> Option<String> {
    (length > limit).then(|| format!("{length} characters, at most {limit} allowed"))
}

/// WeChat's rule for a subscribe value, by key prefix: `Some((rule, what is wrong))` when broken.
pub fn check_subscribe_value(key: &str, value: &str) -> Option<(&'static str, String)> {
    let n = value.chars().count();
    let bad = |rule: &'static str, detail: String| Some((rule, detail));
    match key_prefix(key) {
        "thing" => too_long(20, n).map(|d| ("thing", d)),
        "number" => {
            if let Some(d) = too_long(32, n) {
                return bad("number", d);
            }
            (!is_decimal(value)).then(|| ("number", "must be digits, optionally with decimals".to_string()))
        }
        "letter" => {
            if let Some(d) = too_long(32, n) {
                return bad("letter", d);
            }
            (!value.chars().all(|c| c.is_ascii_alphabetic())).then(|| ("letter", "must be letters only".to_string()))
        }
        "symbol" => {
            if let Some(d) = too_long(5, n) {
                return bad("symbol", d);
            }
            (!value.chars().all(is_symbol)).then(|| ("symbol", "must be symbols only".to_string()))
        }
        "character_string" => {
            if let Some(d) = too_long(32, n) {
                return bad("character_string", d);
            }
            (!value.chars().all(|c| c.is_ascii_graphic()))
                .then(|| ("character_string", "must be digits, letters or symbols (no Chinese, no spaces)".to_string()))
        }
        "phone_number" => {
            if let Some(d) = too_long(17, n) {
                return bad("phone_number", d);
            }
            (!value.chars().all(|c| c.is_ascii_digit() || is_symbol(c)))
                .then(|| ("phone_number", "must be digits and symbols only".to_string()))
        }
        "car_number" => {
            if let Some(d) = too_long(8, n) {
                return bad("car_number", d);
            }
            let chars: Vec<char> = value.chars().collect();
            let ok = chars
                .iter()
                .enumerate()
                .all(|(i, &c)| c.is_ascii_alphanumeric() || ((i == 0 || i + 1 == chars.len()) && is_chinese(c)));
            (!ok).then(|| {
                ("car_number", "must be letters and digits; only the first and last may be Chinese".to_string())
            })
        }
        "name" => {
            if value.chars().all(|c| c.is_ascii_alphabetic() || is_symbol(c) || c == ' ') {
                too_long(20, n).map(|d| ("name", d))
            } else if value
                .chars()
                .all(|c| is_chinese(c) || c.is_ascii_alphabetic() || is_symbol(c) || c == '·' || c == ' ')
            {
                too_long(10, n).map(|d| ("name", format!("{d} (a name with Chinese counts as Chinese)")))
            } else {
                bad("name", "must be Chinese characters, or letters and symbols".into())
            }
        }
        "phrase" => {
            if let Some(d) = too_long(5, n) {
                return bad("phrase", d);
            }
            (!value.chars().all(is_chinese)).then(|| ("phrase", "must be Chinese characters only".to_string()))
        }
        "time" | "date" => (!is_datetime(value)).then(|| {
            (
                "time/date",
                "must be a 24-hour time and/or a date such as 2026-11-23, 2026/11/23, 2026年11月23日 or 15:01"
                    .to_string(),
            )
        }),
        "amount" => (!is_amount(value)).then(|| {
            ("amount", "must be an amount: one currency sign, at most 10 digits, optional decimals and 元".to_string())
        }),
        _ => None,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal(s: &str) -> bool {
    match s.split_once('.') {
        None => all_digits(s),
        Some((int, frac)) => all_digits(int) && all_digits(frac),
    }
}

fn is_amount(s: &str) -> bool {
    let s = s.strip_suffix('元').unwrap_or(s);
    let s = s.strip_prefix(['¥', '￥', '$', '€', '£', '₩', '₹']).unwrap_or(s);
    let int = s.split_once('.').map_or(s, |(i, _)| i);
    is_decimal(s) && int.len() <= 10
}

fn in_range(s: &str, max_len: usize, lo: u32, hi: u32) -> bool {
    s.len() <= max_len && all_digits(s) && s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
}

fn is_date(s: &str) -> bool {
    if let Some((y, rest)) = s.split_once('年') {
        let Some((m, rest)) = rest.split_once('月') else { return false };
        let d = rest.strip_suffix('日').or_else(|| rest.strip_suffix('号'));
        return y.len() == 4 && all_digits(y) && in_range(m, 2, 1, 12) && d.is_some_and(|d| in_range(d, 2, 1, 31));
    }
    if let Some((m, rest)) = s.split_once('月') {
        let d = rest.strip_suffix('日').or_else(|| rest.strip_suffix('号'));
        return in_range(m, 2, 1, 12) && d.is_some_and(|d| in_range(d, 2, 1, 31));
    }
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    match parts.as_slice() {
        [y, m, d] => y.len() == 4 && all_digits(y) && in_range(m, 2, 1, 12) && in_range(d, 2, 1, 31),
        _ => false,
    }
}

fn is_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [h, m] => in_range(h, 2, 0, 23) && m.len() == 2 && in_range(m, 2, 0, 59),
        [h, m, sec] => {
            in_range(h, 2, 0, 23) && m.len() == 2 && in_range(m, 2, 0, 59) && sec.len() == 2 && in_range(sec, 2, 0, 59)
        }
        _ => false,
    }
}

fn is_single_datetime(s: &str) -> bool {
    let s = s.trim();
    let mut tokens = s.split_whitespace();
    match (tokens.next(), tokens.next(), tokens.next()) {
        (Some(a), None, None) => {
            if is_date(a) || is_time(a) {
                return true;
            }
            // `2019年10月1日15:01`: a date and a time without a space.
            a.split_once('日').is_some_and(|(d, t)| is_date(&format!("{d}日")) && is_time(t))
        }
        (Some(a), Some(b), None) => is_date(a) && is_time(b),
        _ => false,
    }
}

/// A 24-hour time and/or a date, or a range of two with a half-width `~`.
pub fn is_datetime(s: &str) -> bool {
    let parts: Vec<&str> = s.split('~').collect();
    !parts.is_empty() && parts.len() <= 2 && parts.iter().all(|p| is_single_datetime(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, value: &str) -> Option<&'static str> {
        check_subscribe_value(key, value).map(|(r, _)| r)
    }

    #[test]
    fn openid_rules() {
        assert_eq!(check_openid(""), Some(Problem::EmptyOpenid));
        assert_eq!(check_openid("oAbc 1234567890123456789012"), Some(Problem::OpenidWhitespace));
        assert_eq!(check_openid("oAbc;1234567890123456789012"), Some(Problem::OpenidCharacter { character: ';' }));
        assert_eq!(check_openid("oAbc"), Some(Problem::OpenidLength { length: 4 }));
        assert_eq!(check_openid(&"o".repeat(OPENID_MIN - 1)), Some(Problem::OpenidLength { length: OPENID_MIN - 1 }));
        assert_eq!(check_openid(&"o".repeat(OPENID_MIN)), None);
        assert_eq!(check_openid(&"o".repeat(OPENID_MAX)), None);
        assert_eq!(check_openid(&"o".repeat(OPENID_MAX + 1)), Some(Problem::OpenidLength { length: OPENID_MAX + 1 }));
        assert_eq!(check_openid("oUpVk5Jq-9ZxY_abcdefghij1234"), None);
    }

    #[test]
    fn thing_counts_characters_not_bytes() {
        assert_eq!(rule("thing1", &"围".repeat(20)), None);
        assert_eq!(rule("thing1", &"围".repeat(21)), Some("thing"));
        assert_eq!(rule("thing12", &"a".repeat(20)), None);
    }

    #[test]
    fn number_letter_symbol() {
        assert_eq!(rule("number1", "12.50"), None);
        assert_eq!(rule("number1", &"1".repeat(32)), None);
        assert_eq!(rule("number1", &"1".repeat(33)), Some("number"));
        assert_eq!(rule("number1", "12a"), Some("number"));
        assert_eq!(rule("number1", "1."), Some("number"));
        assert_eq!(rule("letter2", "abcXYZ"), None);
        assert_eq!(rule("letter2", "abc1"), Some("letter"));
        assert_eq!(rule("letter2", &"a".repeat(33)), Some("letter"));
        assert_eq!(rule("symbol3", "!@#$%"), None);
        assert_eq!(rule("symbol3", "!@#$%^"), Some("symbol"));
        assert_eq!(rule("symbol3", "a"), Some("symbol"));
    }

    #[test]
    fn character_string_phone_car() {
        assert_eq!(rule("character_string1", "SF1234-56"), None);
        assert_eq!(rule("character_string1", &"a".repeat(32)), None);
        assert_eq!(rule("character_string1", &"a".repeat(33)), Some("character_string"));
        assert_eq!(rule("character_string1", "单号123"), Some("character_string"));
        assert_eq!(rule("phone_number1", "+86-0766-66888866"), None);
        assert_eq!(rule("phone_number1", "+86-0766-668888661"), Some("phone_number"));
        assert_eq!(rule("phone_number1", "call 110"), Some("phone_number"));
        assert_eq!(rule("car_number1", "粤A8Z888挂"), None);
        assert_eq!(rule("car_number1", "粤A8Z8889挂"), Some("car_number"));
        assert_eq!(rule("car_number1", "A粤8Z88"), Some("car_number"));
    }

    #[test]
    fn name_and_phrase() {
        assert_eq!(rule("name1", "张三丰"), None);
        assert_eq!(rule("name1", &"张".repeat(10)), None);
        assert_eq!(rule("name1", &"张".repeat(11)), Some("name"));
        assert_eq!(rule("name1", &"a".repeat(20)), None);
        assert_eq!(rule("name1", &"a".repeat(21)), Some("name"));
        assert_eq!(rule("name1", "Li张三abcdefgh"), Some("name"));
        assert_eq!(rule("phrase1", "已发货"), None);
        assert_eq!(rule("phrase1", "已经发货了"), None);
        assert_eq!(rule("phrase1", "已经发货了吗"), Some("phrase"));
        assert_eq!(rule("phrase1", "ok"), Some("phrase"));
    }

    #[test]
    fn time_and_date_formats() {
        for ok in [
            "2026-11-23",
            "2026/11/23",
            "2026年11月23日",
            "15:01",
            "15:01:59",
            "2026-11-23 15:01",
            "2019年10月1日 15:01",
            "2019年10月1日15:01",
            "10月1日",
            "2026-11-23~2026-11-30",
            "9:00~18:00",
        ] {
            assert_eq!(rule("time1", ok), None, "{ok}");
            assert_eq!(rule("date2", ok), None, "{ok}");
        }
        for bad in [
            "tomorrow",
            "2026-13-01",
            "24:00",
            "15:1",
            "2026-11-23～2026-11-30",
            "下午3点",
            "2026-11-23 25:00",
            "1~2~3",
        ] {
            assert_eq!(rule("time1", bad), Some("time/date"), "{bad}");
        }
    }

    #[test]
    fn amount_formats() {
        for ok in ["89.00", "¥89.00", "￥1289", "39.8元", "$1234567890", "¥1234567890.99元"] {
            assert_eq!(rule("amount2", ok), None, "{ok}");
        }
        for bad in ["12345678901", "¥¥8", "八十元", "-5", "8.5.1"] {
            assert_eq!(rule("amount2", bad), Some("amount"), "{bad}");
        }
    }

    #[test]
    fn unknown_prefixes_have_no_extra_rule() {
        assert_eq!(rule("keyword1", &"x".repeat(100)), None);
    }

    #[test]
    fn severities() {
        assert_eq!(Problem::TooLongForTemplate { field: "k".into(), length: 21 }.severity(), Severity::Warning);
        assert_eq!(Problem::EmptyOpenid.severity(), Severity::Error);
    }
}
