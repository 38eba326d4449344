use super::*;
use proptest::prelude::*;
use serde_json::json;

fn pattern(text: &str) -> Pattern {
    Pattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn matches(pattern_text: &str, value: &str) -> bool {
    pattern(pattern_text).matches_value(Some(value.as_bytes()))
}

/// A pattern on one field `f` of a JSON value, and that value with `f` set to `data`.
fn field_matches(rule: &str, data: &str) -> bool {
    matches(
        &format!(r#"{{"value": {{"f": {rule}}}}}"#),
        &format!(r#"{{"f": {data}}}"#),
    )
}

fn error(text: &str) -> String {
    Pattern::parse(text).expect_err(text)
}

#[test]
fn kafka_page_example_prefix_on_a_json_field() {
    let p = r#"{ "value" : { "device_ID" : [ { "prefix": "AB" } ] } }"#;
    let record = r#"{"device_ID": "AB1234", "session": {"start_time": "t", "duration": 162}}"#;
    assert!(matches(p, record));
    assert!(!matches(p, r#"{"device_ID": "XB1234"}"#));
    assert!(!matches(p, r#"{"other": "AB"}"#));
}

#[test]
fn kafka_page_example_anything_but_on_a_plain_string() {
    let p = r#"{ "value" : [ { "anything-but": [ "error" ] } ] }"#;
    assert!(matches(p, "all good"));
    assert!(!matches(p, "error"));
}

#[test]
fn numbers_are_equal_only_as_written() {
    assert!(field_matches("[300]", "300"));
    assert!(!field_matches("[300]", "300.0"));
    assert!(!field_matches("[300]", "3.0e2"));
    assert!(field_matches("[300.0]", "300.0"));
    assert!(!field_matches("[300.0]", "300"));
    assert!(
        !field_matches(r#"["300"]"#, "300"),
        "a string is not a number"
    );
    for written in ["300", "300.0", "3.0e2"] {
        assert!(
            field_matches(r#"[{"numeric": ["=", 300]}]"#, written),
            "numeric compares values: {written}"
        );
    }
}

#[test]
fn null_empty_booleans_and_case() {
    assert!(field_matches("[null]", "null"));
    assert!(!field_matches("[null]", r#""""#));
    assert!(
        !matches(r#"{"value": {"f": [null]}}"#, "{}"),
        "absent is not null"
    );
    assert!(field_matches(r#"[""]"#, r#""""#));
    assert!(!field_matches(r#"[""]"#, "null"));
    assert!(field_matches("[true]", "true") && !field_matches("[true]", r#""true""#));
    assert!(field_matches(r#"["a", "b"]"#, r#""b""#));
    assert!(!field_matches(r#"["a"]"#, r#""A""#), "no case folding");
}

#[test]
fn numeric_operators_and_ranges() {
    let cases = [
        (r#"["<", 5]"#, [true, false, false]),
        (r#"["<=", 5]"#, [true, true, false]),
        (r#"["=", 5]"#, [false, true, false]),
        (r#"[">=", 5]"#, [false, true, true]),
        (r#"[">", 5]"#, [false, false, true]),
        (r#"[">", 4.95, "<=", 5]"#, [false, true, false]),
        (r#"["<", 5.05, ">=", 5]"#, [false, true, false]),
        (r#"[">=", -1e2, "<", 5]"#, [true, false, false]),
    ];
    for (ops, expected) in cases {
        let rule = format!(r#"[{{"numeric": {ops}}}]"#);
        let seen = ["4.9", "5", "5.1"].map(|n| field_matches(&rule, n));
        assert_eq!(seen, expected, "{ops}");
    }
    assert!(!field_matches(r#"[{"numeric": [">", 0]}]"#, r#""3""#));
    assert!(field_matches(r#"[{"numeric": [">", 0]}]"#, "5E-1"));
}

#[test]
fn prefix_suffix_and_ignore_case() {
    assert!(field_matches(r#"[{"prefix": "us-"}]"#, r#""us-east-1""#));
    assert!(!field_matches(r#"[{"prefix": "us-"}]"#, r#""US-east-1""#));
    assert!(
        !field_matches(r#"[{"prefix": "1"}]"#, "12"),
        "prefix is for strings"
    );
    assert!(field_matches(r#"[{"suffix": ".png"}]"#, r#""a.png""#));
    assert!(!field_matches(r#"[{"suffix": ".png"}]"#, r#""a.PNG""#));
    assert!(field_matches(
        r#"[{"suffix": {"equals-ignore-case": ".png"}}]"#,
        r#""a.PNG""#
    ));
    assert!(field_matches(
        r#"[{"prefix": {"equals-ignore-case": "eventB"}}]"#,
        r#""EVENTBRIDGE""#
    ));
    assert!(field_matches(
        r#"[{"equals-ignore-case": "alice"}]"#,
        r#""ALICE""#
    ));
    assert!(!field_matches(
        r#"[{"equals-ignore-case": "alice"}]"#,
        r#""alice2""#
    ));
}

#[test]
fn anything_but_forms() {
    let list = r#"[{"anything-but": ["a", "b"]}]"#;
    assert!(field_matches(list, r#""c""#) && !field_matches(list, r#""a""#));
    assert!(field_matches(list, "1"), "a number is none of the strings");
    assert!(
        !matches(r#"{"value": {"f": [{"anything-but": "a"}]}}"#, "{}"),
        "anything-but needs the field present"
    );
    let number = r#"[{"anything-but": 300}]"#;
    assert!(!field_matches(number, "300") && field_matches(number, "301"));
    assert!(field_matches(number, "300.0"), "numbers compare as written");
    let prefix = r#"[{"anything-but": {"prefix": "tmp"}}]"#;
    assert!(field_matches(prefix, r#""data""#) && !field_matches(prefix, r#""tmp1""#));
    assert!(
        !field_matches(prefix, "5"),
        "the string forms need a string"
    );
    let suffix = r#"[{"anything-but": {"suffix": ".png"}}]"#;
    assert!(field_matches(suffix, r#""a.jpg""#) && !field_matches(suffix, r#""a.png""#));
    let wildcard = r#"[{"anything-but": {"wildcard": "*/lib/*"}}]"#;
    assert!(field_matches(wildcard, r#""src/a""#) && !field_matches(wildcard, r#""x/lib/y""#));
    let ignore_case = r#"[{"anything-but": {"equals-ignore-case": ["X", "y"]}}]"#;
    assert!(field_matches(ignore_case, r#""z""#) && !field_matches(ignore_case, r#""Y""#));
}

#[test]
fn exists_matches_leaves_only() {
    let person = r#"{"person": {"name": "John Doe", "age": 30,
        "address": {"street": "123 Main St", "city": "Anytown"}}}"#;
    let address = |wanted: bool| {
        format!(r#"{{"value": {{"person": {{"address": [{{"exists": {wanted}}}]}}}}}}"#)
    };
    assert!(
        !matches(&address(true), person),
        "the page's example: an intermediate node"
    );
    assert!(matches(&address(false), person));
    let name = r#"{"value": {"person": {"name": [{"exists": true}]}}}"#;
    assert!(matches(name, person));
    assert!(
        field_matches(r#"[{"exists": true}]"#, "null"),
        "null is a leaf"
    );
    assert!(field_matches(r#"[{"exists": true}]"#, "[1]"));
    assert!(
        field_matches(r#"[{"exists": false}]"#, "[]"),
        "an empty list has no leaf"
    );
    assert!(matches(
        r#"{"value": {"x": {"y": [{"exists": false}]}}}"#,
        r#"{"z": 1}"#
    ));
    assert!(!matches(
        r#"{"value": {"x": [{"exists": true}]}}"#,
        r#"{"z": 1}"#
    ));
}

#[test]
fn cidr_matches_ipv4_and_ipv6_addresses() {
    let v4 = r#"[{"cidr": "10.0.0.0/24"}]"#;
    assert!(field_matches(v4, r#""10.0.0.255""#));
    assert!(!field_matches(v4, r#""10.0.1.0""#));
    assert!(!field_matches(v4, r#""not an ip""#) && !field_matches(v4, "10"));
    assert!(
        !field_matches(v4, r#""::ffff:10.0.0.1""#),
        "an IPv6 address is not in an IPv4 net"
    );
    let v6 = r#"[{"cidr": "2001:db8::/32"}]"#;
    assert!(field_matches(v6, r#""2001:db8:ffff::1""#));
    assert!(!field_matches(v6, r#""2001:db9::1""#));
    assert!(
        field_matches(r#"[{"cidr": "10.0.0.7/24"}]"#, r#""10.0.0.1""#),
        "host bits are ignored"
    );
    assert!(field_matches(
        r#"[{"cidr": "0.0.0.0/0"}]"#,
        r#""203.0.113.9""#
    ));
    assert!(field_matches(
        r#"[{"cidr": "192.0.2.1/32"}]"#,
        r#""192.0.2.1""#
    ));
}

#[test]
fn wildcards_with_escapes() {
    let w = r#"[{"wildcard": "dir/*.png"}]"#;
    assert!(field_matches(w, r#""dir/a/b.png""#) && !field_matches(w, r#""dir/a.jpg""#));
    assert!(field_matches(r#"[{"wildcard": "*"}]"#, r#""""#));
    let star = r#"[{"wildcard": "a\\*b"}]"#;
    assert!(field_matches(star, r#""a*b""#) && !field_matches(star, r#""axb""#));
    assert!(field_matches(r#"[{"wildcard": "a\\\\b"}]"#, r#""a\\b""#));
}

#[test]
fn arrays_in_the_data_match_when_any_element_does() {
    assert!(field_matches(r#"["red"]"#, r#"["blue", "red"]"#));
    assert!(!field_matches(r#"["red"]"#, r#"["blue"]"#));
    assert!(field_matches(r#"[{"numeric": [">", 9]}]"#, "[1, [2, 10]]"));
    let items = r#"{"value": {"items": {"id": [2], "ok": [true]}}}"#;
    assert!(matches(
        items,
        r#"{"items": [{"id": 1, "ok": true}, {"id": 2, "ok": true}]}"#
    ));
    assert!(
        !matches(
            items,
            r#"{"items": [{"id": 1, "ok": true}, {"id": 2, "ok": false}]}"#
        ),
        "both fields must match within one element"
    );
    assert!(matches(
        r#"{"value": {"id": [2]}}"#,
        r#"[{"id": 1}, {"id": 2}]"#
    ));
}

#[test]
fn nested_fields_all_must_match() {
    let p = r#"{"value": {"a": {"b": [1]}, "c": ["x"]}}"#;
    assert!(matches(p, r#"{"a": {"b": 1}, "c": "x"}"#));
    assert!(!matches(p, r#"{"a": {"b": 1}, "c": "y"}"#));
    assert!(!matches(p, r#"{"a": 1, "c": "x"}"#));
}

#[test]
fn or_of_fields_nested_and_at_the_top() {
    let nested = r#"{"value": {"$or": [{"a": [1]}, {"b": [2]}], "c": ["k"]}}"#;
    assert!(matches(nested, r#"{"b": 2, "c": "k"}"#));
    assert!(!matches(nested, r#"{"b": 2, "c": "j"}"#));
    assert!(!matches(nested, r#"{"b": 3, "c": "k"}"#));
    let top = r#"{"$or": [{"value": {"kind": ["order"]}}, {"value": [{"prefix": "order:"}]}]}"#;
    assert!(matches(top, r#"{"kind": "order"}"#));
    assert!(matches(top, "order:7"));
    assert!(!matches(top, r#"{"kind": "refund"}"#) && !matches(top, "refund:7"));
}

#[test]
fn plain_string_values_meet_list_patterns_only() {
    assert!(matches(
        r#"{"value": [{"prefix": "INFO"}]}"#,
        "INFO all good"
    ));
    assert!(matches(r#"{"value": ["hello world"]}"#, "hello world"));
    assert!(
        matches(r#"{"value": ["42"]}"#, "42"),
        "42 is the plain string 42"
    );
    assert!(!matches(r#"{"value": [42]}"#, "42"));
    assert!(!matches(r#"{"value": [{"numeric": [">", 10]}]}"#, "42"));
    assert!(matches(r#"{"value": ["\"quoted\""]}"#, "\"quoted\""));
    assert!(matches(r#"{"value": ["{not json"]}"#, "{not json"));
}

#[test]
fn a_value_whose_form_differs_from_the_pattern_is_unseen() {
    let object = r#"{"value": {"a": ["x"]}}"#;
    assert!(!matches(object, "a x"), "plain string, JSON pattern");
    assert!(!matches(object, r#""x""#));
    assert!(matches(r#"{"value": {"a": [{"exists": false}]}}"#, "a x"));
    let list = r#"{"value": [{"anything-but": ["error"]}]}"#;
    assert!(
        !matches(list, r#"{"a": "x"}"#),
        "JSON value, plain-string pattern"
    );
    assert!(!matches(r#"{"value": [{"exists": true}]}"#, r#"{"a": 1}"#));
    assert!(matches(r#"{"value": [{"exists": false}]}"#, "[1, 2]"));
}

#[test]
fn null_empty_and_non_utf8_values_are_absent() {
    let absent = pattern(r#"{"value": [{"exists": false}]}"#);
    let present = pattern(r#"{"value": [{"exists": true}]}"#);
    let anything_but = pattern(r#"{"value": [{"anything-but": ["x"]}]}"#);
    let field = pattern(r#"{"value": {"a": [{"exists": false}]}}"#);
    let binary: &[u8] = &[0xff, 0xfe, 0x00];
    for value in [None, Some(&b""[..]), Some(binary)] {
        assert!(absent.matches_value(value), "{value:?}");
        assert!(field.matches_value(value), "{value:?}");
        assert!(!present.matches_value(value), "{value:?}");
        assert!(!anything_but.matches_value(value), "{value:?}");
    }
    assert!(present.matches_value(Some(b"x")));
}

#[test]
fn a_record_passes_when_any_filter_matches() {
    let a = pattern(r#"{"value": {"k": ["a"]}}"#);
    let b = pattern(r#"{"value": {"k": ["b"]}}"#);
    assert!(passes(&[], Some(b"anything")) && passes(&[], None));
    assert!(passes(&[a.clone(), b.clone()], Some(br#"{"k": "b"}"#)));
    assert!(!passes(&[a, b], Some(br#"{"k": "c"}"#)));
}

#[test]
fn parse_errors_name_the_fault() {
    let cases = [
        ("{", "not valid JSON"),
        ("[1]", "JSON object"),
        (r#"{"key": ["a"]}"#, "only the \"value\" key, not \"key\""),
        (r#"{"value": ["a"], "headers": ["b"]}"#, "not \"headers\""),
        ("{}", "no \"value\" key"),
        (r#"{"value": {"a": "x"}}"#, "value.a: must be a list"),
        (r#"{"value": {"a": []}}"#, "value.a: empty list"),
        (r#"{"value": {}}"#, "value: empty object"),
        (r#"{"value": {"a": [[1]]}}"#, "nested list"),
        (
            r#"{"value": {"a": [{"prefx": "x"}]}}"#,
            "unknown matcher \"prefx\"",
        ),
        (
            r#"{"value": {"a": [{"prefix": "x", "suffix": "y"}]}}"#,
            "exactly one key",
        ),
        (
            r#"{"value": {"a": [{"numeric": [">"]}]}}"#,
            "value.a: numeric",
        ),
        (r#"{"value": {"a": [{"numeric": ["~", 1]}]}}"#, "numeric"),
        (
            r#"{"value": {"a": [{"numeric": ["=", 1, "<", 2]}]}}"#,
            "numeric",
        ),
        (
            r#"{"value": {"a": [{"numeric": [">", 1, ">", 2]}]}}"#,
            "numeric",
        ),
        (
            r#"{"value": {"a": [{"numeric": [">", 5, "<", 1]}]}}"#,
            "is empty",
        ),
        (
            r#"{"value": {"a": [{"numeric": [">", 6e9]}]}}"#,
            "-5.0e9 to 5.0e9",
        ),
        (r#"{"value": {"a": [{"exists": "yes"}]}}"#, "true or false"),
        (r#"{"value": {"a": [{"prefix": 1}]}}"#, "value.a: prefix"),
        (r#"{"value": {"a": [{"cidr": "10.0.0.0"}]}}"#, "cidr"),
        (r#"{"value": {"a": [{"cidr": "10.0.0.0/33"}]}}"#, "cidr"),
        (
            r#"{"value": {"a": [{"wildcard": "a**"}]}}"#,
            "consecutive wildcards",
        ),
        (
            r#"{"value": {"a": [{"wildcard": "a\\b"}]}}"#,
            "must be followed by",
        ),
        (
            r#"{"value": {"a": [{"anything-but": {"foo": 1}}]}}"#,
            "anything-but",
        ),
        (
            r#"{"value": {"a": [{"anything-but": ["a", 1]}]}}"#,
            "only strings or only numbers",
        ),
        (
            r#"{"value": {"a": [{"anything-but": [null]}]}}"#,
            "anything-but",
        ),
        (
            r#"{"value": {"a": [{"anything-but": []}]}}"#,
            "anything-but",
        ),
        (
            r#"{"value": {"$or": {"a": [1]}}}"#,
            "value.$or: must be a list",
        ),
        (
            r#"{"value": {"$or": [1]}}"#,
            "value.$or[0]: 1 is not an object",
        ),
        (r#"{"$or": [{"key": ["a"]}]}"#, "not \"key\""),
        (r#"{"value": {"a": [1], "a": [2]}}"#, "\"a\" is given twice"),
    ];
    for (text, expected) in cases {
        let e = error(text);
        assert!(e.contains(expected), "{text}: {e:?} lacks {expected:?}");
    }
}

#[test]
fn pattern_size_and_depth_are_bounded() {
    let long = format!(r#"{{"value": ["{}"]}}"#, "x".repeat(PATTERN_MAX_CHARS));
    assert!(error(&long).contains("longer than 4096"));
    let frame_chars = r#"{"value": [""]}"#.len();
    let at_limit = format!(
        r#"{{"value": ["{}"]}}"#,
        "x".repeat(PATTERN_MAX_CHARS - frame_chars)
    );
    assert!(Pattern::parse(&at_limit).is_ok());
    let nest = |levels: usize| {
        format!(
            r#"{{"value": {}[1]{}}}"#,
            r#"{"a": "#.repeat(levels),
            "}".repeat(levels)
        )
    };
    assert!(Pattern::parse(&nest(PATTERN_DEPTH_MAX - 2)).is_ok());
    assert!(error(&nest(PATTERN_DEPTH_MAX)).contains("nested too deep"));
    assert!(error(&"[".repeat(PATTERN_MAX_CHARS)).contains("nested too deep"));
}

#[test]
fn deep_values_are_read_as_plain_strings() {
    let deep = format!(
        "{}1{}",
        "[".repeat(VALUE_DEPTH_MAX + 1),
        "]".repeat(VALUE_DEPTH_MAX + 1)
    );
    assert!(matches(r#"{"value": [{"prefix": "[[["}]}"#, &deep));
    let ok = format!(
        "{}1{}",
        "[".repeat(VALUE_DEPTH_MAX),
        "]".repeat(VALUE_DEPTH_MAX)
    );
    assert!(matches(r#"{"value": {"a": [{"exists": false}]}}"#, &ok));
}

#[test]
fn the_pattern_text_is_kept() {
    let text = r#"{"value": ["a"]}"#;
    assert_eq!(pattern(text).text(), text);
}

fn excluded_strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-c]{0,3}", 1..4)
}

proptest! {
    #[test]
    fn anything_but_never_matches_what_it_excludes(
        excluded in excluded_strings(),
        pick in any::<prop::sample::Index>(),
        other in "[a-c]{0,3}",
    ) {
        let p = pattern(&json!({"value": {"f": [{"anything-but": excluded}]}}).to_string());
        let record = |s: &str| json!({"f": s}).to_string();
        let hit: &String = pick.get(&excluded);
        prop_assert!(!p.matches_value(Some(record(hit).as_bytes())));
        let admitted = !excluded.contains(&other);
        prop_assert_eq!(p.matches_value(Some(record(&other).as_bytes())), admitted);
    }

    #[test]
    fn exact_numbers_compare_as_written(n in -1_000_000i64..1_000_000) {
        let exact = pattern(&format!(r#"{{"value": {{"f": [{n}]}}}}"#));
        let numeric = pattern(&format!(r#"{{"value": {{"f": [{{"numeric": ["=", {n}]}}]}}}}"#));
        for (written, same_text) in [(format!("{n}"), true), (format!("{n}.0"), false), (format!("{n}e0"), false)] {
            let record = format!(r#"{{"f": {written}}}"#);
            prop_assert_eq!(exact.matches_value(Some(record.as_bytes())), same_text);
            prop_assert!(numeric.matches_value(Some(record.as_bytes())));
        }
    }

    #[test]
    fn numeric_ranges_agree_with_arithmetic(low in -100i32..100, width in 1i32..50, x in -200i32..200) {
        let p = pattern(&format!(
            r#"{{"value": {{"f": [{{"numeric": [">=", {low}, "<", {}]}}]}}}}"#, low + width
        ));
        let record = format!(r#"{{"f": {x}}}"#);
        prop_assert_eq!(p.matches_value(Some(record.as_bytes())), low <= x && x < low + width);
    }

    #[test]
    fn passes_is_any_of_the_filters(
        wanted in prop::collection::vec("[a-c]", 0..4),
        value in "[a-d]",
    ) {
        let filters: Vec<Pattern> = wanted
            .iter()
            .map(|w| pattern(&json!({"value": [w]}).to_string()))
            .collect();
        let expected = wanted.is_empty() || wanted.contains(&value);
        prop_assert_eq!(passes(&filters, Some(value.as_bytes())), expected);
    }

    #[test]
    fn a_wildcard_around_a_text_finds_it(needle in "[ab]{1,3}", before in "[abc]{0,4}", after in "[abc]{0,4}") {
        let p = pattern(&json!({"value": [{"wildcard": format!("*{needle}*")}]}).to_string());
        let with_needle = format!("{before}{needle}{after}");
        let hay = format!("{before}{after}");
        prop_assert!(p.matches_value(Some(with_needle.as_bytes())));
        prop_assert_eq!(p.matches_value(Some(hay.as_bytes())), hay.contains(&needle));
    }

    #[test]
    fn cidr_24_is_the_first_three_octets(a in any::<[u8; 4]>(), b in any::<[u8; 4]>()) {
        let net = format!("{}.{}.{}.0/24", a[0], a[1], a[2]);
        let p = pattern(&json!({"value": [{"cidr": net}]}).to_string());
        let ip = format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        prop_assert_eq!(p.matches_value(Some(ip.as_bytes())), a[..3] == b[..3]);
    }

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,64}") {
        let _ = Pattern::parse(&text);
    }
}
