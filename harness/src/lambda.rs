//! The mock function: a wiremock server speaking the Lambda Invoke API, whose behaviour a step
//! scripts, validating every event it gets and recording every invocation in its own list and in
//! the scenario's history.

use crate::history::{
    EventKind, History, InvocationEvent, InvocationOutcome, ItemFailure, RecordRef,
};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The Invoke API's payload limit for synchronous calls (6 MB).
pub const PAYLOAD_BYTES_MAX: usize = 6_291_456;
/// Bodies up to this size are still parsed (AWS counts a little differently than a consumer may);
/// larger ones are refused with 413 and recorded as malformed.
pub const BODY_BYTES_MAX: usize = PAYLOAD_BYTES_MAX + 64 * 1024;
/// Names a folder to keep the raw event bodies in, for other parsers to check
/// (`.ci/crosscheck.sh`); unset, nothing is written.
pub const EVENT_SAMPLES_ENV: &str = "ESM_CHAOS_EVENT_SAMPLES";
/// Event bodies kept per process, at most.
pub const EVENT_SAMPLES_MAX: usize = 500;

/// How a scripted function answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Succeed,
    Fail,
    FailTimes {
        remaining: u32,
    },
    FailWhenValueContains(String),
    ReportItemFailuresWhenValueContains(String),
    ThrottleTimes {
        remaining: u32,
    },
    /// Every call answers 200 with an error body and no `X-Amz-Function-Error` header, as the
    /// Runtime Interface Emulator and `sam local` do. Still a function error: AWS's "Configuring
    /// error handling controls for Kafka event sources" (lambda/latest/dg/kafka-retry-
    /// configurations.html) retries "when your function returns an error".
    FailLikeLocalRuntime,
    /// The next `remaining` calls get a Lambda service error (`status`, a 5xx) that never
    /// reached the function; later calls succeed.
    ServiceErrorTimes {
        status: u16,
        remaining: u32,
    },
}

/// One call of the mock function, as the mock saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub id: u64,
    pub function: String,
    pub start_ms: u64,
    /// `start_ms` plus the scripted delay: when the answer was sent.
    pub end_ms: u64,
    pub status: u16,
    pub outcome: InvocationOutcome,
    pub records: Vec<InvokedRecord>,
    pub item_failures: Vec<ItemFailure>,
    pub event_source: String,
    pub event_source_arn: Option<String>,
    /// Why the event was refused (400/413), if it was.
    pub malformed: Option<String>,
}

/// A record as decoded from the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<i8>)>,
    pub timestamp_ms: i64,
}

/// A validated Kafka event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub event_source: String,
    pub event_source_arn: Option<String>,
    pub records: Vec<InvokedRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    event_source: Option<String>,
    event_source_arn: Option<String>,
    records: Option<BTreeMap<String, Vec<WireRecord>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord {
    topic: Option<String>,
    partition: i64,
    offset: i64,
    timestamp: i64,
    timestamp_type: Option<String>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<BTreeMap<String, Vec<i64>>>,
}

/// Parses and checks a Kafka event against ESM-SPEC section 2: it must parse as
/// `aws_lambda_events`' `KafkaEvent` and follow the rules that type does not enforce.
/// The error says which record and field is wrong.
pub fn parse_event(body: &[u8]) -> Result<ParsedEvent, String> {
    let wire: WireEvent =
        serde_json::from_slice(body).map_err(|e| format!("event is not a Kafka event: {e}"))?;
    let event_source = wire.event_source.unwrap_or_default();
    match (event_source.as_str(), &wire.event_source_arn) {
        ("SelfManagedKafka", None) => {}
        ("SelfManagedKafka", Some(arn)) => {
            return Err(format!(
                "eventSource SelfManagedKafka must have no eventSourceArn, got {arn:?}"
            ));
        }
        ("aws:kafka", Some(arn)) if !arn.is_empty() => {}
        ("aws:kafka", _) => {
            return Err("eventSource aws:kafka needs a non-empty eventSourceArn".into());
        }
        (other, _) => {
            return Err(format!(
                "eventSource is {other:?}; allowed: SelfManagedKafka, aws:kafka"
            ));
        }
    }
    let lists = wire.records.unwrap_or_default();
    let mut records = Vec::with_capacity(lists.values().map(Vec::len).sum());
    for (list_key, list) in lists {
        let mut previous: Option<i64> = None;
        for wire_record in list {
            let record = check_record(&list_key, wire_record)?;
            if let Some(before) = previous
                && record.offset <= before
            {
                return Err(format!(
                    "records[{list_key:?}]: offset {} follows {before}; offsets must ascend",
                    record.offset
                ));
            }
            previous = Some(record.offset);
            records.push(record);
        }
    }
    if records.is_empty() {
        return Err("records is empty: a function is never invoked without records".into());
    }
    // Last, so the messages above (which name the field) win.
    serde_json::from_slice::<aws_lambda_events::event::kafka::KafkaEvent>(body)
        .map_err(|e| format!("event does not parse as aws_lambda_events KafkaEvent: {e}"))?;
    Ok(ParsedEvent {
        event_source,
        event_source_arn: wire.event_source_arn,
        records,
    })
}

