//! Which Kafka records a mapping's filters let through, modelled on AWS's documentation alone.
//!
//! Sources: "Control which events Lambda sends to your function" (Lambda event filtering,
//! <https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>): filters are
//! ORed, a record is sent if it satisfies one or more of them, the filter rule syntax (null,
//! empty, equals, equals-ignore-case, and, or, `$or`, anything-but, numeric equals and range,
//! exists, prefix, suffix) and "300, 300.0 and 3.0e2 are not considered equal"; "Filtering with
//! Amazon MSK and self-managed Apache Kafka"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/kafka-filtering.html>) for the `key` and
//! `value` message fields and the table of what happens when a message or a pattern is a plain
//! string, valid JSON or not UTF-8. `cidr` and the anything-but forms with prefix, suffix and
//! equals-ignore-case follow "Comparison operators for use in event patterns in Amazon
//! EventBridge", the engine these rules come from.

use super::json::{self, Json};
use std::net::IpAddr;

/// A pattern that does not follow the documented rule syntax; `at` names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter pattern {at}: {why}")]
pub struct FilterError {
    pub at: String,
    pub why: String,
}

fn error(at: &str, why: impl Into<String>) -> FilterError {
    FilterError {
        at: if at.is_empty() {
            "(top)".into()
        } else {
            at.into()
        },
        why: why.into(),
    }
}

/// One parsed `FilterCriteria.Filters[].Pattern`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Object,
}

