//! Interpreting a function's answer under ReportBatchItemFailures (ESM-SPEC section 3).
//!
//! AWS ("Configuring error handling controls for Kafka event sources",
//! https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html): a partial batch
//! response tells "which records in a batch failed processing, so Lambda can retry only the
//! failed records". So the named records are the failed ones; every other record succeeded.
//!
//! The same page: "If you return an empty valid JSON or null, the event source mapping will
//! consider a batch as successfully processed", and "Any invalid topic-partition_number or offset
//! returned that was not present in the invoked event will be treated as failure and entire batch
//! will be retried."
//!
//! Choices where AWS documents nothing: a JSON body that is neither an object nor null fails the
//! whole batch (as Kinesis's rules treat a malformed answer); an `offset` may be a JSON number
//! or a string of digits.

use crate::event::KafkaRecord;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// A record named by its `(topic, partition, offset)`.
pub type RecordId = (String, i32, i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchVerdict {
    /// Empty or null batchItemFailures, or no such field.
    AllSucceeded,
    /// The body could not be parsed, or an identifier names no record of the batch.
    AllFailed { reason: String },
    /// The records named as failed (all of the batch); the others succeeded.
    Partial { failed: BTreeSet<RecordId> },
}

/// Interprets the response `body` for `batch`.
pub fn interpret(body: &[u8], batch: &[KafkaRecord]) -> BatchVerdict {
    match failed_records(body, batch) {
        Ok(failed) if failed.is_empty() => BatchVerdict::AllSucceeded,
        Ok(failed) => BatchVerdict::Partial { failed },
        Err(reason) => BatchVerdict::AllFailed { reason },
    }
}

fn failed_records(body: &[u8], batch: &[KafkaRecord]) -> Result<BTreeSet<RecordId>, String> {
    let mut failed = BTreeSet::new();
    if body.trim_ascii().is_empty() {
        return Ok(failed);
    }
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| format!("response body is not JSON ({e}): {}", excerpt(body)))?;
    let failures = match &parsed {
        Value::Null => return Ok(failed),
        Value::Object(map) => match map.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(failed),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
        },
        other => {
            return Err(format!(
                "response body is not a JSON object: {}",
                excerpt_value(other)
            ));
        }
    };
    let known: HashSet<(&str, i32, i64)> = batch
        .iter()
        .map(|r| (&*r.topic, r.partition, r.offset))
        .collect();
    for item in failures {
        let (topic, partition, offset) = identifier(item)?;
        if !known.contains(&(topic, partition, offset)) {
            return Err(format!(
                "itemIdentifier {topic}-{partition} offset {offset} names no record of the batch"
            ));
        }
        failed.insert((topic.to_string(), partition, offset));
    }
    Ok(failed)
}

/// `(topic, partition, offset)` of one `{"itemIdentifier": {"partition": "t-0", "offset": 5}}`.
fn identifier(item: &Value) -> Result<(&str, i32, i64), String> {
    let id = item
        .get("itemIdentifier")
        .filter(|id| id.is_object())
        .ok_or_else(|| {
            format!("batchItemFailures entry without an itemIdentifier object: {item}")
        })?;
    let key = id.get("partition").and_then(Value::as_str).ok_or_else(|| {
        format!("itemIdentifier.partition is not a \"<topic>-<partition>\" string: {id}")
    })?;
    let (topic, partition) = split_partition_key(key).ok_or_else(|| {
        format!("itemIdentifier.partition {key:?} is not \"<topic>-<partition>\"")
    })?;
    let offset = match id.get("offset") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("itemIdentifier.offset is not an integer offset: {id}"))?;
    Ok((topic, partition, offset))
}

/// Splits `"<topic>-<partition>"` at the last `-`: topic names may contain `-`.
pub fn split_partition_key(key: &str) -> Option<(&str, i32)> {
    let (topic, partition) = key.rsplit_once('-')?;
    if topic.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((topic, partition.parse().ok()?))
}

const EXCERPT_CHARS: usize = 200;

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

