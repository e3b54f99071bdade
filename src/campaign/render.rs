//! The compiled message: renders a row's values and serializes the exact request body of each kind.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::{CampaignConfig, Kind};
use super::error::LoadError;
use super::recipients::{Recipients, Row};
use super::template::FieldTemplate;

/// The campaign's message, compiled once against the CSV header.
#[derive(Debug, Clone)]
pub struct MessageTemplate {
    /// Which API sends it.
    pub kind: Kind,
    /// The template.
    pub template_id: String,
    /// Template field keys, in campaign-file order (`thing1`, `amount2`, ...).
    pub keys: Vec<String>,
    fields: Vec<FieldTemplate>,
    url: Option<FieldTemplate>,
    page: Option<FieldTemplate>,
    /// uniform: the official account; template: unused.
    mp_appid: Option<String>,
    /// The mini program a message opens (uniform defaults to the sending app).
    miniprogram_appid: Option<String>,
    miniprogram_state: String,
    lang: String,
    /// Mixed into `client_msg_id` so two campaigns never share ids.
    campaign_name: String,
    /// Allowed values by key, from the account's template (subscribe enum fields): a row whose
    /// value is not in its list is invalid.
    pub allowed: std::collections::BTreeMap<String, Vec<String>>,
}

/// One row's rendered values; reused between rows so rendering does not allocate.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The value of each template field, in order.
    pub values: Vec<String>,
    /// The link, if any.
    pub url: Option<String>,
    /// The mini-program page, if any.
    pub page: Option<String>,
    /// `template` kind only: deterministic per campaign, template, recipient and content.
    pub client_msg_id: String,
    /// The message to this recipient, whatever the campaign is called (see
    /// [`MessageTemplate::message_key`]).
    pub message_key: u64,
}

impl MessageTemplate {
    /// Compile every template string of the campaign against the recipients' header.
    pub fn compile(config: &CampaignConfig, recipients: &Recipients) -> Result<Self, LoadError> {
        let m = &config.message;
        let mut keys = Vec::with_capacity(m.data.len());
        let mut fields = Vec::with_capacity(m.data.len());
        for (key, source) in &m.data {
            fields.push(FieldTemplate::compile(source, &format!("[message.data] {key}"), recipients)?);
            keys.push(key.clone());
        }
        let (url_key, page_key) = m.kind.link_keys();
        let url = m.url.as_ref().map(|s| FieldTemplate::compile(s, url_key, recipients)).transpose()?;
        let page = m.page.as_ref().map(|s| FieldTemplate::compile(s, page_key, recipients)).transpose()?;
        let miniprogram_appid = match m.kind {
            Kind::Uniform => Some(m.miniprogram_appid.clone().unwrap_or_else(|| config.wechat.appid.clone())),
            _ => m.miniprogram_appid.clone(),
        };
        Ok(Self {
            kind: m.kind,
            template_id: m.template_id.clone(),
            keys,
            fields,
            url,
            page,
            mp_appid: m.mp_appid.clone(),
            miniprogram_appid,
            miniprogram_state: m.miniprogram_state.clone(),
            lang: m.lang.clone(),
            campaign_name: config.name.clone(),
            allowed: Default::default(),
        })
    }

    /// Render `row` into `out`, reusing its buffers, including the `client_msg_id`.
    pub fn render(&self, row: &Row<'_>, out: &mut Rendered) {
        self.render_values(row, out);
        self.derive_client_msg_id(row, out);
        out.message_key = self.message_key(row.openid(), out);
    }

    /// Which message `openid` gets: a hash of what reaches the phone — kind, template, the
    /// bodies' fixed parts (official account, mini program, state, language), the link, the page
    /// and every key and value — and the recipient. Not the campaign's name, the list or the row:
    /// the account's delivery ledger knows a message again under any of them. `client_msg_id`
    /// and the token are not part of it.
    pub fn message_key(&self, openid: &str, r: &Rendered) -> u64 {
        let mut h = Sha256::new();
        let mut put = |s: &str| {
            h.update(s.as_bytes());
            h.update([0u8]);
        };
        put(self.kind.as_str());
        put(&self.template_id);
        put(self.mp_appid.as_deref().unwrap_or(""));
        put(self.miniprogram_appid.as_deref().unwrap_or(""));
        put(&self.miniprogram_state);
        put(&self.lang);
        put(openid);
        put(r.url.as_deref().unwrap_or(""));
        put(r.page.as_deref().unwrap_or(""));
        for (key, value) in self.keys.iter().zip(&r.values) {
            put(key);
            put(value);
        }
        let digest = h.finalize();
        u64::from_le_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
    }

    /// Render the values, url and page of `row` (what validation looks at).
    pub fn render_values(&self, row: &Row<'_>, out: &mut Rendered) {
        out.values.resize_with(self.fields.len(), String::new);
        for (field, value) in self.fields.iter().zip(out.values.iter_mut()) {
            value.clear();
            field.render_into(row, value);
        }
        render_optional(self.url.as_ref(), row, &mut out.url);
        render_optional(self.page.as_ref(), row, &mut out.page);
    }

