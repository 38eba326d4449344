//! The message a Kafka on-failure destination receives, checked field by field.
//!
//! Source: "Kafka on-failure destinations" / "Capturing discarded batches for Amazon MSK and
//! self-managed Apache Kafka event sources"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html>): its example
//! invocation record holds requestContext (requestId, functionArn, condition,
//! approximateInvokeCount), responseContext (statusCode, executedVersion, functionError),
//! version, timestamp and KafkaBatchInfo (batchSize, eventSourceArn, bootstrapServers,
//! payloadSize, recordInfo.offset and .timestamp, both strings); a Kafka destination also gets
//! the failed record itself as `payload` ("Kafka destinations receive the actual failed records
//! along with failure metadata"). Every field of the example is required with its JSON type.

use super::event::{self, Record};
use serde_json::Value;

/// The conditions AWS documents. Its pages spell the retry one two ways; both are accepted.
pub const CONDITIONS: [&str; 4] = [
    "RetryAttemptsExhausted",
    "RetriesExhausted",
    "RecordAgeExceeded",
    "MaximumPayloadSizeExceeded",
];

/// What is wrong with a destination message; `at` is a JSON pointer such as
/// `/KafkaBatchInfo/recordInfo/timestamp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {why}")]
pub struct DestinationError {
    pub at: String,
    pub why: String,
}

fn error(at: &str, why: impl Into<String>) -> DestinationError {
    DestinationError {
        at: at.to_string(),
        why: why.into(),
    }
}

/// A destination message that has the documented shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub condition: String,
    pub approximate_invoke_count: u64,
    /// The one failed record, from `payload`.
    pub record: Record,
}

#[derive(Clone, Copy)]
enum Kind {
    String,
    Integer,
    Object,
}

fn field<'a>(json: &'a Value, pointer: &str, kind: Kind) -> Result<&'a Value, DestinationError> {
    let value = json
        .pointer(pointer)
        .ok_or_else(|| error(pointer, "is missing"))?;
    let ok = match kind {
        Kind::String => value.is_string(),
        Kind::Integer => value.is_u64(),
        Kind::Object => value.is_object(),
    };
    if ok {
        Ok(value)
    } else {
        let wanted = match kind {
            Kind::String => "a string",
            Kind::Integer => "a non-negative integer",
            Kind::Object => "an object",
        };
        Err(error(pointer, format!("{value} is not {wanted}")))
    }
}

fn text<'a>(json: &'a Value, pointer: &str) -> Result<&'a str, DestinationError> {
    Ok(field(json, pointer, Kind::String)?
        .as_str()
        .unwrap_or_default())
}

fn number(json: &Value, pointer: &str) -> Result<u64, DestinationError> {
    Ok(field(json, pointer, Kind::Integer)?
        .as_u64()
        .unwrap_or_default())
}

/// Parses a destination message body and checks every documented field.
pub fn parse(body: &str) -> Result<FailureRecord, DestinationError> {
    let json: Value =
        serde_json::from_str(body).map_err(|e| error("", format!("is not JSON: {e}")))?;
    text(&json, "/requestContext/requestId")?;
    text(&json, "/requestContext/functionArn")?;
    let condition = text(&json, "/requestContext/condition")?;
    if !CONDITIONS.contains(&condition) {
        return Err(error(
            "/requestContext/condition",
            format!("{condition:?} is not one of {CONDITIONS:?}"),
        ));
    }
    let approximate_invoke_count = invoke_count(&json, condition)?;
    check_response_context(&json, condition, approximate_invoke_count == 0)?;
    if text(&json, "/version")? != "1.0" {
        return Err(error("/version", "is not \"1.0\""));
    }
    iso_8601_ms(text(&json, "/timestamp")?, "/timestamp")?;
    check_batch_info(&json)?;
    let record = payload_record(&json)?;
    check_record_info(&json, &record)?;
    Ok(FailureRecord {
        condition: condition.to_string(),
        approximate_invoke_count,
        record,
    })
}

/// Only a record that was never sent may have a count of 0: one too large to send, or one past
/// MaximumRecordAgeInSeconds before its first invocation ("the maximum age of a record that
/// Lambda sends to your function": an older one is not sent at all).
fn invoke_count(json: &Value, condition: &str) -> Result<u64, DestinationError> {
    let count = number(json, "/requestContext/approximateInvokeCount")?;
    let may_be_unsent = matches!(
        condition,
        "MaximumPayloadSizeExceeded" | "RecordAgeExceeded"
    );
    if count == 0 && !may_be_unsent {
        return Err(error(
            "/requestContext/approximateInvokeCount",
            format!("is 0, but a {condition} record was invoked at least once"),
        ));
    }
    Ok(count)
}

