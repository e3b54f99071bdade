//! The network decisions around the HTTP client: which proxy the settings and the environment
//! choose for a base (hyper-util's matcher, the code reqwest itself uses: curl's `NO_PROXY`
//! rules), the TLS trust a certificate is checked against (webpki's roots, the system's store,
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`, `ca_file`), what a failed handshake means in words, and the
//! proxy's CONNECT answer read for diagnosis (`doctor`'s tunnel step, and the words of a refused
//! tunnel, which reqwest does not keep).

use std::path::Path;
use std::sync::Arc;

use http::header::HeaderValue;
use http::Uri;
use hyper_util::client::proxy::matcher::Matcher;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::protocol::ProxySetting;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::tr!("err.client_error", value0 = .0.to_string()))]
pub struct ClientError(pub(crate) String);

/// A transport failure, in words that hold no URL (hence no token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// What went wrong.
    pub message: String,
    /// The set-up is at fault (a certificate not trusted, a proxy refusing): no retry will help
    /// until the operator changes it. Nothing was sent.
    pub setup: bool,
    /// The request may have reached the server: it was written, at least in part, before the
    /// failure (a timeout while waiting for the answer, a reset while reading it, a cut body).
    /// `false` means it certainly never left (DNS, TCP, the proxy's tunnel, the TLS handshake).
    pub maybe_sent: bool,
}

impl TransportError {
    /// A failure before any of the request left (DNS, TCP, tunnel, TLS): safe to send again.
    pub fn unsent(message: impl Into<String>) -> Self {
        Self { message: message.into(), setup: false, maybe_sent: false }
    }

    /// A failure after the request was written: the server may have acted on it.
    pub fn maybe_sent(message: impl Into<String>) -> Self {
        Self { message: message.into(), setup: false, maybe_sent: true }
    }

    /// A failure of the set-up (see [`TransportError::setup`]); nothing left.
    pub fn setup(message: impl Into<String>) -> Self {
        Self { message: message.into(), setup: true, maybe_sent: false }
    }
}

/// How requests reach the API host.
#[derive(Clone)]
pub enum Route {
    /// A direct TCP connection.
    Direct,
    /// Through an HTTP proxy.
    Proxy(Proxy),
}

/// An HTTP proxy in use.
#[derive(Clone)]
pub struct Proxy {
    /// The proxy's URI, credentials removed.
    pub uri: Uri,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `Proxy-Authorization` from the URL's credentials (never shown).
    pub auth: Option<HeaderValue>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Route {
    /// The route for `base` under `setting` (and, unless the proxy is off, `NO_PROXY`).
    pub fn for_base(base: &Uri, setting: &ProxySetting) -> Result<Self, ClientError> {
        let matcher = match setting {
            ProxySetting::Off => return Ok(Route::Direct),
            ProxySetting::Environment => Matcher::from_env(),
            ProxySetting::Url(url) => Matcher::builder().all(url.clone()).no(no_proxy_env()).build(),
        };
        let Some(intercept) = matcher.intercept(base) else {
            return Ok(Route::Direct);
        };
        let uri = intercept.uri().clone();
        let shown = format!("{}://{}", uri.scheme_str().unwrap_or("?"), uri.authority().map_or("?", |a| a.host()));
        if uri.scheme_str() != Some("http") {
            return Err(ClientError(format!(
                "the proxy {shown} (from {}) is not an http:// proxy; wxsend tunnels HTTPS through an http:// proxy with CONNECT: set `proxy = \"http://host:port\"` (or `proxy = \"none\"`)",
                setting_source(setting)
            )));
        }
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(80);
        Ok(Route::Proxy(Proxy { uri, host, port, auth: intercept.basic_auth().cloned() }))
    }

    /// In words, without credentials: `direct` or `http://proxy:3128 (with credentials)`.
    pub fn describe(&self) -> String {
        match self {
            Route::Direct => crate::tr!("route.direct"),
            Route::Proxy(p) => {
                let credentials = if p.auth.is_some() { crate::tr!("route.credentials") } else { String::new() };
                crate::tr!("route.proxy", proxy = format!("http://{}:{}", p.host, p.port), credentials = credentials)
            }
        }
    }
}

fn no_proxy_env() -> String {
    ["NO_PROXY", "no_proxy"].iter().find_map(|v| std::env::var(v).ok()).unwrap_or_default()
}

fn setting_source(setting: &ProxySetting) -> &'static str {
    match setting {
        ProxySetting::Url(_) => "the `proxy` key",
        _ => "HTTPS_PROXY/HTTP_PROXY/ALL_PROXY",
    }
}

