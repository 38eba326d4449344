//! The Kafka event a function receives, parsed and checked against AWS's documented shape.
//!
//! Sources: "Using Lambda with self-managed Apache Kafka" and "Amazon MSK event source mapping"
//! (the example events: `eventSource` `SelfManagedKafka` or `aws:kafka` with an
//! `eventSourceArn`, `bootstrapServers`, `records` keyed `"<topic>-<partition>"`, base64 `key`
//! and `value`, headers as arrays of Java's signed bytes), and ESM-SPEC section 2 for the
//! choices AWS leaves open (a null key or value is left out or null; a zero-length one is `""`).

use base64::Engine;
use serde_json::{Map, Value};

mod fast;

/// Records accepted in one event; far above what fits in the Invoke API's 6 MB.
pub const RECORDS_MAX: usize = 1_000_000;

/// What is wrong with an event, and where: `at` is a path such as
/// `records["orders-0"][2].headers[0].trace[1]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {why}")]
pub struct EventError {
    pub at: String,
    pub why: String,
}

fn error(at: &str, why: impl Into<String>) -> EventError {
    EventError {
        at: at.to_string(),
        why: why.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    SelfManaged,
    Msk { arn: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// One record of the event, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub timestamp_type: TimestampType,
    /// `None`: the field was left out or null. `Some(empty)`: it was `""`.
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In the event's order; a name may repeat.
    pub headers: Vec<(String, Vec<i8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaEvent {
    pub source: EventSource,
    pub bootstrap_servers: String,
    /// Lists in the order of their keys, each list in offset order.
    pub records: Vec<Record>,
}

/// Parses an event body (the Invoke request's payload): in one streaming pass when the body is
/// well formed, else precisely, to name the fault.
pub fn parse(body: &[u8]) -> Result<KafkaEvent, EventError> {
    fast::parse(body).map_or_else(|| parse_precise(body), Ok)
}

/// Where each record of `topic` sits, `(partition, offset)` in the event's order: the body is
/// checked as [`parse`] checks it, without keeping the records' contents (a checker reading a
/// soak's history needs only this).
pub fn placed(body: &[u8], topic: &str) -> Result<Vec<(i32, i64)>, EventError> {
    match fast::placed(body, topic) {
        Some(places) => Ok(places),
        None => parse_precise(body).map(|event| {
            event
                .records
                .iter()
                .filter(|r| r.topic == topic)
                .map(|r| (r.partition, r.offset))
                .collect()
        }),
    }
}

/// Parses an event body through `serde_json::Value`, naming the first fault by its path.
fn parse_precise(body: &[u8]) -> Result<KafkaEvent, EventError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| error("event", format!("is not JSON: {e}")))?;
    parse_value(&json)
}

/// Parses an event already read as JSON (the `payload` of a destination record).
pub fn parse_value(json: &Value) -> Result<KafkaEvent, EventError> {
    let top = json
        .as_object()
        .ok_or_else(|| error("event", "is not a JSON object"))?;
    let source = event_source(top)?;
    let bootstrap_servers = string_field(top, "bootstrapServers", "")?;
    check_servers(bootstrap_servers)?;
    let lists = top
        .get("records")
        .and_then(Value::as_object)
        .ok_or_else(|| error("records", "must be an object of record lists"))?;
    if lists.is_empty() {
        return Err(error(
            "records",
            "is empty: a function is never invoked without records",
        ));
    }
    let mut records = Vec::new();
    for (list_key, list) in lists {
        records.extend(parse_list(list_key, list)?);
        if records.len() > RECORDS_MAX {
            return Err(error(
                "records",
                format!("holds more than {RECORDS_MAX} records"),
            ));
        }
    }
    Ok(KafkaEvent {
        source,
        bootstrap_servers: bootstrap_servers.to_string(),
        records,
    })
}

/// The string member `name` of `object`; `parent` is the object's path ("" at the top), and
/// the member's path is written only for an error: a body holds thousands of records.
fn string_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    parent: &str,
) -> Result<&'a str, EventError> {
    let here = || {
        if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        }
    };
    match object.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(error(&here(), format!("{other} is not a string"))),
        None => Err(error(&here(), "is missing")),
    }
}

