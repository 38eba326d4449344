//! The config reader against botocore's model of CreateEventSourceMapping: each limit the
//! consumer reads is refused just outside the model's range and accepted at its edges, built from
//! a minimal valid mapping. `data/botocore-lambda-limits.json` is extracted from botocore by
//! `scripts/botocore_limits.py`; `.ci/botocore.sh` fails when a newer botocore differs from it.
//!
//! Where the Lambda guide's Kafka pages are stricter than the model's generic shape, the test
//! says so with the page, checks the model still holds its own value (so a change is noticed),
//! and checks the documented value.

use esm::config::{FIELDS, MappingConfig, READ_ONLY_FIELDS};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const LIMITS: &str = include_str!("data/botocore-lambda-limits.json");

fn limits() -> Value {
    serde_json::from_str(LIMITS).expect("the committed limits are JSON")
}

/// The model's entry for a dotted member path.
fn member(path: &str) -> Value {
    let all = limits();
    let entry = all["members"][path].clone();
    assert!(entry.is_object(), "botocore's model has no member {path}");
    entry
}

fn bound(path: &str, which: &str) -> i64 {
    member(path)[which]
        .as_i64()
        .unwrap_or_else(|| panic!("{path} has no {which} in botocore's model"))
}

/// Error handling controls, available only in provisioned mode.
const PROVISIONED_ONLY: &[&str] = &[
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "DestinationConfig.OnFailure.Destination",
];

/// A minimal valid mapping, in provisioned mode when `path` needs it.
fn base(path: &str) -> Value {
    let mut v = json!({
        "FunctionName": "process",
        "Topics": ["orders"],
        "StartingPosition": "TRIM_HORIZON",
        "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}},
    });
    if PROVISIONED_ONLY.contains(&path) {
        v["ProvisionedPollerConfig"] = json!({"MinimumPollers": 1});
    }
    v
}

/// `base(path)` with `path` (dotted) set to `value`.
fn mapping(path: &str, value: Value) -> Value {
    let mut v = base(path);
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().expect("a path");
    let mut node = &mut v;
    for part in parents {
        if !node[*part].is_object() {
            node[*part] = json!({});
        }
        node = &mut node[*part];
    }
    node[*last] = value;
    v
}

fn accepted(path: &str, value: Value) {
    let v = mapping(path, value.clone());
    if let Err(e) = MappingConfig::from_value(&v) {
        panic!("{path} = {value} should be accepted: {e}");
    }
}

/// Refused, with a fault that names `path` or a field inside it.
fn refused(path: &str, value: Value) {
    let v = mapping(path, value.clone());
    let Err(e) = MappingConfig::from_value(&v) else {
        panic!("{path} = {value} should be refused");
    };
    let inside = format!("{path}.");
    assert!(
        e.0.iter()
            .any(|f| f.field == path || f.field.starts_with(&inside)),
        "{path} = {value}: the fault should name {path}: {e}"
    );
}

/// min-1 and max+1 refused, min and max accepted.
fn check_range(path: &str, min: i64, max: i64) {
    refused(path, json!(min - 1));
    accepted(path, json!(min));
    accepted(path, json!(max));
    refused(path, json!(max + 1));
}

#[test]
fn the_committed_limits_name_their_botocore_version() {
    let all = limits();
    let version = all["botocore_version"].as_str().unwrap_or_default();
    assert!(version.split('.').count() == 3, "version {version:?}");
    assert_eq!(all["request_shape"], "CreateEventSourceMappingRequest");
    assert_eq!(all["required"], json!(["FunctionName"]));
}

#[test]
fn integer_members_follow_botocores_ranges() {
    for path in [
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "ProvisionedPollerConfig.MinimumPollers",
    ] {
        assert_eq!(member(path)["type"], "integer", "{path}");
        check_range(path, bound(path, "min"), bound(path, "max"));
    }
}

#[test]
fn maximum_record_age_is_minus_one_or_60_to_the_models_maximum() {
    const PATH: &str = "MaximumRecordAgeInSeconds";
    // botocore's shape is the generic -1 to 604,800; "Configuring error handling controls for
    // Kafka event sources" (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html)
    // allows "60-604800, or -1 for infinite".
    let (min, max) = (bound(PATH, "min"), bound(PATH, "max"));
    assert_eq!((min, max), (-1, 604_800), "botocore changed {PATH}");
    refused(PATH, json!(min - 1));
    accepted(PATH, json!(min));
    refused(PATH, json!(0));
    refused(PATH, json!(59));
    accepted(PATH, json!(60));
    accepted(PATH, json!(max));
    refused(PATH, json!(max + 1));
}

