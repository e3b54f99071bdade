//! The account's templates as WeChat lists them, parsed: the title, each field with the label
//! the phone shows before it and its key, the allowed values of enum fields. Pure types and
//! parsing (the campaign layer may use them); fetching and caching are in `templates.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::protocol::Kind;

/// One template of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// `template_id` (official account) or `priTmplId` (mini program).
    pub id: String,
    /// The title the phone shows.
    pub title: String,
    /// The content with its placeholders, as WeChat lists it.
    pub content: String,
    /// WeChat's example message.
    #[serde(default)]
    pub example: String,
    /// Every placeholder of the content, in order.
    pub fields: Vec<TemplateField>,
    /// Allowed values by key (subscribe `phrase` fields), e.g. `phrase4` → `["已发货","已签收"]`.
    #[serde(default)]
    pub enums: BTreeMap<String, Vec<String>>,
    /// Subscribe templates: 2 one-off, 3 long-term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_type: Option<u8>,
}

/// One placeholder of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateField {
    /// The data key (`keyword1`, `thing1`).
    pub key: String,
    /// The text before it on its line (`订单号`), without the trailing colon.
    pub label: String,
    /// The key's type prefix (`thing`, `amount`, `keyword`).
    pub kind: String,
    /// Whether the phone shows it (`first` and `remark` of template messages are not shown
    /// since 2023-05-04).
    pub shown: bool,
}

impl Template {
    /// The field with `key`.
    pub fn field(&self, key: &str) -> Option<&TemplateField> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The templates of one app and kind, with when they were fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    /// The app.
    pub appid: String,
    /// Which list: `template` (official account) or `subscribe` (mini program).
    pub kind: Kind,
    /// When it was fetched (Unix seconds).
    pub fetched_at: u64,
    /// The templates.
    pub templates: Vec<Template>,
}

impl Catalogue {
    /// The template with `id`.
    pub fn find(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }
}

/// The placeholders of `content`, each with the text before it on its line as its label.
/// `first` and `remark` of official-account templates are marked not shown.
pub fn parse_content(content: &str, kind: Kind) -> Vec<TemplateField> {
    let mut fields = Vec::new();
    for line in content.lines() {
        let mut rest = line;
        let mut label_from = 0usize;
        let mut consumed = 0usize;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else { break };
            let inner = rest[open + 2..open + close].trim();
            let key = inner.strip_suffix(".DATA").unwrap_or(inner).trim().to_string();
            let label_text = &line[label_from..consumed + open];
            let label = label_text.trim().trim_end_matches(['：', ':']).trim().to_string();
            let kind_prefix: String = key.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
            let shown = !(kind == Kind::Template && matches!(key.as_str(), "first" | "remark"));
            if !key.is_empty() && !fields.iter().any(|f: &TemplateField| f.key == key) {
                fields.push(TemplateField { key, label, kind: kind_prefix, shown });
            }
            let advance = open + close + 2;
            consumed += advance;
            label_from = consumed;
            rest = &rest[advance..];
        }
    }
    fields
}

/// A template list answer without its list (named by its JSON key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::tr!("err.no_list", value0 = .0.to_string()))]
pub struct NoList(pub &'static str);

/// Parse `get_all_private_template`'s answer.
pub fn parse_official(answer: &Value) -> Result<Vec<Template>, NoList> {
    let list = answer.get("template_list").and_then(Value::as_array).ok_or(NoList("template_list"))?;
    Ok(list
        .iter()
        .filter_map(|t| {
            let id = t.get("template_id")?.as_str()?.to_string();
            let content = text(t, "content");
            Some(Template {
                fields: parse_content(&content, Kind::Template),
                id,
                title: text(t, "title"),
                example: text(t, "example"),
                content,
                enums: BTreeMap::new(),
                subscribe_type: None,
            })
        })
        .collect())
}

/// Parse `wxaapi/newtmpl/gettemplate`'s answer.
pub fn parse_subscribe(answer: &Value) -> Result<Vec<Template>, NoList> {
    let list = answer.get("data").and_then(Value::as_array).ok_or(NoList("data"))?;
    Ok(list
        .iter()
        .filter_map(|t| {
            let id = t.get("priTmplId")?.as_str()?.to_string();
            let content = text(t, "content");
            let mut enums = BTreeMap::new();
            for e in t.get("keywordEnumValueList").and_then(Value::as_array).into_iter().flatten() {
                let code = e.get("keywordCode").and_then(Value::as_str).unwrap_or_default();
                let key = code.strip_suffix(".DATA").unwrap_or(code).to_string();
                let values: Vec<String> = e
                    .get("enumValueList")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                if !key.is_empty() {
                    enums.insert(key, values);
                }
            }
            Some(Template {
                fields: parse_content(&content, Kind::Subscribe),
                id,
                title: text(t, "title"),
                example: text(t, "example"),
                content,
                enums,
                subscribe_type: t.get("type").and_then(Value::as_u64).map(|n| n as u8),
            })
        })
        .collect())
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_text_before_each_placeholder() {
        let fields = parse_content(
            "{{first.DATA}}\n订单号：{{keyword1.DATA}}\n物流公司：{{keyword2.DATA}}\n{{remark.DATA}}",
            Kind::Template,
        );
        let keys: Vec<(&str, &str, bool)> =
            fields.iter().map(|f| (f.key.as_str(), f.label.as_str(), f.shown)).collect();
        assert_eq!(
            keys,
            [("first", "", false), ("keyword1", "订单号", true), ("keyword2", "物流公司", true), ("remark", "", false)]
        );
        let sub =
            parse_content("商品名称:{{thing1.DATA}}\n状态:{{phrase4.DATA}} 金额:{{amount2.DATA}}", Kind::Subscribe);
        assert_eq!(sub[0].kind, "thing");
        assert_eq!((sub[2].key.as_str(), sub[2].label.as_str()), ("amount2", "金额"));
        assert!(sub.iter().all(|f| f.shown));
    }

    #[test]
    fn both_lists_parse() {
        let official: Value = serde_json::from_str(
            r#"{"template_list":[{"template_id":"T1","title":"订单发货提醒","primary_industry":"IT","deputy_industry":"互联网","content":"订单号：{{keyword1.DATA}}","example":"订单号：123"}]}"#,
        )
        .unwrap();
        let t = &parse_official(&official).unwrap()[0];
        assert_eq!((t.id.as_str(), t.title.as_str(), t.fields.len()), ("T1", "订单发货提醒", 1));
        let sub: Value = serde_json::from_str(
            r#"{"errcode":0,"errmsg":"ok","data":[{"priTmplId":"S1","title":"发货通知","content":"状态:{{phrase4.DATA}}\n","example":"","type":2,"keywordEnumValueList":[{"keywordCode":"phrase4.DATA","enumValueList":["已发货","已签收"]}]}]}"#,
        )
        .unwrap();
        let t = &parse_subscribe(&sub).unwrap()[0];
        assert_eq!(t.enums["phrase4"], ["已发货", "已签收"]);
        assert_eq!(t.subscribe_type, Some(2));
        assert!(parse_official(&serde_json::json!({"errcode":48001})).is_err());
    }
}
