//! HTTP/1.1 to one API base: connections ([`super::h1::Conn`]) kept alive in a small pool,
//! rustls for `https`.
//!
//! One request at a time per connection, as WeChat's API expects; a connection goes back to the
//! pool when its answer has been read whole. A request is retried on another connection only when
//! none of it was accepted by the first (the server closed an idle connection): a request that
//! may have left is never repeated here.
//!
//! Requests carry the access token in their query, so nothing here ever formats a URI into an
//! error: failures are described by what went wrong, not where.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::h1::{Conn, H1Error, Head};
use super::net::{Proxy, Route};
use super::protocol::NetworkOptions;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(pub(crate) String);

/// A transport failure, in words that hold no URI (hence no token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// What went wrong.
    pub message: String,
    /// The set-up is at fault (a certificate not trusted, a proxy refusing): no retry will help
    /// until the operator changes it. Nothing was sent.
    pub setup: bool,
}

impl TransportError {
    /// A failure that may pass (a timeout, a reset, a refused connection).
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), setup: false }
    }

    /// A failure of the set-up (see [`TransportError::setup`]).
    pub fn setup(message: impl Into<String>) -> Self {
        Self { message: message.into(), setup: true }
    }
}

/// An answer: its status and whole body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

/// Idle connections kept at most per thread; more than the highest useful concurrency.
const MAX_IDLE: usize = 1024;

/// This thread's place in every client's pool: a connection is driven by the runtime of the
/// thread that opened it, so it is reused on that thread only.
fn slot() -> usize {
    crate::slot::current()
}

/// The parts of a client a step-by-step probe uses.
pub(crate) struct ProbeParts<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) host_header: &'a HeaderValue,
    pub(crate) route: &'a Route,
    pub(crate) tls: Option<&'a (TlsConnector, rustls::pki_types::ServerName<'static>)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls_timeout: Duration,
}

/// A pooled HTTP/1.1 client for one API base.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    /// The base's path (`""` or e.g. `/proxy`), prefixed to every request path.
    prefix: String,
    host: String,
    port: u16,
    host_header: HeaderValue,
    /// `http://host:port` when requests go to a proxy in absolute form (`http` through a proxy).
    absolute: Option<String>,
    /// Direct, or which proxy.
    route: Route,
    /// Set for `https` bases.
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    timeout: Duration,
    connect_timeout: Duration,
    tls_timeout: Duration,
    idle_timeout: Duration,
    user_agent: HeaderValue,
    /// Idle connections and when they became idle, by the thread that opened them.
    idle: Mutex<Vec<Vec<(Conn, Instant)>>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.inner.base).finish_non_exhaustive()
    }
}