#[test]
fn maximum_pollers_is_1_to_2000_for_kafka() {
    const PATH: &str = "ProvisionedPollerConfig.MaximumPollers";
    // botocore's shape allows 10,000 (SQS's ceiling); its documentation and "Apache Kafka event
    // poller scaling modes in Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html)
    // accept 1 to 2,000 for Amazon MSK and self-managed Apache Kafka.
    let (min, max) = (bound(PATH, "min"), bound(PATH, "max"));
    assert_eq!((min, max), (1, 10_000), "botocore changed {PATH}");
    check_range(PATH, min, 2_000);
    refused(PATH, json!(max));
}

fn strings(count: usize, each: impl Fn(usize) -> String) -> Value {
    json!((0..count).map(each).collect::<Vec<_>>())
}

#[test]
fn list_lengths_follow_botocore() {
    let topics = member("Topics");
    assert_eq!(
        (topics["min"].as_i64(), topics["max"].as_i64()),
        (Some(1), Some(1))
    );
    refused("Topics", json!([]));
    accepted("Topics", json!(["orders"]));
    refused("Topics", json!(["orders", "more"]));

    const SERVERS: &str = "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS";
    let (min, max) = (
        bound(SERVERS, "min") as usize,
        bound(SERVERS, "max") as usize,
    );
    let servers = |n: usize| strings(n, |i| format!("b-{i}.example.com:9092"));
    refused(SERVERS, servers(min - 1));
    accepted(SERVERS, servers(min));
    accepted(SERVERS, servers(max));
    refused(SERVERS, servers(max + 1));

    const TYPES: &str = "FunctionResponseTypes";
    let (min, max) = (bound(TYPES, "min") as usize, bound(TYPES, "max") as usize);
    let types = |n: usize| strings(n, |_| "ReportBatchItemFailures".into());
    accepted(TYPES, types(min));
    accepted(TYPES, types(max));
    refused(TYPES, types(max + 1));
}

#[test]
fn filters_are_limited_by_the_default_quota() {
    const PATH: &str = "FilterCriteria.Filters";
    // botocore sets no length on FilterList; "Control which events Lambda sends to your
    // function" (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)
    // allows five filters per event source mapping by default (a quota increase gives 10).
    assert!(
        member(PATH).get("max").is_none(),
        "botocore now limits {PATH}"
    );
    let filters = |n: usize| json!(vec![json!({"Pattern": "{\"value\": [1]}"}); n]);
    accepted(PATH, filters(0));
    accepted(PATH, filters(5));
    refused(PATH, filters(6));
}

#[test]
fn the_bootstrap_servers_map_takes_only_its_enum_key() {
    let endpoints = member("SelfManagedEventSource.Endpoints");
    assert_eq!(endpoints["key"]["enum"], json!(["KAFKA_BOOTSTRAP_SERVERS"]));
    assert_eq!(endpoints["min"], 1);
    refused("SelfManagedEventSource.Endpoints", json!({}));
    let Err(e) = MappingConfig::from_value(&mapping(
        "SelfManagedEventSource.Endpoints",
        json!({"KAFKA_BOOTSTRAP_SERVERS": ["h:1"], "OTHER": ["h:2"]}),
    )) else {
        panic!("an Endpoints key outside the enum should be refused");
    };
    assert!(
        e.0.iter()
            .any(|f| f.field == "SelfManagedEventSource.Endpoints.OTHER"),
        "{e}"
    );
}

fn chars(n: usize) -> String {
    "a".repeat(n)
}

#[test]
fn string_lengths_follow_botocore() {
    let topic = "Topics[]";
    let (min, max) = (bound(topic, "min") as usize, bound(topic, "max") as usize);
    refused("Topics", json!([chars(min - 1)]));
    accepted("Topics", json!([chars(max)]));
    refused("Topics", json!([chars(max + 1)]));

    for path in [
        "SelfManagedKafkaEventSourceConfig.ConsumerGroupId",
        "AmazonManagedKafkaEventSourceConfig.ConsumerGroupId",
    ] {
        let (min, max) = (bound(path, "min") as usize, bound(path, "max") as usize);
        refused(path, json!(chars(min - 1)));
        accepted(path, json!(chars(max)));
        refused(path, json!(chars(max + 1)));
    }

    const SERVERS: &str = "SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS";
    let (min, max) = (
        bound(&format!("{SERVERS}[]"), "min") as usize,
        bound(&format!("{SERVERS}[]"), "max") as usize,
    );
    let server = |len: usize| format!("{}:9092", chars(len.saturating_sub(5)));
    refused(SERVERS, json!([chars(min - 1)]));
    accepted(SERVERS, json!([server(max)]));
    refused(SERVERS, json!([server(max + 1)]));
}

