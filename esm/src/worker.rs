//! One partition's pipeline: buffer, cut batches, invoke with retries, bisection and partial
//! failures, hand exhausted records to the on-failure destination, and publish the offset up to
//! which everything is done (the commit position). The poll thread owns the Kafka consumer; a
//! worker only ever talks to the function and the destination producer.
//!
//! Choices where AWS documents nothing (ESM-SPEC "(undocumented)"):
//! - A batch holds one partition only; partitions run as independent workers.
//! - Splitting a failing batch (BisectBatchOnFunctionError) does not count as a retry; the halves
//!   inherit the parent's retry count, so a poison record alone gets 1 + MaximumRetryAttempts
//!   invocations. A partial failure (ReportBatchItemFailures) is a counted failed attempt of the
//!   remainder, which is retried whole (not bisected).
//! - MaximumRecordAgeInSeconds is checked after a failed attempt (before a retry): when the oldest
//!   record of the failing (sub)batch is older, the whole (sub)batch goes to the destination with
//!   RecordAgeExceeded.
//! - When retries after a partial failure are exhausted, only the lowest failed record goes to
//!   the destination; the records after it are retried as a fresh batch.
//! - Throttles and transport errors are retried with backoff and never counted.

use crate::batch::{bisect, take_batch};
use crate::config::MappingConfig;
use crate::destination::{FailureCondition, FailureInfo, failure_record};
use crate::event::{
    EventContext, KafkaRecord, PAYLOAD_LIMIT_BYTES, encode_event, record_encoded_len,
};
use crate::filter::passes;
use crate::invoke::{Invoker, Outcome};
use crate::response::{BatchVerdict, interpret};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};

/// First pause after a failed or throttled attempt; doubles up to [`BACKOFF_MAX_MS`].
pub const BACKOFF_FIRST_MS: u64 = 100;
pub const BACKOFF_MAX_MS: u64 = 5_000;
/// How long one destination write may wait for the broker's acknowledgement.
pub const DESTINATION_SEND_TIMEOUT_MS: u64 = 30_000;

/// What every worker of a poller shares.
pub struct Shared {
    pub config: MappingConfig,
    pub ctx: EventContext,
    pub invoker: Invoker,
    pub producer: Option<FutureProducer>,
    pub function_arn: String,
    pub envelope_len: usize,
}

/// A partition's state as seen by both the worker and the poll thread.
#[derive(Debug)]
pub struct PartitionState {
    /// The next offset not yet done (the commit position); -1 while unknown.
    pub done: AtomicI64,
    /// Records handed to the worker and not yet cut into a batch (backpressure).
    pub buffered_records: AtomicUsize,
    pub buffered_bytes: AtomicUsize,
    stop: AtomicBool,
    stop_notify: Notify,
}

impl PartitionState {
    pub fn new(start_offset: i64) -> Self {
        PartitionState {
            done: AtomicI64::new(start_offset),
            buffered_records: AtomicUsize::new(0),
            buffered_bytes: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            stop_notify: Notify::new(),
        }
    }

