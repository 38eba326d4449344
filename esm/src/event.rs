//! The event sent to the function (ESM-SPEC section 2), encoded straight into bytes.
//!
//! This is the hot path: the JSON is written by hand into one pre-sized `Vec<u8>`, with base64
//! encoded in place, and no intermediate `serde_json::Value`.

use bytes::Bytes;
use std::sync::Arc;

/// The Invoke API's request body limit; a batch closes before passing it.
pub const PAYLOAD_LIMIT_BYTES: usize = 6_291_456;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

impl TimestampType {
    pub fn as_str(&self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CREATE_TIME",
            TimestampType::LogAppendTime => "LOG_APPEND_TIME",
        }
    }
}

/// One Kafka record as the consumer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// Shared by every record of the topic: one allocation per poller, not per record.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Vec<u8>>,
    /// A slice of a buffer shared by the records of one read of one partition (see
    /// [`crate::fetch`]): one allocation per run of records, not one per value.
    pub value: Option<Bytes>,
    /// In the order the record carries them; repeated keys kept.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What every event of a mapping shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// `"SelfManagedKafka"` or `"aws:kafka"`.
    pub event_source: String,
    pub event_source_arn: Option<String>,
    /// Comma-separated, as the event's `bootstrapServers`.
    pub bootstrap_servers: String,
}

// The fixed pieces of a record object, shared by the writer and the length bound so they
// cannot drift apart.
const R_TOPIC: &[u8] = b"{\"topic\":";
const R_PARTITION: &[u8] = b",\"partition\":";
const R_OFFSET: &[u8] = b",\"offset\":";
const R_TIMESTAMP: &[u8] = b",\"timestamp\":";
const R_TIMESTAMP_TYPE: &[u8] = b",\"timestampType\":\"";
const R_KEY: &[u8] = b",\"key\":\"";
const R_VALUE: &[u8] = b",\"value\":\"";
const R_HEADERS: &[u8] = b",\"headers\":[";
const R_END: &[u8] = b"]}";
const ENVELOPE_END: &[u8] = b"}}";

/// Encodes the event for `records`, grouped under `"<topic>-<partition>"` keys in the order the
/// partitions first appear, each list in the order given.
pub fn encode_event(ctx: &EventContext, records: &[KafkaRecord]) -> Vec<u8> {
    let Some(first) = records.first() else {
        let mut out = Vec::with_capacity(envelope_len(ctx));
        write_envelope_head(&mut out, ctx);
        out.extend_from_slice(ENVELOPE_END);
        return out;
    };
    let one_partition = records
        .iter()
        .all(|r| r.partition == first.partition && r.topic == first.topic);
    // One topic: its escaped length is measured once, not per record.
    let records_len: usize = if one_partition {
        let topic_len = escaped_len(&first.topic);
        records.iter().map(|r| encoded_len_with(r, topic_len)).sum()
    } else {
        records.iter().map(record_encoded_len).sum()
    };
    let mut out = Vec::with_capacity(envelope_len(ctx) + records_len);
    write_envelope_head(&mut out, ctx);
    if one_partition {
        write_group(&mut out, records.iter());
    } else {
        for (i, group) in group_by_partition(records).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_group(&mut out, group.iter().map(|&ri| &records[ri]));
        }
    }
    out.extend_from_slice(ENVELOPE_END);
    out
}

/// Bytes the event takes with no records: the envelope.
pub fn envelope_len(ctx: &EventContext) -> usize {
    let mut head = Vec::with_capacity(128);
    write_envelope_head(&mut head, ctx);
    head.len() + ENVELOPE_END.len()
}

/// Upper bound on the bytes `record` adds to an event body (including its partition key, list
/// brackets and separators), so a batch can close before [`PAYLOAD_LIMIT_BYTES`].
pub fn record_encoded_len(record: &KafkaRecord) -> usize {
    encoded_len_with(record, escaped_len(&record.topic))
}