impl Http {
    /// A client for `base` (`http://` or `https://`, no query) with default network options
    /// (proxy from the environment) whose requests time out after `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, ClientError> {
        Self::with_network(base, &NetworkOptions { timeout, ..NetworkOptions::default() })
    }

    /// A client for `base` with these network options.
    pub fn with_network(base: &str, net: &NetworkOptions) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        super::protocol::check_api_base(&base).map_err(ClientError)?;
        let uri: Uri = base.parse().map_err(|_| ClientError(format!("api_base {base:?} is not a URL")))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
        let host_header = HeaderValue::from_str(&authority).map_err(|e| ClientError(e.to_string()))?;
        let route = Route::for_base(&uri, &net.proxy)?;
        let tls = if https {
            let config = super::net::tls_config(net.ca_file.as_deref())?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| ClientError(format!("api_base {base:?}: {host:?} is not a host name")))?;
            Some((TlsConnector::from(config), name))
        } else {
            None
        };
        let absolute = (!https && matches!(route, Route::Proxy(_))).then(|| format!("http://{authority}"));
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                prefix,
                host,
                port,
                host_header,
                absolute,
                route,
                tls,
                timeout: net.timeout,
                connect_timeout: net.connect_timeout,
                tls_timeout: net.tls_timeout,
                idle_timeout: net.idle_timeout,
                user_agent: HeaderValue::from_static(concat!("wxsend/", env!("CARGO_PKG_VERSION"))),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// How requests travel: `direct` or the proxy (never its credentials).
    pub fn route(&self) -> String {
        self.inner.route.describe()
    }

    /// The API host and port.
    pub fn target(&self) -> (&str, u16) {
        (&self.inner.host, self.inner.port)
    }

    /// What a probe needs to make a connection step by step (see `probe.rs`).
    pub(crate) fn probe_parts(&self) -> ProbeParts<'_> {
        let inner = &self.inner;
        ProbeParts {
            host: &inner.host,
            port: inner.port,
            host_header: &inner.host_header,
            route: &inner.route,
            tls: inner.tls.as_ref(),
            connect_timeout: inner.connect_timeout,
            tls_timeout: inner.tls_timeout,
        }
    }

    /// The API base, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// The request target of `path` (starting with `/`) with `query` pairs, percent-encoded.
    pub fn uri(&self, path: &str, query: &[(&str, &str)]) -> Result<Uri, TransportError> {
        let mut text = format!("{}{}{path}", self.inner.absolute.as_deref().unwrap_or(""), self.inner.prefix);
        if !query.is_empty() {
            text.push('?');
            text.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
        }
        Uri::try_from(text)
            .map_err(|_| TransportError::new(format!("`{}{path}` is not a valid URL: check api_base", self.inner.base)))
    }

    /// POST a JSON `body` to `uri` (from [`Http::uri`]).
    pub async fn post_json(&self, uri: Uri, body: Bytes) -> Result<Reply, TransportError> {
        self.call("POST", uri, &body, &[]).await
    }

    /// GET `uri` (from [`Http::uri`]).
    pub async fn get(&self, uri: Uri) -> Result<Reply, TransportError> {
        self.call("GET", uri, &[], &[]).await
    }

    /// GET `uri` with extra headers.
    pub async fn get_with(&self, uri: Uri, headers: &[(HeaderName, HeaderValue)]) -> Result<Reply, TransportError> {
        self.call("GET", uri, &[], headers).await
    }

    async fn call(
        &self,
        method: &'static str,
        uri: Uri,
        body: &[u8],
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<Reply, TransportError> {
        let inner = &self.inner;
        // The request target: origin form, or the absolute form a plain-`http` proxy wants.
        let absolute;
        let target = match uri.scheme_str() {
            None => uri.path_and_query().map_or("/", |p| p.as_str()),
            Some(_) => {
                absolute = uri.to_string();
                &absolute
            }
        };
        // The header lines, on the stack (no allocation per request).
        let mut lines: [(&str, &[u8]); 4] = [("", b""); 4];
        let mut n = 0;
        let mut line = |name, value| {
            lines[n] = (name, value);
            n += 1;
        };
        line("Host", inner.host_header.as_bytes());
        line("User-Agent", inner.user_agent.as_bytes());
        if method == "POST" {
            line("Content-Type", b"application/json");
        }
        if let (Some(_), Route::Proxy(Proxy { auth: Some(auth), .. })) = (&inner.absolute, &inner.route) {
            line("Proxy-Authorization", auth.as_bytes());
        }
        let with_extra: Vec<(&str, &[u8])>;
        let headers = if extra.is_empty() {
            &lines[..n]
        } else {
            // An extra header replaces a built-in one of the same name (as a header map would).
            let replaced = |name: &str| extra.iter().any(|(k, _)| k.as_str().eq_ignore_ascii_case(name));
            with_extra = lines[..n]
                .iter()
                .copied()
                .filter(|(name, _)| !replaced(name))
                .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
                .collect();
            &with_extra[..]
        };
        let head = Head { method, target, headers, want_date: false };
        match tokio::time::timeout(inner.timeout, self.exchange(&head, body)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::new(format!("timed out after {} ms", inner.timeout.as_millis()))),
        }
    }

    async fn exchange(&self, head: &Head<'_>, body: &[u8]) -> Result<Reply, TransportError> {
        loop {
            let (mut conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                // Boxed: opening a connection (TLS, a tunnel) is rare and its state is large;
                // inline it would be copied with every request's future.
                None => (Box::pin(self.connect()).await?, false),
            };
            match conn.request(head, body).await {
                Ok(answer) => {
                    let status = StatusCode::from_u16(answer.status).map_err(|_| {
                        TransportError::new(format!("the answer's status {} is not HTTP", answer.status))
                    })?;
                    self.put_idle(conn);
                    return Ok(Reply { status, body: answer.body });
                }
                // None of it was accepted: safe on another connection, if this one had served
                // before (the server closed it while idle).
                Err(H1Error::Unsent(_)) if reused => continue,
                Err(H1Error::Unsent(e)) => return Err(TransportError::new(format!("request failed: {e}"))),
                Err(H1Error::Answer(message)) => return Err(TransportError::new(message)),
            }
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut pool = self.inner.idle.lock().ok()?;
        let idle = pool.get_mut(slot())?;
        while let Some((mut conn, since)) = idle.pop() {
            // The newest is taken first: once one is too old, all below it are older still.
            if since.elapsed() > self.inner.idle_timeout {
                idle.clear();
                return None;
            }
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, conn: Conn) {
        if !conn.kept_open() {
            return;
        }
        if let Ok(mut pool) = self.inner.idle.lock() {
            let slot = slot();
            if pool.len() <= slot {
                pool.resize_with(slot + 1, Vec::new);
            }
            if pool[slot].len() < MAX_IDLE {
                pool[slot].push((conn, Instant::now()));
            }
        }
    }

    /// Close the idle connections this thread opened (a sending thread that ends calls it while
    /// its runtime still runs).
    pub fn close_thread_connections(&self) {
        let closing = match self.inner.idle.lock() {
            Ok(mut pool) => pool.get_mut(slot()).map(std::mem::take),
            Err(_) => None,
        };
        drop(closing);
    }

    /// Open a connection (directly, to the proxy, or through a proxy's CONNECT tunnel).
    async fn connect(&self) -> Result<Conn, TransportError> {
        let inner = &self.inner;
        let tcp = match (&inner.route, &inner.tls) {
            (Route::Direct, _) => tcp_connect(&inner.host, inner.port, inner.connect_timeout).await?,
            (Route::Proxy(p), None) => tcp_connect(&p.host, p.port, inner.connect_timeout).await?,
            (Route::Proxy(p), Some(_)) => self.tunnel(p).await?,
        };
        let _ = tcp.set_nodelay(true);
        match &inner.tls {
            None => Ok(Conn::new(tcp)),
            Some((tls, name)) => {
                let stream = tokio::time::timeout(inner.tls_timeout, tls.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| {
                        TransportError::new(format!(
                            "cannot connect: no TLS handshake with {} within {} ms",
                            inner.host,
                            inner.tls_timeout.as_millis()
                        ))
                    })?
                    .map_err(|e| {
                        let (words, setup) = super::net::describe_tls_error(&inner.host, &e);
                        TransportError { message: format!("cannot connect: {words}"), setup }
                    })?;
                Ok(Conn::new(stream))
            }
        }
    }

    /// A CONNECT tunnel through `proxy` to the API host.
    async fn tunnel(&self, proxy: &Proxy) -> Result<TcpStream, TransportError> {
        let inner = &self.inner;
        let mut tcp = tcp_connect(&proxy.host, proxy.port, inner.connect_timeout).await?;
        let target = format!("{}:{}", inner.host, inner.port);
        let via = format!("the proxy {}:{}", proxy.host, proxy.port);
        tokio::time::timeout(inner.connect_timeout, super::net::connect_tunnel(&mut tcp, &target, proxy.auth.as_ref()))
            .await
            .map_err(|_| {
                TransportError::new(format!(
                    "cannot connect: {via} opened no tunnel to {target} within {} ms",
                    inner.connect_timeout.as_millis()
                ))
            })?
            .map_err(|e| TransportError { message: format!("cannot connect through {via}: {}", e.message), ..e })?;
        Ok(tcp)
    }
}

pub(crate) async fn tcp_connect(host: &str, port: u16, within: Duration) -> Result<TcpStream, TransportError> {
    tokio::time::timeout(within, TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            TransportError::new(format!(
                "cannot connect: no connection to {host}:{port} within {} ms",
                within.as_millis()
            ))
        })?
        .map_err(|e| TransportError::new(format!("cannot connect to {host}:{port}: {e}")))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