fn event_source(top: &Map<String, Value>) -> Result<EventSource, EventError> {
    source_of(
        string_field(top, "eventSource", "")?,
        top.get("eventSourceArn"),
    )
}

/// The source an `eventSource` and a present (or absent) `eventSourceArn` describe.
fn source_of(source: &str, arn: Option<&Value>) -> Result<EventSource, EventError> {
    match (source, arn) {
        ("SelfManagedKafka", None) => Ok(EventSource::SelfManaged),
        ("SelfManagedKafka", Some(arn)) => Err(error(
            "eventSourceArn",
            format!("{arn} is set, but a SelfManagedKafka event has none"),
        )),
        ("aws:kafka", Some(Value::String(arn)))
            if arn.starts_with("arn:") && arn.contains(":kafka:") =>
        {
            Ok(EventSource::Msk { arn: arn.clone() })
        }
        ("aws:kafka", Some(arn)) => Err(error(
            "eventSourceArn",
            format!("{arn} is not an MSK cluster ARN (arn:...:kafka:...)"),
        )),
        ("aws:kafka", None) => Err(error(
            "eventSourceArn",
            "is missing; aws:kafka events carry one",
        )),
        (other, _) => Err(error(
            "eventSource",
            format!("{other:?} is neither SelfManagedKafka nor aws:kafka"),
        )),
    }
}

/// `bootstrapServers` is a comma-separated list of `host:port`.
fn check_servers(servers: &str) -> Result<(), EventError> {
    for server in servers.split(',') {
        let port = server
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(error(
                "bootstrapServers",
                format!("{server:?} is not host:port"),
            ));
        }
    }
    Ok(())
}

fn parse_list(list_key: &str, list: &Value) -> Result<Vec<Record>, EventError> {
    let at = format!("records[{list_key:?}]");
    let items = list
        .as_array()
        .ok_or_else(|| error(&at, "is not an array"))?;
    if items.is_empty() {
        return Err(error(&at, "is an empty list"));
    }
    let mut out: Vec<Record> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let record = parse_record(item, &here)?;
        if !is_list_key(list_key, &record.topic, record.partition) {
            let expected_key = format!("{}-{}", record.topic, record.partition);
            return Err(error(
                &here,
                format!("is of {expected_key:?}, listed under {list_key:?}"),
            ));
        }
        if let Some(before) = out.last()
            && record.offset <= before.offset
        {
            return Err(error(
                &format!("{here}.offset"),
                format!(
                    "{} follows {}: offsets must ascend",
                    record.offset, before.offset
                ),
            ));
        }
        out.push(record);
    }
    Ok(out)
}

/// Whether `key` is `"<topic>-<partition>"`, without building it.
fn is_list_key(key: &str, topic: &str, partition: i32) -> bool {
    key.strip_prefix(topic)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|number| {
            number.parse::<i32>() == Ok(partition) && !number.starts_with(['+', '0'])
                || number == "0" && partition == 0
        })
}

fn integer(object: &Map<String, Value>, name: &str, at: &str) -> Result<i64, EventError> {
    // The field's path is written only for an error: a body holds thousands of records.
    let here = || format!("{at}.{name}");
    match object.get(name) {
        Some(v) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| error(&here(), format!("{v} is not a non-negative integer"))),
        None => Err(error(&here(), "is missing")),
    }
}

fn parse_record(item: &Value, at: &str) -> Result<Record, EventError> {
    let object = item
        .as_object()
        .ok_or_else(|| error(at, "is not an object"))?;
    let topic = string_field(object, "topic", at)?;
    if topic.is_empty() {
        return Err(error(&format!("{at}.topic"), "is empty"));
    }
    let partition = i32::try_from(integer(object, "partition", at)?).map_err(|_| {
        error(
            &format!("{at}.partition"),
            "does not fit a 32-bit partition",
        )
    })?;
    let timestamp_type = match string_field(object, "timestampType", at)? {
        "CREATE_TIME" => TimestampType::CreateTime,
        "LOG_APPEND_TIME" => TimestampType::LogAppendTime,
        other => {
            return Err(error(
                &format!("{at}.timestampType"),
                format!("{other:?} is neither CREATE_TIME nor LOG_APPEND_TIME"),
            ));
        }
    };
    Ok(Record {
        topic: topic.to_string(),
        partition,
        offset: integer(object, "offset", at)?,
        timestamp_ms: integer(object, "timestamp", at)?,
        timestamp_type,
        key: base64_field(object, "key", at)?,
        value: base64_field(object, "value", at)?,
        headers: parse_headers(object.get("headers"), at)?,
    })
}

