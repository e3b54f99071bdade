//! The test send: one row's message to the operator's own openid, journaled apart from the
//! campaign, never counted as the row sent.

use std::sync::Arc;

use bytes::Bytes;

use crate::campaign::{Campaign, Rendered};
use crate::journal::{JournalWriter, Line};
use crate::wechat::{Failure, Outcome, Sender};

use super::text::mask_openid;

/// What a test send needs; cheap to clone into a task.
#[derive(Debug, Clone)]
pub struct TestSender {
    /// The campaign whose row is sent.
    pub campaign: Arc<Campaign>,
    /// The client and token cache of the run.
    pub sender: Sender,
    /// The run's journal, where the test is recorded as a `test` line.
    pub journal: JournalWriter,
}

/// How a test send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResult {
    /// WeChat accepted it.
    Delivered {
        /// The msgid WeChat returned (template messages).
        msgid: Option<String>,
    },
    /// WeChat (or the transport) refused it.
    Failed(Failure),
    /// No token could be had.
    NoToken(String),
    /// The row does not exist.
    NoRow,
}

/// A finished test send, for both front ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSend {
    /// The row (0-based) whose message was sent.
    pub row: usize,
    /// Where it went.
    pub openid: String,
    /// What came of it.
    pub result: TestResult,
}

impl std::fmt::Display for TestSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.row + 1;
        match &self.result {
            TestResult::Delivered { msgid } => {
                let msgid = msgid.as_ref().map(|m| format!(" (msgid {m})")).unwrap_or_default();
                let text =
                    crate::tr!("test_send.delivered", row = n, openid = mask_openid(&self.openid), msgid = msgid);
                f.write_str(&text)
            }
            TestResult::Failed(fail) => {
                let hint = fail.code().hint().map(|h| format!(" — {h}")).unwrap_or_default();
                let why = format!("{} {}{hint}", fail.code(), fail.errmsg);
                f.write_str(&crate::tr!("test_send.failed", row = n, why = why))
            }
            TestResult::NoToken(e) => f.write_str(&crate::tr!("test_send.failed", row = n, why = e.to_string())),
            TestResult::NoRow => f.write_str(&crate::tr!("test_send.no_row", row = n)),
        }
    }
}

impl TestSender {
    /// Send row `row`'s message to `openid` (the operator's own).
    pub async fn send(&self, row: usize, openid: &str) -> TestSend {
        let done = |result| TestSend { row, openid: openid.to_string(), result };
        let Some(r) = self.campaign.recipients.row(row) else { return done(TestResult::NoRow) };
        let mut rendered = Rendered::default();
        self.campaign.template.render(&r, &mut rendered);
        // Its own id: a test must never make WeChat drop the real message later.
        rendered.client_msg_id = format!(
            "test{}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        );
        let mut buf = Vec::new();
        self.campaign.template.write_body(openid, &rendered, &mut buf);
        let result = match self.sender.send(self.campaign.template.kind, &Bytes::from(buf)).await {
            Ok((Outcome::Delivered { msgid }, _)) => TestResult::Delivered { msgid },
            Ok((Outcome::Failed(f), _)) => TestResult::Failed(f),
            Err(e) => TestResult::NoToken(e.to_string()),
        };
        let (errcode, errmsg) = match &result {
            TestResult::Delivered { .. } => (Some(0), "ok".to_string()),
            TestResult::Failed(f) => (f.errcode, f.errmsg.clone()),
            TestResult::NoToken(e) => (None, e.clone()),
            TestResult::NoRow => (None, String::new()),
        };
        self.journal.append(Line::Test { row, openid: openid.to_string(), errcode, errmsg });
        done(result)
    }
}