fn check_record(list_key: &str, r: WireRecord) -> Result<InvokedRecord, String> {
    let at = format!("records[{list_key:?}] offset {}", r.offset);
    let topic = r.topic.ok_or_else(|| format!("{at}: topic is missing"))?;
    let partition = i32::try_from(r.partition)
        .map_err(|_| format!("{at}: partition {} is not an i32", r.partition))?;
    let expected_key = format!("{topic}-{partition}");
    if expected_key != list_key {
        return Err(format!(
            "{at}: list key {list_key:?} disagrees with the record's topic/partition {expected_key:?}"
        ));
    }
    match r.timestamp_type.as_deref() {
        Some("CREATE_TIME" | "LOG_APPEND_TIME") => {}
        other => {
            return Err(format!(
                "{at}: timestampType is {other:?}; allowed: CREATE_TIME, LOG_APPEND_TIME"
            ));
        }
    }
    let key = decode_base64(&at, "key", r.key.as_deref())?;
    let value = decode_base64(&at, "value", r.value.as_deref())?;
    let mut headers = Vec::new();
    for header in r.headers {
        for (name, bytes) in header {
            let signed = bytes
                .iter()
                .map(|&b| i8::try_from(b))
                .collect::<Result<Vec<i8>, _>>()
                .map_err(|_| {
                    format!("{at}: header {name:?} has bytes {bytes:?}; each must be in -128..=127")
                })?;
            headers.push((name, signed));
        }
    }
    Ok(InvokedRecord {
        topic,
        partition,
        offset: r.offset,
        key,
        value,
        headers,
        timestamp_ms: r.timestamp,
    })
}

fn decode_base64(at: &str, field: &str, text: Option<&str>) -> Result<Option<Vec<u8>>, String> {
    match text {
        None => Ok(None),
        // A zero-length value is "" (ESM-SPEC 2): it stays distinct from a null one.
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(Some)
            .map_err(|e| format!("{at}: {field} is not valid base64 ({e})")),
    }
}

/// Writes an event body to the [`EVENT_SAMPLES_ENV`] folder, if set: at most
/// [`EVENT_SAMPLES_MAX`] per process and none over the Invoke payload limit. The process id and
/// a process-wide count name the files, so concurrent scenarios and runs never share a name.
fn keep_sample(body: &[u8]) {
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    static WRITTEN: AtomicUsize = AtomicUsize::new(0);
    let folder = FOLDER.get_or_init(|| {
        let folder = PathBuf::from(std::env::var_os(EVENT_SAMPLES_ENV)?);
        match std::fs::create_dir_all(&folder) {
            Ok(()) => Some(folder),
            Err(e) => {
                tracing::warn!(folder = %folder.display(), %e, "mock Lambda: no event samples");
                None
            }
        }
    });
    let Some(folder) = folder else { return };
    if body.len() > PAYLOAD_BYTES_MAX {
        return;
    }
    let Some(name) = sample_file_name(std::process::id(), WRITTEN.fetch_add(1, Ordering::Relaxed))
    else {
        return;
    };
    let path = folder.join(name);
    if let Err(e) = std::fs::write(&path, body) {
        tracing::warn!(path = %path.display(), %e, "mock Lambda: event sample not written");
    }
}

/// The file name of the `n`th sample of a process, or none past [`EVENT_SAMPLES_MAX`].
fn sample_file_name(pid: u32, n: usize) -> Option<String> {
    (n < EVENT_SAMPLES_MAX).then(|| format!("event-{pid}-{n:04}.json"))
}

