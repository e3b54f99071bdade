//! The mock's HTTP/1.1 server: hyper serving each connection, the three send endpoints answered
//! directly (one borrowed look at the query, the body collected, the answer written), every
//! other path handed to the axum router. The send path is what a benchmark runs a million times:
//! it skips axum's routing, extractors and response conversions, about a dozen allocations and
//! a microsecond per request (BENCHMARKS.md); the admin and token endpoints keep axum.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::state::{MockState, Reply};
use crate::wechat::protocol::Kind;

/// The send endpoint a path names.
fn send_kind(path: &str) -> Option<Kind> {
    [Kind::Template, Kind::Subscribe, Kind::Uniform].into_iter().find(|k| k.endpoint() == path)
}

/// The `access_token` parameter of a query string: borrowed when it needs no decoding (a
/// token's own characters never do), decoded as a form value otherwise.
pub(super) fn access_token(query: &str) -> Option<std::borrow::Cow<'_, str>> {
    for pair in query.split('&') {
        let Some(value) = pair.strip_prefix("access_token=") else { continue };
        if !value.contains(['%', '+']) {
            return Some(std::borrow::Cow::Borrowed(value));
        }
        return form_urlencoded::parse(pair.as_bytes()).next().map(|(_, v)| std::borrow::Cow::Owned(v.into_owned()));
    }
    None
}

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

/// One request: a send answered here, anything else by the router.
async fn handle(state: Arc<MockState>, router: Router, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let kind = (req.method() == Method::POST).then(|| send_kind(req.uri().path())).flatten();
    let Some(kind) = kind else {
        return router.oneshot(req.map(Body::new)).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(respond(Reply::Json(serde_json::json!({ "errcode": 47001, "errmsg": "data format error" }))));
    };
    let latency = state.config().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let token = parts.uri.query().and_then(access_token);
    Ok(respond(state.send(kind, token.as_deref(), &body)))
}

/// Serve `listener` until `shutdown` resolves; then stop accepting, let each connection finish
/// the request it is on, and return when they have all closed.
pub(super) async fn serve(
    listener: TcpListener,
    state: Arc<MockState>,
    router: Router,
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
        let (state, router) = (state.clone(), router.clone());
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let stopping = tokio::select! {
                _ = conn.as_mut() => false,
                _ = stop.wait_for(|stopping| *stopping) => true,
            };
            if stopping {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_token_is_read_from_the_query_as_a_form_would_be() {
        assert_eq!(access_token("access_token=ABC_def-1").as_deref(), Some("ABC_def-1"));
        assert_eq!(access_token("x=1&access_token=T&y=2").as_deref(), Some("T"));
        assert_eq!(access_token("access_token=a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(access_token("my_access_token=T"), None);
        assert_eq!(access_token("access_token=").as_deref(), Some(""));
        assert_eq!(access_token(""), None);
    }

    #[test]
    fn the_three_send_paths_are_recognised() {
        assert_eq!(send_kind("/cgi-bin/message/template/send"), Some(Kind::Template));
        assert_eq!(send_kind("/cgi-bin/message/subscribe/send"), Some(Kind::Subscribe));
        assert_eq!(send_kind("/cgi-bin/message/wxopen/template/uniform_send"), Some(Kind::Uniform));
        assert_eq!(send_kind("/cgi-bin/token"), None);
    }
}