    /// `template` kind: a hash of campaign, template, recipient and rendered values, so a retry
    /// or a re-run of the same message carries the same id and WeChat drops the duplicate.
    fn derive_client_msg_id(&self, row: &Row<'_>, out: &mut Rendered) {
        out.client_msg_id.clear();
        if self.kind == Kind::Template {
            let mut h = Sha256::new();
            for part in [self.campaign_name.as_str(), self.template_id.as_str(), row.openid()] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
            for v in &out.values {
                h.update(v.as_bytes());
                h.update([0u8]);
            }
            let digest = h.finalize();
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.client_msg_id.push_str("wx");
            for b in &digest[..15] {
                out.client_msg_id.push(char::from(HEX[usize::from(b >> 4)]));
                out.client_msg_id.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }

    /// Whether `url` or `page` depend on the row (so an empty rendering is the row's fault).
    pub fn url_uses_columns(&self) -> bool {
        self.url.as_ref().is_some_and(FieldTemplate::uses_columns)
    }

    /// Whether the page is built from columns (so it can render empty).
    pub fn page_uses_columns(&self) -> bool {
        self.page.as_ref().is_some_and(FieldTemplate::uses_columns)
    }

    /// The columns a field reads (for the preview table).
    pub fn field_columns(&self, index: usize) -> Vec<usize> {
        self.fields.get(index).map(|f| f.columns().collect()).unwrap_or_default()
    }

    /// Serialize the request body for `openid` into `buf` (cleared first). The token is not part of it.
    pub fn write_body(&self, openid: &str, r: &Rendered, buf: &mut Vec<u8>) {
        buf.clear();
        let data = Data { keys: &self.keys, values: &r.values };
        let miniprogram = match (&self.miniprogram_appid, &r.page) {
            (Some(appid), Some(page)) => Some(MiniProgram { appid, pagepath: page }),
            _ => None,
        };
        let result = match self.kind {
            Kind::Uniform => serde_json::to_writer(
                &mut *buf,
                &UniformBody {
                    touser: openid,
                    mp_template_msg: MpTemplateMsg {
                        appid: self.mp_appid.as_deref().unwrap_or_default(),
                        template_id: &self.template_id,
                        url: r.url.as_deref(),
                        miniprogram,
                        data,
                    },
                },
            ),
            Kind::Template => serde_json::to_writer(
                &mut *buf,
                &TemplateBody {
                    touser: openid,
                    template_id: &self.template_id,
                    url: r.url.as_deref(),
                    miniprogram,
                    client_msg_id: &r.client_msg_id,
                    data,
                },
            ),
            Kind::Subscribe => serde_json::to_writer(
                &mut *buf,
                &SubscribeBody {
                    touser: openid,
                    template_id: &self.template_id,
                    page: r.page.as_deref(),
                    data,
                    miniprogram_state: &self.miniprogram_state,
                    lang: &self.lang,
                },
            ),
            // bizsend names the web link `page`, and the mini program as template/send does.
            Kind::MpSubscribe => serde_json::to_writer(
                &mut *buf,
                &BizsendBody {
                    touser: openid,
                    template_id: &self.template_id,
                    page: r.url.as_deref(),
                    miniprogram,
                    data,
                },
            ),
        };
        // Writing plain strings into a Vec cannot fail; keep the buffer valid JSON regardless.
        if result.is_err() {
            buf.clear();
            buf.extend_from_slice(b"{}");
        }
    }

    /// The body as a pretty JSON value, for previews.
    pub fn body_json(&self, openid: &str, r: &Rendered) -> serde_json::Value {
        let mut buf = Vec::new();
        self.write_body(openid, r, &mut buf);
        serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null)
    }
}

fn render_optional(template: Option<&FieldTemplate>, row: &Row<'_>, out: &mut Option<String>) {
    match template {
        None => *out = None,
        Some(t) => {
            let s = out.get_or_insert_with(String::new);
            s.clear();
            t.render_into(row, s);
        }
    }
}

struct Data<'a> {
    keys: &'a [String],
    values: &'a [String],
}

#[derive(Serialize)]
struct Value<'a> {
    value: &'a str,
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.keys.len()))?;
        for (k, v) in self.keys.iter().zip(self.values) {
            map.serialize_entry(k, &Value { value: v })?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct MiniProgram<'a> {
    appid: &'a str,
    pagepath: &'a str,
}

#[derive(Serialize)]
struct UniformBody<'a> {
    touser: &'a str,
    mp_template_msg: MpTemplateMsg<'a>,
}

#[derive(Serialize)]
struct MpTemplateMsg<'a> {
    appid: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    miniprogram: Option<MiniProgram<'a>>,
    data: Data<'a>,
}

#[derive(Serialize)]
struct TemplateBody<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    miniprogram: Option<MiniProgram<'a>>,
    client_msg_id: &'a str,
    data: Data<'a>,
}

#[derive(Serialize)]
struct SubscribeBody<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a str>,
    data: Data<'a>,
    miniprogram_state: &'a str,
    lang: &'a str,
}

#[derive(Serialize)]
struct BizsendBody<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    miniprogram: Option<MiniProgram<'a>>,
    data: Data<'a>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::campaign::Campaign;

    #[test]
    fn client_msg_id_is_wx_and_the_first_15_bytes_of_the_sha256_in_hex() {
        // Journals and WeChat's deduplication rely on this id staying the same across versions.
        let c = Campaign::load(Path::new("samples/campaign.toml"), None).unwrap();
        let row = c.recipients.row(0).unwrap();
        let mut out = Rendered::default();
        c.template.render(&row, &mut out);
        let mut h = Sha256::new();
        for part in [c.config.name.as_str(), c.template.template_id.as_str(), row.openid()] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        for v in &out.values {
            h.update(v.as_bytes());
            h.update([0u8]);
        }
        let hex: String = h.finalize()[..15].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out.client_msg_id, format!("wx{hex}"));
        assert_eq!(out.client_msg_id.len(), 32);
    }
}
