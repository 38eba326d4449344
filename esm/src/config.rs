//! The mapping configuration in AWS's CreateEventSourceMapping JSON shape, validated with AWS's
//! limits. Anything invalid is refused before the consumer connects; every fault of a config is
//! reported at once, each naming field, value and allowed range.
//!
//! The limits are botocore's Lambda service model (the model the AWS CLI sends against), checked
//! by `tests/botocore_limits.rs` against a committed extract of it; where the Kafka pages of the
//! Lambda guide are stricter than the model, the stricter documented value is used.
//!
//! What users paste is accepted: the output of `aws lambda get-event-source-mapping` (its
//! read-only fields are ignored and FunctionArn stands in for FunctionName) or of
//! `list-event-source-mappings` holding exactly one mapping. Fields AWS accepts that this project
//! does not emulate are accepted and named in one warning ([`MappingConfig::warning`]); fields
//! that are not in AWS's shape at all are refused with the nearest name.
//!
//! Choices: exactly one of SelfManagedEventSource (self-managed) and EventSourceArn (MSK) is
//! required, as AWS needs one to know the cluster; with an MSK ARN the bootstrap servers come
//! from outside the mapping (the harness). A `null` field counts as absent, as does an empty
//! not-emulated field.

use crate::filter::Pattern;
use serde_json::{Map, Value};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtTimestamp { timestamp_s: i64 },
}

/// A validated mapping. Built only by [`MappingConfig::from_json`] / [`MappingConfig::from_value`].
#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// FunctionName, or FunctionArn when a pasted get-event-source-mapping output has no name.
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
    /// ProvisionedPollerConfig sets MinimumPollers or MaximumPollers.
    pub provisioned_mode: bool,
    pub min_pollers: u32,
    pub max_pollers: u32,
    /// Fields AWS accepts that this project does not emulate (dotted paths), sorted.
    pub ignored_fields: Vec<String>,
}

/// One fault of a mapping config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {allowed}")]
pub struct ConfigError {
    /// AWS's field name, dotted for nested fields.
    pub field: String,
    /// The value as given (JSON text), or "missing".
    pub value: String,
    /// What is allowed, e.g. "allowed 1 to 10000".
    pub allowed: String,
}

/// Every fault of a refused mapping config, in the order of the fields; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    /// One fault on one line; several as a count followed by one line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid mapping config: {one}"),
            all => {
                write!(f, "invalid mapping config: {} faults", all.len())?;
                all.iter().try_for_each(|fault| write!(f, "\n  - {fault}"))
            }
        }
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(fault: ConfigError) -> Self {
        ConfigErrors(vec![fault])
    }
}

/// Retries allowed when MaximumRetryAttempts is -1 and a destination is set (documented by AWS).
pub const INFINITE_RETRIES_WITH_DESTINATION_CAP: u32 = 10;
/// Filters per mapping: Lambda's default quota ("Control which events Lambda sends to your
/// function": up to five filters; the quota can be raised to 10). botocore sets no limit.
pub const FILTERS_MAX: usize = 5;
/// KAFKA_BOOTSTRAP_SERVERS entries (botocore: EndpointLists max 10).
pub const BOOTSTRAP_SERVERS_MAX: usize = 10;
/// A bootstrap server's length (botocore: Endpoint max 300).
pub const ENDPOINT_CHARS_MAX: usize = 300;
/// A bare function name's length (API reference, CreateEventSourceMapping: "If you specify only
/// the function name, it's limited to 64 characters in length").
pub const FUNCTION_NAME_CHARS_MAX: usize = 64;
/// A FunctionName with its ARN parts (botocore: NamespacedFunctionName max 256).
pub const FUNCTION_ARN_CHARS_MAX: usize = 256;
/// A consumer group id's length (botocore: URI max 200).
pub const CONSUMER_GROUP_ID_CHARS_MAX: usize = 200;
/// An on-failure destination's length (botocore: DestinationArn max 350).
pub const DESTINATION_CHARS_MAX: usize = 350;
/// ProvisionedPollerConfig.MinimumPollers (botocore and "Apache Kafka event poller scaling
/// modes in Lambda": 1 to 200).
pub const MIN_POLLERS_MAX: i64 = 200;
/// ProvisionedPollerConfig.MaximumPollers for Kafka. botocore's shape allows 10,000 (SQS's
/// ceiling); its documentation and "Apache Kafka event poller scaling modes in Lambda"
/// (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html) say 1 to 2,000 for
/// Amazon MSK and self-managed Apache Kafka.
pub const MAX_POLLERS_MAX: i64 = 2_000;
/// Longest config file read, far above any real mapping (a few KB).
pub const CONFIG_BYTES_MAX: u64 = 1 << 20;

/// The fields of one object of the shape: those read, and those AWS accepts that this project
/// does not emulate (accepted and named in a warning). `path` is dotted, `[]` for list items.
#[derive(Debug)]
pub struct ObjectFields {
    pub path: &'static str,
    pub read: &'static [&'static str],
    pub not_emulated: &'static [&'static str],
}

