//! The consumer: one process is one member of the mapping's consumer group.
//!
//! Design: a single poll thread owns the rdkafka `BaseConsumer` (so rebalance callbacks run on
//! it and may block), reads records in batches from the fetch queue its partitions are
//! forwarded to ([`crate::fetch`]), converts them and hands them to the poller's dispatcher
//! ([`crate::worker`]) on a tokio runtime, which cuts batches over the partitions and settles
//! each in a task of its own ([`crate::settle`]). Those publish the offset up to which each
//! partition is done; the poll thread commits those positions (async while running, sync on
//! revoke and shutdown), pauses partitions whose buffer is full, and reports the offset lag.
//!
//! - `partition.assignment.strategy=cooperative-sticky` (classic group protocol): scaling pollers
//!   up or down only revokes the partitions that move, so the others keep flowing.
//! - On revoke the revoked partitions are stopped (no new invocation carries them), the batch in
//!   flight holding them is awaited (bounded by the function timeout), their successes committed
//!   synchronously, and only then is the partition released: no partition is invoked by two
//!   pollers at once.
//! - On assign the start offset is chosen explicitly (committed offset, else StartingPosition;
//!   a committed offset outside the log also falls back, and the skipped range is logged).

use crate::config::{MappingConfig, StartingPosition};
use crate::event::{EventContext, KafkaRecord, envelope_len};
use crate::fetch::{self, FetchQueue};
use crate::invoke::{Invoker, InvokerError};
use crate::rebootstrap::Rebootstrap;
use crate::worker::{Dispatcher, Input, PartitionState, Shared, record_mem_bytes};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tracing::{info, warn};

/// Largest destination message: a failure record holds its (possibly 6 MB+) record in base64.
const DESTINATION_MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// How soon a grown topic's new partitions are seen.
const METADATA_REFRESH_MS: u64 = 5_000;
/// Broker queries made while (re)assigning partitions.
const QUERY_TIMEOUT_MS: u64 = 5_000;
/// How often commits and lag are looked at (backpressure is, after every drain).
const TICK_MS: u64 = 100;
/// How often the poll thread looks for a client left with no broker (see [`crate::rebootstrap`]).
const REBOOTSTRAP_CHECK_MS: u64 = 2_000;
/// An unchanged offset lag is reported again after this long (a change is reported at once):
/// a line a tick while idle would bury the log.
const LAG_IDLE_REPORT_MS: u64 = 10_000;
/// Poll timeout while a partition is paused: how soon a drained buffer gets records again.
const PAUSED_POLL_MS: u64 = 5;
/// How long the poll thread waits for records while idle: the consumer queue (rebalances,
/// commit results) is served between waits, so this bounds how late a rebalance is seen.
const FETCH_WAIT_MS: u64 = 20;
/// Records drained from the consumer without blocking before they go to the dispatcher.
const DRAIN_MAX_RECORDS: usize = 2_000;
/// A partition is paused once a full batch plus this many records wait, so the next batch is
/// ready when an invocation ends; resumed below half of the limit.
const BUFFER_MARGIN_RECORDS: usize = 2_048;
/// Twice the 6 MB payload limit: room for the next batch (in memory bytes) and part of another.
const BUFFER_MAX_BYTES: usize = 12 * 1024 * 1024;
/// librdkafka's own prefetch queue (all partitions together), kept small so memory stays bounded.
const PREFETCH_QUEUE_KBYTES: usize = 4 * 1024;
/// How long librdkafka postpones a partition's next fetch while its prefetch queue is full. Its
/// default (1 s) stalls delivery: the queue drains in milliseconds here.
const FETCH_QUEUE_BACKOFF_MS: u64 = 10;
/// Extra time, beyond the function timeout, a revoke waits for in-flight invocations.
const REVOKE_MARGIN_MS: u64 = 2_000;
/// A dead poller's partitions move after this (the broker's floor is 6 s).
const SESSION_TIMEOUT_MS: u64 = 10_000;
const HEARTBEAT_INTERVAL_MS: u64 = 2_000;

