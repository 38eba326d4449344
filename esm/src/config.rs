//! The mapping configuration in AWS's CreateEventSourceMapping JSON shape, validated with AWS's
//! ranges. Anything invalid is refused before the consumer connects, naming field, value and
//! allowed range.
//!
//! Choices: exactly one of SelfManagedEventSource (self-managed) and EventSourceArn (MSK) is
//! required, as AWS needs one to know the cluster; with an MSK ARN the bootstrap servers come
//! from outside the mapping (the harness). A `null` field counts as absent. Unknown fields, and
//! AWS fields this project does not implement, are refused.

use crate::filter::Pattern;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtTimestamp { timestamp_s: i64 },
}

/// A validated mapping. Built only by [`MappingConfig::from_json`] / [`MappingConfig::from_value`].
#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub function_name: String,
    pub topic: String,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    pub batching_window_ms: u64,
    pub enabled: bool,
    /// From SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS; empty for MSK.
    pub bootstrap_servers: Vec<String>,
    /// Set for MSK: the event then says `aws:kafka` and carries the ARN.
    pub event_source_arn: Option<String>,
    /// `None`: the group id is the mapping's UUID.
    pub consumer_group_id: Option<String>,
    pub filters: Vec<Pattern>,
    /// The topic of a `kafka://topic` on-failure destination.
    pub destination_topic: Option<String>,
    /// `None` = infinite (-1).
    pub max_retry_attempts: Option<u32>,
    /// `None` = infinite (-1).
    pub max_record_age_s: Option<u64>,
    pub bisect_batch_on_function_error: bool,
    pub report_batch_item_failures: bool,
    pub min_pollers: u32,
    pub max_pollers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mapping config: {field} = {value}: {allowed}")]
pub struct ConfigError {
    /// AWS's field name, dotted for nested fields.
    pub field: String,
    /// The value as given (JSON text), or "missing".
    pub value: String,
    /// What is allowed, e.g. "allowed 1 to 10000".
    pub allowed: String,
}

/// Retries allowed when MaximumRetryAttempts is -1 and a destination is set (documented by AWS).
pub const INFINITE_RETRIES_WITH_DESTINATION_CAP: u32 = 10;
/// Lambda's limit on filters per mapping (the default quota is 5; it can be raised to 10).
pub const MAX_FILTERS: usize = 10;

const TOP_FIELDS: &[&str] = &[
    "FunctionName",
    "Topics",
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "Enabled",
    "SelfManagedEventSource",
    "EventSourceArn",
    "SelfManagedKafkaEventSourceConfig",
    "AmazonManagedKafkaEventSourceConfig",
    "FilterCriteria",
    "DestinationConfig",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "ProvisionedPollerConfig",
];

/// CreateEventSourceMapping fields AWS takes that this project does not implement.
const UNSUPPORTED_FIELDS: &[&str] = &[
    "SourceAccessConfigurations",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "Queues",
    "ScalingConfig",
    "DocumentDBEventSourceConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "Tags",
    "LoggingConfig",
    "SchemaRegistryConfig",
];

