//! What WeChat pushes to the account's server about sent messages, and how it is authenticated:
//! the URL signature (SHA-1 of the sorted token, timestamp and nonce), safe mode (`msg_signature`
//! over the `Encrypt` text too; AES-256-CBC with the EncodingAESKey, PKCS#7 padding to 32
//! bytes, the plaintext being 16 random bytes, a 4-byte length, the message and the appid), and
//! the two delivery events: `TEMPLATESENDJOBFINISH` (XML) and `subscribe_msg_sent_event` (XML or
//! JSON).

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Why a push cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The signature does not match: not from WeChat (or the token is wrong).
    #[error("{}", crate::tr!("err.push_error.bad_signature"))]
    BadSignature,
    /// The timestamp is too old or too far ahead: a replay.
    #[error("{}", crate::tr!("err.push_error.stale", value0 = .0.to_string()))]
    Stale(i64),
    /// Safe mode without a key, or a key that is not 43 characters of base64.
    #[error("{}", crate::tr!("err.push_error.no_key"))]
    NoKey,
    /// The encrypted text cannot be decrypted or is not WeChat's layout.
    #[error("{}", crate::tr!("err.push_error.decrypt", value0 = .0.to_string()))]
    Decrypt(String),
    /// The decrypted message is for another app.
    #[error("{}", crate::tr!("err.push_error.wrong_app", value0 = .0.to_string()))]
    WrongApp(String),
    /// Not an event wxsend understands.
    #[error("{}", crate::tr!("err.push_error.malformed", value0 = .0.to_string()))]
    Malformed(String),
    /// A plaintext push while safe mode is configured: anyone who saw one push URL could
    /// otherwise post any body under its signature.
    #[error("{}", crate::tr!("err.push_error.plaintext_in_safe_mode"))]
    PlaintextInSafeMode,
    /// A (timestamp, nonce) pair seen before within the signature window.
    #[error("{}", crate::tr!("err.push_error.replayed"))]
    Replayed,
}

/// The 32-byte AES key of a 43-character EncodingAESKey (its last character carries 2 bits of
/// padding that WeChat does not zero), or [`PushError::NoKey`].
pub fn aes_key_bytes(aes_key: &str) -> Result<Vec<u8>, PushError> {
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let key = aes_key.trim();
    if key.len() != 43 {
        return Err(PushError::NoKey);
    }
    lenient.decode(format!("{key}=")).ok().filter(|k| k.len() == 32).ok_or(PushError::NoKey)
}

/// `sha1(sorted(parts).join(""))` in hex: WeChat's signature of a push.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let digest = Sha1::digest(sorted.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare signatures without leaking where they differ.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The longest a push's timestamp may be away from this machine's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// Refuse a timestamp more than [`MAX_SKEW_SECS`] away from `now` (Unix seconds).
pub fn check_fresh(timestamp: &str, now: i64) -> Result<(), PushError> {
    let t: i64 = timestamp.trim().parse().map_err(|_| PushError::Stale(i64::MAX))?;
    let skew = now - t;
    if skew.abs() > MAX_SKEW_SECS {
        return Err(PushError::Stale(skew));
    }
    Ok(())
}

/// Decrypt a safe-mode `Encrypt` text with the EncodingAESKey and check it is for `appid`.
pub fn decrypt(encrypt: &str, aes_key: &str, appid: &str) -> Result<String, PushError> {
    let key = aes_key_bytes(aes_key)?;
    let mut data = base64::engine::general_purpose::STANDARD
        .decode(encrypt.trim())
        .map_err(|e| PushError::Decrypt(format!("not base64 ({e})")))?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(PushError::Decrypt("its length is not a whole number of AES blocks".into()));
    }
    let cipher = cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &key[..16])
        .map_err(|e| PushError::Decrypt(e.to_string()))?;
    let plain = cipher
        .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut data)
        .map_err(|e| PushError::Decrypt(e.to_string()))?;
    // PKCS#7 to a 32-byte block, as WeChat pads.
    let pad = *plain.last().unwrap_or(&0) as usize;
    if !(1..=32).contains(&pad) || pad > plain.len() {
        return Err(PushError::Decrypt("bad padding (a wrong aes_key?)".into()));
    }
    let plain = &plain[..plain.len() - pad];
    if plain.len() < 20 {
        return Err(PushError::Decrypt("too short".into()));
    }
    let len = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
    let message = plain
        .get(20..20 + len)
        .ok_or_else(|| PushError::Decrypt("its length field is wrong (a wrong aes_key?)".into()))?;
    let from = String::from_utf8_lossy(&plain[20 + len..]).to_string();
    if from != appid {
        return Err(PushError::WrongApp(from));
    }
    String::from_utf8(message.to_vec()).map_err(|_| PushError::Decrypt("the message is not UTF-8".into()))
}

