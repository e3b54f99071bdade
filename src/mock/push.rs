//! Delivery events pushed on request (`POST /mock/push`), as WeChat pushes them to an account's
//! message server: one signed XML body per accepted message not pushed before —
//! `TEMPLATESENDJOBFINISH` with its msgid for a template message, `subscribe_msg_sent_event`
//! with the template id for both subscribe kinds (they have no msgid). The signature is the
//! mock's own SHA-1 of the sorted token, timestamp and nonce, written from WECHAT-API.md.
//! Only loopback receivers are pushed to.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use super::record::Record;
use super::state::{MockState, Reply};
use crate::wechat::protocol::Kind;

/// What `POST /mock/push` is asked: where to push, the push token to sign with, and what the
/// subscribe events say (`ErrorCode` 0 and `success` unless given).
#[derive(Debug, Deserialize)]
pub(super) struct PushRequest {
    url: String,
    token: String,
    #[serde(default)]
    error_code: i64,
    #[serde(default)]
    error_status: Option<String>,
}

/// Push the events of every message accepted since the last push; answers how many were
/// pushed and how many the receiver acknowledged (HTTP 200 `success`).
pub(super) async fn push(state: Arc<MockState>, req: PushRequest) -> Reply {
    let loopback = reqwest::Url::parse(&req.url).ok().and_then(|u| u.host_str().map(str::to_string)).is_some_and(|h| {
        h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    if !loopback {
        return Reply::Json(json!({ "errcode": 40001, "errmsg": "the mock pushes to loopback addresses only" }));
    }
    let Ok(client) = reqwest::Client::builder().no_proxy().build() else {
        return Reply::Json(json!({ "errcode": -1, "errmsg": "system error" }));
    };
    let status =
        req.error_status.clone().unwrap_or_else(|| if req.error_code == 0 { "success" } else { "fail" }.into());
    let mut pushed = 0u64;
    let mut acknowledged = 0u64;
    for (n, record) in state.take_unpushed().into_iter().enumerate() {
        let Some(xml) = event_xml(&record, req.error_code, &status) else { continue };
        let timestamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()).to_string();
        let nonce = format!("{}{n}", record.seq);
        let signature = sign(&req.token, &timestamp, &nonce);
        let answer = client
            .post(&req.url)
            .query(&[
                ("signature", &signature),
                ("timestamp", &timestamp),
                ("nonce", &nonce),
                ("openid", &record.touser),
            ])
            .body(xml)
            .send()
            .await;
        pushed += 1;
        if let Ok(answer) = answer {
            if answer.status().is_success() && answer.text().await.is_ok_and(|t| t.trim() == "success") {
                acknowledged += 1;
            }
        }
    }
    Reply::Json(json!({ "errcode": 0, "errmsg": "ok", "pushed": pushed, "acknowledged": acknowledged }))
}

/// The event WeChat pushes once `record` is delivered (uniform messages: none).
fn event_xml(record: &Record, error_code: i64, status: &str) -> Option<String> {
    let created = record.at_unix_ms / 1000;
    let head = format!(
        "<xml><ToUserName><![CDATA[gh_mock]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>",
        record.touser
    );
    match record.kind {
        Kind::Template => {
            let msgid = record.msgid.as_deref()?;
            let status = if error_code == 0 { "success" } else { status };
            Some(format!(
                "{head}<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
            ))
        }
        Kind::Subscribe | Kind::MpSubscribe => Some(format!(
            "{head}<Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[{}]]></TemplateId><MsgID>{}</MsgID><ErrorCode>{error_code}</ErrorCode><ErrorStatus><![CDATA[{status}]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>",
            record.template_id,
            1_700_000_000_000_000_000u64 + record.seq
        )),
        Kind::Uniform => None,
    }
}

/// SHA-1 in hex of the three strings sorted and joined.
fn sign(token: &str, timestamp: &str, nonce: &str) -> String {
    let mut parts = [token, timestamp, nonce];
    parts.sort_unstable();
    let digest = Sha1::digest(parts.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_sha1_of_the_sorted_parts() {
        // WeChat's documented example: token "token", timestamp and nonce sorted, joined, hashed.
        let expected: String = Sha1::digest(b"12345671409304348token").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sign("token", "1409304348", "1234567"), expected);
        assert_eq!(sign("1234567", "token", "1409304348"), expected, "the order of the parts does not matter");
    }
}
