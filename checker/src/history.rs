//! One time-ordered log of everything that happened in a scenario.
//!
//! Producers of events (the workload, the mock function, the commit observer, the nemesis, the
//! poller log reader) append; checkers and the report read a snapshot. Topic names are the
//! broker's (unique) names; the report maps them back to scenario-local names.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Upper bound on events kept per scenario; a soak run that passes it is a bug in the run itself.
pub const EVENTS_MAX: usize = 5_000_000;
/// Bytes of invocation bodies kept per scenario; later bodies are left out (the checkers then
/// say how many events they could not read themselves).
pub const BODIES_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Distinct topic names shared by [`History::name`]; past it a name gets an allocation of its
/// own (a faulty consumer may name any number of topics).
pub const NAMES_MAX: usize = 10_000;

/// A record as seen by the function or the destination: where it came from and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// Shared by every event naming the topic: see [`History::name`].
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Decoded value, lossily as UTF-8; `None` for a null value.
    pub value: Option<String>,
    /// Headers as the event lists them: a name and its bytes (Java's signed bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, Vec<i8>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvocationOutcome {
    /// 200 without X-Amz-Function-Error, and no item failures.
    Success,
    /// 200 with ReportBatchItemFailures naming some records: the named records failed, every
    /// other record of the batch succeeded.
    PartialFailure,
    /// 200 with X-Amz-Function-Error, or a 5xx.
    FunctionError,
    /// 429.
    Throttled,
    /// A Lambda service error: a 5xx without a function error body. The batch never reached
    /// the function.
    ServiceError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// `"<topic>-<partition>"` as the function wrote it.
    pub partition_key: String,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A record the workload wrote, as acknowledged by the broker.
    Produced {
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        key: Option<String>,
        value: Option<String>,
        timestamp_ms: i64,
    },
    /// One call of a function. Boxed: it is the largest kind, and a soak's history holds
    /// millions of the small ones (produced records), each as large as the largest kind.
    Invocation(Box<InvocationEvent>),
    /// A committed offset of a group, observed on the broker (it changed since the last look).
    Commit {
        group: String,
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// A record found on an on-failure destination topic.
    Destination {
        topic: String,
        partition: i32,
        offset: i64,
        key: Option<String>,
        /// The destination message as written (JSON text, or raw text if it is not JSON).
        body: String,
    },
    /// A fault window began or ended; the two events of one window share the fault's id.
    Fault {
        #[serde(flatten)]
        fault: Fault,
        phase: FaultPhase,
    },
    /// The weighted table random faults draw from, and the seed of the draw: a failing run
    /// shows the schedule it ran.
    FaultSchedule {
        mapping: String,
        seed: u64,
        weights: Vec<(FaultKind, u32)>,
    },
    /// A lifecycle step of a mapping; `pollers` is how many run after it.
    Lifecycle {
        mapping: String,
        action: LifecycleAction,
        pollers: u32,
    },
    /// A structured line the consumer logged (start-position decision, offset lag, rebalance),
    /// kept as JSON.
    ConsumerLog {
        mapping: String,
        line: serde_json::Value,
    },
    /// A group's committed offsets are gone from the broker: deleted through the admin API or
    /// expired by `offsets.retention.minutes`. The next start applies StartingPosition.
    OffsetsGone {
        group: String,
        cause: OffsetsGoneCause,
    },
    /// The broker's log start offset moved past records: they were deleted by retention.
    RetentionDeleted {
        topic: String,
        partition: i32,
        log_start_offset: i64,
    },
    /// A change in one execution environment of a real function (the `runtime` module).
    Environment {
        function: String,
        environment: u32,
        change: EnvironmentChange,
    },
}

/// One invocation as the history holds it, borrowed from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Invoked<'a> {
    pub function: &'a str,
    pub id: u64,
    pub start_ms: u64,
    pub end_ms: u64,
    pub records: &'a [RecordRef],
    pub outcome: InvocationOutcome,
    pub malformed: Option<&'a str>,
}

