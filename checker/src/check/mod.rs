//! Checkers: pure functions from a history to a verdict with evidence (Jepsen style).
//!
//! A checker never asks the consumer what it did, and never judges with code of the consumer or
//! of the mock function: it reads what was produced, the bodies the mock function received
//! (parsed with [`crate::contract`]), what the function answered, what the broker showed as
//! committed, what landed on the destination topic, and what the harness did (starts, offset
//! deletion), and judges them against the contract's model of AWS's documentation.

mod resume;
mod start;

use crate::contract::event::EventError;
use crate::contract::{self, MappingModel, StartingPosition};
use crate::history::{
    Event, EventKind, FaultKind, FaultPhase, InvocationOutcome, ItemFailure, RecordRef,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use start::start_position;

/// Evidence lines kept per verdict.
pub const EVIDENCE_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub checker: &'static str,
    pub ok: bool,
    pub summary: String,
    /// At most [`EVIDENCE_MAX`] lines: the first violations, or notes when ok.
    pub evidence: Vec<String>,
}

/// What a mapping is judged on: its name (as in lifecycle events), source topic (broker name),
/// function, groups, and what the contract reads from its configuration.
#[derive(Debug, Clone)]
pub struct Subject {
    pub mapping: String,
    pub topic: String,
    pub function: String,
    pub groups: Vec<String>,
    /// Destination topic (broker name) of a `kafka://` on-failure destination.
    pub destination_topic: Option<String>,
    pub filters: Vec<contract::filter::Pattern>,
    pub starting_position: StartingPosition,
}

impl Subject {
    /// The subject of a mapping from the (broker-named) configuration the consumer was given.
    pub fn from_config(
        mapping: &str,
        topic: &str,
        function: &str,
        group: &str,
        config: &serde_json::Value,
    ) -> Result<Subject, contract::ConfigError> {
        let model = MappingModel::from_config(config)?;
        Ok(Subject {
            mapping: mapping.to_string(),
            topic: topic.to_string(),
            function: function.to_string(),
            groups: vec![group.to_string()],
            destination_topic: model.destination_topic,
            filters: model.filters,
            starting_position: model.starting_position,
        })
    }
}

type Key = (i32, i64);

fn verdict(checker: &'static str, ok: bool, summary: String, evidence: Vec<String>) -> Verdict {
    let mut evidence = evidence;
    evidence.truncate(EVIDENCE_MAX);
    Verdict {
        checker,
        ok,
        summary,
        evidence,
    }
}

fn push_evidence(evidence: &mut Vec<String>, line: impl FnOnce() -> String) {
    if evidence.len() < EVIDENCE_MAX {
        evidence.push(line());
    }
}

/// How the checkers read an invocation's body with the contract's parser.
#[derive(Debug, Clone, PartialEq)]
enum BodyReading {
    /// Parsed: the records are the contract's reading.
    Parsed,
    /// Not a valid event: why, naming the field.
    Malformed(EventError),
    /// Not kept (the history's body budget was spent): the records are the mock's decoding.
    NotKept,
}

/// An invocation of the subject's function, reduced to the subject's topic.
struct Inv<'a> {
    id: u64,
    start_ms: u64,
    end_ms: u64,
    outcome: InvocationOutcome,
    /// The mock answered 400/413 (the function never ran): its reason.
    refused: Option<&'a str>,
    reading: BodyReading,
    records: Vec<Key>,
    item_failures: &'a [ItemFailure],
}

impl Inv<'_> {
    /// Whether the function really ran on these records (a throttle, a service error or a
    /// refused event did not).
    fn reached_function(&self) -> bool {
        self.refused.is_none()
            && !matches!(
                self.outcome,
                InvocationOutcome::Throttled | InvocationOutcome::ServiceError
            )
    }
}

/// The records of `topic` in an invocation: the contract's reading of the body when it was kept
/// and parses, else the mock's decoding.
fn read_records(
    body: Option<&str>,
    mock_records: &[RecordRef],
    topic: &str,
) -> (BodyReading, Vec<Key>) {
    let from_mock = || {
        mock_records
            .iter()
            .filter(|r| &*r.topic == topic)
            .map(|r| (r.partition, r.offset))
            .collect()
    };
    match body.map(|b| contract::event::placed(b.as_bytes(), topic)) {
        Some(Ok(places)) => (BodyReading::Parsed, places),
        Some(Err(e)) => (BodyReading::Malformed(e), from_mock()),
        None => (BodyReading::NotKept, from_mock()),
    }
}

/// Every call of `function` that carried a record of `topic` or could not be read, in start
/// order.
fn invocations<'a>(events: &'a [Arc<Event>], topic: &str, function: &str) -> Vec<Inv<'a>> {
    let mut out: Vec<Inv<'a>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Invocation(inv) if inv.function == function => {
                let (reading, records) = read_records(inv.body.as_deref(), &inv.records, topic);
                Some(Inv {
                    id: inv.id,
                    start_ms: inv.start_ms,
                    end_ms: inv.end_ms,
                    outcome: inv.outcome,
                    refused: inv.malformed.as_deref(),
                    reading,
                    records,
                    item_failures: &inv.item_failures,
                })
            }
            _ => None,
        })
        .filter(|i| {
            !i.records.is_empty()
                || i.refused.is_some()
                || matches!(i.reading, BodyReading::Malformed(_))
        })
        .collect();
    out.sort_by_key(|i| (i.start_ms, i.id));
    out
}

/// The records of an invocation the function finished: all on success; on a partial failure
/// every record the function did not name (ESM-SPEC section 3: "only the failed records are
/// retried"), or none if a failure names no record of the batch (then the whole batch failed).
fn succeeded(inv: &Inv, topic: &str) -> Vec<Key> {
    match inv.outcome {
        _ if inv.refused.is_some() => Vec::new(),
        InvocationOutcome::Success => inv.records.clone(),
        InvocationOutcome::PartialFailure => {
            let failed: FxHashSet<(&str, i64)> = inv
                .item_failures
                .iter()
                .map(|f| (f.partition_key.as_str(), f.offset))
                .collect();
            let key_of = |p: i32| format!("{topic}-{p}");
            let names_a_record = inv.item_failures.iter().all(|f| {
                inv.records
                    .iter()
                    .any(|&(p, o)| o == f.offset && f.partition_key == key_of(p))
            });
            if !names_a_record {
                return Vec::new();
            }
            inv.records
                .iter()
                .copied()
                .filter(|&(p, o)| !failed.contains(&(key_of(p).as_str(), o)))
                .collect()
        }
        InvocationOutcome::FunctionError
        | InvocationOutcome::Throttled
        | InvocationOutcome::ServiceError => Vec::new(),
    }
}

struct Produced<'a> {
    at_ms: u64,
    key: Option<&'a str>,
    value: Option<&'a str>,
    timestamp_ms: i64,
}

fn produced<'a>(events: &'a [Arc<Event>], topic: &str) -> BTreeMap<Key, Produced<'a>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Produced {
                topic: t,
                partition,
                offset,
                key,
                value,
                timestamp_ms,
            } if **t == *topic => Some((
                (*partition, *offset),
                Produced {
                    at_ms: e.at_ms,
                    key: key.as_deref(),
                    value: value.as_deref(),
                    timestamp_ms: *timestamp_ms,
                },
            )),
            _ => None,
        })
        .collect()
}

/// Records of `topic` found in destination messages on `destination` (read leniently: a
/// malformed message is destination_format's to report).
fn on_destination(events: &[Arc<Event>], topic: &str, destination: Option<&str>) -> BTreeSet<Key> {
    let Some(destination) = destination else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for e in events {
        let EventKind::Destination { topic: t, body, .. } = &e.kind else {
            continue;
        };
        if t != destination {
            continue;
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
            continue;
        };
        let Some(lists) = json.pointer("/payload/records").and_then(|r| r.as_object()) else {
            continue;
        };
        for record in lists.values().filter_map(|l| l.as_array()).flatten() {
            let record_topic = record.get("topic").and_then(|t| t.as_str());
            let partition = record.get("partition").and_then(|p| p.as_i64());
            let offset = record.get("offset").and_then(|o| o.as_i64());
            if let (Some(rt), Some(p), Some(o)) = (record_topic, partition, offset)
                && rt == topic
                && let Ok(p) = i32::try_from(p)
            {
                out.insert((p, o));
            }
        }
    }
    out
}

