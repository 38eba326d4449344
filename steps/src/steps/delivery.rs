//! What the function received: every record, how many times, which values and headers, and
//! what it did not receive. Read from the recorded history, so mock and real functions alike.

use super::Concept;

step! {
    /// Every produced record (not filtered or deleted by retention) reaches the function.
    RECEIVED_EVERY: r#"within 30 seconds "process" has received every record of "orders""#,
    [r"within (\d+) seconds? ", q!(), " has received every record of ", q!()],
    |s, a| Ok(s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, None).await?)
}

step! {
    /// Every record, and none twice.
    RECEIVED_EVERY_ONCE: r#"within 30 seconds "process" has received every record of "orders" exactly once"#,
    [r"within (\d+) seconds? ", q!(), " has received every record of ", q!(), " exactly once"],
    |s, a| Ok(s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, Some(1)).await?)
}

step! {
    /// No record was delivered more often than this.
    RECEIVED_EVERY_AT_MOST: r#""process" received every record of "orders" at most 2 times"#,
    [q!(), " received every record of ", q!(), r" at most (\d+) times?"],
    |s, a| Ok(s.assert_every_record_at_most(&a.text(1), &a.text(2), a.num(3)?).await?)
}

step! {
    /// Every record, exactly this many times.
    RECEIVED_EVERY_TIMES: r#"within 30 seconds "process" has received every record of "orders" 2 times"#,
    [r"within (\d+) seconds? ", q!(), " has received every record of ", q!(), r" (\d+) times?"],
    |s, a| {
        let times = a.num(4)?;
        Ok(s.await_every_record(&a.text(2), &a.text(3), a.secs(1)?, Some(times)).await?)
    }
}

step! {
    /// Invocations holding this value, counted.
    INVOKED_WITH_VALUE: r#""process" was invoked with the value "poison" 3 times"#,
    [q!(), " was invoked with the value ", q!(), r" (\d+) times?"],
    |s, a| Ok(s.assert_invoked_with_value(&a.text(1), &a.text(2), a.num(3)?)?)
}

step! {
    /// LATEST: nothing produced before the mapping's start was delivered.
    NOTHING_BEFORE_START: r#""process" received no record of "orders" produced before the mapping "esm" started"#,
    [q!(), " received no record of ", q!(), " produced before the mapping ", q!(), " started"],
    |s, a| Ok(s.assert_nothing_from_before_start(&a.text(1), &a.text(2), &a.text(3))?)
}

step! {
    /// Some invocation held this value.
    RECEIVED_VALUE: r#"within 30 seconds "process" has received the value "order-7""#,
    [r"within (\d+) seconds? ", q!(), " has received the value ", q!()],
    |s, a| Ok(s.await_value(&a.text(2), &a.text(3), a.secs(1)?).await?)
}

step! {
    /// No invocation held this value (filtered out, say).
    NEVER_RECEIVED: r#""process" never received the value "poison""#,
    [q!(), " never received the value ", q!()],
    |s, a| Ok(s.assert_never_received(&a.text(1), &a.text(2))?)
}

step! {
    /// The header arrived as Lambda sends it: signed bytes.
    HEADER_BYTES: r#""process" received the header "trace" as the bytes "-61,-87""#,
    [q!(), " received the header ", q!(), " as the bytes ", q!()],
    |s, a| {
        let bytes = parse_signed_bytes(&a.text(3))?;
        Ok(s.assert_header_bytes(&a.text(1), &a.text(2), &bytes)?)
    }
}

step! {
    /// Some invocation held records of at least this many partitions.
    INVOCATION_SPANNING: r#"an invocation of "process" held records of 2 partitions"#,
    ["an invocation of ", q!(), r" held records of (\d+) partitions?"],
    |s, a| Ok(s.assert_invocation_spanning(&a.text(1), a.num(2)?)?)
}

step! {
    /// A record of zero bytes arrived with `value: ""`.
    RECEIVED_EMPTY_VALUE: r#""process" received a record of "orders" with an empty value"#,
    [q!(), " received a record of ", q!(), " with an empty value"],
    |s, a| Ok(s.assert_received_empty_value(&a.text(1), &a.text(2))?)
}

step! {
    /// A tombstone arrived without a value.
    RECEIVED_NULL_VALUE: r#""process" received a record of "orders" without a value"#,
    [q!(), " received a record of ", q!(), " without a value"],
    |s, a| Ok(s.assert_received_null_value(&a.text(1), &a.text(2))?)
}

/// "-61,-87" → [-61, -87].
pub fn parse_signed_bytes(text: &str) -> anyhow::Result<Vec<i8>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i8>()
                .map_err(|_| anyhow::anyhow!("{s:?} is not a signed byte (-128 to 127)"))
        })
        .collect()
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Delivery",
    steps: &[
        RECEIVED_EVERY,
        RECEIVED_EVERY_ONCE,
        RECEIVED_EVERY_AT_MOST,
        RECEIVED_EVERY_TIMES,
        INVOKED_WITH_VALUE,
        NOTHING_BEFORE_START,
        RECEIVED_VALUE,
        NEVER_RECEIVED,
        HEADER_BYTES,
        INVOCATION_SPANNING,
        RECEIVED_EMPTY_VALUE,
        RECEIVED_NULL_VALUE,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bytes_parse_and_refuse_out_of_range() {
        assert_eq!(parse_signed_bytes("-61,-87").unwrap(), vec![-61, -87]);
        assert!(parse_signed_bytes("200").is_err());
    }
}