/// Extracts the function name from the path segment: URL-decoded, a name, a name with a
/// qualifier, or a full or partial ARN.
pub(crate) fn function_candidates(segment: &str) -> Vec<String> {
    let decoded = percent_decode(segment);
    let mut out = vec![decoded.clone()];
    let after_function = match decoded.rfind(":function:") {
        Some(i) => decoded[i + ":function:".len()..].to_string(),
        None => decoded.clone(),
    };
    out.push(after_function.clone());
    if let Some((name, _qualifier)) = after_function.split_once(':') {
        out.push(name.to_string());
    }
    out
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Function {
    mode: Mode,
    delay_ms: u64,
    /// End times of answered-but-not-yet-sent calls, pruned as time passes.
    pending_end_ms: Vec<u64>,
}

#[derive(Default)]
struct State {
    functions: BTreeMap<String, Function>,
}

struct Shared {
    history: History,
    state: Mutex<State>,
    next_id: AtomicU64,
}

enum Decision {
    Succeed,
    Fail,
    FailWithoutHeader,
    Partial(Vec<ItemFailure>),
    Throttle,
    ServiceError(u16),
}

impl Decision {
    /// Answers the function never ran for come back at once, whatever the scripted delay.
    fn reaches_function(&self) -> bool {
        !matches!(self, Decision::Throttle | Decision::ServiceError(_))
    }

    /// The HTTP status of the answer.
    fn status(&self) -> u16 {
        match self {
            Decision::Throttle => 429,
            Decision::ServiceError(status) => *status,
            _ => 200,
        }
    }
}

fn value_contains(record: &InvokedRecord, needle: &str) -> bool {
    let needle = needle.as_bytes();
    match &record.value {
        Some(v) => needle.is_empty() || v.windows(needle.len()).any(|w| w == needle),
        None => false,
    }
}

/// Applies a mode to a batch, counting down the `*Times` modes.
fn decide(mode: &mut Mode, records: &[InvokedRecord]) -> Decision {
    match mode {
        Mode::Succeed => Decision::Succeed,
        Mode::Fail => Decision::Fail,
        Mode::FailTimes { remaining } if *remaining > 0 => {
            *remaining -= 1;
            Decision::Fail
        }
        Mode::FailTimes { .. } => Decision::Succeed,
        Mode::ThrottleTimes { remaining } if *remaining > 0 => {
            *remaining -= 1;
            Decision::Throttle
        }
        Mode::ThrottleTimes { .. } => Decision::Succeed,
        Mode::FailLikeLocalRuntime => Decision::FailWithoutHeader,
        Mode::ServiceErrorTimes { status, remaining } if *remaining > 0 => {
            *remaining -= 1;
            Decision::ServiceError(*status)
        }
        Mode::ServiceErrorTimes { .. } => Decision::Succeed,
        Mode::FailWhenValueContains(s) => {
            if records.iter().any(|r| value_contains(r, s)) {
                Decision::Fail
            } else {
                Decision::Succeed
            }
        }
        Mode::ReportItemFailuresWhenValueContains(s) => Decision::Partial(
            records
                .iter()
                .filter(|r| value_contains(r, s))
                .map(|r| ItemFailure {
                    partition_key: format!("{}-{}", r.topic, r.partition),
                    offset: r.offset,
                })
                .collect(),
        ),
    }
}

fn error_response(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    api_error(status, "User", error_type, message)
}

/// An error of the Invoke API itself (not of the function), in the shape its REST-JSON
/// protocol uses: `x-amzn-ErrorType` and a `{"Type", "message"}` body, never `errorMessage`.
fn api_error(status: u16, fault: &str, error_type: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-ErrorType", error_type)
        .set_body_raw(
            serde_json::json!({"Type": fault, "message": message}).to_string(),
            "application/json",
        )
}

/// The body a handler's exception produces: what every runtime writes on a function error.
fn function_error_body() -> serde_json::Value {
    serde_json::json!({"errorMessage": "scripted failure", "errorType": "Error", "stackTrace": []})
}

fn decision_response(decision: &Decision) -> (ResponseTemplate, InvocationOutcome) {
    let json = |status: u16, body: serde_json::Value| {
        ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
    };
    match decision {
        Decision::Succeed => (json(200, serde_json::json!({})), InvocationOutcome::Success),
        Decision::Fail => (
            json(200, function_error_body()).insert_header("X-Amz-Function-Error", "Unhandled"),
            InvocationOutcome::FunctionError,
        ),
        // Still a function error: the handler ran and threw; only the header is missing.
        Decision::FailWithoutHeader => (
            json(200, function_error_body()),
            InvocationOutcome::FunctionError,
        ),
        Decision::Partial(failures) => {
            let items: Vec<_> = failures
                .iter()
                .map(|f| serde_json::json!({"itemIdentifier": {"partition": f.partition_key, "offset": f.offset}}))
                .collect();
            let outcome = if failures.is_empty() {
                InvocationOutcome::Success
            } else {
                InvocationOutcome::PartialFailure
            };
            (
                json(200, serde_json::json!({ "batchItemFailures": items })),
                outcome,
            )
        }
        Decision::Throttle => (
            error_response(429, "TooManyRequestsException", "Rate Exceeded.")
                .insert_header("Retry-After", "0"),
            InvocationOutcome::Throttled,
        ),
        Decision::ServiceError(status) => (
            api_error(
                *status,
                "Service",
                "ServiceException",
                "The Lambda service failed; the function was not invoked.",
            ),
            InvocationOutcome::ServiceError,
        ),
    }
}

struct Responder(Arc<Shared>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

impl Shared {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let start_ms = self.history.now_ms();
        let segment = request
            .url
            .path_segments()
            .and_then(|mut s| s.nth(2))
            .unwrap_or_default()
            .to_string();
        let Some(function) = self.resolve(&segment) else {
            tracing::warn!(function = %segment, "mock Lambda: invoke of an unknown function");
            return error_response(
                404,
                "ResourceNotFoundException",
                &format!("Function not found: {}", percent_decode(&segment)),
            );
        };
        keep_sample(&request.body);
        let parsed = if request.body.len() > BODY_BYTES_MAX {
            Err((
                413,
                "RequestTooLargeException",
                format!(
                    "request body is {} bytes; the Invoke API takes at most {PAYLOAD_BYTES_MAX}",
                    request.body.len()
                ),
            ))
        } else {
            parse_event(&request.body).map_err(|why| (400, "InvalidRequestContentException", why))
        };
        let body = self.history.keep_body(&request.body);
        match parsed {
            Ok(event) => self.answer(function, start_ms, event, body),
            Err((status, error_type, why)) => {
                self.refuse(function, start_ms, status, &why, body);
                error_response(status, error_type, &why)
            }
        }
    }

    fn resolve(&self, segment: &str) -> Option<String> {
        let state = self.state.lock().expect("mock lambda lock poisoned");
        function_candidates(segment)
            .into_iter()
            .find(|c| state.functions.contains_key(c))
    }

    fn answer(
        &self,
        function: String,
        start_ms: u64,
        event: ParsedEvent,
        body: Option<String>,
    ) -> ResponseTemplate {
        let mut state = self.state.lock().expect("mock lambda lock poisoned");
        let f = state
            .functions
            .get_mut(&function)
            .expect("resolved function exists");
        let decision = decide(&mut f.mode, &event.records);
        let delay_ms = if decision.reaches_function() {
            f.delay_ms
        } else {
            0
        };
        let end_ms = start_ms + delay_ms;
        if delay_ms > 0 {
            f.pending_end_ms.retain(|&e| e > start_ms);
            f.pending_end_ms.push(end_ms);
        }
        let (template, outcome) = decision_response(&decision);
        let status = decision.status();
        let item_failures = match decision {
            Decision::Partial(failures) => failures,
            _ => Vec::new(),
        };
        let invocation = Invocation {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            function,
            start_ms,
            end_ms,
            status,
            outcome,
            records: event.records,
            item_failures,
            event_source: event.event_source,
            event_source_arn: event.event_source_arn,
            malformed: None,
        };
        drop(state);
        self.store(invocation, body);
        template.set_delay(Duration::from_millis(delay_ms))
    }

    fn refuse(
        &self,
        function: String,
        start_ms: u64,
        status: u16,
        why: &str,
        body: Option<String>,
    ) {
        tracing::warn!(%function, %why, "mock Lambda: malformed event");
        let invocation = Invocation {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            function,
            start_ms,
            end_ms: start_ms,
            status,
            outcome: InvocationOutcome::FunctionError,
            records: Vec::new(),
            item_failures: Vec::new(),
            event_source: String::new(),
            event_source_arn: None,
            malformed: Some(why.to_string()),
        };
        self.store(invocation, body);
    }

    /// Records an invocation in the history, the one store of invocations, with the body as
    /// received for the checkers' own parser.
    fn store(&self, invocation: Invocation, body: Option<String>) {
        let Invocation {
            id,
            function,
            start_ms,
            end_ms,
            outcome,
            records,
            item_failures,
            malformed,
            ..
        } = invocation;
        self.history.record_at(
            start_ms,
            EventKind::Invocation(Box::new(InvocationEvent {
                function,
                id,
                start_ms,
                end_ms,
                records: records
                    .iter()
                    .map(|r| record_ref(r, &self.history))
                    .collect(),
                outcome,
                item_failures,
                malformed,
                body,
            })),
        );
    }
}

fn record_ref(r: &InvokedRecord, history: &History) -> RecordRef {
    RecordRef {
        topic: history.name(&r.topic),
        partition: r.partition,
        offset: r.offset,
        value: r
            .value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned()),
        headers: r.headers.clone(),
    }
}

