//! The Lambda Invoke API as a wire contract (ESM-SPEC section 3): one pooled HTTP client,
//! `POST {endpoint}/2015-03-31/functions/{name}/invocations`, answers sorted into outcomes.
//!
//! Function errors and service errors are told apart as AWS does ("Invoke", Lambda API
//! reference, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: a function error
//! is a 200 with `X-Amz-Function-Error`; 5xx codes are errors of the service itself). Local
//! runtimes drop that header: the Runtime Interface Emulator and `sam local` answer 200 with
//! an `{"errorMessage", "errorType"}` body, cargo-lambda a 5xx with one. Such a body is always
//! a function error: a handler exception must never read as a success.

use std::time::Duration;

/// Longest error text kept from a transport failure.
const TRANSPORT_TEXT_MAX_CHARS: usize = 300;
/// Idle pooled connections kept per host: one per batch in flight is plenty.
const POOL_IDLE_PER_HOST_MAX: usize = 64;
/// A synchronous invocation's response payload is at most 6 MB (Lambda quotas); more is cut.
const RESPONSE_BODY_MAX_BYTES: usize = 6 * 1024 * 1024;
/// How much of a body log lines show.
pub const BODY_EXCERPT_MAX_BYTES: usize = 200;

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx without `X-Amz-Function-Error` and without an error body; `body` is the response.
    Success { status: u16, body: Vec<u8> },
    /// The function ran and failed: 2xx with `X-Amz-Function-Error` (`error_type` = its value,
    /// Handled/Unhandled) or an error body, a 5xx with an error body, or a 4xx other than 429
    /// (`error_type` = `x-amzn-ErrorType`, e.g. ResourceNotFoundException). Counts against
    /// MaximumRetryAttempts.
    FunctionError {
        status: u16,
        error_type: Option<String>,
        body: Vec<u8>,
    },
    /// 429 TooManyRequestsException: retried with backoff, not counted.
    Throttled { body: Vec<u8> },
    /// No answer within the function timeout: a function error (counted).
    Timeout,
    /// The batch never reached the function: a 5xx without an error body (`status`), or no
    /// HTTP answer at all (refused, reset, DNS; `status` None). AWS: retry attempts do not
    /// apply to service errors, so it is retried with backoff and NOT counted; an endpoint that
    /// is down blocks its partitions (logged) instead of sending good records to the
    /// destination.
    ServiceError { status: Option<u16>, detail: String },
}

impl Outcome {
    /// Short name for the `outcome` field of batch log lines.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::FunctionError { .. } => "function_error",
            Outcome::Throttled { .. } => "throttled",
            Outcome::Timeout => "timeout",
            Outcome::ServiceError { .. } => "service_error",
        }
    }

    /// Whether the attempt counts against MaximumRetryAttempts when it is not a success.
    pub fn counts_as_attempt(&self) -> bool {
        matches!(self, Outcome::FunctionError { .. } | Outcome::Timeout)
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Success { status, .. } | Outcome::FunctionError { status, .. } => {
                Some(*status)
            }
            Outcome::Throttled { .. } => Some(429),
            Outcome::ServiceError { status, .. } => *status,
            Outcome::Timeout => None,
        }
    }

    /// The first [`BODY_EXCERPT_MAX_BYTES`] of the answer's body (lossy UTF-8), or the
    /// transport error's text.
    pub fn excerpt(&self) -> String {
        match self {
            Outcome::Success { body, .. }
            | Outcome::FunctionError { body, .. }
            | Outcome::Throttled { body } => body_excerpt(body),
            Outcome::ServiceError { detail, .. } => detail.clone(),
            Outcome::Timeout => String::new(),
        }
    }
}

/// The first [`BODY_EXCERPT_MAX_BYTES`] of `body`, lossily as UTF-8.
pub fn body_excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT_MAX_BYTES)]).into_owned()
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
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return error_outcome(&e, None),
        };
        let status = response.status().as_u16();
        let function_error = header_text(&response, "x-amz-function-error");
        let error_type = header_text(&response, "x-amzn-errortype");
        match read_body(&mut response).await {
            Ok(body) => classify(status, function_error, error_type, body),
            Err(e) => error_outcome(&e, Some(status)),
        }
    }
}

