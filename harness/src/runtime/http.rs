//! The little HTTP the runtime module needs: a loopback HTTP/1.1 server whose connections end
//! with it, bounded bodies, and JSON answers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub(super) type Body = Full<Bytes>;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_RETRY_MS: u64 = 10;

/// Serves `handler` on `listener` until the returned task is aborted; aborting it also ends
/// every open connection (they live in its `JoinSet`).
pub(super) fn serve<H, F>(listener: TcpListener, handler: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "runtime API: accept failed");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = handler(request);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            while connections.try_join_next().is_some() {}
        }
    })
}

/// Binds a free loopback port.
pub(super) async fn bind_loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

/// The request body, or `Err(size seen)` when it passes `bytes_max`.
pub(super) async fn read_body(body: Incoming, bytes_max: usize) -> Result<Bytes, String> {
    match Limited::new(body, bytes_max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(format!("body over {bytes_max} bytes or unreadable ({e})")),
    }
}

/// A response with a body and headers.
pub(super) fn answer(
    status: StatusCode,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// An AWS service error as the Invoke API writes it: `x-amzn-ErrorType` and a JSON body.
pub(super) fn service_error(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"Type": "User", "message": message}).to_string();
    answer(status, &[("x-amzn-ErrorType", error_type)], body)
}
