//! The embedded mock WeChat server: a real HTTP server on 127.0.0.1 for `--mock`, `wxsend mock`,
//! the demo and the tests. It follows WeChat's token rules, validates requests, answers scripted
//! errors by openid prefix, injects seeded faults and records every accepted message.

mod body;
mod catalogue;
pub mod component;
mod config;
mod followers;
mod push;
mod record;
mod rules;
mod serve;
pub mod state;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub use config::{Latency, LatencyError, MockConfig};
pub use followers::Follower;
pub use record::Record;
pub use state::{MockState, Reply, Stats};

use crate::wechat::protocol::Kind;

/// The TLS set-up of `--tls-cert`/`--tls-key`, or none.
fn tls_acceptor(config: &MockConfig) -> std::io::Result<Option<tokio_rustls::TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else { return Ok(None) };
    let bad = |path: &std::path::Path, e: String| std::io::Error::other(format!("{}: {e}", path.display()));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    let server = rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| bad(cert, e.to_string()))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

/// A running mock server.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    tls: bool,
    state: Arc<MockState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Bind 127.0.0.1:`config.port` and serve in the background of the current runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let acceptor = tls_acceptor(&config)?;
        let tls = acceptor.is_some();
        let state = Arc::new(MockState::new(config)?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        let served = state.clone();
        let task = tokio::spawn(serve::serve(listener, served, app, acceptor, async {
            let _ = rx.await;
        }));
        Ok(Self { addr, tls, state, shutdown: Some(tx), task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to put in `api_base` (`https://localhost:…` with `--tls-cert`).
    pub fn url(&self) -> String {
        match self.tls {
            true => format!("https://localhost:{}", self.addr.port()),
            false => format!("http://{}", self.addr),
        }
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

type MockRef = State<Arc<MockState>>;

/// Every endpoint.
fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route(Kind::Template.endpoint(), post(send_template))
        .route(Kind::Subscribe.endpoint(), post(send_subscribe))
        .route(Kind::Uniform.endpoint(), post(send_uniform))
        .route(Kind::MpSubscribe.endpoint(), post(send_bizsend))
        .route("/cgi-bin/token", get(client_credential))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/cgi-bin/openapi/quota/get", post(quota))
        .route("/cgi-bin/template/get_all_private_template", get(official_templates))
        .route("/wxaapi/newtmpl/gettemplate", get(subscribe_templates))
        .route("/mock/stats", get(stats))
        .route("/mock/records", get(records))
        .route("/mock/reset-daily-quota", post(reset_daily_quota))
        .route("/mock/invalidate-tokens", post(invalidate_tokens))
        .route("/mock/push", post(push_events))
        .merge(component::routes())
        .merge(followers::routes())
        .with_state(state)
}

use serve::respond;

async fn send_template(State(s): MockRef, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    send(s, Kind::Template, q, body).await
}

async fn send_subscribe(State(s): MockRef, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    send(s, Kind::Subscribe, q, body).await
}

async fn send_bizsend(State(s): MockRef, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    send(s, Kind::MpSubscribe, q, body).await
}

async fn send_uniform(State(s): MockRef, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    send(s, Kind::Uniform, q, body).await
}

/// A send: judged and recorded at once, answered after the network's delay (what a slow answer
/// looks like to a sender: WeChat has the message, the answer is on its way).
async fn send(s: Arc<MockState>, kind: Kind, q: TokenQuery, body: Bytes) -> Response {
    let reply = s.send(kind, q.access_token.as_deref(), &body);
    let latency = s.config().latency;
    if !latency.is_zero() {
        let started = std::time::Instant::now();
        tokio::time::sleep(latency.draw()).await;
        s.count_delay(started.elapsed());
    }
    respond(reply)
}

async fn client_credential(State(s): MockRef, Query(q): Query<CredentialQuery>) -> Response {
    respond(s.client_credential(q.grant_type.as_deref(), q.appid.as_deref(), q.secret.as_deref()))
}

async fn stable_token(State(s): MockRef, body: Bytes) -> Response {
    respond(s.stable_token(&body))
}

async fn quota(State(s): MockRef, Query(q): Query<TokenQuery>, body: Bytes) -> Response {
    respond(s.quota(q.access_token.as_deref(), &body))
}

async fn official_templates(State(s): MockRef, Query(q): Query<TokenQuery>) -> Response {
    s.template_hold_lifted().await;
    respond(s.templates(Kind::Template, q.access_token.as_deref()))
}

async fn subscribe_templates(State(s): MockRef, Query(q): Query<TokenQuery>) -> Response {
    s.template_hold_lifted().await;
    respond(s.templates(Kind::Subscribe, q.access_token.as_deref()))
}

async fn stats(State(s): MockRef) -> Response {
    respond(Reply::Json(serde_json::to_value(s.stats()).unwrap_or_default()))
}

async fn records(State(s): MockRef) -> Response {
    respond(Reply::Json(serde_json::to_value(s.records()).unwrap_or_default()))
}

async fn reset_daily_quota(State(s): MockRef) -> Response {
    s.reset_daily_quota();
    respond(Reply::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" })))
}

async fn push_events(State(s): MockRef, body: Bytes) -> Response {
    match serde_json::from_slice::<push::PushRequest>(&body) {
        Ok(req) => respond(push::push(s, req).await),
        Err(e) => {
            respond(Reply::Json(serde_json::json!({ "errcode": 47001, "errmsg": format!("data format error: {e}") })))
        }
    }
}

async fn invalidate_tokens(State(s): MockRef) -> Response {
    s.invalidate_tokens();
    respond(Reply::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" })))
}
