//! The event read in one streaming pass, for the common case of a well-formed body.
//!
//! A soak's history holds hundreds of megabytes of bodies; reading each into a
//! `serde_json::Value` first (a map per record) cost most of the checkers' time. This reader
//! takes members as borrowed text straight from the body and builds the records directly. It
//! accepts a body only when it is sure the precise reader ([`super::parse_value`]) would accept
//! it and read the same event; on anything else (a fault, a duplicate member, a string with an
//! escape) it gives up, and the caller reads the body again precisely, which names the fault.

use super::{
    EventSource, KafkaEvent, RECORDS_MAX, Record, TimestampType, check_servers, is_list_key,
};
use base64::Engine;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::RefCell;
use std::fmt;

/// Why the fast reader gave up; never shown: the precise reader then gives the reason.
const GIVE_UP: &str = "left to the precise reader";

fn give_up<E: de::Error>() -> E {
    E::custom(GIVE_UP)
}

/// The event, or `None` when the precise reader must decide.
pub(super) fn parse(body: &[u8]) -> Option<KafkaEvent> {
    let (source, servers, records) = read(body, &Whole)?;
    Some(KafkaEvent {
        source,
        bootstrap_servers: servers,
        records,
    })
}

/// Where each record of `topic` sits, the event checked as [`parse`] checks it; `None` when
/// the precise reader must decide.
pub(super) fn placed(body: &[u8], topic: &str) -> Option<Vec<(i32, i64)>> {
    let keep = Placed {
        topic,
        scratch: RefCell::default(),
    };
    let (_, _, places) = read(body, &keep)?;
    Some(
        places
            .into_iter()
            .filter(|p| p.of_topic)
            .map(|p| (p.partition, p.offset))
            .collect(),
    )
}

fn read<K: Keep>(body: &[u8], keep: &K) -> Option<(EventSource, String, Vec<K::Item>)> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let top = (&mut reader).deserialize_map(TopVisitor(keep)).ok()?;
    reader.end().ok()?;
    top.finish()
}

/// What the reader keeps of each valid record.
trait Keep {
    type Item;
    /// The record of `fields`, listed under `list_key`; `None` when it is not valid there.
    fn keep(&self, fields: Fields<'_>, list_key: &str) -> Option<Self::Item>;
    fn offset(item: &Self::Item) -> i64;
}

/// Every record, decoded.
struct Whole;

impl Keep for Whole {
    type Item = Record;

    fn keep(&self, fields: Fields<'_>, list_key: &str) -> Option<Record> {
        let record = fields.into_record()?;
        is_list_key(list_key, &record.topic, record.partition).then_some(record)
    }

    fn offset(record: &Record) -> i64 {
        record.offset
    }
}

/// Where each record sits and whether it is of `topic`: every member is checked as [`Whole`]
/// checks it, but key and value are decoded into one scratch buffer, not kept.
struct Placed<'t> {
    topic: &'t str,
    scratch: RefCell<Vec<u8>>,
}

struct Place {
    of_topic: bool,
    partition: i32,
    offset: i64,
}

impl Keep for Placed<'_> {
    type Item = Place;

    fn keep(&self, fields: Fields<'_>, list_key: &str) -> Option<Place> {
        let mut scratch = self.scratch.borrow_mut();
        for text in [fields.key, fields.value].into_iter().flatten().flatten() {
            scratch.clear();
            base64::engine::general_purpose::STANDARD
                .decode_vec(text, &mut scratch)
                .ok()?;
        }
        fields.headers.as_ref()?;
        let (topic, partition, _) = fields.placement()?;
        is_list_key(list_key, topic, partition).then_some(Place {
            of_topic: topic == self.topic,
            partition,
            offset: fields.offset?,
        })
    }

    fn offset(place: &Place) -> i64 {
        place.offset
    }
}

/// Sets `slot` once; a second value for the same member is a duplicate, which the precise
/// reader resolves (the last one wins there), so the fast one gives up.
fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    match slot {
        Some(_) => Err(give_up()),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

struct Top<'de, T> {
    source: Option<&'de str>,
    arn: Option<&'de str>,
    servers: Option<&'de str>,
    records: Option<Vec<T>>,
}

impl<T> Top<'_, T> {
    fn finish(self) -> Option<(EventSource, String, Vec<T>)> {
        let arn = self.arn.map(|a| Value::String(a.to_string()));
        let source = super::source_of(self.source?, arn.as_ref()).ok()?;
        let servers = self.servers?;
        check_servers(servers).ok()?;
        Some((source, servers.to_string(), self.records?))
    }
}

