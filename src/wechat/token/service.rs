//! A central token service (`token = "url:…"`, WePush's "external access-token URL"): `GET` the
//! URL with the configured headers, read `{"access_token","expires_in"}`. wxsend never calls
//! WeChat's token endpoints itself then, and needs no app secret.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::Uri;

use super::answer::{check_token_text, Fetched, TokenAnswer};
use super::error::TokenError;
use crate::wechat::errors::hint;
use crate::wechat::http::Http;
use crate::wechat::protocol::NetworkOptions;
use crate::wechat::secret::{scrub, AccessToken, Secret};

/// The token service of a campaign.
#[derive(Debug, Clone)]
pub(super) struct TokenService {
    http: Http,
    path: String,
    headers: Vec<(HeaderName, Secret)>,
    /// The URL without its query (which may hold a key), for messages.
    shown: String,
}

impl TokenService {
    /// The service at `url` with `headers` (`name`, `value`; a value `env:VAR` is read from the
    /// environment now), reached with the campaign's network options.
    pub(super) fn new(url: &str, headers: &[(String, String)], net: &NetworkOptions) -> Result<Self, TokenError> {
        let uri: Uri = url.parse().map_err(|_| service_error(url, "not a URL".into()))?;
        let shown = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        let base = format!("{}://{}", uri.scheme_str().unwrap_or("https"), uri.authority().map_or("", |a| a.as_str()));
        let http = Http::with_network(&base, net).map_err(|e| service_error(&shown, e.0))?;
        let path = uri.path_and_query().map_or("/".to_string(), |p| p.as_str().to_string());
        let mut resolved = Vec::new();
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| service_error(&shown, format!("`token_headers`: {name:?} is not a header name")))?;
            let value = match value.strip_prefix("env:") {
                Some(var) => match std::env::var(var.trim()) {
                    Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
                    _ => return Err(TokenError::EnvMissing(var.trim().to_string())),
                },
                None => value.clone(),
            };
            if HeaderValue::from_str(&value).is_err() {
                return Err(service_error(
                    &shown,
                    format!("`token_headers`: the value of {name} is not a valid header value"),
                ));
            }
            resolved.push((header, Secret::new(value)));
        }
        Ok(Self { http, path, headers: resolved, shown })
    }

    /// The URL, without its query.
    pub(super) fn url_without_query(&self) -> &str {
        &self.shown
    }

    /// Ask the service for the current token.
    pub(super) async fn fetch(&self) -> Result<Fetched, TokenError> {
        let uri = self.http.uri(&self.path, &[]).map_err(|e| service_error(&self.shown, e.message))?;
        let headers: Vec<(HeaderName, HeaderValue)> = self
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let mut v = HeaderValue::from_str(value.expose()).ok()?;
                v.set_sensitive(true);
                Some((name.clone(), v))
            })
            .collect();
        let reply = self.http.get_with(uri, &headers).await.map_err(|e| service_error(&self.shown, e.message))?;
        let secrets: Vec<&str> = self.headers.iter().map(|(_, v)| v.expose()).collect();
        if !reply.status.is_success() {
            let body = String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)]).to_string();
            return Err(service_error(&self.shown, format!("HTTP {}: {}", reply.status, scrub(body.trim(), &secrets))));
        }
        let answer: TokenAnswer = serde_json::from_slice(&reply.body).map_err(|_| {
            service_error(&self.shown, "the answer is not JSON with `access_token` and `expires_in`".into())
        })?;
        match answer.access_token {
            Some(token) if answer.errcode == 0 && !token.is_empty() => {
                check_token_text(&token).map_err(|why| {
                    service_error(&self.shown, format!("it answered something that is not a token: {why}"))
                })?;
                Ok(Fetched { token: AccessToken::new(token), expires_in: answer.expires_in.map(Duration::from_secs) })
            }
            _ if answer.errcode != 0 => Err(TokenError::Api {
                errcode: answer.errcode,
                errmsg: scrub(&answer.errmsg, &secrets),
                hint: hint(answer.errcode),
            }),
            _ => Err(service_error(&self.shown, "the answer has no `access_token`".into())),
        }
    }
}

fn service_error(url: &str, detail: String) -> TokenError {
    TokenError::Service { url: url.to_string(), detail }
}
