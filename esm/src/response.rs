//! Interpreting a function's answer under ReportBatchItemFailures (ESM-SPEC section 3).

use crate::event::KafkaRecord;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchVerdict {
    /// Empty or null batchItemFailures, or no such field.
    AllSucceeded,
    /// The body could not be parsed, or an identifier names no record of the batch.
    AllFailed { reason: String },
    /// Per (topic, partition): the lowest failed offset. Records of that partition below it are
    /// done; it and the rest are retried. Partitions not listed are done.
    Partial { lowest_failed: BTreeMap<(String, i32), i64> },
}

/// Interprets the response `body` for `batch`.
pub fn interpret(body: &[u8], batch: &[KafkaRecord]) -> BatchVerdict {
    let _ = (body, batch);
    todo!()
}