/// An object level of a pattern: every field must match, and one alternative of each `$or`.
#[derive(Debug, Clone, PartialEq)]
struct Object {
    fields: Vec<(String, Field)>,
    ors: Vec<Vec<Object>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// `"name": [rule, ...]`: the field's value matches one of the rules.
    Rules(Vec<Rule>),
    /// `"name": {...}`: the field is an object matching the nested pattern.
    Nested(Object),
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// A literal: a string (`""` is the "empty" rule), a number compared by its text, a
    /// boolean, or null.
    Exact(Json),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
    Cidr {
        network: IpAddr,
        prefix_bits: u8,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Json>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// The Kafka record fields a pattern may name (the Kafka filtering page).
const MESSAGE_FIELDS: [&str; 2] = ["key", "value"];

impl Pattern {
    /// Parses a pattern string; the error names the field or operator at fault.
    pub fn parse(text: &str) -> Result<Pattern, FilterError> {
        let json = json::parse(text).map_err(|e| error("", format!("is not JSON: {e}")))?;
        let root = parse_object(&json, "")?;
        check_top_fields(&root)?;
        Ok(Pattern { root })
    }

    /// Whether the record satisfies this pattern.
    pub fn matches(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
        let message = Message {
            key: Data::of(key),
            value: Data::of(value),
        };
        !message.has_non_utf8() && message.matches(&self.root)
    }
}

/// Whether a record goes to the function: no filters, or one or more filters satisfied.
pub fn passes(filters: &[Pattern], key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
    filters.is_empty() || filters.iter().any(|p| p.matches(key, value))
}

fn check_top_fields(object: &Object) -> Result<(), FilterError> {
    for (name, _) in &object.fields {
        if !MESSAGE_FIELDS.contains(&name.as_str()) {
            return Err(error(
                name,
                "a Kafka pattern may name only the record's key and value",
            ));
        }
    }
    object.ors.iter().flatten().try_for_each(check_top_fields)
}

fn parse_object(json: &Json, at: &str) -> Result<Object, FilterError> {
    let Json::Object(members) = json else {
        return Err(error(at, "must be a JSON object"));
    };
    if members.is_empty() {
        return Err(error(at, "is an empty object"));
    }
    let mut object = Object {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (name, value) in members {
        let here = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        if name == "$or" {
            object.ors.push(parse_or(value, &here)?);
        } else {
            object
                .fields
                .push((name.clone(), parse_field(value, &here)?));
        }
    }
    Ok(object)
}

fn parse_or(json: &Json, at: &str) -> Result<Vec<Object>, FilterError> {
    match json {
        Json::Array(items) if items.len() >= 2 => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_object(item, &format!("{at}[{i}]")))
            .collect(),
        _ => Err(error(at, "must be an array of two or more patterns")),
    }
}

fn parse_field(json: &Json, at: &str) -> Result<Field, FilterError> {
    match json {
        Json::Array(items) if items.is_empty() => Err(error(at, "has no rules")),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_rule(item, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()
            .map(Field::Rules),
        Json::Object(_) => parse_object(json, at).map(Field::Nested),
        _ => Err(error(
            at,
            "must be an array of rules or a nested pattern object",
        )),
    }
}

fn parse_rule(json: &Json, at: &str) -> Result<Rule, FilterError> {
    match json {
        Json::Object(members) => match members.as_slice() {
            [(operator, operand)] => parse_operator(operator, operand, &format!("{at}.{operator}")),
            _ => Err(error(at, "a rule object holds exactly one operator")),
        },
        Json::Array(_) => Err(error(at, "a rule cannot be an array")),
        literal => Ok(Rule::Exact(literal.clone())),
    }
}

fn string_operand<'a>(operand: &'a Json, at: &str) -> Result<&'a str, FilterError> {
    match operand {
        Json::String(s) => Ok(s),
        _ => Err(error(at, "takes a string")),
    }
}

fn parse_operator(operator: &str, operand: &Json, at: &str) -> Result<Rule, FilterError> {
    match operator {
        "prefix" => Ok(Rule::Prefix(string_operand(operand, at)?.into())),
        "suffix" => Ok(Rule::Suffix(string_operand(operand, at)?.into())),
        "equals-ignore-case" => Ok(Rule::EqualsIgnoreCase(string_operand(operand, at)?.into())),
        "anything-but" => parse_anything_but(operand, at).map(Rule::AnythingBut),
        "numeric" => parse_numeric(operand, at).map(Rule::Numeric),
        "exists" => match operand {
            Json::Bool(b) => Ok(Rule::Exists(*b)),
            _ => Err(error(at, "takes true or false")),
        },
        "cidr" => parse_cidr(string_operand(operand, at)?, at),
        other => Err(error(at, format!("unknown operator {other:?}"))),
    }
}

fn parse_anything_but(operand: &Json, at: &str) -> Result<AnythingBut, FilterError> {
    let literal = |j: &Json, at: &str| match j {
        Json::String(_) | Json::Number(_) => Ok(j.clone()),
        _ => Err(error(at, "lists strings or numbers")),
    };
    match operand {
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, j)| literal(j, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()
            .map(AnythingBut::Values),
        Json::Object(members) => match members.as_slice() {
            [(op, Json::String(s))] => match op.as_str() {
                "prefix" => Ok(AnythingBut::Prefix(s.clone())),
                "suffix" => Ok(AnythingBut::Suffix(s.clone())),
                "equals-ignore-case" => Ok(AnythingBut::EqualsIgnoreCase(s.clone())),
                other => Err(error(
                    at,
                    format!("unknown anything-but operator {other:?}"),
                )),
            },
            _ => Err(error(
                at,
                "takes one of prefix, suffix or equals-ignore-case with a string",
            )),
        },
        single => literal(single, at).map(|j| AnythingBut::Values(vec![j])),
    }
}

fn parse_numeric(operand: &Json, at: &str) -> Result<Vec<(Comparison, f64)>, FilterError> {
    let Json::Array(items) = operand else {
        return Err(error(at, "takes [operator, number, ...]"));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(error(at, "takes one or two [operator, number] pairs"));
    }
    let mut clauses = Vec::new();
    for pair in items.chunks(2) {
        let comparison = match &pair[0] {
            Json::String(op) => match op.as_str() {
                "=" => Comparison::Equal,
                "<" => Comparison::Less,
                "<=" => Comparison::LessOrEqual,
                ">" => Comparison::Greater,
                ">=" => Comparison::GreaterOrEqual,
                other => return Err(error(at, format!("unknown comparison {other:?}"))),
            },
            _ => return Err(error(at, "a comparison is a string such as \">=\"")),
        };
        let bound = pair[1]
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| error(at, "compares with a finite number"))?;
        clauses.push((comparison, bound));
    }
    check_range(&clauses, at)?;
    Ok(clauses)
}