/// Everything a poller needs besides the mapping itself.
#[derive(Debug, Clone)]
pub struct PollerOptions {
    pub config: MappingConfig,
    /// The Invoke API endpoint, e.g. `http://127.0.0.1:9001`.
    pub endpoint: String,
    /// Comma-separated host:port list actually used.
    pub bootstrap_servers: String,
    pub group_id: String,
    /// 1 to 840,000.
    pub function_timeout_ms: u64,
    /// For logs and the Kafka client id.
    pub poller_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error("{what}: {source}")]
    Kafka {
        what: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error(transparent)]
    Invoker(#[from] InvokerError),
    #[error("cannot set up the fetch queue: {0}")]
    Fetch(#[source] fetch::FetchError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Where a partition starts and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartChoice {
    pub offset: i64,
    /// "committed", "starting_position" or "out_of_range".
    pub decision: &'static str,
    /// For "out_of_range": the committed offset that could not be used.
    pub skipped_from: Option<i64>,
}

/// A valid committed offset (low <= c <= high) wins; otherwise `fallback` (the
/// StartingPosition's offset) applies, remembering an out-of-range committed offset.
pub fn decide_start(
    committed: Option<i64>,
    low: i64,
    high: i64,
    fallback: impl FnOnce() -> i64,
) -> StartChoice {
    match committed {
        Some(c) if (low..=high).contains(&c) => StartChoice {
            offset: c,
            decision: "committed",
            skipped_from: None,
        },
        Some(c) => StartChoice {
            offset: fallback(),
            decision: "out_of_range",
            skipped_from: Some(c),
        },
        None => StartChoice {
            offset: fallback(),
            decision: "starting_position",
            skipped_from: None,
        },
    }
}

/// Per-partition lag (`high - done`, never negative) and its total; partitions with an unknown
/// position or end are left out.
pub fn offset_lag(topic: &str, positions: &[(i32, i64, i64)]) -> (i64, BTreeMap<String, i64>) {
    let mut map = BTreeMap::new();
    for &(partition, done, high) in positions {
        if done >= 0 && high >= 0 {
            map.insert(format!("{topic}-{partition}"), (high - done).max(0));
        }
    }
    (map.values().sum(), map)
}

/// The offset to commit for a partition, if it moved past what was committed.
pub fn commit_due(done: i64, committed: i64) -> Option<i64> {
    (done >= 0 && done > committed).then_some(done)
}

/// Whether to pause (`Some(true)`) or resume (`Some(false)`) a partition.
pub fn backpressure(
    paused: bool,
    records: usize,
    bytes: usize,
    max_records: usize,
) -> Option<bool> {
    let over = records >= max_records || bytes >= BUFFER_MAX_BYTES;
    let under = records <= max_records / 2 && bytes <= BUFFER_MAX_BYTES / 2;
    match (paused, over, under) {
        (false, true, _) => Some(true),
        (true, _, true) => Some(false),
        _ => None,
    }
}

struct Owned {
    state: Arc<PartitionState>,
    committed: i64,
    paused: bool,
    high: i64,
}

struct EsmContext {
    shared: Arc<Shared>,
    rt: tokio::runtime::Handle,
    /// To the dispatcher; dropped with the consumer, which ends it.
    input: UnboundedSender<Input>,
    topic: String,
    revoke_wait: Duration,
    owned: Mutex<BTreeMap<i32, Owned>>,
    ever_assigned: AtomicBool,
    /// Where assigned partitions' records go (see [`crate::fetch`]); taken out before the
    /// consumer is dropped, as librdkafka wants its queues destroyed first.
    fetch: Mutex<Option<Arc<FetchQueue>>>,
    /// The consumer's and the destination producer's way back from librdkafka#5301.
    consumer_rebootstrap: Rebootstrap,
    destination_rebootstrap: Rebootstrap,
}

impl ClientContext for EsmContext {}

impl ConsumerContext for EsmContext {
    fn rebalance(&self, c: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(c.rebalance_protocol(), RebalanceProtocol::Cooperative);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assign(c, tpl);
                self.route(c, tpl);
                let assigned = if cooperative {
                    c.incremental_assign(tpl)
                } else {
                    c.assign(tpl)
                };
                if let Err(e) = assigned {
                    warn!(event = "rebalance_error", error = %e, "cannot assign partitions");
                }
            }
            _ => {
                if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                    warn!(event = "rebalance_error", error = ?err, "rebalance failed; releasing partitions");
                }
                self.revoke(c, tpl);
                let released = if cooperative {
                    c.incremental_unassign(tpl)
                } else {
                    c.unassign()
                };
                if let Err(e) = released {
                    warn!(event = "rebalance_error", error = %e, "cannot release partitions");
                }
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        // A commit can fail as a whole or per partition (e.g. a stale generation mid-rebalance).
        let whole = result.is_err();
        let failed: Vec<(i32, i64, String)> = offsets
            .elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| {
                let why = match (&result, e.error()) {
                    (_, Err(pe)) => pe.to_string(),
                    (Err(we), Ok(())) => we.to_string(),
                    (Ok(()), Ok(())) => return None,
                };
                match e.offset() {
                    Offset::Offset(o) => Some((e.partition(), o, why)),
                    _ => None,
                }
            })
            .collect();
        if whole || !failed.is_empty() {
            warn!(event = "commit_error", error = ?result.err(), failed = ?failed, "commit failed; the next commit retries it");
            self.forget_failed_commits(&failed, whole && failed.is_empty());
        }
    }
}