struct TopVisitor<'k, K>(&'k K);

impl<'de, K: Keep> Visitor<'de> for TopVisitor<'_, K> {
    type Value = Top<'de, K::Item>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kafka event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top {
            source: None,
            arn: None,
            servers: None,
            records: None,
        };
        while let Some(name) = map.next_key::<&'de str>()? {
            match name {
                "eventSource" => set_once(&mut top.source, map.next_value()?)?,
                // A present ARN that is not a string (null included) is the precise reader's.
                "eventSourceArn" => set_once(&mut top.arn, map.next_value()?)?,
                "bootstrapServers" => set_once(&mut top.servers, map.next_value()?)?,
                "records" => set_once(&mut top.records, map.next_value_seed(ListsSeed(self.0))?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `records`: the lists in the order of their keys, as the precise reader's map holds them.
struct ListsSeed<'k, K>(&'k K);

impl<'de, K: Keep> DeserializeSeed<'de> for ListsSeed<'_, K> {
    type Value = Vec<K::Item>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K: Keep> Visitor<'de> for ListsSeed<'_, K> {
    type Value = Vec<K::Item>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of record lists")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut lists: Vec<(&'de str, Vec<K::Item>)> = Vec::new();
        let mut total = 0usize;
        while let Some(key) = map.next_key::<&'de str>()? {
            let list = map.next_value_seed(ListSeed { keep: self.0, key })?;
            total += list.len();
            if total > RECORDS_MAX {
                return Err(give_up());
            }
            lists.push((key, list));
        }
        if lists.is_empty() {
            return Err(give_up());
        }
        lists.sort_by(|a, b| a.0.cmp(b.0));
        if lists.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(give_up());
        }
        Ok(lists.into_iter().flat_map(|(_, list)| list).collect())
    }
}

/// One list: its records belong under `key`, and their offsets ascend.
struct ListSeed<'k, 'n, K> {
    keep: &'k K,
    key: &'n str,
}

impl<'de, K: Keep> DeserializeSeed<'de> for ListSeed<'_, '_, K> {
    type Value = Vec<K::Item>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, K: Keep> Visitor<'de> for ListSeed<'_, '_, K> {
    type Value = Vec<K::Item>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<K::Item> = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(fields) = seq.next_element_seed(RecordSeed)? {
            let item = self.keep.keep(fields, self.key).ok_or_else(give_up)?;
            if out
                .last()
                .is_some_and(|before| K::offset(&item) <= K::offset(before))
            {
                return Err(give_up());
            }
            out.push(item);
        }
        if out.is_empty() {
            return Err(give_up());
        }
        Ok(out)
    }
}

/// A whole number the precise reader accepts: a JSON integer from 0 to `i64::MAX`.
struct NonNegative(i64);

impl<'de> de::Deserialize<'de> for NonNegative {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(NonNegativeVisitor)
    }
}

struct NonNegativeVisitor;

impl Visitor<'_> for NonNegativeVisitor {
    type Value = NonNegative;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<NonNegative, E> {
        i64::try_from(n).map(NonNegative).map_err(|_| give_up())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<NonNegative, E> {
        if n >= 0 {
            Ok(NonNegative(n))
        } else {
            Err(give_up())
        }
    }
}

#[derive(Default)]
struct Fields<'de> {
    topic: Option<&'de str>,
    partition: Option<i64>,
    offset: Option<i64>,
    timestamp: Option<i64>,
    timestamp_type: Option<&'de str>,
    /// Present: `Some(None)` for null, `Some(Some(text))` for a string.
    key: Option<Option<&'de str>>,
    value: Option<Option<&'de str>>,
    headers: Option<Vec<(String, Vec<i8>)>>,
}

impl<'de> Fields<'de> {
    /// Topic, partition and timestamp type, when all are present and valid, and so are the
    /// offset and the timestamp.
    fn placement(&self) -> Option<(&'de str, i32, TimestampType)> {
        let topic = self.topic.filter(|t| !t.is_empty())?;
        let timestamp_type = match self.timestamp_type? {
            "CREATE_TIME" => TimestampType::CreateTime,
            "LOG_APPEND_TIME" => TimestampType::LogAppendTime,
            _ => return None,
        };
        self.offset?;
        self.timestamp?;
        Some((topic, i32::try_from(self.partition?).ok()?, timestamp_type))
    }

