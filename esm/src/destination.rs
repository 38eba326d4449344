//! The on-failure destination record (ESM-SPEC section 5).

use crate::event::{EventContext, KafkaRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCondition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
    MaximumPayloadSizeExceeded,
}

impl FailureCondition {
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCondition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            FailureCondition::RecordAgeExceeded => "RecordAgeExceeded",
            FailureCondition::MaximumPayloadSizeExceeded => "MaximumPayloadSizeExceeded",
        }
    }
}

/// What is known of the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureInfo {
    pub condition: FailureCondition,
    pub approximate_invoke_count: u32,
    pub function_arn: String,
    pub request_id: String,
    /// The last response's status; `None` for MaximumPayloadSizeExceeded (responseContext null).
    pub status_code: Option<u16>,
    /// "Handled" / "Unhandled" from X-Amz-Function-Error, if any.
    pub function_error: Option<String>,
    /// RFC 3339 with milliseconds, e.g. "2026-11-27T06:00:00.000Z".
    pub timestamp: String,
}

/// The JSON body written to the destination topic for one failed record (key: the record's key).
pub fn failure_record(ctx: &EventContext, record: &KafkaRecord, info: &FailureInfo) -> Vec<u8> {
    let _ = (ctx, record, info);
    todo!()
}
