//! The HTTP client's tests: URLs, headers, and what each failure means for a message — against
//! loopback servers that misbehave on purpose (refuse, reset before or after the request, never
//! answer, cut the body).

use super::*;

#[test]
fn uri_encodes_the_query() {
    let http = Http::new("http://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    let uri = http.uri("/cgi-bin/token", &[("appid", "wx1"), ("secret", "a b&c")]).unwrap();
    assert_eq!(uri.path_and_query(), "/cgi-bin/token?appid=wx1&secret=a+b%26c");
    let proxied = Http::new("https://gw.example.com/wx/", Duration::from_secs(1)).unwrap();
    assert_eq!(proxied.uri("/cgi-bin/token", &[]).unwrap().path_and_query(), "/wx/cgi-bin/token");
    assert!(!format!("{uri:?}").contains("secret"), "a URL's Debug shows no query");
    let service = Http::new("https://svc.example.com", Duration::from_secs(1)).unwrap();
    let own = service.uri("/wx/app?key=k-77", &[("x", "1")]).unwrap();
    assert_eq!(own.path_and_query(), "/wx/app?key=k-77&x=1", "a path's own query is kept");
}

#[tokio::test]
async fn refused_connection_is_described_without_the_uri() {
    // Port 1 on loopback: nothing listens there.
    let http = Http::new("http://127.0.0.1:1", Duration::from_secs(2)).unwrap();
    let uri = http.uri("/x", &[("access_token", "SECRET-TOKEN")]).unwrap();
    let e = http.get(uri).await.unwrap_err();
    assert!(e.message.starts_with("cannot connect"), "{e}");
    assert!(!e.message.contains("SECRET-TOKEN") && !e.message.contains("127.0.0.1:1/x"), "{e}");
    assert!(!e.maybe_sent && !e.setup, "refused: certainly not sent, and worth retrying: {e:?}");
}

#[tokio::test]
async fn connections_closed_by_the_server_are_replaced_and_nothing_is_sent_twice() {
    let (url, seen) = misbehaving(Misbehave::AnswerThenClose).await;
    let http = Http::new(&url, Duration::from_secs(5)).unwrap();
    for i in 0..20 {
        let uri = http.uri("/x", &[]).unwrap();
        let reply = http.get(uri).await;
        // A request written to a connection the server had already closed fails (it may have
        // arrived); one hyper hands back unsent goes out once on a new connection.
        if let Ok(reply) = reply {
            assert_eq!(reply.status, StatusCode::OK, "request {i}");
            assert_eq!(&reply.body[..], br#"{"errcode":0}"#);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) <= 20);
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) >= 19, "stale connections were not replaced");
}

#[tokio::test]
async fn extra_headers_replace_built_in_ones_of_the_same_name() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            head.extend_from_slice(&buf[..n]);
        }
        // The request's head comes back as the answer's body.
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", head.len());
        socket.write_all(answer.as_bytes()).await.unwrap();
        socket.write_all(&head).await.unwrap();
    });
    let http = Http::new(&url, Duration::from_secs(5)).unwrap();
    let extra = [
        (HeaderName::from_static("user-agent"), HeaderValue::from_static("gateway-client")),
        (HeaderName::from_static("x-api-key"), HeaderValue::from_static("k")),
    ];
    let reply = http.get_with(http.uri("/token", &[]).unwrap(), &extra).await.unwrap();
    let head = String::from_utf8(reply.body.to_vec()).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /token http/1.1\r\n"), "{head}");
    assert_eq!(head.matches("user-agent:").count(), 1, "{head}");
    assert!(head.contains("user-agent: gateway-client\r\n") && head.contains("x-api-key: k\r\n"), "{head}");
    assert!(head.contains("host: 127.0.0.1:"), "{head}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let http = Http::new(&url, Duration::from_millis(200)).unwrap();
    let e = http.post_json(http.uri("/x", &[("access_token", "T0KEN")]).unwrap(), Bytes::new()).await.unwrap_err();
    assert_eq!(e.message, "timed out after 200 ms (the request may have arrived)");
    assert!(e.maybe_sent, "written, then no answer: it may have arrived");
}

