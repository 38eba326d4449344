//! A runtime is the user's code: whatever it sends the Runtime API (any path, any response or
//! error body, any error-type header) must be read without a panic or a hang. Input: a selector
//! byte (route, response body, error body, init error), then what that reader takes.
#![no_main]

use harness::history::InvocationOutcome;
use harness::runtime::api::{self, API_PREFIX, FunctionErrorBody, Route};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

/// `method` and `path`: a route names the resource its path spells.
fn check_route(method: &str, path: &str) {
    let Some(route) = api::route(method, path) else {
        return;
    };
    let spelled = match route {
        Route::Next => "invocation/next".to_string(),
        Route::InitError => "init/error".to_string(),
        Route::Response { request_id } => format!("invocation/{request_id}/response"),
        Route::Error { request_id } => format!("invocation/{request_id}/error"),
    };
    assert_eq!(path, format!("{API_PREFIX}{spelled}"));
}

/// A response body: one item failure per batchItemFailures entry, partial iff any.
fn check_response(body: &[u8]) {
    let failures = api::item_failures(body);
    let entries = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("batchItemFailures")?.as_array().map(Vec::len))
        .unwrap_or(0);
    assert_eq!(failures.len(), entries);
    let partial = api::response_outcome(&failures) == InvocationOutcome::PartialFailure;
    assert_eq!(partial, !failures.is_empty());
}

/// An error body: what is read writes back to a body that reads the same.
fn check_error_body(body: &[u8]) {
    let Ok(error) = api::parse_error_body(body) else {
        return;
    };
    let written = serde_json::json!({
        "errorType": error.error_type,
        "errorMessage": error.error_message,
        "stackTrace": error.stack_trace,
    });
    let again: Result<FunctionErrorBody, _> = api::parse_error_body(written.to_string().as_bytes());
    assert_eq!(again.as_ref(), Ok(&error));
}

/// An init error: the header up to a NUL byte, then the body; it always says something.
fn check_init_error(data: &[u8]) {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    assert!(!api::init_error_text(header, body).is_empty());
}

fuzz_target!(|data: &[u8]| {
    let [selector, rest @ ..] = data else {
        return;
    };
    match selector % 4 {
        0 => {
            let [method, path @ ..] = rest else {
                return;
            };
            if let Ok(path) = std::str::from_utf8(path) {
                check_route(METHODS[usize::from(*method) % METHODS.len()], path);
            }
        }
        1 => check_response(rest),
        2 => check_error_body(rest),
        _ => check_init_error(rest),
    }
});
