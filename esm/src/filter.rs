//! FilterCriteria: AWS event filter patterns matched against a Kafka record's value.
//!
//! AWS filters Kafka records on the `value` key only, so a pattern is `{"value": <pattern>}`.
//! A value that parses as JSON is matched as JSON; any other UTF-8 value is one string, matched
//! by the leaf form `{"value": [matchers]}`. Supported rules: exact strings, numbers, booleans
//! and null; `prefix`, `suffix` (each also with `{"equals-ignore-case": s}`),
//! `equals-ignore-case`, `numeric`, `exists`, `anything-but` (values, or `prefix`, `suffix`,
//! `equals-ignore-case`, `wildcard`), `wildcard` (`*` only) and `$or`. Arrays in the data match
//! when any element matches.
//!
//! Choices where AWS documents nothing: a null (tombstone) or empty value is absent, as in the
//! event (which leaves such a value out), so only `exists: false` matches it; a value that is
//! not UTF-8 matches only `exists: true`; `exists: true` matches any present value, objects
//! included.

use serde_json::{Map, Value};

/// One parsed filter pattern (FilterCriteria.Filters[].Pattern).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub source: serde_json::Value,
}

/// AWS's limit on one pattern's text (API Filter.Pattern).
pub const PATTERN_MAX_CHARS: usize = 4096;

const MATCHERS: &str =
    "prefix, suffix, equals-ignore-case, numeric, exists, anything-but, wildcard";

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.chars().count() > PATTERN_MAX_CHARS {
            return Err(format!(
                "pattern is longer than {PATTERN_MAX_CHARS} characters"
            ));
        }
        let source: Value =
            serde_json::from_str(text).map_err(|e| format!("pattern is not valid JSON: {e}"))?;
        let Value::Object(top) = &source else {
            return Err(format!(
                r#"pattern must be a JSON object like {{"value": ...}}, got {source}"#
            ));
        };
        if let Some(other) = top.keys().find(|k| *k != "value") {
            return Err(format!(
                "Kafka filters match only the \"value\" key, not {other:?}: write {{\"value\": ...}}"
            ));
        }
        let value = top
            .get("value")
            .ok_or_else(|| r#"pattern has no "value" key: write {"value": ...}"#.to_string())?;
        check_node(value, "value")?;
        Ok(Pattern { source })
    }

    /// Whether a record with this value (raw bytes, `None` for a null value) matches.
    pub fn matches_value(&self, value: Option<&[u8]>) -> bool {
        self.matches_data(&Data::of(value))
    }

    fn matches_data(&self, data: &Data) -> bool {
        let node = &self.source["value"];
        match data {
            Data::Absent => node_matches(node, None),
            Data::Json(v) => node_matches(node, Some(v)),
            Data::Opaque => {
                matches!(node, Value::Array(ms) if ms.iter().any(|m| exists(m) == Some(true)))
            }
        }
    }
}

/// A record passes when there are no filters or any filter matches it.
pub fn passes(filters: &[Pattern], value: Option<&[u8]>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let data = Data::of(value);
    filters.iter().any(|p| p.matches_data(&data))
}

/// A record value as the filters see it; parsed once per record.
enum Data {
    Absent,
    Json(Value),
    /// Present but not text.
    Opaque,
}

impl Data {
    fn of(value: Option<&[u8]>) -> Data {
        match value {
            None | Some([]) => Data::Absent,
            Some(bytes) => match serde_json::from_slice(bytes) {
                Ok(json) => Data::Json(json),
                Err(_) => match std::str::from_utf8(bytes) {
                    Ok(text) => Data::Json(Value::String(text.to_string())),
                    Err(_) => Data::Opaque,
                },
            },
        }
    }
}

// ---- validation -------------------------------------------------------------------------

fn check_node(node: &Value, path: &str) -> Result<(), String> {
    match node {
        Value::Object(fields) => check_object(fields, path),
        Value::Array(matchers) if matchers.is_empty() => {
            Err(format!("{path}: empty list; list at least one matcher"))
        }
        Value::Array(matchers) => matchers.iter().try_for_each(|m| check_matcher(m, path)),
        other => Err(format!(
            "{path}: must be a list of matchers (e.g. [\"x\"]) or an object of fields, got {other}"
        )),
    }
}

