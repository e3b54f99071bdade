//! The embedded mock WeChat server: a real HTTP server on 127.0.0.1 for `--mock`, `wxsend mock`,
//! the demo and the tests. It follows WeChat's token rules, validates requests, answers scripted
//! errors by openid prefix, injects seeded faults and records every accepted message.

mod body;
mod catalogue;
mod record;
mod rules;
mod serve;
pub mod state;
mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub use record::Record;
pub use state::{MockState, Reply, Stats};

use crate::wechat::protocol::Kind;

/// How the mock behaves. Every field is a flag of `wxsend mock`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = SCRIPTED_HELP)]
pub struct MockConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Lifetime of an access token, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 7200)]
    pub token_ttl: u64,
    /// Seed of the fault dice (the same seed gives the same faults for the same requests).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of sends answered errcode -1 (system error), 0 to 1.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub system_error_rate: f64,
    /// Share of sends answered HTTP 502.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub http_502_rate: f64,
    /// Share of sends answered with a body that is not JSON.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub non_json_rate: f64,
    /// Delay before each send answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Sends allowed per day (WeChat's default for template messages: 100,000); then errcode
    /// 45009.
    #[arg(long, visible_alias = "quota", value_name = "N", default_value = "100000")]
    pub daily_quota: Option<u64>,
    /// Sends allowed per minute; then errcode 45011 until the minute is over.
    #[arg(long, value_name = "N")]
    pub minute_quota: Option<u64>,
    /// Length of the per-minute quota's window, in milliseconds (shorter for tests).
    #[arg(long, value_name = "MS", default_value_t = 60_000, hide = true)]
    pub minute_window_ms: u64,
    /// Invalidate all live tokens when the send request count reaches N (repeatable).
    #[arg(long = "invalidate-tokens-at", value_name = "N")]
    pub invalidate_tokens_at: Vec<u64>,
    /// Answer uniform_send with 45109, as WeChat has since 2023-09-20.
    #[arg(long)]
    pub uniform_withdrawn: bool,
    /// Deliver every request, ignoring `client_msg_id` (what a resend costs where WeChat does
    /// not de-duplicate: subscribe, uniform, or after 10 minutes).
    #[arg(long)]
    pub no_dedupe: bool,
    /// The account's templates (JSON: {"template":[get_all_private_template entries],
    /// "subscribe":[gettemplate entries]}); with it, other ids answer 40037 and subscribe sends
    /// are checked against their template (47003). Default: the samples' templates, any id.
    #[arg(long, value_name = "FILE")]
    pub templates: Option<PathBuf>,
    /// Answer the template list endpoints with 48001 (an app without that permission).
    #[arg(long)]
    pub deny_template_list: bool,
    /// Accept only these template ids (repeatable; none: any id).
    #[arg(long = "template-id", value_name = "ID")]
    pub template_ids: Vec<String>,
    /// Refuse token requests with 40164 as WeChat does when the caller's IP is not on the
    /// account's whitelist, naming this address as the caller's.
    #[arg(long, value_name = "IP")]
    pub refuse_ip: Option<String>,
    /// Accept token requests only for this appid (else 40013).
    #[arg(long)]
    pub appid: Option<String>,
    /// Accept token requests only with this secret (else 40125).
    #[arg(long)]
    pub secret: Option<String>,
    /// Append every accepted message to this JSON-lines file.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Scripted outcomes, for `wxsend mock --help` and the README.
pub const SCRIPTED_HELP: &str = "\
Scripted answers by openid prefix (after token and request checks):
  oREFUSE…   43101 user refused the message
  oUNSUB…    43004 require subscribe
  oBAD…      40003 invalid openid
  oBLOCK…    48002 user blocks messages
  oFLAKY…    -1 system error on the first request for that openid, then delivered
  oBUSY…     43108 concurrent sends on the first request, then delivered
  oERR<n>_…  errcode n (oERRm1_… for -1), e.g. oERR45168_… for a sensitive word
Admin endpoints: GET /mock/stats, GET /mock/records, POST /mock/reset-daily-quota,
POST /mock/invalidate-tokens.";

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            port: 0,
            token_ttl: 7200,
            seed: 1,
            system_error_rate: 0.0,
            http_502_rate: 0.0,
            non_json_rate: 0.0,
            latency_ms: 0,
            daily_quota: Some(100_000),
            minute_quota: None,
            minute_window_ms: 60_000,
            invalidate_tokens_at: Vec::new(),
            uniform_withdrawn: false,
            no_dedupe: false,
            template_ids: Vec::new(),
            templates: None,
            deny_template_list: false,
            refuse_ip: None,
            appid: None,
            secret: None,
            record: None,
        }
    }
}

/// A running mock server.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Bind 127.0.0.1:`config.port` and serve in the background of the current runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState::new(config)?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        let served = state.clone();
        let task = tokio::spawn(serve::serve(listener, served, app, async {
            let _ = rx.await;
        }));
        Ok(Self { addr, state, shutdown: Some(tx), task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to put in `api_base`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its state, for tests that script it.
    pub fn state(&self) -> &Arc<MockState> {
        &self.state
    }

    /// Its counters.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Every accepted message.
    pub fn records(&self) -> Vec<Record> {
        self.state.records()
    }

    /// Stop accepting connections and wait for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.state.flush_record();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.state.flush_record();
        self.task.abort();
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct CredentialQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

type Shared = State<Arc<MockState>>;

/// Every endpoint but the three sends, which [`serve`] answers itself.
fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/cgi-bin/token", get(client_credential))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/cgi-bin/openapi/quota/get", post(quota))
        .route("/cgi-bin/template/get_all_private_template", get(official_templates))
        .route("/wxaapi/newtmpl/gettemplate", get(subscribe_templates))
        .route("/mock/stats", get(stats))
        .route("/mock/records", get(records))
        .route("/mock/reset-daily-quota", post(reset_daily_quota))
        .route("/mock/invalidate-tokens", post(invalidate_tokens))
        .with_state(state)
}

use serve::respond;

async fn client_credential(State(s): Shared, Query(q): Query<CredentialQuery>) -> Response {
    respond(s.client_credential(q.grant_type.as_deref(), q.appid.as_deref(), q.secret.as_deref()))
}

async fn stable_token(State(s): Shared, body: Bytes) -> Response {
    respond(s.stable_token(&body))
}

async fn quota(State(s): Shared, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    respond(s.quota(q.access_token.as_deref(), &body))
}

async fn official_templates(State(s): Shared, Query(q): Query<TokenQuery>) -> Response {
    respond(s.templates(Kind::Template, q.access_token.as_deref()))
}

async fn subscribe_templates(State(s): Shared, Query(q): Query<TokenQuery>) -> Response {
    respond(s.templates(Kind::Subscribe, q.access_token.as_deref()))
}

async fn stats(State(s): Shared) -> Response {
    respond(Reply::Json(serde_json::to_value(s.stats()).unwrap_or_default()))
}

async fn records(State(s): Shared) -> Response {
    respond(Reply::Json(serde_json::to_value(s.records()).unwrap_or_default()))
}

async fn reset_daily_quota(State(s): Shared) -> Response {
    s.reset_daily_quota();
    respond(Reply::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" })))
}

async fn invalidate_tokens(State(s): Shared) -> Response {
    s.invalidate_tokens();
    respond(Reply::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" })))
}