impl EsmContext {
    /// An async commit counted as done failed (e.g. during a rebalance): lower what is
    /// remembered as committed, so the next tick commits these partitions again.
    /// `all`: the failure named no partition, so every partition commits again.
    fn forget_failed_commits(&self, failed: &[(i32, i64, String)], all: bool) {
        // Callbacks run inside `poll`, never while `owned` is held; `try_lock` keeps it so.
        let Ok(mut owned) = self.owned.try_lock() else {
            return;
        };
        if all {
            owned.values_mut().for_each(|o| o.committed = -1);
        }
        for (p, offset, _) in failed {
            if let Some(o) = owned.get_mut(p) {
                o.committed = o.committed.min(offset - 1);
            }
        }
    }

    fn partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect()
    }

    fn assign(&self, c: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let partitions = self.partitions(tpl);
        info!(event = "rebalance", kind = "assign", partitions = ?partitions);
        let committed = self.committed(c, tpl);
        let mut owned = self.owned.lock().expect("owned lock poisoned");
        // Async commits queued during the rebalance fail with a stale generation, without a
        // commit callback: commit the kept partitions' positions again in the new generation.
        owned.values_mut().for_each(|o| o.committed = -1);
        for p in partitions {
            let (low, high) = c
                .fetch_watermarks(&self.topic, p, Duration::from_millis(QUERY_TIMEOUT_MS))
                .unwrap_or((-1, -1));
            let choice = if low < 0 {
                // The broker did not answer: let librdkafka apply committed / auto.offset.reset.
                StartChoice {
                    offset: -1,
                    decision: "broker_default",
                    skipped_from: None,
                }
            } else {
                let committed_p = committed.get(&p).copied();
                #[cfg(feature = "defects")]
                let committed_p = committed_p
                    .filter(|_| !crate::defects::active(crate::defects::Defect::IgnoreCommitted));
                decide_start(committed_p, low, high, || {
                    self.fallback_offset(c, p, low, high)
                })
            };
            #[cfg(feature = "defects")]
            let choice = match choice.decision {
                "out_of_range"
                    if crate::defects::active(crate::defects::Defect::ResetToEarliest) =>
                {
                    StartChoice {
                        offset: low,
                        ..choice
                    }
                }
                _ => choice,
            };
            info!(
                event = "start_position",
                topic = %self.topic,
                partition = p,
                decision = choice.decision,
                offset = choice.offset,
                skipped_from = choice.skipped_from,
                skipped_to = choice.skipped_from.map(|_| choice.offset),
                low,
                high,
            );
            if choice.offset >= 0 {
                let _ = tpl.set_partition_offset(&self.topic, p, Offset::Offset(choice.offset));
            }
            owned.insert(
                p,
                self.hold(p, choice.offset, committed.get(&p).copied(), high),
            );
        }
        self.ever_assigned.store(true, Ordering::SeqCst);
    }

    /// Before `assign`: the new partitions' records go to the fetch queue. A partition that
    /// cannot be routed still works, slower, through the consumer queue.
    fn route(&self, c: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let fetch = self.fetch.lock().expect("fetch lock poisoned");
        let Some(fetch) = fetch.as_ref() else {
            return;
        };
        for p in self.partitions(tpl) {
            if let Err(e) = fetch.route(c.client(), p) {
                warn!(event = "route_error", error = %e, "records of this partition come through the consumer queue");
            }
        }
    }

    fn committed(&self, c: &BaseConsumer<Self>, tpl: &TopicPartitionList) -> HashMap<i32, i64> {
        let mut query = TopicPartitionList::new();
        for p in self.partitions(tpl) {
            query.add_partition(&self.topic, p);
        }
        match c.committed_offsets(query, Duration::from_millis(QUERY_TIMEOUT_MS)) {
            Ok(list) => list
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some((e.partition(), o)),
                    _ => None,
                })
                .collect(),
            Err(e) => {
                warn!(event = "committed_error", error = %e, "cannot read committed offsets; using StartingPosition");
                HashMap::new()
            }
        }
    }

    /// The StartingPosition's offset for one partition.
    fn fallback_offset(&self, c: &BaseConsumer<Self>, p: i32, low: i64, high: i64) -> i64 {
        match self.shared.config.starting_position {
            StartingPosition::TrimHorizon => low,
            StartingPosition::Latest => high,
            StartingPosition::AtTimestamp { timestamp_s } => {
                let mut query = TopicPartitionList::new();
                let _ =
                    query.add_partition_offset(&self.topic, p, Offset::Offset(timestamp_s * 1000));
                let found = c
                    .offsets_for_times(query, Duration::from_millis(QUERY_TIMEOUT_MS))
                    .ok()
                    .and_then(|l| l.find_partition(&self.topic, p).map(|e| e.offset()));
                match found {
                    Some(Offset::Offset(o)) if o >= 0 => o,
                    _ => high,
                }
            }
        }
    }

    /// Hands a newly assigned partition to the dispatcher.
    fn hold(&self, p: i32, start: i64, committed: Option<i64>, high: i64) -> Owned {
        let state = Arc::new(PartitionState::new(start));
        let _ = self.input.send(Input::Assign {
            partition: p,
            state: state.clone(),
        });
        Owned {
            state,
            committed: committed.unwrap_or(-1),
            paused: false,
            high,
        }
    }

    fn revoke(&self, c: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = self.partitions(tpl);
        let lost = c.assignment_lost();
        info!(event = "rebalance", kind = "revoke", partitions = ?partitions, lost);
        let removed: Vec<(i32, Owned)> = {
            let mut owned = self.owned.lock().expect("owned lock poisoned");
            partitions
                .iter()
                .filter_map(|p| owned.remove(p).map(|o| (*p, o)))
                .collect()
        };
        self.finish(c, removed, !lost);
    }

    /// Stops partitions, waits (bounded) for the batches in flight holding them, commits
    /// synchronously.
    fn finish(&self, c: &BaseConsumer<Self>, mut removed: Vec<(i32, Owned)>, commit: bool) {
        for (p, o) in &removed {
            o.state.stop();
            let _ = self.input.send(Input::Revoke { partition: *p });
        }
        let idle = removed.iter().map(|(_, o)| o.state.wait_idle());
        let wait = self.revoke_wait;
        let waited = self.rt.block_on(async move {
            tokio::time::timeout(wait, futures::future::join_all(idle)).await
        });
        if waited.is_err() {
            warn!(
                event = "abandoned",
                "in-flight invocations did not finish within the function timeout; their records stay uncommitted"
            );
        }
        if commit {
            self.commit(
                c,
                removed.iter_mut().map(|(p, o)| (*p, o)),
                CommitMode::Sync,
            );
        }
    }

    fn commit<'a>(
        &self,
        c: &BaseConsumer<Self>,
        owned: impl Iterator<Item = (i32, &'a mut Owned)>,
        mode: CommitMode,
    ) {
        let mut tpl = TopicPartitionList::new();
        let mut moved = Vec::new();
        for (p, o) in owned {
            if let Some(offset) = commit_due(o.state.done.load(Ordering::SeqCst), o.committed) {
                let _ = tpl.add_partition_offset(&self.topic, p, Offset::Offset(offset));
                moved.push((p, offset, o));
            }
        }
        if moved.is_empty() {
            return;
        }
        match c.commit(&tpl, mode) {
            Ok(()) => {
                for (p, offset, o) in moved {
                    o.committed = offset;
                    info!(event = "commit", topic = %self.topic, partition = p, offset, sync = matches!(mode, CommitMode::Sync));
                }
            }
            Err(e) => {
                warn!(event = "commit_error", error = %e, "commit failed; the next commit retries it")
            }
        }
    }
}