fn check_object(fields: &Map<String, Value>, path: &str) -> Result<(), String> {
    if fields.is_empty() {
        return Err(format!("{path}: empty object; name at least one field"));
    }
    for (key, node) in fields {
        if key == "$or" {
            let alternatives = node
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("{path}.$or: must be a non-empty list of objects"))?;
            for alt in alternatives {
                let obj = alt
                    .as_object()
                    .ok_or_else(|| format!("{path}.$or: {alt} is not an object"))?;
                check_object(obj, path)?;
            }
        } else {
            check_node(node, &format!("{path}.{key}"))?;
        }
    }
    Ok(())
}

fn check_matcher(m: &Value, path: &str) -> Result<(), String> {
    let Value::Object(obj) = m else {
        return match m {
            Value::Array(_) => Err(format!("{path}: nested list {m} is not a matcher")),
            _ => Ok(()),
        };
    };
    let (name, arg) = single_entry(obj).ok_or_else(|| {
        format!("{path}: matcher {m} must have exactly one key, one of {MATCHERS}")
    })?;
    let at = format!("{path}: {name}");
    match name {
        "prefix" | "suffix" => check_text_or_ignore_case(arg, &at),
        "equals-ignore-case" | "wildcard" => string_arg(arg, &at).map(drop),
        "exists" => arg
            .as_bool()
            .map(drop)
            .ok_or_else(|| format!("{at} takes true or false, got {arg}")),
        "numeric" => check_numeric(arg, &at),
        "anything-but" => check_anything_but(arg, &at),
        _ => Err(format!(
            "{path}: unknown matcher {name:?}; allowed {MATCHERS}"
        )),
    }
}

fn check_text_or_ignore_case(arg: &Value, at: &str) -> Result<(), String> {
    if let Some(obj) = arg.as_object() {
        return match single_entry(obj) {
            Some(("equals-ignore-case", Value::String(_))) => Ok(()),
            _ => Err(format!(
                "{at} takes a string or {{\"equals-ignore-case\": string}}, got {arg}"
            )),
        };
    }
    string_arg(arg, at).map(drop)
}

fn string_arg<'a>(arg: &'a Value, at: &str) -> Result<&'a str, String> {
    arg.as_str()
        .ok_or_else(|| format!("{at} takes a string, got {arg}"))
}

fn check_numeric(arg: &Value, at: &str) -> Result<(), String> {
    let parts = arg.as_array().map(Vec::as_slice).unwrap_or_default();
    let usage = format!(
        "{at} takes [op, number] or [op, number, op, number] with op one of <, <=, =, >, >=; got {arg}"
    );
    if !matches!(parts.len(), 2 | 4) {
        return Err(usage);
    }
    for pair in parts.chunks(2) {
        let op = pair[0].as_str().ok_or_else(|| usage.clone())?;
        if !matches!(op, "<" | "<=" | "=" | ">" | ">=") || !pair[1].is_number() {
            return Err(usage);
        }
    }
    Ok(())
}

fn check_anything_but(arg: &Value, at: &str) -> Result<(), String> {
    match arg {
        Value::Object(obj) => match single_entry(obj) {
            Some(("prefix" | "suffix" | "wildcard", Value::String(_))) => Ok(()),
            Some(("equals-ignore-case", Value::String(_))) => Ok(()),
            Some(("equals-ignore-case", Value::Array(list)))
                if !list.is_empty() && list.iter().all(Value::is_string) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{at} takes a value, a list of values, or one of {{prefix|suffix|wildcard: string}}, {{equals-ignore-case: string or list}}; got {arg}"
            )),
        },
        Value::Array(list) if list.is_empty() => Err(format!("{at}: empty list")),
        Value::Array(list) if list.iter().any(|v| v.is_array() || v.is_object()) => Err(format!(
            "{at}: list may hold only strings, numbers, booleans and null; got {arg}"
        )),
        _ => Ok(()),
    }
}