/// Left out or null: `None`; `""`: zero bytes; otherwise standard base64.
fn base64_field(
    object: &Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Option<Vec<u8>>, EventError> {
    let here = || format!("{at}.{name}");
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Some)
            .map_err(|e| error(&here(), format!("is not base64: {e}"))),
        Some(other) => Err(error(&here(), format!("{other} is not a base64 string"))),
    }
}

/// `record_at` is the record's path; the headers' own is written only when needed.
fn parse_headers(
    headers: Option<&Value>,
    record_at: &str,
) -> Result<Vec<(String, Vec<i8>)>, EventError> {
    if let Some(Value::Array(items)) = headers
        && items.is_empty()
    {
        return Ok(Vec::new());
    }
    let at = &format!("{record_at}.headers");
    let items = match headers {
        Some(Value::Array(items)) => items,
        Some(other) => return Err(error(at, format!("{other} is not an array"))),
        None => return Err(error(at, "is missing (an empty list when there are none)")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, header) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Some(object) = header.as_object() else {
            return Err(error(&here, "is not an object"));
        };
        let mut members = object.iter();
        let (Some((name, bytes)), None) = (members.next(), members.next()) else {
            return Err(error(&here, "must hold exactly one header name"));
        };
        out.push((
            name.clone(),
            signed_bytes(bytes, &format!("{here}.{name}"))?,
        ));
    }
    Ok(out)
}

