//! The on-failure destination record (ESM-SPEC section 5), field by field as AWS's example in
//! "Using a Kafka topic as an on-failure destination"
//! (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html): strings
//! for requestId, functionArn, condition, version, timestamp (ISO-8601) and
//! `KafkaBatchInfo.recordInfo.offset` / `.timestamp` (ISO-8601 too); numbers for
//! approximateInvokeCount, statusCode, batchSize and payloadSize; `payload` the event object.
//!
//! Choice (undocumented for self-managed Kafka): `KafkaBatchInfo.eventSourceArn` is the MSK
//! cluster ARN, or an empty string for a self-managed cluster, so the shape stays the same.
//! `payloadSize` is the byte length of the payload event (the one record, encoded as invoked).

use crate::event::{EventContext, KafkaRecord, encode_event};
use serde_json::{Value, json};

/// Why a record went to the destination.
///
/// AWS spells the retry condition two ways: "RetryAttemptsExhausted" on "Capturing discarded
/// batches for Amazon MSK and self-managed Apache Kafka event sources" (the page shared with the
/// SNS/SQS/S3 destinations) and "RetriesExhausted" in the Kafka-topic page's example. This
/// project keeps "RetryAttemptsExhausted": the spelling the destinations of every other event
/// source use, so one consumer of failure records reads them all.
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

/// `ms` since the epoch as ISO-8601 UTC with milliseconds, e.g. "2019-11-14T18:16:04.835Z".
pub fn iso_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The JSON body written to the destination topic for one failed record (key: the record's key).
pub fn failure_record(ctx: &EventContext, record: &KafkaRecord, info: &FailureInfo) -> Vec<u8> {
    let event = encode_event(ctx, std::slice::from_ref(record));
    let payload: Value = serde_json::from_slice(&event).expect("encode_event writes valid JSON");
    let response_context = match info.status_code {
        None => Value::Null,
        Some(status) => json!({
            "statusCode": status,
            "executedVersion": "$LATEST",
            "functionError": info.function_error,
        }),
    };
    let body = json!({
        "requestContext": {
            "requestId": info.request_id,
            "functionArn": info.function_arn,
            "condition": info.condition.as_str(),
            "approximateInvokeCount": info.approximate_invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": info.timestamp,
        "KafkaBatchInfo": {
            "batchSize": 1,
            "eventSourceArn": ctx.event_source_arn.as_deref().unwrap_or(""),
            "bootstrapServers": ctx.bootstrap_servers,
            "payloadSize": event.len(),
            "recordInfo": {
                "offset": record.offset.to_string(),
                "timestamp": iso_millis(record.timestamp_ms),
            },
        },
        "payload": payload,
    });
    #[cfg(feature = "defects")]
    let body = drop_payload_size(body);
    serde_json::to_vec(&body).expect("a serde_json::Value always serializes")
}

#[cfg(feature = "defects")]
fn drop_payload_size(mut body: Value) -> Value {
    if crate::defects::active(crate::defects::Defect::DestinationMissingField)
        && let Some(info) = body
            .get_mut("KafkaBatchInfo")
            .and_then(Value::as_object_mut)
    {
        info.remove("payloadSize");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TimestampType;

    fn record() -> KafkaRecord {
        KafkaRecord {
            topic: "orders".into(),
            partition: 2,
            offset: 15,
            timestamp_ms: 1_545_084_650_987,
            timestamp_type: TimestampType::CreateTime,
            key: Some(b"k".to_vec()),
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: vec![],
        }
    }

    fn ctx(arn: Option<&str>) -> EventContext {
        EventContext {
            event_source: if arn.is_some() {
                "aws:kafka"
            } else {
                "SelfManagedKafka"
            }
            .into(),
            event_source_arn: arn.map(str::to_string),
            bootstrap_servers: "127.0.0.1:9092".into(),
        }
    }

    fn info(condition: FailureCondition, status: Option<u16>) -> FailureInfo {
        FailureInfo {
            condition,
            approximate_invoke_count: 3,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            request_id: "req-1".into(),
            status_code: status,
            function_error: status.map(|_| "Unhandled".to_string()),
            timestamp: "2026-11-27T06:00:00.000Z".into(),
        }
    }

    #[test]
    fn retry_exhausted_record_has_the_spec_shape() {
        let ctx = ctx(None);
        let body = failure_record(
            &ctx,
            &record(),
            &info(FailureCondition::RetryAttemptsExhausted, Some(200)),
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        let event = encode_event(&ctx, &[record()]);
        assert_eq!(
            v["requestContext"],
            json!({"requestId": "req-1", "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                   "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3})
        );
        assert_eq!(
            v["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        );
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["timestamp"], "2026-11-27T06:00:00.000Z");
        assert_eq!(
            v["KafkaBatchInfo"],
            json!({"batchSize": 1, "eventSourceArn": "", "bootstrapServers": "127.0.0.1:9092",
                   "payloadSize": event.len(),
                   "recordInfo": {"offset": "15", "timestamp": "2018-12-17T22:10:50.987Z"}})
        );
        assert_eq!(
            v["payload"],
            serde_json::from_slice::<Value>(&event).unwrap()
        );
        assert_eq!(v["payload"]["records"]["orders-2"][0]["key"], "aw==");
    }

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso_millis(1_573_755_364_835), "2019-11-14T18:16:04.835Z");
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn payload_size_exceeded_has_null_response_context_and_msk_arn() {
        let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc";
        let body = failure_record(
            &ctx(Some(arn)),
            &record(),
            &info(FailureCondition::MaximumPayloadSizeExceeded, None),
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["responseContext"].is_null());
        assert_eq!(
            v["requestContext"]["condition"],
            "MaximumPayloadSizeExceeded"
        );
        assert_eq!(v["KafkaBatchInfo"]["eventSourceArn"], arn);
        assert_eq!(v["payload"]["eventSourceArn"], arn);
        assert_eq!(v["payload"]["eventSource"], "aws:kafka");
    }

    #[test]
    fn age_exceeded_without_function_error_writes_null_error() {
        let mut i = info(FailureCondition::RecordAgeExceeded, Some(200));
        i.function_error = None;
        let v: Value = serde_json::from_slice(&failure_record(&ctx(None), &record(), &i)).unwrap();
        assert_eq!(v["requestContext"]["condition"], "RecordAgeExceeded");
        assert!(v["responseContext"]["functionError"].is_null());
    }
}
