//! Where tokens come from: WeChat's two token endpoints, an environment variable, or a command.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::TokenError;
use crate::wechat::client::WechatClient;
use crate::wechat::errors::hint;
use crate::wechat::http::{Http, Reply, TransportError};
use crate::wechat::protocol::TokenSpec;
use crate::wechat::secret::{scrub, AccessToken, Secret};

/// A token as fetched, with its lifetime when the source tells it.
#[derive(Debug, Clone)]
pub(super) struct Fetched {
    pub(super) token: AccessToken,
    pub(super) expires_in: Option<Duration>,
}

/// Where tokens come from (`token` in [wechat]).
#[derive(Debug, Clone)]
pub struct TokenSource {
    pub(super) spec: TokenSpec,
    pub(super) appid: String,
    secret: Option<Secret>,
    pub(super) http: Http,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl TokenSource {
    /// The source `spec` for `appid`; reads the secret from the variable `secret_env` when the
    /// source needs one.
    pub fn from_env(
        spec: &TokenSpec,
        appid: &str,
        secret_env: &str,
        client: &WechatClient,
    ) -> Result<Self, TokenError> {
        let secret = match spec {
            TokenSpec::Stable | TokenSpec::ClientCredential => {
                let value = std::env::var(secret_env).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(TokenError::MissingSecret { var: secret_env.to_string() });
                }
                Some(Secret::new(value.trim()))
            }
            TokenSpec::Env(_) | TokenSpec::Command(_) => None,
        };
        Ok(Self::new(spec.clone(), appid, secret, client))
    }

    /// A source from its parts (the secret already read).
    pub fn new(spec: TokenSpec, appid: &str, secret: Option<Secret>, client: &WechatClient) -> Self {
        Self { spec, appid: appid.to_string(), secret, http: client.http().clone() }
    }

    /// The source's kind.
    pub fn spec(&self) -> &TokenSpec {
        &self.spec
    }

    fn secret(&self) -> &str {
        self.secret.as_ref().map_or("", Secret::expose)
    }

    pub(super) async fn fetch(&self) -> Result<Fetched, TokenError> {
        match &self.spec {
            TokenSpec::Stable => {
                let body = serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret(),
                    "force_refresh": false,
                });
                let uri = self.http.uri("/cgi-bin/stable_token", &[]).map_err(|e| TokenError::Transport(e.0))?;
                let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                self.answer(self.http.post_json(uri, body).await).await
            }
            TokenSpec::ClientCredential => {
                let query =
                    [("grant_type", "client_credential"), ("appid", self.appid.as_str()), ("secret", self.secret())];
                // The URI holds the secret: the error names the path only.
                let uri = self.http.uri("/cgi-bin/token", &query).map_err(|_| {
                    TokenError::Transport(format!(
                        "`{}/cgi-bin/token` is not a valid URL: check api_base",
                        self.http.base()
                    ))
                })?;
                self.answer(self.http.get(uri).await).await
            }
            TokenSpec::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Fetched { token: AccessToken::new(v.trim()), expires_in: None }),
                _ => Err(TokenError::EnvMissing(var.clone())),
            },
            TokenSpec::Command(command) => run_token_command(command).await,
        }
    }

    async fn answer(&self, reply: Result<Reply, TransportError>) -> Result<Fetched, TokenError> {
        let Reply { status, body } = reply.map_err(|e| TokenError::Transport(e.0))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Transport(format!("HTTP {status}, the answer is not JSON")))?;
        match answer.access_token {
            Some(t) if answer.errcode == 0 && !t.is_empty() => {
                Ok(Fetched { token: AccessToken::new(t), expires_in: answer.expires_in.map(Duration::from_secs) })
            }
            _ => Err(TokenError::Api {
                errcode: answer.errcode,
                errmsg: scrub(&answer.errmsg, &[self.secret()]),
                hint: hint(answer.errcode),
            }),
        }
    }
}

async fn run_token_command(command: &str) -> Result<Fetched, TokenError> {
    let fail = |detail: String| TokenError::Command { command: command.to_string(), detail };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), child)
        .await
        .map_err(|_| fail("no answer within 30 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(format!("exited with {}", output.status)));
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // Either a bare token, or WeChat's JSON answer {"access_token": ..., "expires_in": ...}.
    if let Ok(a) = serde_json::from_str::<TokenAnswer>(&text) {
        if let Some(t) = a.access_token.filter(|t| !t.is_empty()) {
            return Ok(Fetched { token: AccessToken::new(t), expires_in: a.expires_in.map(Duration::from_secs) });
        }
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(fail("it printed no token (expected the token alone, or JSON with access_token)".into()));
    }
    Ok(Fetched { token: AccessToken::new(text), expires_in: None })
}