/// The highest log start offset seen per partition: records below it were deleted by retention.
fn retention(events: &[Arc<Event>], topic: &str) -> FxHashMap<i32, i64> {
    let mut out: FxHashMap<i32, i64> = FxHashMap::default();
    for e in events {
        if let EventKind::RetentionDeleted {
            topic: t,
            partition,
            log_start_offset,
        } = &e.kind
            && t == topic
        {
            let entry = out.entry(*partition).or_insert(*log_start_offset);
            *entry = (*entry).max(*log_start_offset);
        }
    }
    out
}

/// Produced records the mapping's filters drop, judged by the contract's matcher on the key and
/// value the broker acknowledged.
fn filtered_out(
    produced: &BTreeMap<Key, Produced>,
    filters: &[contract::filter::Pattern],
) -> FxHashSet<Key> {
    if filters.is_empty() {
        return FxHashSet::default();
    }
    produced
        .iter()
        .filter(|(_, p)| {
            !contract::filter::passes(
                filters,
                p.key.map(str::as_bytes),
                p.value.map(str::as_bytes),
            )
        })
        .map(|(k, _)| *k)
        .collect()
}

/// Why a record that was never processed is not a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Excuse {
    Filtered,
    Destination,
    Retention,
    StartPosition,
}

/// Everything the checkers share about one subject.
struct Facts<'a> {
    produced: BTreeMap<Key, Produced<'a>>,
    invocations: Vec<Inv<'a>>,
    /// Earliest end of an invocation that finished the record.
    succeeded_ms: FxHashMap<Key, u64>,
    destination: BTreeSet<Key>,
    retention: FxHashMap<i32, i64>,
    /// Records a start with no committed offset skipped as its StartingPosition says.
    start_skipped: FxHashSet<Key>,
    filtered: FxHashSet<Key>,
}

impl<'a> Facts<'a> {
    fn new(events: &'a [Arc<Event>], s: &Subject) -> Facts<'a> {
        let produced = produced(events, &s.topic);
        let invocations = invocations(events, &s.topic, &s.function);
        let mut succeeded_ms: FxHashMap<Key, u64> = FxHashMap::default();
        for inv in &invocations {
            for key in succeeded(inv, &s.topic) {
                let entry = succeeded_ms.entry(key).or_insert(inv.end_ms);
                *entry = (*entry).min(inv.end_ms);
            }
        }
        let filtered = filtered_out(&produced, &s.filters);
        let start_skipped = start::skipped(events, s, &produced, &invocations);
        Facts {
            produced,
            destination: on_destination(events, &s.topic, s.destination_topic.as_deref()),
            retention: retention(events, &s.topic),
            start_skipped,
            invocations,
            succeeded_ms,
            filtered,
        }
    }

    fn excuse(&self, key: Key) -> Option<Excuse> {
        let (p, o) = key;
        if self.filtered.contains(&key) {
            Some(Excuse::Filtered)
        } else if self.destination.contains(&key) {
            Some(Excuse::Destination)
        } else if self.retention.get(&p).is_some_and(|&start| o < start) {
            Some(Excuse::Retention)
        } else if self.start_skipped.contains(&key) {
            Some(Excuse::StartPosition)
        } else {
            None
        }
    }

    /// When the record was done: finished by the function, or excused (time 0: any time).
    fn done_ms(&self, key: Key) -> Option<u64> {
        self.succeeded_ms
            .get(&key)
            .copied()
            .or_else(|| self.excuse(key).map(|_| 0))
    }

    fn offsets_by_partition(&self) -> BTreeMap<i32, Vec<i64>> {
        let mut out: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for &(p, o) in self.produced.keys() {
            out.entry(p).or_default().push(o);
        }
        out
    }

    fn describe(&self, key: Key) -> String {
        let (p, o) = key;
        let mut carried: BTreeMap<String, u32> = BTreeMap::new();
        for inv in &self.invocations {
            if inv.records.contains(&key) {
                *carried
                    .entry(format!("{:?}", inv.outcome).to_lowercase())
                    .or_default() += 1;
            }
        }
        let value = self
            .produced
            .get(&key)
            .map(|r| {
                format!(
                    " value {:?} produced at {} ms",
                    r.value.unwrap_or("<null>"),
                    r.at_ms
                )
            })
            .unwrap_or_default();
        let carried = if carried.is_empty() {
            "never invoked".to_string()
        } else {
            let parts: Vec<_> = carried.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            format!("invoked: {}", parts.join(", "))
        };
        format!("partition {p} offset {o}:{value}; {carried}")
    }
}

/// Nothing lost: every produced record was finished by the function, filtered out, or written to
/// the destination; records deleted by retention or skipped by a LATEST/AT_TIMESTAMP start are
/// counted separately, not as loss.
pub fn lost(events: &[Arc<Event>], s: &Subject) -> Verdict {
    lost_of(&Facts::new(events, s), s)
}

fn lost_of(facts: &Facts, s: &Subject) -> Verdict {
    let mut excused: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut lost = Vec::new();
    for &key in facts.produced.keys() {
        if facts.succeeded_ms.contains_key(&key) {
            continue;
        }
        match facts.excuse(key) {
            Some(Excuse::Filtered) => *excused.entry("filtered out").or_default() += 1,
            Some(Excuse::Destination) => {
                *excused.entry("sent to the destination").or_default() += 1
            }
            Some(Excuse::Retention) => {
                *excused
                    .entry("deleted by retention before they could be read")
                    .or_default() += 1
            }
            Some(Excuse::StartPosition) => {
                *excused
                    .entry("skipped by a LATEST/AT_TIMESTAMP start position")
                    .or_default() += 1
            }
            None => lost.push(key),
        }
    }
    let mut summary = format!(
        "{} of {} records of {} lost",
        lost.len(),
        facts.produced.len(),
        s.topic
    );
    for (why, n) in &excused {
        summary.push_str(&format!("; {n} {why}"));
    }
    let evidence = lost
        .iter()
        .take(EVIDENCE_MAX)
        .map(|&k| facts.describe(k))
        .collect();
    verdict("lost", lost.is_empty(), summary, evidence)
}

/// Per record of `topic`: how many calls of `function` carried it. Throttled calls and refused
/// (malformed) events do not count: the function never ran on them.
pub fn delivery_counts(events: &[Arc<Event>], topic: &str, function: &str) -> BTreeMap<Key, u32> {
    let mut counts: BTreeMap<Key, u32> = BTreeMap::new();
    for inv in invocations(events, topic, function)
        .iter()
        .filter(|i| i.reached_function())
    {
        for &key in &inv.records {
            *counts.entry(key).or_default() += 1;
        }
    }
    counts
}

/// No record reached the function more than `max_deliveries` times.
pub fn duplicates(events: &[Arc<Event>], s: &Subject, max_deliveries: u32) -> Verdict {
    let counts = delivery_counts(events, &s.topic, &s.function);
    let mut over: Vec<(Key, u32)> = counts
        .iter()
        .filter(|(_, n)| **n > max_deliveries)
        .map(|(k, n)| (*k, *n))
        .collect();
    over.sort_by_key(|&((p, o), n)| (std::cmp::Reverse(n), p, o));
    let summary = format!(
        "{} of {} delivered records of {} reached {} more than {max_deliveries} time(s)",
        over.len(),
        counts.len(),
        s.topic,
        s.function
    );
    let evidence = over
        .iter()
        .take(EVIDENCE_MAX)
        .map(|((p, o), n)| format!("partition {p} offset {o}: {n} deliveries"))
        .collect();
    verdict("duplicates", over.is_empty(), summary, evidence)
}

/// Per-partition order: offsets ascend within an invocation, and no record reaches the function
/// before every earlier record of its partition reached it at least once (or was excused).
pub fn order(events: &[Arc<Event>], s: &Subject) -> Verdict {
    order_of(&Facts::new(events, s), s)
}

fn order_of(facts: &Facts, s: &Subject) -> Verdict {
    let offsets = facts.offsets_by_partition();
    let mut seen: FxHashSet<Key> = FxHashSet::default();
    let mut skipped: FxHashSet<Key> = FxHashSet::default();
    let mut frontier: FxHashMap<i32, usize> = FxHashMap::default();
    let (mut descents, mut skips) = (0usize, 0usize);
    let mut evidence = Vec::new();
    for inv in &facts.invocations {
        let mut last: FxHashMap<i32, i64> = FxHashMap::default();
        let mut here: FxHashSet<Key> = FxHashSet::default();
        let mut local = frontier.clone();
        for &(p, o) in &inv.records {
            if let Some(&before) = last.get(&p)
                && o <= before
            {
                descents += 1;
                push_evidence(&mut evidence, || {
                    format!(
                        "invocation #{} at {} ms: partition {p} offset {o} follows {before}",
                        inv.id, inv.start_ms
                    )
                });
            }
            last.insert(p, o);
            let Some(offs) = offsets.get(&p) else {
                continue;
            };
            let idx = local.entry(p).or_insert(0);
            let passable = |k: Key| {
                seen.contains(&k)
                    || here.contains(&k)
                    || skipped.contains(&k)
                    || facts.excuse(k).is_some()
            };
            while *idx < offs.len() && passable((p, offs[*idx])) {
                *idx += 1;
            }
            let gap_start = *idx;
            while *idx < offs.len() && offs[*idx] < o && !passable((p, offs[*idx])) {
                *idx += 1;
            }
            skipped.extend(offs[gap_start..*idx].iter().map(|&x| (p, x)));
            if *idx > gap_start {
                skips += *idx - gap_start;
                let (first, n) = (offs[gap_start], *idx - gap_start);
                push_evidence(&mut evidence, || {
                    format!(
                        "invocation #{} at {} ms carried partition {p} offset {o} before offset {first} \
                         ({n} record(s) from there) had ever reached the function",
                        inv.id, inv.start_ms
                    )
                });
            }
            here.insert((p, o));
        }
        if inv.reached_function() {
            seen.extend(here);
            frontier = local;
        }
    }
    let summary = format!(
        "{descents} out-of-order record(s) within invocations, {skips} record(s) skipped over, in {} invocations of {}",
        facts.invocations.len(),
        s.function
    );
    verdict("order", descents == 0 && skips == 0, summary, evidence)
}

fn commits<'a>(events: &'a [Arc<Event>], s: &Subject) -> Vec<(u64, &'a str, i32, i64)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Commit {
                group,
                topic,
                partition,
                offset,
            } if *topic == s.topic && s.groups.contains(group) => {
                Some((e.at_ms, group.as_str(), *partition, *offset))
            }
            _ => None,
        })
        .collect()
}

