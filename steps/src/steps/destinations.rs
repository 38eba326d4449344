//! The on-failure destination: the records a mapping sends to a Kafka topic when it gives up on
//! a batch, and the fields of those failure records.

use super::Concept;
use regex::Regex;

step! {
    /// The destination topic holds this many records.
    TOPIC_HOLDS: r#"within 30 seconds the topic "orders-dlq" holds 1 record"#,
    [r"within (\d+) seconds? the topic ", q!(), r" holds (\d+) records?"],
    |s, a| Ok(s.await_topic_holds(&a.text(2), a.num(3)?, a.secs(1)?).await?)
}

step! {
    /// A failure record for the record with this value, with this condition.
    FAILURE_RECORD: r#"the topic "orders-dlq" holds a failure record for the value "poison" with condition "RetryAttemptsExhausted""#,
    ["the topic ", q!(), " holds a failure record for the value ", q!(), " with condition ", q!()],
    |s, a| Ok(s.assert_failure_record(&a.text(1), &a.text(2), &a.text(3)).await?)
}

step! {
    /// A failure record with this condition, whatever its records.
    FAILURE_RECORD_CONDITION: r#"the topic "orders-dlq" holds a failure record with condition "MaximumPayloadSizeExceeded""#,
    ["the topic ", q!(), " holds a failure record with condition ", q!()],
    |s, a| Ok(s.assert_failure_record_condition(&a.text(1), &a.text(2)).await?)
}

step! {
    /// A failure record whose field (a dotted JSON path) matches the regular expression.
    FAILURE_RECORD_FIELD_MATCHES: r#"the topic "orders-dlq" holds a failure record whose "KafkaBatchInfo.recordInfo.timestamp" matches "^\d{4}-\d{2}-\d{2}T""#,
    ["the topic ", q!(), " holds a failure record whose ", q!(), " matches ", q!()],
    |s, a| {
        let pattern = a.text(3);
        let regex = Regex::new(&pattern)
            .map_err(|e| anyhow::anyhow!("{pattern:?} is not a regular expression: {e}"))?;
        let expected = format!("matches {pattern:?}");
        let holds = |v: &str| regex.is_match(v);
        Ok(s.assert_failure_record_field(&a.text(1), &a.text(2), &expected, &holds).await?)
    }
}

step! {
    /// A failure record whose field (a dotted JSON path) is exactly this text.
    FAILURE_RECORD_FIELD_IS: r#"the topic "orders-dlq" holds a failure record whose "requestContext.condition" is "RecordAgeExceeded""#,
    ["the topic ", q!(), " holds a failure record whose ", q!(), " is ", q!()],
    |s, a| {
        let wanted = a.text(3);
        let expected = format!("is {wanted:?}");
        let holds = |v: &str| v == wanted;
        Ok(s.assert_failure_record_field(&a.text(1), &a.text(2), &expected, &holds).await?)
    }
}

pub(super) const CONCEPT: Concept = Concept {
    title: "On-failure destination",
    steps: &[
        TOPIC_HOLDS,
        FAILURE_RECORD,
        FAILURE_RECORD_CONDITION,
        FAILURE_RECORD_FIELD_MATCHES,
        FAILURE_RECORD_FIELD_IS,
    ],
};