/// What a delivery receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Delivered to the recipient.
    Success,
    /// The recipient blocks the account's messages.
    UserBlock,
    /// WeChat failed to deliver.
    SystemFailed,
}

impl ReceiptStatus {
    /// From `TEMPLATESENDJOBFINISH`'s `Status`: `success`, `failed:user block`,
    /// `failed: system failed`.
    pub fn of_template(status: &str) -> Self {
        let s = status.to_ascii_lowercase();
        if s == "success" {
            ReceiptStatus::Success
        } else if s.contains("block") {
            ReceiptStatus::UserBlock
        } else {
            ReceiptStatus::SystemFailed
        }
    }

    /// From `subscribe_msg_sent_event`'s `ErrorCode` and `ErrorStatus`.
    pub fn of_subscribe(code: &str, status: &str) -> Self {
        let s = status.to_ascii_lowercase();
        if code.trim() == "0" || s == "success" {
            ReceiptStatus::Success
        } else if s.contains("block") || s.contains("refuse") || s.contains("reject") {
            ReceiptStatus::UserBlock
        } else {
            ReceiptStatus::SystemFailed
        }
    }
}

/// One delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushEvent {
    /// The recipient.
    pub openid: String,
    /// The msgid `template/send` returned (subscribe: WeChat's own id of the push).
    pub msgid: Option<String>,
    /// The template (subscribe events name it; their sends returned no msgid to match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// What happened.
    pub status: ReceiptStatus,
    /// WeChat's words, as sent.
    pub detail: String,
    /// `CreateTime` (Unix seconds).
    pub created: u64,
}

/// A follower's answer to a subscription, from `subscribe_msg_popup_event` (the prompt) or
/// `subscribe_msg_change_event` (the follower's settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionChange {
    /// The follower.
    pub openid: String,
    /// The template subscribed to or turned off.
    pub template_id: String,
    /// `accept` or `reject`.
    pub accepted: bool,
    /// Where: the prompt (`popup`) or the follower's settings (`settings`).
    pub from_settings: bool,
    /// `CreateTime` (Unix seconds).
    pub created: u64,
}

/// What one push says: delivery receipts and subscription changes (other events give neither).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Delivery receipts.
    pub receipts: Vec<PushEvent>,
    /// Subscriptions given, declined or turned off.
    pub changes: Vec<SubscriptionChange>,
}

/// The `Encrypt` text of a safe-mode body (XML or JSON), if it has one.
pub fn encrypted_part(body: &str) -> Option<String> {
    let body = body.trim();
    if body.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        return v.get("Encrypt").and_then(|e| e.as_str()).map(str::to_string);
    }
    xml_fields(body).ok()?.into_iter().find(|(k, _)| k == "Encrypt").map(|(_, v)| v)
}

