//! The mock's rules: token chains, send validation, scripted outcomes, quotas and the record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::rules::{openid_ok, subscribe_value_ok};
use super::MockConfig;
use crate::wechat::protocol::Kind;

/// Counters of everything the mock saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// GET /cgi-bin/token calls.
    pub token_calls: u64,
    /// POST /cgi-bin/stable_token calls.
    pub stable_token_calls: u64,
    pub forced_refreshes: u64,
    /// Requests to the send endpoints, whatever their answer.
    pub send_requests: u64,
    /// Answers of the send endpoints by errcode (0 = delivered).
    pub sends_by_errcode: BTreeMap<i64, u64>,
    pub http_502: u64,
    pub non_json: u64,
    /// Messages accepted (delivered), each recorded.
    pub accepted: u64,
    /// Accepted messages whose recipient, template and content had been delivered before.
    pub duplicate_deliveries: u64,
    /// Sends dropped because their client_msg_id was seen within 10 minutes.
    pub deduplicated: u64,
    pub quota_calls: u64,
    /// Times live tokens were invalidated by `invalidate_tokens_at`.
    pub invalidations: u64,
}

/// One accepted message, as WeChat would have delivered it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// Milliseconds since the mock started.
    pub at_ms: u64,
    pub kind: Kind,
    pub touser: String,
    pub template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgid: Option<String>,
    pub data: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    Stable,
    ClientCredential,
}

#[derive(Debug)]
struct Live {
    expires_at: Instant,
}

/// What the HTTP layer sends back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(Value),
    /// An HTTP 502 from a gateway.
    BadGateway,
    /// HTTP 200 with an HTML body.
    NotJson,
}

#[derive(Debug)]
struct Inner {
    rng: fastrand::Rng,
    live: HashMap<String, Live>,
    stable_current: Option<String>,
    cc_current: Option<String>,
    invalidate_at: Vec<u64>,
    day_count: u64,
    minute_start: Instant,
    minute_count: u64,
    seen_client_msg_ids: HashMap<(String, String), (Instant, Option<String>)>,
    flaky_seen: HashSet<String>,
    delivered_content: HashSet<u64>,
    records: Vec<Record>,
    stats: Stats,
    next_msgid: u64,
    record_file: Option<std::io::BufWriter<std::fs::File>>,
    last_forced: Option<Instant>,
}

/// The mock's whole state behind one short-held lock.
#[derive(Debug)]
pub struct MockState {
    config: MockConfig,
    started: Instant,
    inner: Mutex<Inner>,
}

const RID_CHARS: &[u8] = b"0123456789abcdef";

