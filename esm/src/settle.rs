//! Settling one batch: invoke with retries, bisection and partial failures, check the record
//! age before every invocation, hand exhausted records to the on-failure destination, and
//! publish, per partition, the offset below which everything is done (the commit position).
//!
//! A batch may hold several partitions (each in offset order); the dispatcher
//! ([`crate::worker`]) never puts a partition in two batches at once, so this task is the only
//! one moving those partitions' positions until it releases them.
//!
//! As AWS documents it ("Configuring error handling controls for Kafka event sources",
//! https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html):
//! - MaximumRetryAttempts counts retries after a function error, not the first invocation.
//! - MaximumRecordAgeInSeconds is "the maximum age of a record that Lambda sends to your
//!   function": it is checked before every invocation (the first, each retry, each retry after
//!   a throttle or a service error); a record past it is never sent and goes to the destination
//!   with RecordAgeExceeded.
//! - Split batch on error halves a failing batch and retries each half.
//! - A partial batch response lets "Lambda retry only the failed records": records not named
//!   are done and never invoked again.
//!
//! Choices where AWS documents nothing (ESM-SPEC "(undocumented)"):
//! - Splitting does not count as a retry; the halves inherit the parent's retry count, so a
//!   poison record alone gets 1 + MaximumRetryAttempts invocations. A half keeps the records
//!   of every partition in offset order, and the first half settles before the second.
//! - A partial failure is a counted failed attempt of the named records, which are retried
//!   together (not bisected: the function already said which records failed).
//! - Throttles (429) and service errors are retried with backoff and never counted.
//! - approximateInvokeCount is the number of invocations that reached the function with the
//!   record (halves inherit their parent's count); 0 for a record too old before its first.

use crate::batch::bisect;
use crate::destination::{FailureCondition, FailureInfo, failure_record, iso_millis};
use crate::event::{KafkaRecord, PartitionSlots, encode_event};
use crate::invoke::Outcome;
use crate::response::{BatchVerdict, interpret};
use crate::worker::{PartitionState, Shared};
use futures::future::select_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

/// First pause after a failed, throttled or refused attempt; doubles up to [`BACKOFF_MAX_MS`].
pub const BACKOFF_FIRST_MS: u64 = 100;
pub const BACKOFF_MAX_MS: u64 = 5_000;
/// How long one destination write may wait for the broker's acknowledgement.
pub const DESTINATION_SEND_TIMEOUT_MS: u64 = 30_000;

/// Doubling backoff: 100 ms, 200 ms, ... capped at 5 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    next_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next_ms: BACKOFF_FIRST_MS,
        }
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next_ms;
        self.next_ms = (d * 2).min(BACKOFF_MAX_MS);
        Duration::from_millis(d)
    }
}

/// What to do after a counted failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Retry,
    Bisect,
    GiveUp,
}

/// The decision after a counted failure of a (sub)batch of `len` records that has already been
/// retried `retries` times. `max_retries` `None` = unbounded.
pub fn next_step(max_retries: Option<u32>, retries: u32, bisect_allowed: bool, len: usize) -> Step {
    if bisect_allowed && len > 1 {
        Step::Bisect
    } else if max_retries.is_some_and(|m| retries >= m) {
        Step::GiveUp
    } else {
        Step::Retry
    }
}

/// Whether a record stamped `timestamp_ms` is past `max_age_s` at `now_ms`; a record without a
/// timestamp (negative) is never judged too old.
pub fn too_old(timestamp_ms: i64, max_age_s: Option<u64>, now_ms: i64) -> bool {
    max_age_s.is_some_and(|max_age_s| {
        timestamp_ms >= 0
            && now_ms.saturating_sub(timestamp_ms)
                > i64::try_from(max_age_s)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000)
    })
}

/// How an answer settles the records it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Only the records at these indices failed (a counted failure); the others are done.
    Partial(Vec<usize>),
    Failed,
    /// A success whose ReportBatchItemFailures answer cannot be read (why): the whole batch
    /// failed, counted, and the log line says why.
    Unreadable(String),
    /// Throttled or a service error: retry, not counted.
    Uncounted,
}