/// The response body, cut at [`RESPONSE_BODY_MAX_BYTES`] (a cut body fails a
/// ReportBatchItemFailures parse, so the batch counts as failed, never as done).
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = RESPONSE_BODY_MAX_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= RESPONSE_BODY_MAX_BYTES {
            break;
        }
    }
    Ok(body)
}

/// The outcome of an answer with `status`, the `X-Amz-Function-Error` and `x-amzn-ErrorType`
/// headers, and `body`.
pub fn classify(
    status: u16,
    function_error: Option<String>,
    error_type: Option<String>,
    body: Vec<u8>,
) -> Outcome {
    let ran_and_failed = function_error.is_some() || is_error_body(&body);
    match status {
        200..=299 | 500..=599 if ran_and_failed => Outcome::FunctionError {
            status,
            // An exception in a local runtime is what AWS reports as Unhandled.
            error_type: function_error.or_else(|| Some("Unhandled".to_string())),
            body,
        },
        200..=299 => Outcome::Success { status, body },
        429 => Outcome::Throttled { body },
        500..=599 => Outcome::ServiceError {
            status: Some(status),
            detail: body_excerpt(&body),
        },
        // Other 4xx (e.g. 404 ResourceNotFoundException, 413 RequestTooLargeException): the
        // request is at fault and a retry would not fix it, so it counts like a function error.
        _ => Outcome::FunctionError {
            status,
            error_type: function_error.or(error_type),
            body,
        },
    }
}

/// Whether `body` is a function's error answer: a JSON object with a string `errorMessage` or
/// `errorType`, as the Lambda runtimes write an uncaught exception.
pub fn is_error_body(body: &[u8]) -> bool {
    const NAMES: [&[u8]; 2] = [b"\"errorMessage\"", b"\"errorType\""];
    // Most answers are not errors: look for the names before parsing.
    let named = NAMES.iter().any(|n| body.windows(n.len()).any(|w| w == *n));
    if !named {
        return false;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => ["errorMessage", "errorType"]
            .iter()
            .any(|k| map.get(*k).is_some_and(serde_json::Value::is_string)),
        _ => false,
    }
}

