//! The dispatcher: one task per poller that owns the buffers of the partitions the poller holds,
//! cuts batches from the partitions with no batch in flight, and spawns one settle task per
//! batch ([`crate::settle`]). The poll thread owns the Kafka consumer; the dispatcher and the
//! settle tasks only ever talk to the function and the destination producer.
//!
//! As AWS does ("Using Lambda with self-managed Apache Kafka"), one payload gathers the ready
//! records of several partitions, each under its `"<topic>-<partition>"` key in offset order.
//! A partition is in at most ONE batch in flight; batches over disjoint partitions run at once.
//!
//! Choices where AWS documents nothing (ESM-SPEC "(undocumented)"):
//! - Fairness: partitions are offered to a batch round robin, starting after the partition the
//!   previous batch started with, each giving the longest prefix that fits. A hot partition
//!   that fills whole batches therefore cannot starve the others: while its batch is in flight
//!   they form the next one, and they are offered first in their turn.
//! - The batching window runs from the moment a partition has records and no batch in flight
//!   (its first record arriving, or its previous batch settling); the batch is due when the
//!   longest-waiting ready partition has waited the window, or when BatchSize records or a
//!   full payload are ready over all free partitions.
//! - A record that alone passes the payload limit is settled alone (MaximumPayloadSizeExceeded)
//!   as its partition's batch, so the partition's order holds.

use crate::batch::{Ready, batch_due, oversized, plan_batch};
use crate::config::MappingConfig;
use crate::event::{EventContext, KafkaRecord, PAYLOAD_LIMIT_BYTES, record_encoded_len};
use crate::filter::passes;
use crate::invoke::Invoker;
use crate::settle::{self, Held, Job, Released};
use rdkafka::producer::FutureProducer;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tracing::debug;

/// Inputs taken from the poll thread in one go before batches are cut, so one batch can gather
/// the records of several partitions polled together.
const INPUT_DRAIN_MAX: usize = 256;

/// What the dispatcher and every settle task of a poller share.
pub struct Shared {
    pub config: MappingConfig,
    pub ctx: EventContext,
    pub invoker: Invoker,
    pub producer: Option<FutureProducer>,
    pub function_arn: String,
    pub envelope_len: usize,
}

/// A partition's state as seen by the poll thread, the dispatcher and the settle task holding it.
#[derive(Debug)]
pub struct PartitionState {
    /// The next offset not yet done (the commit position); -1 while unknown.
    pub done: AtomicI64,
    /// Records handed to the dispatcher and not yet cut into a batch (backpressure).
    pub buffered_records: AtomicUsize,
    pub buffered_bytes: AtomicUsize,
    stop: AtomicBool,
    stop_notify: Notify,
    /// A batch holding this partition is in flight.
    busy: AtomicBool,
    idle_notify: Notify,
}

impl PartitionState {
    pub fn new(start_offset: i64) -> Self {
        PartitionState {
            done: AtomicI64::new(start_offset),
            buffered_records: AtomicUsize::new(0),
            buffered_bytes: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            stop_notify: Notify::new(),
            busy: AtomicBool::new(false),
            idle_notify: Notify::new(),
        }
    }