/// No commit ran ahead of success: when a group's committed offset `o` was seen at `t`, every
/// produced record of the partition below `o` was done at or before `t`.
pub fn commit_safety(events: &[Arc<Event>], s: &Subject) -> Verdict {
    commit_safety_of(&Facts::new(events, s), events, s)
}

fn commit_safety_of(facts: &Facts, events: &[Arc<Event>], s: &Subject) -> Verdict {
    let offsets = facts.offsets_by_partition();
    // Per partition: done times and their running maximum, so each commit is one lookup.
    let mut done: FxHashMap<i32, (Vec<u64>, Vec<u64>)> = FxHashMap::default();
    for (p, offs) in &offsets {
        let times: Vec<u64> = offs
            .iter()
            .map(|&o| facts.done_ms((*p, o)).unwrap_or(u64::MAX))
            .collect();
        let running: Vec<u64> = times
            .iter()
            .scan(0u64, |max, &t| {
                *max = (*max).max(t);
                Some(*max)
            })
            .collect();
        done.insert(*p, (times, running));
    }
    let all = commits(events, s);
    let mut last: FxHashMap<(&str, i32), i64> = FxHashMap::default();
    let (mut violations, mut backwards) = (0usize, 0usize);
    let mut evidence = Vec::new();
    let mut notes = Vec::new();
    for &(t, group, p, o) in &all {
        if let Some(&before) = last.get(&(group, p))
            && o < before
        {
            backwards += 1;
            push_evidence(&mut notes, || {
                format!(
                    "note: group {group} partition {p} went back from {before} to {o} at {t} ms (a reset; allowed)"
                )
            });
        }
        last.insert((group, p), o);
        let (Some(offs), Some((times, running))) = (offsets.get(&p), done.get(&p)) else {
            continue;
        };
        let below = offs.partition_point(|&x| x < o);
        if below == 0 || running[below - 1] <= t {
            continue;
        }
        violations += 1;
        let first = times
            .iter()
            .position(|&d| d > t)
            .expect("running max exceeds t");
        let when = match times[first] {
            u64::MAX => "never".to_string(),
            d => format!("only at {d} ms"),
        };
        push_evidence(&mut evidence, || {
            format!(
                "group {group} committed partition {p} offset {o} at {t} ms, but offset {} was done {when}: {}",
                offs[first],
                facts.describe((p, offs[first]))
            )
        });
    }
    let summary = format!(
        "{violations} of {} commit(s) of {} ran ahead of success; {backwards} went backwards (allowed)",
        all.len(),
        s.topic
    );
    evidence.extend(notes);
    verdict("commit_safety", violations == 0, summary, evidence)
}

/// Times at which pollers were killed: a killed caller's call runs on in the function, so an
/// overlap across a kill is the function's own doing, not two pollers on one partition.
fn kill_times(events: &[Arc<Event>]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Lifecycle { action, .. } if action.kills() => Some(e.at_ms),
            _ => None,
        })
        .collect()
}

/// How long after a freeze ends its pollers may still act on the group membership they had: a
/// poller frozen past its session timeout learns that it lost its partitions only when its
/// client's timer fires after the thaw (within milliseconds here), and a call it starts first
/// can overlap the new owner's. Kafka cannot fence such a zombie; no consumer avoids it. The
/// broker removes a member whose heartbeats stop for the session timeout and rebalances
/// (librdkafka CONFIGURATION.md, `session.timeout.ms`); AWS's Kafka pages say nothing of it.
const THAW_ZOMBIE_MS: u64 = 1_000;

/// Times at which freezes ended (SIGCONT of the mapping's pollers).
fn thaw_times(events: &[Arc<Event>]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault {
                fault,
                phase: FaultPhase::Ended,
            } if fault.kind == FaultKind::Freeze => Some(e.at_ms),
            _ => None,
        })
        .collect()
}

/// At most one invocation per partition in flight: no two calls carrying records of the same
/// partition overlap in `[start_ms, end_ms)`, unless a poller was killed in between, or the
/// earlier call started in the first [`THAW_ZOMBIE_MS`] after a freeze ended (both noted).
pub fn single_in_flight(events: &[Arc<Event>], s: &Subject) -> Verdict {
    single_in_flight_of(&invocations(events, &s.topic, &s.function), events, s)
}

