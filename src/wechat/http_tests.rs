//! The HTTP client's tests: URLs, refused and closed connections, headers, timeouts.

use super::*;

#[test]
fn uri_encodes_the_query() {
    let http = Http::new("http://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    let uri = http.uri("/cgi-bin/token", &[("appid", "wx1"), ("secret", "a b&c")]).unwrap();
    assert_eq!(uri.to_string(), "/cgi-bin/token?appid=wx1&secret=a+b%26c");
    let proxied = Http::new("https://gw.example.com/wx/", Duration::from_secs(1)).unwrap();
    assert_eq!(proxied.uri("/cgi-bin/token", &[]).unwrap().to_string(), "/wx/cgi-bin/token");
}

#[tokio::test]
async fn refused_connection_is_described_without_the_uri() {
    // Port 1 on loopback: nothing listens there.
    let http = Http::new("http://127.0.0.1:1", Duration::from_secs(2)).unwrap();
    let uri = http.uri("/x", &[("access_token", "SECRET-TOKEN")]).unwrap();
    let e = http.get(uri).await.unwrap_err();
    assert!(e.message.starts_with("cannot connect"), "{e}");
    assert!(!e.message.contains("SECRET-TOKEN") && !e.message.contains("127.0.0.1:1/x"), "{e}");
}

/// A server that answers one request per connection, then closes it without saying so.
async fn one_shot_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = br#"{"errcode":0}"#;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
                // Closed as this task ends: the client learns it only when it reuses the connection.
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn connections_closed_by_the_server_are_replaced_and_nothing_is_sent_twice() {
    let (url, seen) = one_shot_server().await;
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
    let e = http.post_json(http.uri("/x", &[("access_token", "T0KEN")]).unwrap(), Bytes::new()).await;
    assert_eq!(e.unwrap_err().message, "timed out after 200 ms");
}