fn signed_bytes(bytes: &Value, at: &str) -> Result<Vec<i8>, EventError> {
    let items = bytes
        .as_array()
        .ok_or_else(|| error(at, format!("{bytes} is not an array of bytes")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, b)| {
            b.as_i64()
                .and_then(|n| i8::try_from(n).ok())
                .ok_or_else(|| error(&format!("{at}[{i}]"), format!("{b} is not a signed byte")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "b-1:9092,b-2:9092",
            "records": {"orders-0": [
                {"topic": "orders", "partition": 0, "offset": 15, "timestamp": 1_545_084_650_987_i64,
                 "timestampType": "CREATE_TIME", "key": "a2V5", "value": "dmFsdWU=",
                 "headers": [{"trace": [-61, -87]}, {"trace": [104]}]},
                {"topic": "orders", "partition": 0, "offset": 16, "timestamp": 1, "timestampType": "LOG_APPEND_TIME",
                 "value": "", "headers": []},
                {"topic": "orders", "partition": 0, "offset": 17, "timestamp": 1, "timestampType": "CREATE_TIME",
                 "key": null, "headers": []}]}})
    }

    fn why(event: &Value) -> String {
        parse(event.to_string().as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn decodes_the_documented_shape() {
        let event = parse(good().to_string().as_bytes()).unwrap();
        assert_eq!(event.source, EventSource::SelfManaged);
        let [a, b, c] = event.records.as_slice() else {
            panic!("{event:?}")
        };
        assert_eq!(a.key.as_deref(), Some(&b"key"[..]));
        assert_eq!(a.value.as_deref(), Some(&b"value"[..]));
        assert_eq!(
            a.headers,
            vec![
                ("trace".into(), vec![-61, -87]),
                ("trace".into(), vec![104])
            ]
        );
        assert_eq!(b.value, Some(Vec::new()), "\"\" is a zero-length value");
        assert_eq!(b.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(
            (c.key.clone(), c.value.clone()),
            (None, None),
            "left out or null is null"
        );
        let mut msk = good();
        msk["eventSource"] = json!("aws:kafka");
        msk["eventSourceArn"] = json!("arn:aws:kafka:us-east-1:123456789012:cluster/c/1");
        assert!(matches!(
            parse_value(&msk).unwrap().source,
            EventSource::Msk { .. }
        ));
    }

    #[test]
    fn an_msk_arn_must_be_an_arn_and_name_kafka() {
        for arn in [
            "arn:aws:sqs:us-east-1:123456789012:queue",
            "urn:aws:kafka:us-east-1:123456789012:cluster/c/1",
        ] {
            let mut msk = good();
            msk["eventSource"] = json!("aws:kafka");
            msk["eventSourceArn"] = json!(arn);
            assert!(why(&msk).contains("not an MSK cluster ARN"), "{arn}");
        }
    }

    #[test]
    fn placed_keeps_only_the_topics_records_on_the_precise_path_too() {
        let mut event = good();
        event["records"]["other-3"] = json!([{"topic": "other", "partition": 3, "offset": 9,
            "timestamp": 1, "timestampType": "CREATE_TIME", "headers": []}]);
        // An escape makes the fast reader give up, so the precise reader answers.
        let body = event.to_string().replace("\"b-1:9092", "\"\\u0062-1:9092");
        assert!(fast::placed(body.as_bytes(), "orders").is_none(), "{body}");
        assert_eq!(
            placed(body.as_bytes(), "orders").unwrap(),
            [(0, 15), (0, 16), (0, 17)]
        );
    }

    #[test]
    fn a_list_key_is_exactly_topic_dash_partition() {
        for (key, topic, partition) in [("t-0", "t", 0), ("my-topic-12", "my-topic", 12)] {
            assert!(is_list_key(key, topic, partition), "{key}");
            assert_eq!(key, format!("{topic}-{partition}"));
        }
        for (key, topic, partition) in [
            ("t-00", "t", 0),
            ("t-012", "t", 12),
            ("t-+1", "t", 1),
            ("t-1", "t", 2),
            ("t1", "t", 1),
            ("u-1", "t", 1),
            ("t-1 ", "t", 1),
        ] {
            assert!(!is_list_key(key, topic, partition), "{key}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let mut e = good();
        e["records"]["orders-0"][2]["headers"] = json!([{"trace": [1, 200]}]);
        assert_eq!(
            why(&e),
            r#"records["orders-0"][2].headers[0].trace[1]: 200 is not a signed byte"#
        );
        let mut e = good();
        e["records"]["orders-0"][1]["offset"] = json!(15);
        assert_eq!(
            why(&e),
            r#"records["orders-0"][1].offset: 15 follows 15: offsets must ascend"#
        );
        let mut e = good();
        e["records"]["orders-0"][0]["partition"] = json!(1);
        assert!(why(&e).contains("is of \"orders-1\", listed under \"orders-0\""));
        let mut e = good();
        e["records"]["orders-0"][0]["value"] = json!("not base64!");
        assert!(why(&e).starts_with(r#"records["orders-0"][0].value: is not base64"#));
        let mut e = good();
        e["eventSource"] = json!("aws:kafka");
        assert!(why(&e).starts_with("eventSourceArn: is missing"));
        let mut e = good();
        e["eventSourceArn"] = json!("arn:aws:kafka:x:1:cluster/c");
        assert!(why(&e).starts_with("eventSourceArn:"));
        let mut e = good();
        e["records"]["orders-0"][0]["timestampType"] = json!("NO_TIMESTAMP_TYPE");
        assert!(why(&e).contains("timestampType"));
        let mut e = good();
        e["records"]["orders-0"][0]["headers"] = json!([{"a": [1], "b": [2]}]);
        assert!(why(&e).contains("headers[0]: must hold exactly one header name"));
        let mut e = good();
        e["bootstrapServers"] = json!("nohost");
        assert!(why(&e).starts_with("bootstrapServers:"));
        let mut e = good();
        e.as_object_mut().unwrap().remove("bootstrapServers");
        assert_eq!(why(&e), "bootstrapServers: is missing");
        let mut e = good();
        e["records"] = json!({});
        assert!(why(&e).starts_with("records: is empty"));
    }
}
