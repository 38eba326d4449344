//! Cutting batches from a partition's buffered records, and bisecting failing ones.

use crate::event::{KafkaRecord, record_encoded_len};
use std::collections::VecDeque;

/// Takes the next batch from the front of `buffer`: at most `batch_size` records, and no more
/// than fit in `payload_limit_bytes` with the event envelope of `envelope_len` bytes. A first
/// record that alone does not fit is returned alone, in `Err`, for the destination
/// (MaximumPayloadSizeExceeded). An empty buffer gives an empty batch.
pub fn take_batch(
    buffer: &mut VecDeque<KafkaRecord>,
    batch_size: usize,
    envelope_len: usize,
    payload_limit_bytes: usize,
) -> Result<Vec<KafkaRecord>, KafkaRecord> {
    let mut total_bytes = envelope_len;
    let mut count = 0;
    for record in buffer.iter().take(batch_size.max(1)) {
        let next = total_bytes + record_encoded_len(record);
        if next > payload_limit_bytes {
            break;
        }
        total_bytes = next;
        count += 1;
    }
    if count == 0 && !buffer.is_empty() {
        return Err(buffer.pop_front().expect("buffer is not empty"));
    }
    Ok(buffer.drain(..count).collect())
}

/// Splits a failing batch in two halves (first half the larger when odd); a single record
/// cannot be split and returns `None`.
pub fn bisect<T: Clone>(batch: &[T]) -> Option<(Vec<T>, Vec<T>)> {
    if batch.len() < 2 {
        return None;
    }
    let (first, second) = batch.split_at(batch.len().div_ceil(2));
    Some((first.to_vec(), second.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventContext, TimestampType, encode_event, envelope_len};
    use proptest::prelude::*;

    fn record(offset: i64, value_len: usize) -> KafkaRecord {
        KafkaRecord {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp_ms: 1,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(vec![b'x'; value_len]),
            headers: vec![],
        }
    }

    fn buffer(sizes: &[usize]) -> VecDeque<KafkaRecord> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| record(i as i64, n))
            .collect()
    }

    fn offsets(batch: &[KafkaRecord]) -> Vec<i64> {
        batch.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn batch_size_caps_the_count() {
        let mut buf = buffer(&[1; 5]);
        assert_eq!(
            offsets(&take_batch(&mut buf, 2, 50, 1_000_000).unwrap()),
            [0, 1]
        );
        assert_eq!(
            offsets(&take_batch(&mut buf, 10, 50, 1_000_000).unwrap()),
            [2, 3, 4]
        );
        assert!(take_batch(&mut buf, 10, 50, 1_000_000).unwrap().is_empty());
    }

    #[test]
    fn payload_limit_closes_the_batch_early() {
        let mut buf = buffer(&[300, 300, 300]);
        let one = record_encoded_len(&buf[0]);
        let limit = 50 + 2 * one;
        assert_eq!(
            offsets(&take_batch(&mut buf, 10, 50, limit).unwrap()),
            [0, 1]
        );
        assert_eq!(offsets(&take_batch(&mut buf, 10, 50, limit).unwrap()), [2]);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_lone_oversized_record_is_returned_as_err() {
        let mut buf = buffer(&[1000, 1]);
        let err = take_batch(&mut buf, 10, 50, 500).unwrap_err();
        assert_eq!(err.offset, 0);
        assert_eq!(offsets(&take_batch(&mut buf, 10, 50, 500).unwrap()), [1]);
    }

    #[test]
    fn encoded_batches_stay_within_the_limit() {
        let ctx = EventContext {
            event_source: "SelfManagedKafka".into(),
            event_source_arn: None,
            bootstrap_servers: "127.0.0.1:9092".into(),
        };
        let mut buf = buffer(&[100, 7, 2000, 5, 900, 900, 31]);
        let limit = 3000;
        while !buf.is_empty() {
            let batch = take_batch(&mut buf, 100, envelope_len(&ctx), limit).unwrap();
            assert!(!batch.is_empty());
            assert!(encode_event(&ctx, &batch).len() <= limit);
        }
    }

    #[test]
    fn bisect_splits_with_the_larger_first_half() {
        assert_eq!(bisect(&[1, 2, 3]), Some((vec![1, 2], vec![3])));
        assert_eq!(bisect(&[1, 2]), Some((vec![1], vec![2])));
        assert_eq!(bisect(&[1]), None);
        assert_eq!(bisect::<u8>(&[]), None);
    }

    proptest! {
        #[test]
        fn bisect_halves_rejoin_to_the_input(v in prop::collection::vec(any::<u16>(), 0..64)) {
            match bisect(&v) {
                None => prop_assert!(v.len() <= 1),
                Some((a, b)) => {
                    prop_assert!(!a.is_empty() && !b.is_empty());
                    prop_assert!(a.len() >= b.len() && a.len() - b.len() <= 1);
                    prop_assert_eq!([a, b].concat(), v);
                }
            }
        }

        #[test]
        fn take_batch_keeps_order_and_limits(
            sizes in prop::collection::vec(0usize..600, 0..30),
            batch_size in 1usize..8,
            limit in 200usize..3000,
        ) {
            let mut buf = buffer(&sizes);
            let mut seen = Vec::new();
            while !buf.is_empty() {
                match take_batch(&mut buf, batch_size, 60, limit) {
                    Ok(batch) => {
                        prop_assert!(!batch.is_empty() && batch.len() <= batch_size);
                        let bytes: usize = 60 + batch.iter().map(record_encoded_len).sum::<usize>();
                        prop_assert!(bytes <= limit);
                        seen.extend(offsets(&batch));
                    }
                    Err(r) => {
                        prop_assert!(60 + record_encoded_len(&r) > limit);
                        seen.push(r.offset);
                    }
                }
            }
            prop_assert_eq!(seen, (0..sizes.len() as i64).collect::<Vec<_>>());
        }
    }
}