/// Runs one poller until SIGTERM/SIGINT; the consumer leaves its group cleanly.
pub fn run(opts: PollerOptions) -> Result<(), PollerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("esm-worker")
        .build()
        .map_err(PollerError::Runtime)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    rt.spawn(watch_signals(shutdown.clone()));
    let consumer = build_consumer(&opts, rt.handle().clone())?;
    let fetch = Arc::new(
        FetchQueue::new(consumer.client(), &opts.config.topic).map_err(PollerError::Fetch)?,
    );
    *consumer
        .context()
        .fetch
        .lock()
        .expect("fetch lock poisoned") = Some(fetch.clone());
    consumer
        .subscribe(&[&opts.config.topic])
        .map_err(|source| PollerError::Kafka {
            what: "cannot subscribe",
            source,
        })?;
    info!(event = "started", poller = %opts.poller_id, group = %opts.group_id, topic = %opts.config.topic);
    poll_loop(&consumer, &fetch, &shutdown, &opts.config.topic);
    drop(fetch);
    info!(event = "stopping", poller = %opts.poller_id);
    let ctx = consumer.context().clone();
    let all: Vec<(i32, Owned)> =
        std::mem::take(&mut *ctx.owned.lock().expect("owned lock poisoned"))
            .into_iter()
            .collect();
    #[cfg(not(feature = "defects"))]
    let commit_on_stop = true;
    #[cfg(feature = "defects")]
    let commit_on_stop = !crate::defects::active(crate::defects::Defect::NoCommitOnStop);
    ctx.finish(&consumer, all, commit_on_stop);
    drop(ctx.fetch.lock().expect("fetch lock poisoned").take());
    drop(consumer); // closes: leaves the group
    info!(event = "stopped", poller = %opts.poller_id);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn build_consumer(
    opts: &PollerOptions,
    rt: tokio::runtime::Handle,
) -> Result<BaseConsumer<EsmContext>, PollerError> {
    let config = &opts.config;
    let invoker = Invoker::new(
        &opts.endpoint,
        &config.function_name,
        opts.function_timeout_ms,
    )?;
    let producer = match &config.destination_topic {
        Some(_) => Some(
            ClientConfig::new()
                .set("bootstrap.servers", &opts.bootstrap_servers)
                .set("acks", "all")
                .set("enable.idempotence", "true")
                .set("client.id", format!("esm-destination-{}", opts.poller_id))
                // A failure record carries its record: past 6 MB for MaximumPayloadSizeExceeded.
                .set(
                    "message.max.bytes",
                    DESTINATION_MESSAGE_BYTES_MAX.to_string(),
                )
                .create::<FutureProducer>()
                .map_err(|source| PollerError::Kafka {
                    what: "cannot create the destination producer",
                    source,
                })?,
        ),
        None => None,
    };
    let ctx = EventContext {
        event_source: config.event_source().to_string(),
        event_source_arn: config.event_source_arn.clone(),
        bootstrap_servers: opts.bootstrap_servers.clone(),
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        envelope_len: envelope_len(&ctx),
        ctx,
        invoker,
        producer,
        function_arn: function_arn(&config.function_name),
    });
    let rebootstrap = || {
        Rebootstrap::new(
            &opts.bootstrap_servers,
            Duration::from_millis(REBOOTSTRAP_CHECK_MS),
        )
        .map_err(|source| PollerError::Kafka {
            what: "cannot use the bootstrap servers",
            source,
        })
    };
    let (consumer_rebootstrap, destination_rebootstrap) = (rebootstrap()?, rebootstrap()?);
    let (input, dispatcher_input) = unbounded_channel();
    rt.spawn(Dispatcher::new(shared.clone(), dispatcher_input).run());
    let context = EsmContext {
        shared,
        rt,
        input,
        topic: config.topic.clone(),
        revoke_wait: Duration::from_millis(opts.function_timeout_ms + REVOKE_MARGIN_MS),
        owned: Mutex::new(BTreeMap::new()),
        ever_assigned: AtomicBool::new(false),
        fetch: Mutex::new(None),
        consumer_rebootstrap,
        destination_rebootstrap,
    };
    let reset = match config.starting_position {
        StartingPosition::TrimHorizon => "earliest",
        _ => "latest",
    };
    let mut client = ClientConfig::new();
    // librdkafka's own debug contexts (e.g. "cgrp,protocol"), logged at debug level.
    if let Ok(contexts) = std::env::var("ESM_KAFKA_DEBUG") {
        client.set("debug", contexts);
    }
    client
        .set("bootstrap.servers", &opts.bootstrap_servers)
        .set("group.id", &opts.group_id)
        .set("client.id", format!("esm-poller-{}", opts.poller_id))
        .set("group.protocol", "classic")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", reset)
        .set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string())
        .set("heartbeat.interval.ms", HEARTBEAT_INTERVAL_MS.to_string())
        .set(
            "max.poll.interval.ms",
            (opts.function_timeout_ms + 60_000).to_string(),
        )
        .set(
            "queued.max.messages.kbytes",
            PREFETCH_QUEUE_KBYTES.to_string(),
        )
        .set("fetch.wait.max.ms", "100")
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS.to_string())
        // New partitions of the topic are picked up within seconds, as the ESM does.
        .set(
            "topic.metadata.refresh.interval.ms",
            METADATA_REFRESH_MS.to_string(),
        )
        .set("enable.partition.eof", "false")
        .create_with_context(context)
        .map_err(|source| PollerError::Kafka {
            what: "cannot create the consumer",
            source,
        })
}

