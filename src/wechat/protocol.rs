//! Protocol vocabulary shared by everything that speaks to WeChat: the message kinds and their
//! endpoints, where tokens come from, and what makes a usable API base. Pure types and checks,
//! no I/O: the campaign layer above uses them to parse files without touching the HTTP client.

use http::Uri;
use serde::{Deserialize, Serialize};

/// The message API a campaign sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Mini-program uniform message (`wxopen/template/uniform_send`), withdrawn by WeChat in 2023.
    Uniform,
    /// Official-account template message (`message/template/send`).
    Template,
    /// Mini-program subscribe message (`message/subscribe/send`).
    Subscribe,
}

impl Kind {
    /// The name used in campaign files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Uniform => "uniform",
            Kind::Template => "template",
            Kind::Subscribe => "subscribe",
        }
    }

    /// Whether the body carries a `client_msg_id`, so that WeChat drops a repeat of it (template
    /// messages, within 10 minutes): only then may a request that got no answer go again.
    pub fn has_client_msg_id(self) -> bool {
        matches!(self, Kind::Template)
    }

    /// The API path this kind posts to.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Uniform => "/cgi-bin/message/wxopen/template/uniform_send",
            Kind::Template => "/cgi-bin/message/template/send",
            Kind::Subscribe => "/cgi-bin/message/subscribe/send",
        }
    }
}

/// Where the access token comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "arg")]
pub enum TokenSpec {
    /// `POST /cgi-bin/stable_token` in normal mode (the default).
    Stable,
    /// `GET /cgi-bin/token`: every call mints a new token.
    ClientCredential,
    /// A token another system manages, read from this environment variable.
    Env(String),
    /// A command that prints a token on stdout.
    Command(String),
    /// A central token service: `GET` this URL answers `{"access_token","expires_in"}`.
    Url(String),
}

impl TokenSpec {
    /// Parse `token` from the campaign file: `stable`, `client_credential`, `env:VAR` or `command:CMD`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "stable" => Ok(TokenSpec::Stable),
            "client_credential" => Ok(TokenSpec::ClientCredential),
            _ => {
                if let Some(var) = text.strip_prefix("env:") {
                    if var.trim().is_empty() {
                        return Err("`env:` needs a variable name, e.g. `env:WX_TOKEN`".into());
                    }
                    Ok(TokenSpec::Env(var.trim().to_string()))
                } else if let Some(cmd) = text.strip_prefix("command:") {
                    if cmd.trim().is_empty() {
                        return Err("`command:` needs a command, e.g. `command:token-service get`".into());
                    }
                    Ok(TokenSpec::Command(cmd.trim().to_string()))
                } else if let Some(url) = text.strip_prefix("url:") {
                    let url = url.trim();
                    let ok = url.parse::<Uri>().is_ok_and(|u| {
                        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
                    });
                    if !ok {
                        return Err(format!(
                            "`url:` needs an http:// or https:// URL, e.g. `url:https://tokens.internal/wx/APPID` (got {url:?})"
                        ));
                    }
                    Ok(TokenSpec::Url(url.to_string()))
                } else {
                    Err(format!(
                        "unknown token source `{text}`: use stable, client_credential, env:VAR, command:CMD or url:URL"
                    ))
                }
            }
        }
    }

    /// A short label for screens and cache file names.
    pub fn label(&self) -> &'static str {
        match self {
            TokenSpec::Stable => "stable",
            TokenSpec::ClientCredential => "client_credential",
            TokenSpec::Env(_) => "env",
            TokenSpec::Command(_) => "command",
            TokenSpec::Url(_) => "url",
        }
    }
}

/// Which proxy the HTTP client uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (or their lowercase forms), with
    /// curl's rules.
    #[default]
    Environment,
    /// `proxy = "none"`: always connect directly.
    Off,
    /// `proxy = "http://[user:pass@]host:port"`: this proxy (`NO_PROXY` still applies).
    Url(String),
}

impl ProxySetting {
    /// Parse the `proxy` key: `none`, or an `http://` URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(ProxySetting::Off);
        }
        let uri: Uri = text
            .parse()
            .map_err(|_| "`proxy` is not a URL: use e.g. http://proxy.corp:3128 or \"none\"".to_string())?;
        match uri.scheme_str() {
            Some("http") if uri.host().is_some() => Ok(ProxySetting::Url(text.to_string())),
            Some(other) if other != "http" => Err(format!(
                "`proxy` uses {other}://, which wxsend does not speak: use an http:// proxy (HTTPS goes through it with CONNECT)"
            )),
            _ => Err("`proxy` needs http://host:port, e.g. http://proxy.corp:3128".into()),
        }
    }
}

/// How the HTTP client reaches its host: proxy, extra trust and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    /// The proxy.
    pub proxy: ProxySetting,
    /// A PEM file of extra root certificates (a company CA, a TLS-inspecting proxy's CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// The longest a TCP connection (and a proxy's CONNECT) may take.
    pub connect_timeout: std::time::Duration,
    /// The longest a TLS handshake may take.
    pub tls_timeout: std::time::Duration,
    /// The longest one request may take, from sending to its whole answer.
    pub timeout: std::time::Duration,
    /// Idle connections older than this are closed rather than reused (before a server or a
    /// proxy drops them silently).
    pub idle_timeout: std::time::Duration,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        use std::time::Duration;
        Self {
            proxy: ProxySetting::Environment,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            tls_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether `base` can be an API base: `http` or `https`, a host, no query or fragment.
pub fn check_api_base(base: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("api_base {base:?} {why}: use e.g. https://api.weixin.qq.com"));
    let Ok(uri) = base.parse::<Uri>() else { return bad("is not a URL") };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return bad("must start with http:// or https://");
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if uri.query().is_some() || base.contains('#') {
        return bad("must not have a query or fragment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        assert!(check_api_base("https://api.weixin.qq.com").is_ok());
        assert!(check_api_base("http://127.0.0.1:8080/proxy").is_ok());
        assert!(check_api_base("ftp://x").unwrap_err().contains("http://"));
        assert!(check_api_base("api.weixin.qq.com").is_err());
        assert!(check_api_base("https://x/?a=1").unwrap_err().contains("query"));
        assert!(check_api_base("https://x/#top").is_err());
    }
}
