//! The mock's third-party platform (开放平台 component), with rules of its own from WECHAT-API.md:
//! one platform (the constants below) whose verify tickets the mock issues and pushes, signed and
//! encrypted as WeChat pushes them; `api_component_token` checks the secret and the ticket;
//! `api_authorizer_token` checks the platform's token and the merchant's refresh token, rotates
//! it when asked, and answers 61023 for a withdrawn merchant or a superseded refresh token.
//! Merchants authorize and withdraw through `/mock/authorize` and `/mock/withdraw`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use hashbrown::HashMap;
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::serve::respond;
use super::state::{Inner, Live, MockState, Reply};

/// The mock platform's AppID.
pub const COMPONENT_APPID: &str = "wxc0c0c0c0c0c0c0c0";
/// The mock platform's AppSecret.
pub const COMPONENT_SECRET: &str = "mock-component-secret";
/// The token the mock signs its pushes with (the platform's message-check token).
pub const PUSH_TOKEN: &str = "mock-component-push-token";
/// The EncodingAESKey the mock encrypts its pushes with.
pub const AES_KEY: &str = "MockComponentEncodingAESKey0123456789abcdef";

/// How long a pushed ticket stays valid.
const TICKET_LIFE: Duration = Duration::from_secs(12 * 3600);

/// A merchant as the platform sees it.
#[derive(Debug)]
struct Merchant {
    /// The one refresh token that works now.
    refresh_token: String,
    withdrawn: bool,
    /// `/mock/withdraw?after=N`: messages still accepted for it before it withdraws.
    withdraw_after: Option<u64>,
}

/// The platform's side of the mock.
#[derive(Debug, Default)]
pub(super) struct World {
    /// Tickets pushed, with when they expire.
    tickets: HashMap<String, Instant>,
    /// The platform's live tokens.
    platform_tokens: HashMap<String, Instant>,
    merchants: HashMap<String, Merchant>,
    /// Every `api_authorizer_token` hands out a new refresh token (the old one dies).
    rotate: bool,
}

#[derive(Deserialize)]
struct AppidQuery {
    appid: Option<String>,
    /// `/mock/withdraw`: also push the `unauthorized` event to this URL.
    url: Option<String>,
    /// `/mock/withdraw`: withdraw once this many more messages were accepted for the merchant.
    after: Option<u64>,
}

#[derive(Deserialize)]
struct PushQuery {
    url: Option<String>,
}

#[derive(Deserialize)]
struct OnQuery {
    on: Option<bool>,
}

#[derive(Deserialize)]
struct PlatformTokenQuery {
    component_access_token: Option<String>,
}

/// The platform's endpoints and the mock's controls of it.
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/cgi-bin/component/api_component_token", post(component_token))
        .route("/cgi-bin/component/api_authorizer_token", post(authorizer_token))
        .route("/cgi-bin/component/api_get_authorizer_list", post(authorizer_list))
        .route("/mock/authorize", post(authorize))
        .route("/mock/withdraw", post(withdraw))
        .route("/mock/rotate-refresh-tokens", post(rotate))
        .route("/mock/push-ticket", post(push_ticket))
}

async fn component_token(State(s): State<Arc<MockState>>, body: Bytes) -> Response {
    respond(s.component_token(&body))
}

async fn authorizer_token(
    State(s): State<Arc<MockState>>,
    Query(q): Query<PlatformTokenQuery>,
    body: Bytes,
) -> Response {
    respond(s.authorizer_token(q.component_access_token.as_deref(), &body))
}

async fn authorizer_list(
    State(s): State<Arc<MockState>>,
    Query(q): Query<PlatformTokenQuery>,
    body: Bytes,
) -> Response {
    respond(s.authorizer_list(q.component_access_token.as_deref(), &body))
}

async fn authorize(State(s): State<Arc<MockState>>, Query(q): Query<AppidQuery>) -> Response {
    respond(s.authorize(q.appid.as_deref().unwrap_or_default()))
}

