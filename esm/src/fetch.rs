//! The poller's fetch queue: the records of every assigned partition, read many at a time.
//!
//! Why: `BaseConsumer::poll` hands out one message a call, and each call pays librdkafka's poll
//! bookkeeping (clock reads for `max.poll.interval.ms`, a queue lock, an event wrapper). At
//! hundreds of thousands of records a second that was a fifth of the poll thread. librdkafka
//! lets an application forward a partition's queue to a queue of its own
//! (`rd_kafka_queue_forward`), which `rd_kafka_consume_batch_queue` drains in one call. The
//! consumer queue keeps rebalances, commit results and client errors, and `BaseConsumer::poll`
//! still serves it.
//!
//! A forward the application sets is kept across every later assignment of the partition:
//! librdkafka's fetch start leaves a queue flagged `RD_KAFKA_Q_F_FWD_APP` alone. Forwarding in
//! the rebalance callback, before `assign`, therefore sends no record of the new assignment to
//! the consumer queue; records already queued move over in order (`rd_kafka_q_concat`).
//! Records of an assignment that was revoked are dropped by librdkafka's version check, as on
//! the consumer queue.

use crate::event::{KafkaRecord, TimestampType};
use bytes::Bytes;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

/// Messages taken from librdkafka per call.
pub const READ_MAX_RECORDS: usize = 1_000;

/// A queue of the application that assigned partitions are forwarded to.
///
/// Must be dropped before the client it was made from (it holds librdkafka references into
/// it); the poller drops it before the consumer.
pub struct FetchQueue {
    queue: NonNull<rd::rd_kafka_queue_t>,
    topic: Arc<str>,
    topic_c: CString,
}

// SAFETY: librdkafka queues are thread-safe; the handle is only destroyed in `drop`.
unsafe impl Send for FetchQueue {}
// SAFETY: as above; every call through `&self` is one of librdkafka's thread-safe queue calls.
unsafe impl Sync for FetchQueue {}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("topic {0:?} holds a NUL byte")]
    TopicName(String),
    #[error("librdkafka has no queue for {topic} partition {partition}")]
    NoPartitionQueue { topic: String, partition: i32 },
    #[error("librdkafka could not create a queue")]
    NoQueue,
}

impl FetchQueue {
    pub fn new<C: ClientContext>(client: &Client<C>, topic: &str) -> Result<Self, FetchError> {
        let topic_c = CString::new(topic).map_err(|_| FetchError::TopicName(topic.into()))?;
        // SAFETY: the client pointer is valid while `client` lives.
        let raw = unsafe { rd::rd_kafka_queue_new(client.native_ptr()) };
        let queue = NonNull::new(raw).ok_or(FetchError::NoQueue)?;
        Ok(FetchQueue {
            queue,
            topic: topic.into(),
            topic_c,
        })
    }

    /// Sends `partition`'s records here from now on, including in later assignments.
    pub fn route<C: ClientContext>(
        &self,
        client: &Client<C>,
        partition: i32,
    ) -> Result<(), FetchError> {
        // SAFETY: valid client pointer and NUL-terminated topic; librdkafka copies what it keeps.
        let raw = unsafe {
            rd::rd_kafka_queue_get_partition(client.native_ptr(), self.topic_c.as_ptr(), partition)
        };
        let Some(partition_queue) = NonNull::new(raw) else {
            return Err(FetchError::NoPartitionQueue {
                topic: self.topic.to_string(),
                partition,
            });
        };
        // SAFETY: both handles are valid; the forward holds its own reference to our queue, and
        // destroying the partition handle (not its owner) only drops the handle's reference.
        unsafe {
            rd::rd_kafka_queue_forward(partition_queue.as_ptr(), self.queue.as_ptr());
            rd::rd_kafka_queue_destroy(partition_queue.as_ptr());
        }
        Ok(())
    }

    /// Waits up to `timeout` for the first record, then takes what is queued, at most
    /// `READ_MAX_RECORDS`; hands each record (or per-partition error) to `each`. Returns how
    /// many messages were taken.
    pub fn read(
        &self,
        timeout: Duration,
        mut each: impl FnMut(Result<KafkaRecord, KafkaError>),
    ) -> usize {
        let mut messages: [*mut rd::rd_kafka_message_t; READ_MAX_RECORDS] =
            [std::ptr::null_mut(); READ_MAX_RECORDS];
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the array holds READ_MAX_RECORDS slots; librdkafka fills the first `n`.
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout_ms,
                messages.as_mut_ptr(),
                READ_MAX_RECORDS,
            )
        };
        let n = usize::try_from(n).unwrap_or(0).min(READ_MAX_RECORDS);
        let mut start = 0;
        while start < n {
            // SAFETY: librdkafka returned `n` valid messages, each ours to destroy once.
            let end = start + unsafe { run_len(&messages[start..n]) };
            let run = &messages[start..end];
            // SAFETY: as above; each message is destroyed right after its record is made.
            unsafe {
                let mut values = Values::of(run);
                for &message in run {
                    each(to_record(message, &self.topic, &mut values));
                    rd::rd_kafka_message_destroy(message);
                }
            }
            start = end;
        }
        n
    }
}

/// How many messages from the first share its partition.
///
/// # Safety
/// Every pointer must be a valid message.
unsafe fn run_len(messages: &[*mut rd::rd_kafka_message_t]) -> usize {
    let Some(&first) = messages.first() else {
        return 0;
    };
    // SAFETY: per the contract.
    let partition = unsafe { (*first).partition };
    messages
        .iter()
        // SAFETY: per the contract.
        .take_while(|&&m| unsafe { (*m).partition } == partition)
        .count()
}