fn single_in_flight_of(invs: &[Inv], events: &[Arc<Event>], s: &Subject) -> Verdict {
    let kills = kill_times(events);
    let thaws = thaw_times(events);
    let mut by_partition: BTreeMap<i32, Vec<&Inv>> = BTreeMap::new();
    for inv in invs {
        let partitions: BTreeSet<i32> = inv.records.iter().map(|&(p, _)| p).collect();
        for p in partitions {
            by_partition.entry(p).or_default().push(inv);
        }
    }
    let (mut overlaps, mut excused) = (0usize, 0usize);
    let mut evidence = Vec::new();
    let mut notes = Vec::new();
    for (p, list) in &by_partition {
        // `list` is in start order; `open` holds the calls still running at the new call's
        // start. Each is judged on its own: a kill excuses only the calls it could have
        // orphaned (started before it), not every call that overlaps them later.
        let mut open: Vec<&Inv> = Vec::new();
        for inv in list {
            open.retain(|a| inv.start_ms < a.end_ms);
            for a in &open {
                let pair = format!(
                    "partition {p}: invocation #{} [{}, {}) ms overlaps #{} [{}, {}) ms",
                    a.id, a.start_ms, a.end_ms, inv.id, inv.start_ms, inv.end_ms
                );
                if kills.iter().any(|&k| a.start_ms <= k && k <= inv.start_ms) {
                    excused += 1;
                    push_evidence(&mut notes, || {
                        format!("note: {pair}, after a poller was killed")
                    });
                } else if thaws
                    .iter()
                    .any(|&t| t <= a.start_ms && a.start_ms < t + THAW_ZOMBIE_MS)
                {
                    excused += 1;
                    push_evidence(&mut notes, || {
                        format!("note: {pair}, the first started just after a freeze ended")
                    });
                } else {
                    overlaps += 1;
                    push_evidence(&mut evidence, || pair);
                }
            }
            open.push(inv);
        }
    }
    let summary = format!(
        "{overlaps} overlapping pair(s) of invocations on one partition of {}; {excused} across a poller kill or a thaw",
        s.topic
    );
    evidence.extend(notes);
    verdict("single_in_flight", overlaps == 0, summary, evidence)
}

/// Checks one destination message with the contract's model of AWS's on-failure record, then
/// that it is about a record of the source topic and keyed by that record's key.
pub fn check_destination_body(
    body: &str,
    key: Option<&str>,
    source_topic: &str,
) -> Result<(), String> {
    let failure = contract::destination::parse(body).map_err(|e| e.to_string())?;
    let record = &failure.record;
    if record.topic != source_topic {
        return Err(format!(
            "/payload record is from topic {:?}, not the source {source_topic:?}",
            record.topic
        ));
    }
    let record_key = record
        .key
        .as_ref()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    if record_key.as_deref() != key {
        return Err(format!(
            "message key {key:?} is not the failed record's key {record_key:?}"
        ));
    }
    Ok(())
}

/// Every message on the destination topic has the on-failure record shape and the record's key.
pub fn destination_format(events: &[Arc<Event>], s: &Subject) -> Verdict {
    let Some(destination) = s.destination_topic.as_deref() else {
        return verdict(
            "destination_format",
            true,
            "no destination configured".into(),
            Vec::new(),
        );
    };
    let (mut total, mut bad) = (0usize, 0usize);
    let mut evidence = Vec::new();
    for e in events {
        let EventKind::Destination {
            topic,
            partition,
            offset,
            key,
            body,
        } = &e.kind
        else {
            continue;
        };
        if topic != destination {
            continue;
        }
        total += 1;
        if let Err(why) = check_destination_body(body, key.as_deref(), &s.topic) {
            bad += 1;
            push_evidence(&mut evidence, || {
                format!("{topic} partition {partition} offset {offset}: {why}")
            });
        }
    }
    let summary = format!("{bad} of {total} message(s) on {destination} malformed");
    verdict("destination_format", bad == 0, summary, evidence)
}

/// Every event the function got was well formed (ESM-SPEC section 2), as the contract's parser
/// reads the body: the evidence names the field at fault. Bodies past the history's budget are
/// counted as unread, and events the mock refused are reported with the mock's reason.
pub fn well_formed_events(events: &[Arc<Event>], s: &Subject) -> Verdict {
    well_formed_of(&invocations(events, &s.topic, &s.function), s)
}

fn well_formed_of(invs: &[Inv], s: &Subject) -> Verdict {
    let (mut bad, mut unread) = (0usize, 0usize);
    let mut evidence = Vec::new();
    for inv in invs {
        let why = match &inv.reading {
            BodyReading::Malformed(e) => Some(e.to_string()),
            BodyReading::NotKept => {
                unread += 1;
                None
            }
            BodyReading::Parsed => None,
        };
        let why = why.or_else(|| {
            inv.refused
                .map(|r| format!("refused by the mock function, though the contract reads it: {r}"))
        });
        if let Some(why) = why {
            bad += 1;
            push_evidence(&mut evidence, || {
                format!("invocation #{} at {} ms: {why}", inv.id, inv.start_ms)
            });
        }
    }
    let mut summary = format!(
        "{bad} of {} event(s) sent to {} malformed",
        invs.len(),
        s.function
    );
    if unread > 0 {
        summary.push_str(&format!(
            "; {unread} not read (bodies past the history's budget of {} bytes)",
            crate::history::BODIES_BYTES_MAX
        ));
    }
    verdict("well_formed_events", bad == 0, summary, evidence)
}

