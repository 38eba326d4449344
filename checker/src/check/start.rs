//! Where a consumer may start when its group has no committed offset, judged from what the
//! harness and the broker saw, never from the consumer's own log.
//!
//! AWS ("Kafka starting positions"; ESM-SPEC section 4): a valid committed offset wins; with none
//! (a new group, or offsets deleted or expired by the broker) StartingPosition applies:
//! TRIM_HORIZON = the earliest record, LATEST = the log end at that moment, AT_TIMESTAMP = the
//! first record at or after the timestamp.
//!
//! The moment of the decision is not observable, only bounded: it comes after the harness
//! started the pollers and before the consumer's first invocation or commit on the partition.
//! So a LATEST start may skip any record below the first offset it touched, but must not touch a
//! record the broker had acknowledged before the start: that is a replay, not LATEST.
//!
//! A start counts as one with no committed offset only where the history proves it: the first
//! start of the mapping with no commit of its group seen before, or the first start after the
//! harness saw the group's offsets deleted or expired (with no commit between). A consumer that
//! skips anywhere else is not excused.

use super::{Inv, Key, Produced, Subject, Verdict, push_evidence, verdict};
use crate::contract::StartingPosition;
use crate::history::{Event, EventKind};
use rustc_hash::FxHashSet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Why the group had no committed offset at a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    FirstStart,
    OffsetsGone { at_ms: u64 },
}

/// A start of the mapping at which the group had no committed offset for a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reset {
    partition: i32,
    at_ms: u64,
    cause: Cause,
    /// The group's last commit on the partition before the start (0 if none): records below it
    /// were the consumer's to finish before, whatever happened later.
    committed_before: i64,
    /// One past the highest offset the broker acknowledged before the start: the log end at the
    /// decision was at least this.
    log_end_min: i64,
    /// The first record the consumer invoked after the start: (offset, invocation id, start).
    first_invoked: Option<(i64, u64, u64)>,
    /// The first offset the group committed after the start.
    first_committed: Option<i64>,
}

impl Reset {
    /// The first offset the consumer touched after the start, if any.
    fn first_touched(&self) -> Option<i64> {
        let invoked = self.first_invoked.map(|(o, _, _)| o);
        match (invoked, self.first_committed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn describe(&self) -> String {
        let why = match self.cause {
            Cause::FirstStart => "its first start".to_string(),
            Cause::OffsetsGone { at_ms } => format!("the group's offsets went at {at_ms} ms"),
        };
        format!(
            "partition {} at the start at {} ms (no committed offset: {why})",
            self.partition, self.at_ms
        )
    }
}

/// Starts of the subject's mapping (lifecycle events with pollers running), in time order.
fn start_times(events: &[Arc<Event>], mapping: &str) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Lifecycle {
                mapping: m,
                pollers,
                ..
            } if m == mapping && *pollers > 0 => Some(e.at_ms),
            _ => None,
        })
        .collect()
}

/// The moments the group had no committed offsets, each with the first start after it.
fn fresh_starts(events: &[Arc<Event>], s: &Subject) -> Vec<(u64, Cause)> {
    let starts = start_times(events, &s.mapping);
    let first_after = |t: u64| starts.iter().copied().find(|&start| start >= t);
    let mut out: Vec<(u64, Cause)> = starts
        .first()
        .map(|&first| (first, Cause::FirstStart))
        .into_iter()
        .collect();
    for e in events {
        if let EventKind::OffsetsGone { group, .. } = &e.kind
            && s.groups.contains(group)
            && let Some(start) = first_after(e.at_ms)
        {
            out.push((start, Cause::OffsetsGone { at_ms: e.at_ms }));
        }
    }
    out
}

fn commits(events: &[Arc<Event>], s: &Subject) -> Vec<(u64, i32, i64)> {
    super::commits(events, s)
        .into_iter()
        .map(|(at_ms, _, partition, offset)| (at_ms, partition, offset))
        .collect()
}

fn resets(
    events: &[Arc<Event>],
    s: &Subject,
    produced: &BTreeMap<Key, Produced>,
    invocations: &[Inv],
) -> Vec<Reset> {
    let commits = commits(events, s);
    let partitions: BTreeSet<i32> = produced.keys().map(|&(p, _)| p).collect();
    let mut out = Vec::new();
    for (at_ms, cause) in fresh_starts(events, s) {
        let since_ms = match cause {
            Cause::FirstStart => 0,
            Cause::OffsetsGone { at_ms } => at_ms,
        };
        for &partition in &partitions {
            let committed_meanwhile = commits
                .iter()
                .any(|&(t, p, _)| p == partition && t >= since_ms && t < at_ms);
            if committed_meanwhile {
                continue;
            }
            out.push(Reset {
                partition,
                at_ms,
                cause,
                committed_before: commits
                    .iter()
                    .filter(|&&(t, p, _)| p == partition && t < at_ms)
                    .map(|&(_, _, o)| o)
                    .next_back()
                    .unwrap_or(0),
                log_end_min: produced
                    .range((partition, i64::MIN)..=(partition, i64::MAX))
                    .filter(|(_, r)| r.at_ms < at_ms)
                    // Saturating: a read history may hold any offset, i64::MAX included.
                    .map(|(&(_, o), _)| o.saturating_add(1))
                    .max()
                    .unwrap_or(0),
                first_invoked: invocations
                    .iter()
                    .filter(|i| i.start_ms >= at_ms)
                    .find_map(|i| {
                        let first = i.records.iter().find(|&&(p, _)| p == partition)?;
                        Some((first.1, i.id, i.start_ms))
                    }),
                first_committed: commits
                    .iter()
                    .find(|&&(t, p, _)| p == partition && t >= at_ms)
                    .map(|&(_, _, o)| o),
            });
        }
    }
    out
}

