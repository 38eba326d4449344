//! Gives a Kafka client back its bootstrap servers when it is left with no broker to talk to.
//!
//! Why: since librdkafka 2.10 a Metadata response drops every broker it does not list, the
//! bootstrap servers included. A broker in controlled shutdown answers Metadata without itself,
//! so a client that asks a single broker during a graceful restart is left with no broker at
//! all, and its re-bootstrap timer stopped: it never connects again
//! (confluentinc/librdkafka#5301, open against 2.13; this build bundles 2.12.1). A restart of
//! the only broker stranded the consumer or the harness's producer about once in 25 runs of
//! `broker_failure.feature`'s restart under load.
//!
//! The remedy is what librdkafka's own re-bootstrap would do: add the bootstrap servers again.
//! It is done only when the client has learned no broker and has no usable one, because
//! re-adding them beside a connected broker at the same address would open a second connection
//! that the next Metadata response closes again. A client that knows a broker costs a look an
//! atomic load and one list copy; no request is sent.

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Watches one or more clients of the same cluster; cheap to call often (rate-limited).
#[derive(Debug)]
pub struct Rebootstrap {
    servers: CString,
    started: Instant,
    interval_ms: u64,
    /// Milliseconds after `started` of the last look, `u64::MAX` before the first.
    last_check_ms: AtomicU64,
}

impl Rebootstrap {
    /// Refuses a list with a NUL byte, as librdkafka would have refused it already.
    pub fn new(bootstrap_servers: &str, interval: Duration) -> Result<Rebootstrap, KafkaError> {
        let servers = CString::new(bootstrap_servers).map_err(|_| {
            KafkaError::ClientCreation(format!(
                "bootstrap servers {bootstrap_servers:?} hold a NUL byte"
            ))
        })?;
        Ok(Rebootstrap {
            servers,
            started: Instant::now(),
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            last_check_ms: AtomicU64::new(u64::MAX),
        })
    }

    /// Whether a look is due; claims it, so concurrent callers look once.
    pub fn due(&self) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last_ms = self.last_check_ms.load(Ordering::Relaxed);
        let due = last_ms == u64::MAX || now_ms.saturating_sub(last_ms) >= self.interval_ms;
        due && self
            .last_check_ms
            .compare_exchange(last_ms, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// If a look is due and `client` has learned no broker and has no usable one, adds the
    /// bootstrap servers again. Returns whether it did.
    pub fn check<C: ClientContext>(&self, client: &Client<C>) -> bool {
        if !self.due() || learned_brokers(client) > 0 || has_usable_broker(client) {
            return false;
        }
        // SAFETY: the client pointer is valid while `client` lives; the list is NUL-terminated
        // and librdkafka copies it.
        let added = unsafe { rd::rd_kafka_brokers_add(client.native_ptr(), self.servers.as_ptr()) };
        tracing::warn!(
            event = "rebootstrap",
            servers = %self.servers.to_string_lossy(),
            added,
            "the Kafka client had no usable broker; its bootstrap servers were added again"
        );
        true
    }
}

/// How many brokers the client learned from Metadata responses and still keeps.
pub fn learned_brokers<C: ClientContext>(client: &Client<C>) -> usize {
    let mut count = 0usize;
    // SAFETY: the client pointer is valid while `client` lives; librdkafka mallocs the list for
    // this call, and it is freed once with librdkafka's own free.
    unsafe {
        let ids = rd::rd_kafka_brokers_learned_ids(client.native_ptr(), &mut count);
        if !ids.is_null() {
            rd::rd_kafka_mem_free(client.native_ptr(), ids.cast());
        }
    }
    count
}

/// Whether librdkafka has a broker connection that is up: `rd_kafka_metadata` with no wait
/// returns `__TRANSPORT` at once when it has none, and otherwise sends one Metadata request for
/// the topics the client already knows, whose answer it handles as any other.
pub fn has_usable_broker<C: ClientContext>(client: &Client<C>) -> bool {
    let mut metadata: *const rd::rd_kafka_metadata_t = std::ptr::null();
    // SAFETY: the client pointer is valid while `client` lives; a metadata result is freed once.
    let err = unsafe {
        rd::rd_kafka_metadata(
            client.native_ptr(),
            0,
            std::ptr::null_mut(),
            &mut metadata,
            0,
        )
    };
    if !metadata.is_null() {
        // SAFETY: librdkafka allocated it for this call and nothing else holds it.
        unsafe { rd::rd_kafka_metadata_destroy(metadata) };
    }
    err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, Producer};

    fn unreachable_producer() -> BaseProducer {
        // Port 1 on loopback: nothing listens, so the client never has a usable broker.
        ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("log_level", "0")
            .create()
            .expect("a producer needs no connection to be created")
    }

    #[test]
    fn a_client_with_no_usable_broker_gets_its_bootstrap_servers_again() {
        let producer = unreachable_producer();
        assert_eq!(learned_brokers(producer.client()), 0);
        assert!(!has_usable_broker(producer.client()));
        let watch = Rebootstrap::new("127.0.0.1:1", Duration::from_secs(3_600)).unwrap();
        assert!(watch.check(producer.client()), "the first look is due");
        assert!(
            !watch.check(producer.client()),
            "the next look waits for the interval"
        );
    }

    #[test]
    fn looks_are_rate_limited_and_claimed_once() {
        let watch = Rebootstrap::new("127.0.0.1:1", Duration::from_millis(50)).unwrap();
        assert!(watch.due());
        assert!(!watch.due());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !watch.due() {
            assert!(Instant::now() < deadline, "a look never came due again");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_nul_in_the_list_is_refused() {
        let refused = Rebootstrap::new("a\0b", Duration::from_secs(1)).unwrap_err();
        assert!(refused.to_string().contains("NUL byte"), "{refused}");
    }
}