    /// Asks that no new invocation carry this partition; the one in flight finishes.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_notify.notify_waiters();
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub async fn wait_stop(&self) {
        loop {
            let notified = self.stop_notify.notified();
            if self.stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Marks a batch holding the partition in flight; `false` (and idle) if it was stopped.
    /// Busy is set before stop is read, and stop before busy is read ([`Self::wait_idle`]):
    /// one of the two sides always sees the other.
    pub(crate) fn try_set_busy(&self) -> bool {
        self.busy.store(true, Ordering::SeqCst);
        if self.stopped() {
            self.set_idle();
            return false;
        }
        true
    }

    /// No batch holds the partition any more.
    pub fn set_idle(&self) {
        self.busy.store(false, Ordering::SeqCst);
        self.idle_notify.notify_waiters();
    }

    /// Waits until no batch holds the partition.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle_notify.notified();
            if !self.busy.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    fn take_buffered(&self, records: usize, bytes: usize) {
        self.buffered_records.fetch_sub(records, Ordering::Relaxed);
        self.buffered_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Memory a buffered record holds, for backpressure accounting.
pub fn record_mem_bytes(r: &KafkaRecord) -> usize {
    const OVERHEAD_BYTES: usize = 128;
    // The topic is shared, not held per record.
    OVERHEAD_BYTES
        + r.key.as_ref().map_or(0, Vec::len)
        + r.value.as_ref().map_or(0, bytes::Bytes::len)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
}

/// What the poll thread tells the dispatcher, in the order it happened.
#[derive(Debug)]
pub enum Input {
    /// The poller now holds `partition`, starting at `state.done`.
    Assign {
        partition: i32,
        state: Arc<PartitionState>,
    },
    /// Polled records of one partition, in offset order (already counted in its state's
    /// buffered counters).
    Records {
        partition: i32,
        records: Vec<KafkaRecord>,
    },
    /// The poller no longer holds `partition` (its state is already stopped).
    Revoke { partition: i32 },
}

/// One held partition's buffer.
struct Buffer {
    state: Arc<PartitionState>,
    records: VecDeque<KafkaRecord>,
    /// `record_encoded_len` of each buffered record, computed once on arrival.
    lens: VecDeque<usize>,
    encoded_bytes: usize,
    /// Since when the buffered records wait with no batch of the partition in flight.
    ready_since: Option<Instant>,
    /// Offset after the last record received; older ones are duplicates after a re-assign.
    next_expected: i64,
    in_flight: bool,
}

impl Buffer {
    fn new(state: Arc<PartitionState>) -> Self {
        let next_expected = state.done.load(Ordering::SeqCst);
        Buffer {
            state,
            records: VecDeque::new(),
            lens: VecDeque::new(),
            encoded_bytes: 0,
            ready_since: None,
            next_expected,
            in_flight: false,
        }
    }

    fn free_with_records(&self) -> bool {
        !self.in_flight && !self.records.is_empty() && !self.state.stopped()
    }

    /// Nothing in flight: done up to the first buffered record, or all received.
    fn publish_idle(&self) {
        if self.in_flight {
            return;
        }
        let done = match self.records.front() {
            Some(r) => r.offset,
            None if self.next_expected >= 0 => self.next_expected,
            None => return,
        };
        self.state.done.fetch_max(done, Ordering::SeqCst);
    }

    /// Takes the first `count` records out of the buffer.
    fn take(&mut self, count: usize) -> Vec<KafkaRecord> {
        let encoded: usize = self.lens.drain(..count).sum();
        self.encoded_bytes = self.encoded_bytes.saturating_sub(encoded);
        let taken: Vec<KafkaRecord> = self.records.drain(..count).collect();
        let mem: usize = taken.iter().map(record_mem_bytes).sum();
        self.state.take_buffered(taken.len(), mem);
        taken
    }
}

pub struct Dispatcher {
    shared: Arc<Shared>,
    input: UnboundedReceiver<Input>,
    buffers: BTreeMap<i32, Buffer>,
    release_tx: UnboundedSender<Released>,
    release_rx: UnboundedReceiver<Released>,
    /// The partition the previous batch started with; the next starts after it.
    cursor: i32,
}

impl Dispatcher {
    pub fn new(shared: Arc<Shared>, input: UnboundedReceiver<Input>) -> Self {
        let (release_tx, release_rx) = unbounded_channel();
        Dispatcher {
            shared,
            input,
            buffers: BTreeMap::new(),
            release_tx,
            release_rx,
            cursor: -1,
        }
    }

    /// Runs until the poll thread drops its sender.
    pub async fn run(mut self) {
        let window = Duration::from_millis(self.shared.config.batching_window_ms);
        loop {
            self.cut_due_batches(window);
            let deadline = self
                .ready()
                .oldest
                .map(|t| tokio::time::Instant::from_std(t + window));
            tokio::select! {
                input = self.input.recv() => match input {
                    Some(input) => {
                        self.handle(input);
                        for _ in 1..INPUT_DRAIN_MAX {
                            match self.input.try_recv() {
                                Ok(more) => self.handle(more),
                                Err(_) => break,
                            }
                        }
                    }
                    None => return,
                },
                Some(released) = self.release_rx.recv() => self.release(released),
                _ = sleep_until_opt(deadline), if deadline.is_some() => {}
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Assign { partition, state } => {
                self.buffers.insert(partition, Buffer::new(state));
            }
            Input::Revoke { partition } => {
                self.buffers.remove(&partition);
            }
            Input::Records { partition, records } => self.accept(partition, records),
        }
    }

    fn accept(&mut self, partition: i32, records: Vec<KafkaRecord>) {
        let Some(buf) = self.buffers.get_mut(&partition) else {
            return; // no longer held: the new owner reads them from the committed offset
        };
        let filters = &self.shared.config.filters;
        let (mut dropped, mut dropped_bytes) = (0, 0);
        for r in records {
            if r.offset < buf.next_expected {
                dropped += 1;
                dropped_bytes += record_mem_bytes(&r);
                continue;
            }
            buf.next_expected = r.offset + 1;
            if !passes(filters, r.value.as_deref()) {
                dropped += 1;
                dropped_bytes += record_mem_bytes(&r);
                continue;
            }
            let len = record_encoded_len(&r);
            buf.encoded_bytes += len;
            buf.lens.push_back(len);
            buf.records.push_back(r);
            if buf.ready_since.is_none() && !buf.in_flight {
                buf.ready_since = Some(Instant::now());
            }
        }
        buf.state.take_buffered(dropped, dropped_bytes);
        buf.publish_idle();
    }

    /// A settled batch gives its partitions back; a partition revoked (and perhaps assigned
    /// again) meanwhile is not this batch's any more.
    fn release(&mut self, released: Released) {
        for (partition, state) in released {
            let Some(buf) = self.buffers.get_mut(&partition) else {
                continue;
            };
            if !Arc::ptr_eq(&buf.state, &state) {
                continue;
            }
            buf.in_flight = false;
            buf.ready_since = (!buf.records.is_empty()).then(Instant::now);
            buf.publish_idle();
        }
    }

    /// What the free partitions hold.
    fn ready(&self) -> Ready {
        let mut ready = Ready::default();
        for buf in self.buffers.values().filter(|b| b.free_with_records()) {
            ready.records += buf.records.len();
            ready.encoded_bytes += buf.encoded_bytes;
            ready.oldest = match (ready.oldest, buf.ready_since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        ready
    }

    /// Spawns batches while one is due.
    fn cut_due_batches(&mut self, window: Duration) {
        self.settle_oversized();
        let room = PAYLOAD_LIMIT_BYTES.saturating_sub(self.shared.envelope_len);
        let batch_size = self.shared.config.batch_size;
        while batch_due(&self.ready(), Instant::now(), batch_size, room, window) {
            if !self.cut_batch() {
                break;
            }
        }
    }

    /// A free partition whose first record alone passes the payload limit settles it alone.
    fn settle_oversized(&mut self) {
        let envelope = self.shared.envelope_len;
        let partitions: Vec<i32> = self
            .buffers
            .iter()
            .filter(|(_, b)| {
                b.free_with_records()
                    && b.lens
                        .front()
                        .is_some_and(|&len| oversized(len, envelope, PAYLOAD_LIMIT_BYTES))
            })
            .map(|(p, _)| *p)
            .collect();
        for p in partitions {
            let Some(buf) = self.buffers.get_mut(&p) else {
                continue;
            };
            let mut taken = buf.take(1);
            let Some(record) = taken.pop() else { continue };
            if let Some(held) = hold(buf, p, record.offset) {
                self.spawn(Job::Oversized(record), vec![held]);
            }
        }
    }

    /// Cuts one batch from the free partitions, offered from after the cursor; `false` when
    /// nothing could be taken.
    fn cut_batch(&mut self) -> bool {
        let cfg = &self.shared.config;
        let start = self.cursor;
        let order = self
            .buffers
            .range(start.saturating_add(1)..)
            .chain(self.buffers.range(..=start))
            .filter(|(_, b)| b.free_with_records())
            .map(|(p, b)| (*p, &b.lens));
        let plan = plan_batch(
            order,
            cfg.batch_size,
            self.shared.envelope_len,
            PAYLOAD_LIMIT_BYTES,
        );
        let Some(&(first, _)) = plan.first() else {
            return false;
        };
        self.cursor = first;
        let mut records = Vec::with_capacity(plan.iter().map(|(_, n)| n).sum());
        let mut held = Vec::with_capacity(plan.len());
        for (p, count) in plan {
            let Some(buf) = self.buffers.get_mut(&p) else {
                continue;
            };
            let taken = buf.take(count);
            let last_offset = taken.last().map_or(-1, |r| r.offset);
            match hold(buf, p, last_offset) {
                Some(h) => {
                    held.push(h);
                    records.extend(taken);
                }
                // Stopped meanwhile: the records are dropped with the buffer on Revoke.
                None => continue,
            }
        }
        if !records.is_empty() {
            debug!(
                event = "batch_cut",
                records = records.len(),
                partitions = held.len()
            );
            self.spawn(Job::Invoke(records), held);
        }
        true
    }

    fn spawn(&self, job: Job, held: Vec<Held>) {
        tokio::spawn(settle::run(
            self.shared.clone(),
            job,
            held,
            self.release_tx.clone(),
        ));
    }
}

/// Marks `buf`'s partition in flight in a batch ending at `last_offset`; `None` if it was
/// stopped (revoked) meanwhile.
fn hold(buf: &mut Buffer, partition: i32, last_offset: i64) -> Option<Held> {
    if !buf.state.try_set_busy() {
        return None;
    }
    buf.in_flight = true;
    buf.ready_since = None;
    Some(Held {
        partition,
        state: buf.state.clone(),
        last_offset,
    })
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settle::tests::{first_request, invoked, rec, shared};
    use std::sync::Mutex;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

    /// When a call arrived and the partitions it carried.
    type Calls = Arc<Mutex<Vec<(Instant, Vec<i32>)>>>;

    /// Answers 200 after `delay`, remembering each call.
    struct Recorder {
        delay: Duration,
        calls: Calls,
    }

    impl Respond for Recorder {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let v: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let partitions = v["records"]
                .as_object()
                .unwrap()
                .values()
                .map(|l| l[0]["partition"].as_i64().unwrap() as i32)
                .collect();
            self.calls
                .lock()
                .unwrap()
                .push((Instant::now(), partitions));
            ResponseTemplate::new(200).set_delay(self.delay)
        }
    }

    fn assign(tx: &UnboundedSender<Input>, partition: i32) -> Arc<PartitionState> {
        let state = Arc::new(PartitionState::new(0));
        tx.send(Input::Assign {
            partition,
            state: state.clone(),
        })
        .unwrap();
        state
    }

    fn send(tx: &UnboundedSender<Input>, partition: i32, offsets: std::ops::Range<i64>) {
        let records = offsets.map(|o| rec(partition, o)).collect();
        tx.send(Input::Records { partition, records }).unwrap();
    }

    /// Waits (at most 10 s) until every state is done up to its `ends` entry.
    async fn wait_done(states: &[Arc<PartitionState>], ends: &[i64]) {
        let all_done = || {
            states
                .iter()
                .zip(ends)
                .all(|(s, &e)| s.done.load(Ordering::SeqCst) == e)
        };
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            while !all_done() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let seen: Vec<i64> = states
            .iter()
            .map(|s| s.done.load(Ordering::SeqCst))
            .collect();
        assert!(waited.is_ok(), "done {seen:?}, expected {ends:?}");
    }

    #[tokio::test]
    async fn one_payload_gathers_several_partitions() {
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let shared = shared(&server, r#", "MaximumBatchingWindowInSeconds": 0"#);
        let (tx, rx) = unbounded_channel();
        let states = [assign(&tx, 0), assign(&tx, 1)];
        send(&tx, 0, 0..3);
        send(&tx, 1, 0..2);
        tokio::spawn(Dispatcher::new(shared, rx).run());
        wait_done(&states, &[3, 2]).await;
        assert_eq!(
            invoked(&server).await,
            [vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]]
        );
    }

    #[tokio::test]
    async fn a_partition_is_in_one_batch_at_a_time_while_others_run() {
        const DELAY: Duration = Duration::from_millis(300);
        let server = MockServer::start().await;
        let calls: Calls = Arc::default();
        Mock::given(matchers::method("POST"))
            .respond_with(Recorder {
                delay: DELAY,
                calls: calls.clone(),
            })
            .mount(&server)
            .await;
        let shared = shared(
            &server,
            r#", "MaximumBatchingWindowInSeconds": 0, "BatchSize": 2"#,
        );
        let (tx, rx) = unbounded_channel();
        let states = [assign(&tx, 0), assign(&tx, 1)];
        send(&tx, 0, 0..6);
        send(&tx, 1, 0..2);
        tokio::spawn(Dispatcher::new(shared, rx).run());
        wait_done(&states, &[6, 2]).await;
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 4, "{calls:?}");
        for p in 0..2 {
            let at: Vec<Instant> = calls
                .iter()
                .filter(|(_, ps)| ps.contains(&p))
                .map(|(t, _)| *t)
                .collect();
            for pair in at.windows(2) {
                assert!(
                    pair[1] - pair[0] >= DELAY,
                    "partition {p} invoked again while its batch was in flight"
                );
            }
        }
        // The first two batches (partition 0's and partition 1's) ran at the same time.
        assert!(calls[1].0 - calls[0].0 < DELAY, "{calls:?}");
        assert_ne!(calls[0].1, calls[1].1);
    }

    #[tokio::test]
    async fn a_revoke_waits_for_the_batch_in_flight_and_keeps_its_successes() {
        let server = MockServer::start().await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
            .mount(&server)
            .await;
        let shared = shared(&server, r#", "MaximumBatchingWindowInSeconds": 0"#);
        let (tx, rx) = unbounded_channel();
        let state = assign(&tx, 0);
        send(&tx, 0, 0..3);
        tokio::spawn(Dispatcher::new(shared, rx).run());
        first_request(&server).await;
        state.stop();
        tx.send(Input::Revoke { partition: 0 }).unwrap();
        send(&tx, 0, 3..5);
        tokio::time::timeout(Duration::from_secs(5), state.wait_idle())
            .await
            .expect("the batch in flight ends within 5 s");
        assert_eq!(state.done.load(Ordering::SeqCst), 3, "its successes count");
        assert_eq!(invoked(&server).await.len(), 1, "nothing new was sent");
    }

    #[tokio::test]
    async fn batches_start_round_robin_so_no_partition_goes_first_twice_in_a_row() {
        let server = MockServer::start().await;
        // Batches stay in flight for the whole test; they are released by hand below.
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .mount(&server)
            .await;
        let shared = shared(&server, r#", "BatchSize": 2"#);
        let (tx, rx) = unbounded_channel();
        let mut d = Dispatcher::new(shared, rx);
        let _states: Vec<Arc<PartitionState>> = (0..3).map(|p| assign(&tx, p)).collect();
        for p in 0..3 {
            send(&tx, p, 0..6);
        }
        while let Ok(input) = d.input.try_recv() {
            d.handle(input);
        }
        let mut firsts = Vec::new();
        for _ in 0..4 {
            assert!(d.cut_batch());
            firsts.push(d.cursor);
            let in_flight: Released = d
                .buffers
                .iter()
                .filter(|(_, b)| b.in_flight)
                .map(|(p, b)| (*p, b.state.clone()))
                .collect();
            assert_eq!(in_flight.len(), 1, "a full batch from one partition");
            d.release(in_flight);
        }
        assert_eq!(firsts, [0, 1, 2, 0]);
        let left: Vec<usize> = d.buffers.values().map(|b| b.records.len()).collect();
        assert_eq!(left, [2, 4, 4]);
    }

    #[test]
    fn stop_is_seen_by_a_waiter_created_before_it() {
        let state = PartitionState::new(3);
        assert!(!state.stopped());
        state.stop();
        assert!(state.stopped());
        assert_eq!(state.done.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_stopped_partition_is_never_marked_busy() {
        let state = PartitionState::new(0);
        assert!(state.try_set_busy());
        state.set_idle();
        state.stop();
        assert!(!state.try_set_busy());
        assert!(!state.busy.load(Ordering::SeqCst));
    }
}