/// The verdict for `outcome` on `records`.
pub fn verdict(outcome: &Outcome, records: &[KafkaRecord], report_item_failures: bool) -> Verdict {
    match outcome {
        Outcome::Success { body, .. } if report_item_failures => match interpret(body, records) {
            BatchVerdict::AllSucceeded => Verdict::Done,
            BatchVerdict::AllFailed { reason } => Verdict::Unreadable(reason),
            BatchVerdict::Partial { failed } => Verdict::Partial(
                records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| failed.contains(&(r.topic.to_string(), r.partition, r.offset)))
                    .map(|(i, _)| i)
                    .collect(),
            ),
        },
        Outcome::Success { .. } => Verdict::Done,
        Outcome::FunctionError { .. } | Outcome::Timeout => Verdict::Failed,
        Outcome::Throttled { .. } | Outcome::ServiceError { .. } => Verdict::Uncounted,
    }
}

/// The responseContext of a failure record after `last` (None: the record was never invoked).
fn response_context(last: Option<&Outcome>) -> (Option<u16>, Option<String>) {
    match last {
        None => (None, None),
        Some(Outcome::FunctionError {
            status, error_type, ..
        }) => (Some(*status), error_type.clone()),
        // A function that times out is reported by AWS as a 200 with an Unhandled error.
        Some(Outcome::Timeout) => (Some(200), Some("Unhandled".to_string())),
        Some(other) => (other.status(), None),
    }
}

/// A partition a batch holds.
pub struct Held {
    pub partition: i32,
    pub state: Arc<PartitionState>,
    /// The batch's last offset of this partition: done up to after it once settled.
    pub last_offset: i64,
}

/// What a batch is.
pub enum Job {
    Invoke(Vec<KafkaRecord>),
    /// A record that alone passes the payload limit: never invoked.
    Oversized(KafkaRecord),
}

/// Partitions a finished batch releases back to the dispatcher.
pub type Released = Vec<(i32, Arc<PartitionState>)>;

/// A (sub)batch still to settle.
struct Item {
    records: Vec<KafkaRecord>,
    retries: u32,
    invocations: u32,
}

/// A held partition was stopped (revoked) while waiting.
struct Stopped;

enum Settled {
    Done,
    Split(Item, Item),
}

/// Settles one batch, then releases its partitions (each done up to after its last record,
/// unless it was stopped on the way).
pub async fn run(
    shared: Arc<Shared>,
    job: Job,
    held: Vec<Held>,
    release: UnboundedSender<Released>,
) {
    let mut s = Settler {
        shared,
        held,
        work: Vec::new(),
    };
    match job {
        Job::Oversized(record) => {
            let left = s
                .give_up(
                    vec![record],
                    FailureCondition::MaximumPayloadSizeExceeded,
                    0,
                    None,
                )
                .await;
            s.drop_stopped(&mut Item::new(left));
        }
        Job::Invoke(records) => s.settle_all(records).await,
    }
    let released = s.finish();
    // The dispatcher is gone only when the poller is shutting down.
    let _ = release.send(released);
}

struct Settler {
    shared: Arc<Shared>,
    held: Vec<Held>,
    /// Items still to settle after the current one: a stack, the next is last.
    work: Vec<Item>,
}

impl Item {
    fn new(records: Vec<KafkaRecord>) -> Self {
        Item {
            records,
            retries: 0,
            invocations: 0,
        }
    }
}

impl Settler {
    async fn settle_all(&mut self, records: Vec<KafkaRecord>) {
        self.work.push(Item::new(records));
        while let Some(mut item) = self.work.pop() {
            match self.settle(&mut item).await {
                Settled::Done => {}
                Settled::Split(first, second) => {
                    self.work.push(second);
                    self.work.push(first);
                }
            }
            // What is left in `item` was not done (a destination write cut short by a stop).
            self.drop_stopped(&mut item);
        }
    }

