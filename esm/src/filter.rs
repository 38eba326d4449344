//! FilterCriteria: which Kafka records reach the function.
//!
//! Sources, quoted where the code follows them:
//! - "Control which events Lambda sends to your function"
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>): filters are
//!   "logically ORed together. If a record from your event source satisfies one or more of your
//!   filters, Lambda includes the record"; the rules are EventBridge's; numbers compare by their
//!   text ("300, 300.0, and 3.0e2 are not considered equal"); "the Exists operator only works on
//!   leaf nodes"; for Kafka, "Lambda commits offsets for matched and unmatched messages".
//! - "Filtering events from Amazon MSK and self-managed Apache Kafka event sources"
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/kafka-filtering.html>): "Amazon MSK and
//!   self-managed Apache Kafka event source mappings only support filtering on the `value` key",
//!   so a pattern is `{"value": ...}` (or a `$or` of such), and the record's key and headers are
//!   not filterable. A JSON value is matched by an object pattern (`{"value": {"field": [...]}}`)
//!   and a plain-string value by a list of matchers (`{"value": [...]}`).
//! - "Content filtering in Amazon EventBridge event patterns"
//!   (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html>):
//!   the matchers, in `filter/rule.rs`.
//!
//! The Kafka page's table for a value whose form does not fit the pattern:
//!
//! > Kafka messages must be UTF-8 encoded strings, either plain strings or in JSON format. [...]
//! > If your messages use another encoding, such as UTF-16 or ASCII, or if the message format
//! > doesn't match the FilterCriteria format, Lambda processes metadata filters only.
//!
//! | Incoming message | Pattern for the value | Resulting action |
//! | --- | --- | --- |
//! | Plain string | Plain string | Lambda filters based on your filter criteria. |
//! | Plain string | Valid JSON | Lambda filters (on the other metadata properties only) |
//! | Valid JSON | Plain string | Lambda filters (on the other metadata properties only) |
//! | Valid JSON | Valid JSON | Lambda filters based on your filter criteria. |
//! | Non-UTF-8 encoded string | JSON, plain string, or no pattern | (metadata properties only) |
//!
//! A Kafka pattern holds no metadata filter, only `value`, so "metadata properties only" leaves
//! the value unseen: in those rows the value counts as absent and only `{"exists": false}` can
//! match it (the words also allow "nothing left to check, so it passes"; this project takes the
//! reading under which a filter never lets through a record it cannot read). Choices where AWS
//! says nothing, kept explicit:
//! - a value is "valid JSON" when it is a JSON object or array; any other UTF-8 text, `42` and
//!   `"quoted"` included, is a plain string matched as written;
//! - a null (tombstone) or empty value is absent, as in the event, which leaves such a value out;
//! - a value nested deeper than [`VALUE_DEPTH_MAX`] is read as a plain string;
//! - a field given twice in a pattern is refused rather than silently reduced to one.

mod json;
mod rule;

use json::Json;
use rule::{Fields, Node};

/// AWS's limit on one pattern's text (Lambda API reference, Filter, Pattern: "Maximum length of
/// 4096", <https://docs.aws.amazon.com/lambda/latest/api/API_Filter.html>).
pub const PATTERN_MAX_CHARS: usize = 4096;

/// How deep a pattern's objects and lists may nest; a bound so a hostile pattern cannot
/// exhaust the stack (AWS documents none; 32 is far beyond any event's structure in practice).
pub const PATTERN_DEPTH_MAX: usize = 32;

/// How deep a record value's JSON may nest for it to be read as JSON (serde_json's own bound).
pub const VALUE_DEPTH_MAX: usize = 128;

/// One parsed filter pattern (FilterCriteria.Filters[].Pattern).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    text: String,
    rule: Fields,
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it and where.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let chars = text.chars().count();
        if chars > PATTERN_MAX_CHARS {
            return Err(format!(
                "pattern is {chars} characters, longer than {PATTERN_MAX_CHARS}"
            ));
        }
        let source = json::parse(text, PATTERN_DEPTH_MAX).map_err(|e| {
            format!("pattern is not valid JSON (at most {PATTERN_DEPTH_MAX} levels deep): {e}")
        })?;
        Ok(Pattern {
            text: text.to_string(),
            rule: rule::top(&source)?,
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a record with this value (raw bytes, `None` for a null value) matches.
    pub fn matches_value(&self, value: Option<&[u8]>) -> bool {
        self.matches(&RecordValue::read(value))
    }

    fn matches(&self, value: &RecordValue) -> bool {
        self.rule.matches_by(&|_, node| value.seen_by(node))
    }
}

/// A record passes when there are no filters or any filter matches its value.
pub fn passes(filters: &[Pattern], value: Option<&[u8]>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let value = RecordValue::read(value);
    filters.iter().any(|p| p.matches(&value))
}

/// A record value as the filters see it; read once per record.
enum RecordValue {
    /// Null, empty or not UTF-8.
    Absent,
    /// UTF-8 text that is not a JSON object or array, as a JSON string.
    Plain(Json),
    /// A JSON object or array.
    Document(Json),
}

impl RecordValue {
    fn read(value: Option<&[u8]>) -> RecordValue {
        let Some(text) = value
            .filter(|bytes| !bytes.is_empty())
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
        else {
            return RecordValue::Absent;
        };
        let document = text
            .trim_start()
            .starts_with(['{', '['])
            .then(|| json::parse(text, VALUE_DEPTH_MAX).ok())
            .flatten();
        match document {
            Some(document) => RecordValue::Document(document),
            None => RecordValue::Plain(Json::String(text.to_string())),
        }
    }

    /// The value a pattern's `value` node sees: none when the forms differ (the table above).
    fn seen_by(&self, node: &Node) -> Option<&Json> {
        match (self, node.is_leaf()) {
            (RecordValue::Plain(text), true) => Some(text),
            (RecordValue::Document(document), false) => Some(document),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