impl MappingConfig {
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
            field: "(mapping)".into(),
            value: excerpt(text),
            allowed: format!("not JSON ({e}); give the CreateEventSourceMapping JSON object"),
        })?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let top = Obj::root(value)?;
        top.refuse_unknown(TOP_FIELDS)?;
        let topic = topic(&top)?;
        let (bootstrap_servers, event_source_arn) = event_source(&top)?;
        let (min_pollers, max_pollers) = pollers(&top)?;
        Ok(MappingConfig {
            function_name: function_name(&top)?,
            starting_position: starting_position(&top)?,
            batch_size: top.int("BatchSize", 1, 10_000)?.unwrap_or(100) as usize,
            batching_window_ms: top
                .int("MaximumBatchingWindowInSeconds", 0, 300)?
                .map_or(500, |s| s as u64 * 1000),
            enabled: top.bool("Enabled")?.unwrap_or(true),
            bootstrap_servers,
            event_source_arn,
            consumer_group_id: consumer_group_id(&top)?,
            filters: filters(&top)?,
            destination_topic: destination(&top, &topic)?,
            max_retry_attempts: minus_one_or(&top, "MaximumRetryAttempts", 0, 10_000)?
                .map(|n| n as u32),
            max_record_age_s: minus_one_or(&top, "MaximumRecordAgeInSeconds", 60, 604_800)?
                .map(|n| n as u64),
            bisect_batch_on_function_error: top
                .bool("BisectBatchOnFunctionError")?
                .unwrap_or(false),
            report_batch_item_failures: response_types(&top)?,
            min_pollers,
            max_pollers,
            topic,
        })
    }

    /// Retries allowed after the first attempt: `None` = unbounded. Infinite retries with an
    /// on-failure destination are capped at 10 (documented by AWS).
    pub fn effective_max_retries(&self) -> Option<u32> {
        match (self.max_retry_attempts, &self.destination_topic) {
            (None, Some(_)) => Some(INFINITE_RETRIES_WITH_DESTINATION_CAP),
            (retries, _) => retries,
        }
    }

    /// `"aws:kafka"` with an EventSourceArn, else `"SelfManagedKafka"`.
    pub fn event_source(&self) -> &'static str {
        if self.event_source_arn.is_some() {
            "aws:kafka"
        } else {
            "SelfManagedKafka"
        }
    }

    /// The consumer group: ConsumerGroupId, or the mapping's UUID.
    pub fn group_id(&self, mapping_uuid: &str) -> String {
        self.consumer_group_id
            .clone()
            .unwrap_or_else(|| mapping_uuid.to_string())
    }
}

// ---- the fields --------------------------------------------------------------------------

fn function_name(top: &Obj) -> Result<String, ConfigError> {
    let name = top.required_str("FunctionName")?;
    if name.is_empty() || name.chars().count() > 140 {
        return Err(top.invalid(
            "FunctionName",
            "allowed a function name or ARN of 1 to 140 characters",
        ));
    }
    Ok(name.to_string())
}

fn topic(top: &Obj) -> Result<String, ConfigError> {
    let topics = top.required("Topics")?;
    let allowed = "allowed a list of exactly one topic name";
    let [Value::String(name)] = topics.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(top.invalid("Topics", allowed));
    };
    if !is_topic_name(name) {
        return Err(top.invalid(
            "Topics",
            "allowed a topic name of 1 to 249 characters of [a-zA-Z0-9._-], not starting with '.'",
        ));
    }
    Ok(name.clone())
}

/// AWS's topic pattern: `[^.][a-zA-Z0-9\-_.]{0,248}`.
fn is_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn starting_position(top: &Obj) -> Result<StartingPosition, ConfigError> {
    let position = top.required_str("StartingPosition")?;
    let timestamp = top.get("StartingPositionTimestamp");
    let parsed = match position {
        "TRIM_HORIZON" => StartingPosition::TrimHorizon,
        "LATEST" => StartingPosition::Latest,
        "AT_TIMESTAMP" => {
            let Some(ts) = timestamp else {
                return Err(top.missing(
                    "StartingPositionTimestamp",
                    "required with StartingPosition AT_TIMESTAMP",
                ));
            };
            return Ok(StartingPosition::AtTimestamp {
                timestamp_s: unix_seconds(top, ts)?,
            });
        }
        _ => {
            return Err(top.invalid(
                "StartingPosition",
                "allowed TRIM_HORIZON, LATEST, AT_TIMESTAMP",
            ));
        }
    };
    if timestamp.is_some() {
        return Err(top.invalid(
            "StartingPositionTimestamp",
            "allowed only with StartingPosition AT_TIMESTAMP",
        ));
    }
    Ok(parsed)
}

/// Unix seconds (a number) or an RFC 3339 string, not in the future.
fn unix_seconds(top: &Obj, ts: &Value) -> Result<i64, ConfigError> {
    const FIELD: &str = "StartingPositionTimestamp";
    let allowed = "allowed Unix seconds (or an RFC 3339 time) not in the future";
    let seconds = match ts {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp()),
        _ => None,
    }
    .filter(|&s| s >= 0)
    .ok_or_else(|| top.invalid(FIELD, allowed))?;
    if seconds > chrono::Utc::now().timestamp() {
        return Err(top.invalid(FIELD, allowed));
    }
    Ok(seconds)
}

