//! Per-row checks: openid shape, empty values, WeChat's content rules per kind, duplicates.

use std::fmt;
use std::hash::BuildHasher;

use serde::Serialize;

use super::config::Kind;
use super::recipients::{Recipients, Row};
use super::render::{MessageTemplate, Rendered};
use super::subscribe_rules::check_subscribe_value;

/// Whether a problem stops the row from being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
    WrongFieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// The openid cell is empty.
    EmptyOpenid,
    /// The openid contains spaces or tabs.
    OpenidWhitespace,
    /// The openid contains a character WeChat never uses (they are `A-Z a-z 0-9 _ -`).
    OpenidCharacter {
        /// The character.
        character: char,
    },
    /// The openid is implausibly short or long (WeChat's are 28 characters).
    OpenidLength {
        /// Its length.
        length: usize,
    },
    /// A template value, url or page renders to nothing.
    EmptyValue {
        /// The field.
        field: String,
    },
    /// A subscribe value contains a line break or control character (WeChat rejects it).
    ControlCharacter {
        /// The field.
        field: String,
    },
    /// A subscribe value breaks the rule of its key's type (WeChat rejects it with 47003).
    SubscribeRule {
        /// The field.
        field: String,
        /// The key type's rule.
        rule: String,
        /// What breaks it.
        detail: String,
    },
    /// A template-message value is longer than the 20 characters WeChat shows.
    TooLongForTemplate {
        /// The field.
        field: String,
        /// Its length in characters.
        length: usize,
    },
    /// A template-message value has a line break or control character, which WeChat strips.
    LineBreakInTemplate {
        /// The field.
        field: String,
    },
    /// A value outside the allowed list of its template field (subscribe enum fields).
    NotInList {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// The template's allowed values.
        allowed: Vec<String>,
    },
    /// A workbook cell that cannot be used: an openid that is a number, a formula error.
    Cell {
        /// The column.
        column: String,
        /// What is wrong and the fix.
        detail: String,
    },
    /// The openid already appears on an earlier row; this row is skipped.
    Duplicate {
        /// The earlier row (0-based).
        first_row: usize,
        /// Its line.
        first_line: u64,
    },
}

