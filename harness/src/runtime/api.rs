//! Reading what a runtime sends the Runtime API: which resource a request names, what a posted
//! response means under ReportBatchItemFailures, and the error bodies of `invocation/{id}/error`
//! and `init/error`. Pure, so any input a runtime can send is tried here (fuzz/).
//!
//! The documented error shape ("Using the Lambda runtime API for custom runtimes",
//! https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) is
//! `{"errorMessage": "...", "errorType": "...", "stackTrace": ["..."]}` with the type also in
//! the `Lambda-Runtime-Function-Error-Type` header. An invocation's error body reaches the
//! caller as posted, as Lambda passes it on; only an init error is read, for the message that
//! says why a function did not start.

use crate::history::{InvocationOutcome, ItemFailure};
use serde_json::Value;

/// Every resource's path starts with this.
pub const API_PREFIX: &str = "/2018-06-01/runtime/";
/// Characters of a posted body quoted when it is not a readable error.
const RAW_EXCERPT_MAX_CHARS: usize = 500;

/// A Runtime API resource, as a request's method and path name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET invocation/next`
    Next,
    /// `POST invocation/{id}/response`
    Response { request_id: &'a str },
    /// `POST invocation/{id}/error`
    Error { request_id: &'a str },
    /// `POST init/error`
    InitError,
}

/// The resource `method` and `path` name; `None` for one the API does not serve (404).
pub fn route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    let resource = path.strip_prefix(API_PREFIX)?;
    let parts: Vec<&str> = resource.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["invocation", "next"]) => Some(Route::Next),
        ("POST", ["invocation", id, "response"]) => Some(Route::Response { request_id: id }),
        ("POST", ["invocation", id, "error"]) => Some(Route::Error { request_id: id }),
        ("POST", ["init", "error"]) => Some(Route::InitError),
        _ => None,
    }
}

/// The item failures a response names (ReportBatchItemFailures), in the Kafka shape
/// `{"itemIdentifier": {"partition": "orders-0", "offset": 100}}`; other shapes are kept with
/// the identifier as text and offset -1, so a checker sees them.
pub fn item_failures(body: &[u8]) -> Vec<ItemFailure> {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(items) = json.get("batchItemFailures").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let id = &item["itemIdentifier"];
            match (id["partition"].as_str(), id["offset"].as_i64()) {
                (Some(partition), Some(offset)) => ItemFailure {
                    partition_key: partition.to_string(),
                    offset,
                },
                _ => ItemFailure {
                    partition_key: id.to_string(),
                    offset: -1,
                },
            }
        })
        .collect()
}

/// The outcome of a successful runtime response.
pub fn response_outcome(failures: &[ItemFailure]) -> InvocationOutcome {
    if failures.is_empty() {
        InvocationOutcome::Success
    } else {
        InvocationOutcome::PartialFailure
    }
}

/// An error a runtime posted, in the documented shape; absent or null fields are `None`/empty,
/// fields the documentation does not name are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionErrorBody {
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub stack_trace: Vec<String>,
}

/// Why a posted error body is not of the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorBodyFault {
    #[error("the error body is not JSON: {0}")]
    NotJson(String),
    #[error("the error body is not a JSON object but {0}")]
    NotObject(&'static str),
    #[error("the error body's {field} is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
}

/// Reads an error body a runtime posted.
pub fn parse_error_body(body: &[u8]) -> Result<FunctionErrorBody, ErrorBodyFault> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| ErrorBodyFault::NotJson(e.to_string()))?;
    let map = match json {
        Value::Object(map) => map,
        other => return Err(ErrorBodyFault::NotObject(json_kind(&other))),
    };
    let text = |field: &'static str| match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ErrorBodyFault::WrongType {
            field,
            expected: "a string",
        }),
    };
    Ok(FunctionErrorBody {
        error_type: text("errorType")?,
        error_message: text("errorMessage")?,
        stack_trace: stack_trace(map.get("stackTrace"))?,
    })
}