    /// Invokes `item` until it is done, split, or given up; what is left in it afterwards is
    /// not done.
    async fn settle(&mut self, item: &mut Item) -> Settled {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut backoff = Backoff::default();
        let mut attempt = 0u32;
        let mut last: Option<Outcome> = None;
        loop {
            self.give_up_too_old(item, last.as_ref()).await;
            self.drop_stopped(item);
            if item.records.is_empty() {
                return Settled::Done;
            }
            attempt += 1;
            let encode_started = std::time::Instant::now();
            let event = encode_event(&shared.ctx, &item.records);
            let invoke_started = std::time::Instant::now();
            let outcome = shared.invoker.invoke(event).await;
            let timing = Timing {
                encode_us: micros(invoke_started - encode_started),
                invoke_us: micros(invoke_started.elapsed()),
            };
            let v = verdict(&outcome, &item.records, cfg.report_batch_item_failures);
            self.log_batch(&item.records, attempt, item.retries, &outcome, &v, timing);
            let bisect_allowed = match v {
                Verdict::Done => {
                    item.records.clear();
                    return Settled::Done;
                }
                Verdict::Uncounted => {
                    last = Some(outcome);
                    self.pause(item, backoff.next_delay()).await;
                    continue;
                }
                Verdict::Partial(failed) => {
                    item.records = keep_indices(std::mem::take(&mut item.records), &failed);
                    self.publish(item);
                    false
                }
                Verdict::Failed | Verdict::Unreadable(_) => cfg.bisect_batch_on_function_error,
            };
            item.invocations += 1;
            match next_step(
                cfg.effective_max_retries(),
                item.retries,
                bisect_allowed,
                item.records.len(),
            ) {
                Step::Retry => {
                    item.retries += 1;
                    last = Some(outcome);
                    self.pause(item, backoff.next_delay()).await;
                }
                Step::Bisect => return split(item),
                Step::GiveUp => {
                    let records = std::mem::take(&mut item.records);
                    item.records = self
                        .give_up(
                            records,
                            FailureCondition::RetryAttemptsExhausted,
                            item.invocations,
                            Some(&outcome),
                        )
                        .await;
                    return Settled::Done;
                }
            }
        }
    }

    /// Records past MaximumRecordAgeInSeconds are never sent: they go to the destination.
    async fn give_up_too_old(&mut self, item: &mut Item, last: Option<&Outcome>) {
        let max_age_s = self.shared.config.max_record_age_s;
        #[cfg(feature = "defects")]
        let max_age_s =
            max_age_s.filter(|_| !crate::defects::active(crate::defects::Defect::IgnoreRecordAge));
        if max_age_s.is_none() {
            return;
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (old, young): (Vec<_>, Vec<_>) = std::mem::take(&mut item.records)
            .into_iter()
            .partition(|r| too_old(r.timestamp_ms, max_age_s, now_ms));
        item.records = young;
        if !old.is_empty() {
            let left = self
                .give_up(
                    old,
                    FailureCondition::RecordAgeExceeded,
                    item.invocations,
                    last,
                )
                .await;
            item.records.extend(left);
        }
    }

    /// Publishes the progress, then lets go of the partitions that were stopped (revoked):
    /// their records are dropped from every item, what they had not done stays uncommitted,
    /// and a revoke waiting for them goes on at once.
    fn drop_stopped(&mut self, item: &mut Item) {
        self.publish(item);
        if self.held.iter().all(|h| !h.state.stopped()) {
            return;
        }
        let (stopped, kept): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.state.stopped());
        self.held = kept;
        for h in stopped {
            info!(
                event = "batch_abandoned",
                partition = h.partition,
                done = h.state.done.load(Ordering::SeqCst),
                "partition revoked; its records not yet done stay uncommitted"
            );
            h.state.set_idle();
        }
        let held: Vec<i32> = self.held.iter().map(|h| h.partition).collect();
        for i in std::iter::once(item).chain(self.work.iter_mut()) {
            i.records.retain(|r| held.contains(&r.partition));
        }
    }