fn event_source(top: &Obj) -> Result<(Vec<String>, Option<String>), ConfigError> {
    const SELF_MANAGED: &str = "SelfManagedEventSource";
    let either = "required: SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS (self-managed) \
                  or EventSourceArn (MSK), exactly one";
    match (top.get(SELF_MANAGED), top.get("EventSourceArn")) {
        (Some(_), Some(_)) => Err(top.invalid("EventSourceArn", either)),
        (None, None) => Err(top.missing(SELF_MANAGED, either)),
        (None, Some(_)) => {
            let arn = top.required_str("EventSourceArn")?;
            if !is_msk_arn(arn) {
                return Err(top.invalid(
                    "EventSourceArn",
                    "allowed an MSK cluster ARN (arn:aws:kafka:region:account:cluster/...); \
                     for a self-managed cluster use SelfManagedEventSource",
                ));
            }
            Ok((vec![], Some(arn.to_string())))
        }
        (Some(_), None) => {
            let source = top.object(SELF_MANAGED)?.expect("present");
            source.refuse_unknown(&["Endpoints"])?;
            let endpoints = source.required_object("Endpoints")?;
            endpoints.refuse_unknown(&["KAFKA_BOOTSTRAP_SERVERS"])?;
            Ok((bootstrap_servers(&endpoints)?, None))
        }
    }
}

fn is_msk_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "kafka", _, _, resource]
        if partition.starts_with("aws") && !resource.is_empty())
}

