//! The mock account's templates: both list endpoints, and WeChat's judgement of a send against
//! its template, written from WECHAT-API.md with the mock's own code (never the sender's
//! parser): an id not in the list answers 40037, a subscribe send missing a key of its template's
//! content or holding a value outside an enum list answers 47003. Template messages with extra
//! or missing keys are accepted, as WeChat does.
//!
//! Without a catalogue file the mock lists the samples' templates and accepts any other id
//! (the tests' own ids); with `--templates FILE` it lists the file's and refuses the rest.
//! Template ids belong to an app: the file's `"apps": {"<appid>": {"template": […],
//! "subscribe": […]}}` gives a third-party platform's merchants lists of their own, judged for
//! a send with that merchant's token (another app's id answers 40037).

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
    /// Apps with lists of their own (a platform's merchants), by appid: official, subscribe.
    apps: std::collections::HashMap<String, (Vec<Value>, Vec<Value>)>,
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
        let list = |v: &Value, key: &str| v.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let apps = v
            .get("apps")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(appid, lists)| (appid.clone(), (list(lists, "template"), list(lists, "subscribe"))))
            .collect();
        Ok(Self { official: list(&v, "template"), subscribe: list(&v, "subscribe"), strict, apps })
    }

    /// The official and subscribe templates of `app` (a merchant's appid; "" or an app without
    /// lists of its own: the account's).
    fn of(&self, app: &str) -> (&[Value], &[Value]) {
        match self.apps.get(app) {
            Some((official, subscribe)) => (official, subscribe),
            None => (&self.official, &self.subscribe),
        }
    }

    /// `get_all_private_template`'s answer to `app`.
    pub fn official_list(&self, app: &str) -> Value {
        json!({ "template_list": self.of(app).0 })
    }

    /// `wxaapi/newtmpl/gettemplate`'s answer to `app`.
    pub fn subscribe_list(&self, app: &str) -> Value {
        json!({ "errcode": 0, "errmsg": "ok", "data": self.of(app).1 })
    }

    /// Whether `template_id` is a listed subscribe template of `type` 2: a one-off subscription,
    /// used up by one message.
    pub fn one_off(&self, app: &str, template_id: &str) -> bool {
        self.of(app).1.iter().any(|t| {
            t.get("priTmplId").and_then(Value::as_str) == Some(template_id)
                && t.get("type").and_then(Value::as_u64) == Some(2)
        })
    }

    /// WeChat's answer to `app`'s send of `template_id` with `data`, if it refuses it.
    pub fn judge<'v>(
        &self,
        kind: Kind,
        app: &str,
        template_id: &str,
        value_of: impl Fn(&str) -> &'v str,
    ) -> Option<(i64, String)> {
        let (official, subscribe) = self.of(app);
        let (list, id_key) = match kind {
            Kind::Template => (official, "template_id"),
            // Both subscribe kinds list their templates through `newtmpl/gettemplate`.
            Kind::Subscribe | Kind::MpSubscribe => (subscribe, "priTmplId"),
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
    fn a_merchant_has_its_own_template_ids() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        let entry = |id: &str| json!({"template_id": id, "title": "t", "content": "{{first.DATA}}"});
        let text = json!({"template": [entry("OWN")], "apps": {"wxm1": {"template": [entry("M1")]}}});
        std::fs::write(&file, text.to_string()).unwrap();
        let c = MockCatalogue::load(Some(&file)).unwrap();
        let none = |_: &str| "";
        assert_eq!(c.judge(Kind::Template, "wxm1", "M1", none), None);
        assert_eq!(c.judge(Kind::Template, "wxm1", "OWN", none).map(|r| r.0), Some(40037));
        assert_eq!(c.judge(Kind::Template, "", "M1", none).map(|r| r.0), Some(40037));
        assert_eq!(
            c.judge(Kind::Template, "wxother", "OWN", none),
            None,
            "an app without a list of its own: the account's"
        );
        assert_eq!(c.official_list("wxm1")["template_list"][0]["template_id"], "M1");
    }

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
        assert_eq!(c.judge(Kind::Subscribe, "", "TPL_SUB_ORDER_SHIPPED", full), None);
        let missing = data(&[("thing1", "杯")]);
        assert_eq!(c.judge(Kind::Subscribe, "", "TPL_SUB_ORDER_SHIPPED", missing).unwrap().0, 47003);
        assert_eq!(c.judge(Kind::Subscribe, "", "OTHER", missing), None, "lenient without a file");
        assert_eq!(c.judge(Kind::Template, "", "TPL_ORDER_SHIPPED", missing), None, "template messages take any keys");
        assert_eq!(placeholders("a:{{x1.DATA}}\n{{ y2.DATA }}"), ["x1", "y2"]);
    }
}