/// The values of a run of one partition's messages, copied into one buffer that their records
/// share: one allocation (and one free, on another thread) per run instead of per record. A
/// buffer lives until the last of its records is settled; runs never mix partitions, so a slow
/// partition holds only its own.
struct Values {
    buffer: Bytes,
    at: usize,
}

impl Values {
    /// # Safety
    /// Every pointer must be a valid message.
    unsafe fn of(run: &[*mut rd::rd_kafka_message_t]) -> Values {
        // SAFETY: per the contract.
        let payloads = || run.iter().filter_map(|&m| unsafe { payload(m) });
        let mut buffer = Vec::with_capacity(payloads().map(<[u8]>::len).sum());
        payloads().for_each(|p| buffer.extend_from_slice(p));
        Values {
            buffer: Bytes::from(buffer),
            at: 0,
        }
    }

    /// The next message's value, in run order; `None` for a tombstone or an error.
    ///
    /// # Safety
    /// `m` must be the next message of the run `of` was given.
    unsafe fn next(&mut self, m: *mut rd::rd_kafka_message_t) -> Option<Bytes> {
        // SAFETY: per the contract.
        let len = unsafe { payload(m) }?.len();
        let value = self.buffer.slice(self.at..self.at + len);
        self.at += len;
        Some(value)
    }
}

/// A record's value: `None` for a tombstone (a null payload) and for an error message, whose
/// payload is the error text. An empty value is a non-null pointer of length 0.
///
/// # Safety
/// `m` must be a valid message.
unsafe fn payload<'a>(m: *mut rd::rd_kafka_message_t) -> Option<&'a [u8]> {
    // SAFETY: per the contract.
    let msg = unsafe { &*m };
    if msg.err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
        return None;
    }
    // SAFETY: librdkafka's pointer and length describe a live buffer of the message.
    unsafe { raw_slice(msg.payload, msg.len) }
}

/// # Safety
/// `ptr` must be null or point to `len` bytes that stay readable for `'a`.
unsafe fn raw_slice<'a>(ptr: *const c_void, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: per the contract.
    Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

impl Drop for FetchQueue {
    fn drop(&mut self) {
        // SAFETY: the handle was made by `rd_kafka_queue_new` and is destroyed once.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) };
    }
}

/// The record of a message `BaseConsumer::poll` handed out: one of a partition that could not be
/// routed here. The same conversion as for the fetch queue's messages.
pub fn record_of(m: &BorrowedMessage<'_>, topic: &Arc<str>) -> Result<KafkaRecord, KafkaError> {
    let ptr = m.ptr();
    // SAFETY: the message lives as long as `m`, and is the only one of its run.
    unsafe { to_record(ptr, topic, &mut Values::of(&[ptr])) }
}

/// Copies one message into a record, its value taken from `values`; the message stays owned by
/// the caller.
///
/// # Safety
/// `m` must be a valid message from librdkafka, not yet destroyed, and the next of `values`'s run.
unsafe fn to_record(
    m: *mut rd::rd_kafka_message_t,
    topic: &Arc<str>,
    values: &mut Values,
) -> Result<KafkaRecord, KafkaError> {
    // SAFETY: per the contract, `m` is valid for reads.
    let msg = unsafe { &*m };
    if msg.err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(KafkaError::MessageConsumption(RDKafkaErrorCode::from(
            msg.err,
        )));
    }
    let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    // SAFETY: valid message; `kind` is written before it is read.
    let ts = unsafe { rd::rd_kafka_message_timestamp(m, &mut kind) };
    let (timestamp_ms, timestamp_type) = match kind {
        rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME => {
            (ts, TimestampType::LogAppendTime)
        }
        rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_CREATE_TIME => {
            (ts, TimestampType::CreateTime)
        }
        rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => {
            (-1, TimestampType::CreateTime)
        }
    };
    Ok(KafkaRecord {
        topic: topic.clone(),
        partition: msg.partition,
        offset: msg.offset,
        timestamp_ms,
        timestamp_type,
        // SAFETY: librdkafka's pointers and lengths describe live buffers of the message.
        key: unsafe { bytes(msg.key, msg.key_len) },
        // SAFETY: `m` is the next message of the run.
        value: unsafe { values.next(m) },
        // SAFETY: valid message.
        headers: unsafe { headers(m) },
    })
}

/// # Safety
/// `ptr` must be null or point to `len` readable bytes.
unsafe fn bytes(ptr: *const c_void, len: usize) -> Option<Vec<u8>> {
    // SAFETY: per the contract.
    unsafe { raw_slice(ptr, len) }.map(<[u8]>::to_vec)
}

/// # Safety
/// `m` must be a valid message.
unsafe fn headers(m: *mut rd::rd_kafka_message_t) -> Vec<(String, Vec<u8>)> {
    let mut hdrs: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
    // SAFETY: valid message; librdkafka keeps the parsed headers with the message.
    let err = unsafe { rd::rd_kafka_message_headers(m, &mut hdrs) };
    if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR || hdrs.is_null() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for idx in 0.. {
        let mut name: *const c_char = std::ptr::null();
        let mut value: *const c_void = std::ptr::null();
        let mut size = 0usize;
        // SAFETY: `hdrs` lives as long as the message; out-pointers are valid.
        let err =
            unsafe { rd::rd_kafka_header_get_all(hdrs, idx, &mut name, &mut value, &mut size) };
        if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            break;
        }
        // SAFETY: librdkafka's header names are NUL-terminated; the value is `size` bytes.
        let key = unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above; a null value is a header without one.
        let value = unsafe { bytes(value, size) }.unwrap_or_default();
        out.push((key, value));
    }
    out
}
