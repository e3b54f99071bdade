//! The mock's HTTP/1.1 server: hyper serving each connection (over TLS with `--tls-cert`) with
//! the axum router, and a graceful stop that lets each connection finish the request it is on.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::state::{MockState, Reply};

const JSON: HeaderValue = HeaderValue::from_static("application/json; encoding=utf-8");

/// The HTTP answer for a reply.
pub(super) fn respond(reply: Reply) -> Response<Body> {
    let (status, content_type, body) = match reply {
        Reply::Json(v) => (StatusCode::OK, JSON, Body::from(v.to_string())),
        Reply::Ok(text) => (StatusCode::OK, JSON, Body::from(text)),
        Reply::BadGateway => (
            StatusCode::BAD_GATEWAY,
            HeaderValue::from_static("text/plain"),
            Body::from("<html><body>502 Bad Gateway</body></html>"),
        ),
        Reply::NotJson => {
            (StatusCode::OK, HeaderValue::from_static("text/html"), Body::from("<html><body>系统繁忙</body></html>"))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}

/// Serve `listener` until `shutdown` resolves; then stop accepting, let each connection finish
/// the request it is on, and return when they have all closed.
pub(super) async fn serve(
    listener: TcpListener,
    state: Arc<MockState>,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // A failed accept (out of descriptors, a reset): try the next one.
                Err(_) => continue,
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        state.count_connection();
        let router = router.clone();
        let stop = stop_rx.clone();
        let open = open_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(TokioIo::new(stream), router, stop).await,
                Some(acceptor) => {
                    // A client that gives up on the handshake is its own business.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        connection(TokioIo::new(stream), router, stop).await;
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}

/// Serve one connection with the router until it closes, or until the mock stops (then the
/// request under way is finished first).
async fn connection<IO>(io: TokioIo<IO>, router: Router, mut stop: watch::Receiver<bool>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| router.clone().oneshot(req.map(Body::new)));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let stopping = tokio::select! {
        _ = conn.as_mut() => false,
        _ = stop.wait_for(|stopping| *stopping) => true,
    };
    if stopping {
        conn.as_mut().graceful_shutdown();
        let _ = conn.as_mut().await;
    }
}