async fn withdraw(State(s): State<Arc<MockState>>, Query(q): Query<AppidQuery>) -> Response {
    let appid = q.appid.unwrap_or_default();
    if let Some(after) = q.after {
        return respond(s.withdraw_after(&appid, after));
    }
    let reply = s.withdraw(&appid);
    let Some(url) = q.url else { return respond(reply) };
    let Some(url) = loopback(url) else { return respond(not_loopback()) };
    let created = crate::journal::unix_now();
    let xml = format!(
        "<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId><CreateTime>{created}</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid></xml>"
    );
    respond(deliver(&url, &xml, created).await)
}

/// `url` when it is a loopback `http://` URL (the mock pushes nowhere else).
fn loopback(url: String) -> Option<String> {
    (url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost")).then_some(url)
}

fn not_loopback() -> Reply {
    Reply::Json(json!({ "errcode": 40097, "errmsg": "url must be a loopback http:// URL" }))
}

async fn rotate(State(s): State<Arc<MockState>>, Query(q): Query<OnQuery>) -> Response {
    s.lock().component.rotate = q.on.unwrap_or(true);
    respond(Reply::Json(json!({ "errcode": 0, "errmsg": "ok" })))
}

/// Issue a ticket and push it to `url` as WeChat does (signed, encrypted); the receiver's
/// answer is passed back.
async fn push_ticket(State(s): State<Arc<MockState>>, Query(q): Query<PushQuery>) -> Response {
    let Some(url) = q.url.and_then(loopback) else { return respond(not_loopback()) };
    let (ticket, created) = s.issue_ticket();
    let xml = format!(
        "<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId><CreateTime>{created}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
    );
    respond(deliver(&url, &xml, created).await)
}

/// POST `xml` to `url` encrypted and signed with the platform's push token and key.
async fn deliver(url: &str, xml: &str, created: u64) -> Reply {
    let encrypt = encrypt(xml);
    let (timestamp, nonce) = (created.to_string(), format!("n{created}{}", fastrand::u32(..)));
    let signature = sign(&[PUSH_TOKEN, &timestamp, &nonce]);
    let msg_signature = sign(&[PUSH_TOKEN, &timestamp, &nonce, &encrypt]);
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!(
        "{url}{sep}signature={signature}&timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={msg_signature}"
    );
    let body =
        format!("<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build();
    let answer = match client {
        Ok(c) => c.post(&target).body(body).send().await,
        Err(e) => return Reply::Json(json!({ "errcode": -1, "errmsg": e.to_string() })),
    };
    match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            Reply::Json(json!({ "errcode": 0, "errmsg": "ok", "status": status, "answer": text }))
        }
        Err(e) => Reply::Json(json!({ "errcode": -1, "errmsg": format!("the push did not arrive: {e}") })),
    }
}

/// SHA-1 of the sorted parts, hex: how WeChat signs a push.
fn sign(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    Sha1::digest(sorted.concat().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// WeChat's safe mode: 16 random bytes, the length (big-endian), the message, the platform's
/// AppID; PKCS#7 to 32 bytes; AES-256-CBC, the key's first 16 bytes as IV; base64.
fn encrypt(message: &str) -> String {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let key = engine.decode(format!("{AES_KEY}=")).unwrap_or_default();
    let mut plain: Vec<u8> = (0..16).map(|_| fastrand::alphanumeric() as u8).collect();
    plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
    plain.extend_from_slice(message.as_bytes());
    plain.extend_from_slice(COMPONENT_APPID.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(pad as u8, pad));
    let len = plain.len();
    let Ok(cipher) = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &key[..16.min(key.len())]) else {
        return String::new();
    };
    match cipher.encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut plain, len) {
        Ok(out) => base64::engine::general_purpose::STANDARD.encode(out),
        Err(_) => String::new(),
    }
}

