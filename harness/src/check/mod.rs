//! Checkers: pure functions from a history to a verdict with evidence (Jepsen style).
//!
//! A checker never asks the consumer what it did: it reads what was produced, what the mock
//! function received and answered, what the broker showed as committed, what landed on the
//! destination topic, and the consumer's own start-position log lines.

use crate::history::{Event, EventKind, InvocationOutcome, ItemFailure, RecordRef};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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

/// What a mapping is judged on: its source topic (broker name), function, groups, destination
/// topic (broker name) and filters.
#[derive(Debug, Clone)]
pub struct Subject {
    pub topic: String,
    pub function: String,
    pub groups: Vec<String>,
    pub destination_topic: Option<String>,
    pub filters: Vec<esm::filter::Pattern>,
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

/// An invocation of the subject's function, reduced to the subject's topic.
struct Inv<'a> {
    id: u64,
    start_ms: u64,
    end_ms: u64,
    outcome: InvocationOutcome,
    malformed: bool,
    records: Vec<&'a RecordRef>,
    item_failures: &'a [ItemFailure],
}

impl Inv<'_> {
    /// Whether the function really ran on these records (a throttle or a refused event did not).
    fn reached_function(&self) -> bool {
        !self.malformed && self.outcome != InvocationOutcome::Throttled
    }
}

fn invocations<'a>(events: &'a [Event], topic: &str, function: &str) -> Vec<Inv<'a>> {
    let mut out: Vec<Inv<'a>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Invocation {
                function: f,
                id,
                start_ms,
                end_ms,
                records,
                outcome,
                item_failures,
                malformed,
            } if f == function => Some(Inv {
                id: *id,
                start_ms: *start_ms,
                end_ms: *end_ms,
                outcome: *outcome,
                malformed: malformed.is_some(),
                records: records.iter().filter(|r| r.topic == topic).collect(),
                item_failures,
            }),
            _ => None,
        })
        .filter(|i| !i.records.is_empty() || i.malformed)
        .collect();
    out.sort_by_key(|i| (i.start_ms, i.id));
    out
}

/// The records of an invocation the function finished: all on success, those below their
/// partition's lowest failed offset on a partial failure (none if a failure names no record).
fn succeeded<'a>(inv: &Inv<'a>, topic: &str) -> Vec<&'a RecordRef> {
    match inv.outcome {
        _ if inv.malformed => Vec::new(),
        InvocationOutcome::Success => inv.records.clone(),
        InvocationOutcome::PartialFailure => {
            let mut lowest: HashMap<&str, i64> = HashMap::new();
            for f in inv.item_failures {
                let entry = lowest.entry(f.partition_key.as_str()).or_insert(f.offset);
                *entry = (*entry).min(f.offset);
            }
            let names_a_record = inv.item_failures.iter().all(|f| {
                inv.records.iter().any(|r| {
                    r.offset == f.offset && f.partition_key == format!("{topic}-{}", r.partition)
                })
            });
            if !names_a_record {
                return Vec::new();
            }
            inv.records
                .iter()
                .copied()
                .filter(
                    |r| match lowest.get(format!("{topic}-{}", r.partition).as_str()) {
                        Some(&low) => r.offset < low,
                        None => true,
                    },
                )
                .collect()
        }
        InvocationOutcome::FunctionError | InvocationOutcome::Throttled => Vec::new(),
    }
}

struct Produced<'a> {
    at_ms: u64,
    value: Option<&'a str>,
}

fn produced<'a>(events: &'a [Event], topic: &str) -> BTreeMap<Key, Produced<'a>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Produced {
                topic: t,
                partition,
                offset,
                value,
                ..
            } if t == topic => Some((
                (*partition, *offset),
                Produced {
                    at_ms: e.at_ms,
                    value: value.as_deref(),
                },
            )),
            _ => None,
        })
        .collect()
}

