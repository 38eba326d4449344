//! The workload: records produced to topics (counted, keyed, valued, sized, at a rate, empty,
//! null or stamped in the past), and the scenario's clock. Every produced record is logged with
//! its partition and offset, so the checkers know the whole topic.

use super::Concept;

/// Most bytes one record may hold (Kafka's and Lambda's limits are well below).
pub const RECORD_BYTES_MAX: usize = 15 * 1024 * 1024;

step! {
    /// Numbered values, spread over the partitions.
    PRODUCE_N: r#"100 records are produced to "orders""#,
    [r"(\d+) records? (?:is|are) produced to ", q!()],
    |s, a| Ok(s.produce(&a.text(2), a.num(1)?, None, None, &[]).await?)
}

step! {
    /// Records with one key, so one partition.
    PRODUCE_N_WITH_KEY: r#"20 records with key "customer-7" are produced to "orders""#,
    [r"(\d+) records? with key ", q!(), " (?:is|are) produced to ", q!()],
    |s, a| {
        let key = a.text(2);
        Ok(s.produce(&a.text(3), a.num(1)?, Some(&key), None, &[]).await?)
    }
}

step! {
    /// One record with this value (JSON in single quotes).
    PRODUCE_VALUE: r#"a record with value "poison" is produced to "orders""#,
    ["a record with value ", q!(), " is produced to ", q!()],
    |s, a| {
        let value = a.text(1);
        Ok(s.produce(&a.text(2), 1, None, Some(&value), &[]).await?)
    }
}

step! {
    /// One record with this header (its UTF-8 bytes).
    PRODUCE_HEADER: r#"a record with header "trace" set to "é" is produced to "orders""#,
    ["a record with header ", q!(), " set to ", q!(), " is produced to ", q!()],
    |s, a| {
        let header = vec![(a.text(1), a.text(2).into_bytes())];
        Ok(s.produce(&a.text(3), 1, None, None, &header).await?)
    }
}

step! {
    /// Records of this size (KB and MB are binary), up to 15 MB each.
    PRODUCE_SIZED: r#"12 records of 1 MB are produced to "orders""#,
    [r"(\d+) records? of (\d+) (bytes|KB|MB) (?:is|are) produced to ", q!()],
    |s, a| {
        let bytes = size_bytes(a.num(2)?, &a.text(3))?;
        Ok(s.produce_sized(&a.text(4), a.num(1)?, bytes).await?)
    }
}

step! {
    /// One record of this size.
    PRODUCE_ONE_SIZED: r#"a record of 7 MB is produced to "orders""#,
    [r"a record of (\d+) (bytes|KB|MB) is produced to ", q!()],
    |s, a| {
        let bytes = size_bytes(a.num(1)?, &a.text(2))?;
        Ok(s.produce_sized(&a.text(3), 1, bytes).await?)
    }
}

step! {
    /// Produces in the background while the scenario goes on; "every record" waits for it.
    PRODUCE_RATE: r#"records are produced to "orders" at 50 per second for 20 seconds"#,
    ["records are produced to ", q!(), r" at (\d+) per second for (\d+) seconds?"],
    |s, a| Ok(s.produce_at_rate(&a.text(1), a.num(2)?, a.num(3)?).await?)
}

step! {
    /// A record of zero bytes.
    PRODUCE_EMPTY_VALUE: r#"a record with an empty value is produced to "orders""#,
    ["a record with an empty value is produced to ", q!()],
    |s, a| Ok(s.produce_one(&a.text(1), Some(""), None).await?)
}

step! {
    /// A tombstone.
    PRODUCE_NULL_VALUE: r#"a record with a null value is produced to "orders""#,
    ["a record with a null value is produced to ", q!()],
    |s, a| Ok(s.produce_one(&a.text(1), None, None).await?)
}

step! {
    /// A record whose CreateTime is this far in the past.
    PRODUCE_STAMPED: r#"a record with value "old" stamped 120 seconds ago is produced to "orders""#,
    ["a record with value ", q!(), r" stamped (\d+) seconds? ago is produced to ", q!()],
    |s, a| {
        let value = a.text(1);
        Ok(s.produce_one(&a.text(3), Some(&value), Some(a.secs(2)?)).await?)
    }
}

step! {
    /// The scenario waits, on purpose.
    TIME_PASSES: "5 seconds pass",
    [r"(\d+) seconds? pass(?:es)?"],
    |s, a| {
        s.pass_time(a.num(1)?).await;
        Ok(())
    }
}

/// "7", "MB" → bytes (KB and MB are binary: 1024 and 1024²).
pub fn size_bytes(count: usize, unit: &str) -> anyhow::Result<usize> {
    let scale = match unit {
        "bytes" => 1,
        "KB" => 1024,
        "MB" => 1024 * 1024,
        other => anyhow::bail!("unit {other:?}: allowed bytes, KB, MB"),
    };
    count
        .checked_mul(scale)
        .filter(|b| *b <= RECORD_BYTES_MAX)
        .ok_or_else(|| anyhow::anyhow!("{count} {unit}: at most 15 MB a record"))
}

pub(super) const CONCEPT: Concept = Concept {
    title: "Workload",
    steps: &[
        PRODUCE_N,
        PRODUCE_N_WITH_KEY,
        PRODUCE_VALUE,
        PRODUCE_HEADER,
        PRODUCE_SIZED,
        PRODUCE_ONE_SIZED,
        PRODUCE_RATE,
        PRODUCE_EMPTY_VALUE,
        PRODUCE_NULL_VALUE,
        PRODUCE_STAMPED,
        TIME_PASSES,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary_and_bounded() {
        assert_eq!(size_bytes(7, "MB").unwrap(), 7 * 1024 * 1024);
        assert_eq!(size_bytes(3, "KB").unwrap(), 3 * 1024);
        assert!(size_bytes(16, "MB").is_err());
        assert!(size_bytes(1, "GB").is_err());
    }
}