fn single_entry(obj: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = obj.iter();
    match (entries.next(), entries.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

// ---- matching (on a validated pattern) --------------------------------------------------

/// `data` is the field's value, `None` when absent.
fn node_matches(node: &Value, data: Option<&Value>) -> bool {
    match node {
        Value::Object(fields) => object_matches(fields, data),
        Value::Array(matchers) => leaf_matches(matchers, data),
        _ => false,
    }
}

fn object_matches(fields: &Map<String, Value>, data: Option<&Value>) -> bool {
    match data {
        // An array of objects matches when any element does.
        Some(Value::Array(items)) => items
            .iter()
            .any(|item| item.is_object() && object_matches(fields, Some(item))),
        Some(Value::Object(obj)) => fields.iter().all(|(key, node)| match key.as_str() {
            "$or" => any_alternative(node, data),
            _ => node_matches(node, obj.get(key)),
        }),
        // A missing or scalar parent: every field below it is absent.
        _ => fields.iter().all(|(key, node)| match key.as_str() {
            "$or" => any_alternative(node, None),
            _ => node_matches(node, None),
        }),
    }
}

fn any_alternative(alternatives: &Value, data: Option<&Value>) -> bool {
    alternatives.as_array().is_some_and(|alts| {
        alts.iter()
            .filter_map(Value::as_object)
            .any(|o| object_matches(o, data))
    })
}

fn leaf_matches(matchers: &[Value], data: Option<&Value>) -> bool {
    match data {
        None => matchers.iter().any(|m| exists(m) == Some(false)),
        Some(Value::Array(items)) => {
            // `exists` speaks of the field, other matchers of any element.
            matchers.iter().any(|m| exists(m) == Some(true))
                || items
                    .iter()
                    .any(|item| matchers.iter().any(|m| matcher_matches(m, item)))
        }
        Some(value) => matchers
            .iter()
            .any(|m| exists(m) == Some(true) || matcher_matches(m, value)),
    }
}

/// `Some(b)` for an `{"exists": b}` matcher.
fn exists(m: &Value) -> Option<bool> {
    m.as_object()?.get("exists")?.as_bool()
}

/// One matcher against one present, non-array value.
fn matcher_matches(m: &Value, value: &Value) -> bool {
    let Value::Object(obj) = m else {
        return scalar_equals(m, value);
    };
    let Some((name, arg)) = single_entry(obj) else {
        return false;
    };
    let text = value.as_str();
    match name {
        "prefix" => text.is_some_and(|t| text_rule(arg, t, |t, p| t.starts_with(p))),
        "suffix" => text.is_some_and(|t| text_rule(arg, t, |t, s| t.ends_with(s))),
        "equals-ignore-case" => {
            text.is_some_and(|t| arg.as_str().is_some_and(|s| eq_ignore_case(t, s)))
        }
        "wildcard" => text.is_some_and(|t| arg.as_str().is_some_and(|p| wildcard(p, t))),
        "numeric" => value.as_f64().is_some_and(|n| numeric(arg, n)),
        "anything-but" => anything_but(arg, value),
        _ => false,
    }
}

fn scalar_equals(expected: &Value, value: &Value) -> bool {
    match (expected, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => expected == value,
    }
}

/// `arg` is a string, or `{"equals-ignore-case": string}` to compare lowercased.
fn text_rule(arg: &Value, text: &str, rule: fn(&str, &str) -> bool) -> bool {
    match arg {
        Value::String(s) => rule(text, s),
        Value::Object(obj) => obj
            .get("equals-ignore-case")
            .and_then(Value::as_str)
            .is_some_and(|s| rule(&text.to_lowercase(), &s.to_lowercase())),
        _ => false,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn numeric(arg: &Value, n: f64) -> bool {
    let Some(parts) = arg.as_array() else {
        return false;
    };
    parts.chunks(2).all(|pair| {
        let bound = pair.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
        match pair[0].as_str() {
            Some("<") => n < bound,
            Some("<=") => n <= bound,
            Some("=") => n == bound,
            Some(">") => n > bound,
            Some(">=") => n >= bound,
            _ => false,
        }
    })
}

fn anything_but(arg: &Value, value: &Value) -> bool {
    match arg {
        Value::Array(excluded) => !excluded.iter().any(|e| scalar_equals(e, value)),
        Value::Object(obj) => {
            let Some(text) = value.as_str() else {
                return false;
            };
            match single_entry(obj) {
                Some(("prefix", Value::String(p))) => !text.starts_with(p.as_str()),
                Some(("suffix", Value::String(s))) => !text.ends_with(s.as_str()),
                Some(("wildcard", Value::String(p))) => !wildcard(p, text),
                Some(("equals-ignore-case", Value::String(s))) => !eq_ignore_case(text, s),
                Some(("equals-ignore-case", Value::Array(list))) => !list
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| eq_ignore_case(text, s)),
                _ => false,
            }
        }
        single => !scalar_equals(single, value),
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matches(pattern: &str, value: &str) -> bool {
        Pattern::parse(pattern)
            .unwrap()
            .matches_value(Some(value.as_bytes()))
    }

    #[test]
    fn aws_doc_example_prefix_on_a_field() {
        let p = r#"{ "value" : { "device_ID" : [ { "prefix": "AB" } ] } }"#;
        assert!(matches(
            p,
            r#"{"device_ID": "AB1234", "session": {"duration": 162}}"#
        ));
        assert!(!matches(p, r#"{"device_ID": "XB1234"}"#));
        assert!(!matches(p, r#"{"other": "AB"}"#));
    }

    #[test]
    fn exact_values_of_each_type() {
        assert!(matches(r#"{"value": {"s": ["a", "b"]}}"#, r#"{"s": "b"}"#));
        assert!(!matches(r#"{"value": {"s": ["a"]}}"#, r#"{"s": "A"}"#));
        assert!(matches(r#"{"value": {"n": [5]}}"#, r#"{"n": 5.0}"#));
        assert!(!matches(r#"{"value": {"n": ["5"]}}"#, r#"{"n": 5}"#));
        assert!(matches(r#"{"value": {"b": [true]}}"#, r#"{"b": true}"#));
        assert!(matches(r#"{"value": {"z": [null]}}"#, r#"{"z": null}"#));
        assert!(!matches(r#"{"value": {"z": [null]}}"#, r#"{}"#));
        assert!(matches(r#"{"value": {"e": [""]}}"#, r#"{"e": ""}"#));
    }

    #[test]
    fn nested_fields_all_must_match() {
        let p = r#"{"value": {"a": {"b": [1]}, "c": ["x"]}}"#;
        assert!(matches(p, r#"{"a": {"b": 1}, "c": "x"}"#));
        assert!(!matches(p, r#"{"a": {"b": 1}, "c": "y"}"#));
        assert!(!matches(p, r#"{"a": 1, "c": "x"}"#));
    }

    #[test]
    fn arrays_in_the_data_match_when_any_element_does() {
        assert!(matches(
            r#"{"value": {"tags": ["red"]}}"#,
            r#"{"tags": ["blue", "red"]}"#
        ));
        assert!(!matches(
            r#"{"value": {"tags": ["red"]}}"#,
            r#"{"tags": ["blue"]}"#
        ));
        assert!(matches(
            r#"{"value": {"items": {"id": [2]}}}"#,
            r#"{"items": [{"id": 1}, {"id": 2}]}"#
        ));
    }

    #[test]
    fn prefix_suffix_and_ignore_case() {
        assert!(matches(
            r#"{"value": {"f": [{"suffix": ".png"}]}}"#,
            r#"{"f": "a.png"}"#
        ));
        assert!(!matches(
            r#"{"value": {"f": [{"suffix": ".png"}]}}"#,
            r#"{"f": "a.PNG"}"#
        ));
        assert!(matches(
            r#"{"value": {"f": [{"suffix": {"equals-ignore-case": ".png"}}]}}"#,
            r#"{"f": "a.PNG"}"#
        ));
        assert!(matches(
            r#"{"value": {"f": [{"prefix": {"equals-ignore-case": "ab"}}]}}"#,
            r#"{"f": "AbC"}"#
        ));
        assert!(matches(
            r#"{"value": {"f": [{"equals-ignore-case": "hello"}]}}"#,
            r#"{"f": "HeLLo"}"#
        ));
        assert!(!matches(
            r#"{"value": {"f": [{"prefix": "1"}]}}"#,
            r#"{"f": 12}"#
        ));
    }

    #[test]
    fn numeric_ranges() {
        let p = r#"{"value": {"n": [{"numeric": [">", 0, "<=", 5]}]}}"#;
        assert!(matches(p, r#"{"n": 5}"#));
        assert!(matches(p, r#"{"n": 0.5}"#));
        assert!(!matches(p, r#"{"n": 0}"#));
        assert!(!matches(p, r#"{"n": 5.1}"#));
        assert!(!matches(p, r#"{"n": "3"}"#));
        assert!(matches(
            r#"{"value": {"n": [{"numeric": ["=", 100]}]}}"#,
            r#"{"n": 100}"#
        ));
    }

    #[test]
    fn exists_true_and_false() {
        let yes = r#"{"value": {"a": [{"exists": true}]}}"#;
        let no = r#"{"value": {"a": [{"exists": false}]}}"#;
        assert!(matches(yes, r#"{"a": 0}"#) && !matches(yes, r#"{"b": 0}"#));
        assert!(matches(no, r#"{"b": 0}"#) && !matches(no, r#"{"a": 0}"#));
        assert!(matches(
            r#"{"value": {"x": {"y": [{"exists": false}]}}}"#,
            r#"{"z": 1}"#
        ));
    }

    #[test]
    fn anything_but_forms() {
        let list = r#"{"value": {"s": [{"anything-but": ["a", "b"]}]}}"#;
        assert!(matches(list, r#"{"s": "c"}"#) && !matches(list, r#"{"s": "a"}"#));
        assert!(
            !matches(list, r#"{}"#),
            "anything-but needs the field present"
        );
        let single = r#"{"value": {"n": [{"anything-but": 3}]}}"#;
        assert!(matches(single, r#"{"n": 4}"#) && !matches(single, r#"{"n": 3}"#));
        let prefix = r#"{"value": {"s": [{"anything-but": {"prefix": "tmp"}}]}}"#;
        assert!(matches(prefix, r#"{"s": "data"}"#) && !matches(prefix, r#"{"s": "tmp1"}"#));
        let ic = r#"{"value": {"s": [{"anything-but": {"equals-ignore-case": ["X", "y"]}}]}}"#;
        assert!(matches(ic, r#"{"s": "z"}"#) && !matches(ic, r#"{"s": "Y"}"#));
    }

    #[test]
    fn wildcard_and_or() {
        let w = r#"{"value": {"f": [{"wildcard": "dir/*.png"}]}}"#;
        assert!(matches(w, r#"{"f": "dir/a/b.png"}"#) && !matches(w, r#"{"f": "dir/a.jpg"}"#));
        let or = r#"{"value": {"$or": [{"a": [1]}, {"b": [2]}], "c": ["k"]}}"#;
        assert!(matches(or, r#"{"b": 2, "c": "k"}"#));
        assert!(!matches(or, r#"{"b": 2, "c": "j"}"#));
        assert!(!matches(or, r#"{"b": 3, "c": "k"}"#));
    }

    #[test]
    fn plain_strings_match_leaf_patterns_only() {
        assert!(matches(
            r#"{"value": [{"prefix": "INFO"}]}"#,
            "INFO all good"
        ));
        assert!(!matches(r#"{"value": [{"prefix": "INFO"}]}"#, "ERROR boom"));
        assert!(matches(r#"{"value": ["hello world"]}"#, "hello world"));
        assert!(!matches(r#"{"value": {"a": ["x"]}}"#, "a x"));
        assert!(matches(r#"{"value": [{"numeric": [">", 10]}]}"#, "42"));
    }

    #[test]
    fn null_empty_and_binary_values() {
        let absent = Pattern::parse(r#"{"value": [{"exists": false}]}"#).unwrap();
        let present = Pattern::parse(r#"{"value": [{"exists": true}]}"#).unwrap();
        let null = Pattern::parse(r#"{"value": [null]}"#).unwrap();
        let field = Pattern::parse(r#"{"value": {"a": [{"exists": false}]}}"#).unwrap();
        assert!(absent.matches_value(None) && absent.matches_value(Some(b"")));
        assert!(!present.matches_value(None) && !null.matches_value(None));
        assert!(field.matches_value(None));
        let binary: &[u8] = &[0xff, 0xfe, 0x00];
        assert!(present.matches_value(Some(binary)) && !absent.matches_value(Some(binary)));
        assert!(
            !Pattern::parse(r#"{"value": [{"prefix": ""}]}"#)
                .unwrap()
                .matches_value(Some(binary))
        );
    }

    #[test]
    fn passes_needs_any_filter() {
        let a = Pattern::parse(r#"{"value": {"k": ["a"]}}"#).unwrap();
        let b = Pattern::parse(r#"{"value": {"k": ["b"]}}"#).unwrap();
        assert!(passes(&[], Some(b"anything")));
        assert!(passes(&[a.clone(), b.clone()], Some(br#"{"k": "b"}"#)));
        assert!(!passes(&[a, b], Some(br#"{"k": "c"}"#)));
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let err = |p: &str| Pattern::parse(p).unwrap_err();
        assert!(err("{").contains("not valid JSON"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err(r#"{"key": ["a"]}"#).contains("only the \"value\" key"));
        assert!(err(r#"{}"#).contains("no \"value\" key"));
        assert!(err(r#"{"value": {"a": "x"}}"#).contains("value.a"));
        assert!(err(r#"{"value": {"a": []}}"#).contains("empty list"));
        assert!(err(r#"{"value": {"a": [{"prefx": "x"}]}}"#).contains("unknown matcher \"prefx\""));
        assert!(err(r#"{"value": {"a": [{"numeric": [">"]}]}}"#).contains("numeric"));
        assert!(err(r#"{"value": {"a": [{"numeric": ["~", 1]}]}}"#).contains("numeric"));
        assert!(err(r#"{"value": {"a": [{"exists": "yes"}]}}"#).contains("true or false"));
        assert!(err(r#"{"value": {"a": [{"prefix": 1}]}}"#).contains("prefix"));
        assert!(
            err(r#"{"value": {"a": [{"anything-but": {"foo": 1}}]}}"#).contains("anything-but")
        );
        assert!(err(r#"{"value": {"$or": {"a": [1]}}}"#).contains("$or"));
        assert!(err(&format!(r#"{{"value": ["{}"]}}"#, "x".repeat(5000))).contains("4096"));
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-c]{0,3}".prop_map(Value::String),
            (-3i64..3).prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    proptest! {
        #[test]
        fn anything_but_never_matches_what_it_excludes(
            excluded in prop::collection::vec(scalar(), 1..4),
            pick in any::<prop::sample::Index>(),
            other in scalar(),
        ) {
            let pattern = Pattern::parse(
                &serde_json::json!({"value": {"f": [{"anything-but": excluded}]}}).to_string(),
            ).unwrap();
            let hit = pick.get(&excluded);
            let record = |v: &Value| serde_json::json!({"f": v}).to_string();
            prop_assert!(!pattern.matches_value(Some(record(hit).as_bytes())));
            let is_excluded = excluded.iter().any(|e| scalar_equals(e, &other));
            prop_assert_eq!(pattern.matches_value(Some(record(&other).as_bytes())), !is_excluded);
        }

        #[test]
        fn anything_but_prefix_never_matches_the_prefix(prefix in "[a-c]{1,3}", rest in "[a-d]{0,4}") {
            let pattern = Pattern::parse(
                &serde_json::json!({"value": {"f": [{"anything-but": {"prefix": prefix}}]}}).to_string(),
            ).unwrap();
            let value = serde_json::json!({"f": format!("{prefix}{rest}")}).to_string();
            prop_assert!(!pattern.matches_value(Some(value.as_bytes())));
        }
    }
}