    /// Publishes, per held partition, the lowest offset not yet done among `current` and the
    /// items still to settle, or the offset after its last record when all are done.
    fn publish(&self, current: &Item) {
        let mut slots = PartitionSlots::default();
        let mut lowest: Vec<i64> = Vec::new();
        for r in std::iter::once(current)
            .chain(&self.work)
            .flat_map(|i| &i.records)
        {
            let slot = slots.slot(r);
            match lowest.get_mut(slot) {
                Some(low) => *low = (*low).min(r.offset),
                None => lowest.push(r.offset),
            }
        }
        let lowest_of = |p: i32| {
            slots
                .keys()
                .zip(&lowest)
                .find(|((_, kp), _)| *kp == p)
                .map(|(_, low)| *low)
        };
        for h in &self.held {
            let done = lowest_of(h.partition).unwrap_or(h.last_offset + 1);
            h.state.done.fetch_max(done, Ordering::SeqCst);
        }
    }

    /// Everything left is done: publish and release the held partitions.
    fn finish(self) -> Released {
        self.publish(&Item::new(Vec::new()));
        self.held
            .into_iter()
            .map(|h| {
                h.state.set_idle();
                (h.partition, h.state)
            })
            .collect()
    }

    fn log_batch(
        &self,
        records: &[KafkaRecord],
        attempt: u32,
        retries: u32,
        outcome: &Outcome,
        v: &Verdict,
        timing: Timing,
    ) {
        let Timing {
            encode_us,
            invoke_us,
        } = timing;
        let label = match (outcome, v) {
            (Outcome::Success { .. }, Verdict::Partial(_)) => "partial_failure",
            (Outcome::Success { .. }, Verdict::Unreadable(_)) => "batch_failure",
            _ => outcome.label(),
        };
        let partitions = offset_ranges(records);
        let status = outcome.status();
        let body = outcome.excerpt();
        let reason = match v {
            Verdict::Unreadable(why) => Some(why.as_str()),
            _ => None,
        };
        if matches!(v, Verdict::Done) {
            info!(event = "batch", partitions = %partitions, records = records.len(), attempt, retries, outcome = label, status, encode_us, invoke_us, body = %body);
        } else {
            warn!(event = "batch", partitions = %partitions, records = records.len(), attempt, retries, outcome = label, status, reason, encode_us, invoke_us, body = %body);
        }
    }

    /// Backs off for `d`; a partition stopped meanwhile is let go of at once, the others wait on.
    async fn pause(&mut self, item: &mut Item, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while self.sleep_until(deadline).await.is_err() {
            self.drop_stopped(item);
        }
    }

    /// Sleeps until `deadline`; `Err` as soon as a held partition is stopped.
    async fn sleep_until(&self, deadline: tokio::time::Instant) -> Result<(), Stopped> {
        if self.held.iter().any(|h| h.state.stopped()) {
            return Err(Stopped);
        }
        if self.held.is_empty() {
            return Ok(());
        }
        let stops = self.held.iter().map(|h| Box::pin(h.state.wait_stop()));
        tokio::select! {
            _ = select_all(stops) => Err(Stopped),
            _ = tokio::time::sleep_until(deadline) => Ok(()),
        }
    }

    /// Retries are over: each record goes to the destination (or is dropped with a log line
    /// without one). Returns the records left undone: their partition was stopped before
    /// their failure record was stored.
    async fn give_up(
        &self,
        records: Vec<KafkaRecord>,
        condition: FailureCondition,
        invoke_count: u32,
        last: Option<&Outcome>,
    ) -> Vec<KafkaRecord> {
        let (status_code, function_error) = response_context(last);
        let info = FailureInfo {
            condition,
            approximate_invoke_count: invoke_count,
            function_arn: self.shared.function_arn.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            status_code,
            function_error,
            timestamp: iso_millis(chrono::Utc::now().timestamp_millis()),
        };
        let mut left = Vec::new();
        for r in records {
            let Some(held) = self.held.iter().find(|h| h.partition == r.partition) else {
                continue;
            };
            let destination = match (&self.shared.producer, &self.shared.config.destination_topic) {
                (Some(producer), Some(topic)) => {
                    let written = self
                        .write_destination(producer, topic, &r, &info, &held.state)
                        .await;
                    if written.is_err() {
                        left.push(r);
                        continue;
                    }
                    format!("kafka://{topic}")
                }
                _ => "none".to_string(),
            };
            info!(
                event = "destination",
                condition = condition.as_str(),
                topic = %r.topic,
                partition = r.partition,
                offset = r.offset,
                destination = %destination,
                approximate_invoke_count = invoke_count,
            );
        }
        left
    }