impl MockState {
    /// A new ticket, valid 12 hours, and its creation time (Unix seconds).
    fn issue_ticket(&self) -> (String, u64) {
        let mut g = self.lock();
        let ticket: String = "ticket@@@".chars().chain((0..40).map(|_| g.rng.alphanumeric())).collect();
        g.component.tickets.insert(ticket.clone(), Instant::now() + TICKET_LIFE);
        g.stats.tickets_pushed += 1;
        (ticket, crate::journal::unix_now())
    }

    /// `api_component_token`: the platform's token for its AppID, AppSecret and a live ticket.
    pub fn component_token(&self, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.component_token_calls += 1;
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return self.error(&mut g, 47001, "data format error");
        };
        let field = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        if field("component_appid") != COMPONENT_APPID {
            return self.error(&mut g, 40013, "invalid appid");
        }
        if field("component_appsecret") != COMPONENT_SECRET {
            return self.error(&mut g, 40125, "invalid appsecret");
        }
        if let Some(r) = self.refuse_ip(&mut g, 61004) {
            return r;
        }
        let ticket = field("component_verify_ticket");
        match g.component.tickets.get(&ticket) {
            None => return self.error(&mut g, 61006, "component ticket is invalid"),
            Some(at) if *at <= Instant::now() => return self.error(&mut g, 61005, "component ticket is expired"),
            Some(_) => {}
        }
        let token: String = "P".chars().chain((0..100).map(|_| g.rng.alphanumeric())).collect();
        let ttl = self.ttl();
        g.component.platform_tokens.insert(token.clone(), Instant::now() + ttl);
        Reply::Json(json!({ "component_access_token": token, "expires_in": ttl.as_secs() }))
    }

    /// `api_authorizer_token`: a merchant's token for the platform's token and the merchant's
    /// current refresh token (a new refresh token too when rotating).
    pub fn authorizer_token(&self, platform_token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.authorizer_token_calls += 1;
        if let Some(refused) = self.check_platform_token(&mut g, platform_token) {
            return refused;
        }
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return self.error(&mut g, 47001, "data format error");
        };
        let field = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        if field("component_appid") != COMPONENT_APPID {
            return self.error(&mut g, 40013, "invalid appid");
        }
        if let Some(r) = self.refuse_ip(&mut g, 61004) {
            return r;
        }
        let appid = field("authorizer_appid");
        let refresh = field("authorizer_refresh_token");
        let state = g.component.merchants.get(&appid).map(|m| (m.withdrawn, m.refresh_token == refresh));
        match state {
            None => return self.error(&mut g, 61003, "component is not authorized by this account"),
            Some((true, _)) | Some((false, false)) => {
                return self.error(&mut g, 61023, "refresh_token is invalid");
            }
            Some((false, true)) => {}
        }
        let rotated = g.component.rotate.then(|| new_refresh_token(&mut g));
        if let (Some(new), Some(m)) = (&rotated, g.component.merchants.get_mut(&appid)) {
            m.refresh_token = new.clone();
        }
        let token: String = "A".chars().chain((0..120).map(|_| g.rng.alphanumeric())).collect();
        let ttl = self.ttl();
        g.live.insert(token.clone(), Live { expires_at: Instant::now() + ttl, account: Some(appid) });
        Reply::Json(json!({
            "authorizer_access_token": token,
            "expires_in": ttl.as_secs(),
            "authorizer_refresh_token": rotated.unwrap_or(refresh),
        }))
    }

    /// `api_get_authorizer_list`: the merchants that authorized the platform (not withdrawn), in
    /// the order of their AppIDs, `count` (1 to 500) from `offset`, with their refresh tokens.
    pub fn authorizer_list(&self, platform_token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.authorizer_list_calls += 1;
        if let Some(refused) = self.check_platform_token(&mut g, platform_token) {
            return refused;
        }
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if req.get("component_appid").and_then(Value::as_str) != Some(COMPONENT_APPID) {
            return self.error(&mut g, 40013, "invalid appid");
        }
        let offset = req.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let count = req.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        if !(1..=500).contains(&count) {
            return self.error(&mut g, 40097, "invalid args: count must be 1 to 500");
        }
        let mut merchants: Vec<(&String, &Merchant)> =
            g.component.merchants.iter().filter(|(_, m)| !m.withdrawn).collect();
        merchants.sort_by(|a, b| a.0.cmp(b.0));
        let total = merchants.len();
        let list: Vec<Value> = merchants
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|(appid, m)| json!({ "authorizer_appid": appid, "refresh_token": m.refresh_token, "auth_time": 1_764_000_000 }))
            .collect();
        Reply::Json(json!({ "total_count": total, "list": list }))
    }

    /// A merchant authorizes the platform: its refresh token (what the platform's
    /// authorization callback would have given it). Authorizing again replaces the old one.
    pub fn authorize(&self, appid: &str) -> Reply {
        let mut g = self.lock();
        if appid.is_empty() {
            return self.error(&mut g, 41002, "appid missing");
        }
        let refresh = new_refresh_token(&mut g);
        g.component.merchants.insert(
            appid.to_string(),
            Merchant { refresh_token: refresh.clone(), withdrawn: false, withdraw_after: None },
        );
        Reply::Json(json!({ "errcode": 0, "errmsg": "ok", "authorizer_refresh_token": refresh }))
    }

    /// A merchant withdraws: its refresh token and its tokens stop working.
    pub fn withdraw(&self, appid: &str) -> Reply {
        withdraw_locked(&mut self.lock(), appid);
        Reply::Json(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// The merchant withdraws once `after` more messages were accepted for it (0: at once):
    /// a withdrawal in the middle of a run, at a point no clock decides.
    pub fn withdraw_after(&self, appid: &str, after: u64) -> Reply {
        let mut g = self.lock();
        match g.component.merchants.get_mut(appid) {
            Some(m) if after > 0 => m.withdraw_after = Some(after),
            Some(_) => withdraw_locked(&mut g, appid),
            None => {
                return Reply::Json(
                    json!({ "errcode": 61003, "errmsg": "component is not authorized by this account" }),
                )
            }
        }
        Reply::Json(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// The platform's token of a call: `None` when it is live, else WeChat's answer.
    fn check_platform_token(&self, g: &mut Inner, platform_token: Option<&str>) -> Option<Reply> {
        match platform_token.and_then(|t| g.component.platform_tokens.get(t)) {
            None => Some(self.error(g, 40001, "invalid credential, access_token is invalid or not latest")),
            Some(at) if *at <= Instant::now() => Some(self.error(g, 42001, "access_token expired")),
            Some(_) => None,
        }
    }

    /// `--refuse-ip`: the platform's whitelist refuses this machine.
    fn refuse_ip(&self, g: &mut Inner, errcode: i64) -> Option<Reply> {
        let ip = self.config.refuse_ip.clone()?;
        Some(self.error(g, errcode, &format!("invalid ip {ip}, not in whitelist of the component")))
    }
}

/// The merchant `appid` withdraws: its refresh token and its live tokens stop working.
fn withdraw_locked(g: &mut Inner, appid: &str) {
    if let Some(m) = g.component.merchants.get_mut(appid) {
        m.withdrawn = true;
        m.withdraw_after = None;
    }
    g.live.retain(|_, l| l.account.as_deref() != Some(appid));
}

/// A message was accepted for the merchant `appid`: a withdrawal waiting for it comes nearer,
/// and happens when its count is reached.
pub(super) fn count_accepted(g: &mut Inner, appid: &str) {
    let Some(m) = g.component.merchants.get_mut(appid) else { return };
    match m.withdraw_after {
        Some(n) if n <= 1 => withdraw_locked(g, appid),
        Some(n) => m.withdraw_after = Some(n - 1),
        None => {}
    }
}

fn new_refresh_token(g: &mut Inner) -> String {
    "refreshtoken@@@".chars().chain((0..40).map(|_| g.rng.alphanumeric())).collect()
}