#[test]
fn function_name_lengths_follow_botocore_and_the_api_reference() {
    const PATH: &str = "FunctionName";
    let (min, max) = (bound(PATH, "min") as usize, bound(PATH, "max") as usize);
    assert_eq!((min, max), (1, 256), "botocore changed {PATH}");
    refused(PATH, json!(""));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:process:";
    accepted(PATH, json!(format!("{arn}{}", chars(max - arn.len()))));
    refused(PATH, json!(format!("{arn}{}", chars(max + 1 - arn.len()))));
    // The API reference (CreateEventSourceMapping, FunctionName): "If you specify only the
    // function name, it's limited to 64 characters in length."
    accepted(PATH, json!(chars(64)));
    refused(PATH, json!(chars(65)));
}

#[test]
fn a_filter_pattern_is_at_most_the_models_maximum() {
    const PATH: &str = "FilterCriteria.Filters[].Pattern";
    let (min, max) = (bound(PATH, "min") as usize, bound(PATH, "max") as usize);
    let pattern = |len: usize| {
        let frame = "{\"value\": [\"\"]}".len();
        json!([{"Pattern": format!("{{\"value\": [\"{}\"]}}", chars(len - frame))}])
    };
    accepted("FilterCriteria.Filters", pattern(max));
    refused_filter(pattern(max + 1));
    // The model allows an empty pattern (min 0); it is no filter, so this project refuses it.
    assert_eq!(min, 0);
    refused_filter(json!([{"Pattern": ""}]));
}

fn refused_filter(filters: Value) {
    let v = mapping("FilterCriteria.Filters", filters);
    let e = MappingConfig::from_value(&v).expect_err("the pattern should be refused");
    assert!(
        e.0.iter()
            .any(|f| f.field == "FilterCriteria.Filters[0].Pattern"),
        "{e}"
    );
}

#[test]
fn a_kafka_destination_is_bounded_by_the_topic_name() {
    const PATH: &str = "DestinationConfig.OnFailure.Destination";
    let (min, max) = (bound(PATH, "min") as usize, bound(PATH, "max") as usize);
    let pattern = member(PATH)["pattern"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The model's kafka:// form is a topic of 1 to 249 characters, inside its 350 overall.
    assert!(
        pattern.contains(r"kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))"),
        "{pattern}"
    );
    assert_eq!(min, 0);
    accepted(PATH, json!(""));
    accepted(PATH, json!(format!("kafka://{}", chars(249))));
    refused(PATH, json!(format!("kafka://{}", chars(250))));
    refused(
        PATH,
        json!(format!("kafka://{}", chars(max - "kafka://".len()))),
    );
}

#[test]
fn enums_follow_botocore() {
    let positions = member("StartingPosition")["enum"].clone();
    assert_eq!(positions, json!(["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]));
    accepted("StartingPosition", json!("TRIM_HORIZON"));
    accepted("StartingPosition", json!("LATEST"));
    let mut at = mapping("StartingPosition", json!("AT_TIMESTAMP"));
    at["StartingPositionTimestamp"] = json!(1_700_000_000);
    assert!(MappingConfig::from_value(&at).is_ok());
    refused("StartingPosition", json!("EARLIEST"));
    assert_eq!(
        member("FunctionResponseTypes[]")["enum"],
        json!(["ReportBatchItemFailures"])
    );
    refused("FunctionResponseTypes", json!(["ReportItemFailures"]));
}

/// Every member of every object the consumer reads is read, or accepted and named as not
/// emulated; nothing the consumer reads is missing from the model; the read-only members of
/// get-event-source-mapping's output are exactly those ignored.
#[test]
fn every_member_of_the_model_is_read_or_named_as_not_emulated() {
    let all = limits();
    let members = all["members"].as_object().expect("members");
    for object in FIELDS {
        let prefix = if object.path.is_empty() {
            String::new()
        } else {
            format!("{}.", object.path)
        };
        let in_model: BTreeSet<&str> = members
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.contains('.') && !rest.contains('['))
            .collect();
        let known: BTreeSet<&str> = object
            .read
            .iter()
            .chain(object.not_emulated)
            .copied()
            .collect();
        assert_eq!(in_model, known, "the members of {:?}", object.path);
    }
    let read_only: BTreeSet<&str> = all["read_only_members"]
        .as_array()
        .expect("read_only_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(read_only, READ_ONLY_FIELDS.iter().copied().collect());
}