fn bootstrap_servers(endpoints: &Obj) -> Result<Vec<String>, ConfigError> {
    const FIELD: &str = "KAFKA_BOOTSTRAP_SERVERS";
    let allowed = "allowed a non-empty list of \"host:port\" strings";
    let list = endpoints
        .required(FIELD)?
        .as_array()
        .filter(|l| !l.is_empty());
    let servers = list.ok_or_else(|| endpoints.invalid(FIELD, allowed))?;
    servers
        .iter()
        .map(|s| match s.as_str() {
            Some(text) if is_host_port(text) => Ok(text.to_string()),
            _ => Err(endpoints.invalid(FIELD, allowed)),
        })
        .collect()
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(',') && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

fn consumer_group_id(top: &Obj) -> Result<Option<String>, ConfigError> {
    let mut found = None;
    for section in [
        "SelfManagedKafkaEventSourceConfig",
        "AmazonManagedKafkaEventSourceConfig",
    ] {
        let Some(config) = top.object(section)? else {
            continue;
        };
        config.refuse_unknown(&["ConsumerGroupId"])?;
        let Some(id) = config.str("ConsumerGroupId")? else {
            continue;
        };
        let valid = (1..=200).contains(&id.chars().count())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-/*:_+=.@".contains(c));
        if !valid {
            return Err(config.invalid(
                "ConsumerGroupId",
                "allowed 1 to 200 characters of [a-zA-Z0-9-/*:_+=.@-]",
            ));
        }
        if found.is_some() {
            return Err(config.invalid(
                "ConsumerGroupId",
                "give it once, in SelfManagedKafkaEventSourceConfig or AmazonManagedKafkaEventSourceConfig",
            ));
        }
        found = Some(id.to_string());
    }
    Ok(found)
}

fn filters(top: &Obj) -> Result<Vec<Pattern>, ConfigError> {
    let Some(criteria) = top.object("FilterCriteria")? else {
        return Ok(vec![]);
    };
    criteria.refuse_unknown(&["Filters"])?;
    let Some(list) = criteria.get("Filters") else {
        return Ok(vec![]);
    };
    let allowed =
        format!("allowed a list of at most {MAX_FILTERS} {{\"Pattern\": \"...\"}} objects");
    let items = list
        .as_array()
        .filter(|l| l.len() <= MAX_FILTERS)
        .ok_or_else(|| criteria.invalid("Filters", &allowed))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let filter = Obj::nested(item, format!("FilterCriteria.Filters[{i}]"))
                .ok_or_else(|| criteria.invalid("Filters", &allowed))?;
            filter.refuse_unknown(&["Pattern"])?;
            let text = filter.str("Pattern")?.ok_or_else(|| {
                filter.missing(
                    "Pattern",
                    "required: the pattern as a JSON string, e.g. \"{\\\"value\\\": ...}\"",
                )
            })?;
            Pattern::parse(text).map_err(|e| filter.invalid("Pattern", &e))
        })
        .collect()
}

fn destination(top: &Obj, source_topic: &str) -> Result<Option<String>, ConfigError> {
    let Some(config) = top.object("DestinationConfig")? else {
        return Ok(None);
    };
    config.refuse_unknown(&["OnFailure"])?;
    let Some(on_failure) = config.object("OnFailure")? else {
        return Ok(None);
    };
    on_failure.refuse_unknown(&["Destination"])?;
    let Some(dest) = on_failure.str("Destination")? else {
        return Ok(None);
    };
    if dest.is_empty() {
        return Ok(None);
    }
    let Some(topic) = dest.strip_prefix("kafka://") else {
        return Err(on_failure.invalid(
            "Destination",
            "this project supports kafka://topic destinations (SQS, SNS and S3 ARNs are not supported)",
        ));
    };
    if !is_topic_name(topic) {
        return Err(on_failure.invalid(
            "Destination",
            "allowed kafka://<topic> with a topic of 1 to 249 characters of [a-zA-Z0-9._-], not starting with '.'",
        ));
    }
    if topic == source_topic {
        return Err(on_failure.invalid(
            "Destination",
            "must not be the source topic (it would loop)",
        ));
    }
    Ok(Some(topic.to_string()))
}

/// -1 (infinite, `None`) or `min..=max`.
fn minus_one_or(top: &Obj, field: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
    let allowed = format!("allowed -1 (infinite) or {min} to {max}");
    match top.integer(field, &allowed)? {
        None | Some(-1) => Ok(None),
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        Some(_) => Err(top.invalid(field, &allowed)),
    }
}

fn response_types(top: &Obj) -> Result<bool, ConfigError> {
    const FIELD: &str = "FunctionResponseTypes";
    let Some(list) = top.get(FIELD) else {
        return Ok(false);
    };
    let allowed = "allowed [\"ReportBatchItemFailures\"] or []";
    let items = list.as_array().ok_or_else(|| top.invalid(FIELD, allowed))?;
    if items.iter().any(|t| t != "ReportBatchItemFailures") {
        return Err(top.invalid(FIELD, allowed));
    }
    Ok(!items.is_empty())
}

fn pollers(top: &Obj) -> Result<(u32, u32), ConfigError> {
    let Some(config) = top.object("ProvisionedPollerConfig")? else {
        return Ok((1, 200));
    };
    config.refuse_unknown(&["MinimumPollers", "MaximumPollers"])?;
    let min = config.int("MinimumPollers", 1, 200)?.unwrap_or(1);
    let max = config.int("MaximumPollers", 1, 2000)?.unwrap_or(200);
    if max < min {
        return Err(config.invalid(
            "MaximumPollers",
            &format!("allowed MinimumPollers ({min}) to 2000: must not be below MinimumPollers"),
        ));
    }
    Ok((min as u32, max as u32))
}

// ---- a JSON object at a dotted path --------------------------------------------------------

struct Obj<'a> {
    /// Dotted path of this object, empty at the top.
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn root(value: &'a Value) -> Result<Obj<'a>, ConfigError> {
        Obj::nested(value, String::new()).ok_or_else(|| ConfigError {
            field: "(mapping)".into(),
            value: show(value),
            allowed: "must be a JSON object in the CreateEventSourceMapping shape".into(),
        })
    }

    fn nested(value: &'a Value, path: String) -> Option<Obj<'a>> {
        value.as_object().map(|map| Obj { path, map })
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The field, `None` when missing or null.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, ConfigError> {
        self.get(name).ok_or_else(|| self.missing(name, "required"))
    }

    fn missing(&self, name: &str, allowed: &str) -> ConfigError {
        ConfigError {
            field: self.field(name),
            value: "missing".into(),
            allowed: allowed.into(),
        }
    }

    /// The field's value refused with `allowed`.
    fn invalid(&self, name: &str, allowed: &str) -> ConfigError {
        ConfigError {
            field: self.field(name),
            value: self.map.get(name).map_or_else(|| "missing".into(), show),
            allowed: allowed.into(),
        }
    }

    fn refuse_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        let Some(unknown) = self.map.keys().find(|k| !known.contains(&k.as_str())) else {
            return Ok(());
        };
        let allowed = if self.path.is_empty() && UNSUPPORTED_FIELDS.contains(&unknown.as_str()) {
            "an AWS field this project does not support: remove it".to_string()
        } else {
            format!(
                "unknown field (did you mean {}?)",
                self.field(nearest(unknown, known))
            )
        };
        Err(self.invalid(unknown, &allowed))
    }

    fn object(&self, name: &str) -> Result<Option<Obj<'a>>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        Obj::nested(value, self.field(name))
            .map(Some)
            .ok_or_else(|| self.invalid(name, "must be a JSON object"))
    }

    fn required_object(&self, name: &str) -> Result<Obj<'a>, ConfigError> {
        self.object(name)?
            .ok_or_else(|| self.missing(name, "required"))
    }

    fn str(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(name, "must be a string")),
        }
    }

    fn required_str(&self, name: &str) -> Result<&'a str, ConfigError> {
        self.str(name)?
            .ok_or_else(|| self.missing(name, "required"))
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(name, "allowed true or false")),
        }
    }

    /// An integer; `allowed` is shown when it is of another type.
    fn integer(&self, name: &str, allowed: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.invalid(name, &format!("must be an integer; {allowed}"))),
        }
    }

    fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        let allowed = format!("allowed {min} to {max}");
        match self.integer(name, &allowed)? {
            Some(n) if !(min..=max).contains(&n) => Err(self.invalid(name, &allowed)),
            n => Ok(n),
        }
    }
}

/// JSON text of a value, shortened for messages.
fn show(value: &Value) -> String {
    excerpt(&value.to_string())
}

fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 120;
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    text.chars().take(MAX_CHARS).chain("...".chars()).collect()
}

/// The known name closest to `name` (case-insensitive edit distance).
fn nearest<'k>(name: &str, known: &[&'k str]) -> &'k str {
    let lower = name.to_lowercase();
    known
        .iter()
        .min_by_key(|k| edit_distance(&lower, &k.to_lowercase()))
        .copied()
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "FunctionName": "my-fn",
            "Topics": ["orders"],
            "StartingPosition": "TRIM_HORIZON",
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}},
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = minimal();
        v[field] = value;
        v
    }

    fn err(v: Value) -> ConfigError {
        MappingConfig::from_value(&v).unwrap_err()
    }

    #[test]
    fn defaults_follow_the_spec_table() {
        let c = MappingConfig::from_value(&minimal()).unwrap();
        assert_eq!(c.function_name, "my-fn");
        assert_eq!(c.topic, "orders");
        assert_eq!(c.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(
            (c.batch_size, c.batching_window_ms, c.enabled),
            (100, 500, true)
        );
        assert_eq!(c.bootstrap_servers, ["127.0.0.1:9092"]);
        assert_eq!(
            (c.event_source_arn.clone(), c.consumer_group_id.clone()),
            (None, None)
        );
        assert!(c.filters.is_empty() && c.destination_topic.is_none());
        assert_eq!((c.max_retry_attempts, c.max_record_age_s), (None, None));
        assert!(!c.bisect_batch_on_function_error && !c.report_batch_item_failures);
        assert_eq!((c.min_pollers, c.max_pollers), (1, 200));
        assert_eq!(c.effective_max_retries(), None);
        assert_eq!(c.event_source(), "SelfManagedKafka");
        assert_eq!(c.group_id("uuid-1"), "uuid-1");
    }

    #[test]
    fn a_full_mapping_parses() {
        let text = r#"{
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Topics": ["my-topic"], "StartingPosition": "AT_TIMESTAMP",
            "StartingPositionTimestamp": 1700000000, "BatchSize": 10000,
            "MaximumBatchingWindowInSeconds": 0, "Enabled": false,
            "EventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc-1",
            "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "grp/a*b:c_d+e=f.g@h-i"},
            "FilterCriteria": {"Filters": [{"Pattern": "{\"value\": {\"a\": [1]}}"}]},
            "DestinationConfig": {"OnFailure": {"Destination": "kafka://dlq"}},
            "MaximumRetryAttempts": 3, "MaximumRecordAgeInSeconds": 60,
            "BisectBatchOnFunctionError": true,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 2}
        }"#;
        let c = MappingConfig::from_json(text).unwrap();
        assert_eq!(
            c.starting_position,
            StartingPosition::AtTimestamp {
                timestamp_s: 1_700_000_000
            }
        );
        assert_eq!(
            (c.batch_size, c.batching_window_ms, c.enabled),
            (10_000, 0, false)
        );
        assert!(c.bootstrap_servers.is_empty());
        assert_eq!(c.event_source(), "aws:kafka");
        assert_eq!(c.group_id("uuid"), "grp/a*b:c_d+e=f.g@h-i");
        assert!(c.filters[0].matches_value(Some(br#"{"a": 1}"#)));
        assert_eq!(c.destination_topic.as_deref(), Some("dlq"));
        assert_eq!(
            (c.max_retry_attempts, c.max_record_age_s),
            (Some(3), Some(60))
        );
        assert_eq!(c.effective_max_retries(), Some(3));
        assert!(c.bisect_batch_on_function_error && c.report_batch_item_failures);
        assert_eq!((c.min_pollers, c.max_pollers), (2, 2));
    }

    #[test]
    fn infinite_retries_with_a_destination_are_capped_at_ten() {
        let mut v = with(
            "DestinationConfig",
            json!({"OnFailure": {"Destination": "kafka://dlq"}}),
        );
        v["MaximumRetryAttempts"] = json!(-1);
        let c = MappingConfig::from_value(&v).unwrap();
        assert_eq!(
            (c.max_retry_attempts, c.effective_max_retries()),
            (None, Some(10))
        );
    }

    #[test]
    fn messages_name_field_value_and_range() {
        assert_eq!(
            err(with("BatchSize", json!(0))).to_string(),
            "invalid mapping config: BatchSize = 0: allowed 1 to 10000"
        );
        assert_eq!(
            err(with("StartingPosition", json!("EARLIEST"))).to_string(),
            r#"invalid mapping config: StartingPosition = "EARLIEST": allowed TRIM_HORIZON, LATEST, AT_TIMESTAMP"#
        );
        let mut v = minimal();
        v.as_object_mut().unwrap().remove("FunctionName");
        assert_eq!(
            err(v).to_string(),
            "invalid mapping config: FunctionName = missing: required"
        );
        assert_eq!(
            err(with("BatchSzie", json!(5))).to_string(),
            "invalid mapping config: BatchSzie = 5: unknown field (did you mean BatchSize?)"
        );
        assert_eq!(
            err(with("BatchSize", json!("10"))).to_string(),
            r#"invalid mapping config: BatchSize = "10": must be an integer; allowed 1 to 10000"#
        );
    }

    #[test]
    fn ranges_are_enforced_at_both_ends() {
        let cases = [
            ("BatchSize", json!(10_001), "allowed 1 to 10000"),
            ("BatchSize", json!(1.5), "integer"),
            (
                "MaximumBatchingWindowInSeconds",
                json!(301),
                "allowed 0 to 300",
            ),
            (
                "MaximumBatchingWindowInSeconds",
                json!(-1),
                "allowed 0 to 300",
            ),
            (
                "MaximumRetryAttempts",
                json!(10_001),
                "-1 (infinite) or 0 to 10000",
            ),
            (
                "MaximumRetryAttempts",
                json!(-2),
                "-1 (infinite) or 0 to 10000",
            ),
            (
                "MaximumRecordAgeInSeconds",
                json!(59),
                "-1 (infinite) or 60 to 604800",
            ),
            ("MaximumRecordAgeInSeconds", json!(604_801), "60 to 604800"),
            ("Enabled", json!("yes"), "true or false"),
            ("BisectBatchOnFunctionError", json!(1), "true or false"),
            (
                "FunctionResponseTypes",
                json!(["Other"]),
                "ReportBatchItemFailures",
            ),
            ("Topics", json!(["a", "b"]), "exactly one"),
            ("Topics", json!([]), "exactly one"),
            ("Topics", json!("orders"), "exactly one"),
            ("Topics", json!(["bad topic"]), "[a-zA-Z0-9._-]"),
            ("FunctionName", json!(""), "1 to 140"),
            ("FunctionName", json!(7), "string"),
        ];
        for (field, value, expected) in cases {
            let e = err(with(field, value.clone()));
            assert_eq!(e.field, field, "{value}");
            assert!(e.allowed.contains(expected), "{field} = {value}: {e}");
        }
        let edges = [
            ("BatchSize", 1),
            ("BatchSize", 10_000),
            ("MaximumBatchingWindowInSeconds", 300),
            ("MaximumRetryAttempts", 0),
            ("MaximumRetryAttempts", 10_000),
            ("MaximumRecordAgeInSeconds", 60),
            ("MaximumRecordAgeInSeconds", 604_800),
            ("MaximumRecordAgeInSeconds", -1),
        ];
        for (field, n) in edges {
            assert!(
                MappingConfig::from_value(&with(field, json!(n))).is_ok(),
                "{field} = {n}"
            );
        }
    }

    #[test]
    fn starting_position_timestamp_rules() {
        let at = |ts: Value| {
            let mut v = with("StartingPosition", json!("AT_TIMESTAMP"));
            v["StartingPositionTimestamp"] = ts;
            MappingConfig::from_value(&v)
        };
        assert_eq!(
            err(with("StartingPosition", json!("AT_TIMESTAMP"))).value,
            "missing"
        );
        let future = chrono::Utc::now().timestamp() + 3600;
        assert!(
            at(json!(future))
                .unwrap_err()
                .allowed
                .contains("not in the future")
        );
        assert!(at(json!("yesterday")).is_err());
        let c = at(json!("2024-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            c.starting_position,
            StartingPosition::AtTimestamp {
                timestamp_s: 1_704_067_200
            }
        );
        assert!(at(json!(1_700_000_000.7)).is_ok());
        let e = err(with("StartingPositionTimestamp", json!(1)));
        assert!(
            e.allowed
                .contains("only with StartingPosition AT_TIMESTAMP")
        );
    }

    #[test]
    fn exactly_one_event_source() {
        let mut both = with(
            "EventSourceArn",
            json!("arn:aws:kafka:us-east-1:1:cluster/c/x"),
        );
        assert!(err(both.clone()).allowed.contains("exactly one"));
        both.as_object_mut()
            .unwrap()
            .remove("SelfManagedEventSource");
        assert!(MappingConfig::from_value(&both).is_ok());
        let mut neither = minimal();
        neither
            .as_object_mut()
            .unwrap()
            .remove("SelfManagedEventSource");
        assert_eq!(err(neither).value, "missing");
        let mut sqs = minimal();
        sqs.as_object_mut()
            .unwrap()
            .remove("SelfManagedEventSource");
        sqs["EventSourceArn"] = json!("arn:aws:sqs:us-east-1:1:q");
        assert!(err(sqs).allowed.contains("MSK cluster ARN"));
    }

    #[test]
    fn bootstrap_servers_are_host_port_lists() {
        for bad in [
            json!([]),
            json!(["localhost"]),
            json!(["h:0"]),
            json!(["h:x"]),
            json!("h:1"),
            json!([":9092"]),
        ] {
            let v = with(
                "SelfManagedEventSource",
                json!({"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": bad}}),
            );
            assert_eq!(
                err(v).field,
                "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS"
            );
        }
        let v = with(
            "SelfManagedEventSource",
            json!({"Endpoints": {"KAFKA_BOOTSTRAP_SERVER": ["h:1"]}}),
        );
        let e = err(v);
        assert_eq!(
            e.field,
            "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVER"
        );
        assert!(
            e.allowed
                .contains("did you mean SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS?")
        );
    }

    #[test]
    fn consumer_group_ids() {
        let group = |id: Value| {
            with(
                "SelfManagedKafkaEventSourceConfig",
                json!({"ConsumerGroupId": id}),
            )
        };
        assert_eq!(
            MappingConfig::from_value(&group(json!("g-1")))
                .unwrap()
                .group_id("u"),
            "g-1"
        );
        for bad in [
            json!(""),
            json!("has space"),
            json!("x".repeat(201)),
            json!("é"),
        ] {
            let e = err(group(bad));
            assert_eq!(e.field, "SelfManagedKafkaEventSourceConfig.ConsumerGroupId");
            assert!(e.allowed.contains("1 to 200"));
        }
        assert!(MappingConfig::from_value(&group(json!("x".repeat(200)))).is_ok());
    }

    #[test]
    fn destinations() {
        let dest = |d: &str| {
            with(
                "DestinationConfig",
                json!({"OnFailure": {"Destination": d}}),
            )
        };
        let sqs = err(dest("arn:aws:sqs:us-east-1:123456789012:dlq"));
        assert_eq!(sqs.field, "DestinationConfig.OnFailure.Destination");
        assert!(
            sqs.allowed
                .contains("this project supports kafka://topic destinations")
        );
        assert!(err(dest("kafka://orders")).allowed.contains("source topic"));
        assert!(err(dest("kafka://")).allowed.contains("kafka://<topic>"));
        assert!(err(dest("kafka://.x")).allowed.contains("kafka://<topic>"));
        assert_eq!(
            MappingConfig::from_value(&dest(""))
                .unwrap()
                .destination_topic,
            None
        );
        let on_success = with(
            "DestinationConfig",
            json!({"OnSuccess": {"Destination": "kafka://x"}}),
        );
        assert!(
            err(on_success)
                .allowed
                .contains("did you mean DestinationConfig.OnFailure?")
        );
    }

    #[test]
    fn filters_are_parsed_and_errors_point_at_the_filter() {
        let f = |filters: Value| with("FilterCriteria", json!({"Filters": filters}));
        let bad = err(f(
            json!([{"Pattern": "{\"value\": {\"a\": [1]}}"}, {"Pattern": "{\"key\": [1]}"}]),
        ));
        assert_eq!(bad.field, "FilterCriteria.Filters[1].Pattern");
        assert!(bad.allowed.contains("\"value\""));
        let object = err(f(json!([{"Pattern": {"value": [1]}}])));
        assert!(object.allowed.contains("string"), "{object}");
        let too_many = json!(
            (0..11)
                .map(|_| json!({"Pattern": "{\"value\": [1]}"}))
                .collect::<Vec<_>>()
        );
        assert!(err(f(too_many)).allowed.contains("at most 10"));
        assert_eq!(
            MappingConfig::from_value(&f(json!([])))
                .unwrap()
                .filters
                .len(),
            0
        );
    }

    #[test]
    fn pollers() {
        let p = |v: Value| with("ProvisionedPollerConfig", v);
        assert!(
            err(p(json!({"MinimumPollers": 0})))
                .allowed
                .contains("1 to 200")
        );
        assert!(
            err(p(json!({"MinimumPollers": 201})))
                .allowed
                .contains("1 to 200")
        );
        assert!(
            err(p(json!({"MaximumPollers": 2001})))
                .allowed
                .contains("1 to 2000")
        );
        let below = err(p(json!({"MinimumPollers": 5, "MaximumPollers": 3})));
        assert_eq!(below.field, "ProvisionedPollerConfig.MaximumPollers");
        assert!(below.allowed.contains("MinimumPollers (5)"));
        let c = MappingConfig::from_value(&p(json!({"MaximumPollers": 4}))).unwrap();
        assert_eq!((c.min_pollers, c.max_pollers), (1, 4));
    }

    #[test]
    fn unknown_and_unsupported_fields_are_refused() {
        let e = err(with("UUID", json!("abc")));
        assert!(e.allowed.starts_with("unknown field (did you mean"), "{e}");
        let e = err(with("SourceAccessConfigurations", json!([])));
        assert!(e.allowed.contains("does not support"), "{e}");
        assert!(MappingConfig::from_value(&with("BatchSize", Value::Null)).is_ok());
        assert!(
            MappingConfig::from_json("[]")
                .unwrap_err()
                .allowed
                .contains("JSON object")
        );
        assert!(
            MappingConfig::from_json("{")
                .unwrap_err()
                .allowed
                .contains("not JSON")
        );
    }

    proptest! {
        #[test]
        fn batch_size_accepted_exactly_in_range(n in -5i64..10_010) {
            let result = MappingConfig::from_value(&with("BatchSize", json!(n)));
            prop_assert_eq!(result.is_ok(), (1..=10_000).contains(&n));
            if let Ok(c) = result {
                prop_assert_eq!(c.batch_size as i64, n);
            }
        }

        #[test]
        fn misspelt_fields_suggest_the_intended_one(i in 0..TOP_FIELDS.len(), cut in any::<prop::sample::Index>()) {
            let field = TOP_FIELDS[i];
            let pos = cut.index(field.len());
            let typo = format!("{}{}", &field[..pos], &field[pos + 1..]);
            let e = err(with(&typo, json!(1)));
            prop_assert_eq!(e.field, typo);
            prop_assert_eq!(e.allowed, format!("unknown field (did you mean {field}?)"));
        }
    }
}
