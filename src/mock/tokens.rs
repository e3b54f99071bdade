//! The mock's two token chains (WECHAT-API.md): `cgi-bin/token` mints a new token on every call
//! and the previous one lives 5 more minutes; `stable_token` hands out the same token while it is
//! valid, a new one in its last 300 s, and a forced refresh kills the previous one.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::state::{Inner, Live, MockState, Reply};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chain {
    Stable,
    ClientCredential,
}

impl MockState {
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
        if let Some(ip) = &self.config.refuse_ip {
            // WeChat's wording, with the IPv4 address also in its IPv6-mapped form.
            let msg = format!("invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist");
            return Some(self.error(g, 40164, &msg));
        }
        None
    }

    fn mint(&self, g: &mut Inner, chain: Chain) -> String {
        let token: String = std::iter::once(if chain == Chain::Stable { 'S' } else { 'C' })
            .chain((0..135).map(|_| g.rng.alphanumeric()))
            .collect();
        g.live.insert(token.clone(), Live { expires_at: Instant::now() + self.ttl(), account: None });
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
    pub(super) fn check_token(&self, g: &mut Inner, token: Option<&str>) -> Option<Reply> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Some(self.error(g, 41001, "access_token missing"));
        };
        match g.live.get(token) {
            None => Some(self.error(g, 40001, "invalid credential, access_token is invalid or not latest")),
            Some(l) if l.expires_at <= Instant::now() => Some(self.error(g, 42001, "access_token expired")),
            Some(_) => None,
        }
    }
}