/// `responseContext` describes the last invocation; a record never sent had none.
fn check_response_context(
    json: &Value,
    condition: &str,
    never_sent: bool,
) -> Result<(), DestinationError> {
    let at = "/responseContext";
    if condition == "MaximumPayloadSizeExceeded" || never_sent {
        return match json.pointer(at) {
            Some(Value::Null) => Ok(()),
            Some(other) => Err(error(at, format!("{other} is not null for {condition}"))),
            None => Err(error(at, format!("is missing; null for {condition}"))),
        };
    }
    field(json, at, Kind::Object)?;
    let status = number(json, "/responseContext/statusCode")?;
    if !(100..600).contains(&status) {
        return Err(error(
            "/responseContext/statusCode",
            format!("{status} is not an HTTP status"),
        ));
    }
    text(json, "/responseContext/executedVersion")?;
    // AWS's example shows an unhandled error; a record failed through ReportBatchItemFailures
    // came from an answer without a function error (undocumented): null is accepted there.
    if json.pointer("/responseContext/functionError") != Some(&Value::Null) {
        text(json, "/responseContext/functionError")?;
    }
    Ok(())
}

fn check_batch_info(json: &Value) -> Result<(), DestinationError> {
    field(json, "/KafkaBatchInfo", Kind::Object)?;
    if number(json, "/KafkaBatchInfo/batchSize")? == 0 {
        return Err(error("/KafkaBatchInfo/batchSize", "is 0"));
    }
    text(json, "/KafkaBatchInfo/eventSourceArn")?;
    text(json, "/KafkaBatchInfo/bootstrapServers")?;
    number(json, "/KafkaBatchInfo/payloadSize")?;
    field(json, "/KafkaBatchInfo/recordInfo", Kind::Object)?;
    Ok(())
}

fn payload_record(json: &Value) -> Result<Record, DestinationError> {
    let payload = field(json, "/payload", Kind::Object)?;
    let event =
        event::parse_value(payload).map_err(|e| error(&format!("/payload/{}", e.at), e.why))?;
    match <[Record; 1]>::try_from(event.records) {
        Ok([record]) => Ok(record),
        Err(records) => Err(error(
            "/payload/records",
            format!(
                "holds {} records; a failure record holds exactly one",
                records.len()
            ),
        )),
    }
}

/// `recordInfo` names the failed record: its offset as a string, its timestamp in ISO-8601.
fn check_record_info(json: &Value, record: &Record) -> Result<(), DestinationError> {
    let offset = text(json, "/KafkaBatchInfo/recordInfo/offset")?;
    if offset != record.offset.to_string() {
        return Err(error(
            "/KafkaBatchInfo/recordInfo/offset",
            format!(
                "{offset:?} is not the payload record's offset {}",
                record.offset
            ),
        ));
    }
    let at = "/KafkaBatchInfo/recordInfo/timestamp";
    let timestamp_ms = iso_8601_ms(text(json, at)?, at)?;
    if timestamp_ms != record.timestamp_ms {
        return Err(error(
            at,
            format!(
                "is {timestamp_ms} ms since the epoch, not the payload record's timestamp {}",
                record.timestamp_ms
            ),
        ));
    }
    Ok(())
}

