//! The mock account's templates: both list endpoints, and WeChat's judgement of a send against
//! its template, written from WECHAT-API.md with the mock's own code (never the sender's
//! parser): an id not in the list answers 40037, a subscribe send missing a key of its template's
//! content or holding a value outside an enum list answers 47003. Template messages with extra
//! or missing keys are accepted, as WeChat does.
//!
//! Without a catalogue file the mock lists the samples' templates and accepts any other id
//! (the tests' own ids); with `--templates FILE` it lists the file's and refuses the rest.

use std::path::Path;

use serde_json::{json, Value};

use crate::wechat::protocol::Kind;

/// The samples' templates, as WeChat would list them (`samples/templates.json`, also an
/// example of the `--templates` file).
const BUNDLED: &str = include_str!("../../samples/templates.json");

/// The templates the mock account has.
#[derive(Debug, Clone)]
pub struct MockCatalogue {
    official: Vec<Value>,
    subscribe: Vec<Value>,
    /// Refuse ids not in the list (a catalogue file was given).
    strict: bool,
}

impl MockCatalogue {
    /// The bundled catalogue, or the file's (then ids not in it are refused).
    pub fn load(file: Option<&Path>) -> std::io::Result<Self> {
        let (text, strict) = match file {
            Some(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
                true,
            ),
            None => (BUNDLED.to_string(), false),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            let what = file.map_or_else(|| "the bundled template catalogue".to_string(), |p| p.display().to_string());
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {e}"))
        })?;
        let list = |key: &str| v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(Self { official: list("template"), subscribe: list("subscribe"), strict })
    }

    /// `get_all_private_template`'s answer.
    pub fn official_list(&self) -> Value {
        json!({ "template_list": self.official })
    }

    /// `wxaapi/newtmpl/gettemplate`'s answer.
    pub fn subscribe_list(&self) -> Value {
        json!({ "errcode": 0, "errmsg": "ok", "data": self.subscribe })
    }

    /// Whether `template_id` is a listed subscribe template of `type` 2: a one-off subscription,
    /// used up by one message.
    pub fn one_off(&self, template_id: &str) -> bool {
        self.subscribe.iter().any(|t| {
            t.get("priTmplId").and_then(Value::as_str) == Some(template_id)
                && t.get("type").and_then(Value::as_u64) == Some(2)
        })
    }

    /// WeChat's answer to a send of `template_id` with `data`, if it refuses it.
    pub fn judge<'v>(
        &self,
        kind: Kind,
        template_id: &str,
        value_of: impl Fn(&str) -> &'v str,
    ) -> Option<(i64, String)> {
        let (list, id_key) = match kind {
            Kind::Template => (&self.official, "template_id"),
            // Both subscribe kinds list their templates through `newtmpl/gettemplate`.
            Kind::Subscribe | Kind::MpSubscribe => (&self.subscribe, "priTmplId"),
            // The official account's template, sent through the mini program: not listed here.
            Kind::Uniform => return None,
        };
        let Some(template) = list.iter().find(|t| t.get(id_key).and_then(Value::as_str) == Some(template_id)) else {
            return self.strict.then(|| (40037, "invalid template_id".to_string()));
        };
        if kind == Kind::Template {
            return None;
        }
        let content = template.get("content").and_then(Value::as_str).unwrap_or_default();
        for key in placeholders(content) {
            let value = value_of(&key);
            if value.is_empty() {
                return Some((47003, format!("argument invalid! data.{key}.value is empty")));
            }
        }
        for e in template.get("keywordEnumValueList").and_then(Value::as_array).into_iter().flatten() {
            let code = e.get("keywordCode").and_then(Value::as_str).unwrap_or_default();
            let key = code.trim_end_matches(".DATA");
            let allowed: Vec<&str> = e
                .get("enumValueList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let value = value_of(key);
            if !allowed.contains(&value) {
                return Some((47003, format!("argument invalid! data.{key}.value invalid")));
            }
        }
        None
    }
}

/// The keys of `{{key.DATA}}` placeholders in a template's content.
fn placeholders(content: &str) -> Vec<String> {
    content
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}").and_then(|(inner, _)| inner.trim().strip_suffix(".DATA")))
        .map(|key| key.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_sends_are_judged_by_their_template() {
        let c = MockCatalogue::load(None).unwrap();
        let data = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| *v)
        };
        let full = data(&[
            ("thing1", "杯"),
            ("character_string2", "SF1"),
            ("amount3", "¥1"),
            ("date4", "2026-11-12"),
            ("name5", "高峰"),
        ]);
        assert_eq!(c.judge(Kind::Subscribe, "TPL_SUB_ORDER_SHIPPED", full), None);
        let missing = data(&[("thing1", "杯")]);
        assert_eq!(c.judge(Kind::Subscribe, "TPL_SUB_ORDER_SHIPPED", missing).unwrap().0, 47003);
        assert_eq!(c.judge(Kind::Subscribe, "OTHER", missing), None, "lenient without a file");
        assert_eq!(c.judge(Kind::Template, "TPL_ORDER_SHIPPED", missing), None, "template messages take any keys");
        assert_eq!(placeholders("a:{{x1.DATA}}\n{{ y2.DATA }}"), ["x1", "y2"]);
    }
}
