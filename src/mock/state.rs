//! The mock's rules: token chains, send validation, scripted outcomes, quotas and the record.

use std::collections::BTreeMap;

// foldhash rather than SipHash: these maps are touched on every request and hold no
// attacker-chosen keys worth the cost.
use hashbrown::{HashMap, HashSet};
use std::io::Write;
use std::num::NonZeroU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::body::{value_of, SendBody};
use super::config::MockConfig;
use super::record::{Key, Keys, Record, Stored};
use super::rules::{openid_ok, subscribe_value_ok};
use crate::wechat::protocol::Kind;

/// Counters of everything the mock saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// GET /cgi-bin/token calls.
    pub token_calls: u64,
    /// POST /cgi-bin/stable_token calls.
    pub stable_token_calls: u64,
    /// `stable_token` calls with `force_refresh`.
    pub forced_refreshes: u64,
    /// Requests to the send endpoints, whatever their answer.
    pub send_requests: u64,
    /// Answers of the send endpoints by errcode (0 = delivered).
    pub sends_by_errcode: BTreeMap<i64, u64>,
    /// HTTP 502 answers.
    pub http_502: u64,
    /// Answers that were not JSON.
    pub non_json: u64,
    /// Messages accepted (delivered), each recorded.
    pub accepted: u64,
    /// Accepted messages whose recipient, template and content had been delivered before.
    pub duplicate_deliveries: u64,
    /// Sends dropped because their client_msg_id was seen within 10 minutes.
    pub deduplicated: u64,
    /// `quota/get` calls.
    pub quota_calls: u64,
    /// Template list requests (either endpoint).
    pub template_list_calls: u64,
    /// Listing calls of followers (`user/get`, `user/tag/get`), whatever their answer.
    pub follower_list_calls: u64,
    /// `user/info/batchget` calls.
    pub user_info_calls: u64,
    /// `tags/get` calls.
    pub tag_list_calls: u64,
    /// `api_get_authorizer_list` calls.
    pub authorizer_list_calls: u64,
    /// Template list requests that waited for [`MockState::hold_template_lists`] to be lifted.
    pub template_lists_held: u64,
    /// Times live tokens were invalidated by `invalidate_tokens_at`.
    pub invalidations: u64,
    /// TCP connections accepted (a client that keeps its connections alive opens few).
    pub connections: u64,
    /// Send answers held back by `--latency-ms`.
    pub delayed_answers: u64,
    /// The time they were held, in all (µs): the mean is the round trip a client really saw,
    /// the timer's rounding included.
    pub answer_delay_us: u64,
    /// `component_verify_ticket`s issued and pushed (`/mock/push-ticket`).
    #[serde(default)]
    pub tickets_pushed: u64,
    /// `api_component_token` calls.
    #[serde(default)]
    pub component_token_calls: u64,
    /// `api_authorizer_token` calls.
    #[serde(default)]
    pub authorizer_token_calls: u64,
    /// Messages accepted with a third-party platform's token, by the merchant it was issued for.
    #[serde(default)]
    pub accepted_by_authorizer: BTreeMap<String, u64>,
}

/// What the HTTP layer sends back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A JSON body with HTTP 200.
    Json(Value),
    /// A send accepted (errcode 0): its JSON, already written.
    Ok(String),
    /// An HTTP 502 from a gateway.
    BadGateway,
    /// HTTP 200 with an HTML body.
    NotJson,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) rng: fastrand::Rng,
    pub(super) live: HashMap<String, Live>,
    pub(super) stable_current: Option<String>,
    pub(super) cc_current: Option<String>,
    pub(super) invalidate_at: Vec<u64>,
    /// Messages counted against today's quota, by the app whose token sent them (a
    /// platform's merchant by its appid; the account itself under ""): WeChat's quota is
    /// per app.
    pub(super) day_counts: HashMap<String, u64>,
    pub(super) minute_start: Instant,
    pub(super) minute_count: u64,
    /// (touser, client_msg_id) of accepted template messages → the record's index.
    pub(super) seen_client_msg_ids: HashMap<Key, usize>,
    pub(super) flaky_seen: HashSet<String>,
    pub(super) delivered_content: HashSet<Key>,
    /// (touser, template) of one-off subscriptions used up: a second message answers 43101.
    pub(super) subscriptions_used: HashSet<Key>,
    /// Records whose delivery events have been pushed (`POST /mock/push`).
    pub(super) pushed: usize,
    pub(super) records: Vec<Stored>,
    pub(super) bodies: Vec<u8>,
    pub(super) stats: Stats,
    pub(super) next_msgid: u64,
    pub(super) record_file: Option<std::io::BufWriter<std::fs::File>>,
    pub(super) last_forced: Option<Instant>,
    /// The third-party platform's tickets, tokens and merchants.
    pub(super) component: super::component::World,
    /// The account's followers and tags.
    pub(super) followers: super::followers::Population,
}