    /// Writes one failure record, retrying until the broker acknowledges it (acks=all) or the
    /// record's partition is stopped: a record is never skipped before its failure record is
    /// stored.
    async fn write_destination(
        &self,
        producer: &FutureProducer,
        topic: &str,
        record: &KafkaRecord,
        info: &FailureInfo,
        state: &PartitionState,
    ) -> Result<(), Stopped> {
        let body = failure_record(&self.shared.ctx, record, info);
        let mut backoff = Backoff::default();
        loop {
            let mut fr = FutureRecord::<[u8], [u8]>::to(topic).payload(&body);
            if let Some(key) = &record.key {
                fr = fr.key(key.as_slice());
            }
            match producer
                .send(fr, Duration::from_millis(DESTINATION_SEND_TIMEOUT_MS))
                .await
            {
                Ok(_) => return Ok(()),
                Err((e, _)) => {
                    warn!(event = "destination_error", topic, offset = record.offset, error = %e, "cannot write the failure record; retrying");
                    tokio::select! {
                        _ = state.wait_stop() => return Err(Stopped),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }
}

/// The records at `indices` (ascending), in their order.
fn keep_indices(records: Vec<KafkaRecord>, indices: &[usize]) -> Vec<KafkaRecord> {
    let mut wanted = indices.iter().peekable();
    records
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| (wanted.next_if_eq(&&i).is_some()).then_some(r))
        .collect()
}

/// Halves of a failing item; each keeps every partition's records in offset order.
fn split(item: &mut Item) -> Settled {
    let records = std::mem::take(&mut item.records);
    let (first, second) =
        bisect(&records).expect("next_step bisects only batches of two or more records");
    let half = |records| Item {
        records,
        retries: item.retries,
        invocations: item.invocations,
    };
    Settled::Split(half(first), half(second))
}

/// How long one attempt took: building its event, and the Invoke call from the first byte sent
/// to the answer read. Logged with each batch, so a slow function and a slow poller tell apart.
#[derive(Debug, Clone, Copy)]
struct Timing {
    encode_us: u64,
    invoke_us: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `"orders-0:5-9,orders-1:3-3"`: each partition's first and last offset in `records`.
pub fn offset_ranges(records: &[KafkaRecord]) -> String {
    let mut slots = PartitionSlots::default();
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for r in records {
        let slot = slots.slot(r);
        match ranges.get_mut(slot) {
            Some(e) => *e = (e.0.min(r.offset), e.1.max(r.offset)),
            None => ranges.push((r.offset, r.offset)),
        }
    }
    let mut named: Vec<_> = slots.keys().zip(ranges).collect();
    named.sort_unstable();
    named
        .iter()
        .map(|((t, p), (first, last))| format!("{t}-{p}:{first}-{last}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::MappingConfig;
    use crate::event::{EventContext, TimestampType, envelope_len};
    use crate::invoke::Invoker;
    use serde_json::Value;
    use tokio::sync::mpsc::unbounded_channel;
    use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};

    pub(crate) fn rec(partition: i32, offset: i64) -> KafkaRecord {
        KafkaRecord {
            topic: "orders".into(),
            partition,
            offset,
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(format!("v{offset}").into_bytes().into()),
            headers: vec![],
        }
    }

    /// Waits (5 s at most) until `server` has received a request.
    pub(crate) async fn first_request(server: &MockServer) {
        let first_call = async {
            while server.received_requests().await.unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), first_call)
            .await
            .expect("the batch is invoked within 5 s");
    }

    /// A mapping with `extra` fields (JSON members) talking to `server`.
    pub(crate) fn shared(server: &MockServer, extra: &str) -> Arc<Shared> {
        let text = format!(
            r#"{{"FunctionName": "process", "Topics": ["orders"], "StartingPosition": "TRIM_HORIZON",
                "SelfManagedEventSource": {{"Endpoints": {{"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}}}},
                "ProvisionedPollerConfig": {{"MinimumPollers": 1, "MaximumPollers": 1}}{extra}}}"#
        );
        let config = MappingConfig::from_json(&text).unwrap();
        let ctx = EventContext {
            event_source: "SelfManagedKafka".into(),
            event_source_arn: None,
            bootstrap_servers: "127.0.0.1:9092".into(),
        };
        Arc::new(Shared {
            envelope_len: envelope_len(&ctx),
            ctx,
            invoker: Invoker::new(&server.uri(), "process", 5_000).unwrap(),
            producer: None,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:process".into(),
            config,
        })
    }

    /// `(partition, offset)` of every record of every request the server received, per request.
    pub(crate) async fn invoked(server: &MockServer) -> Vec<Vec<(i64, i64)>> {
        let requests: Vec<Request> = server.received_requests().await.unwrap();
        requests
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                let mut out = Vec::new();
                for list in v["records"].as_object().unwrap().values() {
                    for rec in list.as_array().unwrap() {
                        out.push((
                            rec["partition"].as_i64().unwrap(),
                            rec["offset"].as_i64().unwrap(),
                        ));
                    }
                }
                out
            })
            .collect()
    }

    /// Settles `records` (one partition, 0) as one batch; returns the partition's done offset.
    async fn settle_one(shared: Arc<Shared>, records: Vec<KafkaRecord>) -> i64 {
        let state = Arc::new(PartitionState::new(records[0].offset));
        let held = vec![Held {
            partition: 0,
            state: state.clone(),
            last_offset: records.last().unwrap().offset,
        }];
        let (tx, mut rx) = unbounded_channel();
        let settled = run(shared, Job::Invoke(records), held, tx);
        tokio::time::timeout(Duration::from_secs(10), settled)
            .await
            .expect("the batch settles within 10 s");
        let released = rx.recv().await.unwrap();
        assert_eq!(released.len(), 1);
        state.done.load(Ordering::SeqCst)
    }

    fn item_failures(offsets: &[i64]) -> ResponseTemplate {
        let items: Vec<Value> = offsets
            .iter()
            .map(|o| serde_json::json!({"itemIdentifier": {"partition": "orders-0", "offset": o}}))
            .collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "batchItemFailures": items }))
    }

    async fn mount(server: &MockServer, template: ResponseTemplate, times: Option<u64>) {
        let mock = Mock::given(matchers::method("POST")).respond_with(template);
        match times {
            Some(n) => mock.up_to_n_times(n).with_priority(1).mount(server).await,
            None => mock.with_priority(2).mount(server).await,
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn retries_until_the_maximum_then_gives_up() {
        assert_eq!(next_step(Some(2), 0, false, 5), Step::Retry);
        assert_eq!(next_step(Some(2), 1, false, 5), Step::Retry);
        assert_eq!(next_step(Some(2), 2, false, 5), Step::GiveUp);
        assert_eq!(next_step(Some(0), 0, false, 1), Step::GiveUp);
        assert_eq!(next_step(None, 10_000, false, 1), Step::Retry);
    }

    #[test]
    fn bisects_before_counting() {
        assert_eq!(next_step(Some(0), 0, true, 2), Step::Bisect);
        assert_eq!(next_step(Some(0), 0, true, 1), Step::GiveUp);
    }

    #[test]
    fn age_is_judged_per_record() {
        let now = 200_000;
        assert!(too_old(139_999, Some(60), now));
        assert!(!too_old(140_000, Some(60), now));
        assert!(!too_old(0, None, now));
        assert!(!too_old(-1, Some(60), now));
    }

    #[test]
    fn outcomes_map_to_verdicts() {
        let batch = vec![rec(0, 5), rec(0, 6)];
        let ok = Outcome::Success {
            status: 200,
            body: b"{}".to_vec(),
        };
        assert_eq!(verdict(&ok, &batch, false), Verdict::Done);
        assert_eq!(verdict(&Outcome::Timeout, &batch, false), Verdict::Failed);
        let error = Outcome::FunctionError {
            status: 500,
            error_type: None,
            body: Vec::new(),
        };
        assert_eq!(verdict(&error, &batch, true), Verdict::Failed);
        let throttled = Outcome::Throttled { body: Vec::new() };
        assert_eq!(verdict(&throttled, &batch, false), Verdict::Uncounted);
        let service = Outcome::ServiceError {
            status: None,
            detail: "refused".into(),
        };
        assert_eq!(verdict(&service, &batch, false), Verdict::Uncounted);
    }

    #[test]
    fn an_unreadable_item_failure_answer_fails_the_batch_saying_why() {
        let batch = vec![rec(0, 5)];
        let outcome = Outcome::Success {
            status: 200,
            body:
                br#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":9}}]}"#
                    .to_vec(),
        };
        assert_eq!(
            verdict(&outcome, &batch, true),
            Verdict::Unreadable(
                "itemIdentifier orders-0 offset 9 names no record of the batch".into()
            )
        );
    }

    #[test]
    fn a_partial_failure_names_only_the_failed_records() {
        let batch = vec![rec(0, 5), rec(0, 6), rec(0, 7), rec(1, 2)];
        let body =
            br#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":6}},
            {"itemIdentifier":{"partition":"orders-1","offset":2}}]}"#;
        let outcome = Outcome::Success {
            status: 200,
            body: body.to_vec(),
        };
        assert_eq!(
            verdict(&outcome, &batch, true),
            Verdict::Partial(vec![1, 3])
        );
        assert_eq!(verdict(&outcome, &batch, false), Verdict::Done);
        let offsets: Vec<i64> = keep_indices(batch, &[1, 3])
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [6, 2]);
    }

