//! Where tokens come from: WeChat's two token endpoints, an environment variable, or a command.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::answer::{check_token_text, Fetched, TokenAnswer};
use super::error::TokenError;
use crate::wechat::client::WechatClient;
use crate::wechat::errors::hint;
use crate::wechat::http::{Http, Reply, TransportError};
use crate::wechat::protocol::TokenSpec;
use crate::wechat::secret::{scrub, AccessToken, Secret};

/// Where tokens come from (`token` in [wechat]).
#[derive(Debug, Clone)]
pub struct TokenSource {
    pub(super) spec: TokenSpec,
    pub(super) appid: String,
    secret: Option<Secret>,
    pub(super) http: Http,
    /// The central token service, for `url:`.
    service: Option<super::service::TokenService>,
    /// Which token of a `component` chain this source fetches.
    pub(super) role: Role,
}

/// Which token a source fetches: an account's own, or one end of a third-party platform's chain.
#[derive(Debug, Clone)]
pub(super) enum Role {
    /// What `spec` names (for `component`, until [`super::TokenCache::new`] builds the chain).
    Own,
    /// The platform's `component_access_token`.
    Platform(super::component::Platform),
    /// The merchant's `authorizer_access_token`.
    Merchant(Arc<super::component::Chain>),
}

impl TokenSource {
    /// The source `spec` for `appid`; reads the secret from the variable `secret_env` when the
    /// source needs one. A token service (`url:`) is reached with `net` and sent `headers`
    /// (a value `env:VAR` is read from the environment).
    pub fn from_env(
        spec: &TokenSpec,
        appid: &str,
        secret_env: &str,
        client: &WechatClient,
        headers: &[(String, String)],
        net: &crate::wechat::protocol::NetworkOptions,
    ) -> Result<Self, TokenError> {
        let secret = match spec {
            TokenSpec::Stable | TokenSpec::ClientCredential => {
                let value = std::env::var(secret_env).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(TokenError::MissingSecret { var: secret_env.to_string() });
                }
                Some(Secret::new(value.trim()))
            }
            TokenSpec::Component(c) => {
                let value = std::env::var(&c.component_secret_env).unwrap_or_default();
                if value.trim().is_empty() {
                    return Err(TokenError::MissingSecret { var: c.component_secret_env.clone() });
                }
                Some(Secret::new(value.trim()))
            }
            TokenSpec::Env(_) | TokenSpec::Command(_) | TokenSpec::Url(_) => None,
        };
        let mut source = Self::new(spec.clone(), appid, secret, client);
        if let TokenSpec::Url(url) = spec {
            source.service = Some(super::service::TokenService::new(url, headers, net)?);
        }
        Ok(source)
    }

    /// A source from its parts (the secret already read).
    pub fn new(spec: TokenSpec, appid: &str, secret: Option<Secret>, client: &WechatClient) -> Self {
        Self { spec, appid: appid.to_string(), secret, http: client.http().clone(), service: None, role: Role::Own }
    }

    /// The merchant's chain of a `component` source, once its cache is built.
    pub fn chain(&self) -> Option<&Arc<super::component::Chain>> {
        match &self.role {
            Role::Merchant(chain) => Some(chain),
            _ => None,
        }
    }

    /// A short label for screens and cache file names (the platform's token has its own).
    pub fn label(&self) -> &'static str {
        match self.role {
            Role::Platform(_) => "component_access",
            _ => self.spec.label(),
        }
    }

    /// The source's kind.
    pub fn spec(&self) -> &TokenSpec {
        &self.spec
    }

    /// The source in words, without secrets: `stable_token at https://api.weixin.qq.com`,
    /// `the token service https://tokens.internal/wx/APPID`, `command:…`, `env:VAR`.
    pub fn describe(&self) -> String {
        match &self.spec {
            TokenSpec::Stable => crate::tr!("source.stable", base = self.http.base().to_string()),
            TokenSpec::ClientCredential => crate::tr!("source.client_credential", base = self.http.base().to_string()),
            TokenSpec::Env(var) => crate::tr!("source.env", var = var.clone()),
            TokenSpec::Command(command) => crate::tr!("source.command", command = command.clone()),
            TokenSpec::Url(url) => {
                let url = self.service.as_ref().map_or(url.as_str(), |s| s.url_without_query()).to_string();
                crate::tr!("source.url", url = url)
            }
            TokenSpec::Component(c) => match self.role {
                Role::Platform(_) => {
                    format!("api_component_token of platform {} at {}", c.component_appid, self.http.base())
                }
                _ => format!(
                    "api_authorizer_token of platform {} for merchant {} at {}",
                    c.component_appid,
                    c.authorizer_appid,
                    self.http.base()
                ),
            },
        }
    }

    fn secret(&self) -> &str {
        self.secret.as_ref().map_or("", Secret::expose)
    }

    pub(super) async fn fetch(&self) -> Result<Fetched, TokenError> {
        match &self.role {
            Role::Platform(platform) => return platform.platform_token(&self.http, self.secret_ref()).await,
            Role::Merchant(chain) => return chain.authorizer_token(&self.http).await,
            Role::Own => {}
        }
        match &self.spec {
            TokenSpec::Stable => {
                let body = serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret(),
                    "force_refresh": false,
                });
                let uri = self.http.uri("/cgi-bin/stable_token", &[]).map_err(|e| TokenError::Transport(e.message))?;
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
                Ok(v) if !v.trim().is_empty() => {
                    check_token_text(v.trim()).map_err(|why| TokenError::Command {
                        command: format!("env:{var}"),
                        detail: format!("the variable does not hold a token: {why}"),
                    })?;
                    Ok(Fetched { token: AccessToken::new(v.trim()), expires_in: None })
                }
                _ => Err(TokenError::EnvMissing(var.clone())),
            },
            TokenSpec::Command(command) => run_token_command(command).await,
            TokenSpec::Url(url) => match &self.service {
                Some(service) => service.fetch().await,
                None => Err(TokenError::Service { url: url.clone(), detail: "not set up".into() }),
            },
            TokenSpec::Component(c) => Err(TokenError::Transport(format!(
                "the token chain of platform {} is not set up (a bug in wxsend: please report it)",
                c.component_appid
            ))),
        }
    }

    fn secret_ref(&self) -> &Secret {
        static NONE: std::sync::LazyLock<Secret> = std::sync::LazyLock::new(|| Secret::new(""));
        self.secret.as_ref().unwrap_or(&NONE)
    }

    /// The source of the platform's own token, for the chain of this `component` source.
    pub(super) fn platform_source(
        &self,
        spec: &crate::wechat::protocol::ComponentSpec,
        cache_dir: Option<&std::path::Path>,
    ) -> Self {
        let side =
            super::component::Platform { spec: spec.clone(), cache_dir: cache_dir.map(std::path::Path::to_path_buf) };
        Self {
            spec: self.spec.clone(),
            appid: spec.component_appid.clone(),
            secret: self.secret.clone(),
            http: self.http.clone(),
            service: None,
            role: Role::Platform(side),
        }
    }

    async fn answer(&self, reply: Result<Reply, TransportError>) -> Result<Fetched, TokenError> {
        let Reply { status, body, .. } = reply.map_err(|e| TokenError::Transport(e.message))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Transport(format!("HTTP {status}, the answer is not JSON")))?;
        match answer.access_token {
            Some(t) if answer.errcode == 0 && !t.is_empty() => {
                check_token_text(&t).map_err(|why| {
                    TokenError::Transport(format!("the token endpoint answered something that is not a token: {why}"))
                })?;
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

/// How long a token command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a token command may print (a token is at most 512 characters; WeChat's JSON answer
/// a little more).
const COMMAND_OUTPUT_LIMIT: usize = 64 * 1024;

async fn run_token_command(command: &str) -> Result<Fetched, TokenError> {
    let fail = |detail: String| TokenError::Command { command: command.to_string(), detail };
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so that a timeout ends the command and everything it started.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot start it: {e}")))?;
    let pid = child.id();
    let collect = collect_output(&mut child);
    let stopped = |child: &mut tokio::process::Child| {
        kill_group(pid);
        let _ = child.start_kill();
    };
    let (stdout, stderr, status) = match tokio::time::timeout(COMMAND_TIMEOUT, collect).await {
        Ok((stdout, stderr, Some(status))) => (stdout, stderr, status),
        Ok((_, _, None)) => {
            stopped(&mut child);
            let _ = child.wait().await;
            kill_group(pid);
            return Err(fail(format!(
                "it printed more than {} KiB; it should print the token alone",
                COMMAND_OUTPUT_LIMIT / 1024
            )));
        }
        Err(_) => {
            // End the group, then the shell itself (and reap it, so it can start nothing more),
            // then the group once more for anything it started in between.
            stopped(&mut child);
            let _ = child.wait().await;
            kill_group(pid);
            return Err(fail(format!(
                "no answer within {} s; it was stopped (with everything it started)",
                COMMAND_TIMEOUT.as_secs()
            )));
        }
    };
    let status = status.map_err(|e| fail(e.to_string()))?;
    if stdout.len() > COMMAND_OUTPUT_LIMIT {
        kill_group(pid);
        return Err(fail(format!(
            "it printed more than {} KiB; it should print the token alone",
            COMMAND_OUTPUT_LIMIT / 1024
        )));
    }
    let text = String::from_utf8_lossy(&stdout).trim().to_string();
    if !status.success() {
        let said = String::from_utf8_lossy(&stderr);
        // Whatever it printed may hold a secret or a token: show its words, not those.
        let said = scrub(said.trim(), &[text.as_str()]);
        let said: String = said.chars().take(300).collect();
        return Err(fail(format!(
            "exited with {status}{}",
            if said.is_empty() { String::new() } else { format!(": {}", redact_secrets(&said)) }
        )));
    }
    token_printed(command, text)
}

/// A running command's output: stdout (up to one byte over the limit, when it prints too much:
/// then it is not waited for and the status is `None`), stderr (its first 8 KiB), and how it
/// exited. Both pipes are read at once: a command that fills one while the other is read must
/// not hang.
async fn collect_output(
    child: &mut tokio::process::Child,
) -> (Vec<u8>, Vec<u8>, Option<std::io::Result<std::process::ExitStatus>>) {
    use tokio::io::AsyncReadExt;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let read_out = async {
        let mut stdout = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(COMMAND_OUTPUT_LIMIT as u64 + 1).read_to_end(&mut stdout).await;
        }
        stdout
    };
    let read_err = async {
        let mut stderr = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(8 * 1024).read_to_end(&mut stderr).await;
        }
        stderr
    };
    tokio::pin!(read_out, read_err);
    let mut stderr = None;
    let stdout = loop {
        tokio::select! {
            out = &mut read_out => break out,
            e = &mut read_err, if stderr.is_none() => stderr = Some(e),
        }
    };
    if stdout.len() > COMMAND_OUTPUT_LIMIT {
        // Too much: stop it rather than wait for it to finish printing.
        return (stdout, Vec::new(), None);
    }
    let stderr = match stderr {
        Some(e) => e,
        None => read_err.await,
    };
    let status = child.wait().await;
    (stdout, stderr, Some(status))
}

