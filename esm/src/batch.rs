//! Cutting batches from a partition's buffered records, and bisecting failing ones.

use crate::event::KafkaRecord;
use std::collections::VecDeque;

/// Takes the next batch from the front of `buffer`: at most `batch_size` records, and no more
/// than fit in `payload_limit_bytes` with the event envelope of `envelope_len` bytes. A first
/// record that alone does not fit is returned alone, in `Err`, for the destination
/// (MaximumPayloadSizeExceeded).
pub fn take_batch(
    buffer: &mut VecDeque<KafkaRecord>,
    batch_size: usize,
    envelope_len: usize,
    payload_limit_bytes: usize,
) -> Result<Vec<KafkaRecord>, KafkaRecord> {
    let _ = (buffer, batch_size, envelope_len, payload_limit_bytes);
    todo!()
}

/// Splits a failing batch in two halves (first half the larger when odd); a single record
/// cannot be split and returns `None`.
pub fn bisect<T: Clone>(batch: &[T]) -> Option<(Vec<T>, Vec<T>)> {
    let _ = batch;
    todo!()
}