/// [`record_encoded_len`] with the topic's escaped length already known.
fn encoded_len_with(record: &KafkaRecord, topic_len: usize) -> usize {
    let partition_len = int_len(record.partition.into());
    // `"<topic>-<partition>":[` + `]` + a `,` between groups, counted for every record.
    let group = topic_len + 1 + partition_len + 6;
    // A `,` between records of one group.
    group + 1 + record_object_len(record, topic_len, partition_len)
}

/// The exact length of the record's JSON object.
fn record_object_len(r: &KafkaRecord, topic_len: usize, partition_len: usize) -> usize {
    let mut n = R_TOPIC.len() + 2 + topic_len;
    n += R_PARTITION.len() + partition_len;
    n += R_OFFSET.len() + int_len(r.offset);
    n += R_TIMESTAMP.len() + int_len(r.timestamp_ms);
    n += R_TIMESTAMP_TYPE.len() + r.timestamp_type.as_str().len() + 1;
    if let Some(key) = present(&r.key) {
        n += R_KEY.len() + b64_len(key) + 1;
    }
    if let Some(value) = present(&r.value) {
        n += R_VALUE.len() + b64_len(value) + 1;
    }
    n += R_HEADERS.len() + R_END.len();
    for (i, (name, bytes)) in r.headers.iter().enumerate() {
        // `{"name":[` .. `]}` and a `,` before all but the first.
        n += usize::from(i > 0) + escaped_len(name) + 7;
        n += bytes.iter().map(|&b| signed_byte_len(b)).sum::<usize>();
        n += bytes.len().saturating_sub(1);
    }
    n
}

/// Record indices per `(topic, partition)`, groups in order of first appearance.
fn group_by_partition(records: &[KafkaRecord]) -> Vec<Vec<usize>> {
    let mut slots = PartitionSlots::default();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (ri, r) in records.iter().enumerate() {
        let gi = slots.slot(r);
        if gi == groups.len() {
            groups.push(Vec::new());
        }
        groups[gi].push(ri);
    }
    groups
}

/// Numbers each `(topic, partition)` met, in order of first appearance. A batch holds runs of
/// one partition, so the previous record's slot is tried first: no hashing per record, and a
/// linear search (over the few partitions of one batch) only where a run changes.
#[derive(Default)]
pub struct PartitionSlots<'a> {
    keys: Vec<(i32, &'a str)>,
    last: usize,
}

impl<'a> PartitionSlots<'a> {
    /// The slot of `r`'s partition; a partition not met before gets the next one.
    pub fn slot(&mut self, r: &'a KafkaRecord) -> usize {
        let key = (r.partition, &*r.topic);
        if self.keys.get(self.last) != Some(&key) {
            self.last = match self.keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    self.keys.push(key);
                    self.keys.len() - 1
                }
            };
        }
        self.last
    }

    /// `(topic, partition)` of each slot, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = (&'a str, i32)> + '_ {
        self.keys.iter().map(|(p, t)| (*t, *p))
    }
}

fn write_envelope_head(out: &mut Vec<u8>, ctx: &EventContext) {
    out.extend_from_slice(b"{\"eventSource\":");
    push_str(out, &ctx.event_source);
    if let Some(arn) = &ctx.event_source_arn {
        out.extend_from_slice(b",\"eventSourceArn\":");
        push_str(out, arn);
    }
    out.extend_from_slice(b",\"bootstrapServers\":");
    push_str(out, &ctx.bootstrap_servers);
    out.extend_from_slice(b",\"records\":{");
}

/// Writes `"<topic>-<partition>":[records]` for a non-empty group of one partition.
fn write_group<'a>(out: &mut Vec<u8>, mut group: impl Iterator<Item = &'a KafkaRecord>) {
    let Some(first) = group.next() else { return };
    out.push(b'"');
    escape_into(out, &first.topic);
    out.push(b'-');
    push_int(out, first.partition.into());
    out.extend_from_slice(b"\":[");
    // Every record of the group starts with the same topic and partition: written once here,
    // copied per record.
    let mut head = Vec::with_capacity(R_TOPIC.len() + first.topic.len() + 32);
    head.extend_from_slice(R_TOPIC);
    push_str(&mut head, &first.topic);
    head.extend_from_slice(R_PARTITION);
    push_int(&mut head, first.partition.into());
    head.extend_from_slice(R_OFFSET);
    write_record(out, &head, first);
    for r in group {
        out.push(b',');
        write_record(out, &head, r);
    }
    out.push(b']');
}