fn iso_8601_ms(text: &str, at: &str) -> Result<i64, DestinationError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| error(at, format!("{text:?} is not an ISO-8601 time: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// AWS's example record, with a payload holding the failed record.
    fn example() -> Value {
        json!({
            "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:myfunction",
                "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
            "KafkaBatchInfo": {"batchSize": 500, "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/1",
                "bootstrapServers": "b-1:9092", "payloadSize": 2_039_086,
                "recordInfo": {"offset": "49", "timestamp": "2019-11-14T00:38:04.835Z"}},
            "payload": {"eventSource": "SelfManagedKafka", "bootstrapServers": "b-1:9092",
                "records": {"orders-0": [{"topic": "orders", "partition": 0, "offset": 49,
                    "timestamp": 1_573_691_884_835_i64, "timestampType": "CREATE_TIME",
                    "key": "a2V5", "value": "dmFsdWU=", "headers": []}]}}
        })
    }

    fn why(json: &Value) -> String {
        parse(&json.to_string()).unwrap_err().to_string()
    }

    #[test]
    fn the_example_parses() {
        let record = parse(&example().to_string()).unwrap();
        assert_eq!(record.record.offset, 49);
        assert_eq!(record.approximate_invoke_count, 1);
    }

    #[test]
    fn every_field_is_required_with_its_type() {
        for pointer in [
            "/requestContext/requestId",
            "/requestContext/functionArn",
            "/requestContext/approximateInvokeCount",
            "/responseContext/statusCode",
            "/responseContext/executedVersion",
            "/responseContext/functionError",
            "/version",
            "/timestamp",
            "/KafkaBatchInfo/batchSize",
            "/KafkaBatchInfo/eventSourceArn",
            "/KafkaBatchInfo/bootstrapServers",
            "/KafkaBatchInfo/payloadSize",
            "/KafkaBatchInfo/recordInfo/offset",
            "/KafkaBatchInfo/recordInfo/timestamp",
        ] {
            let mut json = example();
            let (parent, name) = pointer.rsplit_once('/').unwrap();
            let holder = if parent.is_empty() {
                &mut json
            } else {
                json.pointer_mut(parent).unwrap()
            };
            let was = holder[name].take();
            holder.as_object_mut().unwrap().remove(name);
            assert_eq!(why(&json), format!("{pointer}: is missing"));
            let wrong = if was.is_string() {
                json!(7)
            } else {
                json!("7")
            };
            let holder = if parent.is_empty() {
                &mut json
            } else {
                json.pointer_mut(parent).unwrap()
            };
            holder[name] = wrong;
            assert!(
                why(&json).starts_with(&format!("{pointer}: ")),
                "{pointer}: {}",
                why(&json)
            );
        }
    }

    #[test]
    fn a_null_function_error_is_a_reported_item_failure() {
        let mut json = example();
        json["responseContext"]["functionError"] = Value::Null;
        assert!(parse(&json.to_string()).is_ok());
        json["responseContext"]["functionError"] = json!(1);
        assert!(why(&json).starts_with("/responseContext/functionError: 1 is not a string"));
    }

    #[test]
    fn values_are_checked() {
        let mut json = example();
        json["requestContext"]["condition"] = json!("Oops");
        assert!(why(&json).starts_with("/requestContext/condition:"));
        let mut json = example();
        json["KafkaBatchInfo"]["recordInfo"]["timestamp"] = json!("1573691884835");
        assert!(why(&json).contains("is not an ISO-8601 time"));
        let mut json = example();
        json["KafkaBatchInfo"]["recordInfo"]["timestamp"] = json!("2019-11-14T00:38:04.836Z");
        assert!(why(&json).contains("not the payload record's timestamp"));
        let mut json = example();
        json["KafkaBatchInfo"]["recordInfo"]["offset"] = json!("48");
        assert!(why(&json).contains("not the payload record's offset"));
        let mut json = example();
        json["version"] = json!("2.0");
        assert_eq!(why(&json), "/version: is not \"1.0\"");
        let mut json = example();
        json["payload"]["records"]["orders-0"][0]["headers"] = json!([{"h": [128]}]);
        assert_eq!(
            why(&json),
            r#"/payload/records["orders-0"][0].headers[0].h[0]: 128 is not a signed byte"#
        );
    }

    #[test]
    fn payload_size_exceeded_has_a_null_response_context() {
        let mut json = example();
        json["requestContext"]["condition"] = json!("MaximumPayloadSizeExceeded");
        json["requestContext"]["approximateInvokeCount"] = json!(0);
        assert!(why(&json).starts_with("/responseContext: "));
        json["responseContext"] = Value::Null;
        assert!(parse(&json.to_string()).is_ok());
        json["requestContext"]["condition"] = json!("RecordAgeExceeded");
        assert!(
            parse(&json.to_string()).is_ok(),
            "too old before its first call"
        );
        json["requestContext"]["condition"] = json!("RetryAttemptsExhausted");
        assert!(why(&json).starts_with("/requestContext/approximateInvokeCount: is 0"));
        json["requestContext"]["condition"] = json!("RecordAgeExceeded");
        json["requestContext"]["approximateInvokeCount"] = json!(2);
        assert!(
            why(&json).starts_with("/responseContext: "),
            "sent, so a response"
        );
    }
}