/// A function name as an ARN for destination records (names get a local placeholder ARN).
fn function_arn(name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else {
        format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
    }
}

async fn watch_signals(shutdown: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        warn!(event = "signal_error", "cannot listen for SIGTERM/SIGINT");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!(event = "signal", signal = "SIGTERM"),
        _ = int.recv() => info!(event = "signal", signal = "SIGINT"),
    }
    shutdown.store(true, Ordering::SeqCst);
}

struct LoopState {
    pending: Pending,
    last_tick: Instant,
    last_lag_report: Option<(Instant, i64, String)>,
    last_poll_error: Option<Instant>,
}

fn poll_loop(
    consumer: &BaseConsumer<EsmContext>,
    fetch: &FetchQueue,
    shutdown: &AtomicBool,
    topic: &str,
) {
    let topic: Arc<str> = topic.into();
    let mut st = LoopState {
        pending: Pending::default(),
        last_tick: Instant::now(),
        last_lag_report: None,
        last_poll_error: None,
    };
    let mut any_paused = false;
    while !shutdown.load(Ordering::SeqCst) {
        let mut got = serve_consumer_queue(consumer, &topic, &mut st);
        // A paused partition resumes when its buffer drains, which no record wakes us up for;
        // a rebalance waits for the next turn, so the wait is short either way.
        let mut timeout = Duration::from_millis(if any_paused {
            PAUSED_POLL_MS
        } else {
            FETCH_WAIT_MS
        });
        while got < DRAIN_MAX_RECORDS {
            let taken = fetch.read(timeout, |record| match record {
                Ok(r) => st.pending.push(r.partition, r),
                Err(e) => st.note_poll_error(&e),
            });
            got += taken;
            if taken < fetch::READ_MAX_RECORDS {
                break; // drained
            }
            timeout = Duration::ZERO;
        }
        dispatch(consumer.context(), &mut st.pending);
        any_paused = apply_backpressure(consumer);
        // By time only: under load a drain fills every few milliseconds, and a commit request
        // and a lag line per drain cost the poller and the broker more than the records did.
        if st.last_tick.elapsed() >= Duration::from_millis(TICK_MS) {
            tick(consumer, &mut st);
        }
    }
}