    /// Asks the worker to start no new invocation; the one in flight finishes.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_notify.notify_waiters();
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    async fn wait_stop(&self) {
        loop {
            let notified = self.stop_notify.notified();
            if self.stopped() {
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
        + r.value.as_ref().map_or(0, Vec::len)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
}

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
    GiveUp(FailureCondition),
}

/// The decision after a counted failure of a (sub)batch of `len` records that has already been
/// retried `retries` times. `max_retries` `None` = unbounded.
pub fn next_step(
    max_retries: Option<u32>,
    retries: u32,
    bisect_allowed: bool,
    len: usize,
    age_exceeded: bool,
) -> Step {
    if age_exceeded {
        Step::GiveUp(FailureCondition::RecordAgeExceeded)
    } else if bisect_allowed && len > 1 {
        Step::Bisect
    } else if max_retries.is_some_and(|m| retries >= m) {
        Step::GiveUp(FailureCondition::RetryAttemptsExhausted)
    } else {
        Step::Retry
    }
}

/// Whether the oldest of `timestamps_ms` is older than `max_age_s` at `now_ms`.
pub fn age_exceeded(
    timestamps_ms: impl Iterator<Item = i64>,
    max_age_s: Option<u64>,
    now_ms: i64,
) -> bool {
    let Some(max_age_s) = max_age_s else {
        return false;
    };
    let oldest = timestamps_ms.filter(|t| *t >= 0).min();
    oldest.is_some_and(|t| now_ms.saturating_sub(t) > (max_age_s as i64).saturating_mul(1000))
}

/// How an answer settles a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Records before this index are done; the rest failed (a counted failure).
    Partial(usize),
    Failed,
    /// Throttled or no answer: retry, not counted.
    Uncounted,
}

/// The verdict for `outcome` on `batch` (one partition).
pub fn verdict(outcome: &Outcome, batch: &[KafkaRecord], report_item_failures: bool) -> Verdict {
    match outcome {
        Outcome::Success { body } if report_item_failures => match interpret(body, batch) {
            BatchVerdict::AllSucceeded => Verdict::Done,
            BatchVerdict::AllFailed { .. } => Verdict::Failed,
            BatchVerdict::Partial { lowest_failed } => {
                let first = &batch[0];
                match lowest_failed.get(&(first.topic.to_string(), first.partition)) {
                    None => Verdict::Done,
                    Some(&lowest) => {
                        let idx = batch
                            .iter()
                            .position(|r| r.offset >= lowest)
                            .unwrap_or(batch.len());
                        if idx >= batch.len() {
                            Verdict::Done
                        } else {
                            Verdict::Partial(idx)
                        }
                    }
                }
            }
        },
        Outcome::Success { .. } => Verdict::Done,
        Outcome::FunctionError { .. } | Outcome::Timeout => Verdict::Failed,
        Outcome::Throttled | Outcome::Transport(_) => Verdict::Uncounted,
    }
}

/// The worker was asked to stop; what is not done stays uncommitted.
#[derive(Debug)]
struct Stopped;

enum Settled {
    Done,
    Split(Vec<KafkaRecord>, Vec<KafkaRecord>, u32),
    /// The first record was given up; the rest starts afresh.
    Rest(Vec<KafkaRecord>),
}

pub struct Worker {
    shared: Arc<Shared>,
    state: Arc<PartitionState>,
    partition: i32,
    rx: UnboundedReceiver<Vec<KafkaRecord>>,
    buffer: VecDeque<KafkaRecord>,
    /// `record_encoded_len` of each buffered record, computed once on arrival.
    buffer_lens: VecDeque<usize>,
    buffer_encoded_bytes: usize,
    first_arrival: Option<Instant>,
    /// Offset after the last record received; older ones are duplicates after a re-assign.
    next_expected: i64,
}

impl Worker {
    pub fn new(
        shared: Arc<Shared>,
        state: Arc<PartitionState>,
        partition: i32,
        rx: UnboundedReceiver<Vec<KafkaRecord>>,
    ) -> Self {
        let next_expected = state.done.load(Ordering::SeqCst);
        Worker {
            shared,
            state,
            partition,
            rx,
            buffer: VecDeque::new(),
            buffer_lens: VecDeque::new(),
            buffer_encoded_bytes: 0,
            first_arrival: None,
            next_expected,
        }
    }

    pub async fn run(mut self) {
        while self.fill().await {
            let cfg = &self.shared.config;
            let taken = take_batch(
                &mut self.buffer,
                cfg.batch_size,
                self.shared.envelope_len,
                PAYLOAD_LIMIT_BYTES,
            );
            let result = match taken {
                Ok(batch) => {
                    self.account_taken(&batch);
                    self.process(batch).await
                }
                Err(record) => {
                    self.account_taken(std::slice::from_ref(&record));
                    self.publish(record.offset);
                    self.give_up(
                        &[record],
                        FailureCondition::MaximumPayloadSizeExceeded,
                        0,
                        None,
                    )
                    .await
                }
            };
            if result.is_err() {
                break;
            }
            self.first_arrival = (!self.buffer.is_empty()).then(Instant::now);
            self.publish_idle();
        }
    }