/// Two clauses make a range: one lower bound and one upper bound, never `=`.
fn check_range(clauses: &[(Comparison, f64)], at: &str) -> Result<(), FilterError> {
    use Comparison::*;
    let [(a, _), (b, _)] = clauses else {
        return Ok(());
    };
    let lower = |c: &Comparison| matches!(c, Greater | GreaterOrEqual);
    let upper = |c: &Comparison| matches!(c, Less | LessOrEqual);
    if (lower(a) && upper(b)) || (upper(a) && lower(b)) {
        Ok(())
    } else {
        Err(error(at, "a range takes one lower and one upper bound"))
    }
}

fn parse_cidr(text: &str, at: &str) -> Result<Rule, FilterError> {
    let bad = || error(at, format!("{text:?} is not an address/prefix-length"));
    let (address, bits) = text.split_once('/').ok_or_else(bad)?;
    let network: IpAddr = address.parse().map_err(|_| bad())?;
    let prefix_bits: u8 = bits.parse().map_err(|_| bad())?;
    let width = if network.is_ipv4() { 32 } else { 128 };
    if prefix_bits > width {
        return Err(bad());
    }
    Ok(Rule::Cidr {
        network,
        prefix_bits,
    })
}

/// A message field as the filtering table sees it.
#[derive(Debug)]
enum Data {
    Absent,
    NotUtf8,
    Plain(String),
    Json(Json),
}

impl Data {
    fn of(bytes: Option<&[u8]>) -> Data {
        let Some(bytes) = bytes else {
            return Data::Absent;
        };
        match std::str::from_utf8(bytes) {
            Err(_) => Data::NotUtf8,
            Ok(text) => match json::parse(text) {
                Ok(j) => Data::Json(j),
                Err(_) => Data::Plain(text.to_string()),
            },
        }
    }
}

struct Message {
    key: Data,
    value: Data,
}

impl Message {
    /// "Non-UTF-8 encoded string: Lambda drops the message" whatever the pattern.
    fn has_non_utf8(&self) -> bool {
        matches!(self.key, Data::NotUtf8) || matches!(self.value, Data::NotUtf8)
    }

    fn matches(&self, object: &Object) -> bool {
        object.fields.iter().all(|(name, field)| {
            let data = if name == "key" {
                &self.key
            } else {
                &self.value
            };
            field_matches_data(field, data)
        }) && object
            .ors
            .iter()
            .all(|alternatives| alternatives.iter().any(|o| self.matches(o)))
    }
}

/// The Kafka filtering table: a plain-string pattern (rules) matches a plain-string message,
/// a JSON pattern (nested object) a JSON message; a mismatch of the two drops the record.
fn field_matches_data(field: &Field, data: &Data) -> bool {
    match (field, data) {
        (_, Data::NotUtf8) => false,
        (_, Data::Absent) => field_matches(field, None),
        (Field::Rules(_), Data::Plain(s)) => field_matches(field, Some(&Json::String(s.clone()))),
        (Field::Nested(_), Data::Json(j)) => field_matches(field, Some(j)),
        (Field::Rules(_), Data::Json(_)) | (Field::Nested(_), Data::Plain(_)) => false,
    }
}

fn field_matches(field: &Field, value: Option<&Json>) -> bool {
    match field {
        Field::Rules(rules) => rules_match(rules, value),
        Field::Nested(object) => match value {
            Some(Json::Array(items)) => items.iter().any(|i| object_matches(object, Some(i))),
            other => object_matches(object, other),
        },
    }
}

/// `value` is the JSON the object level is matched against; a missing or non-object value
/// has no fields.
fn object_matches(object: &Object, value: Option<&Json>) -> bool {
    object
        .fields
        .iter()
        .all(|(name, field)| field_matches(field, value.and_then(|v| v.get(name))))
        && object
            .ors
            .iter()
            .all(|alternatives| alternatives.iter().any(|o| object_matches(o, value)))
}