/// No (complete) HTTP answer: no answer in time is a timeout (a function error); anything
/// else (refused, reset, DNS) never reached the function: a service error.
fn error_outcome(e: &reqwest::Error, status: Option<u16>) -> Outcome {
    if e.is_timeout() && !e.is_connect() {
        return Outcome::Timeout;
    }
    let mut text = format!("{e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    Outcome::ServiceError {
        status,
        detail: text.chars().take(TRANSPORT_TEXT_MAX_CHARS).collect(),
    }
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
                status: 200,
                body: b"{\"ok\":true}".to_vec()
            }
        );
    }

    #[tokio::test]
    async fn function_error_header_is_a_function_error() {
        let t = ResponseTemplate::new(200)
            .insert_header("X-Amz-Function-Error", "Handled")
            .set_body_string("{}");
        assert_eq!(
            invoke_once(t, 5_000).await,
            Outcome::FunctionError {
                status: 200,
                error_type: Some("Handled".into()),
                body: b"{}".to_vec(),
            }
        );
    }

    const RIE_ERROR: &str = r#"{"errorMessage":"boom","errorType":"Error","stackTrace":[]}"#;

    #[tokio::test]
    async fn an_error_body_without_the_header_is_a_function_error() {
        // The Runtime Interface Emulator and `sam local` answer a handler exception like this.
        let t = ResponseTemplate::new(200).set_body_string(RIE_ERROR);
        let outcome = invoke_once(t, 5_000).await;
        assert_eq!(
            outcome,
            Outcome::FunctionError {
                status: 200,
                error_type: Some("Unhandled".into()),
                body: RIE_ERROR.as_bytes().to_vec(),
            }
        );
        assert!(outcome.counts_as_attempt());
    }

    #[tokio::test]
    async fn a_5xx_with_an_error_body_is_a_counted_function_error() {
        // cargo-lambda's watch server.
        let t = ResponseTemplate::new(502).set_body_string(RIE_ERROR);
        let outcome = invoke_once(t, 5_000).await;
        assert!(
            matches!(outcome, Outcome::FunctionError { status: 502, .. }),
            "{outcome:?}"
        );
        assert!(outcome.counts_as_attempt());
    }

    #[tokio::test]
    async fn a_5xx_without_an_error_body_is_an_uncounted_service_error() {
        let t = ResponseTemplate::new(502).set_body_string("Bad Gateway");
        let outcome = invoke_once(t, 5_000).await;
        assert_eq!(
            outcome,
            Outcome::ServiceError {
                status: Some(502),
                detail: "Bad Gateway".into()
            }
        );
        assert!(!outcome.counts_as_attempt());
        assert_eq!(outcome.status(), Some(502));
    }

    #[tokio::test]
    async fn a_429_is_throttled() {
        let t = ResponseTemplate::new(429).insert_header("x-amzn-ErrorType", "TooManyRequests");
        let outcome = invoke_once(t, 5_000).await;
        assert_eq!(outcome, Outcome::Throttled { body: Vec::new() });
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
                error_type: Some("ResourceNotFoundException".into()),
                body: Vec::new(),
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
    async fn a_closed_port_is_a_service_error() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let invoker = Invoker::new(&format!("http://127.0.0.1:{port}"), "process", 2_000).unwrap();
        let outcome = invoker.invoke(b"{}".to_vec()).await;
        assert!(
            matches!(outcome, Outcome::ServiceError { status: None, .. }),
            "{outcome:?}"
        );
        assert!(!outcome.counts_as_attempt());
    }

    #[tokio::test]
    async fn a_reset_connection_is_a_service_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            // Accept and drop: the request is answered with a closed connection.
            let (stream, _) = listener.accept().await.unwrap();
            drop(stream);
        });
        let invoker = Invoker::new(&format!("http://127.0.0.1:{port}"), "process", 2_000).unwrap();
        let outcome = invoker.invoke(b"{}".to_vec()).await;
        server.await.unwrap();
        assert!(
            matches!(outcome, Outcome::ServiceError { status: None, .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn error_bodies_are_recognised_only_as_objects_with_string_fields() {
        assert!(is_error_body(br#"{"errorMessage":"x"}"#));
        assert!(is_error_body(br#"{"errorType":"Runtime.ExitError"}"#));
        assert!(!is_error_body(br#"{"errorMessage":null}"#));
        assert!(!is_error_body(br#"["errorMessage"]"#));
        assert!(!is_error_body(br#"{"batchItemFailures":[]}"#));
        assert!(!is_error_body(b"{\"errorMessage\": not json"));
        assert!(!is_error_body(b""));
    }

    #[test]
    fn an_item_failure_answer_with_an_error_is_never_a_success() {
        let both = br#"{"batchItemFailures":[],"errorMessage":"boom"}"#.to_vec();
        assert!(matches!(
            classify(200, None, None, both),
            Outcome::FunctionError { .. }
        ));
        let items = br#"{"batchItemFailures":[]}"#.to_vec();
        assert!(matches!(
            classify(200, None, None, items),
            Outcome::Success { .. }
        ));
    }

    #[test]
    fn excerpts_are_cut_at_200_bytes_lossily() {
        let mut body = vec![b'a'; 199];
        body.extend_from_slice("é".as_bytes());
        let outcome = classify(503, None, None, body);
        let Outcome::ServiceError { detail, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            detail.len(),
            199 + 3,
            "the cut half character becomes U+FFFD"
        );
        assert!(detail.ends_with('\u{fffd}'));
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