    /// Waits until a batch can be cut; `false` when the worker must stop.
    async fn fill(&mut self) -> bool {
        let window = Duration::from_millis(self.shared.config.batching_window_ms);
        loop {
            if self.state.stopped() {
                return false;
            }
            let limit = PAYLOAD_LIMIT_BYTES.saturating_sub(self.shared.envelope_len);
            if let Some(first) = self.first_arrival
                && (self.buffer.len() >= self.shared.config.batch_size
                    || self.buffer_encoded_bytes >= limit
                    || first.elapsed() >= window)
            {
                return true;
            }
            let deadline = self
                .first_arrival
                .map(|f| tokio::time::Instant::from_std(f + window));
            tokio::select! {
                biased;
                _ = self.state.wait_stop() => return false,
                got = self.rx.recv() => match got {
                    Some(records) => {
                        self.accept(records);
                        while self.buffer.len() < self.shared.config.batch_size {
                            match self.rx.try_recv() {
                                Ok(more) => self.accept(more),
                                Err(_) => break,
                            }
                        }
                        self.publish_idle();
                    }
                    None => return false,
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => return true,
            }
        }
    }

    fn accept(&mut self, records: Vec<KafkaRecord>) {
        let (mut dropped, mut dropped_bytes) = (0, 0);
        for r in records {
            if r.offset < self.next_expected {
                dropped += 1;
                dropped_bytes += record_mem_bytes(&r);
                continue;
            }
            self.next_expected = r.offset + 1;
            if !passes(&self.shared.config.filters, r.value.as_deref()) {
                dropped += 1;
                dropped_bytes += record_mem_bytes(&r);
                continue;
            }
            let len = record_encoded_len(&r);
            self.buffer_encoded_bytes += len;
            self.buffer_lens.push_back(len);
            self.buffer.push_back(r);
            if self.first_arrival.is_none() {
                self.first_arrival = Some(Instant::now());
            }
        }
        self.state.take_buffered(dropped, dropped_bytes);
    }

    fn account_taken(&mut self, batch: &[KafkaRecord]) {
        let encoded: usize = self.buffer_lens.drain(..batch.len()).sum();
        self.buffer_encoded_bytes = self.buffer_encoded_bytes.saturating_sub(encoded);
        let mem: usize = batch.iter().map(record_mem_bytes).sum();
        self.state.take_buffered(batch.len(), mem);
    }

    /// Everything below `offset` is done.
    fn publish(&self, offset: i64) {
        self.state.done.fetch_max(offset, Ordering::SeqCst);
    }

    /// Nothing in flight: done up to the first buffered record, or all received.
    fn publish_idle(&self) {
        match self.buffer.front() {
            Some(r) => self.publish(r.offset),
            None if self.next_expected >= 0 => self.publish(self.next_expected),
            None => {}
        }
    }

    async fn process(&mut self, batch: Vec<KafkaRecord>) -> Result<(), Stopped> {
        let mut work = VecDeque::from([(batch, 0u32)]);
        while let Some((records, retries)) = work.pop_front() {
            self.publish(records[0].offset);
            match self.settle(records, retries).await? {
                Settled::Done => {}
                Settled::Split(first, second, retries) => {
                    work.push_front((second, retries));
                    work.push_front((first, retries));
                }
                Settled::Rest(rest) => work.push_front((rest, 0)),
            }
        }
        Ok(())
    }

    /// Invokes `records` until they succeed, split, or are given up.
    async fn settle(
        &mut self,
        mut records: Vec<KafkaRecord>,
        mut retries: u32,
    ) -> Result<Settled, Stopped> {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut backoff = Backoff::default();
        let mut attempt = 0u32;
        loop {
            if self.state.stopped() {
                return Err(Stopped);
            }
            attempt += 1;
            let outcome = shared
                .invoker
                .invoke(encode_event(&shared.ctx, &records))
                .await;
            let v = verdict(&outcome, &records, cfg.report_batch_item_failures);
            self.log_batch(&records, attempt, retries, &outcome, &v);
            let partial = matches!(v, Verdict::Partial(_));
            let bisect_allowed = match v {
                Verdict::Done => return Ok(Settled::Done),
                Verdict::Uncounted => {
                    self.pause(backoff.next_delay()).await?;
                    continue;
                }
                Verdict::Partial(idx) => {
                    records.drain(..idx);
                    self.publish(records[0].offset);
                    false
                }
                Verdict::Failed => cfg.bisect_batch_on_function_error,
            };
            let now_ms = chrono::Utc::now().timestamp_millis();
            let old = age_exceeded(
                records.iter().map(|r| r.timestamp_ms),
                cfg.max_record_age_s,
                now_ms,
            );
            #[cfg(feature = "defects")]
            let old = old && !crate::defects::active(crate::defects::Defect::IgnoreRecordAge);
            match next_step(
                cfg.effective_max_retries(),
                retries,
                bisect_allowed,
                records.len(),
                old,
            ) {
                Step::Retry => {
                    retries += 1;
                    self.pause(backoff.next_delay()).await?;
                }
                Step::Bisect => {
                    let (a, b) = bisect(&records).expect("a batch of 2 or more records splits");
                    return Ok(Settled::Split(a, b, retries));
                }
                Step::GiveUp(condition) if partial && records.len() > 1 => {
                    // Only the record the function named is given up; the records after it
                    // were not reported as failed, so they get their own attempts.
                    let rest = records.split_off(1);
                    self.give_up(&records, condition, retries + 1, Some(&outcome))
                        .await?;
                    return Ok(Settled::Rest(rest));
                }
                Step::GiveUp(condition) => {
                    self.give_up(&records, condition, retries + 1, Some(&outcome))
                        .await?;
                    return Ok(Settled::Done);
                }
            }
        }
    }

    fn log_batch(
        &self,
        records: &[KafkaRecord],
        attempt: u32,
        retries: u32,
        outcome: &Outcome,
        v: &Verdict,
    ) {
        let label = match (outcome, v) {
            (Outcome::Success { .. }, Verdict::Partial(_)) => "partial_failure",
            (Outcome::Success { .. }, Verdict::Failed) => "batch_failure",
            _ => outcome.label(),
        };
        let first = &records[0];
        let last = &records[records.len() - 1];
        if let Outcome::Transport(why) = outcome {
            warn!(event = "invoke_error", partition = self.partition, error = %why, "function endpoint unreachable; retrying");
        }
        info!(
            event = "batch",
            topic = %first.topic,
            partition = self.partition,
            first_offset = first.offset,
            last_offset = last.offset,
            records = records.len(),
            attempt,
            retries,
            outcome = label,
        );
    }

    /// Sleeps `d` unless told to stop.
    async fn pause(&self, d: Duration) -> Result<(), Stopped> {
        tokio::select! {
            _ = self.state.wait_stop() => Err(Stopped),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// Retries are over: each record goes to the destination (or is dropped with a log line
    /// without one); only then is it done.
    async fn give_up(
        &self,
        records: &[KafkaRecord],
        condition: FailureCondition,
        invoke_count: u32,
        last: Option<&Outcome>,
    ) -> Result<(), Stopped> {
        let (status_code, function_error) = match last {
            None => (None, None),
            Some(Outcome::FunctionError { status, error_type }) => {
                (Some(*status), error_type.clone())
            }
            Some(Outcome::Timeout) => (Some(200), Some("Unhandled".to_string())),
            Some(_) => (Some(200), None),
        };
        let info = FailureInfo {
            condition,
            approximate_invoke_count: invoke_count,
            function_arn: self.shared.function_arn.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            status_code,
            function_error,
            timestamp: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
        };
        for r in records {
            let destination = match (&self.shared.producer, &self.shared.config.destination_topic) {
                (Some(producer), Some(topic)) => {
                    self.write_destination(producer, topic, r, &info).await?;
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
            self.publish(r.offset + 1);
        }
        Ok(())
    }

    /// Writes one failure record, retrying until the broker acknowledges it (acks=all) or the
    /// worker is stopped: a record is never skipped before its failure record is stored.
    async fn write_destination(
        &self,
        producer: &FutureProducer,
        topic: &str,
        record: &KafkaRecord,
        info: &FailureInfo,
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
                    self.pause(backoff.next_delay()).await?;
                }
            }
        }
    }
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
    use crate::event::TimestampType;

    fn rec(offset: i64) -> KafkaRecord {
        KafkaRecord {
            topic: "orders".into(),
            partition: 0,
            offset,
            timestamp_ms: 1_000,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: Some(b"v".to_vec()),
            headers: vec![],
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
        assert_eq!(next_step(Some(2), 0, false, 5, false), Step::Retry);
        assert_eq!(next_step(Some(2), 1, false, 5, false), Step::Retry);
        assert_eq!(
            next_step(Some(2), 2, false, 5, false),
            Step::GiveUp(FailureCondition::RetryAttemptsExhausted)
        );
        assert_eq!(
            next_step(Some(0), 0, false, 1, false),
            Step::GiveUp(FailureCondition::RetryAttemptsExhausted)
        );
        assert_eq!(next_step(None, 10_000, false, 1, false), Step::Retry);
    }

    #[test]
    fn bisects_before_counting_and_age_wins() {
        assert_eq!(next_step(Some(0), 0, true, 2, false), Step::Bisect);
        assert_eq!(
            next_step(Some(0), 0, true, 1, false),
            Step::GiveUp(FailureCondition::RetryAttemptsExhausted)
        );
        assert_eq!(
            next_step(None, 0, true, 4, true),
            Step::GiveUp(FailureCondition::RecordAgeExceeded)
        );
    }

    #[test]
    fn age_is_judged_by_the_oldest_record() {
        let now = 200_000;
        assert!(age_exceeded([100_000, 199_000].into_iter(), Some(60), now));
        assert!(!age_exceeded([150_000, 199_000].into_iter(), Some(60), now));
        assert!(!age_exceeded([0].into_iter(), None, now));
        assert!(!age_exceeded([-1].into_iter(), Some(60), now));
    }

    #[test]
    fn outcomes_map_to_verdicts() {
        let batch = vec![rec(5), rec(6)];
        let ok = Outcome::Success {
            body: b"{}".to_vec(),
        };
        assert_eq!(verdict(&ok, &batch, false), Verdict::Done);
        assert_eq!(verdict(&Outcome::Timeout, &batch, false), Verdict::Failed);
        assert_eq!(
            verdict(
                &Outcome::FunctionError {
                    status: 500,
                    error_type: None
                },
                &batch,
                true
            ),
            Verdict::Failed
        );
        assert_eq!(
            verdict(&Outcome::Throttled, &batch, false),
            Verdict::Uncounted
        );
        assert_eq!(
            verdict(&Outcome::Transport("refused".into()), &batch, false),
            Verdict::Uncounted
        );
    }

    #[test]
    fn partial_failure_keeps_the_records_before_the_lowest_failed() {
        let batch = vec![rec(5), rec(6), rec(7)];
        let body =
            br#"{"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":6}}]}"#;
        let outcome = Outcome::Success {
            body: body.to_vec(),
        };
        assert_eq!(verdict(&outcome, &batch, true), Verdict::Partial(1));
        assert_eq!(verdict(&outcome, &batch, false), Verdict::Done);
    }

    #[test]
    fn stop_is_seen_by_a_waiter_created_before_it() {
        let state = PartitionState::new(3);
        assert!(!state.stopped());
        state.stop();
        assert!(state.stopped());
        assert_eq!(state.done.load(Ordering::SeqCst), 3);
    }
}