    fn into_record(self) -> Option<Record> {
        let (topic, partition, timestamp_type) = self.placement()?;
        Some(Record {
            topic: topic.to_string(),
            partition,
            offset: self.offset?,
            timestamp_ms: self.timestamp?,
            timestamp_type,
            key: decode(self.key.flatten())?,
            value: decode(self.value.flatten())?,
            headers: self.headers?,
        })
    }
}

/// Left out or null: `Some(None)`; base64 text: its bytes; anything else: `None` (give up).
fn decode(text: Option<&str>) -> Option<Option<Vec<u8>>> {
    match text {
        None => Some(None),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(Some),
    }
}

/// A record's members, each read once; judged by a [`Keep`].
struct RecordSeed;

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = Fields<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut f = Fields::default();
        while let Some(name) = map.next_key::<&'de str>()? {
            match name {
                "topic" => set_once(&mut f.topic, map.next_value()?)?,
                "partition" => set_once(&mut f.partition, map.next_value::<NonNegative>()?.0)?,
                "offset" => set_once(&mut f.offset, map.next_value::<NonNegative>()?.0)?,
                "timestamp" => set_once(&mut f.timestamp, map.next_value::<NonNegative>()?.0)?,
                "timestampType" => set_once(&mut f.timestamp_type, map.next_value()?)?,
                "key" => set_once(&mut f.key, map.next_value()?)?,
                "value" => set_once(&mut f.value, map.next_value()?)?,
                "headers" => set_once(&mut f.headers, map.next_value_seed(HeadersSeed)?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(f)
    }
}

/// `headers`: objects of exactly one name, each holding Java's signed bytes.
struct HeadersSeed;

