//! Consumer groups' committed offsets: what the broker holds for a group, and the faults that
//! take it away (expiry by the broker, deletion through the admin API).

use super::Concept;

step! {
    /// Waits for the broker itself to expire the empty group's offsets (retention plus a margin).
    EXPIRE: r#"the committed offsets of group "orders-group" expire"#,
    ["the committed offsets of group ", q!(), " expire"],
    |s, a| Ok(s.expire_offsets(&a.text(1)).await?)
}

step! {
    /// Deletes the group's offsets through the admin API, in a second.
    DELETE: r#"the committed offsets of group "orders-group" are deleted"#,
    ["the committed offsets of group ", q!(), " are deleted"],
    |s, a| Ok(s.delete_offsets(&a.text(1)).await?)
}

step! {
    /// Every partition's committed offset reaches the end of the topic.
    COMMITTED_END: r#"within 30 seconds the group "orders-group" has committed the end of "orders""#,
    [r"within (\d+) seconds? the group ", q!(), " has committed the end of ", q!()],
    |s, a| Ok(s.await_committed_end(&a.text(2), &a.text(3), a.secs(1)?).await?)
}

step! {
    /// The committed offset of one partition, after commits have settled.
    COMMITTED_OFFSET: r#"the group "orders-group" has committed offset 40 on partition 0 of "orders""#,
    ["the group ", q!(), r" has committed offset (\d+) on partition (\d+) of ", q!()],
    |s, a| {
        let (group, topic) = (a.text(1), a.text(4));
        Ok(s.assert_committed(&group, &topic, a.num(3)?, a.num(2)?, None).await?)
    }
}

step! {
    /// The committed offset of one partition reaches this value in time.
    COMMITTED_OFFSET_WITHIN: r#"within 30 seconds the group "orders-group" has committed offset 40 on partition 0 of "orders""#,
    [
        r"within (\d+) seconds? the group ", q!(),
        r" has committed offset (\d+) on partition (\d+) of ", q!()
    ],
    |s, a| {
        let (group, topic, timeout) = (a.text(2), a.text(5), Some(a.secs(1)?));
        Ok(s.assert_committed(&group, &topic, a.num(4)?, a.num(3)?, timeout).await?)
    }
}

step! {
    /// No offset is committed on the partition.
    COMMITTED_NOTHING: r#"the group "orders-group" has committed nothing on partition 0 of "orders""#,
    ["the group ", q!(), r" has committed nothing on partition (\d+) of ", q!()],
    |s, a| Ok(s.assert_committed_nothing(&a.text(1), &a.text(3), a.num(2)?).await?)
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Committed offsets",
    steps: &[
        EXPIRE,
        DELETE,
        COMMITTED_END,
        COMMITTED_OFFSET,
        COMMITTED_OFFSET_WITHIN,
        COMMITTED_NOTHING,
    ],
};