/// Serves rebalances, commit results and client errors without waiting; returns how many
/// records came this way (only those of a partition not routed to the fetch queue).
fn serve_consumer_queue(
    consumer: &BaseConsumer<EsmContext>,
    topic: &Arc<str>,
    st: &mut LoopState,
) -> usize {
    let mut got = 0;
    while got < DRAIN_MAX_RECORDS {
        match consumer.poll(Duration::ZERO) {
            Some(Ok(m)) => {
                match fetch::record_of(&m, topic) {
                    Ok(r) => st.pending.push(r.partition, r),
                    Err(e) => st.note_poll_error(&e),
                }
                got += 1;
            }
            Some(Err(e)) => {
                st.note_poll_error(&e);
                break;
            }
            None => break,
        }
    }
    got
}

impl LoopState {
    /// At most one line a second: a broker outage repeats the same error for every partition.
    fn note_poll_error(&mut self, e: &KafkaError) {
        let quiet = self
            .last_poll_error
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if !quiet {
            warn!(event = "consumer_error", error = %e, "Kafka consumer error");
            self.last_poll_error = Some(Instant::now());
        }
    }
}

/// Records polled since the last dispatch, per partition. A fetch brings runs of one
/// partition, so the list of the previous record is tried first; no hashing per record.
#[derive(Default)]
struct Pending {
    lists: Vec<(i32, Vec<KafkaRecord>)>,
    last: usize,
}

impl Pending {
    fn push(&mut self, partition: i32, record: KafkaRecord) {
        if self
            .lists
            .get(self.last)
            .is_none_or(|(p, _)| *p != partition)
        {
            self.last = match self.lists.iter().position(|(p, _)| *p == partition) {
                Some(i) => i,
                None => {
                    self.lists.push((partition, Vec::new()));
                    self.lists.len() - 1
                }
            };
        }
        self.lists[self.last].1.push(record);
    }