    #[test]
    fn offset_ranges_name_each_partition() {
        let batch = vec![rec(1, 3), rec(0, 5), rec(0, 9), rec(1, 4)];
        assert_eq!(offset_ranges(&batch), "orders-0:5-9,orders-1:3-4");
    }

    #[tokio::test]
    async fn only_the_failed_records_are_retried() {
        let server = MockServer::start().await;
        mount(&server, item_failures(&[1, 3]), Some(1)).await;
        mount(&server, ResponseTemplate::new(200), None).await;
        let shared = shared(
            &server,
            r#", "FunctionResponseTypes": ["ReportBatchItemFailures"]"#,
        );
        let done = settle_one(shared, (0..5).map(|o| rec(0, o)).collect()).await;
        assert_eq!(
            invoked(&server).await,
            [
                vec![(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)],
                vec![(0, 1), (0, 3)]
            ]
        );
        assert_eq!(done, 5);
    }

    #[tokio::test]
    async fn records_still_failing_when_retries_run_out_are_all_given_up() {
        let server = MockServer::start().await;
        mount(&server, item_failures(&[1, 3]), None).await;
        let shared = shared(
            &server,
            r#", "FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumRetryAttempts": 1"#,
        );
        let done = settle_one(shared, (0..5).map(|o| rec(0, o)).collect()).await;
        let calls = invoked(&server).await;
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[1], [(0, 1), (0, 3)]);
        assert_eq!(
            done, 5,
            "both failing records went on; nothing is invoked again"
        );
    }

    #[tokio::test]
    async fn an_identifier_outside_the_batch_fails_it_whole() {
        let server = MockServer::start().await;
        mount(&server, item_failures(&[99]), Some(1)).await;
        mount(&server, ResponseTemplate::new(200), None).await;
        let shared = shared(
            &server,
            r#", "FunctionResponseTypes": ["ReportBatchItemFailures"]"#,
        );
        settle_one(shared, (0..3).map(|o| rec(0, o)).collect()).await;
        let calls = invoked(&server).await;
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], calls[1], "the whole batch is retried");
    }

    #[tokio::test]
    async fn records_past_the_maximum_age_are_never_sent() {
        let server = MockServer::start().await;
        mount(&server, ResponseTemplate::new(200), None).await;
        let shared = shared(&server, r#", "MaximumRecordAgeInSeconds": 60"#);
        let mut old = rec(0, 0);
        old.timestamp_ms -= 3_600_000;
        let records = vec![old, rec(0, 1)];
        let done = settle_one(shared, records).await;
        assert_eq!(invoked(&server).await, [vec![(0, 1)]]);
        assert_eq!(done, 2);
    }

    #[tokio::test]
    async fn age_is_checked_before_each_retry_after_a_service_error() {
        let server = MockServer::start().await;
        mount(&server, ResponseTemplate::new(503), None).await;
        let shared = shared(&server, r#", "MaximumRecordAgeInSeconds": 60"#);
        let mut nearly_old = rec(0, 7);
        nearly_old.timestamp_ms -= 60_000 - 150;
        // Service errors are retried for ever; only the age check ends them.
        let done = settle_one(shared, vec![nearly_old]).await;
        let calls = invoked(&server).await;
        assert!(!calls.is_empty(), "sent while young");
        assert_eq!(done, 8);
    }

    #[tokio::test]
    async fn service_errors_and_throttles_do_not_count_as_attempts() {
        let server = MockServer::start().await;
        mount(&server, ResponseTemplate::new(502), Some(2)).await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(429))
            .up_to_n_times(1)
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .with_priority(3)
            .mount(&server)
            .await;
        let shared = shared(&server, r#", "MaximumRetryAttempts": 0"#);
        let done = settle_one(shared, vec![rec(0, 0)]).await;
        assert_eq!(invoked(&server).await.len(), 4, "502, 502, 429, then 200");
        assert_eq!(done, 1);
    }

    #[tokio::test]
    async fn bisected_halves_keep_each_partitions_order() {
        let server = MockServer::start().await;
        mount(
            &server,
            ResponseTemplate::new(500)
                .set_body_string(r#"{"errorMessage":"boom","errorType":"Error"}"#),
            Some(1),
        )
        .await;
        mount(&server, ResponseTemplate::new(200), None).await;
        let shared = shared(
            &server,
            r#", "BisectBatchOnFunctionError": true, "MaximumRetryAttempts": 0"#,
        );
        let records = vec![rec(0, 0), rec(0, 1), rec(1, 0), rec(1, 1)];
        let states: Vec<Arc<PartitionState>> =
            (0..2).map(|_| Arc::new(PartitionState::new(0))).collect();
        let held = (0..2)
            .map(|p| Held {
                partition: p,
                state: states[p as usize].clone(),
                last_offset: 1,
            })
            .collect();
        let (tx, _rx) = unbounded_channel();
        run(shared, Job::Invoke(records), held, tx).await;
        assert_eq!(
            invoked(&server).await,
            [
                vec![(0, 0), (0, 1), (1, 0), (1, 1)],
                vec![(0, 0), (0, 1)],
                vec![(1, 0), (1, 1)]
            ]
        );
        assert!(states.iter().all(|s| s.done.load(Ordering::SeqCst) == 2));
    }

    #[tokio::test]
    async fn a_stopped_partition_is_let_go_during_a_backoff() {
        let server = MockServer::start().await;
        mount(&server, ResponseTemplate::new(503), None).await;
        let shared = shared(&server, "");
        let state = Arc::new(PartitionState::new(4));
        assert!(state.try_set_busy());
        let held = vec![Held {
            partition: 0,
            state: state.clone(),
            last_offset: 5,
        }];
        let (tx, _rx) = unbounded_channel();
        let task = tokio::spawn(run(
            shared,
            Job::Invoke(vec![rec(0, 4), rec(0, 5)]),
            held,
            tx,
        ));
        first_request(&server).await;
        state.stop();
        tokio::time::timeout(Duration::from_secs(2), state.wait_idle())
            .await
            .expect("the revoke is not kept waiting by the backoff");
        task.await.unwrap();
        assert_eq!(
            state.done.load(Ordering::SeqCst),
            4,
            "nothing done, nothing committed"
        );
    }
}
