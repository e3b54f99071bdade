//! The network steps of `wxsend doctor`, each on a connection of its own: how requests travel,
//! name resolution, TCP, the proxy's tunnel, TLS (who issued the certificate), and the server's
//! clock from its `Date` header (asked through the campaign's own client). Nothing is sent to
//! WeChat's message APIs.

use crate::tr;
use std::time::{Duration, Instant, SystemTime};

use super::http::{tcp_connect, Http};
use super::net::{connect_tunnel, describe_tls_error, Route};

/// One step: its name, whether it passed, and what was found or what failed with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// `proxy`, `dns`, `tcp`, `tunnel`, `tls`, `clock`.
    pub name: &'static str,
    /// Whether the step passed.
    pub passed: bool,
    /// What was found, or what failed and how to fix it.
    pub detail: String,
}

impl ProbeStep {
    fn ok(name: &'static str, detail: String) -> Self {
        Self { name, passed: true, detail }
    }

    fn fail(name: &'static str, detail: String) -> Self {
        Self { name, passed: false, detail }
    }
}

/// The clock difference beyond which the `clock` step fails.
pub const CLOCK_SKEW_LIMIT: Duration = Duration::from_secs(300);

/// Run the steps for `http`'s API base; stops at the first failure.
pub async fn probe(http: &Http) -> Vec<ProbeStep> {
    let p = http.probe_parts();
    let mut steps = vec![ProbeStep::ok("proxy", p.route.describe())];
    let (dial_host, dial_port) = match p.route {
        Route::Direct => (p.host.to_string(), p.port),
        Route::Proxy(proxy) => (proxy.host.clone(), proxy.port),
    };
    // Name resolution.
    let dns = dns_step(&dial_host, dial_port, p.host, matches!(p.route, Route::Proxy(_)), p.connect_timeout).await;
    let resolved = dns.passed;
    steps.push(dns);
    if !resolved {
        return steps;
    }
    // TCP.
    let started = Instant::now();
    let mut tcp = match tcp_connect(&dial_host, dial_port, p.connect_timeout).await {
        Ok(tcp) => {
            let peer = tcp.peer_addr().map_or_else(|_| format!("{dial_host}:{dial_port}"), |a| a.to_string());
            let ms = started.elapsed().as_millis();
            steps.push(ProbeStep::ok("tcp", tr!("probe.tcp", peer = peer, ms = ms)));
            tcp
        }
        Err(e) => {
            steps.push(ProbeStep::fail("tcp", tr!("probe.tcp_failed", error = e.message.clone())));
            return steps;
        }
    };
    // The proxy's tunnel.
    if let (Route::Proxy(proxy), Some(_)) = (p.route, p.tls) {
        let target = format!("{}:{}", p.host, p.port);
        match tokio::time::timeout(p.connect_timeout, connect_tunnel(&mut tcp, &target, proxy.auth.as_ref())).await {
            Ok(Ok(())) => steps.push(ProbeStep::ok("tunnel", tr!("probe.tunnel", target = target.clone()))),
            Ok(Err(e)) => {
                steps.push(ProbeStep::fail(
                    "tunnel",
                    tr!(
                        "probe.tunnel_failed",
                        proxy = format!("{}:{}", proxy.host, proxy.port),
                        error = e.message.clone()
                    ),
                ));
                return steps;
            }
            Err(_) => {
                steps.push(ProbeStep::fail("tunnel", tr!("probe.tunnel_slow", target = target.clone())));
                return steps;
            }
        }
    }
    // TLS, with the client's own trust.
    if let Some(config) = p.tls {
        let tls = tls_step(config, p.host, tcp, p.tls_timeout).await;
        let shaken = tls.passed;
        steps.push(tls);
        if !shaken {
            return steps;
        }
    }
    // One plain request, through the client that sends, for the server's clock.
    let date = match http.uri("/", &[]) {
        Ok(url) => http.get(url).await.ok().and_then(|reply| reply.date),
        Err(_) => None,
    };
    steps.push(clock_step(date, SystemTime::now()));
    steps
}

/// Resolve the host dialled (the proxy's, when there is one).
async fn dns_step(dial_host: &str, dial_port: u16, host: &str, proxied: bool, timeout: Duration) -> ProbeStep {
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::lookup_host((dial_host, dial_port))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).take(4).collect();
            let mut detail = format!("{dial_host} → {}", addrs.join(", "));
            if proxied {
                detail.push_str(&tr!("probe.by_proxy", host = host.to_string()));
            }
            ProbeStep::ok("dns", detail)
        }
        Ok(Err(e)) => {
            ProbeStep::fail("dns", tr!("probe.dns_failed", host = dial_host.to_string(), error = e.to_string()))
        }
        Err(_) => ProbeStep::fail(
            "dns",
            tr!("probe.dns_slow", host = dial_host.to_string(), ms = started.elapsed().as_millis()),
        ),
    }
}

/// The TLS handshake over `tcp` with the client's own trust, naming the certificate's issuer.
async fn tls_step<IO>(
    config: &std::sync::Arc<rustls::ClientConfig>,
    host: &str,
    tcp: IO,
    timeout: Duration,
) -> ProbeStep
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
        return ProbeStep::fail("tls", tr!("probe.not_a_host", host = format!("{host:?}")));
    };
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let tls = match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return ProbeStep::fail("tls", describe_tls_error(host, &e).0),
        Err(_) => return ProbeStep::fail("tls", tr!("probe.tls_slow", host = host.to_string())),
    };
    let issuer = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| issuer_of(c.as_ref()));
    ProbeStep::ok("tls", tr!("probe.tls", host = host.to_string(), issuer = issuer.unwrap_or_else(|| "?".into())))
}

/// The issuer's common name (or whole name) of a DER certificate.
fn issuer_of(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let issuer = cert.issuer();
            issuer
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map_or_else(|| issuer.to_string(), str::to_string)
        }
        Err(_) => "an issuer wxsend cannot read".into(),
    }
}

fn clock_step(server: Option<SystemTime>, local: SystemTime) -> ProbeStep {
    let Some(server) = server else {
        return ProbeStep::ok("clock", tr!("probe.no_date"));
    };
    let (skew, behind) = match local.duration_since(server) {
        Ok(d) => (d, false),
        Err(e) => (e.duration(), true),
    };
    let secs = skew.as_secs();
    if skew > CLOCK_SKEW_LIMIT {
        ProbeStep::fail(
            "clock",
            if behind { tr!("probe.clock_behind", secs = secs) } else { tr!("probe.clock_ahead", secs = secs) },
        )
    } else {
        ProbeStep::ok("clock", tr!("probe.clock", secs = secs.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_skew_beyond_five_minutes_fails() {
        let now = SystemTime::now();
        assert!(clock_step(Some(now), now).passed);
        let step = clock_step(Some(now + Duration::from_secs(900)), now);
        assert!(!step.passed && step.detail.contains("900 s behind"));
        let unchecked = clock_step(None, now);
        assert!(unchecked.passed && unchecked.detail.contains("not checked"));
    }

    #[tokio::test]
    async fn a_refused_connection_stops_at_the_tcp_step() {
        let http = Http::new("http://127.0.0.1:1", Duration::from_secs(2)).unwrap();
        let steps = probe(&http).await;
        let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
        assert_eq!(names, ["proxy", "dns", "tcp"]);
        assert!(!steps[2].passed && steps[2].detail.contains("127.0.0.1:1"));
    }
}