/// The leaves of a field: the elements of an array ("matches if any element matches"), or the
/// value itself. Objects are intermediate nodes, not leaves.
fn leaves(value: &Json) -> Vec<&Json> {
    let all: Vec<&Json> = match value {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    all.into_iter()
        .filter(|j| !matches!(j, Json::Object(_) | Json::Array(_)))
        .collect()
}

fn rules_match(rules: &[Rule], value: Option<&Json>) -> bool {
    let leaves = value.map(leaves).unwrap_or_default();
    rules.iter().any(|rule| match rule {
        // "exists" works on leaf nodes only: an object is not a leaf.
        Rule::Exists(wanted) => leaves.is_empty() != *wanted,
        _ => leaves.iter().any(|leaf| rule_matches(rule, leaf)),
    })
}

fn rule_matches(rule: &Rule, leaf: &Json) -> bool {
    let text = match leaf {
        Json::String(s) => Some(s.as_str()),
        _ => None,
    };
    match rule {
        Rule::Exact(literal) => literal == leaf,
        Rule::Prefix(p) => text.is_some_and(|s| s.starts_with(p.as_str())),
        Rule::Suffix(p) => text.is_some_and(|s| s.ends_with(p.as_str())),
        Rule::EqualsIgnoreCase(p) => text.is_some_and(|s| s.to_lowercase() == p.to_lowercase()),
        Rule::AnythingBut(but) => anything_but_matches(but, leaf, text),
        Rule::Numeric(clauses) => leaf
            .as_f64()
            .is_some_and(|n| clauses.iter().all(|&(c, bound)| compare(c, n, bound))),
        Rule::Exists(_) => false,
        Rule::Cidr {
            network,
            prefix_bits,
        } => text
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| in_network(ip, *network, *prefix_bits)),
    }
}

fn anything_but_matches(but: &AnythingBut, leaf: &Json, text: Option<&str>) -> bool {
    match but {
        AnythingBut::Values(values) => !values.contains(leaf),
        AnythingBut::Prefix(p) => text.is_some_and(|s| !s.starts_with(p.as_str())),
        AnythingBut::Suffix(p) => text.is_some_and(|s| !s.ends_with(p.as_str())),
        AnythingBut::EqualsIgnoreCase(p) => {
            text.is_some_and(|s| s.to_lowercase() != p.to_lowercase())
        }
    }
}