/// A running mock function server; clones share it. The server stops when the last clone drops.
#[derive(Clone)]
pub struct MockLambda {
    /// Held for its `Drop`: the last clone stops the server.
    _server: Arc<ServerOwner>,
    /// The server's base URL, read once.
    uri: String,
    shared: Arc<Shared>,
}

/// Owns the wiremock server, to drop it where dropping cannot hang. wiremock's `Drop` blocks the
/// thread on an async lock of the server's state (`verify`). On a runtime worker that wait can
/// need a task queued on that same worker, which then never runs: seen once as a runner
/// spinning at 100% CPU in `Scenario::finish` for 15 minutes. The server is dropped on a
/// blocking thread instead.
struct ServerOwner(Option<MockServer>);

impl Drop for ServerOwner {
    fn drop(&mut self) {
        let Some(server) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(server));
            }
            Err(_) => drop(server),
        }
    }
}

impl MockLambda {
    /// Starts the server on 127.0.0.1 and a free port, with no functions defined.
    pub async fn start(history: History) -> MockLambda {
        // Request recording off: wiremock would otherwise keep every body (gigabytes in a soak).
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let shared = Arc::new(Shared {
            history,
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
        });
        Mock::given(method("POST"))
            .and(path_regex(r"^/2015-03-31/functions/[^/]+/invocations$"))
            .respond_with(Responder(shared.clone()))
            .mount(&server)
            .await;
        MockLambda {
            uri: server.uri(),
            _server: Arc::new(ServerOwner(Some(server))),
            shared,
        }
    }

