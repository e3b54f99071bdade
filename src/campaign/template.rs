//! `{{column}}` placeholders, compiled once against the CSV header and rendered per row.
//!
//! Syntax: `{{column}}` (spaces inside the braces are allowed) inserts the row's value of
//! `column`; `\{{` writes a literal `{{`. Any other text is copied as it is.

use super::config::SourceText;
use super::error::{closest, LoadError};
use super::recipients::{Recipients, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Column(usize),
}

/// A template string compiled to literal text and column references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTemplate {
    parts: Vec<Part>,
}

impl FieldTemplate {
    /// Compile `source` against the header of `recipients`; `what` names the key in messages.
    pub fn compile(source: &SourceText, what: &str, recipients: &Recipients) -> Result<Self, LoadError> {
        let err = |message: String| LoadError::Config { at: source.at.clone(), message: format!("{what}: {message}") };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source.text.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("\\{{") {
                literal.push_str("{{");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("{{") {
                let close = after.find("}}").ok_or_else(|| {
                    err(format!(
                        "`{{{{` at character {} is never closed with `}}}}` (write `\\{{{{` for a literal `{{{{`)",
                        source.text[..source.text.len() - rest.len()].chars().count() + 1
                    ))
                })?;
                let name = after[..close].trim();
                if name.is_empty() {
                    return Err(err("empty placeholder `{{}}`: write `{{column}}` with a column of the CSV".into()));
                }
                let column = recipients.column(name).ok_or_else(|| {
                    let usable: Vec<&str> = recipients
                        .headers
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !recipients.is_own_column(*i))
                        .map(|(_, h)| h.as_str())
                        .collect();
                    let hint = closest(name, usable.iter().copied())
                        .map(|c| format!("; did you mean `{{{{{c}}}}}`?"))
                        .unwrap_or_default();
                    err(format!(
                        "placeholder `{{{{{name}}}}}` names no column of {}{hint} (columns: {})",
                        recipients.path.display(),
                        usable.join(", ")
                    ))
                })?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Column(column));
                rest = &after[close + 2..];
            } else {
                let mut chars = rest.chars();
                if let Some(c) = chars.next() {
                    literal.push(c);
                }
                rest = chars.as_str();
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// Append the rendered text for `row` to `out`.
    pub fn render_into(&self, row: &Row<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Column(c) => out.push_str(row.field(*c)),
            }
        }
    }

    /// Whether the template uses any column (else it renders the same for every row).
    pub fn uses_columns(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Column(_)))
    }

    /// The columns this template reads, in order.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Column(c) => Some(*c),
            Part::Literal(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::config::EncodingChoice;
    use crate::campaign::error::Location;
    use std::path::Path;

    fn recipients() -> Recipients {
        Recipients::from_bytes(
            Path::new("r.csv"),
            "openid,product,amount,wxsend_errcode\noA,围巾,129.00,43101\n".as_bytes().to_vec(),
            EncodingChoice::Auto,
            "openid",
        )
        .unwrap()
    }

    fn compile(text: &str) -> Result<FieldTemplate, LoadError> {
        let src = SourceText {
            text: text.into(),
            at: Location { path: "c.toml".into(), line: Some(9), column: Some(10), sheet: None },
        };
        FieldTemplate::compile(&src, "[message.data] thing1", &recipients())
    }

    fn render(text: &str) -> String {
        let r = recipients();
        let t =
            FieldTemplate::compile(&SourceText { text: text.into(), at: Location::file("c.toml") }, "x", &r).unwrap();
        let mut out = String::new();
        t.render_into(&r.row(0).unwrap(), &mut out);
        out
    }

    #[test]
    fn placeholders_render_row_values() {
        assert_eq!(render("{{product}} ¥{{ amount }}元"), "围巾 ¥129.00元");
        assert_eq!(render("no placeholders"), "no placeholders");
        assert_eq!(render("{{amount}}{{amount}}"), "129.00129.00");
    }

    #[test]
    fn escape_writes_literal_braces() {
        assert_eq!(render("\\{{product}} {{product}}"), "{{product}} 围巾");
        assert_eq!(render("a }} b"), "a }} b");
    }

    #[test]
    fn unknown_column_names_place_and_closest_header() {
        let e = compile("{{prodcut}}").unwrap_err().to_string();
        assert_eq!(
            e,
            "c.toml:9:10: [message.data] thing1: placeholder `{{prodcut}}` names no column of r.csv; did you mean `{{product}}`? (columns: openid, product, amount)"
        );
    }

    #[test]
    fn own_columns_cannot_be_used() {
        assert!(compile("{{wxsend_errcode}}").is_err());
    }

    #[test]
    fn unclosed_and_empty_placeholders_are_errors() {
        let e = compile("abc {{product").unwrap_err().to_string();
        assert!(e.contains("`{{` at character 5 is never closed"), "{e}");
        assert!(compile("{{ }}").unwrap_err().to_string().contains("empty placeholder"));
    }
}