/// Ask the proxy on `tcp` for a tunnel to `target` (`host:port`) with HTTP CONNECT. The errors
/// say what the proxy answered; a 407 or 403 is the set-up's fault.
pub async fn connect_tunnel(
    tcp: &mut tokio::net::TcpStream,
    target: &str,
    auth: Option<&HeaderValue>,
) -> Result<(), TransportError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
    if let Some(auth) = auth {
        request.extend_from_slice(b"Proxy-Authorization: ");
        request.extend_from_slice(auth.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let io = |e: std::io::Error| TransportError::unsent(e.to_string());
    tcp.write_all(&request).await.map_err(io)?;
    // The answer's head only: the proxy sends nothing more until the TLS handshake starts.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(TransportError::unsent("the proxy's answer to CONNECT is too long"));
        }
        if tcp.read(&mut byte).await.map_err(io)? == 0 {
            return Err(TransportError::unsent("the proxy closed the connection instead of answering CONNECT"));
        }
        head.push(byte[0]);
    }
    // Only the status line matters: `HTTP/1.1 407 Proxy Authentication Required`.
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().and_then(|c| c.parse::<u16>().ok()));
    let (true, Some(code)) = (version.starts_with("HTTP/"), code) else {
        return Err(TransportError::unsent("the proxy's answer to CONNECT is not HTTP"));
    };
    let status = format!("{code} {}", parts.next().unwrap_or(""));
    let status = status.trim();
    match code {
        200..=299 => Ok(()),
        407 => Err(TransportError::setup(format!(
            "it wants credentials ({status}): put them in the proxy URL, http://user:password@host:port"
        ))),
        401 | 403 => Err(TransportError::setup(format!(
            "it refused a tunnel to {target} ({status}): ask for {target} to be allowed through it"
        ))),
        _ => Err(TransportError::unsent(format!("it could not open a tunnel to {target} ({status})"))),
    }
}

/// The TLS client configuration: webpki's roots, the system's store (which honours
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`) and `ca_file`.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    // A system store that cannot be read leaves webpki's roots (and ca_file): not an error.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| ClientError(format!("ca_file {}: {}", path.display(), pem_error(&e))))?
            .collect::<Result<_, _>>()
            .map_err(|e| ClientError(format!("ca_file {}: {}", path.display(), pem_error(&e))))?;
        if certs.is_empty() {
            return Err(ClientError(format!(
                "ca_file {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(ClientError(format!("ca_file {}: no usable CA certificate in it", path.display())));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not a PEM file ({other:?})"),
    }
}

/// A failed TLS handshake with `host`, in words; `true` when it is the set-up's fault (a
/// certificate this machine does not accept), which no retry will mend.
pub fn describe_tls_error(host: &str, e: &std::io::Error) -> (String, bool) {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => describe_rustls_error(host, tls),
        None => (crate::tr!("tls.failed", host = host, error = e.to_string()), false),
    }
}

/// [`describe_tls_error`] for rustls's own error.
pub fn describe_rustls_error(host: &str, e: &rustls::Error) -> (String, bool) {
    let rustls::Error::InvalidCertificate(cert) = e else {
        return (crate::tr!("tls.failed", host = host, error = e.to_string()), false);
    };
    use rustls::CertificateError as C;
    let why = match cert {
        C::UnknownIssuer => crate::tr!("tls.unknown_issuer"),
        C::Expired | C::ExpiredContext { .. } => crate::tr!("tls.expired"),
        C::NotValidYet | C::NotValidYetContext { .. } => crate::tr!("tls.not_valid_yet"),
        C::NotValidForName | C::NotValidForNameContext { .. } => crate::tr!("tls.wrong_name"),
        C::BadSignature => crate::tr!("tls.bad_signature"),
        C::Revoked => crate::tr!("tls.revoked"),
        _ => crate::tr!("tls.rejected"),
    };
    (crate::tr!("tls.certificate", host = host, why = why, detail = short_debug(cert)), true)
}

fn short_debug(cert: &rustls::CertificateError) -> String {
    let text = format!("{cert:?}");
    text.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_setting_parses_none_and_http_urls_only() {
        assert_eq!(ProxySetting::parse("none"), Ok(ProxySetting::Off));
        assert!(matches!(ProxySetting::parse("http://u:p@proxy:3128"), Ok(ProxySetting::Url(_))));
        assert!(ProxySetting::parse("socks5://proxy:1080").unwrap_err().to_string().contains("socks5"));
        assert!(ProxySetting::parse("proxy:3128").is_err());
    }

    #[test]
    fn a_configured_proxy_is_described_without_its_password() {
        let base: Uri = "https://api.weixin.qq.com".parse().unwrap();
        let route = Route::for_base(&base, &ProxySetting::Url("http://ops:s3cret@10.0.0.1:3128".into())).unwrap();
        let shown = route.describe();
        assert_eq!(shown, "proxy http://10.0.0.1:3128 (with credentials)");
        assert!(!format!("{route:?}").contains("s3cret"));
        let Route::Proxy(p) = route else { panic!("a proxy") };
        assert_eq!(p.auth.unwrap(), "Basic b3BzOnMzY3JldA==");
        assert!(matches!(Route::for_base(&base, &ProxySetting::Off).unwrap(), Route::Direct));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let e = tls_config(Some(Path::new("/no/such/ca.pem"))).unwrap_err();
        assert!(e.0.contains("/no/such/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "hello\n").unwrap();
        let e = tls_config(Some(&empty)).unwrap_err();
        assert!(e.0.contains("holds no PEM certificate"), "{e}");
    }
}