impl<'de> DeserializeSeed<'de> for HeadersSeed {
    type Value = Vec<(String, Vec<i8>)>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HeadersSeed {
    type Value = Vec<(String, Vec<i8>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of headers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(header) = seq.next_element_seed(HeaderSeed)? {
            out.push(header);
        }
        Ok(out)
    }
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = (String, Vec<i8>);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = (String, Vec<i8>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let name = map.next_key::<&'de str>()?.ok_or_else(give_up)?;
        let bytes: Vec<i8> = map.next_value()?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(give_up());
        }
        Ok((name.to_string(), bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_precise;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    /// A well-formed record of partition `p` at `offset`, its optional parts picked by `pick`.
    fn good_record(p: u32, offset: u32, pick: usize) -> Value {
        let keys = [
            None,
            Some(Value::Null),
            Some(json!("")),
            Some(json!("a2V5")),
        ];
        let values = [
            None,
            Some(Value::Null),
            Some(json!("")),
            Some(json!("dg==")),
        ];
        let headers = [json!([]), json!([{"a": [1, -2]}, {"a": [3]}])];
        let timestamp_type = ["CREATE_TIME", "LOG_APPEND_TIME"][(pick / 2) % 2];
        let mut r = json!({"topic": "t", "partition": p, "offset": offset,
            "timestamp": 1_700_000_000_000_i64, "headers": headers[pick % 2],
            "timestampType": timestamp_type});
        let fields = r.as_object_mut().expect("an object");
        if let Some(key) = keys[(pick / 4) % 4].clone() {
            fields.insert("key".into(), key);
        }
        if let Some(value) = values[(pick / 16) % 4].clone() {
            fields.insert("value".into(), value);
        }
        r
    }

    /// A well-formed event: lists of up to three partitions of "t", offsets ascending.
    fn good_event() -> impl Strategy<Value = Value> {
        let list = prop::collection::vec(any::<usize>(), 1..4);
        (
            any::<bool>(),
            prop::collection::btree_map(0u32..3, list, 1..4),
        )
            .prop_map(|(msk, lists)| {
                let records: Map<String, Value> = lists
                    .into_iter()
                    .map(|(p, picks)| {
                        let list = (0u32..)
                            .zip(picks)
                            .map(|(i, pick)| good_record(p, 10 + 2 * i, pick))
                            .collect();
                        (format!("t-{p}"), Value::Array(list))
                    })
                    .collect();
                let mut event = json!({"bootstrapServers": "b:9092,c:9093", "records": records});
                event["eventSource"] = json!("SelfManagedKafka");
                if msk {
                    event["eventSource"] = json!("aws:kafka");
                    event["eventSourceArn"] = json!("arn:aws:kafka:r:1:cluster/c/1");
                }
                event
            })
    }

    /// Faults and oddities: a member of a record (or of the event) set to a value, or removed.
    fn mutation() -> impl Strategy<Value = (bool, &'static str, Option<Value>, usize)> {
        let record_member = prop::sample::select(vec![
            "topic",
            "partition",
            "offset",
            "timestamp",
            "timestampType",
            "key",
            "value",
            "headers",
            "extra",
        ]);
        let top_member = prop::sample::select(vec![
            "eventSource",
            "eventSourceArn",
            "bootstrapServers",
            "records",
            "extra",
        ]);
        let value = prop::option::weighted(
            0.8,
            prop::sample::select(vec![
                Value::Null,
                json!(""),
                json!("t"),
                json!("u"),
                json!("aws:kafka"),
                json!("SelfManagedKafka"),
                json!("arn:bad"),
                json!("nohost"),
                json!("bad!"),
                json!("dg"),
                json!("t\u{1}"),
                json!("X"),
                json!(-1),
                json!(0),
                json!(1),
                json!(11),
                json!(1.0),
                json!(1.5),
                json!(1u64 << 40),
                json!(u64::MAX),
                json!([]),
                json!([{"a": [200]}]),
                json!([{"a": [1], "b": [2]}]),
                json!([{}]),
                json!([{"a": [1.0]}]),
                json!({}),
                json!({"t-0": []}),
                json!({"nested": [1, {"x": null}]}),
            ]),
        );
        (
            any::<bool>(),
            record_member,
            top_member,
            value,
            any::<usize>(),
        )
            .prop_map(|(in_record, rm, tm, value, at)| {
                if in_record {
                    (true, rm, value, at)
                } else {
                    (false, tm, value, at)
                }
            })
    }

    fn apply(event: &mut Value, (in_record, name, value, at): &(bool, &str, Option<Value>, usize)) {
        let target = if *in_record {
            let Some(lists) = event.get_mut("records").and_then(Value::as_object_mut) else {
                return;
            };
            let count: usize = lists
                .values()
                .map(|l| l.as_array().map_or(0, Vec::len))
                .sum();
            let mut left = at % count.max(1);
            let found = lists
                .values_mut()
                .filter_map(Value::as_array_mut)
                .flatten()
                .find(|_| {
                    let here = left == 0;
                    left = left.saturating_sub(1);
                    here
                });
            match found {
                Some(record) => record,
                None => return,
            }
        } else {
            event
        };
        let Some(fields) = target.as_object_mut() else {
            return;
        };
        match value {
            Some(v) => fields.insert(name.to_string(), v.clone()),
            None => fields.remove(*name),
        };
    }

    fn event() -> impl Strategy<Value = Value> {
        (good_event(), prop::collection::vec(mutation(), 0..3)).prop_map(|(mut event, faults)| {
            for fault in &faults {
                apply(&mut event, fault);
            }
            event
        })
    }

    /// Text edits JSON values cannot express: duplicate members and an escaped member name.
    fn edit() -> impl Strategy<Value = Option<(&'static str, &'static str)>> {
        prop::option::weighted(
            0.3,
            prop::sample::select(vec![
                ("\"offset\":", "\"offset\":99,\"offset\":"),
                ("\"topic\":", "\"topic\":\"u\",\"topic\":"),
                ("\"records\":", "\"records\":{},\"records\":"),
                ("\"eventSource\":", "\"eventSource\":\"x\",\"eventSource\":"),
                ("{\"a\":", "{\"a\":[1],\"a\":"),
                ("\"value\":", "\"val\\u0075e\":"),
            ]),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// What the fast reader accepts, the precise one accepts and reads the same; and an
        /// event the precise one accepts, written without duplicates or escapes, is never left
        /// to the slow path.
        #[test]
        fn the_fast_reader_agrees_with_the_precise_one(event in event(), edit in edit()) {
            let mut text = event.to_string();
            if let Some((from, to)) = edit {
                text = text.replacen(from, to, 1);
            }
            let precise = parse_precise(text.as_bytes());
            let placed = super::placed(text.as_bytes(), "t");
            let fast = super::parse(text.as_bytes());
            prop_assert_eq!(placed.is_some(), fast.is_some(), "{}", text);
            if let (Some(placed), Ok(event)) = (placed, &precise) {
                let keys: Vec<(i32, i64)> = event.records.iter()
                    .filter(|r| r.topic == "t").map(|r| (r.partition, r.offset)).collect();
                prop_assert_eq!(placed, keys, "{}", text);
            }
            match fast {
                Some(fast) => prop_assert_eq!(precise, Ok(fast), "{}", text),
                None => prop_assert!(
                    precise.is_err() || text.contains('\\') || edit.is_some(),
                    "a well-formed event was left to the precise reader: {}", text
                ),
            }
        }
    }
}