fn excerpt_value(v: &Value) -> String {
    v.to_string().chars().take(EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TimestampType;

    fn batch() -> Vec<KafkaRecord> {
        let rec = |topic: &str, partition, offset| KafkaRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp_ms: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers: vec![],
        };
        vec![
            rec("orders", 0, 100),
            rec("orders", 0, 101),
            rec("orders", 0, 102),
            rec("my-topic", 1, 7),
            rec("my-topic", 1, 8),
        ]
    }

    fn verdict(body: &str) -> BatchVerdict {
        interpret(body.as_bytes(), &batch())
    }

    fn failed(v: BatchVerdict) -> String {
        match v {
            BatchVerdict::AllFailed { reason } => reason,
            other => panic!("expected AllFailed, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_null_answers_succeed() {
        for body in [
            "",
            "  \n",
            "{}",
            "null",
            r#"{"batchItemFailures": []}"#,
            r#"{"batchItemFailures": null}"#,
            r#"{"other": 1}"#,
        ] {
            assert_eq!(verdict(body), BatchVerdict::AllSucceeded, "body {body:?}");
        }
    }

    #[test]
    fn the_named_records_are_the_failed_ones() {
        let body = r#"{"batchItemFailures":[
            {"itemIdentifier":{"partition":"orders-0","offset":102}},
            {"itemIdentifier":{"partition":"orders-0","offset":101}},
            {"itemIdentifier":{"partition":"my-topic-1","offset":"8"}}]}"#;
        let expected = BTreeSet::from([
            ("orders".to_string(), 0, 101),
            ("orders".to_string(), 0, 102),
            ("my-topic".to_string(), 1, 8),
        ]);
        assert_eq!(verdict(body), BatchVerdict::Partial { failed: expected });
    }

    #[test]
    fn unparseable_or_wrongly_typed_bodies_fail_the_batch() {
        assert!(failed(verdict("{not json")).contains("not JSON"));
        assert!(failed(verdict("\"ok\"")).contains("not a JSON object"));
        assert!(failed(verdict(r#"{"batchItemFailures": {}}"#)).contains("not a list"));
        assert!(failed(verdict(r#"{"batchItemFailures": [{}]}"#)).contains("itemIdentifier"));
        assert!(
            failed(verdict(
                r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#
            ))
            .contains("itemIdentifier")
        );
        let numeric_partition =
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":0,"offset":100}}]}"#;
        assert!(failed(verdict(numeric_partition)).contains("partition"));
        let bad_offset =
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":"x"}}]}"#;
        assert!(failed(verdict(bad_offset)).contains("offset"));
        let float_offset =
            r#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":100.5}}]}"#;
        assert!(failed(verdict(float_offset)).contains("offset"));
    }

    #[test]
    fn each_unreadable_answer_says_what_is_wrong() {
        for (body, reason) in [
            (
                "ok",
                "response body is not JSON (expected value at line 1 column 1): ok",
            ),
            (r#""done""#, r#"response body is not a JSON object: "done""#),
            (
                r#"{"batchItemFailures": {}}"#,
                "batchItemFailures is not a list: {}",
            ),
            (
                r#"{"batchItemFailures": [{}]}"#,
                "batchItemFailures entry without an itemIdentifier object: {}",
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": {"partition": 0}}]}"#,
                r#"itemIdentifier.partition is not a "<topic>-<partition>" string: {"partition":0}"#,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": {"partition": "orders"}}]}"#,
                r#"itemIdentifier.partition "orders" is not "<topic>-<partition>""#,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": {"partition": "orders-0"}}]}"#,
                r#"itemIdentifier.offset is not an integer offset: {"partition":"orders-0"}"#,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": {"partition": "orders-0", "offset": 99}}]}"#,
                "itemIdentifier orders-0 offset 99 names no record of the batch",
            ),
        ] {
            assert_eq!(failed(verdict(body)), reason, "body {body}");
        }
    }

    #[test]
    fn identifiers_outside_the_batch_fail_it() {
        for (partition, offset) in [
            ("orders-1", "100"),
            ("orders-0", "99"),
            ("nope-0", "100"),
            ("orders", "100"),
            ("orders-x", "100"),
            ("-0", "100"),
        ] {
            let body = format!(
                r#"{{"batchItemFailures":[{{"itemIdentifier":{{"partition":"{partition}","offset":{offset}}}}}]}}"#
            );
            let reason = failed(verdict(&body));
            assert!(reason.contains(partition), "{reason}");
        }
    }

    #[test]
    fn partition_keys_split_at_the_last_dash() {
        assert_eq!(split_partition_key("a-b-c-12"), Some(("a-b-c", 12)));
        assert_eq!(split_partition_key("orders-0"), Some(("orders", 0)));
        assert_eq!(split_partition_key("orders--1"), Some(("orders-", 1)));
        assert_eq!(split_partition_key("orders"), None);
        assert_eq!(split_partition_key("orders-"), None);
    }
}
