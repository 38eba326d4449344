//! Filter rules in typed form: checked once when a pattern is parsed, then matched per record.
//!
//! Lambda "supports the Amazon EventBridge rules and uses the same syntax as EventBridge"
//! (Control which events Lambda sends to your function, Filter rule syntax,
//! <https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>), so the
//! matchers are EventBridge's (Content filtering in Amazon EventBridge event patterns,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html>).

use std::net::IpAddr;

use super::json::Json;

/// What a field of the pattern asks of the same field of the data.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// `{"name": ..., "$or": [...]}`: the data is an object whose fields match.
    Fields(Fields),
    /// `[matcher, ...]`: the field's leaf values match any of the matchers.
    Leaf(Vec<Matcher>),
}

/// An object of the pattern: every named field matches, and each `$or` has a matching alternative.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fields {
    named: Vec<(String, Node)>,
    any_of: Vec<Vec<Fields>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    Equals(Scalar),
    Prefix(Text),
    Suffix(Text),
    EqualsIgnoreCase(String),
    Wildcard(Glob),
    Numeric(Vec<Bound>),
    Exists(bool),
    Cidr(Cidr),
    AnythingBut(Exclusion),
}

/// A leaf value; a number is its text, since 300, 300.0 and 3.0e2 are not equal.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Null,
    Bool(bool),
    Number(String),
    String(String),
}

