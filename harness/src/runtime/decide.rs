//! Pure decisions of the Runtime API server: admission against reserved concurrency, what
//! Lambda answers for a timeout, a crash or a throttle, and how an answer is classified.

use super::api::{item_failures, response_outcome};
use crate::history::InvocationOutcome;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Where an invocation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Past the reserved concurrency: 429.
    Throttle,
    /// A free environment already running: a warm start.
    Warm(u32),
    /// No free environment: start one (a cold start).
    Cold,
}

/// Admits one more invocation when fewer than `reserved` are in flight, reusing the most
/// recently freed environment (`free` is ordered oldest first).
pub(super) fn admit(in_flight: u32, reserved: u32, free: &mut Vec<u32>) -> Admission {
    if in_flight >= reserved {
        return Admission::Throttle;
    }
    match free.pop() {
        Some(id) => Admission::Warm(id),
        None => Admission::Cold,
    }
}

/// "Task timed out after 3.00 seconds", as Lambda writes it.
pub(super) fn timeout_body(request_id: &str, timeout_ms: u64) -> String {
    // Lambda prints the timeout with two decimals (seconds).
    let seconds = timeout_ms as f64 / 1000.0;
    serde_json::json!({
        "errorType": "Sandbox.Timedout",
        "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {seconds:.2} seconds"),
    })
    .to_string()
}

/// The answer for an environment that exited during an invocation.
pub(super) fn exit_body(request_id: &str, status: &str) -> String {
    serde_json::json!({
        "errorType": "Runtime.ExitError",
        "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
    })
    .to_string()
}

/// The answer for a response the runtime could not post: larger than the Invoke API allows.
pub(super) fn too_large_body(bytes_max: usize) -> String {
    serde_json::json!({
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({bytes_max} bytes)."),
    })
    .to_string()
}

/// The answer for an invocation whose runtime asked for the next one without answering.
pub(super) fn no_answer_body(request_id: &str) -> String {
    serde_json::json!({
        "errorType": "Runtime.NoResponse",
        "errorMessage": format!("RequestId: {request_id} Error: the runtime asked for the next invocation without answering this one"),
    })
    .to_string()
}

/// An exit status as Lambda reports it ("exit status 1", "signal: killed").
pub(super) fn exit_status_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_string(),
        (None, Some(15)) => "signal: terminated".to_string(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "unknown exit".to_string(),
    }
}

/// Whether a body is a Lambda error object (`errorMessage`, `errorType`): what local runtimes
/// answer with status 200 and no `X-Amz-Function-Error`.
pub(super) fn is_error_body(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .is_some_and(|o| o.contains_key("errorMessage") && o.contains_key("errorType"))
}

/// How an answer of someone else's endpoint enters the history: what the consumer must make
/// of it, whatever that endpoint's dialect.
pub(super) fn forwarded_outcome(
    status: u16,
    function_error: bool,
    body: &[u8],
) -> InvocationOutcome {
    match status {
        429 => InvocationOutcome::Throttled,
        200 if function_error || is_error_body(body) => InvocationOutcome::FunctionError,
        200 => response_outcome(&item_failures(body)),
        // ESM-SPEC section 3: a 5xx without an error body is a Lambda service error, the batch
        // never reached the function (cargo-lambda's 5xx carries one: a function error).
        500..=599 if !function_error && !is_error_body(body) => InvocationOutcome::ServiceError,
        _ => InvocationOutcome::FunctionError,
    }
}

/// `_HANDLER` for a command: its last word, as Lambda's handler setting names the entry point
/// ("handler.handler" in `python -m awslambdaric handler.handler`, "./bootstrap" alone).
pub(super) fn handler_of(command: &str) -> String {
    command
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// An X-Ray trace header of the documented shape, from two random numbers.
pub(super) fn trace_id(epoch_s: u64, random: u128) -> String {
    format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        epoch_s & 0xffff_ffff,
        random >> 32,
        random as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_throttles_at_the_reserve_and_reuses_the_warmest() {
        let mut free = vec![1, 2];
        assert_eq!(admit(2, 2, &mut free), Admission::Throttle);
        assert_eq!(free, [1, 2], "a throttle takes no environment");
        assert_eq!(admit(0, 2, &mut free), Admission::Warm(2));
        assert_eq!(admit(1, 2, &mut free), Admission::Warm(1));
        assert_eq!(admit(1, 2, &mut free), Admission::Cold);
    }

    #[test]
    fn timeouts_and_exits_read_as_lambda_writes_them() {
        let body: serde_json::Value = serde_json::from_str(&timeout_body("r1", 3000)).unwrap();
        assert_eq!(
            body["errorMessage"],
            "RequestId: r1 Error: Task timed out after 3.00 seconds"
        );
        assert!(
            exit_body("r2", "signal: killed").contains("Runtime exited with error: signal: killed")
        );
        assert_eq!(exit_status_text(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(
            exit_status_text(ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
    }

    #[test]
    fn forwarded_answers_are_classified_whatever_the_dialect() {
        let error = br#"{"errorMessage":"boom","errorType":"ValueError"}"#;
        assert_eq!(
            forwarded_outcome(200, false, error),
            InvocationOutcome::FunctionError
        );
        assert_eq!(
            forwarded_outcome(200, true, b"{}"),
            InvocationOutcome::FunctionError
        );
        assert_eq!(
            forwarded_outcome(200, false, b"\"ok\""),
            InvocationOutcome::Success
        );
        assert_eq!(
            forwarded_outcome(429, false, b""),
            InvocationOutcome::Throttled
        );
        assert_eq!(
            forwarded_outcome(502, false, b""),
            InvocationOutcome::ServiceError
        );
        assert_eq!(
            forwarded_outcome(500, false, error),
            InvocationOutcome::FunctionError
        );
    }

    #[test]
    fn handler_and_trace_have_their_documented_shapes() {
        assert_eq!(
            handler_of(".venv/bin/python -m awslambdaric handler.handler"),
            "handler.handler"
        );
        assert_eq!(handler_of("./bootstrap"), "./bootstrap");
        let trace = trace_id(0x5f00_0000, u128::MAX);
        assert!(trace.starts_with("Root=1-5f000000-"), "{trace}");
        assert!(trace.ends_with(";Sampled=0"));
        assert_eq!(
            trace.split(';').next().unwrap().len(),
            "Root=1-".len() + 8 + 1 + 24
        );
    }
}
