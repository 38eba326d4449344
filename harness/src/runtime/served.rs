//! A real function behind an endpoint that is not ours (`sam local start-lambda`,
//! `cargo lambda watch`, the Runtime Interface Emulator): a recording proxy in front of it, so
//! its invocations enter the history like the mock's.
//!
//! The proxy sends one call at a time: the emulator behind `sam local` and the bare Runtime
//! Interface Emulator serve a single invocation at a time and fail under concurrency, so
//! concurrent calls wait their turn here instead (their recorded start is when they arrived).

use super::RuntimeError;
use super::api;
use super::decide;
use super::http;
use super::invoke::{self, Answer};
use crate::history::History;
use crate::lambda::MockLambda;
use bytes::Bytes;
use hyper::StatusCode;
use std::sync::Arc;
use std::time::Duration;

/// The longest one forwarded call may take: Lambda's largest timeout.
pub const FORWARD_TIMEOUT_MS: u64 = super::TIMEOUT_MAX_MS;
/// How long the endpoint may take to accept a connection when the function is defined.
pub const CONNECT_TIMEOUT_MS: u64 = 2_000;

struct Proxy {
    name: String,
    target: String,
    client: reqwest::Client,
    recorder: MockLambda,
    history: History,
    /// One call at a time.
    turn: tokio::sync::Mutex<()>,
}

/// A recording, serialising proxy in front of someone else's Invoke endpoint.
pub struct ServedFunction {
    endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ServedFunction {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `host:port` of an `http://host:port` URL, or why it is not one.
fn host_port(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
    let host_port = rest.trim_end_matches('/');
    if host_port.is_empty() || host_port.contains('/') || !host_port.contains(':') {
        return Err(format!("{url:?} is not of the form http://host:port"));
    }
    Ok(host_port.to_string())
}

impl ServedFunction {
    /// Checks that something accepts connections at `url`, then opens the proxy.
    pub async fn start(
        name: &str,
        url: &str,
        recorder: MockLambda,
        history: History,
    ) -> Result<ServedFunction, RuntimeError> {
        let invalid = |why: String| RuntimeError::Invalid(format!("function {name:?}: {why}"));
        let address = host_port(url).map_err(invalid)?;
        let connect = tokio::net::TcpStream::connect(&address);
        match tokio::time::timeout(Duration::from_millis(CONNECT_TIMEOUT_MS), connect).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(invalid(format!(
                    "nothing accepts connections at {url} ({e}); start the function there first"
                )));
            }
            Err(_) => {
                return Err(invalid(format!(
                    "{url} did not accept a connection within {CONNECT_TIMEOUT_MS} ms"
                )));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(FORWARD_TIMEOUT_MS))
            .build()
            .map_err(|e| invalid(format!("cannot build an HTTP client: {e}")))?;
        let proxy = Arc::new(Proxy {
            name: name.to_string(),
            target: url.trim_end_matches('/').to_string(),
            client,
            recorder,
            history,
            turn: tokio::sync::Mutex::new(()),
        });
        let listener = http::bind_loopback().await.map_err(RuntimeError::Bind)?;
        let endpoint = format!(
            "http://{}",
            listener.local_addr().map_err(RuntimeError::Bind)?
        );
        let server = http::serve(listener, move |request| {
            let proxy = proxy.clone();
            async move {
                let start_ms = proxy.history.now_ms();
                let call = match invoke::read_call(&proxy.name, request).await {
                    Ok(call) => call,
                    Err(refusal) => return refusal,
                };
                let kept_body = proxy.history.keep_body(&call.body);
                let answer = proxy.forward(&call.segment, call.body).await;
                let end_ms = proxy.history.now_ms();
                invoke::record(
                    &proxy.recorder,
                    &proxy.name,
                    start_ms,
                    end_ms,
                    call.event,
                    &answer,
                    kept_body,
                );
                answer.into_response(&uuid::Uuid::new_v4().to_string())
            }
        });
        Ok(ServedFunction { endpoint, server })
    }

    /// The base URL a consumer invokes.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }
}

impl Proxy {
    async fn forward(&self, segment: &str, body: Bytes) -> Answer {
        let _turn = self.turn.lock().await;
        let url = format!("{}/2015-03-31/functions/{segment}/invocations", self.target);
        let sent = self
            .client
            .post(&url)
            .header("X-Amz-Invocation-Type", "RequestResponse")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return unreachable_answer(&url, &e.to_string()),
        };
        let status = response.status().as_u16();
        let function_error = response.headers().contains_key("X-Amz-Function-Error");
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => return unreachable_answer(&url, &e.to_string()),
        };
        Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            function_error,
            outcome: decide::forwarded_outcome(status, function_error, &body),
            item_failures: api::item_failures(&body),
            body,
        }
    }
}

/// A Lambda service error for an endpoint that did not answer: the batch never reached the
/// function.
fn unreachable_answer(url: &str, why: &str) -> Answer {
    let body =
        serde_json::json!({"Type": "Service", "message": format!("{url} did not answer: {why}")});
    Answer {
        status: StatusCode::BAD_GATEWAY,
        function_error: false,
        body: Bytes::from(body.to_string()),
        outcome: crate::history::InvocationOutcome::FunctionError,
        item_failures: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_name_a_host_and_port() {
        assert_eq!(
            host_port("http://127.0.0.1:3001").unwrap(),
            "127.0.0.1:3001"
        );
        assert_eq!(
            host_port("http://localhost:9000/").unwrap(),
            "localhost:9000"
        );
        assert!(host_port("https://x:1").is_err());
        assert!(host_port("http://x").is_err());
        assert!(host_port("http://x:1/path").is_err());
    }
}