/// A prefix or suffix, compared exactly or (pre-lowercased) ignoring case.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Text {
    Exact(String),
    IgnoreCase(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exclusion {
    Values(Vec<Scalar>),
    Prefix(String),
    Suffix(String),
    Wildcard(Glob),
    /// Lowercased.
    IgnoreCase(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bound {
    op: Op,
    limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Eq,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Glob(Vec<GlobToken>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum GlobToken {
    Star,
    Char(char),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cidr {
    v6: bool,
    network: u128,
    prefix_bits: u32,
}

const MATCHERS: &str =
    "prefix, suffix, equals-ignore-case, wildcard, numeric, exists, cidr, anything-but";

/// "Numeric matching ... is limited to values between -5.0e9 and +5.0e9 inclusive" (Content
/// filtering in Amazon EventBridge event patterns, Numeric matching).
const NUMERIC_LIMIT_ABS: f64 = 5.0e9;

// ---- checking a pattern -------------------------------------------------------------------

/// The top of a Kafka pattern: an object whose only field is `value` ("Amazon MSK and
/// self-managed Apache Kafka event source mappings only support filtering on the value key",
/// Filtering events from Amazon MSK and self-managed Apache Kafka event sources,
/// <https://docs.aws.amazon.com/lambda/latest/dg/kafka-filtering.html>), or `$or` of such objects.
pub(super) fn top(json: &Json) -> Result<Fields, String> {
    let Json::Object(members) = json else {
        return Err(format!(
            r#"pattern must be a JSON object like {{"value": ...}}, got {json}"#
        ));
    };
    if members.is_empty() {
        return Err(r#"pattern has no "value" key: write {"value": ...}"#.to_string());
    }
    fields(members, "", true)
}

/// `path` names the object ("" at the top); `top` restricts its field names to `value`.
fn fields(members: &[(String, Json)], path: &str, top: bool) -> Result<Fields, String> {
    let here = if path.is_empty() { "pattern" } else { path };
    if members.is_empty() {
        return Err(format!("{here}: empty object; name at least one field"));
    }
    let mut out = Fields {
        named: Vec::new(),
        any_of: Vec::new(),
    };
    for (i, (key, json)) in members.iter().enumerate() {
        if members[..i].iter().any(|(k, _)| k == key) {
            return Err(format!("{here}: field {key:?} is given twice"));
        }
        if key == "$or" {
            out.any_of
                .push(alternatives(json, &join(path, "$or"), top)?);
            continue;
        }
        if top && key != "value" {
            return Err(format!(
                "Kafka filters match only the \"value\" key, not {key:?}: write {{\"value\": ...}}"
            ));
        }
        out.named.push((key.clone(), node(json, &join(path, key))?));
    }
    Ok(out)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn alternatives(json: &Json, path: &str, top: bool) -> Result<Vec<Fields>, String> {
    let Json::Array(items) = json else {
        return Err(format!("{path}: must be a list of objects, got {json}"));
    };
    if items.is_empty() {
        return Err(format!("{path}: empty list; list at least one object"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Json::Object(members) => fields(members, &format!("{path}[{i}]"), top),
            other => Err(format!("{path}[{i}]: {other} is not an object")),
        })
        .collect()
}

fn node(json: &Json, path: &str) -> Result<Node, String> {
    match json {
        Json::Object(members) => fields(members, path, false).map(Node::Fields),
        Json::Array(items) if items.is_empty() => {
            Err(format!("{path}: empty list; list at least one matcher"))
        }
        Json::Array(items) => items
            .iter()
            .map(|item| matcher(item, path))
            .collect::<Result<_, _>>()
            .map(Node::Leaf),
        other => Err(format!(
            "{path}: must be a list of matchers (e.g. [\"x\"]) or an object of fields, got {other}"
        )),
    }
}

fn matcher(item: &Json, path: &str) -> Result<Matcher, String> {
    if let Some(scalar) = Scalar::of(item) {
        return Ok(Matcher::Equals(scalar));
    }
    match item {
        Json::Object(entries) => match entries.as_slice() {
            [(name, arg)] => named_matcher(name, arg, path),
            _ => Err(format!(
                "{path}: matcher {item} must have exactly one key, one of {MATCHERS}"
            )),
        },
        _ => Err(format!("{path}: nested list {item} is not a matcher")),
    }
}

fn named_matcher(name: &str, arg: &Json, path: &str) -> Result<Matcher, String> {
    let at = format!("{path}: {name}");
    match name {
        "prefix" => text(arg, &at).map(Matcher::Prefix),
        "suffix" => text(arg, &at).map(Matcher::Suffix),
        "equals-ignore-case" => {
            string(arg, &at).map(|s| Matcher::EqualsIgnoreCase(s.to_lowercase()))
        }
        "wildcard" => Glob::parse(string(arg, &at)?, &at).map(Matcher::Wildcard),
        "numeric" => numeric(arg, &at).map(Matcher::Numeric),
        "cidr" => Cidr::parse(string(arg, &at)?, &at).map(Matcher::Cidr),
        "anything-but" => exclusion(arg, &at).map(Matcher::AnythingBut),
        "exists" => match arg {
            Json::Bool(wanted) => Ok(Matcher::Exists(*wanted)),
            _ => Err(format!("{at} takes true or false, got {arg}")),
        },
        _ => Err(format!(
            "{path}: unknown matcher {name:?}; allowed {MATCHERS}"
        )),
    }
}

fn string<'a>(arg: &'a Json, at: &str) -> Result<&'a str, String> {
    match arg {
        Json::String(s) => Ok(s),
        _ => Err(format!("{at} takes a string, got {arg}")),
    }
}

fn text(arg: &Json, at: &str) -> Result<Text, String> {
    match arg {
        Json::String(s) => Ok(Text::Exact(s.clone())),
        Json::Object(entries) => match entries.as_slice() {
            [(k, Json::String(s))] if k == "equals-ignore-case" => {
                Ok(Text::IgnoreCase(s.to_lowercase()))
            }
            _ => Err(format!(
                "{at} takes a string or {{\"equals-ignore-case\": string}}, got {arg}"
            )),
        },
        _ => Err(format!(
            "{at} takes a string or {{\"equals-ignore-case\": string}}, got {arg}"
        )),
    }
}

fn numeric(arg: &Json, at: &str) -> Result<Vec<Bound>, String> {
    let usage = || {
        format!(
            "{at} takes [op, number] (op one of =, <, <=, >, >=) or a range \
             [\">\" or \">=\", number, \"<\" or \"<=\", number]; got {arg}"
        )
    };
    let Json::Array(parts) = arg else {
        return Err(usage());
    };
    let bounds = parts
        .chunks(2)
        .map(|pair| Bound::parse(pair).ok_or_else(usage)?.within_limit(at))
        .collect::<Result<Vec<_>, _>>()?;
    match bounds.as_slice() {
        [_] => {}
        [a, b] if a.op.is_lower() && b.op.is_upper() => check_range(*a, *b, at)?,
        [a, b] if a.op.is_upper() && b.op.is_lower() => check_range(*b, *a, at)?,
        _ => return Err(usage()),
    }
    Ok(bounds)
}

fn check_range(lower: Bound, upper: Bound, at: &str) -> Result<(), String> {
    let inclusive = lower.op == Op::Ge && upper.op == Op::Le;
    if lower.limit < upper.limit || (inclusive && lower.limit == upper.limit) {
        return Ok(());
    }
    Err(format!(
        "{at}: the range from {} to {} is empty",
        lower.limit, upper.limit
    ))
}

fn exclusion(arg: &Json, at: &str) -> Result<Exclusion, String> {
    let usage = || {
        format!(
            "{at} takes a string, a number, a list of only strings or only numbers, \
             {{\"prefix\"|\"suffix\"|\"wildcard\": string}} or \
             {{\"equals-ignore-case\": string or list of strings}}; got {arg}"
        )
    };
    match arg {
        Json::String(_) | Json::Number(_) => {
            Ok(Exclusion::Values(Scalar::of(arg).into_iter().collect()))
        }
        Json::Array(list) => excluded_values(list)
            .map(Exclusion::Values)
            .ok_or_else(usage),
        Json::Object(entries) => match entries.as_slice() {
            [(k, Json::String(s))] if k == "prefix" => Ok(Exclusion::Prefix(s.clone())),
            [(k, Json::String(s))] if k == "suffix" => Ok(Exclusion::Suffix(s.clone())),
            [(k, Json::String(s))] if k == "wildcard" => {
                Glob::parse(s, at).map(Exclusion::Wildcard)
            }
            [(k, Json::String(s))] if k == "equals-ignore-case" => {
                Ok(Exclusion::IgnoreCase(vec![s.to_lowercase()]))
            }
            [(k, Json::Array(list))] if k == "equals-ignore-case" => lowercased_strings(list)
                .map(Exclusion::IgnoreCase)
                .ok_or_else(usage),
            _ => Err(usage()),
        },
        Json::Null | Json::Bool(_) => Err(usage()),
    }
}

/// "lists that contain only strings, or only numbers" (Content filtering in Amazon EventBridge
/// event patterns, Anything-but matching).
fn excluded_values(list: &[Json]) -> Option<Vec<Scalar>> {
    let all_strings = list.iter().all(|v| matches!(v, Json::String(_)));
    let all_numbers = list.iter().all(|v| matches!(v, Json::Number(_)));
    if list.is_empty() || !(all_strings || all_numbers) {
        return None;
    }
    list.iter().map(Scalar::of).collect()
}

fn lowercased_strings(list: &[Json]) -> Option<Vec<String>> {
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|v| match v {
            Json::String(s) => Some(s.to_lowercase()),
            _ => None,
        })
        .collect()
}

impl Scalar {
    fn of(json: &Json) -> Option<Scalar> {
        match json {
            Json::Null => Some(Scalar::Null),
            Json::Bool(b) => Some(Scalar::Bool(*b)),
            Json::Number(t) => Some(Scalar::Number(t.clone())),
            Json::String(s) => Some(Scalar::String(s.clone())),
            Json::Array(_) | Json::Object(_) => None,
        }
    }

    /// Exact equality; numbers compare by their text, as Lambda's page says.
    fn equals(&self, leaf: &Json) -> bool {
        match (self, leaf) {
            (Scalar::Null, Json::Null) => true,
            (Scalar::Bool(a), Json::Bool(b)) => a == b,
            (Scalar::Number(a), Json::Number(b)) => a == b,
            (Scalar::String(a), Json::String(b)) => a == b,
            _ => false,
        }
    }
}

impl Op {
    fn is_lower(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }

    fn is_upper(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

impl Bound {
    fn parse(pair: &[Json]) -> Option<Bound> {
        let [Json::String(op), Json::Number(limit)] = pair else {
            return None;
        };
        let op = match op.as_str() {
            "<" => Op::Lt,
            "<=" => Op::Le,
            "=" => Op::Eq,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        };
        Some(Bound {
            op,
            limit: limit.parse().ok()?,
        })
    }

    fn within_limit(self, at: &str) -> Result<Bound, String> {
        if self.limit.abs() <= NUMERIC_LIMIT_ABS {
            return Ok(self);
        }
        Err(format!(
            "{at}: {} is outside the numeric range -5.0e9 to 5.0e9",
            self.limit
        ))
    }

    fn holds(self, n: f64) -> bool {
        match self.op {
            Op::Lt => n < self.limit,
            Op::Le => n <= self.limit,
            Op::Eq => n == self.limit,
            Op::Gt => n > self.limit,
            Op::Ge => n >= self.limit,
        }
    }
}

impl Glob {
    /// `*` is any run of characters; `\*` and `\\` are a literal star and backslash; `**` is
    /// refused, as EventBridge does (Content filtering in Amazon EventBridge event patterns,
    /// Wildcard matching).
    fn parse(pattern: &str, at: &str) -> Result<Glob, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => GlobToken::Char(escaped),
                    _ => {
                        return Err(format!(
                            "{at}: \\ must be followed by * or \\ in {pattern:?}"
                        ));
                    }
                },
                '*' if tokens.last() == Some(&GlobToken::Star) => {
                    return Err(format!("{at}: consecutive wildcards (**) in {pattern:?}"));
                }
                '*' => GlobToken::Star,
                other => GlobToken::Char(other),
            };
            tokens.push(token);
        }
        Ok(Glob(tokens))
    }

    /// Linear-time match with one backtrack point: the last star seen.
    fn matches(&self, text: &str) -> bool {
        let (p, t): (&[GlobToken], Vec<char>) = (&self.0, text.chars().collect());
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match p.get(pi) {
                Some(GlobToken::Star) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(GlobToken::Char(c)) if *c == t[ti] => {
                    pi += 1;
                    ti += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| *t == GlobToken::Star)
    }
}

impl Cidr {
    /// "You can use IP address matching for IPv4 and IPv6 addresses" (Content filtering in
    /// Amazon EventBridge event patterns, IP address matching), written as address/prefix-bits.
    fn parse(text: &str, at: &str) -> Result<Cidr, String> {
        let usage =
            || format!("{at} takes an IPv4 or IPv6 network like \"10.0.0.0/24\", got {text:?}");
        let (addr, bits) = text.split_once('/').ok_or_else(usage)?;
        let addr: IpAddr = addr.parse().map_err(|_| usage())?;
        let prefix_bits: u32 = bits.parse().map_err(|_| usage())?;
        let (v6, address) = Cidr::bits(addr);
        if prefix_bits > Cidr::width(v6) {
            return Err(usage());
        }
        Ok(Cidr {
            v6,
            network: Cidr::prefix(address, prefix_bits, v6),
            prefix_bits,
        })
    }

    fn bits(addr: IpAddr) -> (bool, u128) {
        match addr {
            IpAddr::V4(a) => (false, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, u128::from(a)),
        }
    }

    fn width(v6: bool) -> u32 {
        if v6 { 128 } else { 32 }
    }

    fn prefix(address: u128, prefix_bits: u32, v6: bool) -> u128 {
        let host_bits = Cidr::width(v6) - prefix_bits;
        address.checked_shr(host_bits).unwrap_or(0)
    }

    fn contains(&self, text: &str) -> bool {
        let Ok(addr) = text.parse::<IpAddr>() else {
            return false;
        };
        let (v6, address) = Cidr::bits(addr);
        v6 == self.v6 && Cidr::prefix(address, self.prefix_bits, v6) == self.network
    }
}

// ---- matching -----------------------------------------------------------------------------

impl Node {
    /// `data` is the field's value in the record, `None` when the field is absent.
    pub(super) fn matches(&self, data: Option<&Json>) -> bool {
        match self {
            Node::Fields(fields) => fields.matches(data),
            Node::Leaf(matchers) => leaf_matches(matchers, data),
        }
    }

    pub(super) fn is_leaf(&self) -> bool {
        matches!(self, Node::Leaf(_))
    }
}

impl Fields {
    /// An array matches when any element does; a scalar or absent field has no fields below it.
    fn matches(&self, data: Option<&Json>) -> bool {
        match data {
            Some(Json::Array(items)) if !items.is_empty() => {
                items.iter().any(|item| self.matches(Some(item)))
            }
            _ => self.matches_by(&|key, _| data.and_then(|d| d.get(key))),
        }
    }

    /// Matches with each named field's data given by `field(name, node)`.
    pub(super) fn matches_by<'a>(&self, field: &dyn Fn(&str, &Node) -> Option<&'a Json>) -> bool {
        self.named
            .iter()
            .all(|(key, node)| node.matches(field(key, node)))
            && self
                .any_of
                .iter()
                .all(|alternatives| alternatives.iter().any(|alt| alt.matches_by(field)))
    }
}

/// "the Exists operator only works on leaf nodes" (Control which events Lambda sends to your
/// function): an object is no leaf, and an array's leaves are its scalar elements.
fn leaf_matches(matchers: &[Matcher], data: Option<&Json>) -> bool {
    let mut leaves = Vec::new();
    collect_leaves(data, &mut leaves);
    matchers.iter().any(|m| match m {
        Matcher::Exists(wanted) => leaves.is_empty() != *wanted,
        _ => leaves.iter().any(|leaf| m.matches(leaf)),
    })
}

fn collect_leaves<'a>(data: Option<&'a Json>, out: &mut Vec<&'a Json>) {
    match data {
        Some(Json::Array(items)) => items.iter().for_each(|i| collect_leaves(Some(i), out)),
        Some(Json::Object(_)) | None => {}
        Some(leaf) => out.push(leaf),
    }
}

impl Matcher {
    /// One matcher against one leaf (a scalar).
    fn matches(&self, leaf: &Json) -> bool {
        let text = match leaf {
            Json::String(s) => Some(s.as_str()),
            _ => None,
        };
        match self {
            Matcher::Equals(expected) => expected.equals(leaf),
            Matcher::Prefix(p) => text.is_some_and(|t| p.holds(t, |t, p| t.starts_with(p))),
            Matcher::Suffix(s) => text.is_some_and(|t| s.holds(t, |t, s| t.ends_with(s))),
            Matcher::EqualsIgnoreCase(s) => text.is_some_and(|t| t.to_lowercase() == *s),
            Matcher::Wildcard(glob) => text.is_some_and(|t| glob.matches(t)),
            Matcher::Numeric(bounds) => {
                number(leaf).is_some_and(|n| bounds.iter().all(|b| b.holds(n)))
            }
            Matcher::Cidr(net) => text.is_some_and(|t| net.contains(t)),
            Matcher::AnythingBut(exclusion) => exclusion.admits(leaf, text),
            Matcher::Exists(_) => false,
        }
    }
}

fn number(leaf: &Json) -> Option<f64> {
    match leaf {
        Json::Number(t) => t.parse().ok(),
        _ => None,
    }
}

impl Text {
    fn holds(&self, value: &str, rule: fn(&str, &str) -> bool) -> bool {
        match self {
            Text::Exact(s) => rule(value, s),
            Text::IgnoreCase(s) => rule(&value.to_lowercase(), s),
        }
    }
}

impl Exclusion {
    /// Whether `leaf` is outside the exclusion; the string forms exclude every non-string.
    fn admits(&self, leaf: &Json, text: Option<&str>) -> bool {
        match (self, text) {
            (Exclusion::Values(excluded), _) => !excluded.iter().any(|e| e.equals(leaf)),
            (Exclusion::Prefix(p), Some(t)) => !t.starts_with(p.as_str()),
            (Exclusion::Suffix(s), Some(t)) => !t.ends_with(s.as_str()),
            (Exclusion::Wildcard(glob), Some(t)) => !glob.matches(t),
            (Exclusion::IgnoreCase(list), Some(t)) => !list.contains(&t.to_lowercase()),
            (_, None) => false,
        }
    }
}
