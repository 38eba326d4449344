//! The Lambda Invoke API as a wire contract (ESM-SPEC section 3): one pooled HTTP client,
//! `POST {endpoint}/2015-03-31/functions/{name}/invocations`, answers sorted into outcomes.

use std::time::Duration;

/// Longest error text kept from a transport failure.
const TRANSPORT_TEXT_MAX_CHARS: usize = 300;
/// Idle pooled connections kept per host: one per partition in flight is plenty.
const POOL_IDLE_PER_HOST_MAX: usize = 64;

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 without `X-Amz-Function-Error`; `body` is the function's response.
    Success { body: Vec<u8> },
    /// 200 with `X-Amz-Function-Error` (`error_type` = its value, Handled/Unhandled), a 5xx, or
    /// a 4xx other than 429 (`error_type` = `x-amzn-ErrorType`, e.g. ResourceNotFoundException).
    /// Counts against MaximumRetryAttempts.
    FunctionError {
        status: u16,
        error_type: Option<String>,
    },
    /// 429 TooManyRequestsException: retried with backoff, not counted.
    Throttled,
    /// No answer within the function timeout: a function error (counted).
    Timeout,
    /// No HTTP answer at all (connection refused, reset, DNS). Treated like `Throttled`: the
    /// function never ran, so the attempt is retried with backoff and NOT counted against
    /// MaximumRetryAttempts; an endpoint that is down blocks the partition (logged) instead of
    /// sending good records to the on-failure destination.
    Transport(String),
}

impl Outcome {
    /// Short name for the `outcome` field of batch log lines.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::FunctionError { .. } => "function_error",
            Outcome::Throttled => "throttled",
            Outcome::Timeout => "timeout",
            Outcome::Transport(_) => "transport_error",
        }
    }

    /// Whether the attempt counts against MaximumRetryAttempts when it is not a success.
    pub fn counts_as_attempt(&self) -> bool {
        matches!(self, Outcome::FunctionError { .. } | Outcome::Timeout)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvokerError {
    #[error("function endpoint {endpoint}: must start with http:// or https://")]
    BadEndpoint { endpoint: String },
    #[error("function timeout {timeout_ms} ms: allowed 1 to 840000")]
    BadTimeout { timeout_ms: u64 },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Invokes one function; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Invoker {
    client: reqwest::Client,
    url: String,
}

impl Invoker {
    /// `endpoint` e.g. `http://127.0.0.1:9001`; `function_name` a name or ARN; an answer
    /// slower than `timeout_ms` is [`Outcome::Timeout`].
    pub fn new(endpoint: &str, function_name: &str, timeout_ms: u64) -> Result<Self, InvokerError> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(InvokerError::BadEndpoint {
                endpoint: endpoint.to_string(),
            });
        }
        if !(1..=840_000).contains(&timeout_ms) {
            return Err(InvokerError::BadTimeout { timeout_ms });
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms.min(10_000)))
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST_MAX)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| InvokerError::Client(e.to_string()))?;
        Ok(Invoker {
            client,
            url: invoke_url(endpoint, function_name),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One synchronous (RequestResponse) invocation with `event` as the body.
    pub async fn invoke(&self, event: Vec<u8>) -> Outcome {
        let sent = self
            .client
            .post(&self.url)
            .header("X-Amz-Invocation-Type", "RequestResponse")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(event)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return error_outcome(&e),
        };
        let status = response.status().as_u16();
        let function_error = header_text(&response, "x-amz-function-error");
        let error_type = header_text(&response, "x-amzn-errortype");
        match classify(status, function_error, error_type) {
            Some(outcome) => outcome,
            None => match response.bytes().await {
                Ok(body) => Outcome::Success {
                    body: body.to_vec(),
                },
                Err(e) => error_outcome(&e),
            },
        }
    }
}

/// The outcome for an answer's status and headers; `None` = success (read the body).
fn classify(
    status: u16,
    function_error: Option<String>,
    error_type: Option<String>,
) -> Option<Outcome> {
    match status {
        200..=299 if function_error.is_none() => None,
        200..=299 => Some(Outcome::FunctionError {
            status,
            error_type: function_error,
        }),
        429 => Some(Outcome::Throttled),
        _ => Some(Outcome::FunctionError {
            status,
            error_type: function_error.or(error_type),
        }),
    }
}