    /// The base URL a consumer invokes, e.g. `http://127.0.0.1:4372`.
    pub fn endpoint(&self) -> String {
        self.uri.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("mock lambda lock poisoned")
    }

    /// Defines (or redefines) a function with a mode and no delay.
    pub fn define(&self, function: &str, mode: Mode) {
        self.state().functions.insert(
            function.to_string(),
            Function {
                mode,
                delay_ms: 0,
                pending_end_ms: Vec::new(),
            },
        );
    }

    /// Whether a call naming `function` (a name, a qualified name or an ARN) would reach a
    /// defined function: the same resolution the Invoke route uses.
    pub fn is_defined(&self, function: &str) -> bool {
        self.shared.resolve(function).is_some()
    }

    /// Changes how a function answers from now on (defining it if it is new).
    pub fn set_mode(&self, function: &str, mode: Mode) {
        let mut state = self.state();
        match state.functions.get_mut(function) {
            Some(f) => f.mode = mode,
            None => {
                drop(state);
                self.define(function, mode);
            }
        }
    }

    /// Makes every later answer of the function wait `delay_ms` (defining it as succeeding if new).
    pub fn set_delay_ms(&self, function: &str, delay_ms: u64) {
        let mut state = self.state();
        let f = state
            .functions
            .entry(function.to_string())
            .or_insert(Function {
                mode: Mode::Succeed,
                delay_ms: 0,
                pending_end_ms: Vec::new(),
            });
        f.delay_ms = delay_ms;
    }

    /// Records a call answered by something else (a real function) exactly as the mock's own
    /// calls are recorded, under a fresh id, which it returns.
    pub fn record_invocation(&self, mut invocation: Invocation, body: Option<String>) -> u64 {
        invocation.id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let id = invocation.id;
        self.shared.store(invocation, body);
        id
    }