/// Records of `topic` found in destination messages on `destination`.
fn on_destination(events: &[Event], topic: &str, destination: Option<&str>) -> BTreeSet<Key> {
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
fn retention(events: &[Event], topic: &str) -> HashMap<i32, i64> {
    let mut out: HashMap<i32, i64> = HashMap::new();
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

fn log_field<'a>(line: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    line.get(name)
        .or_else(|| line.get("fields").and_then(|f| f.get(name)))
}

/// The highest start offset per partition that a LATEST or AT_TIMESTAMP start-position decision
/// chose: records below it were skipped by that decision, not lost.
///
/// Offsets alone prove the record existed when the decision was made (offsets are assigned on
/// append), whereas the Produced stamp is taken at the acknowledgement and may trail the line.
fn start_skips(events: &[Event], topic: &str) -> HashMap<i32, i64> {
    let mut out: HashMap<i32, i64> = HashMap::new();
    for e in events {
        let EventKind::ConsumerLog { line, .. } = &e.kind else {
            continue;
        };
        if log_field(line, "event").and_then(|v| v.as_str()) != Some("start_position")
            || log_field(line, "topic").and_then(|v| v.as_str()) != Some(topic)
        {
            continue;
        }
        let decision = log_field(line, "decision")
            .map(|d| {
                d.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| d.to_string())
            })
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !(decision.contains("LATEST") || decision.contains("TIMESTAMP")) {
            continue;
        }
        let as_i64 = |v: &serde_json::Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        };
        let partition = log_field(line, "partition")
            .and_then(as_i64)
            .and_then(|p| i32::try_from(p).ok());
        let offset = log_field(line, "offset").and_then(as_i64);
        if let (Some(p), Some(o)) = (partition, offset) {
            let entry = out.entry(p).or_insert(o);
            *entry = (*entry).max(o);
        }
    }
    out
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
    succeeded_ms: HashMap<Key, u64>,
    destination: BTreeSet<Key>,
    retention: HashMap<i32, i64>,
    start_skips: HashMap<i32, i64>,
    filtered: HashSet<Key>,
}