    fn is_empty(&self) -> bool {
        self.lists.iter().all(|(_, records)| records.is_empty())
    }
}

/// Hands polled records to the dispatcher; records of partitions no longer owned are dropped
/// (the new owner reads them from the committed offset).
fn dispatch(ctx: &EsmContext, pending: &mut Pending) {
    if pending.is_empty() {
        return;
    }
    let owned = ctx.owned.lock().expect("owned lock poisoned");
    for (p, records) in &mut pending.lists {
        if records.is_empty() {
            continue;
        }
        let records = std::mem::take(records);
        if let Some(o) = owned.get(p) {
            let bytes: usize = records.iter().map(record_mem_bytes).sum();
            o.state
                .buffered_records
                .fetch_add(records.len(), Ordering::Relaxed);
            o.state.buffered_bytes.fetch_add(bytes, Ordering::Relaxed);
            let count = records.len();
            let sent = ctx.input.send(Input::Records {
                partition: *p,
                records,
            });
            if sent.is_err() {
                o.state.buffered_records.fetch_sub(count, Ordering::Relaxed);
                o.state.buffered_bytes.fetch_sub(bytes, Ordering::Relaxed);
            }
        }
    }
}

fn tick(consumer: &BaseConsumer<EsmContext>, st: &mut LoopState) {
    st.last_tick = Instant::now();
    let ctx = consumer.context();
    ctx.consumer_rebootstrap.check(consumer.client());
    if let Some(producer) = &ctx.shared.producer {
        ctx.destination_rebootstrap.check(producer.client());
    }
    let mut owned = ctx.owned.lock().expect("owned lock poisoned");
    ctx.commit(
        consumer,
        owned.iter_mut().map(|(p, o)| (*p, o)),
        CommitMode::Async,
    );
    let mut positions = Vec::with_capacity(owned.len());
    for (p, o) in owned.iter_mut() {
        if let Some(high) = cached_high_watermark(consumer, &ctx.topic, *p) {
            o.high = o.high.max(high);
        }
        positions.push((*p, o.state.done.load(Ordering::SeqCst), o.high));
    }
    drop(owned);
    if ctx.ever_assigned.load(Ordering::SeqCst) {
        report_lag(&ctx.topic, &positions, st);
    }
}

/// Pauses partitions with enough buffered and resumes drained ones; run after every drain so a
/// partition cut into a batch gets records again without waiting for a tick.
/// Returns whether any partition stays paused.
fn apply_backpressure(consumer: &BaseConsumer<EsmContext>) -> bool {
    let ctx = consumer.context();
    let max_records = ctx.shared.config.batch_size + BUFFER_MARGIN_RECORDS;
    let mut owned = ctx.owned.lock().expect("owned lock poisoned");
    for (p, o) in owned.iter_mut() {
        let records = o.state.buffered_records.load(Ordering::Relaxed);
        let bytes = o.state.buffered_bytes.load(Ordering::Relaxed);
        let Some(pause) = backpressure(o.paused, records, bytes, max_records) else {
            continue;
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&ctx.topic, *p);
        let done = if pause {
            consumer.pause(&tpl)
        } else {
            consumer.resume(&tpl)
        };
        match done {
            Ok(()) => o.paused = pause,
            Err(e) => {
                warn!(event = "backpressure_error", partition = *p, error = %e, "cannot pause/resume")
            }
        }
    }
    owned.values().any(|o| o.paused)
}

fn report_lag(topic: &str, positions: &[(i32, i64, i64)], st: &mut LoopState) {
    let (total, map) = offset_lag(topic, positions);
    let text = serde_json::to_string(&map).unwrap_or_default();
    let last = st
        .last_lag_report
        .as_ref()
        .map(|(at, t, s)| (at.elapsed(), *t, s.as_str()));
    if lag_report_due(last, total, &text) {
        info!(event = "offset_lag", total, partitions = %text);
        st.last_lag_report = Some((Instant::now(), total, text));
    }
}

/// A lag line is due when there was none, when the lag changed, or when the last one is
/// [`LAG_IDLE_REPORT_MS`] old. `last` is (time since it, its total, its partitions text).
fn lag_report_due(last: Option<(Duration, i64, &str)>, total: i64, partitions: &str) -> bool {
    match last {
        None => true,
        Some((since, t, p)) => {
            since >= Duration::from_millis(LAG_IDLE_REPORT_MS) || t != total || p != partitions
        }
    }
}