/// The "every guarantee holds" set: nothing lost, order, commit safety, one call in flight per
/// partition, start positions, resumption from committed offsets, well-formed destination
/// records and events. Duplicates are allowed (at least once), except of records committed
/// before a restart.
pub fn all(events: &[Arc<Event>], s: &Subject) -> Vec<Verdict> {
    let facts = Facts::new(events, s);
    vec![
        lost_of(&facts, s),
        order_of(&facts, s),
        commit_safety_of(&facts, events, s),
        single_in_flight_of(&facts.invocations, events, s),
        start::start_position_of(events, s, &facts.produced, &facts.invocations),
        resume::resume_of(events, s, &facts.invocations),
        destination_format(events, s),
        well_formed_of(&facts.invocations, s),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{InvocationEvent, LifecycleAction};
    use base64::Engine;
    use serde_json::json;

    pub(super) const T: &str = "orders";

    pub(super) fn subject() -> Subject {
        Subject {
            mapping: "esm".into(),
            topic: T.into(),
            function: "process".into(),
            groups: vec!["g".into()],
            destination_topic: Some("dlq".into()),
            filters: Vec::new(),
            starting_position: StartingPosition::TrimHorizon,
        }
    }

    pub(super) fn ev(at_ms: u64, kind: EventKind) -> Arc<Event> {
        Arc::new(Event { at_ms, kind })
    }

    fn produced(at_ms: u64, partition: i32, offset: i64) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::Produced {
                topic: T.into(),
                partition,
                offset,
                key: Some("k".into()),
                value: Some(format!("v{offset}")),
                timestamp_ms: 0,
            },
        )
    }

    fn invocation(
        id: u64,
        start_ms: u64,
        end_ms: u64,
        recs: &[(i32, i64)],
        outcome: InvocationOutcome,
    ) -> Arc<Event> {
        ev(
            start_ms,
            EventKind::Invocation(Box::new(InvocationEvent {
                function: "process".into(),
                id,
                start_ms,
                end_ms,
                records: recs
                    .iter()
                    .map(|&(partition, offset)| RecordRef {
                        topic: T.into(),
                        partition,
                        offset,
                        value: Some(format!("v{offset}")),
                        headers: Vec::new(),
                    })
                    .collect(),
                outcome,
                item_failures: Vec::new(),
                malformed: None,
                body: None,
            })),
        )
    }

    pub(super) fn ok(id: u64, start_ms: u64, end_ms: u64, recs: &[(i32, i64)]) -> Arc<Event> {
        invocation(id, start_ms, end_ms, recs, InvocationOutcome::Success)
    }

    pub(super) fn commit(at_ms: u64, partition: i32, offset: i64) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::Commit {
                group: "g".into(),
                topic: T.into(),
                partition,
                offset,
            },
        )
    }

    fn three_produced() -> Vec<Arc<Event>> {
        (0..3).map(|o| produced(1, 0, o)).collect()
    }

    fn history(mut events: Vec<Arc<Event>>) -> Vec<Arc<Event>> {
        events.sort_by_key(|e| e.at_ms);
        events
    }

    #[test]
    fn everything_delivered_holds() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0), (0, 1)]));
        events.push(ok(2, 20, 30, &[(0, 2)]));
        events.push(commit(25, 0, 2));
        events.push(commit(35, 0, 3));
        let events = history(events);
        for v in all(&events, &subject()) {
            assert!(v.ok, "{v:?}");
        }
        assert_eq!(
            delivery_counts(&events, T, "process").get(&(0, 1)),
            Some(&1)
        );
        assert!(duplicates(&events, &subject(), 1).ok);
    }

    #[test]
    fn a_record_never_succeeded_is_lost() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0)]));
        events.push(invocation(
            2,
            20,
            30,
            &[(0, 1), (0, 2)],
            InvocationOutcome::FunctionError,
        ));
        let v = lost(&history(events), &subject());
        assert!(!v.ok);
        assert!(v.summary.starts_with("2 of 3"), "{}", v.summary);
        assert!(v.evidence[0].contains("offset 1"), "{:?}", v.evidence);
        assert!(
            v.evidence[0].contains("functionerror x1"),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn partial_failure_finishes_every_record_it_does_not_name() {
        let mut events = three_produced();
        let mut partial = invocation(
            1,
            10,
            20,
            &[(0, 0), (0, 1), (0, 2)],
            InvocationOutcome::PartialFailure,
        );
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut partial).kind {
            inv.item_failures.push(ItemFailure {
                partition_key: format!("{T}-0"),
                offset: 1,
            });
        }
        events.push(partial);
        let v = lost(&history(events.clone()), &subject());
        assert!(v.summary.starts_with("1 of 3"), "{}", v.summary);
        events.push(ok(2, 30, 40, &[(0, 1)]));
        assert!(lost(&history(events), &subject()).ok);
    }

    #[test]
    fn evidence_stops_at_its_limit() {
        let mut evidence = Vec::new();
        for i in 0..EVIDENCE_MAX + 3 {
            push_evidence(&mut evidence, || format!("line {i}"));
        }
        assert_eq!(evidence.len(), EVIDENCE_MAX);
    }

    fn with(mut event: Arc<Event>, edit: impl FnOnce(&mut InvocationEvent)) -> Arc<Event> {
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut event).kind {
            edit(inv);
        }
        event
    }

    #[test]
    fn another_functions_calls_deliver_nothing() {
        let mut events = three_produced();
        events.push(with(ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]), |inv| {
            inv.function = "other".into();
        }));
        let v = lost(&history(events), &subject());
        assert!(v.summary.starts_with("3 of 3"), "{}", v.summary);
    }

    #[test]
    fn a_call_the_function_refused_finishes_nothing() {
        let mut events = three_produced();
        events.push(with(ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]), |inv| {
            inv.malformed = Some("records: missing".into());
        }));
        let v = lost(&history(events), &subject());
        assert!(v.summary.starts_with("3 of 3"), "{}", v.summary);
    }

    #[test]
    fn a_partial_failure_naming_no_record_of_its_batch_fails_it_whole() {
        let mut events = three_produced();
        let batch = &[(0, 0), (0, 1), (0, 2)];
        events.push(with(
            invocation(1, 10, 20, batch, InvocationOutcome::PartialFailure),
            |inv| {
                inv.item_failures.push(ItemFailure {
                    partition_key: format!("{T}-0"),
                    offset: 7,
                });
            },
        ));
        let v = lost(&history(events), &subject());
        assert!(v.summary.starts_with("3 of 3"), "{}", v.summary);
    }

    #[test]
    fn the_first_record_retention_kept_is_not_excused() {
        let mut events: Vec<Arc<Event>> = (0..3).map(|o| produced(1, 0, o)).collect();
        events.push(ev(
            5,
            EventKind::RetentionDeleted {
                topic: T.into(),
                partition: 0,
                log_start_offset: 2,
            },
        ));
        let v = lost(&history(events), &subject());
        assert!(v.summary.starts_with("1 of 3"), "{}", v.summary);
        assert!(v.evidence[0].contains("offset 2"), "{:?}", v.evidence);
    }

    #[test]
    fn retention_and_destination_are_not_loss() {
        let mut events: Vec<Arc<Event>> = (0..6).map(|o| produced(1, 0, o)).collect();
        events.push(ev(
            5,
            EventKind::RetentionDeleted {
                topic: T.into(),
                partition: 0,
                log_start_offset: 2,
            },
        ));
        let dest = destination_body(5, Some("k"));
        events.push(ev(
            50,
            EventKind::Destination {
                topic: "dlq".into(),
                partition: 0,
                offset: 0,
                key: Some("k".into()),
                body: dest,
            },
        ));
        events.push(ok(1, 10, 20, &[(0, 2), (0, 3), (0, 4)]));
        let events = history(events);
        let v = lost(&events, &subject());
        assert!(v.ok, "{v:?}");
        assert!(
            v.summary.contains("2 deleted by retention"),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("1 sent to the destination"),
            "{}",
            v.summary
        );
        assert!(order(&events, &subject()).ok);
    }

    #[test]
    fn a_skip_breaks_order_but_redelivery_does_not() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0)]));
        events.push(ok(2, 20, 30, &[(0, 2)]));
        let v = order(&history(events.clone()), &subject());
        assert!(!v.ok);
        assert!(
            v.summary.starts_with(
                "0 out-of-order record(s) within invocations, 1 record(s) skipped over"
            ),
            "{}",
            v.summary
        );
        assert!(
            v.evidence[0].contains("before offset 1 (1 record(s) from there)"),
            "{:?}",
            v.evidence
        );
        let mut redelivered = three_produced();
        redelivered.push(ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]));
        redelivered.push(ok(2, 30, 40, &[(0, 1), (0, 2)]));
        assert!(order(&history(redelivered), &subject()).ok);
        let mut descending = three_produced();
        descending.push(ok(1, 10, 20, &[(0, 1), (0, 0)]));
        let v = order(&history(descending), &subject());
        assert!(!v.ok);
        assert!(
            v.summary.starts_with("1 out-of-order record(s)"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn a_throttled_call_does_not_count_as_delivery() {
        let mut events = three_produced();
        events.push(invocation(
            1,
            10,
            10,
            &[(0, 0), (0, 1)],
            InvocationOutcome::Throttled,
        ));
        events.push(ok(2, 20, 30, &[(0, 2)]));
        assert!(!order(&history(events.clone()), &subject()).ok);
        assert_eq!(
            delivery_counts(&history(events), T, "process").get(&(0, 0)),
            None
        );
    }

    #[test]
    fn a_commit_ahead_of_success_is_caught_and_backward_commits_noted() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0)]));
        events.push(commit(15, 0, 1));
        let v = commit_safety(&history(events.clone()), &subject());
        assert!(!v.ok);
        assert!(
            v.evidence[0].contains("offset 0 was done only at 20 ms"),
            "{:?}",
            v.evidence
        );
        let mut later = three_produced();
        later.push(ok(1, 10, 20, &[(0, 0)]));
        later.push(commit(25, 0, 1));
        later.push(commit(30, 0, 0));
        later.push(commit(31, 0, 0));
        later.push(commit(32, 0, 0));
        let v = commit_safety(&history(later), &subject());
        assert!(v.ok, "{v:?}");
        assert!(v.summary.contains("1 went backwards"), "{}", v.summary);
        let mut never = three_produced();
        never.push(commit(30, 0, 3));
        assert!(commit_safety(&history(never), &subject()).evidence[0].contains("never"));
    }

    #[test]
    fn commits_of_other_groups_and_topics_are_not_judged() {
        let foreign = |group: &str, topic: &str| {
            ev(
                5,
                EventKind::Commit {
                    group: group.into(),
                    topic: topic.into(),
                    partition: 0,
                    offset: 3,
                },
            )
        };
        for (group, topic) in [("other", T), ("g", "elsewhere")] {
            let mut events = three_produced();
            events.push(foreign(group, topic));
            let v = commit_safety(&history(events), &subject());
            assert!(v.ok, "{group} on {topic}: {v:?}");
            assert!(v.summary.starts_with("0 of 0 commit(s)"), "{}", v.summary);
        }
    }

    #[test]
    fn overlapping_calls_on_one_partition_are_caught() {
        let mut events = three_produced();
        events.push(ok(1, 10, 50, &[(0, 0)]));
        events.push(ok(2, 30, 60, &[(0, 1)]));
        let v = single_in_flight(&history(events.clone()), &subject());
        assert!(!v.ok);
        assert!(
            v.evidence[0].contains("#1 [10, 50) ms overlaps #2 [30, 60)"),
            "{:?}",
            v.evidence
        );
        events.push(ev(
            20,
            EventKind::Lifecycle {
                mapping: "esm".into(),
                action: LifecycleAction::Killed,
                pollers: 1,
            },
        ));
        assert!(single_in_flight(&history(events), &subject()).ok);
        let mut back_to_back = three_produced();
        back_to_back.push(ok(1, 10, 50, &[(0, 0)]));
        back_to_back.push(ok(2, 50, 60, &[(0, 1)]));
        back_to_back.push(ok(3, 20, 60, &[(1, 0)]));
        assert!(single_in_flight(&history(back_to_back), &subject()).ok);
    }

    #[test]
    fn a_thawed_pollers_first_call_is_excused_and_a_later_one_is_not() {
        let freeze = |at_ms: u64, phase: FaultPhase| {
            ev(
                at_ms,
                EventKind::Fault {
                    fault: crate::history::Fault {
                        id: 1,
                        kind: FaultKind::Freeze,
                        target: crate::history::FaultTarget::Mapping("esm".into()),
                        latency_ms: None,
                    },
                    phase,
                },
            )
        };
        let mut events = three_produced();
        events.push(freeze(10, FaultPhase::Began));
        events.push(freeze(20_000, FaultPhase::Ended));
        // #1: the thawed poller's call before it learned its session expired; #2: the new
        // owner's, overlapping it.
        events.push(ok(1, 20_004, 20_024, &[(0, 0)]));
        events.push(ok(2, 20_016, 20_036, &[(0, 0), (0, 1)]));
        let v = single_in_flight(&history(events.clone()), &subject());
        assert!(v.ok, "{v:?}");
        assert!(
            v.summary.ends_with("1 across a poller kill or a thaw"),
            "{v:?}"
        );
        // Two overlapping calls a second after the thaw are no zombie's: caught.
        events.push(ok(3, 21_000, 21_050, &[(0, 2)]));
        events.push(ok(4, 21_010, 21_060, &[(0, 2)]));
        let v = single_in_flight(&history(events), &subject());
        assert!(!v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains("#3 [21000, 21050) ms overlaps #4"),
            "{v:?}"
        );
    }

    #[test]
    fn only_kills_and_thaws_excuse_an_overlap() {
        let mut events = three_produced();
        events.push(lifecycle(15, LifecycleAction::Started, 1));
        // A slowed network ends just before #1 starts: only a freeze's end excuses that.
        let slowed = |phase| {
            ev(
                5,
                EventKind::Fault {
                    fault: crate::history::Fault {
                        id: 2,
                        kind: FaultKind::NetworkSlow,
                        target: crate::history::FaultTarget::Mapping("esm".into()),
                        latency_ms: Some(300),
                    },
                    phase,
                },
            )
        };
        events.push(slowed(FaultPhase::Began));
        events.push(slowed(FaultPhase::Ended));
        events.push(ok(1, 10, 50, &[(0, 0)]));
        events.push(ok(2, 30, 60, &[(0, 1)]));
        assert!(!single_in_flight(&history(events), &subject()).ok);
    }

    #[test]
    fn unread_bodies_are_counted_not_judged() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0), (0, 1)]));
        events.push(ok(2, 20, 30, &[(0, 2)]));
        let v = well_formed_events(&history(events), &subject());
        assert!(v.ok, "{v:?}");
        assert!(v.summary.contains("; 2 not read"), "{}", v.summary);
        let none = well_formed_events(&history(three_produced()), &subject());
        assert!(!none.summary.contains("not read"), "{}", none.summary);
    }

    #[test]
    fn every_guarantee_is_judged() {
        let names: Vec<_> = all(&history(three_produced()), &subject())
            .iter()
            .map(|v| v.checker)
            .collect();
        assert_eq!(
            names,
            [
                "lost",
                "order",
                "commit_safety",
                "single_in_flight",
                "start_position",
                "resume",
                "destination_format",
                "well_formed_events"
            ]
        );
    }

    #[test]
    fn a_commit_names_the_first_record_done_after_it() {
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0)]));
        events.push(commit(20, 0, 2));
        let v = commit_safety(&history(events), &subject());
        assert!(!v.ok);
        assert!(
            v.evidence[0].contains("offset 1 was done never"),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn a_kill_excuses_only_the_calls_it_could_have_orphaned() {
        let mut events = three_produced();
        // #1 is the killed poller's call, still running in the function after the kill at 15;
        // #2 and #3 both start after the kill, so their overlap is a new poller's fault.
        events.push(ok(1, 10, 100, &[(0, 0)]));
        events.push(ev(
            15,
            EventKind::Lifecycle {
                mapping: "esm".into(),
                action: LifecycleAction::PollerKilled,
                pollers: 1,
            },
        ));
        events.push(ok(2, 20, 50, &[(0, 1)]));
        events.push(ok(3, 30, 60, &[(0, 2)]));
        let v = single_in_flight(&history(events), &subject());
        assert!(!v.ok, "{v:?}");
        assert!(v.summary.starts_with("1 overlapping pair(s)"), "{v:?}");
        assert!(
            v.summary.ends_with("2 across a poller kill or a thaw"),
            "{v:?}"
        );
        assert!(
            v.evidence[0].contains("#2 [20, 50) ms overlaps #3 [30, 60)"),
            "{v:?}"
        );
    }

    #[test]
    fn duplicates_over_the_limit_are_caught() {
        let mut events = three_produced();
        for id in 0..3 {
            events.push(ok(id, 10 * id, 10 * id + 5, &[(0, 0)]));
        }
        let events = history(events);
        assert!(duplicates(&events, &subject(), 3).ok);
        let v = duplicates(&events, &subject(), 2);
        assert!(!v.ok);
        assert_eq!(v.evidence[0], "partition 0 offset 0: 3 deliveries");
    }

    fn destination_body(offset: i64, key: Option<&str>) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        json!({
            "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:1:function:process",
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": "2026-11-27T06:00:00.000Z",
            "KafkaBatchInfo": {"batchSize": 1, "eventSourceArn": "a", "bootstrapServers": "b:9092", "payloadSize": 512,
                               "recordInfo": {"offset": offset.to_string(), "timestamp": "2018-12-17T22:10:50.987Z"}},
            "payload": {"eventSource": "SelfManagedKafka", "bootstrapServers": "b:9092", "records": {format!("{T}-0"): [
                {"topic": T, "partition": 0, "offset": offset, "timestamp": 1_545_084_650_987_i64,
                 "timestampType": "CREATE_TIME", "key": key.map(b64), "value": b64("poison"), "headers": []}]}}
        })
        .to_string()
    }

    fn destination(body: String, key: Option<&str>) -> Vec<Arc<Event>> {
        vec![ev(
            1,
            EventKind::Destination {
                topic: "dlq".into(),
                partition: 0,
                offset: 0,
                key: key.map(str::to_string),
                body,
            },
        )]
    }

    #[test]
    fn destination_records_are_checked() {
        let good = destination(destination_body(5, Some("k")), Some("k"));
        assert!(destination_format(&good, &subject()).ok);
        let wrong_key = destination(destination_body(5, Some("k")), Some("other"));
        assert!(destination_format(&wrong_key, &subject()).evidence[0].contains("key"));
        let mut json: serde_json::Value = serde_json::from_str(&destination_body(5, None)).unwrap();
        json["requestContext"]["condition"] = json!("Oops");
        let v = destination_format(&destination(json.to_string(), None), &subject());
        assert!(!v.ok);
        assert!(v.summary.starts_with("1 of 1 message(s)"), "{}", v.summary);
        assert!(v.evidence[0].contains("condition"), "{:?}", v.evidence);
        json["requestContext"]["condition"] = json!("RetryAttemptsExhausted");
        json["version"] = json!(1);
        assert!(!destination_format(&destination(json.to_string(), None), &subject()).ok);
        assert!(!destination_format(&destination("not json".into(), None), &subject()).ok);
    }

    fn lifecycle(at_ms: u64, action: LifecycleAction, pollers: u32) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::Lifecycle {
                mapping: "esm".into(),
                action,
                pollers,
            },
        )
    }

    fn offsets_deleted(at_ms: u64) -> Arc<Event> {
        ev(
            at_ms,
            EventKind::OffsetsGone {
                group: "g".into(),
                cause: crate::history::OffsetsGoneCause::Deleted,
            },
        )
    }

    fn latest() -> Subject {
        Subject {
            starting_position: StartingPosition::Latest,
            ..subject()
        }
    }

    /// Offsets 0-4 processed and committed, the mapping disabled, 5-9 produced while it was
    /// off, then `between` (a deletion or nothing), a restart at 300 ms and 10-12 produced.
    fn off_and_on(between: Vec<Arc<Event>>) -> Vec<Arc<Event>> {
        let mut events: Vec<Arc<Event>> = (0..5).map(|o| produced(20, 0, o)).collect();
        events.push(lifecycle(10, LifecycleAction::Started, 1));
        events.push(ok(1, 30, 40, &[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]));
        events.push(commit(50, 0, 5));
        events.push(lifecycle(100, LifecycleAction::Disabled, 0));
        events.extend((5..10).map(|o| produced(150, 0, o)));
        events.extend(between);
        events.push(lifecycle(300, LifecycleAction::Enabled, 1));
        events.extend((10..13).map(|o| produced(400, 0, o)));
        events
    }

    #[test]
    fn a_start_after_the_largest_offset_is_judged_without_overflow() {
        let events = history(vec![
            produced(1, 0, i64::MAX),
            lifecycle(5, LifecycleAction::Started, 1),
        ]);
        let v = start_position(&events, &latest());
        assert!(v.ok, "{v:?}");
    }

    #[test]
    fn a_latest_skip_after_the_offsets_were_deleted_is_excused() {
        let mut events = off_and_on(vec![offsets_deleted(200)]);
        events.push(commit(350, 0, 10));
        events.push(ok(2, 410, 420, &[(0, 10), (0, 11), (0, 12)]));
        events.push(commit(430, 0, 13));
        let events = history(events);
        for v in all(&events, &latest()) {
            assert!(v.ok, "{v:?}");
        }
        let v = lost(&events, &latest());
        assert!(v.summary.contains("5 skipped by"), "{}", v.summary);
        let v = start_position(&events, &latest());
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("skipped offsets 5 to 9")),
            "{v:?}"
        );
    }

    #[test]
    fn a_trim_horizon_replay_after_deletion_is_duplicates_not_loss() {
        let mut events = off_and_on(vec![offsets_deleted(200)]);
        let all_offsets: Vec<(i32, i64)> = (0..13).map(|o| (0, o)).collect();
        events.push(ok(2, 410, 420, &all_offsets));
        events.push(commit(430, 0, 13));
        let events = history(events);
        for v in all(&events, &subject()) {
            assert!(v.ok, "{v:?}");
        }
        let v = duplicates(&events, &subject(), 1);
        assert!(!v.ok);
        assert!(v.summary.starts_with("5 of 13"), "{}", v.summary);
    }

    #[test]
    fn a_latest_consumer_that_resets_to_the_earliest_after_deletion_is_flagged() {
        let mut events = off_and_on(vec![offsets_deleted(200)]);
        let all_offsets: Vec<(i32, i64)> = (0..13).map(|o| (0, o)).collect();
        events.push(ok(2, 410, 420, &all_offsets));
        events.push(commit(430, 0, 13));
        let v = start_position(&history(events), &latest());
        assert!(!v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains("began at offset 0, below the log end (at least 10)"),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn only_the_mappings_own_starts_with_pollers_count_as_starts() {
        let other = ev(
            260,
            EventKind::Lifecycle {
                mapping: "other".into(),
                action: LifecycleAction::Started,
                pollers: 1,
            },
        );
        let between = vec![
            offsets_deleted(200),
            lifecycle(250, LifecycleAction::Disabled, 0),
            other,
        ];
        let mut events = off_and_on(between);
        let all_offsets: Vec<(i32, i64)> = (0..13).map(|o| (0, o)).collect();
        events.push(ok(2, 410, 420, &all_offsets));
        let v = start_position(&history(events), &latest());
        assert!(!v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains(
                "partition 0 at the start at 300 ms (no committed offset: the group's offsets went at 200 ms)"
            ),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn a_latest_start_on_an_empty_log_notes_no_skip() {
        let mut events = vec![lifecycle(10, LifecycleAction::Started, 1)];
        events.extend((0..3).map(|o| produced(50, 0, o)));
        events.push(ok(1, 60, 70, &[(0, 0), (0, 1), (0, 2)]));
        let v = start_position(&history(events), &latest());
        assert!(v.ok, "{v:?}");
        assert!(v.evidence.is_empty(), "{:?}", v.evidence);
    }

    #[test]
    fn a_record_acknowledged_in_the_starts_millisecond_may_be_read_by_latest() {
        let events = history(vec![
            produced(10, 0, 0),
            lifecycle(10, LifecycleAction::Started, 1),
            ok(1, 20, 30, &[(0, 0)]),
        ]);
        let v = start_position(&events, &latest());
        assert!(v.ok, "{v:?}");
    }

    #[test]
    fn a_consumer_that_skips_without_any_deletion_is_flagged() {
        let mut events = off_and_on(Vec::new());
        events.push(ok(2, 410, 420, &[(0, 10), (0, 11), (0, 12)]));
        events.push(commit(430, 0, 13));
        let events = history(events);
        let v = lost(&events, &latest());
        assert!(!v.ok);
        assert!(v.summary.starts_with("5 of 13"), "{}", v.summary);
        assert!(!order(&events, &latest()).ok);
        assert!(!commit_safety(&events, &latest()).ok);
        assert!(start_position(&events, &latest()).ok, "no start to judge");
    }

    #[test]
    fn a_latest_first_start_skips_only_what_was_there() {
        let mut events: Vec<Arc<Event>> = (0..3).map(|o| produced(5, 0, o)).collect();
        events.push(lifecycle(10, LifecycleAction::Started, 1));
        events.extend((3..6).map(|o| produced(50, 0, o)));
        events.push(ok(1, 60, 70, &[(0, 4), (0, 5)]));
        let v = lost(&history(events.clone()), &latest());
        assert!(v.summary.starts_with("0 of 6"), "{}", v.summary);
        events.push(ok(2, 80, 90, &[(0, 0)]));
        events.push(ok(3, 5, 9, &[(1, 0)]));
        assert!(start_position(&history(events), &latest()).ok);
    }

    #[test]
    fn a_filter_bug_in_the_consumer_is_loss_not_filtering() {
        let mut s = subject();
        s.filters =
            vec![contract::filter::Pattern::parse(r#"{"value": [{"prefix": "v1"}]}"#).unwrap()];
        let mut events = three_produced();
        events.push(ok(1, 10, 20, &[(0, 0)]));
        let v = lost(&history(events), &s);
        assert!(
            !v.ok,
            "offset 1 (v1) passes the filter and was never invoked"
        );
        assert!(v.summary.contains("1 filtered out"), "{}", v.summary);
        assert!(v.evidence[0].contains("offset 1"), "{:?}", v.evidence);
    }

    #[test]
    fn events_are_read_from_the_body_and_name_the_field_at_fault() {
        let body = |trace: i64| {
            json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "b:9092", "records": {"orders-0": [
                {"topic": T, "partition": 0, "offset": 2, "timestamp": 1, "timestampType": "CREATE_TIME",
                 "value": "", "headers": [{"trace": [1, trace]}]}]}})
            .to_string()
        };
        let mut call = ok(1, 10, 20, &[(0, 0)]);
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut call).kind {
            inv.body = Some(body(-1));
        }
        let mut events = three_produced();
        events.push(call.clone());
        let counts = delivery_counts(&history(events), T, "process");
        assert_eq!(
            counts.keys().collect::<Vec<_>>(),
            vec![&(0, 2)],
            "the body wins"
        );
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut call).kind {
            inv.body = Some(body(200));
        }
        let v = well_formed_events(&[call], &subject());
        assert!(!v.ok);
        assert!(
            v.evidence[0].ends_with(
                r#"records["orders-0"][0].headers[0].trace[1]: 200 is not a signed byte"#
            ),
            "{:?}",
            v.evidence
        );
    }

    #[test]
    fn malformed_events_fail_their_checker() {
        let mut bad = ok(1, 10, 10, &[]);
        if let EventKind::Invocation(inv) = &mut Arc::make_mut(&mut bad).kind {
            inv.malformed = Some("bad base64".into());
        }
        let v = well_formed_events(&[bad], &subject());
        assert!(!v.ok);
        assert!(v.evidence[0].contains("refused by the mock function"));
        assert!(v.evidence[0].contains("bad base64"));
    }

    #[test]
    fn records_of_another_topic_are_not_judged() {
        let mut events = three_produced();
        events.push(ev(
            1,
            EventKind::Produced {
                topic: "payments".into(),
                partition: 0,
                offset: 7,
                key: None,
                value: None,
                timestamp_ms: 0,
            },
        ));
        events.push(ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]));
        let v = lost(&history(events), &subject());
        assert!(v.ok, "{v:?}");
        assert!(v.summary.starts_with("0 of 3"), "{}", v.summary);
    }

    #[test]
    fn a_trim_horizon_first_start_may_skip_nothing() {
        let mut events = three_produced();
        events.push(lifecycle(5, LifecycleAction::Started, 1));
        events.push(ok(1, 10, 20, &[(0, 1), (0, 2)]));
        let events = history(events);
        let v = lost(&events, &subject());
        assert!(!v.ok, "{v:?}");
        assert!(v.summary.starts_with("1 of 3"), "{}", v.summary);
        assert!(!v.summary.contains("skipped"), "{}", v.summary);
        let v = start_position(&events, &subject());
        assert!(v.ok, "{v:?}");
        assert!(v.evidence.is_empty(), "no skip to note: {v:?}");
    }

    #[test]
    fn a_latest_first_start_excuses_the_skip_on_every_partition() {
        let mut events: Vec<Arc<Event>> = (0..3)
            .flat_map(|o| [produced(5, 0, o), produced(5, 1, o)])
            .collect();
        events.push(lifecycle(10, LifecycleAction::Started, 1));
        events.push(produced(50, 0, 3));
        events.push(produced(50, 1, 3));
        events.push(ok(1, 60, 70, &[(0, 3), (1, 3)]));
        let events = history(events);
        let v = lost(&events, &latest());
        assert!(v.ok, "{v:?}");
        assert!(v.summary.contains("6 skipped by"), "{}", v.summary);
        let v = start_position(&events, &latest());
        assert!(v.summary.starts_with("0 of 2 start(s)"), "{}", v.summary);
    }

    fn produced_at(at_ms: u64, offset: i64, timestamp_ms: i64) -> Arc<Event> {
        let mut event = produced(at_ms, 0, offset);
        if let EventKind::Produced {
            timestamp_ms: t, ..
        } = &mut Arc::make_mut(&mut event).kind
        {
            *t = timestamp_ms;
        }
        event
    }

    #[test]
    fn an_at_timestamp_start_may_begin_at_the_first_record_at_the_timestamp() {
        let s = Subject {
            starting_position: StartingPosition::AtTimestamp { timestamp_ms: 200 },
            ..subject()
        };
        let mut events: Vec<Arc<Event>> = (0..4).map(|o| produced_at(5, o, 100 * o)).collect();
        events.push(lifecycle(10, LifecycleAction::Started, 1));
        events.push(ok(1, 20, 30, &[(0, 2), (0, 3)]));
        let events = history(events);
        let v = start_position(&events, &s);
        assert!(v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains("skipped offsets 0 to 1"),
            "{:?}",
            v.evidence
        );
        let v = lost(&events, &s);
        assert!(v.ok, "{v:?}");
        assert!(v.summary.contains("2 skipped by"), "{}", v.summary);
        let mut early = events.clone();
        early.retain(|e| !matches!(e.kind, EventKind::Invocation { .. }));
        early.push(ok(1, 20, 30, &[(0, 1), (0, 2), (0, 3)]));
        let v = start_position(&history(early), &s);
        assert!(!v.ok, "{v:?}");
        assert!(
            v.evidence[0].contains("began at offset 1, before offset 2"),
            "{:?}",
            v.evidence
        );
    }
}