/// The mock's whole state behind one short-held lock.
#[derive(Debug)]
pub struct MockState {
    pub(super) config: MockConfig,
    catalogue: super::catalogue::MockCatalogue,
    keys: Keys,
    started: Instant,
    /// The wall clock when `started` was read (Unix milliseconds): records' wall times are this
    /// plus their monotonic offset, one clock read per message.
    started_unix_ms: u64,
    inner: Mutex<Inner>,
    /// While true, template list requests wait (tests change the world while a sender waits).
    template_hold: tokio::sync::watch::Sender<bool>,
}

const RID_CHARS: &[u8] = b"0123456789abcdef";

impl MockState {
    /// A mock in its initial state (opens the record file if asked).
    pub fn new(config: MockConfig) -> std::io::Result<Self> {
        let record_file = match &config.record {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        let catalogue = super::catalogue::MockCatalogue::load(config.templates.as_deref())?;
        let mut invalidate_at = config.invalidate_tokens_at.clone();
        invalidate_at.sort_unstable();
        let followers = match &config.followers_file {
            Some(path) => super::followers::Population::read(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
            None => super::followers::Population::draw(config.followers, config.seed),
        };
        Ok(Self {
            template_hold: tokio::sync::watch::Sender::new(false),
            inner: Mutex::new(Inner {
                rng: fastrand::Rng::with_seed(config.seed),
                live: HashMap::new(),
                stable_current: None,
                cc_current: None,
                invalidate_at,
                day_counts: HashMap::new(),
                minute_start: Instant::now(),
                minute_count: 0,
                seen_client_msg_ids: HashMap::new(),
                flaky_seen: HashSet::new(),
                subscriptions_used: HashSet::new(),
                pushed: 0,
                delivered_content: HashSet::new(),
                records: Vec::new(),
                bodies: Vec::new(),
                stats: Stats::default(),
                next_msgid: 4_674_045_479_742_390_277,
                record_file,
                last_forced: None,
                component: Default::default(),
                followers,
            }),
            config,
            catalogue,
            keys: Keys::default(),
            started: Instant::now(),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        })
    }

    /// Hold template list requests (`true`) until released (`false`): a sender is then known
    /// to be waiting on its start-up, for as long as a test needs.
    pub fn hold_template_lists(&self, hold: bool) {
        self.template_hold.send_replace(hold);
    }

    /// Wait while template lists are held (counted in `template_lists_held`).
    pub(super) async fn template_hold_lifted(&self) {
        let mut hold = self.template_hold.subscribe();
        if *hold.borrow_and_update() {
            self.lock().stats.template_lists_held += 1;
            let _ = hold.wait_for(|held| !held).await;
        }
    }

    /// The two template list endpoints.
    pub fn templates(&self, kind: Kind, token: Option<&str>) -> Reply {
        let mut g = self.lock();
        g.stats.template_list_calls += 1;
        if let Some(r) = self.check_token(&mut g, token) {
            return r;
        }
        if self.config.deny_template_list {
            return self.error(&mut g, 48001, "api unauthorized");
        }
        let app = app_of(&g, token);
        Reply::Json(match kind {
            Kind::Subscribe | Kind::MpSubscribe => self.catalogue.subscribe_list(&app),
            _ => self.catalogue.official_list(&app),
        })
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its configuration.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// Its counters.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Every accepted message.
    pub fn records(&self) -> Vec<Record> {
        let g = self.lock();
        let ends = g.records.iter().skip(1).map(|r| r.body_start).chain([g.bodies.len()]);
        g.records.iter().zip(ends).zip(1..).map(|((r, end), seq)| r.record(seq, &g.bodies, end)).collect()
    }

    /// The accepted messages whose delivery events have not been pushed yet, now counted as
    /// pushed.
    pub fn take_unpushed(&self) -> Vec<Record> {
        let mut g = self.lock();
        let from = g.pushed.min(g.records.len());
        g.pushed = g.records.len();
        let ends = g.records.iter().skip(from + 1).map(|r| r.body_start).chain([g.bodies.len()]);
        let records: Vec<Record> = g.records[from..]
            .iter()
            .zip(ends)
            .zip(from as u64 + 1..)
            .map(|((r, end), seq)| r.record(seq, &g.bodies, end))
            .collect();
        records
    }

    /// A send's answer was held back for `held`.
    pub fn count_delay(&self, held: std::time::Duration) {
        let mut g = self.lock();
        g.stats.delayed_answers += 1;
        g.stats.answer_delay_us += held.as_micros() as u64;
    }

    /// A connection was accepted.
    pub fn count_connection(&self) {
        self.lock().stats.connections += 1;
    }

    /// A new day: the daily quota is available again.
    pub fn reset_daily_quota(&self) {
        self.lock().day_counts.clear();
        self.reset_listing_calls();
    }

    /// Invalidate every live token now (as if another system force-refreshed them).
    pub fn invalidate_tokens(&self) {
        let mut g = self.lock();
        invalidate_all(&mut g);
    }

    /// Write the record file's buffer out.
    pub fn flush_record(&self) {
        if let Some(f) = self.lock().record_file.as_mut() {
            let _ = f.flush();
        }
    }

    pub(super) fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.token_ttl.max(1))
    }

    /// The window before expiry in which a new token is handed out (300 s, or half a short TTL).
    pub(super) fn overlap(&self) -> Duration {
        (self.ttl() / 2).min(Duration::from_secs(300))
    }

    pub(super) fn error(&self, g: &mut Inner, errcode: i64, errmsg: &str) -> Reply {
        let mut rid = String::with_capacity(26);
        for i in 0..26 {
            if i == 8 || i == 17 {
                rid.push('-');
            } else {
                rid.push(RID_CHARS[g.rng.usize(..16)] as char);
            }
        }
        Reply::Json(json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {rid}") }))
    }

    /// `POST /cgi-bin/openapi/quota/get`.
    pub fn quota(&self, token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.quota_calls += 1;
        if let Some(r) = self.check_token(&mut g, token) {
            return r;
        }
        let path = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("cgi_path").and_then(Value::as_str).map(String::from));
        if path.is_none() {
            return self.error(&mut g, 47001, "data format error");
        }
        // Without a daily quota the mock has no daily limit, and says so with a very large one.
        let limit = self.config.daily_quota.unwrap_or(1_000_000_000);
        let used = g.day_counts.get(&app_of(&g, token)).copied().unwrap_or(0).min(limit);
        Reply::Json(
            json!({ "errcode": 0, "errmsg": "ok", "quota": { "daily_limit": limit, "used": used, "remain": limit - used } }),
        )
    }

    /// One of the send endpoints. Returns the reply and how long to wait before giving it.
    pub fn send(&self, kind: Kind, token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        let reply = self.send_locked(&mut g, kind, token, body);
        let code = match &reply {
            Reply::Ok(_) => 0,
            Reply::Json(v) => v.get("errcode").and_then(Value::as_i64).unwrap_or(0),
            Reply::BadGateway => {
                g.stats.http_502 += 1;
                return reply;
            }
            Reply::NotJson => {
                g.stats.non_json += 1;
                return reply;
            }
        };
        *g.stats.sends_by_errcode.entry(code).or_default() += 1;
        if let (Reply::Ok(_), Some(token)) = (&reply, token) {
            if let Some(account) = g.live.get(token).and_then(|l| l.account.clone()) {
                *g.stats.accepted_by_authorizer.entry(account.clone()).or_default() += 1;
                if let Some(stored) = g.records.last_mut() {
                    stored.authorizer = Some(account.clone());
                }
                super::component::count_accepted(&mut g, &account);
            }
        }
        reply
    }

    /// Count and record an accepted message: its body's bytes kept (read again by
    /// [`MockState::records`]), and a line in the record file when there is one.
    fn keep(&self, g: &mut Inner, kind: Kind, body: &[u8], msgid: Option<u64>, at_ms: u64) {
        g.stats.accepted += 1;
        // The record keeps the body's bytes; `records()` reads them again when asked.
        let start = g.bodies.len();
        g.bodies.extend_from_slice(body);
        let stored = Stored {
            at_ms,
            at_unix_ms: self.started_unix_ms + at_ms,
            kind,
            msgid: msgid.and_then(NonZeroU64::new),
            body_start: start,
            authorizer: None,
        };
        if g.record_file.is_some() {
            let record = stored.record(g.records.len() as u64 + 1, &g.bodies, g.bodies.len());
            if let Some(f) = g.record_file.as_mut() {
                let _ = serde_json::to_writer(&mut *f, &record).map(|_| f.write_all(b"\n"));
            }
        }
        g.records.push(stored);
    }

    /// What happens to a send before its body is read: the scripted token invalidation, the
    /// seeded faults (502, not JSON, -1), the token's check and the quotas. The app the send is
    /// for when it goes on (see [`app_of`]), else the answer.
    fn before_reading(&self, g: &mut Inner, token: Option<&str>, now: Instant) -> Result<String, Reply> {
        g.stats.send_requests += 1;
        let n = g.stats.send_requests;
        if g.invalidate_at.first().is_some_and(|&at| n >= at) {
            g.invalidate_at.remove(0);
            invalidate_all(g);
        }
        let c = &self.config;
        let roll = g.rng.f64();
        if roll < c.http_502_rate {
            return Err(Reply::BadGateway);
        }
        if roll < c.http_502_rate + c.non_json_rate {
            return Err(Reply::NotJson);
        }
        if let Some(r) = self.check_token(g, token) {
            return Err(r);
        }
        if roll < c.http_502_rate + c.non_json_rate + c.system_error_rate {
            return Err(self.error(g, -1, "system error"));
        }
        if let Some(limit) = c.minute_quota {
            if now.duration_since(g.minute_start) >= Duration::from_millis(c.minute_window_ms.max(1)) {
                g.minute_start = now;
                g.minute_count = 0;
            }
            g.minute_count += 1;
            if g.minute_count > limit {
                return Err(self.error(g, 45011, "api minute-quota reach limit, must slower, retry next minute"));
            }
        }
        let app = app_of(g, token);
        let used = g.day_counts.entry(app.clone()).or_default();
        if c.daily_quota.is_some_and(|limit| *used >= limit) {
            return Err(self.error(g, 45009, "reach max api daily quota limit"));
        }
        *used += 1;
        Ok(app)
    }

    fn send_locked(&self, g: &mut Inner, kind: Kind, token: Option<&str>, body: &[u8]) -> Reply {
        let now = Instant::now();
        let app = match self.before_reading(g, token, now) {
            Ok(app) => app,
            Err(refused) => return refused,
        };
        let c = &self.config;
        let Ok(req) = serde_json::from_slice::<SendBody>(body) else {
            return self.error(g, 47001, "data format error");
        };
        // uniform_send carries the message in `mp_template_msg`; the others at the top level.
        let (template_id, data) = match kind {
            Kind::Uniform => (&req.mp_template_msg.template_id, &req.mp_template_msg.data),
            _ => (&req.template_id, &req.data),
        };
        let touser = req.touser.as_str();
        let template_id = template_id.as_str();
        if kind == Kind::Uniform {
            if self.config.uniform_withdrawn {
                return self.error(g, 45109, "uniform_send api has been offline");
            }
            if req.mp_template_msg.appid.as_str().is_empty() {
                return self.error(g, 40013, "invalid appid");
            }
        }
        if template_id.is_empty() || (!c.template_ids.is_empty() && !c.template_ids.iter().any(|t| t == template_id)) {
            return self.error(g, 40037, "invalid template_id");
        }
        let Some(fields) = data.fields() else {
            return self.error(g, 47001, "data format error");
        };
        if let Some((errcode, errmsg)) = self.catalogue.judge(kind, &app, template_id, |key| value_of(fields, key)) {
            return self.error(g, errcode, &errmsg);
        }
        if !openid_ok(touser) {
            return self.error(g, 40003, "invalid openid");
        }
        if let Some(r) = self.scripted(g, touser) {
            return r;
        }
        if let Some(refused) = self.judge_values(g, kind, fields, touser, (&app, template_id)) {
            return refused;
        }
        let client_msg_id = req.client_msg_id.as_str();
        let at_ms = now.duration_since(self.started).as_millis() as u64;
        // WeChat de-duplicates template messages by (touser, client_msg_id) for 10 minutes. The
        // key is a 128-bit hash of the pair (two independent seeds): no string kept per message.
        let dedupe_key = (kind == Kind::Template && !client_msg_id.is_empty() && !c.no_dedupe)
            .then(|| self.keys.pair(touser, client_msg_id));
        if let Some(key) = dedupe_key {
            let earlier = g.seen_client_msg_ids.get(&key).and_then(|&i| g.records.get(i));
            if let Some(&Stored { at_ms: at, msgid: Some(msgid), .. }) = earlier {
                if at_ms.saturating_sub(at) < 600_000 {
                    g.stats.deduplicated += 1;
                    return Reply::Ok(format!(r#"{{"errcode":0,"errmsg":"ok","msgid":{msgid}}}"#));
                }
            }
        }
        let msgid = (kind == Kind::Template).then(|| {
            g.next_msgid += 1;
            g.next_msgid
        });
        if let (Some(key), Some(_)) = (dedupe_key, msgid) {
            let index = g.records.len();
            g.seen_client_msg_ids.insert(key, index);
        }
        if !g.delivered_content.insert(self.keys.content(kind, touser, template_id, fields)) {
            g.stats.duplicate_deliveries += 1;
        }
        self.keep(g, kind, body, msgid, at_ms);
        // The common answer written directly, not built as a JSON tree.
        Reply::Ok(match msgid {
            Some(m) => format!(r#"{{"errcode":0,"errmsg":"ok","msgid":{m}}}"#),
            None => r#"{"errcode":0,"errmsg":"ok"}"#.to_string(),
        })
    }

    /// The values' own rules (none empty; the subscribe kinds' types, 47003), then the follower's
    /// subscription: a one-off one (type 2) allows one message, then 43101 until they subscribe
    /// again. A refused send uses no subscription.
    fn judge_values(
        &self,
        g: &mut Inner,
        kind: Kind,
        fields: &[(super::body::Text<'_>, super::body::Text<'_>)],
        touser: &str,
        (app, template_id): (&str, &str),
    ) -> Option<Reply> {
        let subscribe = matches!(kind, Kind::Subscribe | Kind::MpSubscribe);
        for (key, value) in fields {
            let (key, value) = (key.as_str(), value.as_str());
            if value.is_empty() {
                return Some(self.error(g, 47003, &format!("argument invalid! data.{key}.value is empty")));
            }
            if subscribe && !subscribe_value_ok(key, value) {
                return Some(self.error(g, 47003, &format!("argument invalid! data.{key}.value invalid")));
            }
        }
        if subscribe
            && self.catalogue.one_off(app, template_id)
            && !g.subscriptions_used.insert(self.keys.pair(touser, template_id))
        {
            return Some(self.error(g, 43101, "user refuse to accept the msg"));
        }
        None
    }

    /// Outcomes scripted by openid prefix (documented in `wxsend mock --help`).
    fn scripted(&self, g: &mut Inner, touser: &str) -> Option<Reply> {
        let fixed = [
            ("oREFUSE", 43101, "user refuse to accept the msg"),
            ("oUNSUB", 43004, "require subscribe"),
            ("oBAD", 40003, "invalid openid"),
            ("oBLOCK", 48002, "api forbidden for user"),
        ];
        for (prefix, code, msg) in fixed {
            if touser.starts_with(prefix) {
                return Some(self.error(g, code, msg));
            }
        }
        // Transient answers: only the first request for the openid gets them.
        if touser.starts_with("oFLAKY") && g.flaky_seen.insert(touser.to_string()) {
            return Some(self.error(g, -1, "system error"));
        }
        if touser.starts_with("oBUSY") && g.flaky_seen.insert(touser.to_string()) {
            return Some(self.error(g, 43108, "concurrent send to same user"));
        }
        if let Some(rest) = touser.strip_prefix("oERR") {
            let (neg, rest) = match rest.strip_prefix('m') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(code) = digits.parse::<i64>() {
                let code = if neg { -code } else { code };
                return Some(self.error(g, code, "scripted error"));
            }
        }
        None
    }
}

/// A live access token.
#[derive(Debug)]
pub(super) struct Live {
    /// When it stops working.
    pub(super) expires_at: Instant,
    /// The merchant a third-party platform's `authorizer_access_token` sends for (`None`: the
    /// account's own token).
    pub(super) account: Option<String>,
}

/// The app a call with `token` is made for — whose daily quota it counts against and whose
/// templates it may use: the merchant a platform's token was issued for, else the account's
/// own ("").
fn app_of(g: &Inner, token: Option<&str>) -> String {
    token.and_then(|t| g.live.get(t)).and_then(|l| l.account.clone()).unwrap_or_default()
}

/// Every live token dies at once (another system force-refreshed them).
pub(super) fn invalidate_all(g: &mut Inner) {
    g.live.clear();
    g.stable_current = None;
    g.cc_current = None;
    g.stats.invalidations += 1;
}
