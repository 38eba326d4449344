//! Topics: created with their partitions and retention, and grown while the mapping runs.

use super::Concept;

step! {
    /// Creates the topic (its broker name is unique to the scenario).
    TOPIC: r#"a topic "orders" with 3 partitions"#,
    ["a topic ", q!(), r" with (\d+) partitions?"],
    |s, a| Ok(s.create_topic(&a.text(1), a.num(2)?, None).await?)
}

step! {
    /// A topic whose `retention.ms` deletes records, as production's retention does.
    TOPIC_WITH_RETENTION: r#"a topic "orders" with 1 partition whose records are deleted after 30 seconds"#,
    ["a topic ", q!(), r" with (\d+) partitions? whose records are deleted after (\d+) seconds?"],
    |s, a| {
        let retention_ms = a.num::<u64>(3)? * 1_000;
        Ok(s.create_topic(&a.text(1), a.num(2)?, Some(retention_ms)).await?)
    }
}

step! {
    /// Adds partitions; the consumer must find them without a restart.
    GROW: r#"the topic "orders" grows to 6 partitions"#,
    ["the topic ", q!(), r" grows to (\d+) partitions?"],
    |s, a| Ok(s.grow_topic(&a.text(1), a.num(2)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Topics",
    steps: &[TOPIC, TOPIC_WITH_RETENTION, GROW],
};
