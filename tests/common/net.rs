//! A company network made on 127.0.0.1 for the tests: a private CA (rcgen), a TLS server in
//! front of the embedded mock answering for `api.weixin.test` and `localhost`, and an HTTP
//! CONNECT proxy that alone resolves `api.weixin.test`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The host name only the test proxy knows.
pub const PRIVATE_HOST: &str = "api.weixin.test";

/// A CA and a server certificate it signed for [`PRIVATE_HOST`] and `localhost`.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server's chain and key, for rustls.
    pub server: Arc<rustls::ServerConfig>,
}

impl TestPki {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Corp Inspection CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec![PRIVATE_HOST.to_string(), "localhost".to_string()]).unwrap();
        leaf.distinguished_name.push(rcgen::DnType::CommonName, PRIVATE_HOST);
        let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .unwrap();
        Self { ca_pem: ca_cert.pem(), server: Arc::new(server) }
    }
}

/// A TLS server on 127.0.0.1 whose connections are relayed to `upstream` (the mock).
pub async fn tls_front(pki: &TestPki, upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else { return };
                let Ok(mut up) = TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    addr
}

/// What the proxy saw.
#[derive(Default, Debug, Clone)]
pub struct ProxyLog {
    /// CONNECT targets, in order.
    pub connects: Vec<String>,
    /// `Proxy-Authorization` values.
    pub auth: Vec<String>,
    /// Absolute-form request lines of plain HTTP requests.
    pub plain: Vec<String>,
}

/// An HTTP proxy on 127.0.0.1: CONNECT to [`PRIVATE_HOST`]:443 goes to `tls`; plain requests to
/// `http://PRIVATE_HOST/...` go to `plain`; anything else is refused (403). With `need_auth`,
/// requests without `Proxy-Authorization: need_auth` get 407.
pub async fn connect_proxy(
    tls: SocketAddr,
    plain: SocketAddr,
    need_auth: Option<String>,
) -> (SocketAddr, Arc<Mutex<ProxyLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(ProxyLog::default()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            let need_auth = need_auth.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let request_line = text.lines().next().unwrap_or("").to_string();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Proxy-Authorization: ").or_else(|| l.strip_prefix("proxy-authorization: "))
                    })
                    .map(str::to_string);
                if let Some(a) = &auth {
                    seen.lock().unwrap().auth.push(a.clone());
                }
                if need_auth.is_some() && auth != need_auth {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let mut parts = request_line.split(' ');
                let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if method == "CONNECT" {
                    seen.lock().unwrap().connects.push(target.to_string());
                    if target != format!("{PRIVATE_HOST}:443") {
                        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
                        return;
                    }
                    let Ok(mut up) = TcpStream::connect(tls).await else { return };
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                } else if target.starts_with(&format!("http://{PRIVATE_HOST}/")) {
                    seen.lock().unwrap().plain.push(request_line.clone());
                    // One request per connection: relay it and the answer, then close.
                    let Ok(mut up) = TcpStream::connect(plain).await else { return };
                    let path = &target[format!("http://{PRIVATE_HOST}").len()..];
                    let rewritten = text.replacen(target, path, 1).replace("Connection: keep-alive", "");
                    let _ = up.write_all(rewritten.as_bytes()).await;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                } else {
                    let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
                }
            });
        }
    });
    (addr, log)
}