/// One call of the mock function, recorded when its response was decided. `start_ms` and
/// `end_ms` are on the history's clock; `end_ms` includes any scripted delay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationEvent {
    pub function: String,
    pub id: u64,
    pub start_ms: u64,
    pub end_ms: u64,
    pub records: Vec<RecordRef>,
    pub outcome: InvocationOutcome,
    pub item_failures: Vec<ItemFailure>,
    /// The event did not parse as aws_lambda_events' KafkaEvent: why.
    pub malformed: Option<String>,
    /// The request body as received, for checkers to parse with their own model; `None`
    /// once the history's [`BODIES_BYTES_MAX`] budget is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The invocations among `events`, in their order: the history is the one store of
/// invocations, for assertions and checkers alike.
pub fn invocations(events: &[Arc<Event>]) -> impl Iterator<Item = Invoked<'_>> {
    events.iter().filter_map(|e| match &e.kind {
        EventKind::Invocation(inv) => Some(Invoked {
            function: &inv.function,
            id: inv.id,
            start_ms: inv.start_ms,
            end_ms: inv.end_ms,
            records: &inv.records,
            outcome: inv.outcome,
            malformed: inv.malformed.as_deref(),
        }),
        _ => None,
    })
}

/// What happened to an execution environment of a real function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum EnvironmentChange {
    /// Init finished: the runtime asked for its first invocation `init_ms` after it started.
    Ready { init_ms: u64 },
    /// It served `invocation`; `cold` when that invocation waited for the environment's init.
    Invoked { invocation: u64, cold: bool },
    /// `invocation` passed the function timeout; the environment was killed.
    TimedOut { invocation: u64 },
    /// The process exited, during `invocation` or while idle.
    Exited {
        invocation: Option<u64>,
        status: String,
    },
    /// The runtime never became ready: `init/error`, an exit before asking for work, or silence.
    InitFailed { why: String },
}

/// What the harness did to a mapping's pollers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    Started,
    Disabled,
    Enabled,
    Scaled,
    /// SIGKILL of every poller.
    Killed,
    /// SIGKILL of one poller.
    PollerKilled,
    StoppedForRestart,
    Restarted,
    RestartedAfterPollerKill,
}

impl LifecycleAction {
    /// A poller died without leaving the group: its call may run on in the function.
    pub fn kills(self) -> bool {
        matches!(
            self,
            LifecycleAction::Killed | LifecycleAction::PollerKilled
        )
    }
}

impl std::fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = match self {
            LifecycleAction::Started => "started",
            LifecycleAction::Disabled => "disabled",
            LifecycleAction::Enabled => "enabled",
            LifecycleAction::Scaled => "scaled",
            LifecycleAction::Killed => "killed",
            LifecycleAction::PollerKilled => "poller killed",
            LifecycleAction::StoppedForRestart => "stopped for restart",
            LifecycleAction::Restarted => "restarted",
            LifecycleAction::RestartedAfterPollerKill => "restarted after a poller kill",
        };
        f.write_str(words)
    }
}

/// What a fault does. Windows are told apart by this, their target and their id, never by text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGKILL of one poller.
    PollerKill,
    /// SIGKILL of every poller of a mapping.
    MappingKill,
    /// SIGSTOP of every poller, SIGCONT when the window ends.
    Freeze,
    /// The mapping disabled, then enabled again.
    Disable,
    /// The mapping's pollers scaled to another count.
    Rescale,
    /// Every execution environment of a real function killed at once.
    FunctionCrash,
    /// Every broker node stopped gracefully and started again.
    BrokerRestart,
    /// One broker node SIGKILLed; the window ends when the node is started again.
    BrokerKill,
    /// The pollers' connections to the broker dropped and refused.
    NetworkCut,
    /// The pollers' traffic to and from the broker delayed.
    NetworkSlow,
    /// A group's committed offsets deleted through the admin API.
    OffsetsDeleted,
    /// The wait for the broker to expire a group's committed offsets.
    OffsetsExpiring,
}