/// Writes `r`'s object after `head`, its group's `{"topic":..,"partition":..,"offset":`.
fn write_record(out: &mut Vec<u8>, head: &[u8], r: &KafkaRecord) {
    out.extend_from_slice(head);
    push_int(out, r.offset);
    out.extend_from_slice(R_TIMESTAMP);
    push_int(out, r.timestamp_ms);
    out.extend_from_slice(R_TIMESTAMP_TYPE);
    out.extend_from_slice(r.timestamp_type.as_str().as_bytes());
    out.push(b'"');
    if let Some(key) = present(&r.key) {
        out.extend_from_slice(R_KEY);
        push_b64(out, key);
        out.push(b'"');
    }
    if let Some(value) = present(&r.value) {
        out.extend_from_slice(R_VALUE);
        push_b64(out, value);
        out.push(b'"');
    }
    out.extend_from_slice(R_HEADERS);
    for (i, (name, bytes)) in r.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"");
        escape_into(out, name);
        out.extend_from_slice(b"\":[");
        for (j, &b) in bytes.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            push_int(out, i64::from(b as i8));
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(R_END);
}

/// A key or value to write: a null one (a tombstone's value) is left out; a zero-length one is
/// written as `""`, so null and empty stay distinguishable (Powertools' Kafka parser model
/// requires `value`). AWS documents nothing for keys: they follow the same rule.
fn present<B: AsRef<[u8]>>(bytes: &Option<B>) -> Option<&[u8]> {
    bytes.as_ref().map(AsRef::as_ref)
}

fn b64_len(bytes: &[u8]) -> usize {
    bytes.len().div_ceil(3) * 4
}

/// Values are most of an event's bytes: a SIMD encoder (AVX2/SSE/NEON, picked at run time)
/// takes a 200-byte value in about a third of the time of a table encoder.
fn push_b64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + b64_len(bytes), 0);
    let written = base64_simd::STANDARD
        .encode(bytes, base64_simd::Out::from_slice(&mut out[start..]))
        .len();
    out.truncate(start + written);
}

/// Writes `s` as a JSON string, quotes included.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

fn escaped_len(s: &str) -> usize {
    // The common case, nothing to escape, without the per-byte sum.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        return s.len();
    }
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

fn int_len(v: i64) -> usize {
    let digits = v.unsigned_abs().checked_ilog10().unwrap_or(0) as usize + 1;
    digits + usize::from(v < 0)
}

