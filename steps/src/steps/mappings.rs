//! Event source mappings: their configuration, their lifecycle (start, scale, disable, enable)
//! and the faults on their pollers (kill, freeze), and what the mapping itself reports.

use super::Concept;

step! {
    /// A mapping with the defaults (TRIM_HORIZON, the group id the mapping's UUID).
    MAPPING: r#"an event source mapping "esm" from "orders" to "process""#,
    ["an event source mapping ", q!(), " from ", q!(), " to ", q!()],
    |s, a| Ok(s.define_mapping_from_table(&a.text(1), &a.text(2), &a.text(3), &[])?)
}

step! {
    /// A mapping whose table rows are AWS field names (dotted paths for nested fields).
    MAPPING_WITH: r#"an event source mapping "esm" from "orders" to "process" with:"#,
    ["an event source mapping ", q!(), " from ", q!(), " to ", q!(), " with:"],
    |s, a| {
        let rows = a.rows()?;
        Ok(s.define_mapping_from_table(&a.text(1), &a.text(2), &a.text(3), &rows)?)
    }
}

step! {
    /// A mapping as AWS's `CreateEventSourceMapping` JSON, in a doc string.
    MAPPING_JSON: r#"an event source mapping "esm" configured as:"#,
    ["an event source mapping ", q!(), " configured as:"],
    |s, a| {
        let text = a.docstring()?;
        let config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("the mapping's JSON does not parse: {e}"))?;
        Ok(s.define_mapping(&a.text(1), config)?)
    }
}

step! {
    /// Starts one poller; followed at once by a refused start, it may fail.
    START: r#"the mapping "esm" is started"#,
    ["the mapping ", q!(), " is started"],
    start Starts,
    |s, a| Ok(s.start_mapping(&a.text(1), 1).await?)
}

step! {
    /// Starts this many pollers in one consumer group.
    START_WITH_POLLERS: r#"the mapping "esm" is started with 2 pollers"#,
    ["the mapping ", q!(), r" is started with (\d+) pollers?"],
    start Starts,
    |s, a| Ok(s.start_mapping(&a.text(1), a.num(2)?).await?)
}

step! {
    /// Starts or stops pollers until this many run.
    SCALE: r#"the mapping "esm" scales to 3 pollers"#,
    ["the mapping ", q!(), r" scales to (\d+) pollers?"],
    |s, a| Ok(s.scale_mapping(&a.text(1), a.num(2)?).await?)
}

step! {
    /// Enabled=false: the pollers leave the group cleanly.
    DISABLE: r#"the mapping "esm" is disabled"#,
    ["the mapping ", q!(), " is disabled"],
    |s, a| Ok(s.disable_mapping(&a.text(1)).await?)
}

step! {
    /// Enabled=true: the pollers start again.
    ENABLE: r#"the mapping "esm" is enabled"#,
    ["the mapping ", q!(), " is enabled"],
    |s, a| Ok(s.enable_mapping(&a.text(1)).await?)
}

step! {
    /// SIGKILL of every poller.
    KILL: r#"the mapping "esm" is killed"#,
    ["the mapping ", q!(), " is killed"],
    |s, a| Ok(s.kill_mapping(&a.text(1)).await?)
}

step! {
    /// Stops the pollers (if any run) and starts as many as wanted again.
    RESTART: r#"the mapping "esm" is restarted"#,
    ["the mapping ", q!(), " is restarted"],
    |s, a| Ok(s.restart_mapping(&a.text(1)).await?)
}

step! {
    /// SIGKILL of one poller; the others take over its partitions.
    KILL_POLLER: r#"a poller of "esm" is killed"#,
    ["a poller of ", q!(), " is killed"],
    |s, a| Ok(s.kill_poller(&a.text(1)).await?)
}

step! {
    /// SIGKILL while an invocation is in flight.
    KILL_DURING_INVOCATION: r#"the mapping "esm" is killed during an invocation"#,
    ["the mapping ", q!(), " is killed during an invocation"],
    |s, a| Ok(s.kill_mapping_during_invocation(&a.text(1)).await?)
}

step! {
    /// A clean stop while an invocation is in flight: it finishes, what succeeded is committed.
    DISABLE_DURING_INVOCATION: r#"the mapping "esm" is disabled during an invocation"#,
    ["the mapping ", q!(), " is disabled during an invocation"],
    |s, a| Ok(s.disable_mapping_during_invocation(&a.text(1)).await?)
}

step! {
    /// SIGSTOP, then SIGCONT after this long (a long GC pause).
    FREEZE: r#"the mapping "esm" is frozen for 15 seconds"#,
    ["the mapping ", q!(), r" is frozen for (\d+) seconds?"],
    |s, a| Ok(s.freeze_mapping(&a.text(1), a.num(2)?).await?)
}

step! {
    /// Counts the running pollers.
    POLLER_COUNT: r#"the mapping "esm" runs 2 pollers"#,
    ["the mapping ", q!(), r" runs (\d+) pollers?"],
    |s, a| Ok(s.assert_poller_count(&a.text(1), a.num(2)?)?)
}

step! {
    /// The start is refused with an error naming this text (a start step just before it
    /// looks ahead and does not fail the scenario).
    FAILS_TO_START: r#"the mapping "esm" fails to start with an error mentioning "BatchSize""#,
    ["the mapping ", q!(), " fails to start with an error mentioning ", q!()],
    start RefusesStart,
    |s, a| Ok(s.assert_fails_to_start(&a.text(1), &[&a.text(2)]).await?)
}

step! {
    /// The start is refused with errors naming both texts.
    FAILS_TO_START_NAMING_BOTH: r#"the mapping "esm" fails to start with errors mentioning "BatchSize" and "MaximumRetryAttempts""#,
    ["the mapping ", q!(), " fails to start with errors mentioning ", q!(), " and ", q!()],
    start RefusesStart,
    |s, a| Ok(s.assert_fails_to_start(&a.text(1), &[&a.text(2), &a.text(3)]).await?)
}

step! {
    /// The offset lag the mapping reports reaches this value.
    OFFSET_LAG: r#"the mapping "esm" reports an offset lag of 0 within 30 seconds"#,
    ["the mapping ", q!(), r" reports an offset lag of (\d+) within (\d+) seconds?"],
    |s, a| Ok(s.await_offset_lag(&a.text(1), a.num(2)?, a.secs(3)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Mappings",
    steps: &[
        MAPPING,
        MAPPING_WITH,
        MAPPING_JSON,
        START,
        START_WITH_POLLERS,
        SCALE,
        DISABLE,
        ENABLE,
        KILL,
        RESTART,
        KILL_POLLER,
        KILL_DURING_INVOCATION,
        DISABLE_DURING_INVOCATION,
        FREEZE,
        POLLER_COUNT,
        FAILS_TO_START,
        FAILS_TO_START_NAMING_BOTH,
        OFFSET_LAG,
    ],
};