impl Problem {
    /// The check's name as the README and `check --json` write it (`wrong_field_count`, …).
    pub fn check_name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("check").and_then(|c| c.as_str()).map(str::to_string))
            .unwrap_or_default()
    }

    /// Whether the row is sent anyway.
    pub fn severity(&self) -> Severity {
        match self {
            Problem::TooLongForTemplate { .. } | Problem::LineBreakInTemplate { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// A short label for tables.
    pub fn label(&self) -> String {
        let key = match self {
            Problem::WrongFieldCount { .. } => "problem.label.field_count",
            Problem::EmptyOpenid => "problem.label.no_openid",
            Problem::OpenidWhitespace | Problem::OpenidCharacter { .. } | Problem::OpenidLength { .. } => {
                "problem.label.bad_openid"
            }
            Problem::EmptyValue { .. } => "problem.label.empty_value",
            Problem::ControlCharacter { .. } => "problem.label.control_char",
            Problem::SubscribeRule { .. } => "problem.label.value_rule",
            Problem::TooLongForTemplate { .. } => "problem.label.cut_at_20",
            Problem::LineBreakInTemplate { .. } => "problem.label.line_break",
            Problem::Cell { .. } => "problem.label.bad_cell",
            Problem::NotInList { .. } => "problem.label.not_in_list",
            Problem::Duplicate { .. } => "problem.label.duplicate",
        };
        crate::tr!(key)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::tr;
        let text = match self {
            Problem::WrongFieldCount { found, expected } => {
                tr!("problem.field_count", found = found, expected = expected)
            }
            Problem::EmptyOpenid => tr!("problem.empty_openid"),
            Problem::Cell { column, detail } => format!("{column}: {detail}"),
            Problem::NotInList { field, value, allowed } => tr!(
                "problem.not_in_list",
                field = field.clone(),
                value = format!("{value:?}"),
                allowed = allowed.join(" / ")
            ),
            Problem::OpenidWhitespace => tr!("problem.openid_whitespace"),
            Problem::OpenidCharacter { character } => {
                tr!("problem.openid_character", character = format!("{character:?}"))
            }
            Problem::OpenidLength { length } => {
                tr!("problem.openid_length", length = length, min = OPENID_MIN, max = OPENID_MAX)
            }
            Problem::EmptyValue { field } => tr!("problem.empty_value", field = field.clone()),
            Problem::ControlCharacter { field } => tr!("problem.control_character", field = field.clone()),
            Problem::SubscribeRule { field, rule, detail } => {
                tr!("problem.subscribe_rule", field = field.clone(), detail = detail.clone(), rule = rule.clone())
            }
            Problem::TooLongForTemplate { field, length } => {
                tr!("problem.too_long", field = field.clone(), length = length)
            }
            Problem::LineBreakInTemplate { field } => tr!("problem.line_break", field = field.clone()),
            Problem::Duplicate { first_row, first_line } => {
                tr!("problem.duplicate", row = first_row + 1, line = first_line)
            }
        };
        f.write_str(&text)
    }
}

/// The verdict for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    /// Sent.
    Ready,
    /// Not sent: a check failed.
    Invalid,
    /// Not sent: the openid came earlier.
    Duplicate,
}

/// Results of checking every row: a state per row and the problems of the rows that have any.
#[derive(Debug, Default)]
pub struct Checks {
    states: Vec<RowState>,
    /// (row index, problem), in row order.
    problems: Vec<(usize, Problem)>,
    /// Rows that will be sent.
    pub ready: usize,
    /// Rows that will not be sent because a check failed.
    pub invalid: usize,
    /// Rows skipped because their openid came earlier.
    pub duplicates: usize,
    /// Rows that will be sent but carry a warning.
    pub warned: usize,
}

impl Checks {
    /// The verdict on row `row`.
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

/// The shortest plausible openid.
pub const OPENID_MIN: usize = 16;
/// The longest plausible openid.
pub const OPENID_MAX: usize = 64;

/// Check every row of `recipients` against `template`. The rows' own checks and the hashing of
/// their openids run on every core (a million rows are checked in a fraction of a second).
pub fn check_all(recipients: &Recipients, template: &MessageTemplate, allow_duplicates: bool) -> Checks {
    let mut checks = Checks { states: Vec::with_capacity(recipients.len()), ..Default::default() };
    let parts = check_rows(recipients, template);
    let duplicates = if allow_duplicates { Vec::new() } else { duplicates(recipients, &parts) };
    let mut duplicates = duplicates.into_iter().peekable();
    let (verdicts, problems): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let mut problems = problems.into_iter().flatten().peekable();
    for (index, Verdict { error, warned }) in verdicts.into_iter().flatten().enumerate() {
        let mut state = if error { RowState::Invalid } else { RowState::Ready };
        while let Some(p) = problems.next_if(|(i, _)| *i == index) {
            checks.problems.push(p);
        }
        if let Some((_, first)) = duplicates.next_if(|(i, _)| *i == index) {
            let first_line = recipients.row(first).map_or(0, |r| r.line());
            checks.problems.push((index, Problem::Duplicate { first_row: first, first_line }));
            state = RowState::Duplicate;
        }
        match state {
            RowState::Ready => {
                checks.ready += 1;
                if warned {
                    checks.warned += 1;
                }
            }
            RowState::Invalid => checks.invalid += 1,
            RowState::Duplicate => checks.duplicates += 1,
        }
        checks.states.push(state);
    }
    checks
}

/// What a row's own checks found: an error (the row is not sent), or only warnings.
#[derive(Debug, Clone, Copy, Default)]
struct Verdict {
    error: bool,
    warned: bool,
}

/// What [`check_row`] found in one run of rows: each row's verdict, and the problems in row order.
type Part = (Vec<Verdict>, Vec<(usize, Problem)>);

/// [`check_row`] on every row, one run of rows a core, the runs in row order.
fn check_rows(recipients: &Recipients, template: &MessageTemplate) -> Vec<Part> {
    on_every_core(recipients.len(), |range| {
        let mut rendered = Rendered::default();
        let (mut found, mut verdicts, mut problems) = (Vec::new(), Vec::with_capacity(range.len()), Vec::new());
        for row in range.filter_map(|i| recipients.row(i)) {
            found.clear();
            check_row(recipients, &row, template, &mut rendered, &mut found);
            let error = found.iter().any(|p: &Problem| p.severity() == Severity::Error);
            verdicts.push(Verdict { error, warned: !found.is_empty() });
            problems.extend(found.drain(..).map(|p| (row.index(), p)));
        }
        (verdicts, problems)
    })
}

/// Every row without an error whose openid an earlier such row has, with that first row, in
/// row order. Each such row becomes one `u64`, the top half of its openid's hash above its row
/// number (8 bytes a row, hashed on every core); sorted, rows of equal half-hash sit together in
/// row order and are told apart by their openids. Sorting is cache-friendly where a hash table
/// of a million openids is not.
fn duplicates(recipients: &Recipients, parts: &[Part]) -> Vec<(usize, usize)> {
    let hasher = hashbrown::DefaultHashBuilder::default();
    let openid = |i: usize| recipients.row(i).map_or("", |r| r.openid());
    let (mut keys, mut start) = (vec![u64::MAX; recipients.len()], 0);
    std::thread::scope(|scope| {
        let mut rest = keys.as_mut_slice();
        for (verdicts, _) in parts {
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(verdicts.len());
            rest = tail;
            let first = start;
            start += verdicts.len();
            let (hasher, openid) = (&hasher, &openid);
            scope.spawn(move || {
                for (k, (key, v)) in mine.iter_mut().zip(verdicts).enumerate() {
                    if !v.error {
                        let row = first + k;
                        *key = (hasher.hash_one(openid(row)) & !0xFFFF_FFFF) | row as u64;
                    }
                }
            });
        }
    });
    keys.retain(|&k| k != u64::MAX);
    keys.sort_unstable();
    let mut out = Vec::new();
    for group in keys.chunk_by(|a, b| a >> 32 == b >> 32).filter(|g| g.len() > 1) {
        // Rows come in order within a group: each openid's first row keeps it.
        let mut firsts: Vec<(&str, usize)> = Vec::new();
        for &key in group {
            let i = (key & 0xFFFF_FFFF) as usize;
            let id = openid(i);
            match firsts.iter().find(|(o, _)| *o == id) {
                Some(&(_, first)) => out.push((i, first)),
                None => firsts.push((id, i)),
            }
        }
    }
    out.sort_unstable();
    out
}

/// `work` on `0..len` cut into one run per core (at most 8), the results in order; on one
/// thread below 50,000 items, where a thread costs more than it saves.
fn on_every_core<T: Send>(len: usize, work: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if cores == 1 || len < 50_000 {
        return vec![work(0..len)];
    }
    let size = len.div_ceil(cores);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (0..cores)
            .map(|k| (k * size).min(len)..((k + 1) * size).min(len))
            .map(|range| scope.spawn(move || work(range)))
            .collect();
        // A panic in a check is a bug; it surfaces as it would on one thread.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
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
    for cell in recipients.cell_problems_of(row.index()) {
        out.push(Problem::Cell { column: cell.column.clone(), detail: cell.detail.clone() });
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
            Kind::Subscribe | Kind::MpSubscribe => {
                if value.chars().any(char::is_control) {
                    out.push(Problem::ControlCharacter { field: key.clone() });
                } else if let Some(allowed) = template.allowed.get(key).filter(|a| !a.iter().any(|v| v == value)) {
                    out.push(Problem::NotInList { field: key.clone(), value: value.clone(), allowed: allowed.clone() });
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
    let (url_key, page_key) = template.kind.link_keys();
    if template.url_uses_columns() && rendered.url.as_deref().is_some_and(|u| u.trim().is_empty()) {
        out.push(Problem::EmptyValue { field: url_key.trim_matches('`').into() });
    }
    if template.page_uses_columns() && rendered.page.as_deref().is_some_and(|p| p.trim().is_empty()) {
        out.push(Problem::EmptyValue { field: page_key.trim_matches('`').into() });
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn severities() {
        assert_eq!(Problem::TooLongForTemplate { field: "k".into(), length: 21 }.severity(), Severity::Warning);
        assert_eq!(Problem::EmptyOpenid.severity(), Severity::Error);
    }

    /// Every row's verdict and problem on a list long enough to be checked on every core equals
    /// a plain row-by-row reading: the first of each openid among rows without an error keeps it,
    /// wherever the cores' runs of rows begin and end.
    #[test]
    fn a_long_list_checked_on_every_core_gives_the_row_by_row_verdicts() {
        let rows = 130_001;
        let mut text = String::from("openid,product\n");
        for i in 0..rows {
            let who = match i % 13 {
                // Repeats of a recipient far back (another core's run of rows).
                5 => i / 3,
                // A broken openid: invalid, so a later row of the same openid keeps it.
                7 => usize::MAX,
                _ => i,
            };
            let openid = if who == usize::MAX { format!("bad id {i}") } else { format!("oCORE{who:023}") };
            let product = if i % 17 == 0 { "" } else { "杯" };
            text.push_str(&format!("{openid},{product}\n"));
        }
        let dir = std::path::Path::new("dir");
        let config = crate::campaign::CampaignConfig::parse(
            &dir.join("c.toml"),
            "name = \"t\"\n[wechat]\nappid = \"wx0123456789abcdef\"\n[message]\nkind = \"template\"\ntemplate_id = \"T\"\n[message.data]\nthing1 = \"{{product}}\"\n[recipients]\ncsv = \"r.csv\"\n",
        )
        .unwrap();
        let recipients =
            Recipients::from_bytes(&dir.join("r.csv"), text.into_bytes(), Default::default(), "openid").unwrap();
        let template = MessageTemplate::compile(&config, &recipients).unwrap();
        let checks = check_all(&recipients, &template, false);

        let (mut first, mut expect) = (std::collections::HashMap::new(), Vec::new());
        let mut rendered = Rendered::default();
        for row in recipients.rows() {
            let mut found = Vec::new();
            check_row(&recipients, &row, &template, &mut rendered, &mut found);
            let mut state =
                if found.iter().any(|p| p.severity() == Severity::Error) { RowState::Invalid } else { RowState::Ready };
            if state == RowState::Ready {
                if let Some(&f) = first.get(row.openid()) {
                    found.push(Problem::Duplicate { first_row: f, first_line: f as u64 + 2 });
                    state = RowState::Duplicate;
                } else {
                    first.insert(row.openid().to_string(), row.index());
                }
            }
            expect.push((state, found));
        }
        let mut problems = checks.problems().iter().peekable();
        for (i, (state, found)) in expect.iter().enumerate() {
            assert_eq!(checks.state(i), Some(*state), "row {i}");
            let got: Vec<_> =
                std::iter::from_fn(|| problems.next_if(|(r, _)| *r == i)).map(|(_, p)| p.clone()).collect();
            assert_eq!(&got, found, "row {i}");
        }
        assert!(problems.next().is_none());
        assert_eq!(checks.duplicates, expect.iter().filter(|(s, _)| *s == RowState::Duplicate).count());
        assert!(checks.duplicates > 9_000 && checks.invalid > 9_000, "{} {}", checks.duplicates, checks.invalid);
    }
}