impl<'a> Facts<'a> {
    fn new(events: &'a [Event], s: &Subject) -> Facts<'a> {
        let produced = produced(events, &s.topic);
        let invocations = invocations(events, &s.topic, &s.function);
        let mut succeeded_ms: HashMap<Key, u64> = HashMap::new();
        for inv in &invocations {
            for r in succeeded(inv, &s.topic) {
                let entry = succeeded_ms
                    .entry((r.partition, r.offset))
                    .or_insert(inv.end_ms);
                *entry = (*entry).min(inv.end_ms);
            }
        }
        let filtered = if s.filters.is_empty() {
            HashSet::new()
        } else {
            produced
                .iter()
                .filter(|(_, p)| !esm::filter::passes(&s.filters, p.value.map(str::as_bytes)))
                .map(|(k, _)| *k)
                .collect()
        };
        Facts {
            produced,
            destination: on_destination(events, &s.topic, s.destination_topic.as_deref()),
            retention: retention(events, &s.topic),
            start_skips: start_skips(events, &s.topic),
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
        } else if self.start_skips.get(&p).is_some_and(|&start| o < start) {
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
            if inv
                .records
                .iter()
                .any(|r| r.partition == p && r.offset == o)
            {
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
pub fn lost(events: &[Event], s: &Subject) -> Verdict {
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
pub fn delivery_counts(events: &[Event], topic: &str, function: &str) -> BTreeMap<Key, u32> {
    let mut counts: BTreeMap<Key, u32> = BTreeMap::new();
    for inv in invocations(events, topic, function)
        .iter()
        .filter(|i| i.reached_function())
    {
        for r in &inv.records {
            *counts.entry((r.partition, r.offset)).or_default() += 1;
        }
    }
    counts
}

/// Per produced record of the subject: when it was done (finished by the function, or at 0 when
/// filtered, on the destination, deleted by retention or skipped by the start position).
pub fn done_offsets(events: &[Event], s: &Subject) -> BTreeMap<Key, u64> {
    let facts = Facts::new(events, s);
    facts
        .produced
        .keys()
        .filter_map(|&k| facts.done_ms(k).map(|t| (k, t)))
        .collect()
}

/// No record reached the function more than `max_deliveries` times.
pub fn duplicates(events: &[Event], s: &Subject, max_deliveries: u32) -> Verdict {
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
pub fn order(events: &[Event], s: &Subject) -> Verdict {
    order_of(&Facts::new(events, s), s)
}

fn order_of(facts: &Facts, s: &Subject) -> Verdict {
    let offsets = facts.offsets_by_partition();
    let mut seen: HashSet<Key> = HashSet::new();
    let mut skipped: HashSet<Key> = HashSet::new();
    let mut frontier: HashMap<i32, usize> = HashMap::new();
    let (mut descents, mut skips) = (0usize, 0usize);
    let mut evidence = Vec::new();
    for inv in &facts.invocations {
        let mut last: HashMap<i32, i64> = HashMap::new();
        let mut here: HashSet<Key> = HashSet::new();
        let mut local = frontier.clone();
        for r in &inv.records {
            let (p, o) = (r.partition, r.offset);
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

fn commits<'a>(events: &'a [Event], s: &Subject) -> Vec<(u64, &'a str, i32, i64)> {
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
pub fn commit_safety(events: &[Event], s: &Subject) -> Verdict {
    commit_safety_of(&Facts::new(events, s), events, s)
}

fn commit_safety_of(facts: &Facts, events: &[Event], s: &Subject) -> Verdict {
    let offsets = facts.offsets_by_partition();
    // Per partition: done times and their running maximum, so each commit is one lookup.
    let mut done: HashMap<i32, (Vec<u64>, Vec<u64>)> = HashMap::new();
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
    let mut last: HashMap<(&str, i32), i64> = HashMap::new();
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
fn kill_times(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Lifecycle { action, .. } if action.to_ascii_lowercase().contains("kill") => {
                Some(e.at_ms)
            }
            _ => None,
        })
        .collect()
}

/// At most one invocation per partition in flight: no two calls carrying records of the same
/// partition overlap in `[start_ms, end_ms)`, unless a poller was killed in between (noted).
pub fn single_in_flight(events: &[Event], s: &Subject) -> Verdict {
    let invs = invocations(events, &s.topic, &s.function);
    let kills = kill_times(events);
    let mut by_partition: BTreeMap<i32, Vec<&Inv>> = BTreeMap::new();
    for inv in &invs {
        let partitions: BTreeSet<i32> = inv.records.iter().map(|r| r.partition).collect();
        for p in partitions {
            by_partition.entry(p).or_default().push(inv);
        }
    }
    let (mut overlaps, mut excused) = (0usize, 0usize);
    let mut evidence = Vec::new();
    let mut notes = Vec::new();
    for (p, list) in &by_partition {
        // `list` is in start order; `open` is the call ending last so far.
        let mut open: Option<&Inv> = None;
        for inv in list {
            if let Some(a) = open
                && inv.start_ms < a.end_ms
            {
                let pair = format!(
                    "partition {p}: invocation #{} [{}, {}) ms overlaps #{} [{}, {}) ms",
                    a.id, a.start_ms, a.end_ms, inv.id, inv.start_ms, inv.end_ms
                );
                if kills.iter().any(|&k| a.start_ms <= k && k <= inv.start_ms) {
                    excused += 1;
                    push_evidence(&mut notes, || {
                        format!("note: {pair}, after a poller was killed")
                    });
                } else {
                    overlaps += 1;
                    push_evidence(&mut evidence, || pair);
                }
            }
            if open.is_none_or(|a| inv.end_ms > a.end_ms) {
                open = Some(inv);
            }
        }
    }
    let summary = format!(
        "{overlaps} overlapping pair(s) of invocations on one partition of {}; {excused} across a poller kill",
        s.topic
    );
    evidence.extend(notes);
    verdict("single_in_flight", overlaps == 0, summary, evidence)
}

const CONDITIONS: [&str; 3] = [
    "RetryAttemptsExhausted",
    "RecordAgeExceeded",
    "MaximumPayloadSizeExceeded",
];

/// Checks one destination message against ESM-SPEC section 5; the error names the field.
pub fn check_destination_body(
    body: &str,
    key: Option<&str>,
    source_topic: &str,
) -> Result<(), String> {
    use serde_json::Value;
    let json: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let field = |path: &str| json.pointer(path).filter(|v| !v.is_null());
    let string = |path: &str| {
        field(path)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{path} is not a string"))
    };
    let condition = string("/requestContext/condition")?;
    if !CONDITIONS.contains(&condition) {
        return Err(format!(
            "/requestContext/condition is {condition:?}; allowed: {CONDITIONS:?}"
        ));
    }
    string("/requestContext/requestId")?;
    string("/requestContext/functionArn")?;
    // A record too large to send was never invoked, so its count may be 0.
    let min_invokes = if condition == "MaximumPayloadSizeExceeded" {
        0
    } else {
        1
    };
    match field("/requestContext/approximateInvokeCount").and_then(Value::as_u64) {
        Some(n) if n >= min_invokes => {}
        _ => {
            return Err(format!(
                "/requestContext/approximateInvokeCount must be a number >= {min_invokes}"
            ));
        }
    }
    let response = json.get("responseContext");
    match (condition, response) {
        ("MaximumPayloadSizeExceeded", Some(Value::Null) | None) => {}
        ("MaximumPayloadSizeExceeded", _) => {
            return Err("/responseContext must be null for MaximumPayloadSizeExceeded".into());
        }
        (_, Some(Value::Object(_))) => {}
        _ => {
            return Err(format!(
                "/responseContext must be an object for {condition}"
            ));
        }
    }
    if string("/version")? != "1.0" {
        return Err("/version must be \"1.0\"".into());
    }
    let timestamp = string("/timestamp")?;
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .map_err(|e| format!("/timestamp {timestamp:?} is not RFC 3339: {e}"))?;
    for path in ["/KafkaBatchInfo/batchSize", "/KafkaBatchInfo/payloadSize"] {
        field(path)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{path} is not a number"))?;
    }
    let info_offset = string("/KafkaBatchInfo/recordInfo/offset")?;
    let info_timestamp = string("/KafkaBatchInfo/recordInfo/timestamp")?;
    info_timestamp.parse::<i64>().map_err(|_| {
        format!("/KafkaBatchInfo/recordInfo/timestamp {info_timestamp:?} is not epoch milliseconds")
    })?;
    let payload = field("/payload").ok_or("/payload is missing")?;
    let event = crate::lambda::parse_event(payload.to_string().as_bytes())
        .map_err(|e| format!("/payload: {e}"))?;
    let [record] = event.records.as_slice() else {
        return Err(format!(
            "/payload holds {} records; exactly one expected",
            event.records.len()
        ));
    };
    if record.topic != source_topic {
        return Err(format!(
            "/payload record is from topic {:?}, not the source {source_topic:?}",
            record.topic
        ));
    }
    if info_offset != record.offset.to_string() {
        return Err(format!(
            "/KafkaBatchInfo/recordInfo/offset {info_offset:?} is not the record's offset {}",
            record.offset
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
pub fn destination_format(events: &[Event], s: &Subject) -> Verdict {
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

/// Every event the function got was well formed (ESM-SPEC section 2).
pub fn well_formed_events(events: &[Event], s: &Subject) -> Verdict {
    let mut total = 0usize;
    let mut evidence = Vec::new();
    let mut bad = 0usize;
    for e in events {
        if let EventKind::Invocation {
            function,
            id,
            start_ms,
            malformed,
            ..
        } = &e.kind
            && *function == s.function
        {
            total += 1;
            if let Some(why) = malformed {
                bad += 1;
                push_evidence(&mut evidence, || {
                    format!("invocation #{id} at {start_ms} ms: {why}")
                });
            }
        }
    }
    let summary = format!("{bad} of {total} event(s) sent to {} malformed", s.function);
    verdict("well_formed_events", bad == 0, summary, evidence)
}

/// The "every guarantee holds" set: nothing lost, order, commit safety, one call in flight per
/// partition, well-formed destination records and events. Duplicates are allowed (at least once).
pub fn all(events: &[Event], s: &Subject) -> Vec<Verdict> {
    let facts = Facts::new(events, s);
    vec![
        lost_of(&facts, s),
        order_of(&facts, s),
        commit_safety_of(&facts, events, s),
        single_in_flight(events, s),
        destination_format(events, s),
        well_formed_events(events, s),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    const T: &str = "orders";

    fn subject() -> Subject {
        Subject {
            topic: T.into(),
            function: "process".into(),
            groups: vec!["g".into()],
            destination_topic: Some("dlq".into()),
            filters: Vec::new(),
        }
    }

    fn ev(at_ms: u64, kind: EventKind) -> Event {
        Event { at_ms, kind }
    }

    fn produced(at_ms: u64, partition: i32, offset: i64) -> Event {
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
    ) -> Event {
        ev(
            start_ms,
            EventKind::Invocation {
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
                    })
                    .collect(),
                outcome,
                item_failures: Vec::new(),
                malformed: None,
            },
        )
    }

    fn ok(id: u64, start_ms: u64, end_ms: u64, recs: &[(i32, i64)]) -> Event {
        invocation(id, start_ms, end_ms, recs, InvocationOutcome::Success)
    }

    fn commit(at_ms: u64, partition: i32, offset: i64) -> Event {
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

    fn three_produced() -> Vec<Event> {
        (0..3).map(|o| produced(1, 0, o)).collect()
    }

    fn history(mut events: Vec<Event>) -> Vec<Event> {
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
    fn partial_failure_finishes_records_below_the_lowest_failure() {
        let mut events = three_produced();
        let mut partial = invocation(
            1,
            10,
            20,
            &[(0, 0), (0, 1), (0, 2)],
            InvocationOutcome::PartialFailure,
        );
        if let EventKind::Invocation { item_failures, .. } = &mut partial.kind {
            item_failures.push(ItemFailure {
                partition_key: format!("{T}-0"),
                offset: 1,
            });
        }
        events.push(partial);
        let v = lost(&history(events.clone()), &subject());
        assert!(v.summary.starts_with("2 of 3"), "{}", v.summary);
        events.push(ok(2, 30, 40, &[(0, 1), (0, 2)]));
        assert!(lost(&history(events), &subject()).ok);
    }

    #[test]
    fn retention_destination_and_start_position_are_not_loss() {
        let mut events: Vec<Event> = (0..6).map(|o| produced(1, 0, o)).collect();
        events.push(ev(
            5,
            EventKind::RetentionDeleted {
                topic: T.into(),
                partition: 0,
                log_start_offset: 2,
            },
        ));
        let line = json!({"fields": {"event": "start_position", "topic": T, "partition": 0, "decision": "LATEST", "offset": 4}});
        events.push(ev(
            6,
            EventKind::ConsumerLog {
                mapping: "esm".into(),
                line,
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
        events.push(ok(1, 10, 20, &[(0, 4)]));
        let events = history(events);
        let v = lost(&events, &subject());
        assert!(v.ok, "{v:?}");
        assert!(
            v.summary.contains("2 deleted by retention"),
            "{}",
            v.summary
        );
        assert!(v.summary.contains("2 skipped by a LATEST"), "{}", v.summary);
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
            v.evidence[0].contains("before offset 1"),
            "{:?}",
            v.evidence
        );
        let mut redelivered = three_produced();
        redelivered.push(ok(1, 10, 20, &[(0, 0), (0, 1), (0, 2)]));
        redelivered.push(ok(2, 30, 40, &[(0, 1), (0, 2)]));
        assert!(order(&history(redelivered), &subject()).ok);
        let mut descending = three_produced();
        descending.push(ok(1, 10, 20, &[(0, 1), (0, 0)]));
        assert!(!order(&history(descending), &subject()).ok);
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
        let v = commit_safety(&history(later), &subject());
        assert!(v.ok, "{v:?}");
        assert!(v.summary.contains("1 went backwards"), "{}", v.summary);
        let mut never = three_produced();
        never.push(commit(30, 0, 3));
        assert!(commit_safety(&history(never), &subject()).evidence[0].contains("never"));
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
                action: "killed".into(),
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
            "KafkaBatchInfo": {"batchSize": 1, "eventSourceArn": "a", "bootstrapServers": "b", "payloadSize": 512,
                               "recordInfo": {"offset": offset.to_string(), "timestamp": "1545084650987"}},
            "payload": {"eventSource": "SelfManagedKafka", "bootstrapServers": "b", "records": {format!("{T}-0"): [
                {"topic": T, "partition": 0, "offset": offset, "timestamp": 1_545_084_650_987_i64,
                 "timestampType": "CREATE_TIME", "key": key.map(b64), "value": b64("poison"), "headers": []}]}}
        })
        .to_string()
    }

    fn destination(body: String, key: Option<&str>) -> Vec<Event> {
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
        assert!(v.evidence[0].contains("condition"), "{:?}", v.evidence);
        json["requestContext"]["condition"] = json!("RetryAttemptsExhausted");
        json["version"] = json!(1);
        assert!(!destination_format(&destination(json.to_string(), None), &subject()).ok);
        assert!(!destination_format(&destination("not json".into(), None), &subject()).ok);
    }

    #[test]
    fn malformed_events_fail_their_checker() {
        let mut bad = ok(1, 10, 10, &[]);
        if let EventKind::Invocation { malformed, .. } = &mut bad.kind {
            *malformed = Some("bad base64".into());
        }
        let v = well_formed_events(&[bad], &subject());
        assert!(!v.ok);
        assert!(v.evidence[0].contains("bad base64"));
    }
}

#[cfg(test)]
mod throughput {
    use super::*;

    /// Run by hand (`--ignored --nocapture`) to see the checkers' cost on a million records.
    #[test]
    #[ignore]
    fn all_checkers_on_a_million_records() {
        let topic = "orders";
        let mut events = Vec::new();
        for o in 0..1_000_000i64 {
            let partition = (o % 4) as i32;
            events.push(Event {
                at_ms: o as u64,
                kind: EventKind::Produced {
                    topic: topic.into(),
                    partition,
                    offset: o / 4,
                    key: None,
                    value: Some(format!("v{o}")),
                    timestamp_ms: 0,
                },
            });
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
                })
                .collect();
            let start_ms = 1_000_000 + batch as u64 * 10;
            events.push(Event {
                at_ms: start_ms,
                kind: EventKind::Invocation {
                    function: "process".into(),
                    id: batch as u64,
                    start_ms,
                    end_ms: start_ms + 5,
                    records,
                    outcome: InvocationOutcome::Success,
                    item_failures: Vec::new(),
                    malformed: None,
                },
            });
            events.push(Event {
                at_ms: start_ms + 6,
                kind: EventKind::Commit {
                    group: "g".into(),
                    topic: topic.into(),
                    partition,
                    offset: first + 100,
                },
            });
        }
        let s = Subject {
            topic: topic.into(),
            function: "process".into(),
            groups: vec!["g".into()],
            destination_topic: None,
            filters: Vec::new(),
        };
        let started = std::time::Instant::now();
        let verdicts = all(&events, &s);
        println!("all checkers on 1M records: {:?}", started.elapsed());
        for v in verdicts {
            assert!(v.ok, "{v:?}");
        }
    }
}
