//! Deciding when a batch is due and what it takes from the partitions a poller holds, and
//! bisecting failing batches. Pure functions over lengths and counts: the dispatcher
//! ([`crate::worker`]) owns the records.
//!
//! AWS ("Using Lambda with self-managed Apache Kafka", batching behaviour): Lambda reads records
//! until it has gathered a full batch (BatchSize), the batching window expires
//! (MaximumBatchingWindowInSeconds) or the batch reaches the 6 MB payload limit; one payload
//! holds the records of several partitions, keyed `"<topic>-<partition>"`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the partitions free to join a batch (no batch of theirs in flight) hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    pub records: usize,
    /// Their upper-bound encoded size ([`crate::event::record_encoded_len`]).
    pub encoded_bytes: usize,
    /// When the longest-waiting of them became ready.
    pub oldest: Option<Instant>,
}

/// Whether a batch is due: a full batch is ready, or a full payload, or the oldest ready
/// record has waited the batching window.
pub fn batch_due(
    ready: &Ready,
    now: Instant,
    batch_size: usize,
    room_bytes: usize,
    window: Duration,
) -> bool {
    ready.records > 0
        && (ready.records >= batch_size
            || ready.encoded_bytes >= room_bytes
            || ready
                .oldest
                .is_some_and(|t| now.saturating_duration_since(t) >= window))
}

/// Whether a record of encoded length `len` alone passes the payload limit (it is never sent:
/// MaximumPayloadSizeExceeded).
pub fn oversized(len: usize, envelope_len: usize, payload_limit_bytes: usize) -> bool {
    envelope_len + len > payload_limit_bytes
}

/// How many records the next batch takes from each partition, offered in turn with the encoded
/// lengths of its buffered records (oldest first). Each partition gives the longest prefix that
/// keeps the batch within `batch_size` records and, with the envelope, `payload_limit_bytes`;
/// a record that does not fit ends its partition's share (offset order holds) while a later
/// partition may still add smaller records. Partitions that give nothing are left out.
pub fn plan_batch<'a>(
    offers: impl IntoIterator<Item = (i32, &'a VecDeque<usize>)>,
    batch_size: usize,
    envelope_len: usize,
    payload_limit_bytes: usize,
) -> Vec<(i32, usize)> {
    let batch_size = batch_size.max(1);
    let mut total_bytes = envelope_len;
    let mut total_records = 0;
    let mut plan = Vec::new();
    for (partition, lens) in offers {
        let mut take = 0;
        for &len in lens {
            if total_records == batch_size || total_bytes + len > payload_limit_bytes {
                break;
            }
            total_bytes += len;
            total_records += 1;
            take += 1;
        }
        if take > 0 {
            plan.push((partition, take));
        }
        if total_records == batch_size {
            break;
        }
    }
    plan
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
    use proptest::prelude::*;

    fn lens(v: &[usize]) -> VecDeque<usize> {
        v.iter().copied().collect()
    }

    #[test]
    fn batch_size_caps_the_count_across_partitions() {
        let (a, b) = (lens(&[1; 5]), lens(&[1; 5]));
        assert_eq!(
            plan_batch([(0, &a), (1, &b)], 7, 50, 1_000),
            [(0, 5), (1, 2)]
        );
        assert_eq!(plan_batch([(1, &b), (0, &a)], 3, 50, 1_000), [(1, 3)]);
        assert!(plan_batch([(0, &lens(&[]))], 3, 50, 1_000).is_empty());
    }

    #[test]
    fn payload_limit_ends_a_partitions_share_but_not_the_batch() {
        let (a, b) = (lens(&[300, 300, 10]), lens(&[100, 5]));
        // 50 + 300 fits, + 300 does not: partition 0 stops there (its 10 must wait behind),
        // partition 1 still adds what fits.
        assert_eq!(
            plan_batch([(0, &a), (1, &b)], 10, 50, 500),
            [(0, 1), (1, 2)]
        );
    }

    #[test]
    fn a_lone_record_past_the_limit_is_oversized() {
        assert!(oversized(451, 50, 500));
        assert!(!oversized(450, 50, 500));
    }

    #[test]
    fn a_batch_is_due_when_full_or_when_the_window_ends() {
        let now = Instant::now();
        let window = Duration::from_millis(500);
        let fresh = Ready {
            records: 3,
            encoded_bytes: 30,
            oldest: Some(now),
        };
        assert!(!batch_due(&fresh, now, 10, 1_000, window));
        assert!(batch_due(&fresh, now + window, 10, 1_000, window));
        assert!(batch_due(&fresh, now, 3, 1_000, window));
        assert!(batch_due(&fresh, now, 10, 30, window));
        assert!(batch_due(&fresh, now, 10, 1_000, Duration::ZERO));
        assert!(!batch_due(
            &Ready::default(),
            now + window,
            10,
            1_000,
            window
        ));
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
        fn plans_stay_within_the_limits_and_take_prefixes(
            parts in prop::collection::vec(prop::collection::vec(0usize..600, 0..12), 1..5),
            batch_size in 1usize..20,
            limit in 200usize..3000,
        ) {
            let offers: Vec<(i32, VecDeque<usize>)> =
                parts.iter().enumerate().map(|(p, l)| (p as i32, lens(l))).collect();
            let plan = plan_batch(offers.iter().map(|(p, l)| (*p, l)), batch_size, 60, limit);
            let mut records = 0;
            let mut bytes = 60;
            for (p, take) in &plan {
                let l = &offers[*p as usize].1;
                prop_assert!(*take >= 1 && *take <= l.len());
                records += take;
                bytes += l.iter().take(*take).sum::<usize>();
                // The share ends at the first record that did not fit, or the partition's end.
                if *take < l.len() && records < batch_size {
                    prop_assert!(bytes + l[*take] > limit);
                }
            }
            prop_assert!(records <= batch_size);
            prop_assert!(bytes <= limit);
            let any_fits = parts.iter().any(|l| l.first().is_some_and(|&n| 60 + n <= limit));
            prop_assert_eq!(plan.is_empty(), !any_fits);
        }
    }
}
