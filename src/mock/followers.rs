//! The mock account's followers and tags, and WeChat's endpoints that list them (WECHAT-API.md,
//! "Followers and tags"): `user/get` and `user/tag/get` page 10,000 openids at a time in the order
//! people followed, and hand back a `next_openid` even with the last page (the next call answers
//! `count: 0`); `tags/get` lists the tags with their counts; `user/info/batchget` answers at most
//! 100 openids (40032 above) without nickname, avatar, sex or region. The listing calls share a
//! daily limit (`--user-get-quota`, then 45009).
//!
//! The population is drawn from the seed (`--followers N`) or read from a CSV
//! (`--followers-file`: `openid,subscribe_time,tags`, tags separated by `;`); tests add
//! followers while a pull is under way (`POST /mock/follow`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::serve::respond;
use super::state::{MockState, Reply};

/// Openids a listing page holds at most.
const PAGE: usize = 10_000;
/// Openids `user/info/batchget` answers at most.
const BATCH: usize = 100;
/// The tags a drawn population has, with their ids (WeChat's own start at 100 for an account's).
const DRAWN_TAGS: [(u32, &str); 3] = [(100, "VIP"), (101, "北京门店"), (102, "新关注")];

/// One follower as the mock keeps it (and `GET /mock/followers` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    /// The openid.
    pub openid: String,
    /// When they followed (Unix seconds).
    pub subscribe_time: u64,
    /// The names of their tags.
    pub tags: Vec<String>,
}

/// The followers, in the order they followed, and the account's tags.
#[derive(Debug, Default)]
pub(super) struct Population {
    followers: Vec<Follower>,
    index: HashMap<String, usize>,
    tags: Vec<(u32, String)>,
    /// Listing calls today (`user/get`, `user/tag/get`).
    calls_today: u64,
}

impl Population {
    /// `n` followers drawn from `seed`: each tag on about a fifth to a third of them, follow
    /// times over the two years before 2026-12-01.
    pub(super) fn draw(n: u64, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xF011_0E55);
        let mut p =
            Population { tags: DRAWN_TAGS.iter().map(|(i, n)| (*i, n.to_string())).collect(), ..Default::default() };
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        let start = 1_733_011_200u64;
        for i in 0..n {
            let tail: String = (0..22).map(|_| ALPHABET[rng.usize(..ALPHABET.len())] as char).collect();
            let openid = format!("oF{i:04x}{tail}").chars().take(28).collect::<String>();
            let mut tags = Vec::new();
            for (k, share) in [(0usize, 5u32), (1, 3), (2, 4)] {
                if rng.u32(..share) == 0 {
                    tags.push(DRAWN_TAGS[k].1.to_string());
                }
            }
            let subscribe_time = start + (i * 63_072_000 / n.max(1)) + rng.u64(..600);
            p.add(Follower { openid, subscribe_time, tags });
        }
        p
    }

    /// The followers of a CSV file: `openid,subscribe_time,tags` with a header line.
    pub(super) fn read(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let mut p = Population::default();
        for (i, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
            let mut cells = line.split(',');
            let (Some(openid), Some(time)) = (cells.next(), cells.next()) else {
                let e = format!("{}:{}: expected openid,subscribe_time,tags", path.display(), i + 1);
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
            };
            let subscribe_time = time.trim().parse().map_err(|_| {
                let e = format!("{}:{}: subscribe_time is not Unix seconds", path.display(), i + 1);
                std::io::Error::new(std::io::ErrorKind::InvalidData, e)
            })?;
            let tags = cells.next().unwrap_or("").split(';').map(str::trim).filter(|t| !t.is_empty()).map(String::from);
            p.add(Follower { openid: openid.trim().to_string(), subscribe_time, tags: tags.collect() });
        }
        Ok(p)
    }

    /// A new follower at the end of the list (tags created as needed); an openid already
    /// following is left as it is.
    pub(super) fn add(&mut self, f: Follower) {
        if self.index.contains_key(&f.openid) {
            return;
        }
        for t in &f.tags {
            if !self.tags.iter().any(|(_, n)| n == t) {
                let id = self.tags.iter().map(|(i, _)| *i + 1).max().unwrap_or(100).max(100);
                self.tags.push((id, t.clone()));
            }
        }
        self.index.insert(f.openid.clone(), self.followers.len());
        self.followers.push(f);
    }

    /// Everyone, in follow order.
    pub(super) fn all(&self) -> &[Follower] {
        &self.followers
    }

    fn tag_name(&self, id: u32) -> Option<&str> {
        self.tags.iter().find(|(i, _)| *i == id).map(|(_, n)| n.as_str())
    }

    /// Up to a page of openids after `next_openid` among those `keep` admits; `None` when
    /// `next_openid` is not a follower.
    fn page(&self, next_openid: &str, keep: impl Fn(&Follower) -> bool) -> Option<Vec<&str>> {
        let from = if next_openid.is_empty() { 0 } else { self.index.get(next_openid)? + 1 };
        Some(self.followers[from..].iter().filter(|f| keep(f)).take(PAGE).map(|f| f.openid.as_str()).collect())
    }
}

