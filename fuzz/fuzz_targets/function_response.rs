//! What a function answers is outside the poller's control: any status, headers and body must
//! be classified (`invoke::classify`) and, on a success, read under ReportBatchItemFailures
//! (`response::interpret`) without a panic or a hang. Input: two bytes choose the status, one
//! byte which headers are present, the rest is the body.
#![no_main]

use esm::event::{KafkaRecord, TimestampType};
use esm::invoke::{BODY_EXCERPT_MAX_BYTES, Outcome, classify, is_error_body};
use esm::response::{BatchVerdict, interpret};
use libfuzzer_sys::fuzz_target;

/// Statuses from 100 to 599: every class a server can answer with.
const STATUS_SPAN: u16 = 500;

fn record(topic: &str, partition: i32, offset: i64) -> KafkaRecord {
    KafkaRecord {
        topic: topic.into(),
        partition,
        offset,
        timestamp_ms: 0,
        timestamp_type: TimestampType::CreateTime,
        key: None,
        value: None,
        headers: Vec::new(),
    }
}

/// A batch over two topics, one with dashes in its name, as the partition keys name them.
fn batch() -> Vec<KafkaRecord> {
    vec![
        record("orders", 0, 100),
        record("orders", 0, 101),
        record("orders", 3, 0),
        record("my-topic", 1, 7),
        record("my-topic", 1, i64::MAX),
    ]
}

fn check_outcome(status: u16, function_error: bool, body: &[u8], outcome: &Outcome) {
    let error_body = is_error_body(body);
    match outcome {
        Outcome::Success { status: s, .. } => {
            assert!((200..300).contains(s) && !function_error && !error_body);
        }
        Outcome::FunctionError { status: s, .. } => assert_eq!(*s, status),
        Outcome::Throttled { .. } => assert_eq!(status, 429),
        Outcome::ServiceError { status: s, .. } => {
            assert!((500..600).contains(&status) && !function_error && !error_body);
            assert_eq!(*s, Some(status));
        }
        Outcome::Timeout => panic!("an answer is never a timeout"),
    }
    // A handler exception, however it is reported, is never a success nor uncounted.
    if function_error || error_body {
        assert!(outcome.counts_as_attempt() || status == 429, "{outcome:?}");
    }
    assert!(!outcome.label().is_empty());
    // Each cut byte becomes at most one U+FFFD (3 bytes).
    assert!(outcome.excerpt().len() <= 3 * BODY_EXCERPT_MAX_BYTES);
}

fn check_verdict(body: &[u8], records: &[KafkaRecord]) {
    match interpret(body, records) {
        BatchVerdict::Partial { failed } => {
            assert!(!failed.is_empty());
            for (topic, partition, offset) in &failed {
                assert!(
                    records.iter().any(|r| &*r.topic == topic
                        && r.partition == *partition
                        && r.offset == *offset),
                    "{topic}-{partition} offset {offset} is not in the batch"
                );
            }
        }
        BatchVerdict::AllFailed { reason } => assert!(!reason.is_empty()),
        BatchVerdict::AllSucceeded => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let [s0, s1, flags, body @ ..] = data else {
        return;
    };
    let status = 100 + u16::from_le_bytes([*s0, *s1]) % STATUS_SPAN;
    let function_error = (flags & 1 != 0).then(|| "Unhandled".to_string());
    let error_type = (flags & 2 != 0).then(|| "ResourceNotFoundException".to_string());
    let has_function_error = function_error.is_some();
    let outcome = classify(status, function_error, error_type, body.to_vec());
    check_outcome(status, has_function_error, body, &outcome);
    check_verdict(body, &batch());
});