    /// Calls of the function whose answer has not been sent yet (their delay has not passed).
    pub fn in_flight(&self, function: &str) -> usize {
        let now_ms = self.shared.history.now_ms();
        let mut state = self.state();
        match state.functions.get_mut(function) {
            Some(f) => {
                f.pending_end_ms.retain(|&e| e > now_ms);
                f.pending_end_ms.len()
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(topic: &str, partition: i32, offset: i64, value: &str) -> serde_json::Value {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        json!({"topic": topic, "partition": partition, "offset": offset, "timestamp": 1_545_084_650_987_i64,
               "timestampType": "CREATE_TIME", "key": b64("k"), "value": b64(value),
               "headers": [{"trace": [-61, -87]}]})
    }

    fn event(records: &[(&str, i32, i64, &str)]) -> serde_json::Value {
        let mut lists = serde_json::Map::new();
        for &(t, p, o, v) in records {
            lists
                .entry(format!("{t}-{p}"))
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(record(t, p, o, v));
        }
        json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092", "records": lists})
    }

    async fn invoke(
        mock: &MockLambda,
        function: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                mock.endpoint()
            ))
            .header("X-Amz-Invocation-Type", "RequestResponse")
            .body(body.to_string())
            .send()
            .await
            .expect("mock answers")
    }

    async fn started(mode: Mode) -> (MockLambda, History) {
        let history = History::new();
        let mock = MockLambda::start(history.clone()).await;
        mock.define("process", mode);
        (mock, history)
    }

    /// The outcomes of the calls of "process", from the history: the mock keeps no list.
    fn outcomes(history: &History) -> Vec<InvocationOutcome> {
        crate::history::invocations(&history.snapshot())
            .filter(|inv| inv.function == "process")
            .map(|inv| inv.outcome)
            .collect()
    }

    /// The reasons of the malformed calls, from the history.
    fn malformed(history: &History) -> Vec<String> {
        crate::history::invocations(&history.snapshot())
            .filter_map(|inv| inv.malformed.map(str::to_string))
            .collect()
    }

    #[tokio::test]
    async fn succeeds_and_records_in_the_history() {
        let (mock, history) = started(Mode::Succeed).await;
        assert!(mock.endpoint().starts_with("http://127.0.0.1:"));
        let res = invoke(
            &mock,
            "process",
            &event(&[("orders", 0, 5, "a"), ("orders", 0, 6, "b")]),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("X-Amz-Function-Error").is_none());
        let events = history.snapshot();
        let EventKind::Invocation(inv) = &events[0].kind else {
            panic!("expected an invocation, got {events:?}");
        };
        let InvocationEvent {
            records,
            outcome,
            malformed,
            ..
        } = &**inv;
        assert_eq!(events.len(), 1);
        assert_eq!(*outcome, InvocationOutcome::Success);
        assert_eq!(malformed, &None);
        assert_eq!(records[0].value.as_deref(), Some("a"));
        assert_eq!(records[1].value.as_deref(), Some("b"));
        assert_eq!(records[1].offset, 6);
        assert_eq!(
            records[0].headers,
            vec![("trace".to_string(), vec![-61, -87])]
        );
    }

    #[tokio::test]
    async fn fails_and_fails_times_then_succeeds() {
        let (mock, history) = started(Mode::Fail).await;
        let body = event(&[("orders", 0, 1, "a")]);
        let res = invoke(&mock, "process", &body).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["X-Amz-Function-Error"], "Unhandled");
        assert!(res.text().await.unwrap().contains("scripted failure"));
        mock.set_mode("process", Mode::FailTimes { remaining: 2 });
        let mut errors = Vec::new();
        for _ in 0..4 {
            let res = invoke(&mock, "process", &body).await;
            errors.push(res.headers().contains_key("X-Amz-Function-Error"));
        }
        assert_eq!(errors, [true, true, false, false]);
        let outcomes = outcomes(&history);
        assert_eq!(outcomes[0], InvocationOutcome::FunctionError);
        assert_eq!(outcomes[4], InvocationOutcome::Success);
    }

    #[tokio::test]
    async fn fails_only_batches_holding_the_value() {
        let (mock, _) = started(Mode::FailWhenValueContains("poison".into())).await;
        let bad = invoke(
            &mock,
            "process",
            &event(&[("o", 0, 1, "ok"), ("o", 0, 2, "a poison pill")]),
        )
        .await;
        assert!(bad.headers().contains_key("X-Amz-Function-Error"));
        let good = invoke(&mock, "process", &event(&[("o", 0, 1, "ok")])).await;
        assert!(!good.headers().contains_key("X-Amz-Function-Error"));
    }

