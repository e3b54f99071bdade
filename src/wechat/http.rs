//! HTTP to one API base: one `reqwest::Client`, built once from the `[network]` settings.
//!
//! reqwest (hyper underneath) frames every request, keeps connections alive in its pool (sized
//! to the campaign's concurrency), tunnels `https` through an HTTP proxy with CONNECT and sends
//! plain `http` to a proxy in absolute form. What wxsend adds is the decisions around it: which
//! route a base takes ([`super::net::Route`], the same curl rules reqwest applies), which roots a
//! certificate is checked against ([`super::net::tls_config`], shared with `doctor`'s probe), and
//! what each failure means for a message — whether the request can have reached WeChat
//! ([`TransportError::maybe_sent`]) and whether the set-up is at fault ([`TransportError::setup`]).
//!
//! Requests carry the access token in their query, so nothing here ever lets a URL into an error:
//! reqwest's errors are read without their URL and described by what went wrong.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

pub use super::net::{ClientError, TransportError};
use super::net::{Proxy, Route};
use super::protocol::NetworkOptions;

/// An answer: its status, its `Date` header and its whole body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The server's clock, from its `Date` header.
    pub date: Option<std::time::SystemTime>,
    /// The body.
    pub body: Bytes,
}

/// A request URL: the API base, a path and a query (which may hold the access token: its
/// `Debug` shows none of it).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestUrl(reqwest::Url);

impl std::fmt::Debug for RequestUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestUrl({})", self.0.path())
    }
}

impl RequestUrl {
    /// The path and query, as sent (in tests: the query is percent-encoded).
    pub fn path_and_query(&self) -> String {
        match self.0.query() {
            Some(q) => format!("{}?{q}", self.0.path()),
            None => self.0.path().to_string(),
        }
    }
}

/// The HTTP client of one API base.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    /// The base parsed; paths are appended to its path.
    url: reqwest::Url,
    host: String,
    port: u16,
    /// Direct, or which proxy.
    route: Route,
    /// The trust a certificate is checked against (`https` bases).
    tls: Option<Arc<rustls::ClientConfig>>,
    net: NetworkOptions,
    client: reqwest::Client,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.inner.base).finish_non_exhaustive()
    }
}

/// What a step-by-step probe needs (see `probe.rs`): the same route, trust and timeouts.
pub(crate) struct ProbeParts<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) route: &'a Route,
    pub(crate) tls: Option<&'a Arc<rustls::ClientConfig>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls_timeout: Duration,
}

/// Connections kept idle per host when the caller gives no concurrency.
const DEFAULT_POOL: usize = 32;