fn compare(comparison: Comparison, n: f64, bound: f64) -> bool {
    match comparison {
        Comparison::Equal => n == bound,
        Comparison::Less => n < bound,
        Comparison::LessOrEqual => n <= bound,
        Comparison::Greater => n > bound,
        Comparison::GreaterOrEqual => n >= bound,
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix_bits: u8) -> bool {
    let (ip, network, width) = match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => return false,
    };
    let shift = width - u32::from(prefix_bits);
    let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
    (ip & mask) == (network & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(pattern: &str, value: &str) -> bool {
        Pattern::parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(None, Some(value.as_bytes()))
    }

    #[test]
    fn exact_values_compare_numbers_by_their_text() {
        let p = r#"{"value": {"n": [300]}}"#;
        assert!(pass(p, r#"{"n": 300}"#));
        assert!(!pass(p, r#"{"n": 300.0}"#));
        assert!(!pass(p, r#"{"n": 3.0e2}"#));
        assert!(!pass(p, r#"{"n": "300"}"#));
        assert!(pass(r#"{"value": {"b": [true]}}"#, r#"{"b": true}"#));
        assert!(!pass(r#"{"value": {"b": [true]}}"#, r#"{"b": "true"}"#));
        assert!(pass(r#"{"value": {"u": [null]}}"#, r#"{"u": null}"#));
        assert!(!pass(r#"{"value": {"u": [null]}}"#, r#"{}"#));
        assert!(pass(r#"{"value": {"s": [""]}}"#, r#"{"s": ""}"#));
        assert!(!pass(r#"{"value": {"s": [""]}}"#, r#"{"s": null}"#));
    }

    #[test]
    fn string_operators() {
        assert!(pass(
            r#"{"value": {"r": [{"prefix": "us-"}]}}"#,
            r#"{"r": "us-east-1"}"#
        ));
        assert!(!pass(
            r#"{"value": {"r": [{"prefix": "us-"}]}}"#,
            r#"{"r": "eu-west-1"}"#
        ));
        assert!(pass(
            r#"{"value": {"f": [{"suffix": ".png"}]}}"#,
            r#"{"f": "a.png"}"#
        ));
        assert!(pass(
            r#"{"value": {"n": [{"equals-ignore-case": "alice"}]}}"#,
            r#"{"n": "ALICE"}"#
        ));
        assert!(!pass(
            r#"{"value": {"r": [{"prefix": "1"}]}}"#,
            r#"{"r": 12}"#
        ));
    }

    #[test]
    fn anything_but_needs_the_field_and_excludes_its_values() {
        let p = r#"{"value": {"w": [{"anything-but": ["Raining", "Snowing"]}]}}"#;
        assert!(pass(p, r#"{"w": "Sunny"}"#));
        assert!(!pass(p, r#"{"w": "Raining"}"#));
        assert!(!pass(p, r#"{}"#));
        assert!(pass(
            r#"{"value": {"n": [{"anything-but": 5}]}}"#,
            r#"{"n": 6}"#
        ));
        assert!(!pass(
            r#"{"value": {"r": [{"anything-but": {"prefix": "us-"}}]}}"#,
            r#"{"r": "us-east-1"}"#
        ));
        assert!(pass(
            r#"{"value": {"s": [{"anything-but": {"equals-ignore-case": "init"}}]}}"#,
            r#"{"s": "done"}"#
        ));
    }

    #[test]
    fn malformed_operands_are_refused_and_a_full_prefix_is_not() {
        for pattern in [
            r#"{"value": {"w": [{"anything-but": []}]}}"#,
            r#"{"value": {"p": [{"numeric": []}]}}"#,
            r#"{"value": {"p": [{"numeric": ["<", 5, ">"]}]}}"#,
            r#"{"value": {"p": [{"numeric": [">", 1, "<", 9, ">", 2]}]}}"#,
            r#"{"value": {"ip": [{"cidr": "10.0.0.0/33"}]}}"#,
        ] {
            assert!(Pattern::parse(pattern).is_err(), "{pattern} was accepted");
        }
        assert!(pass(
            r#"{"value": {"ip": [{"cidr": "10.0.0.7/32"}]}}"#,
            r#"{"ip": "10.0.0.7"}"#
        ));
    }

    #[test]
    fn anything_but_a_suffix() {
        let p = r#"{"value": {"f": [{"anything-but": {"suffix": ".png"}}]}}"#;
        assert!(pass(p, r#"{"f": "a.jpg"}"#));
        assert!(!pass(p, r#"{"f": "a.png"}"#));
    }

    #[test]
    fn each_comparison_holds_at_its_bound_as_written() {
        let holds = |op: &str, n: &str| {
            pass(
                &format!(r#"{{"value": {{"p": [{{"numeric": ["{op}", 10]}}]}}}}"#),
                &format!(r#"{{"p": {n}}}"#),
            )
        };
        let table = [
            ("<", [true, false, false]),
            ("<=", [true, true, false]),
            (">", [false, false, true]),
            (">=", [false, true, true]),
            ("=", [false, true, false]),
        ];
        for (op, expected) in table {
            let seen = ["9", "10", "11"].map(|n| holds(op, n));
            assert_eq!(seen, expected, "numeric {op} 10 on 9, 10, 11");
        }
    }

    #[test]
    fn numeric_ranges_compare_values() {
        let p = r#"{"value": {"p": [{"numeric": [">", 10, "<=", 20]}]}}"#;
        assert!(pass(p, r#"{"p": 20}"#));
        assert!(pass(p, r#"{"p": 1.05e1}"#));
        assert!(!pass(p, r#"{"p": 10}"#));
        assert!(!pass(p, r#"{"p": "15"}"#));
        assert!(pass(
            r#"{"value": {"p": [{"numeric": ["=", 300]}]}}"#,
            r#"{"p": 3.0e2}"#
        ));
    }

    #[test]
    fn exists_only_on_leaves() {
        let yes = r#"{"value": {"a": [{"exists": true}]}}"#;
        let no = r#"{"value": {"a": [{"exists": false}]}}"#;
        assert!(pass(yes, r#"{"a": 1}"#));
        assert!(!pass(yes, r#"{"b": 1}"#));
        assert!(!pass(yes, r#"{"a": {"x": 1}}"#));
        assert!(pass(no, r#"{"b": 1}"#));
        assert!(!pass(no, r#"{"a": null}"#));
    }

    #[test]
    fn cidr_matches_addresses_in_the_network() {
        let p = r#"{"value": {"ip": [{"cidr": "10.0.0.0/24"}]}}"#;
        assert!(pass(p, r#"{"ip": "10.0.0.255"}"#));
        assert!(!pass(p, r#"{"ip": "10.0.1.0"}"#));
        assert!(!pass(p, r#"{"ip": "not an ip"}"#));
        assert!(pass(
            r#"{"value": {"ip": [{"cidr": "2001:db8::/32"}]}}"#,
            r#"{"ip": "2001:db8::1"}"#
        ));
    }

    #[test]
    fn arrays_or_and_nesting() {
        let p = r#"{"value": {"tags": ["a", "b"]}}"#;
        assert!(pass(p, r#"{"tags": ["x", "b"]}"#));
        assert!(!pass(p, r#"{"tags": ["x"]}"#));
        let or = r#"{"value": {"$or": [{"city": ["NY"]}, {"day": ["Monday"]}]}}"#;
        assert!(pass(or, r#"{"city": "LA", "day": "Monday"}"#));
        assert!(!pass(or, r#"{"city": "LA", "day": "Friday"}"#));
        let and = r#"{"value": {"city": ["NY"], "day": ["Monday"]}}"#;
        assert!(!pass(and, r#"{"city": "NY", "day": "Friday"}"#));
        let deep = r#"{"value": {"a": {"b": [{"prefix": "x"}]}}}"#;
        assert!(pass(deep, r#"{"a": {"b": "xy"}}"#));
        assert!(!pass(deep, r#"{"a": "xy"}"#));
    }

    #[test]
    fn plain_string_and_json_messages_follow_the_kafka_table() {
        let plain = r#"{"value": [{"anything-but": ["error"]}]}"#;
        assert!(pass(plain, "all good"));
        assert!(!pass(plain, "error"));
        assert!(
            !pass(plain, r#"{"a": 1}"#),
            "JSON message, plain pattern: dropped"
        );
        let json = r#"{"value": {"device_ID": [{"prefix": "AB"}]}}"#;
        assert!(pass(json, r#"{"device_ID": "AB1234"}"#));
        assert!(
            !pass(json, "AB1234"),
            "plain message, JSON pattern: dropped"
        );
        let p = Pattern::parse(plain).unwrap();
        assert!(!p.matches(None, Some(&[0xff, 0xfe])), "not UTF-8: dropped");
        assert!(
            !p.matches(Some(&[0xff]), Some(b"ok")),
            "key not UTF-8: dropped"
        );
    }

    #[test]
    fn key_patterns_and_null_values() {
        let p = Pattern::parse(r#"{"key": [{"prefix": "customer-"}]}"#).unwrap();
        assert!(p.matches(Some(b"customer-7"), None));
        assert!(!p.matches(Some(b"order-7"), Some(b"x")));
        assert!(!p.matches(None, Some(b"x")));
        let absent = Pattern::parse(r#"{"value": [{"exists": false}]}"#).unwrap();
        assert!(absent.matches(None, None));
        assert!(passes(&[], None, None));
        assert!(passes(&[p.clone(), absent], Some(b"order"), None));
    }

    #[test]
    fn bad_patterns_name_the_place_at_fault() {
        for (pattern, at) in [
            ("not json", "(top)"),
            (r#"{"headers": ["x"]}"#, "headers"),
            (
                r#"{"value": {"a": [{"wildcard": "*"}]}}"#,
                "value.a[0].wildcard",
            ),
            (
                r#"{"value": {"a": [{"numeric": ["<", 1, "<", 2]}]}}"#,
                "value.a[0].numeric",
            ),
            (r#"{"value": {"a": []}}"#, "value.a"),
            (
                r#"{"value": {"a": [{"cidr": "10.0.0.0/33"}]}}"#,
                "value.a[0].cidr",
            ),
            (r#"{"value": {"$or": [{"a": ["x"]}]}}"#, "value.$or"),
            (r#"{"value": {"a": "x"}}"#, "value.a"),
        ] {
            let e = Pattern::parse(pattern).unwrap_err();
            assert_eq!(e.at, at, "{pattern}: {e}");
        }
    }
}