    #[tokio::test]
    async fn reports_item_failures_for_matching_records() {
        let (mock, history) =
            started(Mode::ReportItemFailuresWhenValueContains("poison".into())).await;
        let body = event(&[
            ("o", 0, 1, "ok"),
            ("o", 0, 2, "poison"),
            ("o", 1, 7, "poison"),
        ]);
        let res = invoke(&mock, "process", &body).await;
        assert_eq!(res.status(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        let items = answer["batchItemFailures"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.contains(&json!({"itemIdentifier": {"partition": "o-0", "offset": 2}})));
        let res = invoke(&mock, "process", &event(&[("o", 0, 1, "ok")])).await;
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(answer, json!({"batchItemFailures": []}));
        assert_eq!(
            outcomes(&history),
            [
                InvocationOutcome::PartialFailure,
                InvocationOutcome::Success
            ]
        );
    }

    #[tokio::test]
    async fn throttles_then_succeeds() {
        let (mock, history) = started(Mode::ThrottleTimes { remaining: 1 }).await;
        let body = event(&[("o", 0, 1, "a")]);
        let res = invoke(&mock, "process", &body).await;
        assert_eq!(res.status(), 429);
        assert_eq!(
            res.headers()["x-amzn-ErrorType"],
            "TooManyRequestsException"
        );
        assert_eq!(invoke(&mock, "process", &body).await.status(), 200);
        assert_eq!(
            outcomes(&history),
            [InvocationOutcome::Throttled, InvocationOutcome::Success]
        );
    }

    #[tokio::test]
    async fn delay_keeps_the_call_in_flight() {
        let (mock, history) = started(Mode::Succeed).await;
        mock.set_delay_ms("process", 400);
        let body = event(&[("o", 0, 1, "a")]);
        let call = {
            let mock = mock.clone();
            tokio::spawn(async move { invoke(&mock, "process", &body).await.status() })
        };
        crate::wait::until_every(
            "one call in flight",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || async {
                match mock.in_flight("process") {
                    1 => Ok(()),
                    n => Err(format!("{n} in flight")),
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(call.await.unwrap(), 200);
        assert_eq!(mock.in_flight("process"), 0);
        let events = history.snapshot();
        let inv = crate::history::invocations(&events).next().unwrap();
        assert_eq!(inv.end_ms - inv.start_ms, 400);
    }

    #[tokio::test]
    async fn unknown_function_is_404_and_arns_resolve() {
        let (mock, history) = started(Mode::Succeed).await;
        let body = event(&[("o", 0, 1, "a")]);
        let res = invoke(&mock, "nope", &body).await;
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.headers()["x-amzn-ErrorType"],
            "ResourceNotFoundException"
        );
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Function not found: nope")
        );
        let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aprocess";
        assert_eq!(invoke(&mock, arn, &body).await.status(), 200);
        let qualified = "arn:aws:lambda:us-east-1:123456789012:function:process:$LATEST";
        assert_eq!(invoke(&mock, qualified, &body).await.status(), 200);
        assert_eq!(outcomes(&history).len(), 2);
        assert!(mock.is_defined("process") && mock.is_defined(qualified));
        assert!(!mock.is_defined("nope"));
    }

    async fn assert_malformed(body: serde_json::Value, why_contains: &str) {
        let (mock, history) = started(Mode::Succeed).await;
        let res = invoke(&mock, "process", &body).await;
        assert_eq!(res.status(), 400, "body {body}");
        let malformed = malformed(&history);
        assert_eq!(malformed.len(), 1);
        assert!(
            malformed[0].contains(why_contains),
            "{malformed:?} lacks {why_contains:?}"
        );
        assert_eq!(outcomes(&history), [InvocationOutcome::FunctionError]);
    }

    #[tokio::test]
    async fn malformed_events_are_refused() {
        let mut bad_base64 = event(&[("o", 0, 1, "a")]);
        bad_base64["records"]["o-0"][0]["value"] = json!("not base64!");
        assert_malformed(bad_base64, "value is not valid base64").await;
        let mut big_byte = event(&[("o", 0, 1, "a")]);
        big_byte["records"]["o-0"][0]["headers"] = json!([{"trace": [200]}]);
        assert_malformed(big_byte, "-128..=127").await;
        let mut wrong_key = event(&[("o", 0, 1, "a")]);
        wrong_key["records"]["o-0"][0]["partition"] = json!(3);
        assert_malformed(wrong_key, "disagrees").await;
        assert_malformed(event(&[("o", 0, 2, "a"), ("o", 0, 1, "b")]), "must ascend").await;
        let mut msk_without_arn = event(&[("o", 0, 1, "a")]);
        msk_without_arn["eventSource"] = json!("aws:kafka");
        assert_malformed(msk_without_arn, "eventSourceArn").await;
        let mut bad_type = event(&[("o", 0, 1, "a")]);
        bad_type["records"]["o-0"][0]["timestampType"] = json!("NO_TIMESTAMP_TYPE");
        assert_malformed(bad_type, "timestampType").await;
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let (mock, history) = started(Mode::Succeed).await;
        let value = "x".repeat(BODY_BYTES_MAX);
        let res = invoke(&mock, "process", &event(&[("o", 0, 1, &value)])).await;
        assert_eq!(res.status(), 413);
        assert!(malformed(&history)[0].contains("request body is"));
    }

    #[test]
    fn sample_names_are_unique_per_process_and_bounded() {
        assert_eq!(
            sample_file_name(42, 7).as_deref(),
            Some("event-42-0007.json")
        );
        assert_ne!(sample_file_name(42, 7), sample_file_name(43, 7));
        assert!(sample_file_name(42, EVENT_SAMPLES_MAX - 1).is_some());
        assert_eq!(sample_file_name(42, EVENT_SAMPLES_MAX), None);
    }

    #[test]
    fn msk_events_with_an_arn_and_null_values_parse() {
        let mut body = event(&[("o", 0, 1, "a")]);
        body["eventSource"] = json!("aws:kafka");
        body["eventSourceArn"] = json!("arn:aws:kafka:us-east-1:1:cluster/c/u");
        body["records"]["o-0"][0]["key"] = json!(null);
        let parsed = parse_event(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.records[0].key, None);
        assert_eq!(parsed.event_source, "aws:kafka");
    }

    #[test]
    fn an_empty_value_is_empty_and_a_missing_one_is_null() {
        let mut body = event(&[("o", 0, 1, "a"), ("o", 0, 2, "b")]);
        body["records"]["o-0"][0]["value"] = json!("");
        body["records"]["o-0"][1]
            .as_object_mut()
            .unwrap()
            .remove("value");
        let parsed = parse_event(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.records[0].value, Some(Vec::new()));
        assert_eq!(parsed.records[1].value, None);
    }

    #[tokio::test]
    async fn fails_like_a_local_runtime_without_the_header() {
        let (mock, history) = started(Mode::FailLikeLocalRuntime).await;
        let res = invoke(&mock, "process", &event(&[("o", 0, 1, "a")])).await;
        assert_eq!(res.status(), 200);
        assert!(!res.headers().contains_key("X-Amz-Function-Error"));
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["errorType"], "Error");
        assert!(body["errorMessage"].is_string());
        assert_eq!(outcomes(&history), [InvocationOutcome::FunctionError]);
    }

    #[tokio::test]
    async fn service_errors_never_reach_the_function() {
        let (mock, history) = started(Mode::ServiceErrorTimes {
            status: 503,
            remaining: 2,
        })
        .await;
        mock.set_delay_ms("process", 300);
        let body = event(&[("o", 0, 1, "a")]);
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let res = invoke(&mock, "process", &body).await;
            statuses.push(res.status().as_u16());
            if res.status() == 503 {
                assert_eq!(res.headers()["x-amzn-ErrorType"], "ServiceException");
                let text = res.text().await.unwrap();
                assert!(!text.contains("errorMessage"), "{text}");
            }
        }
        assert_eq!(statuses, [503, 503, 200]);
        let events = history.snapshot();
        let calls: Vec<_> = crate::history::invocations(&events).collect();
        assert_eq!(calls[0].outcome, InvocationOutcome::ServiceError);
        assert_eq!(calls[0].end_ms, calls[0].start_ms, "no scripted delay");
        assert_eq!(calls[2].outcome, InvocationOutcome::Success);
        let counts = crate::check::delivery_counts(&events, "o", "process");
        assert_eq!(counts.get(&(0, 1)), Some(&1), "only the success reached it");
    }
}

#[cfg(test)]
mod throughput {
    use super::*;