/// The high watermark librdkafka last saw in a fetch response (no broker round trip).
fn cached_high_watermark(
    consumer: &BaseConsumer<EsmContext>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` lives; the out-pointers are locals.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_committed_offset_wins() {
        let c = decide_start(Some(7), 0, 10, || panic!("fallback not needed"));
        assert_eq!(
            c,
            StartChoice {
                offset: 7,
                decision: "committed",
                skipped_from: None
            }
        );
        let at_end = decide_start(Some(10), 0, 10, || 0);
        assert_eq!(at_end.decision, "committed");
    }

    #[test]
    fn no_committed_offset_uses_the_starting_position() {
        let c = decide_start(None, 3, 10, || 10);
        assert_eq!(
            c,
            StartChoice {
                offset: 10,
                decision: "starting_position",
                skipped_from: None
            }
        );
    }

    #[test]
    fn an_out_of_range_committed_offset_falls_back_and_remembers_it() {
        let below = decide_start(Some(2), 5, 10, || 5);
        assert_eq!(
            below,
            StartChoice {
                offset: 5,
                decision: "out_of_range",
                skipped_from: Some(2)
            }
        );
        let above = decide_start(Some(50), 5, 10, || 10);
        assert_eq!(above.decision, "out_of_range");
        assert_eq!(above.offset, 10);
    }

    #[test]
    fn lag_is_end_minus_position_per_partition() {
        let (total, map) = offset_lag("orders", &[(0, 7, 10), (1, 5, 5), (2, -1, 9), (3, 12, 10)]);
        assert_eq!(total, 3);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"orders-0":3,"orders-1":0,"orders-3":0}"#
        );
    }

    #[test]
    fn an_unchanged_lag_is_reported_again_only_after_the_idle_interval() {
        let idle = Duration::from_millis(LAG_IDLE_REPORT_MS);
        let part = r#"{"orders-0":0}"#;
        assert!(lag_report_due(None, 0, part));
        assert!(!lag_report_due(Some((Duration::ZERO, 0, part)), 0, part));
        assert!(!lag_report_due(
            Some((idle - Duration::from_millis(1), 0, part)),
            0,
            part
        ));
        assert!(lag_report_due(Some((idle, 0, part)), 0, part));
        assert!(lag_report_due(Some((Duration::ZERO, 0, part)), 1, part));
        assert!(lag_report_due(
            Some((Duration::ZERO, 0, part)),
            0,
            r#"{"orders-0":1}"#
        ));
    }

    #[test]
    fn pending_keeps_each_partitions_records_in_order_across_interleaved_runs() {
        let record = crate::settle::tests::rec;
        let mut pending = Pending::default();
        assert!(pending.is_empty());
        for (p, o) in [(0, 0), (0, 1), (3, 7), (0, 2), (3, 8), (1, 4)] {
            pending.push(p, record(p, o));
        }
        assert!(!pending.is_empty());
        let lists: Vec<(i32, Vec<i64>)> = pending
            .lists
            .iter()
            .map(|(p, records)| (*p, records.iter().map(|r| r.offset).collect()))
            .collect();
        assert_eq!(
            lists,
            vec![(0, vec![0, 1, 2]), (3, vec![7, 8]), (1, vec![4])]
        );
        for (_, records) in &mut pending.lists {
            records.clear();
        }
        assert!(pending.is_empty(), "emptied lists count as nothing pending");
    }

    #[test]
    fn commits_only_move_forward() {
        assert_eq!(commit_due(10, 5), Some(10));
        assert_eq!(commit_due(5, 5), None);
        assert_eq!(commit_due(4, 5), None);
        assert_eq!(commit_due(-1, -1), None);
        assert_eq!(commit_due(0, -1), Some(0));
    }

    #[test]
    fn partitions_pause_when_full_and_resume_when_half_empty() {
        assert_eq!(backpressure(false, 100, 0, 2048), None);
        assert_eq!(backpressure(false, 2048, 0, 2048), Some(true));
        assert_eq!(backpressure(false, 1, BUFFER_MAX_BYTES, 2048), Some(true));
        assert_eq!(backpressure(true, 1500, 0, 2048), None);
        assert_eq!(backpressure(true, 1000, 0, 2048), Some(false));
    }

    #[test]
    fn names_become_placeholder_arns() {
        assert_eq!(
            function_arn("process"),
            "arn:aws:lambda:us-east-1:000000000000:function:process"
        );
        assert_eq!(
            function_arn("arn:aws:lambda:eu-west-1:1:function:f"),
            "arn:aws:lambda:eu-west-1:1:function:f"
        );
    }
}