fn signed_byte_len(b: u8) -> usize {
    int_len(i64::from(b as i8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::kafka::KafkaEvent;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn ctx() -> EventContext {
        EventContext {
            event_source: "SelfManagedKafka".into(),
            event_source_arn: None,
            bootstrap_servers: "127.0.0.1:9092,127.0.0.1:9093".into(),
        }
    }

    fn record(topic: &str, partition: i32, offset: i64) -> KafkaRecord {
        KafkaRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp_ms: 1_545_084_650_987,
            timestamp_type: TimestampType::CreateTime,
            key: Some(b"key".to_vec()),
            value: Some(Bytes::from_static(b"value")),
            headers: vec![("trace".into(), b"hi".to_vec())],
        }
    }

    #[test]
    fn partition_slots_follow_first_appearance_across_interleaved_runs() {
        let records = [
            record("a", 0, 1),
            record("a", 0, 2),
            record("a", 1, 1),
            record("a", 0, 3),
            record("b", 0, 1),
            record("a", 1, 2),
        ];
        let mut slots = PartitionSlots::default();
        let got: Vec<usize> = records.iter().map(|r| slots.slot(r)).collect();
        assert_eq!(got, [0, 0, 1, 0, 2, 1]);
        assert_eq!(
            slots.keys().collect::<Vec<_>>(),
            [("a", 0), ("a", 1), ("b", 0)]
        );
    }

    #[test]
    fn spec_example_is_reproduced_exactly() {
        let body = encode_event(
            &EventContext {
                bootstrap_servers: "127.0.0.1:9092".into(),
                ..ctx()
            },
            &[record("orders", 0, 15)],
        );
        let expected = json!({ "eventSource": "SelfManagedKafka",
            "bootstrapServers": "127.0.0.1:9092",
            "records": { "orders-0": [ { "topic": "orders", "partition": 0, "offset": 15,
                "timestamp": 1545084650987_i64, "timestampType": "CREATE_TIME",
                "key": "a2V5", "value": "dmFsdWU=",
                "headers": [ { "trace": [104, 105] } ] } ] } });
        let got: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn msk_event_carries_source_and_arn() {
        let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc";
        let msk = EventContext {
            event_source: "aws:kafka".into(),
            event_source_arn: Some(arn.into()),
            bootstrap_servers: "b:9092".into(),
        };
        let parsed: KafkaEvent =
            serde_json::from_slice(&encode_event(&msk, &[record("t", 1, 2)])).unwrap();
        assert_eq!(parsed.event_source.as_deref(), Some("aws:kafka"));
        assert_eq!(parsed.event_source_arn.as_deref(), Some(arn));
        let self_managed: Value = serde_json::from_slice(&encode_event(&ctx(), &[])).unwrap();
        assert!(self_managed.get("eventSourceArn").is_none());
        assert_eq!(self_managed["records"], json!({}));
    }

    #[test]
    fn headers_are_signed_bytes_in_order_with_repeats() {
        let mut r = record("t", 0, 0);
        r.headers = vec![
            ("a".into(), "é".as_bytes().to_vec()),
            ("b".into(), vec![0, 127, 128, 255]),
            ("a".into(), vec![]),
        ];
        let v: Value = serde_json::from_slice(&encode_event(&ctx(), &[r])).unwrap();
        assert_eq!(
            v["records"]["t-0"][0]["headers"],
            json!([{"a": [-61, -87]}, {"b": [0, 127, -128, -1]}, {"a": []}])
        );
    }

    #[test]
    fn null_is_left_out_and_empty_is_an_empty_string() {
        let mut r = record("t", 0, 0);
        r.key = None;
        r.value = Some(Bytes::new());
        r.timestamp_type = TimestampType::LogAppendTime;
        let body = encode_event(&ctx(), std::slice::from_ref(&r));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let rec = &v["records"]["t-0"][0];
        assert!(rec.get("key").is_none(), "a null key is left out: {rec}");
        assert_eq!(rec["value"], "", "a zero-length value is present: {rec}");
        assert_eq!(rec["timestampType"], "LOG_APPEND_TIME");
        r.key = Some(vec![]);
        r.value = None;
        let v: Value = serde_json::from_slice(&encode_event(&ctx(), &[r])).unwrap();
        let rec = &v["records"]["t-0"][0];
        assert_eq!(rec["key"], "", "a zero-length key is present: {rec}");
        assert!(
            rec.get("value").is_none(),
            "a tombstone has no value: {rec}"
        );
    }

    #[test]
    fn names_are_json_escaped() {
        let mut r = record("we\"ird\\t", -1, -5);
        r.headers = vec![("h\n\u{1}\u{7f}é\"".into(), vec![1])];
        let ctx = EventContext {
            bootstrap_servers: "x\ty".into(),
            ..ctx()
        };
        let v: Value = serde_json::from_slice(&encode_event(&ctx, &[r])).unwrap();
        let rec = &v["records"]["we\"ird\\t--1"][0];
        assert_eq!(rec["topic"], "we\"ird\\t");
        assert_eq!(rec["offset"], -5);
        assert_eq!(rec["headers"], json!([{"h\n\u{1}\u{7f}é\"": [1]}]));
        assert_eq!(v["bootstrapServers"], "x\ty");
    }

    #[test]
    fn partitions_are_grouped_in_first_appearance_order() {
        let recs = [
            record("a", 1, 5),
            record("a", 0, 7),
            record("a", 1, 6),
            record("b-c", 1, 1),
        ];
        let body = encode_event(&ctx(), &recs);
        let text = String::from_utf8(body.clone()).unwrap();
        let a1 = text.find("\"a-1\"").unwrap();
        let a0 = text.find("\"a-0\"").unwrap();
        assert!(a1 < a0, "first appearance order kept: {text}");
        let parsed: KafkaEvent = serde_json::from_slice(&body).unwrap();
        let offsets: Vec<i64> = parsed.records["a-1"].iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [5, 6]);
        assert_eq!(parsed.records["b-c-1"][0].topic.as_deref(), Some("b-c"));
        assert_eq!(parsed.records.len(), 3);
    }

    #[test]
    fn parses_as_aws_lambda_events_kafka_event() {
        let body = encode_event(&ctx(), &[record("orders", 3, 15)]);
        let parsed: KafkaEvent = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.event_source.as_deref(), Some("SelfManagedKafka"));
        assert_eq!(
            parsed.bootstrap_servers.as_deref(),
            Some("127.0.0.1:9092,127.0.0.1:9093")
        );
        let r = &parsed.records["orders-3"][0];
        assert_eq!((r.partition, r.offset), (3, 15));
        // aws_lambda_events goes through f64 and may lose the last millisecond.
        assert!((r.timestamp.0.timestamp_millis() - 1_545_084_650_987).abs() <= 1);
        assert_eq!(r.timestamp_type.as_deref(), Some("CREATE_TIME"));
        assert_eq!(r.key.as_deref(), Some("a2V5"));
        assert_eq!(r.value.as_deref(), Some("dmFsdWU="));
        assert_eq!(r.headers[0]["trace"], vec![104_i8, 105]);
    }

    #[test]
    fn envelope_len_is_exact() {
        assert_eq!(envelope_len(&ctx()), encode_event(&ctx(), &[]).len());
    }

    #[test]
    fn a_lone_record_bound_is_tight() {
        let r = record("orders", 12, 123_456);
        let actual = encode_event(&ctx(), std::slice::from_ref(&r)).len();
        let bound = envelope_len(&ctx()) + record_encoded_len(&r);
        // Only the two unused separators are slack.
        assert_eq!(bound - actual, 2);
    }

    fn arb_record() -> impl Strategy<Value = KafkaRecord> {
        (
            prop::sample::select(vec!["t", "a-b", "q\"\\\n"]),
            -1i32..3,
            any::<i64>(),
            any::<i64>(),
            any::<bool>(),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            prop::collection::vec(
                (
                    "[a-z\"\u{1}é]{0,4}",
                    prop::collection::vec(any::<u8>(), 0..8),
                ),
                0..4,
            ),
        )
            .prop_map(|(t, p, o, ts, create, key, value, headers)| KafkaRecord {
                topic: t.into(),
                partition: p,
                offset: o,
                timestamp_ms: ts,
                timestamp_type: if create {
                    TimestampType::CreateTime
                } else {
                    TimestampType::LogAppendTime
                },
                key,
                value: value.map(Bytes::from),
                headers,
            })
    }

    proptest! {
        #[test]
        fn bound_holds_and_output_is_valid_json(recs in prop::collection::vec(arb_record(), 0..20)) {
            let body = encode_event(&ctx(), &recs);
            let bound = envelope_len(&ctx()) + recs.iter().map(record_encoded_len).sum::<usize>();
            prop_assert!(bound >= body.len(), "bound {} < actual {}", bound, body.len());
            let v: Value = serde_json::from_slice(&body).unwrap();
            let total: usize = v["records"].as_object().unwrap().values()
                .map(|l| l.as_array().unwrap().len()).sum();
            prop_assert_eq!(total, recs.len());
            for r in &recs {
                let key = format!("{}-{}", r.topic, r.partition);
                let list = v["records"][&key].as_array().unwrap();
                prop_assert!(list.iter().any(|e| e["offset"] == json!(r.offset)));
            }
        }
    }
}