/// The first offset of the partition whose record timestamp is at or after `timestamp_ms`.
fn first_at_or_after(
    produced: &BTreeMap<Key, Produced>,
    partition: i32,
    timestamp_ms: i64,
) -> Option<i64> {
    produced
        .range((partition, i64::MIN)..=(partition, i64::MAX))
        .find(|(_, r)| r.timestamp_ms >= timestamp_ms)
        .map(|(&(_, o), _)| o)
}

/// Where StartingPosition lets this start begin reading: records of the partition from
/// `committed_before` up to this offset may be skipped. `None`: nothing may be skipped.
fn skip_end(
    reset: &Reset,
    position: StartingPosition,
    produced: &BTreeMap<Key, Produced>,
) -> Option<i64> {
    let latest = || Some(reset.first_touched().unwrap_or(reset.log_end_min));
    match position {
        StartingPosition::TrimHorizon => None,
        StartingPosition::Latest => latest(),
        StartingPosition::AtTimestamp { timestamp_ms } => {
            first_at_or_after(produced, reset.partition, timestamp_ms).or_else(latest)
        }
    }
}

/// Records skipped on purpose: below where a start with no committed offset was allowed to
/// begin, and not below the group's earlier commit.
pub(super) fn skipped(
    events: &[Arc<Event>],
    s: &Subject,
    produced: &BTreeMap<Key, Produced>,
    invocations: &[Inv],
) -> FxHashSet<Key> {
    let mut out = FxHashSet::default();
    for reset in resets(events, s, produced, invocations) {
        let Some(end) = skip_end(&reset, s.starting_position, produced) else {
            continue;
        };
        let p = reset.partition;
        out.extend(
            produced
                .range((p, reset.committed_before)..(p, end.max(reset.committed_before)))
                .map(|(&k, _)| k),
        );
    }
    out
}

/// The violation of one start, if any: a LATEST start that invoked a record acknowledged
/// before it, or an AT_TIMESTAMP start that invoked a record from before the timestamp.
fn violation(
    reset: &Reset,
    position: StartingPosition,
    produced: &BTreeMap<Key, Produced>,
) -> Option<String> {
    let (offset, id, start_ms) = reset.first_invoked?;
    match position {
        StartingPosition::TrimHorizon => None,
        StartingPosition::Latest => (offset < reset.log_end_min).then(|| {
            format!(
                "{}: StartingPosition LATEST, yet invocation #{id} at {start_ms} ms began at offset \
                 {offset}, below the log end (at least {}) when the mapping started: a replay, not LATEST",
                reset.describe(),
                reset.log_end_min
            )
        }),
        StartingPosition::AtTimestamp { timestamp_ms } => {
            let first = first_at_or_after(produced, reset.partition, timestamp_ms)?;
            (offset < first).then(|| {
                format!(
                    "{}: StartingPosition AT_TIMESTAMP {timestamp_ms} ms, yet invocation #{id} at \
                     {start_ms} ms began at offset {offset}, before offset {first}, the first at or after it",
                    reset.describe()
                )
            })
        }
    }
}

/// Every start with no committed offset began where StartingPosition says.
pub fn start_position(events: &[Arc<Event>], s: &Subject) -> Verdict {
    let produced = super::produced(events, &s.topic);
    let invocations = super::invocations(events, &s.topic, &s.function);
    start_position_of(events, s, &produced, &invocations)
}

pub(super) fn start_position_of(
    events: &[Arc<Event>],
    s: &Subject,
    produced: &BTreeMap<Key, Produced>,
    invocations: &[Inv],
) -> Verdict {
    let resets = resets(events, s, produced, invocations);
    let (mut evidence, mut notes) = (Vec::new(), Vec::new());
    let mut violations = 0usize;
    for reset in &resets {
        if let Some(line) = violation(reset, s.starting_position, produced) {
            violations += 1;
            push_evidence(&mut evidence, || line);
        } else if let Some(end) = skip_end(reset, s.starting_position, produced)
            && end > reset.committed_before
        {
            push_evidence(&mut notes, || {
                format!(
                    "note: {}: skipped offsets {} to {} as {:?} allows",
                    reset.describe(),
                    reset.committed_before,
                    end - 1,
                    s.starting_position
                )
            });
        }
    }
    let summary = format!(
        "{violations} of {} start(s) with no committed offset on a partition of {} began away from {:?}",
        resets.len(),
        s.topic,
        s.starting_position
    );
    evidence.extend(notes);
    verdict("start_position", violations == 0, summary, evidence)
}