/// Every object of CreateEventSourceMappingRequest the consumer reads, with its members.
pub const FIELDS: &[ObjectFields] = &[
    ObjectFields {
        path: "",
        read: &[
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
        ],
        not_emulated: &[
            "SourceAccessConfigurations",
            "KMSKeyArn",
            "MetricsConfig",
            "LoggingConfig",
            "Tags",
            "ParallelizationFactor",
            "TumblingWindowInSeconds",
            "ScalingConfig",
            "Queues",
            "DocumentDBEventSourceConfig",
        ],
    },
    ObjectFields {
        path: "SelfManagedEventSource",
        read: &["Endpoints"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "SelfManagedEventSource.Endpoints",
        read: &["KAFKA_BOOTSTRAP_SERVERS"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "SelfManagedKafkaEventSourceConfig",
        read: &["ConsumerGroupId"],
        not_emulated: &["SchemaRegistryConfig", "ConsumptionMode"],
    },
    ObjectFields {
        path: "AmazonManagedKafkaEventSourceConfig",
        read: &["ConsumerGroupId"],
        not_emulated: &["SchemaRegistryConfig"],
    },
    ObjectFields {
        path: "FilterCriteria",
        read: &["Filters"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "FilterCriteria.Filters[]",
        read: &["Pattern"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "DestinationConfig",
        read: &["OnFailure", "OnSuccess"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "DestinationConfig.OnFailure",
        read: &["Destination"],
        not_emulated: &[],
    },
    ObjectFields {
        path: "ProvisionedPollerConfig",
        read: &["MinimumPollers", "MaximumPollers"],
        not_emulated: &["PollerGroupName"],
    },
];

/// Members of get-event-source-mapping's output that CreateEventSourceMapping does not take:
/// ignored when pasted (FunctionArn names the function when FunctionName is absent).
pub const READ_ONLY_FIELDS: &[&str] = &[
    "UUID",
    "State",
    "StateTransitionReason",
    "LastModified",
    "LastProcessingResult",
    "FunctionArn",
    "EventSourceMappingArn",
    "FilterCriteriaError",
];

/// "Using a Kafka topic as an on-failure destination" and "Configuring error handling controls
/// for Kafka event sources" (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html,
/// https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html): these are
/// "only available for event source mappings with provisioned mode enabled".
const PROVISIONED_ONLY: &str = "only available for event source mappings with provisioned mode \
     enabled: add ProvisionedPollerConfig, e.g. {\"MinimumPollers\": 1}";

impl MappingConfig {
    pub fn from_json(text: &str) -> Result<Self, ConfigErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
            field: "(mapping)".into(),
            value: excerpt(text),
            allowed: format!("not JSON ({e}); give the CreateEventSourceMapping JSON object"),
        })?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self, ConfigErrors> {
        let top = Obj::root(single_mapping(value)?)?;
        // A field at fault falls back to its default so the others are still checked; the
        // config is returned only when nothing was at fault.
        let mut c = Collector::default();
        c.check_fields(&top);
        let topic = c.take(topic(&top)).unwrap_or_default();
        let source = event_source(&top, &mut c);
        let (bootstrap_servers, event_source_arn) = c.take(source).unwrap_or_default();
        let pollers = pollers(&top, &mut c);
        let (min_pollers, max_pollers, provisioned_mode) =
            c.take(pollers).unwrap_or((1, 200, false));
        let group = consumer_group_id(&top, &mut c);
        let filters = filters(&top, &mut c);
        let destination = destination(&top, &topic, &mut c);
        let config = MappingConfig {
            function_name: c.take(function_name(&top)).unwrap_or_default(),
            starting_position: c
                .take(starting_position(&top))
                .unwrap_or(StartingPosition::TrimHorizon),
            batch_size: c
                .take(top.int("BatchSize", 1, 10_000))
                .flatten()
                .unwrap_or(100) as usize,
            batching_window_ms: c
                .take(top.int("MaximumBatchingWindowInSeconds", 0, 300))
                .flatten()
                .map_or(500, |s| s as u64 * 1000),
            enabled: c.take(top.bool("Enabled")).flatten().unwrap_or(true),
            bootstrap_servers,
            event_source_arn,
            consumer_group_id: c.take(group).flatten(),
            filters: c.take(filters).unwrap_or_default(),
            destination_topic: c.take(destination).flatten(),
            // "Configuring error handling controls for Kafka event sources": retries 0-10000 or
            // -1, record age 60-604800 or -1 (botocore's generic shapes say -1 to the maximum).
            max_retry_attempts: c
                .take(minus_one_or(&top, "MaximumRetryAttempts", 0, 10_000))
                .flatten()
                .map(|n| n as u32),
            max_record_age_s: c
                .take(minus_one_or(&top, "MaximumRecordAgeInSeconds", 60, 604_800))
                .flatten()
                .map(|n| n as u64),
            bisect_batch_on_function_error: c
                .take(top.bool("BisectBatchOnFunctionError"))
                .flatten()
                .unwrap_or(false),
            report_batch_item_failures: c.take(response_types(&top)).unwrap_or(false),
            provisioned_mode,
            min_pollers,
            max_pollers,
            topic,
            ignored_fields: Vec::new(),
        };
        c.faults.extend(provisioned_only(&top, &config));
        c.finish(config)
    }

    /// The one warning naming every field accepted but not emulated, if any.
    pub fn warning(&self) -> Option<String> {
        (!self.ignored_fields.is_empty()).then(|| {
            format!(
                "accepted but not emulated by this consumer, so ignored: {}",
                self.ignored_fields.join(", ")
            )
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

/// Faults and ignored fields found so far.
#[derive(Default)]
struct Collector {
    faults: Vec<ConfigError>,
    ignored: Vec<String>,
}

impl Collector {
    fn take<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|fault| self.faults.push(fault)).ok()
    }

    /// Records every unknown field of `obj` as a fault and every not-emulated one as ignored.
    fn check_fields(&mut self, obj: &Obj) {
        let Some(fields) = FIELDS.iter().find(|f| f.path == obj.schema) else {
            return;
        };
        let read_only: &[&str] = if obj.schema.is_empty() {
            READ_ONLY_FIELDS
        } else {
            &[]
        };
        for (name, value) in obj.map {
            if fields.read.contains(&name.as_str()) || read_only.contains(&name.as_str()) {
                continue;
            }
            if fields.not_emulated.contains(&name.as_str()) {
                if !is_empty(value) {
                    self.ignored.push(obj.field(name));
                }
                continue;
            }
            let known: Vec<&str> = [fields.read, fields.not_emulated, read_only].concat();
            let allowed = format!(
                "unknown field (did you mean {}?)",
                obj.field(nearest(name, &known))
            );
            self.faults.push(obj.invalid(name, &allowed));
        }
    }

    fn finish(self, mut config: MappingConfig) -> Result<MappingConfig, ConfigErrors> {
        if !self.faults.is_empty() {
            return Err(ConfigErrors(self.faults));
        }
        config.ignored_fields = self.ignored;
        // Sorted: JSON object order is not the input's when serde_json's preserve_order is off.
        config.ignored_fields.sort_unstable();
        Ok(config)
    }
}

/// Null, `""`, `[]` and `{}`: a field given as nothing.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The mapping itself, or the single mapping of `list-event-source-mappings` output.
fn single_mapping(value: &Value) -> Result<&Value, ConfigError> {
    const LIST: &str = "EventSourceMappings";
    let Some(map) = value.as_object() else {
        return Ok(value);
    };
    let is_list_output =
        map.contains_key(LIST) && map.keys().all(|k| k == LIST || k == "NextMarker");
    if !is_list_output {
        return Ok(value);
    }
    match map[LIST].as_array().map(Vec::as_slice) {
        Some([one]) => Ok(one),
        other => Err(ConfigError {
            field: LIST.into(),
            value: other.map_or_else(|| show(&map[LIST]), |l| format!("{} mappings", l.len())),
            allowed: "allowed exactly one mapping: paste one item of list-event-source-mappings, \
                      or the output of get-event-source-mapping"
                .into(),
        }),
    }
}

/// Each field that needs provisioned mode and is set to something other than its default.
/// AWS documents that these are only available in provisioned mode, not whether an explicit
/// default (MaximumRetryAttempts -1, BisectBatchOnFunctionError false, FunctionResponseTypes
/// [], an empty destination) is refused; this project accepts defaults, as
/// get-event-source-mapping may print them.
fn provisioned_only(top: &Obj, config: &MappingConfig) -> Vec<ConfigError> {
    if config.provisioned_mode {
        return Vec::new();
    }
    let used = [
        ("MaximumRetryAttempts", config.max_retry_attempts.is_some()),
        (
            "MaximumRecordAgeInSeconds",
            config.max_record_age_s.is_some(),
        ),
        (
            "BisectBatchOnFunctionError",
            config.bisect_batch_on_function_error,
        ),
        ("FunctionResponseTypes", config.report_batch_item_failures),
    ];
    let mut faults: Vec<ConfigError> = used
        .iter()
        .filter(|(_, set)| *set)
        .map(|(field, _)| top.invalid(field, PROVISIONED_ONLY))
        .collect();
    if config.destination_topic.is_some() {
        let given = top
            .get("DestinationConfig")
            .map_or(&Value::Null, |d| &d["OnFailure"]["Destination"]);
        faults.push(ConfigError {
            field: "DestinationConfig.OnFailure.Destination".into(),
            value: show(given),
            allowed: PROVISIONED_ONLY.into(),
        });
    }
    faults
}

// ---- the fields --------------------------------------------------------------------------

/// FunctionName, or FunctionArn when FunctionName is absent (pasted get-event-source-mapping).
fn function_name(top: &Obj) -> Result<String, ConfigError> {
    let field = if top.get("FunctionName").is_none() && top.get("FunctionArn").is_some() {
        "FunctionArn"
    } else {
        "FunctionName"
    };
    let name = top
        .str(field)?
        .ok_or_else(|| top.missing("FunctionName", "required"))?;
    if function_base_name(name).is_none() {
        return Err(top.invalid(
            field,
            &format!(
                "allowed a function name of 1 to {FUNCTION_NAME_CHARS_MAX} characters of \
                 [a-zA-Z0-9-_.], or a function ARN or partial ARN (123456789012:function:name) of \
                 at most {FUNCTION_ARN_CHARS_MAX} characters, optionally ending :version or :alias"
            ),
        ));
    }
    Ok(name.to_string())
}

/// The mapping JSON with every name it gives the broker passed through `rename`: each of
/// Topics, the ConsumerGroupId of SelfManagedKafkaEventSourceConfig and of
/// AmazonManagedKafkaEventSourceConfig, and the topic of a `kafka://` on-failure destination.
/// Nothing else changes, and nothing is checked (that is [`MappingConfig::from_value`]'s): a
/// field that is absent or not a string stays as it is. Reads the mapping at the top level, not
/// inside a list-event-source-mappings output.
pub fn with_names(value: &Value, rename: impl Fn(&str) -> String) -> Value {
    let mut renamed = value.clone();
    if let Some(topics) = renamed.get_mut("Topics").and_then(Value::as_array_mut) {
        topics
            .iter_mut()
            .for_each(|topic| rename_string(topic, &rename));
    }
    for pointer in [
        "/SelfManagedKafkaEventSourceConfig/ConsumerGroupId",
        "/AmazonManagedKafkaEventSourceConfig/ConsumerGroupId",
    ] {
        if let Some(group) = renamed.pointer_mut(pointer) {
            rename_string(group, &rename);
        }
    }
    if let Some(Value::String(dest)) =
        renamed.pointer_mut("/DestinationConfig/OnFailure/Destination")
        && let Some(topic) = dest.strip_prefix("kafka://")
    {
        *dest = format!("kafka://{}", rename(topic));
    }
    renamed
}

fn rename_string(value: &mut Value, rename: &impl Fn(&str) -> String) {
    if let Value::String(name) = value {
        *name = rename(name);
    }
}

/// The function's name inside a FunctionName, `None` when it is not one. Follows botocore's
/// NamespacedFunctionName pattern, `(arn:(aws[a-zA-Z-]*)?:lambda:)?(REGION:)?(\d{12}:)?
/// (function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`, at most 256
/// characters, with the name itself at most 64 (the API reference's limit for a bare name, and
/// CreateFunction's for every name).
pub fn function_base_name(text: &str) -> Option<&str> {
    if text.chars().count() > FUNCTION_ARN_CHARS_MAX {
        return None;
    }
    let tokens: Vec<&str> = text.split(':').collect();
    name_after_prefixes(&tokens, 0)
}

/// Matches a prefix at the start of `:`-separated tokens: how many tokens it takes.
type PrefixMatch = fn(&[&str]) -> Option<usize>;

/// The optional prefixes of a FunctionName in order.
const FUNCTION_PREFIXES: [PrefixMatch; 4] = [
    |t| match t {
        ["arn", partition, "lambda", ..] if is_partition(partition) => Some(3),
        _ => None,
    },
    |t| t.first().filter(|r| is_region(r)).map(|_| 1),
    |t| {
        t.first()
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| 1)
    },
    |t| (t.first() == Some(&"function")).then_some(1),
];

/// Tries each optional prefix taken and skipped, as the pattern's regex would backtrack.
fn name_after_prefixes<'t>(tokens: &[&'t str], step: usize) -> Option<&'t str> {
    let Some(prefix) = FUNCTION_PREFIXES.get(step) else {
        return name_and_qualifier(tokens);
    };
    prefix(tokens)
        .and_then(|taken| name_after_prefixes(&tokens[taken..], step + 1))
        .or_else(|| name_after_prefixes(tokens, step + 1))
}

fn name_and_qualifier<'t>(tokens: &[&'t str]) -> Option<&'t str> {
    let (name, qualifier) = match *tokens {
        [name] => (name, None),
        [name, qualifier] => (name, Some(qualifier)),
        _ => return None,
    };
    let name_ok = (1..=FUNCTION_NAME_CHARS_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let qualifier_ok = qualifier.is_none_or(|q| {
        matches!(q, "$LATEST" | "$LATEST.PUBLISHED")
            || (!q.is_empty()
                && q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
    });
    (name_ok && qualifier_ok).then_some(name)
}

/// `(aws[a-zA-Z-]*)?`
fn is_partition(text: &str) -> bool {
    text.is_empty()
        || text
            .strip_prefix("aws")
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`
fn is_region(text: &str) -> bool {
    let text = text.strip_prefix("eusc-").unwrap_or(text);
    let Some(rest) = text
        .get(2..)
        .filter(|_| text.as_bytes()[..2].iter().all(|b| b.is_ascii_lowercase()))
    else {
        return false;
    };
    let iso = rest.strip_prefix("-iso");
    let iso_letter = iso.and_then(|r| r.strip_prefix(|c: char| c.is_ascii_lowercase()));
    [Some(rest), rest.strip_prefix("-gov"), iso, iso_letter]
        .into_iter()
        .flatten()
        .any(is_region_tail)
}

/// `-[a-z]+-\d{1}`
fn is_region_tail(text: &str) -> bool {
    text.strip_prefix('-')
        .and_then(|t| t.split_once('-'))
        .is_some_and(|(word, digit)| {
            !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_lowercase())
                && digit.len() == 1
                && digit.as_bytes()[0].is_ascii_digit()
        })
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

fn event_source(
    top: &Obj,
    c: &mut Collector,
) -> Result<(Vec<String>, Option<String>), ConfigError> {
    const SELF_MANAGED: &str = "SelfManagedEventSource";
    let either = "required: SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS (self-managed) \
                  or EventSourceArn (MSK), exactly one";
    match (top.object(SELF_MANAGED)?, top.get("EventSourceArn")) {
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
        (Some(source), None) => {
            c.check_fields(&source);
            let endpoints = source.required_object("Endpoints")?;
            c.check_fields(&endpoints);
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
    let allowed = format!(
        "allowed a list of 1 to {BOOTSTRAP_SERVERS_MAX} \"host:port\" strings (a host name or \
         IPv4 address, a port 1 to 65535, at most {ENDPOINT_CHARS_MAX} characters)"
    );
    let list = endpoints
        .required(FIELD)?
        .as_array()
        .filter(|l| (1..=BOOTSTRAP_SERVERS_MAX).contains(&l.len()));
    let servers = list.ok_or_else(|| endpoints.invalid(FIELD, &allowed))?;
    servers
        .iter()
        .map(|s| match s.as_str() {
            Some(text) if is_endpoint(text) => Ok(text.to_string()),
            _ => Err(endpoints.invalid(FIELD, &allowed)),
        })
        .collect()
}

/// botocore's Endpoint: dot-separated labels of [a-zA-Z0-9-] not starting or ending with '-',
/// then `:` and a port, at most 300 characters. The port must also be one a client can reach
/// (1 to 65535), where the pattern allows any 1 to 5 digits.
fn is_endpoint(text: &str) -> bool {
    let is_label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    text.len() <= ENDPOINT_CHARS_MAX
        && text.rsplit_once(':').is_some_and(|(host, port)| {
            host.split('.').all(is_label)
                && (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        })
}

fn consumer_group_id(top: &Obj, c: &mut Collector) -> Result<Option<String>, ConfigError> {
    let mut found = None;
    for section in [
        "SelfManagedKafkaEventSourceConfig",
        "AmazonManagedKafkaEventSourceConfig",
    ] {
        let Some(config) = top.object(section)? else {
            continue;
        };
        c.check_fields(&config);
        let Some(id) = config.str("ConsumerGroupId")? else {
            continue;
        };
        if !is_consumer_group_id(id) {
            return Err(config.invalid(
                "ConsumerGroupId",
                &format!(
                    "allowed 1 to {CONSUMER_GROUP_ID_CHARS_MAX} characters of \
                     [ a-zA-Z0-9-/*:_+=.@] (botocore's pattern, which admits a space)"
                ),
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

/// botocore's URI shape: 1 to 200 characters of `[ a-zA-Z0-9-\/*:_+=.@-]`.
fn is_consumer_group_id(id: &str) -> bool {
    (1..=CONSUMER_GROUP_ID_CHARS_MAX).contains(&id.chars().count())
        && id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || " -/*:_+=.@".contains(ch))
}

fn filters(top: &Obj, c: &mut Collector) -> Result<Vec<Pattern>, ConfigError> {
    let Some(criteria) = top.object("FilterCriteria")? else {
        return Ok(vec![]);
    };
    c.check_fields(&criteria);
    let Some(list) = criteria.get("Filters") else {
        return Ok(vec![]);
    };
    let allowed = format!(
        "allowed a list of at most {FILTERS_MAX} {{\"Pattern\": \"...\"}} objects \
         (Lambda's default quota of filters per event source mapping)"
    );
    let items = list
        .as_array()
        .filter(|l| l.len() <= FILTERS_MAX)
        .ok_or_else(|| criteria.invalid("Filters", &allowed))?;
    let mut patterns = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(filter) = Obj::nested(
            item,
            format!("FilterCriteria.Filters[{i}]"),
            "FilterCriteria.Filters[]".into(),
        ) else {
            c.faults.push(criteria.invalid("Filters", &allowed));
            continue;
        };
        c.check_fields(&filter);
        let pattern = filter_pattern(&filter);
        if let Some(p) = c.take(pattern) {
            patterns.push(p);
        }
    }
    Ok(patterns)
}

fn filter_pattern(filter: &Obj) -> Result<Pattern, ConfigError> {
    let text = filter.str("Pattern")?.ok_or_else(|| {
        filter.missing(
            "Pattern",
            "required: the pattern as a JSON string, e.g. \"{\\\"value\\\": ...}\"",
        )
    })?;
    Pattern::parse(text).map_err(|e| filter.invalid("Pattern", &e))
}

fn destination(
    top: &Obj,
    source_topic: &str,
    c: &mut Collector,
) -> Result<Option<String>, ConfigError> {
    let Some(config) = top.object("DestinationConfig")? else {
        return Ok(None);
    };
    c.check_fields(&config);
    if config.get("OnSuccess").is_some_and(|s| !is_empty(s)) {
        // botocore: OnSuccess is "Not supported in CreateEventSourceMapping or
        // UpdateEventSourceMapping".
        c.faults.push(config.invalid(
            "OnSuccess",
            "not supported by CreateEventSourceMapping: did you mean DestinationConfig.OnFailure?",
        ));
    }
    let Some(on_failure) = config.object("OnFailure")? else {
        return Ok(None);
    };
    c.check_fields(&on_failure);
    // get-event-source-mapping prints `"OnFailure": {}` for a mapping without a destination.
    let Some(dest) = on_failure.str("Destination")?.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let Some(topic) = dest.strip_prefix("kafka://") else {
        return Err(on_failure.invalid(
            "Destination",
            "this project supports kafka://topic destinations (SQS, SNS and S3 ARNs are not supported)",
        ));
    };
    if dest.len() > DESTINATION_CHARS_MAX || !is_topic_name(topic) {
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

/// botocore: FunctionResponseTypeList holds at most 1 item, of the enum ReportBatchItemFailures.
fn response_types(top: &Obj) -> Result<bool, ConfigError> {
    const FIELD: &str = "FunctionResponseTypes";
    let Some(list) = top.get(FIELD) else {
        return Ok(false);
    };
    let allowed = "allowed [\"ReportBatchItemFailures\"] or []";
    match list.as_array().map(Vec::as_slice) {
        Some([]) => Ok(false),
        Some([only]) if only == "ReportBatchItemFailures" => Ok(true),
        _ => Err(top.invalid(FIELD, allowed)),
    }
}

/// (MinimumPollers, MaximumPollers, provisioned mode). An empty ProvisionedPollerConfig is
/// on-demand mode ("Apache Kafka event poller scaling modes in Lambda": `--provisioned-poller-config
/// '{}'` returns a mapping to on-demand mode).
fn pollers(top: &Obj, c: &mut Collector) -> Result<(u32, u32, bool), ConfigError> {
    let Some(config) = top.object("ProvisionedPollerConfig")? else {
        return Ok((1, 200, false));
    };
    c.check_fields(&config);
    let min = c.take(config.int("MinimumPollers", 1, MIN_POLLERS_MAX));
    let max = c.take(config.int("MaximumPollers", 1, MAX_POLLERS_MAX));
    let (Some(min), Some(max)) = (min, max) else {
        return Ok((1, 200, true));
    };
    let provisioned = min.is_some() || max.is_some();
    let (min, max) = (min.unwrap_or(1), max.unwrap_or(200));
    if max < min {
        return Err(config.invalid(
            "MaximumPollers",
            &format!(
                "allowed MinimumPollers ({min}) to {MAX_POLLERS_MAX}: must not be below MinimumPollers"
            ),
        ));
    }
    Ok((min as u32, max as u32, provisioned))
}

// ---- a JSON object at a dotted path --------------------------------------------------------

struct Obj<'a> {
    /// Dotted path of this object, empty at the top, with list indices (`Filters[1]`).
    path: String,
    /// The same path in the shape, `[]` for list items: the key of [`FIELDS`].
    schema: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn root(value: &'a Value) -> Result<Obj<'a>, ConfigError> {
        Obj::nested(value, String::new(), String::new()).ok_or_else(|| ConfigError {
            field: "(mapping)".into(),
            value: show(value),
            allowed: "must be a JSON object in the CreateEventSourceMapping shape".into(),
        })
    }

    fn nested(value: &'a Value, path: String, schema: String) -> Option<Obj<'a>> {
        value.as_object().map(|map| Obj { path, schema, map })
    }

    fn field(&self, name: &str) -> String {
        join(&self.path, name)
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

    fn object(&self, name: &str) -> Result<Option<Obj<'a>>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        Obj::nested(value, self.field(name), join(&self.schema, name))
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

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
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

    #[test]
    fn with_names_renames_topics_groups_and_the_kafka_destination_only() {
        let config = json!({
            "FunctionName": "process",
            "Topics": ["orders", 7],
            "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"},
            "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "h"},
            "DestinationConfig": {"OnFailure": {"Destination": "kafka://dlq"}},
            "BatchSize": 10,
        });
        let renamed = with_names(&config, |name| format!("x-{name}"));
        assert_eq!(
            renamed,
            json!({
                "FunctionName": "process",
                "Topics": ["x-orders", 7],
                "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "x-g"},
                "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "x-h"},
                "DestinationConfig": {"OnFailure": {"Destination": "kafka://x-dlq"}},
                "BatchSize": 10,
            })
        );
        let sqs = json!({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:q"}}});
        assert_eq!(with_names(&sqs, |name| format!("x-{name}")), sqs);
        let renamed = with_names(&minimal(), |name| format!("x-{name}"));
        assert_eq!(
            MappingConfig::from_value(&renamed).unwrap().topic,
            "x-orders"
        );
    }

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

    /// `with` in provisioned mode, where the error handling controls are available.
    fn provisioned(field: &str, value: Value) -> Value {
        let mut v = with(field, value);
        v["ProvisionedPollerConfig"] = json!({"MinimumPollers": 1});
        v
    }

    fn errs(v: Value) -> Vec<ConfigError> {
        MappingConfig::from_value(&v).unwrap_err().0
    }

    /// The only fault of `v`.
    fn err(v: Value) -> ConfigError {
        let mut all = errs(v);
        assert_eq!(all.len(), 1, "expected one fault: {all:?}");
        all.remove(0)
    }

    fn ok(v: Value) -> MappingConfig {
        MappingConfig::from_value(&v).unwrap()
    }

    #[test]
    fn defaults_follow_the_spec_table() {
        let c = ok(minimal());
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
        assert_eq!(
            (c.min_pollers, c.max_pollers, c.provisioned_mode),
            (1, 200, false)
        );
        assert_eq!(c.effective_max_retries(), None);
        assert_eq!(c.event_source(), "SelfManagedKafka");
        assert_eq!(c.group_id("uuid-1"), "uuid-1");
        assert!(c.ignored_fields.is_empty() && c.warning().is_none());
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
        assert_eq!(
            (c.min_pollers, c.max_pollers, c.provisioned_mode),
            (2, 2, true)
        );
    }

    #[test]
    fn infinite_retries_with_a_destination_are_capped_at_ten() {
        let mut v = provisioned(
            "DestinationConfig",
            json!({"OnFailure": {"Destination": "kafka://dlq"}}),
        );
        v["MaximumRetryAttempts"] = json!(-1);
        let c = ok(v);
        assert_eq!(
            (c.max_retry_attempts, c.effective_max_retries()),
            (None, Some(10))
        );
    }

    #[test]
    fn messages_name_field_value_and_range() {
        let text = |v: Value| MappingConfig::from_value(&v).unwrap_err().to_string();
        assert_eq!(
            text(with("BatchSize", json!(0))),
            "invalid mapping config: BatchSize = 0: allowed 1 to 10000"
        );
        assert_eq!(
            text(with("StartingPosition", json!("EARLIEST"))),
            r#"invalid mapping config: StartingPosition = "EARLIEST": allowed TRIM_HORIZON, LATEST, AT_TIMESTAMP"#
        );
        let mut v = minimal();
        v.as_object_mut().unwrap().remove("FunctionName");
        assert_eq!(
            text(v),
            "invalid mapping config: FunctionName = missing: required"
        );
        assert_eq!(
            text(with("BatchSzie", json!(5))),
            "invalid mapping config: BatchSzie = 5: unknown field (did you mean BatchSize?)"
        );
        assert_eq!(
            text(with("BatchSize", json!("10"))),
            r#"invalid mapping config: BatchSize = "10": must be an integer; allowed 1 to 10000"#
        );
    }

    #[test]
    fn every_fault_is_reported_at_once_one_per_line() {
        let mut v = with("BatchSize", json!(0));
        v["MaximumBatchingWindowInSeconds"] = json!(301);
        v["StartingPosition"] = json!("EARLIEST");
        v["Topicz"] = json!(["x"]);
        v["MaximumRetryAttempts"] = json!(3);
        v["FilterCriteria"] =
            json!({"Filters": [{"Pattern": "{\"key\": [1]}"}, {"Pattern": "nope"}]});
        let e = MappingConfig::from_value(&v).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "Topicz",
                "FilterCriteria.Filters[0].Pattern",
                "FilterCriteria.Filters[1].Pattern",
                "StartingPosition",
                "BatchSize",
                "MaximumBatchingWindowInSeconds",
                "MaximumRetryAttempts",
            ]
        );
        let text = e.to_string();
        assert!(
            text.starts_with("invalid mapping config: 7 faults\n  - Topicz = "),
            "{text}"
        );
        assert!(
            text.contains("\n  - BatchSize = 0: allowed 1 to 10000\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 8, "{text}");
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
            (
                "FunctionResponseTypes",
                json!(["ReportBatchItemFailures", "ReportBatchItemFailures"]),
                "ReportBatchItemFailures",
            ),
            ("Topics", json!(["a", "b"]), "exactly one"),
            ("Topics", json!([]), "exactly one"),
            ("Topics", json!("orders"), "exactly one"),
            ("Topics", json!(["bad topic"]), "[a-zA-Z0-9._-]"),
            ("FunctionName", json!(""), "1 to 64"),
            ("FunctionName", json!(7), "string"),
        ];
        for (field, value, expected) in cases {
            let e = err(provisioned(field, value.clone()));
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
                MappingConfig::from_value(&provisioned(field, json!(n))).is_ok(),
                "{field} = {n}"
            );
        }
    }

    #[test]
    fn error_handling_controls_need_provisioned_mode() {
        let controls = [
            ("MaximumRetryAttempts", json!(2)),
            ("MaximumRecordAgeInSeconds", json!(60)),
            ("BisectBatchOnFunctionError", json!(true)),
            ("FunctionResponseTypes", json!(["ReportBatchItemFailures"])),
        ];
        for (field, value) in &controls {
            let e = err(with(field, value.clone()));
            assert_eq!((e.field.as_str(), &e.value), (*field, &value.to_string()));
            assert!(e.allowed.contains("ProvisionedPollerConfig"), "{e}");
            assert!(e.allowed.contains("provisioned mode enabled"), "{e}");
            assert!(MappingConfig::from_value(&provisioned(field, value.clone())).is_ok());
        }
        let kafka = json!({"OnFailure": {"Destination": "kafka://dlq"}});
        let e = err(with("DestinationConfig", kafka.clone()));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("DestinationConfig.OnFailure.Destination", "\"kafka://dlq\"")
        );
        assert!(e.allowed.contains("ProvisionedPollerConfig"), "{e}");
        assert!(
            ok(provisioned("DestinationConfig", kafka))
                .destination_topic
                .is_some()
        );
        let mut all = minimal();
        for (field, value) in controls {
            all[field] = value;
        }
        assert_eq!(errs(all).len(), 4);
    }

    #[test]
    fn defaults_of_the_error_handling_controls_are_accepted_without_provisioned_mode() {
        let mut v = minimal();
        v["MaximumRetryAttempts"] = json!(-1);
        v["MaximumRecordAgeInSeconds"] = json!(-1);
        v["BisectBatchOnFunctionError"] = json!(false);
        v["FunctionResponseTypes"] = json!([]);
        v["DestinationConfig"] = json!({"OnFailure": {}});
        let c = ok(v);
        assert!(c.destination_topic.is_none() && !c.provisioned_mode);
    }

    #[test]
    fn an_empty_provisioned_poller_config_is_on_demand_mode() {
        let mut v = with("ProvisionedPollerConfig", json!({}));
        assert!(!ok(v.clone()).provisioned_mode);
        v["MaximumRetryAttempts"] = json!(1);
        assert!(err(v).allowed.contains("ProvisionedPollerConfig"));
        let max_only = ok(with(
            "ProvisionedPollerConfig",
            json!({"MaximumPollers": 3}),
        ));
        assert_eq!((max_only.min_pollers, max_only.max_pollers), (1, 3));
        assert!(max_only.provisioned_mode);
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
            at(json!(future)).unwrap_err().0[0]
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
        let servers = |list: Value| {
            with(
                "SelfManagedEventSource",
                json!({"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list}}),
            )
        };
        let eleven: Vec<String> = (1..=11)
            .map(|i| format!("b-{i}.example.com:9092"))
            .collect();
        for bad in [
            json!([]),
            json!(["localhost"]),
            json!(["h:0"]),
            json!(["h:x"]),
            json!(["h:+80"]),
            json!(["h:65536"]),
            json!("h:1"),
            json!([":9092"]),
            json!(["-h:1"]),
            json!(["a..b:1"]),
            json!(["[::1]:9092"]),
            json!(eleven),
        ] {
            let e = err(servers(bad.clone()));
            assert_eq!(
                e.field, "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS",
                "{bad}"
            );
            assert!(e.allowed.contains("1 to 10"), "{e}");
        }
        let ten = json!(eleven[..10].to_vec());
        assert_eq!(ok(servers(ten)).bootstrap_servers.len(), 10);
        let real = json!([
            "b-1.my-cluster.abc123.c2.kafka.us-east-1.amazonaws.com:9096",
            "10.0.0.7:9092"
        ]);
        assert_eq!(ok(servers(real)).bootstrap_servers.len(), 2);
        // The misspelt key, and the list it leaves missing.
        let e = errs(with(
            "SelfManagedEventSource",
            json!({"Endpoints": {"KAFKA_BOOTSTRAP_SERVER": ["h:1"]}}),
        ))
        .remove(0);
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
    fn consumer_group_ids_follow_botocores_pattern() {
        let group = |id: Value| {
            with(
                "SelfManagedKafkaEventSourceConfig",
                json!({"ConsumerGroupId": id}),
            )
        };
        assert_eq!(ok(group(json!("g-1"))).group_id("u"), "g-1");
        // botocore's URI pattern admits a space.
        assert_eq!(ok(group(json!("my group"))).group_id("u"), "my group");
        for bad in [
            json!(""),
            json!("bad!group"),
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
            provisioned(
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
        assert_eq!(ok(dest("")).destination_topic, None);
        let on_success = with(
            "DestinationConfig",
            json!({"OnSuccess": {"Destination": "kafka://x"}}),
        );
        let e = err(on_success);
        assert_eq!(e.field, "DestinationConfig.OnSuccess");
        assert!(
            e.allowed
                .contains("did you mean DestinationConfig.OnFailure?")
        );
        let printed = with(
            "DestinationConfig",
            json!({"OnFailure": {}, "OnSuccess": {}}),
        );
        assert_eq!(ok(printed).destination_topic, None);
    }

    #[test]
    fn filters_are_parsed_and_errors_point_at_the_filter() {
        let f = |filters: Value| with("FilterCriteria", json!({"Filters": filters}));
        let pattern = json!({"Pattern": "{\"value\": [1]}"});
        let bad = err(f(
            json!([{"Pattern": "{\"value\": {\"a\": [1]}}"}, {"Pattern": "{\"key\": [1]}"}]),
        ));
        assert_eq!(bad.field, "FilterCriteria.Filters[1].Pattern");
        assert!(bad.allowed.contains("\"value\""));
        let object = err(f(json!([{"Pattern": {"value": [1]}}])));
        assert!(object.allowed.contains("string"), "{object}");
        let six = json!(vec![pattern.clone(); 6]);
        let too_many = err(f(six));
        assert!(too_many.allowed.contains("at most 5"), "{too_many}");
        assert_eq!(ok(f(json!(vec![pattern; 5]))).filters.len(), 5);
        assert_eq!(ok(f(json!([]))).filters.len(), 0);
        let typo = errs(f(
            json!([{"Patern": "{}"}, {"Pattern": "{\"value\": [1]}"}]),
        ));
        let fields: Vec<&str> = typo.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "FilterCriteria.Filters[0].Patern",
                "FilterCriteria.Filters[0].Pattern"
            ]
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
        let c = ok(p(json!({"MaximumPollers": 4})));
        assert_eq!((c.min_pollers, c.max_pollers), (1, 4));
    }

    #[test]
    fn function_names_follow_botocores_pattern() {
        let good = [
            ("my-fn", "my-fn"),
            ("my_fn.v2", "my_fn.v2"),
            ("my-fn:PROD", "my-fn"),
            ("my-fn:$LATEST", "my-fn"),
            ("123456789012:function:f", "f"),
            ("arn:aws:lambda:us-east-1:123456789012:function:f", "f"),
            ("arn:aws:lambda:us-east-1:123456789012:function:f:7", "f"),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
                "f",
            ),
            (
                "arn:aws-iso-b:lambda:us-isob-east-1:123456789012:function:f",
                "f",
            ),
            ("arn:aws:lambda:eusc-de-east-1:123456789012:function:f", "f"),
            ("function", "function"),
            ("arn:prod", "arn"),
        ];
        for (text, name) in good {
            assert_eq!(function_base_name(text), Some(name), "{text}");
        }
        let long_name = "f".repeat(FUNCTION_NAME_CHARS_MAX + 1);
        let qualifier = "q".repeat(FUNCTION_ARN_CHARS_MAX);
        let too_long = format!("my-fn:{qualifier}");
        for bad in [
            "",
            "my fn",
            "my-fn:",
            "my-fn:a:b",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "arn:aws:s3:::bucket",
            "my-fn:$PROD",
            long_name.as_str(),
            too_long.as_str(),
        ] {
            assert_eq!(function_base_name(bad), None, "{bad}");
            let e = err(with("FunctionName", json!(bad)));
            assert!(e.allowed.contains("at most 256"), "{e}");
        }
        let at_limit = format!("my-fn:{}", &qualifier[..FUNCTION_ARN_CHARS_MAX - 6]);
        assert_eq!(function_base_name(&at_limit), Some("my-fn"));
    }

    #[test]
    fn get_event_source_mapping_output_is_accepted() {
        let pasted = json!({
            "UUID": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:process",
            "LastModified": 1_732_700_000.0,
            "LastProcessingResult": "OK",
            "State": "Enabled",
            "StateTransitionReason": "USER_INITIATED",
            "Topics": ["orders"],
            "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k"}],
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b-1.example.com:9092", "b-2.example.com:9092"]}},
            "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "orders-group"},
            "DestinationConfig": {"OnFailure": {}},
            "EventSourceMappingArn": "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
            "FilterCriteriaError": null,
            "MetricsConfig": {"Metrics": ["EventCount"]},
            "LoggingConfig": {},
        });
        let c = ok(pasted.clone());
        assert_eq!(
            c.function_name,
            "arn:aws:lambda:us-east-1:123456789012:function:process"
        );
        assert_eq!(c.destination_topic, None);
        assert_eq!(c.bootstrap_servers.len(), 2);
        assert_eq!(
            c.ignored_fields,
            ["MetricsConfig", "SourceAccessConfigurations"]
        );
        let warning = c.warning().unwrap();
        assert!(
            warning.contains(": MetricsConfig, SourceAccessConfigurations"),
            "{warning}"
        );
        let listed = json!({"EventSourceMappings": [pasted.clone()], "NextMarker": null});
        assert_eq!(ok(listed).topic, "orders");
        for count in [0, 2] {
            let list = json!({"EventSourceMappings": vec![pasted.clone(); count]});
            let e = err(list);
            assert_eq!(
                (e.field.as_str(), e.value.clone()),
                ("EventSourceMappings", format!("{count} mappings"))
            );
        }
        let mut named = pasted;
        named["FunctionName"] = json!("other");
        assert_eq!(ok(named).function_name, "other");
    }

    #[test]
    fn not_emulated_fields_are_named_in_one_warning_and_unknown_ones_refused() {
        let mut v = with("Tags", json!({"team": "a"}));
        v["KMSKeyArn"] = json!("arn:aws:kms:us-east-1:123456789012:key/k");
        v["SelfManagedKafkaEventSourceConfig"] = json!({"ConsumerGroupId": "g", "SchemaRegistryConfig": {"SchemaRegistryURI": "https://r"}});
        v["ProvisionedPollerConfig"] = json!({"MinimumPollers": 1, "PollerGroupName": "shared"});
        let c = ok(v);
        assert_eq!(
            c.ignored_fields,
            [
                "KMSKeyArn",
                "ProvisionedPollerConfig.PollerGroupName",
                "SelfManagedKafkaEventSourceConfig.SchemaRegistryConfig",
                "Tags",
            ]
        );
        assert_eq!(c.warning().unwrap().matches("Tags").count(), 1);
        let e = err(with("Frobnicate", json!(1)));
        assert!(e.allowed.starts_with("unknown field (did you mean"), "{e}");
        let nested = err(with("ProvisionedPollerConfig", json!({"MinPollers": 1})));
        assert_eq!(nested.field, "ProvisionedPollerConfig.MinPollers");
        assert!(
            nested
                .allowed
                .contains("did you mean ProvisionedPollerConfig.MinimumPollers?")
        );
        assert!(MappingConfig::from_value(&with("BatchSize", Value::Null)).is_ok());
        assert!(
            MappingConfig::from_json("[]").unwrap_err().0[0]
                .allowed
                .contains("JSON object")
        );
        assert!(
            MappingConfig::from_json("{").unwrap_err().0[0]
                .allowed
                .contains("not JSON")
        );
    }

    #[test]
    fn every_object_listed_reads_distinct_fields() {
        for object in FIELDS {
            let all = [object.read, object.not_emulated].concat();
            let mut sorted = all.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), all.len(), "{}", object.path);
        }
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
        fn misspelt_fields_suggest_the_intended_one(i in 0..FIELDS[0].read.len(), cut in any::<prop::sample::Index>()) {
            let field = FIELDS[0].read[i];
            let pos = cut.index(field.len());
            let typo = format!("{}{}", &field[..pos], &field[pos + 1..]);
            let e = err(with(&typo, json!(1)));
            prop_assert_eq!(e.field, typo);
            prop_assert_eq!(e.allowed, format!("unknown field (did you mean {field}?)"));
        }

        #[test]
        fn function_base_name_never_panics(text in "[a-z0-9:$.-]{0,40}") {
            let _ = function_base_name(&text);
        }
    }
}