/// What a token command printed: a bare token, or WeChat's JSON answer
/// `{"access_token": …, "expires_in": …}` (or its refusal, `{"errcode": …, "errmsg": …}`).
fn token_printed(command: &str, text: String) -> Result<Fetched, TokenError> {
    let fail = |detail: String| TokenError::Command { command: command.to_string(), detail };
    if let Ok(a) = serde_json::from_str::<TokenAnswer>(&text) {
        if let Some(t) = a.access_token.filter(|t| !t.is_empty()) {
            check_token_text(&t).map_err(|why| fail(format!("the access_token it printed is not a token: {why}")))?;
            return Ok(Fetched { token: AccessToken::new(t), expires_in: a.expires_in.map(Duration::from_secs) });
        }
        if a.errcode != 0 {
            return Err(TokenError::Api { errcode: a.errcode, errmsg: a.errmsg, hint: hint(a.errcode) });
        }
    }
    if text.is_empty() {
        return Err(fail("it printed nothing (expected the token alone, or JSON with access_token)".into()));
    }
    check_token_text(&text).map_err(|why| fail(format!("what it printed is not a token: {why}")))?;
    Ok(Fetched { token: AccessToken::new(text), expires_in: None })
}

/// End a command's whole process group.
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        // The group id is the child's pid (process_group(0)); `kill -- -PGID` ends them all.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Words in a command's error output that look like credentials (long runs of token
/// characters) are replaced by `***`.
fn redact_secrets(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.len() >= 24 && check_token_text(w.trim_matches(|c: char| !c.is_ascii_alphanumeric())).is_ok() {
                "***"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