/// What a fault acts on, by scenario-local name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    Mapping(String),
    Function(String),
    /// Every node of the scenario's broker.
    Broker,
    BrokerNode(u8),
    Group(String),
}

/// One fault: the id pairs its window's begin and end events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub id: u64,
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// The latency a slowed network adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultPhase {
    Began,
    Ended,
}

impl std::fmt::Display for FaultTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultTarget::Mapping(name) | FaultTarget::Function(name) => f.write_str(name),
            FaultTarget::Broker => f.write_str("the broker"),
            FaultTarget::BrokerNode(node) => write!(f, "broker {node}"),
            FaultTarget::Group(group) => write!(f, "group {group}"),
        }
    }
}

impl std::fmt::Display for Fault {
    /// The label of the fault's window in the report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = &self.target;
        match self.kind {
            FaultKind::PollerKill => write!(f, "kill a poller of {target}"),
            FaultKind::MappingKill => write!(f, "kill {target}"),
            FaultKind::Freeze => write!(f, "freeze {target}"),
            FaultKind::Disable => write!(f, "disable {target}"),
            FaultKind::Rescale => write!(f, "rescale {target}"),
            FaultKind::FunctionCrash => write!(f, "crash {target}"),
            FaultKind::BrokerRestart => write!(f, "restart {target}"),
            FaultKind::BrokerKill => write!(f, "{target} down"),
            FaultKind::NetworkCut => write!(f, "network cut {target}"),
            FaultKind::NetworkSlow => match self.latency_ms {
                Some(latency_ms) => write!(f, "network slowed {target} by {latency_ms} ms"),
                None => write!(f, "network slowed {target}"),
            },
            FaultKind::OffsetsDeleted => write!(f, "offsets of {target} deleted"),
            FaultKind::OffsetsExpiring => write!(f, "offsets of {target} expiring"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetsGoneCause {
    Deleted,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the history began.
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A cheap, cloneable handle to one scenario's history.
#[derive(Clone)]
pub struct History {
    began: Instant,
    /// Each event is shared: a snapshot copies pointers, not the events (a soak's history
    /// holds millions, and checkers and waiters take snapshots while it grows).
    events: Arc<Mutex<Vec<Arc<Event>>>>,
    body_bytes: Arc<AtomicUsize>,
    names: Arc<Mutex<BTreeSet<Arc<str>>>>,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    pub fn new() -> Self {
        History {
            began: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
            body_bytes: Arc::new(AtomicUsize::new(0)),
            names: Arc::default(),
        }
    }

    /// Builds a history from events already made (tests, replays of a history.jsonl).
    pub fn from_events(events: Vec<Event>) -> Self {
        let mut events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
        events.sort_by_key(|e| e.at_ms);
        History {
            events: Arc::new(Mutex::new(events)),
            ..History::new()
        }
    }

    /// Milliseconds since the history began: the clock every event uses.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.began.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant the clock counts from, to turn other instants into `at_ms` values.
    pub fn began(&self) -> Instant {
        self.began
    }

    pub fn ms_of(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.began).as_millis()).unwrap_or(u64::MAX)
    }

    /// `text` as a shared name: a soak's history names its topic in millions of produced
    /// records and invoked records, and each would otherwise hold a copy.
    pub fn name(&self, text: &str) -> Arc<str> {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = names.get(text) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(text);
        if names.len() < NAMES_MAX {
            names.insert(name.clone());
        }
        name
    }

    /// The body to keep in an invocation event: the text while the history's
    /// [`BODIES_BYTES_MAX`] budget lasts, `None` after. A body that is not UTF-8 (so not JSON)
    /// is kept as a note saying so, which no JSON parser accepts.
    pub fn keep_body(&self, body: &[u8]) -> Option<String> {
        let before = self.body_bytes.fetch_add(body.len(), Ordering::Relaxed);
        if before + body.len() > BODIES_BYTES_MAX {
            return None;
        }
        Some(match std::str::from_utf8(body) {
            Ok(text) => text.to_string(),
            Err(e) => format!("<the body is not UTF-8: {e}>"),
        })
    }

    /// Appends an event stamped now.
    pub fn record(&self, kind: EventKind) {
        let at_ms = self.now_ms();
        self.record_at(at_ms, kind);
    }

    /// The events, also after a writer panicked: the only panic while the lock is held is the
    /// [`EVENTS_MAX`] assertion, before a push, so the events are whole; and a fault window
    /// closing while a panic unwinds must still record its end.
    fn events(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Event>>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an event stamped `at_ms` (an invocation is stamped with its start).
    pub fn record_at(&self, at_ms: u64, kind: EventKind) {
        let mut events = self.events();
        assert!(
            events.len() < EVENTS_MAX,
            "history passed {EVENTS_MAX} events: the scenario's workload is unbounded"
        );
        events.push(Arc::new(Event { at_ms, kind }));
    }

    /// All events, ordered by time (stable for equal stamps).
    pub fn snapshot(&self) -> Vec<Arc<Event>> {
        let mut events = self.events().clone();
        events.sort_by_key(|e| e.at_ms);
        events
    }

    /// The events appended since position `cursor` (in append order, not sorted), and the
    /// position after them: a waiter that keeps the cursor copies each event once, not the
    /// whole history every poll.
    pub fn since(&self, cursor: usize) -> (Vec<Arc<Event>>, usize) {
        let events = self.events.lock().expect("history lock poisoned");
        let from = cursor.min(events.len());
        (events[from..].to_vec(), events.len())
    }

    pub fn len(&self) -> usize {
        self.events().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the history as JSON lines, one event a line, in time order.
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for event in self.snapshot() {
            serde_json::to_writer(&mut out, &*event)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Reads a history written by [`History::write_jsonl`] from a file.
    pub fn read_jsonl(path: &Path) -> Result<History, HistoryReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| HistoryReadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_jsonl(&text)
    }

    /// Reads a history written by [`History::write_jsonl`]: one event a line, blank lines
    /// skipped; the first bad line is named by its number (from 1).
    pub fn from_jsonl(text: &str) -> Result<History, HistoryReadError> {
        let mut events = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line_number = index + 1;
            if events.len() == EVENTS_MAX {
                return Err(HistoryReadError::TooLong { line: line_number });
            }
            let event = serde_json::from_str(line).map_err(|e| bad_line(line_number, &e))?;
            events.push(event);
        }
        Ok(History::from_events(events))
    }
}

/// Why a history.jsonl could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("history line {line}, column {column}: {fault}")]
    BadLine {
        line: usize,
        column: usize,
        fault: String,
    },
    #[error("history line {line}: more than {EVENTS_MAX} events")]
    TooLong { line: usize },
}

fn bad_line(line: usize, e: &serde_json::Error) -> HistoryReadError {
    // serde_json ends its text with a position inside the line, which is always line 1 here.
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    HistoryReadError::BadLine {
        line,
        column: e.column(),
        fault: text.strip_suffix(&position).unwrap_or(&text).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_time_ordered_and_jsonl_round_trips() {
        let history = History::new();
        history.record_at(
            20,
            EventKind::Commit {
                group: "g".into(),
                topic: "t".into(),
                partition: 0,
                offset: 3,
            },
        );
        history.record_at(
            10,
            EventKind::Fault {
                fault: Fault {
                    id: 1,
                    kind: FaultKind::NetworkSlow,
                    target: FaultTarget::Mapping("esm".into()),
                    latency_ms: Some(300),
                },
                phase: FaultPhase::Began,
            },
        );
        let events = history.snapshot();
        assert_eq!(events[0].at_ms, 10);
        assert_eq!(events[1].at_ms, 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        history.write_jsonl(&path).unwrap();
        assert_eq!(History::read_jsonl(&path).unwrap().snapshot(), events);
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let readable = serde_json::json!({
            "at_ms": 10, "type": "fault", "id": 1, "kind": "network_slow",
            "target": {"mapping": "esm"}, "latency_ms": 300, "phase": "began"
        });
        assert_eq!(first, readable);
    }

    #[test]
    fn a_history_is_empty_until_its_first_event_and_counts_from_its_start() {
        let history = History::new();
        assert!(history.is_empty());
        assert_eq!(history.ms_of(history.began()), 0);
        let later = history.began() + std::time::Duration::from_millis(1_500);
        assert_eq!(history.ms_of(later), 1_500);
        history.record_at(5, commit_at(5, 1).kind);
        assert!(!history.is_empty());
        assert_eq!(history.len(), 1);
    }

    #[test]
    fn names_are_shared_up_to_their_limit() {
        let history = History::new();
        assert!(Arc::ptr_eq(
            &history.name("orders"),
            &history.name("orders")
        ));
        for i in 1..NAMES_MAX {
            history.name(&format!("topic-{i}"));
        }
        let (a, b) = (history.name("one-too-many"), history.name("one-too-many"));
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(&a, &b), "a name past the limit was kept");
    }

    #[test]
    fn only_invocations_are_listed_as_invocations() {
        let invocation = InvocationEvent {
            function: "process".into(),
            id: 7,
            start_ms: 10,
            end_ms: 20,
            records: Vec::new(),
            outcome: InvocationOutcome::Success,
            item_failures: Vec::new(),
            malformed: None,
            body: None,
        };
        let events = shared(vec![
            commit_at(5, 1),
            Event {
                at_ms: 10,
                kind: EventKind::Invocation(Box::new(invocation)),
            },
        ]);
        let listed: Vec<_> = invocations(&events).map(|i| (i.function, i.id)).collect();
        assert_eq!(listed, [("process", 7)]);
    }

    #[test]
    fn only_kills_leave_a_call_running_and_faults_read_as_labels() {
        use LifecycleAction::*;
        let killing: Vec<_> = [Started, Disabled, Enabled, Scaled, Killed, PollerKilled]
            .into_iter()
            .filter(|a| a.kills())
            .collect();
        assert_eq!(killing, [Killed, PollerKilled]);
        let fault = |kind, target| Fault {
            id: 1,
            kind,
            target,
            latency_ms: None,
        };
        assert_eq!(
            fault(FaultKind::Freeze, FaultTarget::Mapping("esm".into())).to_string(),
            "freeze esm"
        );
        assert_eq!(FaultTarget::BrokerNode(2).to_string(), "broker 2");
        assert_eq!(FaultTarget::Broker.to_string(), "the broker");
    }

    fn shared(events: Vec<Event>) -> Vec<Arc<Event>> {
        events.into_iter().map(Arc::new).collect()
    }

    fn commit_at(at_ms: u64, offset: i64) -> Event {
        Event {
            at_ms,
            kind: EventKind::Commit {
                group: "g".into(),
                topic: "t".into(),
                partition: 0,
                offset,
            },
        }
    }

    #[test]
    fn every_kind_of_event_round_trips_through_jsonl_text() {
        let history = History::new();
        let kinds = [
            EventKind::Invocation(Box::new(InvocationEvent {
                function: "process".into(),
                id: 1,
                start_ms: 5,
                end_ms: 9,
                records: vec![RecordRef {
                    topic: "t".into(),
                    partition: 0,
                    offset: 2,
                    value: None,
                    headers: vec![("trace".into(), vec![-61, -87])],
                }],
                outcome: InvocationOutcome::PartialFailure,
                item_failures: vec![ItemFailure {
                    partition_key: "t-0".into(),
                    offset: 2,
                }],
                malformed: None,
                body: Some("{}".into()),
            })),
            EventKind::ConsumerLog {
                mapping: "esm".into(),
                line: serde_json::json!({"msg": "lag", "n": [1, 2]}),
            },
            EventKind::Environment {
                function: "process".into(),
                environment: 1,
                change: EnvironmentChange::Exited {
                    invocation: None,
                    status: "signal: killed".into(),
                },
            },
        ];
        for (at_ms, kind) in (0..).zip(kinds) {
            history.record_at(at_ms, kind);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        history.write_jsonl(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let read = History::from_jsonl(&format!("\n{text}\n  \n")).unwrap();
        assert_eq!(read.snapshot(), history.snapshot());
    }

    fn read_error(text: &str) -> String {
        match History::from_jsonl(text) {
            Ok(_) => panic!("{text:?} was read as a history"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_history_from_events_holds_them_in_time_order() {
        let history = History::from_events(vec![commit_at(30, 2), commit_at(10, 1)]);
        assert_eq!(history.len(), 2);
        assert_eq!(
            history.snapshot(),
            shared(vec![commit_at(10, 1), commit_at(30, 2)])
        );
    }

    #[test]
    fn bodies_are_kept_until_the_budget_is_spent() {
        let history = History::new();
        let megabyte = vec![b'x'; 1024 * 1024];
        assert_eq!(
            history.keep_body(&megabyte).map(|b| b.len()),
            Some(megabyte.len())
        );
        assert_eq!(history.keep_body(b"{}").as_deref(), Some("{}"));
        history
            .body_bytes
            .store(BODIES_BYTES_MAX - 3, Ordering::Relaxed);
        assert_eq!(history.keep_body(b"abc").as_deref(), Some("abc"));
        assert_eq!(history.keep_body(b"d"), None);
        assert_eq!(BODIES_BYTES_MAX, 256 << 20);
    }

    #[test]
    fn the_clock_counts_from_the_history_start() {
        let history = History::new();
        std::thread::sleep(std::time::Duration::from_millis(20));
        history.record(commit_at(0, 1).kind);
        let stamped = history.snapshot()[0].at_ms;
        assert!(stamped >= 20, "stamped {stamped} ms");
        assert!(history.now_ms() >= stamped);
    }

    #[test]
    fn since_returns_each_appended_event_once_with_the_next_cursor() {
        let history = History::new();
        history.record_at(30, commit_at(0, 1).kind);
        history.record_at(10, commit_at(0, 2).kind);
        let (first, cursor) = history.since(0);
        assert_eq!(
            first,
            shared(vec![commit_at(30, 1), commit_at(10, 2)]),
            "append order"
        );
        assert_eq!(cursor, 2);
        history.record_at(20, commit_at(0, 3).kind);
        assert_eq!(history.since(cursor), (shared(vec![commit_at(20, 3)]), 3));
        assert_eq!(history.since(9), (Vec::new(), 3));
    }

    #[test]
    fn a_bad_line_is_named_by_its_number_and_fault() {
        let good = r#"{"at_ms":1,"type":"fault","id":1,"kind":"freeze","target":{"mapping":"esm"},"phase":"began"}"#;
        let text = format!("{good}\n\n{good}\n{{\"at_ms\":2,\"type\":\"nap\"}}\n{good}\n");
        assert_eq!(
            read_error(&text),
            "history line 4, column 24: unknown variant `nap`, expected one of `produced`, \
             `invocation`, `commit`, `destination`, `fault`, `fault_schedule`, `lifecycle`, `consumer_log`, \
             `offsets_gone`, `retention_deleted`, `environment`"
        );
        let error = read_error("{\"at_ms\":-1}");
        assert!(error.starts_with("history line 1, column "), "{error}");
        let missing = History::read_jsonl(Path::new("no-such-dir/history.jsonl"));
        assert!(matches!(missing, Err(HistoryReadError::Io { .. })));
    }
}
