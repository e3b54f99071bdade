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
    /// Official-account subscribe notification (`message/subscribe/bizsend`, 订阅通知): typed
    /// values as [`Kind::Subscribe`], sent with the official account's own token.
    #[serde(rename = "mp_subscribe")]
    MpSubscribe,
}

impl Kind {
    /// The name used in campaign files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Uniform => "uniform",
            Kind::Template => "template",
            Kind::Subscribe => "subscribe",
            Kind::MpSubscribe => "mp_subscribe",
        }
    }

    /// Whether values are typed by their key's prefix (`thing1`, `phrase2`, `enum3`) and judged by
    /// WeChat (47003), with templates from `wxaapi/newtmpl/gettemplate`: both subscribe kinds.
    pub fn typed_values(self) -> bool {
        matches!(self, Kind::Subscribe | Kind::MpSubscribe)
    }

    /// Whether the body carries a `client_msg_id`, so that WeChat drops a repeat of it (template
    /// messages, within 10 minutes): only then may a request that got no answer go again.
    pub fn has_client_msg_id(self) -> bool {
        matches!(self, Kind::Template)
    }

    /// How the campaign file names the web link and the mini-program page of this kind, for
    /// messages: bizsend calls its web link `page` and its page `miniprogram.pagepath`.
    pub fn link_keys(self) -> (&'static str, &'static str) {
        match self {
            Kind::MpSubscribe => ("`page`", "`miniprogram.pagepath`"),
            _ => ("`url`", "`page`"),
        }
    }

    /// The API path this kind posts to.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Uniform => "/cgi-bin/message/wxopen/template/uniform_send",
            Kind::Template => "/cgi-bin/message/template/send",
            Kind::Subscribe => "/cgi-bin/message/subscribe/send",
            Kind::MpSubscribe => "/cgi-bin/message/subscribe/bizsend",
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
    /// `component`: a third-party platform's `authorizer_access_token` for the merchant that
    /// authorized it (the platform never holds the merchant's secret).
    Component(Box<ComponentSpec>),
}

/// How a third-party platform (开放平台 component) gets a merchant's token: its own appid and
/// secret and the latest `component_verify_ticket` give the `component_access_token`; that and
/// the merchant's refresh token give the merchant's `authorizer_access_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentSpec {
    /// The platform's AppID.
    pub component_appid: String,
    /// The environment variable holding the platform's AppSecret.
    pub component_secret_env: String,
    /// The merchant account the messages are sent as.
    pub authorizer_appid: String,
    /// Where the latest verify ticket is read.
    pub ticket: TicketSource,
    /// Where the merchant's refresh token is kept (and rewritten on every rotation).
    pub refresh_token: RefreshStore,
    /// The variable holding the merchant's first refresh token, read only while none is kept.
    pub refresh_token_env: Option<String>,
}

/// Where the platform's `component_verify_ticket` is read (`ticket`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from", content = "arg")]
pub enum TicketSource {
    /// `env:VAR`: the ticket itself, in a variable.
    Env(String),
    /// `file:PATH`: a file holding the ticket (alone, or as `receipts serve` writes it).
    File(std::path::PathBuf),
    /// `receipts`: the newest ticket `wxsend receipts serve` received for the platform.
    Receipts,
}

impl TicketSource {
    /// Parse `ticket`: `env:VAR`, `file:PATH` or `receipts`.
    pub fn parse(text: &str) -> Result<Self, SettingError> {
        let text = text.trim();
        if text == "receipts" {
            return Ok(Self::Receipts);
        }
        if let Some(var) = text.strip_prefix("env:").map(str::trim).filter(|v| !v.is_empty()) {
            return Ok(Self::Env(var.to_string()));
        }
        if let Some(path) = text.strip_prefix("file:").map(str::trim).filter(|v| !v.is_empty()) {
            return Ok(Self::File(path.into()));
        }
        Err(SettingError::TicketSource(text.to_string()))
    }
}

/// Where a merchant's refresh token is kept (`refresh_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStore {
    /// A private file (0600) in the token cache folder, replaced whole on every rotation.
    File,
    /// Redis, under WxJava's key `wechat_authorizer_refresh_token:<authorizer_appid>`, so every
    /// host sees a rotation at once.
    Redis,
}