/// The receipts and subscription changes in a plaintext body (XML or JSON).
pub fn parse_events(body: &str) -> Result<Pushed, PushError> {
    let body = body.trim();
    if body.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(body).map_err(|e| PushError::Malformed(e.to_string()))?;
        return Ok(json_events(&v));
    }
    let fields = xml_fields(body)?;
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let openid = get("FromUserName");
    let created = get("CreateTime").parse().unwrap_or(0);
    let mut pushed = Pushed::default();
    match get("Event").as_str() {
        "TEMPLATESENDJOBFINISH" => {
            let status = get("Status");
            pushed.receipts.push(PushEvent {
                openid,
                msgid: Some(get("MsgID")).filter(|m| !m.is_empty()),
                template_id: None,
                status: ReceiptStatus::of_template(&status),
                detail: status,
                created,
            });
        }
        event @ ("subscribe_msg_sent_event" | "subscribe_msg_popup_event" | "subscribe_msg_change_event") => {
            // One <List> per template; its fields come in order and each list ends with its
            // status (`ErrorStatus`, `SubscribeStatusString`).
            let mut item: Vec<(&str, &str)> = Vec::new();
            for (k, v) in &fields {
                match k.as_str() {
                    "TemplateId" | "MsgID" | "ErrorCode" => item.push((k, v)),
                    "ErrorStatus" | "SubscribeStatusString" => {
                        item.push((k, v));
                        let at = |name: &str| item.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
                        add_item(&mut pushed, event, &openid, created, at);
                        item.clear();
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(pushed)
}

/// One `<List>` item of a subscribe event, its fields read through `at`.
fn add_item(pushed: &mut Pushed, event: &str, openid: &str, created: u64, at: impl Fn(&str) -> Option<String>) {
    let template_id = at("TemplateId").filter(|t| !t.is_empty());
    if event == "subscribe_msg_sent_event" {
        let (code, status) = (at("ErrorCode").unwrap_or_default(), at("ErrorStatus").unwrap_or_default());
        pushed.receipts.push(PushEvent {
            openid: openid.to_string(),
            msgid: at("MsgID").filter(|m| !m.is_empty()),
            template_id,
            status: ReceiptStatus::of_subscribe(&code, &status),
            detail: status,
            created,
        });
    } else if let Some(template_id) = template_id {
        pushed.changes.push(SubscriptionChange {
            openid: openid.to_string(),
            template_id,
            accepted: at("SubscribeStatusString").is_some_and(|s| s.eq_ignore_ascii_case("accept")),
            from_settings: event == "subscribe_msg_change_event",
            created,
        });
    }
}

/// The receipts and changes of a JSON push (a mini program's message server may push JSON).
fn json_events(v: &serde_json::Value) -> Pushed {
    let text = |v: &serde_json::Value, k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => String::new(),
    };
    let openid = text(v, "FromUserName");
    let created = text(v, "CreateTime").parse().unwrap_or(0);
    let mut pushed = Pushed::default();
    let event = text(v, "Event");
    let container = match event.as_str() {
        "TEMPLATESENDJOBFINISH" => {
            let status = text(v, "Status");
            pushed.receipts.push(PushEvent {
                openid,
                msgid: Some(text(v, "MsgID")).filter(|m| !m.is_empty()),
                template_id: None,
                status: ReceiptStatus::of_template(&status),
                detail: status,
                created,
            });
            return pushed;
        }
        "subscribe_msg_sent_event" => "SubscribeMsgSentEvent",
        "subscribe_msg_popup_event" => "SubscribeMsgPopupEvent",
        "subscribe_msg_change_event" => "SubscribeMsgChangeEvent",
        _ => return pushed,
    };
    // WeChat's own sample of the change event names its container as the popup's.
    let list = v.get(container).or_else(|| v.get("SubscribeMsgPopupEvent")).and_then(|e| e.get("List"));
    let items: Vec<&serde_json::Value> = match list {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for i in items {
        add_item(&mut pushed, &event, &openid, created, |k| Some(text(i, k)).filter(|s| !s.is_empty()));
    }
    pushed
}

/// What WeChat pushes to a third-party platform's authorization-event URL (`InfoType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformEvent {
    /// `component_verify_ticket`: the platform's newest ticket (a secret: never shown).
    Ticket {
        /// The platform it is for.
        component_appid: String,
        /// The ticket.
        ticket: String,
        /// WeChat's `CreateTime` (Unix seconds).
        create_time: u64,
    },
    /// `authorized`, `updateauthorized` or `unauthorized`: a merchant's authorization changed.
    Authorization {
        /// The platform.
        component_appid: String,
        /// `authorized`, `updateauthorized` or `unauthorized`.
        info_type: String,
        /// The merchant.
        authorizer_appid: String,
        /// WeChat's `CreateTime` (Unix seconds).
        create_time: u64,
    },
}

/// The platform event of a decrypted push, or `None` when it is not one (no `InfoType`).
pub fn parse_platform_event(body: &str) -> Result<Option<PlatformEvent>, PushError> {
    if !body.contains("InfoType") {
        return Ok(None);
    }
    let fields = xml_fields(body)?;
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let Some(info_type) = get("InfoType") else { return Ok(None) };
    let component_appid = get("AppId").unwrap_or_default();
    let create_time = get("CreateTime").and_then(|t| t.parse().ok()).unwrap_or(0);
    match info_type.as_str() {
        "component_verify_ticket" => {
            let ticket = get("ComponentVerifyTicket")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| PushError::Malformed("a component_verify_ticket push without its ticket".into()))?;
            Ok(Some(PlatformEvent::Ticket { component_appid, ticket, create_time }))
        }
        "authorized" | "updateauthorized" | "unauthorized" => {
            let authorizer_appid = get("AuthorizerAppid")
                .ok_or_else(|| PushError::Malformed(format!("an {info_type} push without AuthorizerAppid")))?;
            Ok(Some(PlatformEvent::Authorization { component_appid, info_type, authorizer_appid, create_time }))
        }
        // Other platform notices (notify_third_fasteregister, …) are not wxsend's.
        _ => Ok(None),
    }
}

/// Every leaf element of an XML document as (name, text), in document order.
fn xml_fields(body: &str) -> Result<Vec<(String, String)>, PushError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(body);
    let mut fields = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|e| PushError::Malformed(e.to_string()))? {
            Event::Start(e) => {
                stack.push(String::from_utf8_lossy(e.name().as_ref()).to_string());
                text.clear();
            }
            Event::Text(t) => {
                text.push_str(&t.xml_content().map_err(|e| PushError::Malformed(e.to_string()))?);
            }
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
            Event::End(_) => {
                if let Some(name) = stack.pop() {
                    if !text.trim().is_empty() {
                        fields.push((name, text.trim().to_string()));
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if fields.is_empty() {
        return Err(PushError::Malformed("no XML elements".into()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeChat's own sample from its WXBizMsgCrypt demo (消息加解密说明).
    const TOKEN: &str = "spamtest";
    const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx2c2769f8efd9abc2";
    const TIMESTAMP: &str = "1409735669";
    const NONCE: &str = "1320562132";
    const MSG_SIGNATURE: &str = "5d197aaffba7e9b25a30732f161a50dee96bd5fa";
    const ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";

    #[test]
    fn wechats_own_safe_mode_sample_verifies_and_decrypts() {
        assert!(same_signature(&signature(&[TOKEN, TIMESTAMP, NONCE, ENCRYPT]), MSG_SIGNATURE));
        let xml = decrypt(ENCRYPT, AES_KEY, APPID).unwrap();
        assert!(xml.starts_with("<xml>") && xml.contains("oyORnuP8q7ou2gfYjqLzSIWZf0rs"), "{xml}");
        assert_eq!(decrypt(ENCRYPT, AES_KEY, "wxOTHER").unwrap_err(), PushError::WrongApp(APPID.into()));
        let wrong_key = "bbcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        assert!(matches!(decrypt(ENCRYPT, wrong_key, APPID), Err(PushError::Decrypt(_) | PushError::WrongApp(_))));
    }

    #[test]
    fn platform_events_parse() {
        let t = "<xml><AppId><![CDATA[wxc1]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket></xml>";
        assert_eq!(
            parse_platform_event(t).unwrap(),
            Some(PlatformEvent::Ticket {
                component_appid: "wxc1".into(),
                ticket: "ticket@@@abc".into(),
                create_time: 1413192605
            })
        );
        let u = "<xml><AppId>wxc1</AppId><CreateTime>1413192760</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wxm1</AuthorizerAppid></xml>";
        assert!(matches!(
            parse_platform_event(u).unwrap(),
            Some(PlatformEvent::Authorization { info_type, authorizer_appid, .. }) if info_type == "unauthorized" && authorizer_appid == "wxm1"
        ));
        assert_eq!(parse_platform_event("<xml><Event>subscribe</Event></xml>").unwrap(), None);
        assert!(parse_platform_event("<xml><InfoType>component_verify_ticket</InfoType></xml>").is_err());
    }

    #[test]
    fn replays_are_refused() {
        assert!(check_fresh("1000", 1100).is_ok());
        assert_eq!(check_fresh("1000", 1000 + 301), Err(PushError::Stale(301)));
        assert!(check_fresh("junk", 0).is_err());
    }

    #[test]
    fn both_events_parse_in_xml_and_json() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oU1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[failed:user block]]></Status></xml>";
        let e = &parse_events(xml).unwrap().receipts[0];
        assert_eq!(
            (e.openid.as_str(), e.msgid.as_deref(), e.status),
            ("oU1", Some("200163836"), ReceiptStatus::UserBlock)
        );
        let sub = "<xml><FromUserName><![CDATA[oU2]]></FromUserName><CreateTime>1</CreateTime><Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[T]]></TemplateId><MsgID><![CDATA[1700827132819554304]]></MsgID><ErrorCode><![CDATA[0]]></ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>";
        let sent = &parse_events(sub).unwrap().receipts[0];
        assert_eq!((sent.status, sent.template_id.as_deref()), (ReceiptStatus::Success, Some("T")));
        let json = r#"{"ToUserName":"gh","FromUserName":"oU3","CreateTime":1,"MsgType":"event","Event":"subscribe_msg_sent_event","SubscribeMsgSentEvent":{"List":{"TemplateId":"T","MsgID":"17","ErrorCode":"20004","ErrorStatus":"fail"}}}"#;
        assert_eq!(parse_events(json).unwrap().receipts[0].status, ReceiptStatus::SystemFailed);
        assert_eq!(parse_events("<xml><Event>subscribe</Event></xml>").unwrap(), Pushed::default());
        assert_eq!(encrypted_part(r#"{"ToUserName":"gh","Encrypt":"abc"}"#).as_deref(), Some("abc"));
        assert_eq!(encrypted_part("<xml><Encrypt><![CDATA[xyz]]></Encrypt></xml>").as_deref(), Some("xyz"));
    }

    #[test]
    fn subscription_changes_parse_one_per_list() {
        // The prompt answered for two templates at once, as WeChat's sample shows it.
        let popup = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oF1]]></FromUserName><CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[T1]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List><List><TemplateId><![CDATA[T2]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>";
        let p = parse_events(popup).unwrap();
        assert!(p.receipts.is_empty());
        let got: Vec<(&str, bool, bool)> =
            p.changes.iter().map(|c| (c.template_id.as_str(), c.accepted, c.from_settings)).collect();
        assert_eq!(got, [("T1", true, false), ("T2", false, false)]);
        assert_eq!((p.changes[0].openid.as_str(), p.changes[0].created), ("oF1", 1610969440));
        // WeChat's documented change event wraps its list in the popup's element name.
        let change = "<xml><FromUserName><![CDATA[oF2]]></FromUserName><CreateTime>1</CreateTime><Event><![CDATA[subscribe_msg_change_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[T1]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgPopupEvent></xml>";
        let c = &parse_events(change).unwrap().changes[0];
        assert_eq!(
            (c.openid.as_str(), c.template_id.as_str(), c.accepted, c.from_settings),
            ("oF2", "T1", false, true)
        );
        let json = r#"{"FromUserName":"oF3","CreateTime":2,"Event":"subscribe_msg_change_event","SubscribeMsgChangeEvent":{"List":[{"TemplateId":"T9","SubscribeStatusString":"accept"}]}}"#;
        let j = &parse_events(json).unwrap().changes[0];
        assert_eq!((j.template_id.as_str(), j.accepted, j.from_settings), ("T9", true, true));
    }
}