fn stack_trace(value: Option<&Value>) -> Result<Vec<String>, ErrorBodyFault> {
    let wrong = ErrorBodyFault::WrongType {
        field: "stackTrace",
        expected: "a list of strings",
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(lines)) => lines
            .iter()
            .map(|l| l.as_str().map(str::to_string).ok_or_else(|| wrong.clone()))
            .collect(),
        Some(_) => Err(wrong),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Why a runtime said its init failed, from the `Lambda-Runtime-Function-Error-Type` header and
/// the posted body: "type: message" for a documented body, else the header, the body's fault
/// and the start of the body as posted.
pub fn init_error_text(header_type: Option<&str>, body: &[u8]) -> String {
    let header_type = header_type.map(str::trim).filter(|t| !t.is_empty());
    match parse_error_body(body) {
        Ok(error) => match (
            error.error_type.as_deref().or(header_type),
            error.error_message,
        ) {
            (Some(t), Some(message)) => format!("{t}: {message}"),
            (Some(t), None) => t.to_string(),
            (None, Some(message)) => message,
            (None, None) => "an error body without errorType or errorMessage".to_string(),
        },
        Err(fault) => {
            let raw: String = String::from_utf8_lossy(body)
                .chars()
                .take(RAW_EXCERPT_MAX_CHARS)
                .collect();
            let header = header_type.map(|t| format!("{t}; ")).unwrap_or_default();
            format!("{header}{fault}: {raw:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_the_four_documented_resources() {
        let p = |rest: &str| format!("{API_PREFIX}{rest}");
        assert_eq!(route("GET", &p("invocation/next")), Some(Route::Next));
        assert_eq!(
            route("POST", &p("invocation/r-1/response")),
            Some(Route::Response { request_id: "r-1" })
        );
        assert_eq!(
            route("POST", &p("invocation/r-1/error")),
            Some(Route::Error { request_id: "r-1" })
        );
        assert_eq!(route("POST", &p("init/error")), Some(Route::InitError));
        for (method, path) in [
            ("POST", p("invocation/next")),
            ("GET", p("invocation/r-1/response")),
            ("POST", p("invocation/a/b/response")),
            ("POST", "/2018-06-01/runtime".to_string()),
            ("GET", "/invocation/next".to_string()),
        ] {
            assert_eq!(route(method, &path), None, "{method} {path}");
        }
    }

    #[test]
    fn item_failures_are_read_in_the_kafka_shape() {
        let body = br#"{"batchItemFailures":[{"itemIdentifier":{"partition":"o-0","offset":7}},{"itemIdentifier":"x"}]}"#;
        let failures = item_failures(body);
        assert_eq!(
            failures[0],
            ItemFailure {
                partition_key: "o-0".into(),
                offset: 7
            }
        );
        assert_eq!(failures[1].offset, -1);
        assert_eq!(
            response_outcome(&failures),
            InvocationOutcome::PartialFailure
        );
        assert!(item_failures(b"null").is_empty());
        assert_eq!(
            response_outcome(&item_failures(b"{}")),
            InvocationOutcome::Success
        );
    }

    #[test]
    fn documented_error_bodies_are_read_and_others_named() {
        let body = br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":["a","b"],"requestId":"r"}"#;
        assert_eq!(
            parse_error_body(body),
            Ok(FunctionErrorBody {
                error_type: Some("ValueError".into()),
                error_message: Some("boom".into()),
                stack_trace: vec!["a".into(), "b".into()],
            })
        );
        assert_eq!(
            parse_error_body(b"{\"errorType\":null}"),
            Ok(FunctionErrorBody::default())
        );
        assert_eq!(
            parse_error_body(b"[1]"),
            Err(ErrorBodyFault::NotObject("a list"))
        );
        let wrong = parse_error_body(br#"{"errorMessage":3}"#).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "the error body's errorMessage is not a string"
        );
        let trace = parse_error_body(br#"{"stackTrace":"at main"}"#).unwrap_err();
        assert_eq!(
            trace.to_string(),
            "the error body's stackTrace is not a list of strings"
        );
        assert!(matches!(
            parse_error_body(b"boom"),
            Err(ErrorBodyFault::NotJson(_))
        ));
    }

    #[test]
    fn init_errors_read_as_type_and_message() {
        let body =
            br#"{"errorMessage":"no module handler","errorType":"Runtime.ImportModuleError"}"#;
        assert_eq!(
            init_error_text(Some("Runtime.Unknown"), body),
            "Runtime.ImportModuleError: no module handler"
        );
        assert_eq!(
            init_error_text(Some("Runtime.Oops"), br#"{"errorMessage":"m"}"#),
            "Runtime.Oops: m"
        );
        assert_eq!(
            init_error_text(None, b"{}"),
            "an error body without errorType or errorMessage"
        );
        assert_eq!(
            init_error_text(Some("Runtime.Oops"), b"cannot start"),
            "Runtime.Oops; the error body is not JSON: expected value at line 1 column 1: \"cannot start\""
        );
        assert_eq!(
            init_error_text(None, b""),
            "the error body is not JSON: EOF while parsing a value at line 1 column 0: \"\""
        );
    }
}