/// A listing page's answer: `next_openid` is the last openid given, even on the last page.
fn page_answer(total: Option<usize>, page: &[&str]) -> Value {
    let mut v = if page.is_empty() {
        json!({ "count": 0, "next_openid": "" })
    } else {
        json!({ "count": page.len(), "data": { "openid": page }, "next_openid": page.last() })
    };
    if let Some(total) = total {
        v["total"] = json!(total);
    }
    v
}

impl MockState {
    /// A listing call: the token, then the daily limit of listing calls.
    fn listing_allowed(&self, token: Option<&str>) -> Option<Reply> {
        let mut g = self.lock();
        g.stats.follower_list_calls += 1;
        if let Some(r) = self.check_token(&mut g, token) {
            return Some(r);
        }
        let limit = self.config.user_get_quota;
        g.followers.calls_today += 1;
        if limit.is_some_and(|l| g.followers.calls_today > l) {
            return Some(self.error(&mut g, 45009, "reach max api daily quota limit"));
        }
        None
    }

    /// `GET cgi-bin/user/get`.
    pub fn user_get(&self, token: Option<&str>, next_openid: &str) -> Reply {
        if let Some(r) = self.listing_allowed(token) {
            return r;
        }
        let mut g = self.lock();
        let p = &g.followers;
        match p.page(next_openid, |_| true) {
            Some(page) => Reply::Json(page_answer(Some(p.followers.len()), &page)),
            None => self.error(&mut g, 40003, "invalid next_openid"),
        }
    }

    /// `POST cgi-bin/user/tag/get` `{tagid, next_openid}`.
    pub fn tag_get(&self, token: Option<&str>, body: &[u8]) -> Reply {
        if let Some(r) = self.listing_allowed(token) {
            return r;
        }
        let mut g = self.lock();
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(id) = req.get("tagid").and_then(Value::as_u64) else {
            return self.error(&mut g, 47001, "data format error");
        };
        let next = req.get("next_openid").and_then(Value::as_str).unwrap_or("");
        let p = &g.followers;
        let Some(name) = p.tag_name(id as u32).map(str::to_string) else {
            return self.error(&mut g, 45159, "invalid tag id");
        };
        match p.page(next, |f| f.tags.contains(&name)) {
            Some(page) => Reply::Json(page_answer(None, &page)),
            None => self.error(&mut g, 40003, "invalid next_openid"),
        }
    }

    /// `GET cgi-bin/tags/get`.
    pub fn tags_get(&self, token: Option<&str>) -> Reply {
        let mut g = self.lock();
        g.stats.tag_list_calls += 1;
        if let Some(r) = self.check_token(&mut g, token) {
            return r;
        }
        let p = &g.followers;
        let tags: Vec<Value> = p
            .tags
            .iter()
            .map(|(id, name)| {
                let count = p.followers.iter().filter(|f| f.tags.contains(name)).count();
                json!({ "id": id, "name": name, "count": count })
            })
            .collect();
        Reply::Json(json!({ "tags": tags }))
    }