/// How a misbehaving server treats each connection.
#[derive(Clone, Copy)]
enum Misbehave {
    /// Reset the connection as soon as it is accepted, reading nothing.
    ResetAtAccept,
    /// Read the whole request, then reset.
    ResetAfterRequest,
    /// Read the request, promise 100 bytes of body, send 10 and close.
    HalfBody,
    /// Read the request, answer 502 with an HTML page.
    BadGateway,
    /// Answer `{"errcode":0}`, then close the connection without saying so: the client learns it
    /// only when it reuses the connection.
    AnswerThenClose,
}

/// A loopback server misbehaving as `how`; its URL and how many requests it read whole.
async fn misbehaving(how: Misbehave) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            if let Misbehave::ResetAtAccept = how {
                let _ = socket.set_zero_linger();
                drop(socket);
                continue;
            }
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                // The head, then the body its Content-Length announces.
                let whole = loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= end + 4 + length {
                        break true;
                    }
                };
                if whole {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                match how {
                    Misbehave::ResetAfterRequest => {
                        let _ = socket.set_zero_linger();
                    }
                    Misbehave::HalfBody => {
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"errcode\":").await;
                    }
                    Misbehave::BadGateway => {
                        let page = b"<html>502</html>";
                        let head = format!("HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\n\r\n", page.len());
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(page).await;
                        let _ = socket.flush().await;
                        // Keep it open until the client is done with it.
                        let _ = socket.read(&mut buf).await;
                    }
                    Misbehave::AnswerThenClose => {
                        let body = br#"{"errcode":0}"#;
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(body).await;
                    }
                    Misbehave::ResetAtAccept => {}
                }
            });
        }
    });
    (url, seen)
}

async fn post_to(url: &str) -> Result<Reply, TransportError> {
    let http = Http::new(url, Duration::from_secs(5)).unwrap();
    http.post_json(
        http.uri("/cgi-bin/message/subscribe/send", &[("access_token", "T0KEN")]).unwrap(),
        Bytes::from_static(b"{}"),
    )
    .await
}

#[tokio::test]
async fn a_reset_after_the_request_may_have_delivered_it() {
    let (url, seen) = misbehaving(Misbehave::ResetAfterRequest).await;
    let e = post_to(&url).await.unwrap_err();
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1, "the server read it whole");
    assert!(e.maybe_sent && !e.setup, "{e:?}");
    assert!(!e.message.contains("T0KEN"), "{e}");
}

#[tokio::test]
async fn a_reset_at_accept_over_plain_http_is_not_known_to_be_unsent() {
    // The connection was open, so the request may have been written before the reset came: the
    // client cannot tell, and says "may have arrived". Over TLS the same reset breaks the
    // handshake, before any of the request exists (the next test).
    let (url, seen) = misbehaving(Misbehave::ResetAtAccept).await;
    let e = post_to(&url).await.unwrap_err();
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!e.setup, "{e:?}");
}

#[tokio::test]
async fn a_reset_during_the_tls_handshake_is_certainly_unsent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    let http = Http::new(&format!("https://localhost:{port}"), Duration::from_secs(5)).unwrap();
    let e = http.post_json(http.uri("/x", &[]).unwrap(), Bytes::new()).await.unwrap_err();
    assert!(!e.maybe_sent, "the handshake never finished: nothing left: {e:?}");
    assert!(e.message.starts_with("cannot connect"), "{e}");
}

#[tokio::test]
async fn a_body_cut_short_may_have_delivered_the_request() {
    let (url, _) = misbehaving(Misbehave::HalfBody).await;
    let e = post_to(&url).await.unwrap_err();
    assert!(e.maybe_sent, "{e:?}");
    assert!(e.message.contains("cut off"), "{e}");
}

#[tokio::test]
async fn a_gateway_error_is_an_answer_not_a_transport_failure() {
    let (url, _) = misbehaving(Misbehave::BadGateway).await;
    let reply = post_to(&url).await.unwrap();
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
}