    /// Run by hand (`--ignored --nocapture`) to see the decoding cost per million records.
    #[tokio::test]
    #[ignore]
    async fn a_million_records_through_the_mock() {
        let value =
            base64::engine::general_purpose::STANDARD.encode("order-123456 {\"kind\":\"order\"}");
        let records: Vec<_> = (0..10_000)
            .map(|o| {
                serde_json::json!({"topic": "orders", "partition": 0, "offset": o, "timestamp": 1,
                "timestampType": "CREATE_TIME", "key": "a2V5", "value": value, "headers": []})
            })
            .collect();
        let body = serde_json::json!({"eventSource": "SelfManagedKafka", "records": {"orders-0": records}}).to_string();
        let history = History::new();
        let mock = MockLambda::start(history.clone()).await;
        mock.define("process", Mode::Succeed);
        let client = reqwest::Client::new();
        let url = format!(
            "{}/2015-03-31/functions/process/invocations",
            mock.endpoint()
        );
        let started = std::time::Instant::now();
        for _ in 0..100 {
            let res = client.post(&url).body(body.clone()).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let elapsed = started.elapsed();
        println!(
            "1M records ({} bytes per 10k batch) in {elapsed:?}",
            body.len()
        );
        assert_eq!(history.len(), 100);
    }
}