#[cfg(test)]
mod throughput {
    use super::*;
    use crate::history::InvocationEvent;
    use base64::Engine;

    /// The body the poller sends for `records` consecutive offsets from `first`, values
    /// `v<n>` as the workload writes them.
    fn body_of(topic: &str, partition: i32, first: i64, records: i64) -> String {
        let list: Vec<String> = (first..first + records)
            .map(|offset| {
                let value = base64::engine::general_purpose::STANDARD
                    .encode(format!("v{}", offset * 4 + i64::from(partition)));
                format!(
                    r#"{{"topic":"{topic}","partition":{partition},"offset":{offset},"timestamp":1700000000000,"timestampType":"CREATE_TIME","value":"{value}","headers":[]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"eventSource":"SelfManagedKafka","bootstrapServers":"127.0.0.1:9092","records":{{"{topic}-{partition}":[{}]}}}}"#,
            list.join(",")
        )
    }

    /// Run by hand (`--release -- --ignored --nocapture`) to see the checkers' cost on a
    /// million records, every body kept as the history keeps them.
    #[test]
    #[ignore]
    fn all_checkers_on_a_million_records() {
        let topic = "orders";
        let mut events = Vec::new();
        for o in 0..1_000_000i64 {
            let partition = (o % 4) as i32;
            events.push(Arc::new(Event {
                at_ms: o as u64,
                kind: EventKind::Produced {
                    topic: topic.into(),
                    partition,
                    offset: o / 4,
                    key: None,
                    value: Some(format!("v{o}")),
                    timestamp_ms: 0,
                },
            }));
        }
        for batch in 0..10_000i64 {
            let partition = (batch % 4) as i32;
            let first = (batch / 4) * 100;
            let records = (first..first + 100)
                .map(|offset| RecordRef {
                    topic: topic.into(),
                    partition,
                    offset,
                    value: None,
                    headers: Vec::new(),
                })
                .collect();
            let start_ms = 1_000_000 + batch as u64 * 10;
            events.push(Arc::new(Event {
                at_ms: start_ms,
                kind: EventKind::Invocation(Box::new(InvocationEvent {
                    function: "process".into(),
                    id: batch as u64,
                    start_ms,
                    end_ms: start_ms + 5,
                    records,
                    outcome: InvocationOutcome::Success,
                    item_failures: Vec::new(),
                    malformed: None,
                    body: Some(body_of(topic, partition, first, 100)),
                })),
            }));
            events.push(Arc::new(Event {
                at_ms: start_ms + 6,
                kind: EventKind::Commit {
                    group: "g".into(),
                    topic: topic.into(),
                    partition,
                    offset: first + 100,
                },
            }));
        }
        let s = Subject {
            mapping: "esm".into(),
            topic: topic.into(),
            function: "process".into(),
            groups: vec!["g".into()],
            destination_topic: None,
            filters: Vec::new(),
            starting_position: StartingPosition::TrimHorizon,
        };
        let started = std::time::Instant::now();
        let invs = invocations(&events, topic, "process");
        println!("reading 10,000 bodies: {:?}", started.elapsed());
        assert!(
            invs.iter()
                .all(|i| matches!(i.reading, BodyReading::Parsed))
        );
        let started = std::time::Instant::now();
        let verdicts = all(&events, &s);
        println!("all checkers on 1M records: {:?}", started.elapsed());
        for v in verdicts {
            assert!(v.ok, "{v:?}");
        }
    }
}