impl TokenSpec {
    /// Parse `token` from the campaign file: `stable`, `client_credential`, `env:VAR`,
    /// `command:CMD` or `url:URL` (`component` is built from its own keys by the config).
    pub fn parse(text: &str) -> Result<Self, SettingError> {
        match text {
            "stable" => Ok(TokenSpec::Stable),
            "client_credential" => Ok(TokenSpec::ClientCredential),
            _ => {
                if let Some(var) = text.strip_prefix("env:") {
                    if var.trim().is_empty() {
                        return Err(SettingError::EnvWithoutVariable);
                    }
                    Ok(TokenSpec::Env(var.trim().to_string()))
                } else if let Some(cmd) = text.strip_prefix("command:") {
                    if cmd.trim().is_empty() {
                        return Err(SettingError::CommandWithoutCommand);
                    }
                    Ok(TokenSpec::Command(cmd.trim().to_string()))
                } else if let Some(url) = text.strip_prefix("url:") {
                    let url = url.trim();
                    let ok = url.parse::<Uri>().is_ok_and(|u| {
                        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
                    });
                    if !ok {
                        return Err(SettingError::TokenServiceUrl(url.to_string()));
                    }
                    Ok(TokenSpec::Url(url.to_string()))
                } else {
                    Err(SettingError::UnknownTokenSource(text.to_string()))
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
            TokenSpec::Component(_) => "component",
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
    pub fn parse(text: &str) -> Result<Self, SettingError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(ProxySetting::Off);
        }
        let uri: Uri = text.parse().map_err(|_| SettingError::ProxyNotUrl)?;
        match uri.scheme_str() {
            Some("http") if uri.host().is_some() => Ok(ProxySetting::Url(text.to_string())),
            Some(other) if other != "http" => Err(SettingError::ProxyScheme(other.to_string())),
            _ => Err(SettingError::ProxyWithoutHost),
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
pub fn check_api_base(base: &str) -> Result<(), SettingError> {
    let bad = |why: &'static str| Err(SettingError::ApiBase { base: base.to_string(), why });
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

/// Why a setting of `[wechat]` or `[network]` cannot be used; the campaign loader puts the file
/// and line in front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// `token = "env:"`.
    #[error("{}", crate::tr!("err.setting_error.env_without_variable"))]
    EnvWithoutVariable,
    /// `token = "command:"`.
    #[error("{}", crate::tr!("err.setting_error.command_without_command"))]
    CommandWithoutCommand,
    /// `token = "url:…"` that is not an http(s) URL.
    #[error("{}", crate::tr!("err.setting_error.token_service_url", value0 = format!("{:?}", .0)))]
    TokenServiceUrl(String),
    /// An unknown `token`.
    #[error("{}", crate::tr!("err.setting_error.unknown_token_source", value0 = .0.to_string()))]
    UnknownTokenSource(String),
    /// An unknown `ticket`.
    #[error("{}", crate::tr!("err.setting_error.ticket_source", value0 = .0.to_string()))]
    TicketSource(String),
    /// `proxy` that is not a URL.
    #[error("{}", crate::tr!("err.setting_error.proxy_not_url"))]
    ProxyNotUrl,
    /// `proxy` with another scheme than http.
    #[error(
        "`proxy` uses {0}://, which wxsend does not speak: use an http:// proxy (HTTPS goes through it with CONNECT)"
    )]
    ProxyScheme(String),
    /// `proxy` without a host.
    #[error("{}", crate::tr!("err.setting_error.proxy_without_host"))]
    ProxyWithoutHost,
    /// An `api_base` that cannot be one.
    #[error("{}", crate::tr!("err.setting_error.api_base", base = format!("{:?}", .base), why = .why.to_string()))]
    ApiBase {
        /// As written.
        base: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        assert!(check_api_base("https://api.weixin.qq.com").is_ok());
        assert!(check_api_base("http://127.0.0.1:8080/proxy").is_ok());
        assert!(check_api_base("ftp://x").unwrap_err().to_string().contains("http://"));
        assert!(check_api_base("api.weixin.qq.com").is_err());
        assert!(check_api_base("https://x/?a=1").unwrap_err().to_string().contains("query"));
        assert!(check_api_base("https://x/#top").is_err());
    }
}