fn error_outcome(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        return Outcome::Timeout;
    }
    let mut text = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    Outcome::Transport(text.chars().take(TRANSPORT_TEXT_MAX_CHARS).collect())
}

fn header_text(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `{endpoint}/2015-03-31/functions/{name}/invocations`, the name percent-encoded (an ARN's
/// colons included) as the AWS SDKs do.
pub fn invoke_url(endpoint: &str, function_name: &str) -> String {
    format!(
        "{}/2015-03-31/functions/{}/invocations",
        endpoint.trim_end_matches('/'),
        percent_encode(function_name)
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_bytes, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const FN_PATH: &str = "/2015-03-31/functions/process/invocations";

    async fn server_answering(template: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(FN_PATH))
            .and(header("X-Amz-Invocation-Type", "RequestResponse"))
            .and(header("content-type", "application/json"))
            .respond_with(template)
            .mount(&server)
            .await;
        server
    }

    async fn invoke_once(template: ResponseTemplate, timeout_ms: u64) -> Outcome {
        let server = server_answering(template).await;
        let invoker = Invoker::new(&server.uri(), "process", timeout_ms).unwrap();
        invoker.invoke(b"{\"records\":{}}".to_vec()).await
    }

    #[tokio::test]
    async fn success_returns_the_body_and_sends_the_event() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(FN_PATH))
            .and(body_bytes(b"{\"e\":1}".to_vec()))
            .respond_with(ResponseTemplate::new(200).set_body_string("{\"ok\":true}"))
            .expect(1)
            .mount(&server)
            .await;
        let invoker = Invoker::new(&server.uri(), "process", 5_000).unwrap();
        let outcome = invoker.invoke(b"{\"e\":1}".to_vec()).await;
        assert_eq!(
            outcome,
            Outcome::Success {
                body: b"{\"ok\":true}".to_vec()
            }
        );
    }

    #[tokio::test]
    async fn function_error_header_is_a_function_error() {
        let t = ResponseTemplate::new(200).insert_header("X-Amz-Function-Error", "Unhandled");
        assert_eq!(
            invoke_once(t, 5_000).await,
            Outcome::FunctionError {
                status: 200,
                error_type: Some("Unhandled".into())
            }
        );
    }

    #[tokio::test]
    async fn a_5xx_is_a_function_error() {
        let t = ResponseTemplate::new(502);
        assert_eq!(
            invoke_once(t, 5_000).await,
            Outcome::FunctionError {
                status: 502,
                error_type: None
            }
        );
    }

    #[tokio::test]
    async fn a_429_is_throttled() {
        let t = ResponseTemplate::new(429).insert_header("x-amzn-ErrorType", "TooManyRequests");
        let outcome = invoke_once(t, 5_000).await;
        assert_eq!(outcome, Outcome::Throttled);
        assert!(!outcome.counts_as_attempt());
    }

    #[tokio::test]
    async fn a_404_is_a_function_error_with_its_type() {
        let t = ResponseTemplate::new(404)
            .insert_header("x-amzn-ErrorType", "ResourceNotFoundException");
        assert_eq!(
            invoke_once(t, 5_000).await,
            Outcome::FunctionError {
                status: 404,
                error_type: Some("ResourceNotFoundException".into())
            }
        );
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_timeout() {
        let t = ResponseTemplate::new(200).set_delay(Duration::from_millis(2_000));
        let outcome = invoke_once(t, 200).await;
        assert_eq!(outcome, Outcome::Timeout);
        assert!(outcome.counts_as_attempt());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let invoker = Invoker::new(&format!("http://127.0.0.1:{port}"), "process", 2_000).unwrap();
        let outcome = invoker.invoke(b"{}".to_vec()).await;
        assert!(matches!(outcome, Outcome::Transport(_)), "{outcome:?}");
        assert!(!outcome.counts_as_attempt());
    }

    #[test]
    fn arn_names_are_percent_encoded() {
        assert_eq!(
            invoke_url("http://h:1/", "arn:aws:lambda:us-east-1:1:function:f"),
            "http://h:1/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations"
        );
    }

    #[test]
    fn bad_endpoint_and_timeout_are_refused() {
        assert!(matches!(
            Invoker::new("127.0.0.1:9001", "f", 10),
            Err(InvokerError::BadEndpoint { .. })
        ));
        assert!(matches!(
            Invoker::new("http://127.0.0.1:9001", "f", 0),
            Err(InvokerError::BadTimeout { .. })
        ));
    }
}