impl MockState {
    pub fn new(config: MockConfig) -> std::io::Result<Self> {
        let record_file = match &config.record {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        let mut invalidate_at = config.invalidate_tokens_at.clone();
        invalidate_at.sort_unstable();
        Ok(Self {
            inner: Mutex::new(Inner {
                rng: fastrand::Rng::with_seed(config.seed),
                live: HashMap::new(),
                stable_current: None,
                cc_current: None,
                invalidate_at,
                day_count: 0,
                minute_start: Instant::now(),
                minute_count: 0,
                seen_client_msg_ids: HashMap::new(),
                flaky_seen: HashSet::new(),
                delivered_content: HashSet::new(),
                records: Vec::new(),
                stats: Stats::default(),
                next_msgid: 4_674_045_479_742_390_277,
                record_file,
                last_forced: None,
            }),
            config,
            started: Instant::now(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// A new day: the daily quota is available again.
    pub fn reset_daily_quota(&self) {
        self.lock().day_count = 0;
    }

    /// Invalidate every live token now (as if another system force-refreshed them).
    pub fn invalidate_tokens(&self) {
        let mut g = self.lock();
        invalidate_all(&mut g);
    }

    pub fn flush_record(&self) {
        if let Some(f) = self.lock().record_file.as_mut() {
            let _ = f.flush();
        }
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.token_ttl.max(1))
    }

    /// The window before expiry in which a new token is handed out (300 s, or half a short TTL).
    fn overlap(&self) -> Duration {
        (self.ttl() / 2).min(Duration::from_secs(300))
    }

    fn error(&self, g: &mut Inner, errcode: i64, errmsg: &str) -> Reply {
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

    fn check_credentials(&self, g: &mut Inner, appid: Option<&str>, secret: Option<&str>) -> Option<Reply> {
        let appid = appid.unwrap_or_default();
        let secret = secret.unwrap_or_default();
        if appid.is_empty() {
            return Some(self.error(g, 41002, "appid missing"));
        }
        if secret.is_empty() {
            return Some(self.error(g, 41004, "appsecret missing"));
        }
        if self.config.appid.as_deref().is_some_and(|a| a != appid) {
            return Some(self.error(g, 40013, "invalid appid"));
        }
        if self.config.secret.as_deref().is_some_and(|s| s != secret) {
            return Some(self.error(g, 40125, "invalid appsecret"));
        }
        None
    }

    fn mint(&self, g: &mut Inner, chain: Chain) -> String {
        let token: String = std::iter::once(if chain == Chain::Stable { 'S' } else { 'C' })
            .chain((0..135).map(|_| g.rng.alphanumeric()))
            .collect();
        g.live.insert(token.clone(), Live { expires_at: Instant::now() + self.ttl() });
        token
    }

    /// `GET /cgi-bin/token`: every call mints a token; the previous one lives 5 more minutes.
    pub fn client_credential(&self, grant_type: Option<&str>, appid: Option<&str>, secret: Option<&str>) -> Reply {
        let mut g = self.lock();
        g.stats.token_calls += 1;
        if grant_type != Some("client_credential") {
            return self.error(&mut g, 40002, "invalid grant_type");
        }
        if let Some(r) = self.check_credentials(&mut g, appid, secret) {
            return r;
        }
        let now = Instant::now();
        if let Some(prev) = g.cc_current.take() {
            let overlap_end = now + self.overlap();
            if let Some(l) = g.live.get_mut(&prev) {
                l.expires_at = l.expires_at.min(overlap_end);
            }
        }
        let token = self.mint(&mut g, Chain::ClientCredential);
        g.cc_current = Some(token.clone());
        Reply::Json(json!({ "access_token": token, "expires_in": self.ttl().as_secs() }))
    }

    /// `POST /cgi-bin/stable_token`: the same token while valid; a new one in the overlap window
    /// or when forced (which kills the previous one at once).
    pub fn stable_token(&self, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.stable_token_calls += 1;
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return self.error(&mut g, 47001, "data format error");
        };
        if req.get("grant_type").and_then(Value::as_str) != Some("client_credential") {
            return self.error(&mut g, 40002, "invalid grant_type");
        }
        if let Some(r) = self.check_credentials(
            &mut g,
            req.get("appid").and_then(Value::as_str),
            req.get("secret").and_then(Value::as_str),
        ) {
            return r;
        }
        let now = Instant::now();
        let force = req.get("force_refresh").and_then(Value::as_bool).unwrap_or(false);
        if force {
            if g.last_forced.is_some_and(|t| now.duration_since(t) < Duration::from_secs(30)) {
                return self.error(&mut g, 45011, "api minute-quota reach limit, must slower, retry next minute");
            }
            g.last_forced = Some(now);
            g.stats.forced_refreshes += 1;
            if let Some(prev) = g.stable_current.take() {
                g.live.remove(&prev);
            }
        } else if let Some(cur) = g.stable_current.clone() {
            if let Some(l) = g.live.get(&cur) {
                let left = l.expires_at.saturating_duration_since(now);
                if left > self.overlap() {
                    return Reply::Json(json!({ "access_token": cur, "expires_in": left.as_secs() }));
                }
            }
        }
        let token = self.mint(&mut g, Chain::Stable);
        g.stable_current = Some(token.clone());
        Reply::Json(json!({ "access_token": token, "expires_in": self.ttl().as_secs() }))
    }

    /// Check `access_token`; `None` when it is live.
    fn check_token(&self, g: &mut Inner, token: Option<&str>) -> Option<Reply> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Some(self.error(g, 41001, "access_token missing"));
        };
        match g.live.get(token) {
            None => Some(self.error(g, 40001, "invalid credential, access_token is invalid or not latest")),
            Some(l) if l.expires_at <= Instant::now() => Some(self.error(g, 42001, "access_token expired")),
            Some(_) => None,
        }
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
        // Without --daily-quota the mock has no daily limit, and says so with a very large one.
        let limit = self.config.daily_quota.unwrap_or(1_000_000_000);
        let used = g.day_count.min(limit);
        Reply::Json(
            json!({ "errcode": 0, "errmsg": "ok", "quota": { "daily_limit": limit, "used": used, "remain": limit - used } }),
        )
    }

    /// One of the send endpoints. Returns the reply and how long to wait before giving it.
    pub fn send(&self, kind: Kind, token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        let reply = self.send_locked(&mut g, kind, token, body);
        let code = match &reply {
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
        reply
    }

    fn send_locked(&self, g: &mut Inner, kind: Kind, token: Option<&str>, body: &[u8]) -> Reply {
        g.stats.send_requests += 1;
        let n = g.stats.send_requests;
        if g.invalidate_at.first().is_some_and(|&at| n >= at) {
            g.invalidate_at.remove(0);
            invalidate_all(g);
        }
        let c = &self.config;
        let roll = g.rng.f64();
        if roll < c.http_502_rate {
            return Reply::BadGateway;
        }
        if roll < c.http_502_rate + c.non_json_rate {
            return Reply::NotJson;
        }
        if let Some(r) = self.check_token(g, token) {
            return r;
        }
        if roll < c.http_502_rate + c.non_json_rate + c.system_error_rate {
            return self.error(g, -1, "system error");
        }
        let now = Instant::now();
        if let Some(limit) = c.minute_quota {
            if now.duration_since(g.minute_start) >= Duration::from_millis(c.minute_window_ms.max(1)) {
                g.minute_start = now;
                g.minute_count = 0;
            }
            g.minute_count += 1;
            if g.minute_count > limit {
                return self.error(g, 45011, "api minute-quota reach limit, must slower, retry next minute");
            }
        }
        if let Some(limit) = c.daily_quota {
            if g.day_count >= limit {
                return self.error(g, 45009, "reach max api daily quota limit");
            }
        }
        g.day_count += 1;

        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return self.error(g, 47001, "data format error");
        };
        let msg = if kind == Kind::Uniform { req.get("mp_template_msg").unwrap_or(&Value::Null) } else { &req };
        let touser = req.get("touser").and_then(Value::as_str).unwrap_or_default().to_string();
        let template_id = msg.get("template_id").and_then(Value::as_str).unwrap_or_default().to_string();
        let data = msg.get("data").cloned().unwrap_or(Value::Null);
        if kind == Kind::Uniform {
            if self.config.uniform_withdrawn {
                return self.error(g, 45109, "uniform_send api has been offline");
            }
            if msg.get("appid").and_then(Value::as_str).unwrap_or_default().is_empty() {
                return self.error(g, 40013, "invalid appid");
            }
        }
        if template_id.is_empty() || (!c.template_ids.is_empty() && !c.template_ids.contains(&template_id)) {
            return self.error(g, 40037, "invalid template_id");
        }
        let Some(fields) = data.as_object() else {
            return self.error(g, 47001, "data format error");
        };
        if !openid_ok(&touser) {
            return self.error(g, 40003, "invalid openid");
        }
        if let Some(r) = self.scripted(g, &touser) {
            return r;
        }
        for (key, field) in fields {
            let value = field.get("value").and_then(Value::as_str).unwrap_or_default();
            if value.is_empty() {
                return self.error(g, 47003, &format!("argument invalid! data.{key}.value is empty"));
            }
            if kind == Kind::Subscribe && !subscribe_value_ok(key, value) {
                return self.error(g, 47003, &format!("argument invalid! data.{key}.value invalid"));
            }
        }
        let client_msg_id =
            req.get("client_msg_id").and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from);
        if let (Kind::Template, Some(id)) = (kind, &client_msg_id) {
            let key = (touser.clone(), id.clone());
            if let Some((at, msgid)) = g.seen_client_msg_ids.get(&key) {
                if now.duration_since(*at) < Duration::from_secs(600) {
                    let msgid = msgid.clone();
                    g.stats.deduplicated += 1;
                    return Reply::Json(
                        json!({ "errcode": 0, "errmsg": "ok", "msgid": msgid.and_then(|m| m.parse::<u64>().ok()) }),
                    );
                }
            }
        }
        let msgid = (kind == Kind::Template).then(|| {
            g.next_msgid += 1;
            g.next_msgid
        });
        if let (Some(id), Some(m)) = (&client_msg_id, msgid) {
            g.seen_client_msg_ids.insert((touser.clone(), id.clone()), (now, Some(m.to_string())));
        }
        let content = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (kind as u8, &touser, &template_id, data.to_string()).hash(&mut h);
            h.finish()
        };
        if !g.delivered_content.insert(content) {
            g.stats.duplicate_deliveries += 1;
        }
        g.stats.accepted += 1;
        let record = Record {
            seq: g.stats.accepted,
            at_ms: now.duration_since(self.started).as_millis() as u64,
            kind,
            touser,
            template_id,
            client_msg_id,
            msgid: msgid.map(|m| m.to_string()),
            data,
        };
        if let Some(f) = g.record_file.as_mut() {
            let _ = serde_json::to_writer(&mut *f, &record).map(|_| f.write_all(b"\n"));
        }
        g.records.push(record);
        match msgid {
            Some(m) => Reply::Json(json!({ "errcode": 0, "errmsg": "ok", "msgid": m })),
            None => Reply::Json(json!({ "errcode": 0, "errmsg": "ok" })),
        }
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

fn invalidate_all(g: &mut Inner) {
    g.live.clear();
    g.stable_current = None;
    g.cc_current = None;
    g.stats.invalidations += 1;
}