impl Http {
    /// A client for `base` (`http://` or `https://`, no query) with default network options
    /// (proxy from the environment) whose requests time out after `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, ClientError> {
        Self::with_network(base, &NetworkOptions { timeout, ..NetworkOptions::default() })
    }

    /// A client for `base` with these network options.
    pub fn with_network(base: &str, net: &NetworkOptions) -> Result<Self, ClientError> {
        Self::build(base, net, DEFAULT_POOL)
    }

    /// A client for `base` whose pool keeps up to `pool` idle connections (the concurrency).
    pub fn build(base: &str, net: &NetworkOptions, pool: usize) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        super::protocol::check_api_base(&base).map_err(|e| ClientError(e.to_string()))?;
        let uri: http::Uri = base.parse().map_err(|_| ClientError(format!("api_base {base:?} is not a URL")))?;
        let url = reqwest::Url::parse(&base).map_err(|_| ClientError(format!("api_base {base:?} is not a URL")))?;
        let https = uri.scheme_str() == Some("https");
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let route = Route::for_base(&uri, &net.proxy)?;
        let tls = if https { Some(super::net::tls_config(net.ca_file.as_deref())?) } else { None };
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("wxsend/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(net.connect_timeout.max(net.tls_timeout))
            .timeout(net.timeout)
            .pool_idle_timeout(net.idle_timeout)
            .pool_max_idle_per_host(pool.max(1))
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(super::dns::CachedResolver::default()))
            .http1_only()
            .redirect(reqwest::redirect::Policy::none());
        builder = match &route {
            Route::Direct => builder.no_proxy(),
            Route::Proxy(p) => builder.proxy(reqwest_proxy(p)?),
        };
        if let Some(config) = &tls {
            builder = builder.use_preconfigured_tls((**config).clone());
        }
        let client = builder.build().map_err(|e| ClientError(describe(&e)))?;
        Ok(Self { inner: Arc::new(Inner { base, url, host, port, route, tls, net: net.clone(), client }) })
    }

    /// How requests travel: `direct` or the proxy (never its credentials).
    pub fn route(&self) -> String {
        self.inner.route.describe()
    }

    /// What a probe needs to make a connection step by step (see `probe.rs`).
    pub(crate) fn probe_parts(&self) -> ProbeParts<'_> {
        let inner = &self.inner;
        ProbeParts {
            host: &inner.host,
            port: inner.port,
            route: &inner.route,
            tls: inner.tls.as_ref(),
            connect_timeout: inner.net.connect_timeout,
            tls_timeout: inner.net.tls_timeout,
        }
    }

    /// The API base, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// The URL of `path` (starting with `/`, appended to the base's own path) with `query` pairs,
    /// percent-encoded.
    pub fn uri(&self, path: &str, query: &[(&str, &str)]) -> Result<RequestUrl, TransportError> {
        let mut url = self.inner.url.clone();
        // A path may bring a query of its own (a token service's `?key=`): kept, then `query`.
        let (path, own_query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
        url.set_path(&format!("{}{path}", self.inner.url.path().trim_end_matches('/')));
        url.set_query(own_query);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(RequestUrl(url))
    }

    /// POST a JSON `body` to `url` (from [`Http::uri`]).
    pub async fn post_json(&self, url: RequestUrl, body: Bytes) -> Result<Reply, TransportError> {
        let request = self.inner.client.post(url.0).header(http::header::CONTENT_TYPE, "application/json").body(body);
        self.call(request).await
    }

    /// GET `url` (from [`Http::uri`]).
    pub async fn get(&self, url: RequestUrl) -> Result<Reply, TransportError> {
        self.call(self.inner.client.get(url.0)).await
    }

    /// GET `url` with extra headers (they replace built-in ones of the same name).
    pub async fn get_with(
        &self,
        url: RequestUrl,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Reply, TransportError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(k.clone(), v.clone());
        }
        self.call(self.inner.client.get(url.0).headers(map)).await
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Reply, TransportError> {
        let response = match request.send().await {
            Ok(r) => r,
            // Boxed: rare, and a tunnel diagnosis is a connection of its own.
            Err(e) => return Err(Box::pin(self.explain(e)).await),
        };
        let status = response.status();
        let date = response
            .headers()
            .get(http::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok());
        match response.bytes().await {
            Ok(body) => Ok(Reply { status, date, body }),
            Err(e) => Err(Box::pin(self.explain(e)).await),
        }
    }

    /// What a reqwest error means: the words, whether the request may have left, whether the
    /// set-up is at fault.
    async fn explain(&self, e: reqwest::Error) -> TransportError {
        let e = e.without_url();
        let timeout_ms = self.inner.net.timeout.as_millis();
        if e.is_connect() {
            if let Some(tls) = find_source::<rustls::Error>(&e) {
                let (words, setup) = super::net::describe_rustls_error(&self.inner.host, tls);
                return TransportError { message: format!("cannot connect: {words}"), setup, maybe_sent: false };
            }
            if let Route::Proxy(proxy) = &self.inner.route {
                if self.inner.tls.is_some() {
                    if let Some(refusal) = self.tunnel_refusal(proxy).await {
                        return refusal;
                    }
                }
            }
            let what = if e.is_timeout() {
                format!(
                    "no connection to {} within {} ms",
                    self.connect_target(),
                    self.inner.net.connect_timeout.max(self.inner.net.tls_timeout).as_millis()
                )
            } else {
                format!("no connection to {}: {}", self.connect_target(), describe(&e))
            };
            return TransportError::unsent(format!("cannot connect: {what}"));
        }
        if e.is_builder() {
            return TransportError::unsent(format!("the request could not be made: {}", describe(&e)));
        }
        if e.is_timeout() {
            return TransportError::maybe_sent(format!(
                "timed out after {timeout_ms} ms (the request may have arrived)"
            ));
        }
        if e.is_body() || e.is_decode() {
            return TransportError::maybe_sent(format!("the answer was cut off: {}", describe(&e)));
        }
        TransportError::maybe_sent(format!("the connection failed during the request: {}", describe(&e)))
    }

    /// Where a connection goes first: the API host, or the proxy.
    fn connect_target(&self) -> String {
        match &self.inner.route {
            Route::Direct => format!("{}:{}", self.inner.host, self.inner.port),
            Route::Proxy(p) => format!("the proxy {}:{}", p.host, p.port),
        }
    }

    /// reqwest reports a refused tunnel without the proxy's answer: ask the proxy once more, on a
    /// connection of this diagnosis's own, and keep its words when it refuses (407, 403).
    async fn tunnel_refusal(&self, proxy: &Proxy) -> Option<TransportError> {
        let within = self.inner.net.connect_timeout;
        let mut tcp = tcp_connect(&proxy.host, proxy.port, within).await.ok()?;
        let target = format!("{}:{}", self.inner.host, self.inner.port);
        let answer = tokio::time::timeout(within, super::net::connect_tunnel(&mut tcp, &target, proxy.auth.as_ref()))
            .await
            .ok()?;
        match answer {
            Err(e) => Some(TransportError {
                message: format!("cannot connect through the proxy {}:{}: {}", proxy.host, proxy.port, e.message),
                ..e
            }),
            Ok(()) => None,
        }
    }
}

/// reqwest's proxy for `p`: every request through it, its credentials for both the tunnel and
/// absolute-form requests.
fn reqwest_proxy(p: &Proxy) -> Result<reqwest::Proxy, ClientError> {
    let url = format!("http://{}:{}", p.host, p.port);
    let proxy = reqwest::Proxy::all(&url).map_err(|e| ClientError(format!("the proxy {url}: {}", describe(&e))))?;
    Ok(match &p.auth {
        Some(auth) => proxy.custom_http_auth(auth.clone()),
        None => proxy,
    })
}

/// The first error in `e`'s chain of causes that is a `T`. An `io::Error` is looked into
/// (its own `source()` skips the error it wraps, and TLS errors come wrapped twice).
fn find_source<'a, T: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        current = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// An error and its causes in words, the innermost last, without repeats (and without a URL:
/// callers pass errors stripped of theirs).
fn describe(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// A TCP connection to `host:port` within `within` (for the probe and the tunnel diagnosis).
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    within: Duration,
) -> Result<tokio::net::TcpStream, TransportError> {
    tokio::time::timeout(within, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            TransportError::unsent(format!(
                "cannot connect: no connection to {host}:{port} within {} ms",
                within.as_millis()
            ))
        })?
        .map_err(|e| TransportError::unsent(format!("cannot connect to {host}:{port}: {e}")))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