    /// `POST cgi-bin/user/info/batchget` `{user_list: [{openid, lang}]}`.
    pub fn batchget(&self, token: Option<&str>, body: &[u8]) -> Reply {
        let mut g = self.lock();
        g.stats.user_info_calls += 1;
        if let Some(r) = self.check_token(&mut g, token) {
            return r;
        }
        let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(list) = req.get("user_list").and_then(Value::as_array) else {
            return self.error(&mut g, 47001, "data format error");
        };
        if list.is_empty() || list.len() > BATCH {
            return self.error(&mut g, 40032, "invalid openid list size");
        }
        let p = &g.followers;
        let info: Vec<Value> = list
            .iter()
            .map(|u| {
                let openid = u.get("openid").and_then(Value::as_str).unwrap_or("");
                match p.index.get(openid).map(|&i| &p.followers[i]) {
                    Some(f) => {
                        let ids: Vec<u32> =
                            p.tags.iter().filter(|(_, n)| f.tags.contains(n)).map(|(i, _)| *i).collect();
                        json!({ "subscribe": 1, "openid": f.openid, "language": "zh_CN",
                                "subscribe_time": f.subscribe_time, "unionid": format!("u{}", f.openid.chars().skip(1).collect::<String>()),
                                "remark": "", "groupid": 0, "tagid_list": ids,
                                "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 0, "qr_scene_str": "" })
                    }
                    None => json!({ "subscribe": 0, "openid": openid }),
                }
            })
            .collect();
        Reply::Json(json!({ "user_info_list": info }))
    }

    /// A new follower (tests change the world while a pull is under way).
    pub fn follow(&self, follower: Follower) {
        self.lock().followers.add(follower);
    }

    /// Every follower, in follow order.
    pub fn followers(&self) -> Vec<Follower> {
        self.lock().followers.all().to_vec()
    }

    /// A new day for the listing calls.
    pub(super) fn reset_listing_calls(&self) {
        self.lock().followers.calls_today = 0;
    }
}

#[derive(Deserialize)]
struct ListQuery {
    access_token: Option<String>,
    #[serde(default)]
    next_openid: String,
}

#[derive(Deserialize)]
struct TokenOnly {
    access_token: Option<String>,
}

type MockRef = State<Arc<MockState>>;

/// The followers' endpoints and the mock's own (`/mock/follow`, `/mock/followers`).
pub(super) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/cgi-bin/user/get", get(user_get))
        .route("/cgi-bin/tags/get", get(tags_get))
        .route("/cgi-bin/user/tag/get", post(tag_get))
        .route("/cgi-bin/user/info/batchget", post(batchget))
        .route("/mock/follow", post(follow))
        .route("/mock/followers", get(followers))
}

async fn user_get(State(s): MockRef, Query(q): Query<ListQuery>) -> Response {
    respond(s.user_get(q.access_token.as_deref(), &q.next_openid))
}

async fn tags_get(State(s): MockRef, Query(q): Query<TokenOnly>) -> Response {
    respond(s.tags_get(q.access_token.as_deref()))
}

async fn tag_get(State(s): MockRef, Query(q): Query<TokenOnly>, body: Bytes) -> Response {
    respond(s.tag_get(q.access_token.as_deref(), &body))
}

async fn batchget(State(s): MockRef, Query(q): Query<TokenOnly>, body: Bytes) -> Response {
    respond(s.batchget(q.access_token.as_deref(), &body))
}

async fn follow(State(s): MockRef, body: Bytes) -> Response {
    match serde_json::from_slice::<Follower>(&body) {
        Ok(f) => {
            s.follow(f);
            respond(Reply::Json(json!({ "errcode": 0, "errmsg": "ok" })))
        }
        Err(e) => respond(Reply::Json(json!({ "errcode": 47001, "errmsg": format!("data format error: {e}") }))),
    }
}

async fn followers(State(s): MockRef) -> Response {
    respond(Reply::Json(serde_json::to_value(s.followers()).unwrap_or_default()))
}
