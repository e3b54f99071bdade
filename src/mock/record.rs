//! What the mock keeps of each accepted message, and the hashes it recognises repeats by.
//!
//! A record is kept as the request's own bytes (appended to one buffer) plus a few numbers, and
//! read back into a [`Record`] only when asked (`/mock/records`, the record file, tests): a
//! million messages cost their bodies' size, not a JSON tree each.

use std::hash::{BuildHasher, Hash, Hasher};
use std::num::NonZeroU64;

use foldhash::quality::FixedState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::Text;
use crate::wechat::protocol::Kind;

/// One accepted message, as WeChat would have delivered it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// Its place in the record (1-based).
    pub seq: u64,
    /// Milliseconds since the mock started.
    pub at_ms: u64,
    /// When it was accepted (Unix milliseconds).
    pub at_unix_ms: u64,
    /// The endpoint it came through.
    pub kind: Kind,
    /// The recipient.
    pub touser: String,
    /// The template.
    pub template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The sender's id for WeChat's de-duplication.
    pub client_msg_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The msgid answered (template messages).
    pub msgid: Option<String>,
    /// The `data` as received.
    pub data: Value,
    /// The merchant it was sent for, when a third-party platform's `authorizer_access_token`
    /// sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<String>,
}

/// A 128-bit key (two 64-bit halves, so a table entry needs no 16-byte alignment).
pub(super) type Key = [u64; 2];

/// One accepted message as stored: its body's place in the buffer of bodies (it ends where the
/// next one starts).
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// Milliseconds since the mock started.
    pub at_ms: u64,
    /// When it was accepted (Unix milliseconds).
    pub at_unix_ms: u64,
    /// The endpoint it came through.
    pub kind: Kind,
    /// The msgid answered (template messages).
    pub msgid: Option<NonZeroU64>,
    /// Where the request body starts in the buffer of bodies.
    pub body_start: usize,
    /// The merchant it was sent for (a platform's authorizer token).
    pub authorizer: Option<String>,
}

impl Stored {
    /// The message as a [`Record`]: its body (up to `body_end`) read again; it was accepted, so
    /// it is JSON.
    pub(super) fn record(&self, seq: u64, bodies: &[u8], body_end: usize) -> Record {
        let req: Value =
            bodies.get(self.body_start..body_end).and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        let msg = if self.kind == Kind::Uniform { &req["mp_template_msg"] } else { &req };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Record {
            seq,
            at_ms: self.at_ms,
            at_unix_ms: self.at_unix_ms,
            kind: self.kind,
            touser: text(&req["touser"]),
            template_id: text(&msg["template_id"]),
            client_msg_id: req["client_msg_id"].as_str().filter(|s| !s.is_empty()).map(String::from),
            msgid: self.msgid.map(|m| m.to_string()),
            data: msg["data"].clone(),
            authorizer: self.authorizer.clone(),
        }
    }
}

/// The hashes that recognise a repeated `(touser, client_msg_id)` and a repeated delivery:
/// 128 bits from two independently seeded hashers, so a million messages collide with
/// probability about 2^-88 and no string is kept per message.
#[derive(Debug)]
pub(super) struct Keys {
    low: FixedState,
    high: FixedState,
}

impl Default for Keys {
    fn default() -> Self {
        Self { low: FixedState::with_seed(0x5157_4d4f_434b_0001), high: FixedState::with_seed(0x9e37_79b9_7f4a_7c15) }
    }
}

impl Keys {
    /// Both halves of a key: the same bytes fed to the two hashers.
    fn wide<F: Fn(&mut foldhash::quality::FoldHasher<'static>)>(&self, feed: F) -> Key {
        let mut low = self.low.build_hasher();
        let mut high = self.high.build_hasher();
        feed(&mut low);
        feed(&mut high);
        [low.finish(), high.finish()]
    }

    /// The key of WeChat's de-duplication: the recipient and the sender's id.
    pub(super) fn pair(&self, touser: &str, client_msg_id: &str) -> Key {
        self.wide(|h| {
            touser.hash(h);
            client_msg_id.hash(h);
        })
    }

    /// What a recipient sees: endpoint, recipient, template and every key with its value.
    pub(super) fn content(&self, kind: Kind, touser: &str, template_id: &str, fields: &[(Text, Text)]) -> Key {
        self.wide(|h| {
            (kind as u8).hash(h);
            touser.hash(h);
            template_id.hash(h);
            for (k, v) in fields {
                k.as_str().hash(h);
                v.as_str().hash(h);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_tell_pairs_apart() {
        let (a, b) = (Keys::default(), Keys::default());
        assert_eq!(a.pair("o1", "c1"), b.pair("o1", "c1"), "the same pair, the same key, in any instance");
        assert_ne!(a.pair("o1", "c1"), a.pair("o1c", "1"), "the boundary between the two is part of the key");
        assert_ne!(a.pair("o1", "c1"), a.pair("o2", "c1"));
        let f: Vec<(Text, Text)> = serde_json::from_str::<Vec<(Text, Text)>>(r#"[["k","v"]]"#).unwrap();
        assert_eq!(a.content(Kind::Template, "o", "T", &f), b.content(Kind::Template, "o", "T", &f));
        assert_ne!(a.content(Kind::Template, "o", "T", &f), a.content(Kind::Subscribe, "o", "T", &f));
    }
}
