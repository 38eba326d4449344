//! Admin operations on the broker, from outside the consumer: topics, producing test records,
//! reading a topic back, and a group's committed offsets and state. Checkers judge the consumer
//! by what these calls see, never by asking the consumer.

use esm::rebootstrap::Rebootstrap;
use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default deadline of every call.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Records `produce_batch` keeps in flight at once.
pub const MAX_IN_FLIGHT: usize = 256;
/// Records `read_topic` returns at most, so a runaway topic cannot exhaust memory.
pub const MAX_READ_RECORDS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot {op} {target}: {source}")]
    Kafka {
        op: &'static str,
        target: String,
        source: KafkaError,
    },
    #[error("cannot {op} {target}: {detail}")]
    Refused {
        op: &'static str,
        target: String,
        detail: String,
    },
    #[error("cannot {op} {target}: no answer within {waited_ms} ms; last seen: {seen}")]
    Timeout {
        op: &'static str,
        target: String,
        waited_ms: u64,
        seen: String,
    },
}

/// A `(key, value)` pair for [`Admin::produce_batch`].
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    pub partition: i32,
    pub offset: i64,
    /// The record's create time (-1 if the broker reported none).
    pub timestamp_ms: i64,
}

/// A record read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

struct Inner {
    bootstrap_servers: String,
    admin: AdminClient<DefaultClientContext>,
    producer: FutureProducer,
    timeout: Duration,
    /// One never-subscribing consumer per group for OffsetFetch: the commit observer reads
    /// offsets every 200 ms, and a new client per read would reconnect every time.
    group_readers: std::sync::Mutex<std::collections::HashMap<String, Arc<GroupReader>>>,
    /// Each long-lived client's way back after a broker restart left it with no broker
    /// (librdkafka#5301, see `esm::rebootstrap`); without it the restart scenario lost the
    /// producer or the admin client about once in 25 runs.
    admin_rebootstrap: Rebootstrap,
    producer_rebootstrap: Rebootstrap,
}

struct GroupReader {
    consumer: BaseConsumer,
    rebootstrap: Rebootstrap,
}

/// How often a long-lived client is looked at for having no broker.
const REBOOTSTRAP_CHECK_MS: u64 = 1_000;

fn rebootstrap(bootstrap_servers: &str) -> Result<Rebootstrap, KafkaError> {
    Rebootstrap::new(
        bootstrap_servers,
        Duration::from_millis(REBOOTSTRAP_CHECK_MS),
    )
}

/// Groups whose offset readers are kept; past it the cache starts again (readers are cheap to
/// rebuild, unbounded growth is not).
const GROUP_READERS_MAX: usize = 256;

impl Inner {
    /// The cached offset reader of a group (it never subscribes, so it never joins the group).
    fn group_reader(&self, group: &str) -> Result<Arc<GroupReader>, KafkaError> {
        let mut readers = self
            .group_readers
            .lock()
            .expect("group readers lock poisoned");
        if let Some(reader) = readers.get(group) {
            reader.rebootstrap.check(reader.consumer.client());
            return Ok(reader.clone());
        }
        if readers.len() >= GROUP_READERS_MAX {
            readers.clear();
        }
        let reader = Arc::new(GroupReader {
            consumer: base_config(&self.bootstrap_servers)
                .set("group.id", group)
                .set("enable.auto.commit", "false")
                .create()?,
            rebootstrap: rebootstrap(&self.bootstrap_servers)?,
        });
        readers.insert(group.to_string(), reader.clone());
        Ok(reader)
    }
}

/// A cheap-to-clone admin handle on one cluster.
#[derive(Clone)]
pub struct Admin {
    inner: Arc<Inner>,
}

impl Admin {
    pub fn new(bootstrap_servers: &str) -> Result<Admin, AdminError> {
        Self::with_timeout_ms(bootstrap_servers, DEFAULT_TIMEOUT_MS)
    }

    /// Like [`Admin::new`] with another deadline for every call.
    pub fn with_timeout_ms(bootstrap_servers: &str, timeout_ms: u64) -> Result<Admin, AdminError> {
        let create_err = |source| AdminError::Kafka {
            op: "connect to",
            target: format!("bootstrap servers {bootstrap_servers}"),
            source,
        };
        let admin = base_config(bootstrap_servers)
            .create()
            .map_err(create_err)?;
        let producer = base_config(bootstrap_servers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "1")
            .set("message.timeout.ms", timeout_ms.to_string())
            .create()
            .map_err(create_err)?;
        Ok(Admin {
            inner: Arc::new(Inner {
                bootstrap_servers: bootstrap_servers.to_string(),
                admin,
                producer,
                timeout: Duration::from_millis(timeout_ms),
                group_readers: std::sync::Mutex::new(std::collections::HashMap::new()),
                admin_rebootstrap: rebootstrap(bootstrap_servers).map_err(create_err)?,
                producer_rebootstrap: rebootstrap(bootstrap_servers).map_err(create_err)?,
            }),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.inner.bootstrap_servers
    }

    fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    fn opts(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout()))
            .operation_timeout(Some(self.timeout()))
    }

    /// Creates a topic and waits until metadata shows every partition with a leader.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        retention_ms: Option<u64>,
        replication: i16,
    ) -> Result<(), AdminError> {
        let target = format!("topic {name}");
        let retention = retention_ms.map(|ms| ms.to_string());
        let mut topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(i32::from(replication)),
        );
        if let Some(ms) = &retention {
            // Retention deletes closed segments only: roll them as often as records expire, or
            // the active segment keeps every record past its retention.
            topic = topic.set("retention.ms", ms).set("segment.ms", ms);
        }
        let results = self
            .bounded(
                "create",
                &target,
                self.inner.admin.create_topics([&topic], &self.opts()),
            )
            .await?;
        check_results("create", &target, results)?;
        self.wait_partitions(name, partitions).await
    }

    /// Grows a topic to `total` partitions and waits until metadata shows them.
    pub async fn add_partitions(&self, name: &str, total: i32) -> Result<(), AdminError> {
        let target = format!("topic {name}");
        let count = usize::try_from(total).map_err(|_| AdminError::Refused {
            op: "add partitions to",
            target: target.clone(),
            detail: format!("total {total} must be positive"),
        })?;
        let new = NewPartitions::new(name, count);
        let results = self
            .bounded(
                "add partitions to",
                &target,
                self.inner.admin.create_partitions([&new], &self.opts()),
            )
            .await?;
        check_results("add partitions to", &target, results)?;
        self.wait_partitions(name, total).await
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), AdminError> {
        let target = format!("topic {name}");
        let results = self
            .bounded(
                "delete",
                &target,
                self.inner.admin.delete_topics(&[name], &self.opts()),
            )
            .await?;
        check_results("delete", &target, results)
    }

    async fn wait_partitions(&self, name: &str, partitions: i32) -> Result<(), AdminError> {
        let started = Instant::now();
        crate::wait::until(
            &format!("topic {name} to show {partitions} partitions"),
            self.timeout(),
            || async {
                match self.leaders(name).await {
                    Ok(led)
                        if led.len() >= usize::try_from(partitions).unwrap_or(0)
                            && led.iter().all(|l| *l >= 0) =>
                    {
                        Ok(())
                    }
                    Ok(led) => Err(format!("leaders {led:?}")),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await
        .map_err(|t| AdminError::Timeout {
            op: "see all partitions of",
            target: format!("topic {name}"),
            waited_ms: ms_since(started),
            seen: t.seen,
        })
    }

    /// Leader broker id per partition (-1 when none), in partition order.
    async fn leaders(&self, topic: &str) -> Result<Vec<i32>, AdminError> {
        let (inner, topic_owned) = (self.inner.clone(), topic.to_string());
        self.blocking("read metadata of", &format!("topic {topic}"), move || {
            let md = inner
                .admin
                .inner()
                .fetch_metadata(Some(&topic_owned), inner.timeout)?;
            let Some(t) = md.topics().iter().find(|t| t.name() == topic_owned) else {
                return Ok(Vec::new());
            };
            if t.error().is_some() {
                return Ok(Vec::new());
            }
            let mut parts: Vec<(i32, i32)> = t
                .partitions()
                .iter()
                .map(|p| (p.id(), p.leader()))
                .collect();
            parts.sort_unstable();
            Ok(parts.into_iter().map(|(_, leader)| leader).collect())
        })
        .await
    }

    /// How many partitions `topic` has (0 if it does not exist).
    pub async fn partition_count(&self, topic: &str) -> Result<i32, AdminError> {
        let leaders = self.leaders(topic).await?;
        Ok(i32::try_from(leaders.len()).unwrap_or(i32::MAX))
    }

    /// Produces one record with acks=all.
    pub async fn produce(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Produced, AdminError> {
        self.produce_to(topic, None, None, key, value, headers)
            .await
    }

    /// Produces one record whose CreateTime is `timestamp_ms` (epoch milliseconds) rather than
    /// now; `value` None is a tombstone.
    pub async fn produce_stamped(
        &self,
        topic: &str,
        value: Option<&[u8]>,
        timestamp_ms: i64,
    ) -> Result<Produced, AdminError> {
        self.produce_to(topic, None, Some(timestamp_ms), None, value, &[])
            .await
    }

    /// Produces one record to a chosen partition (or the key's, when `None`), stamped
    /// `timestamp_ms` (or now, when `None`).
    pub async fn produce_to(
        &self,
        topic: &str,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Produced, AdminError> {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            owned = owned.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(owned);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(ms) = timestamp_ms {
            record = record.timestamp(ms);
        }
        let target = format!("topic {topic}");
        let sent = self
            .bounded_raw(
                "produce to",
                &target,
                self.inner.producer.send(record, self.timeout()),
            )
            .await?;
        let delivery = sent.map_err(|(source, _)| AdminError::Kafka {
            op: "produce to",
            target,
            source,
        })?;
        let mut produced = Produced {
            partition: delivery.partition,
            offset: delivery.offset,
            timestamp_ms: delivery.timestamp.to_millis().unwrap_or(-1),
        };
        if produced.offset < 0 {
            // librdkafka acknowledges an idempotent retry the broker had already written
            // (DUPLICATE_SEQUENCE_NUMBER) without its offset; the history needs the offset.
            produced.offset = self.find_offset(topic, &produced, key, value).await?;
            tracing::warn!(
                topic,
                partition = produced.partition,
                offset = produced.offset,
                "a record was acknowledged without its offset; found it in the partition"
            );
        }
        Ok(produced)
    }

    /// The offset of a record just written to `produced.partition`, found among the partition's
    /// last [`FIND_OFFSET_WINDOW`] records by key, value and timestamp (the last match: a
    /// record produced again with the same key, value and millisecond is indistinguishable).
    pub async fn find_offset(
        &self,
        topic: &str,
        produced: &Produced,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<i64, AdminError> {
        let (low, high) = self.watermarks(topic, produced.partition).await?;
        let from = low.max(high - FIND_OFFSET_WINDOW);
        let ends = BTreeMap::from([(produced.partition, (from, high))]);
        let (inner, topic_owned) = (self.inner.clone(), topic.to_string());
        let target = format!("topic {topic} partition {}", produced.partition);
        let records = self
            .blocking("read", &target, move || {
                read_ranges(&inner, &topic_owned, &ends)
            })
            .await??;
        records
            .iter()
            .rev()
            .find(|r| {
                r.key.as_deref() == key
                    && r.value.as_deref() == value
                    && r.timestamp_ms == Some(produced.timestamp_ms)
            })
            .map(|r| r.offset)
            .ok_or_else(|| AdminError::Refused {
                op: "find the offset of a record acknowledged without one in",
                target,
                detail: format!(
                    "no record with its key, value and timestamp at offsets {from} to {high}"
                ),
            })
    }

    /// Produces many `(key, value)` records with the same headers, at most [`MAX_IN_FLIGHT`] at
    /// once; results are in input order.
    pub async fn produce_batch(
        &self,
        topic: &str,
        records: Vec<KeyValue>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<Vec<Produced>, AdminError> {
        // Owned futures: a borrowing closure here would make callers' futures not `Send`-general.
        let headers = Arc::new(headers.to_vec());
        let sends = records.into_iter().map(|(key, value)| {
            let (admin, topic, headers) = (self.clone(), topic.to_string(), headers.clone());
            async move {
                admin
                    .produce_to(
                        &topic,
                        None,
                        None,
                        key.as_deref(),
                        value.as_deref(),
                        &headers,
                    )
                    .await
            }
        });
        let results: Vec<_> = futures::stream::iter(sends)
            .buffered(MAX_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// The low and high watermark of one partition.
    pub async fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), AdminError> {
        let (inner, topic_owned) = (self.inner.clone(), topic.to_string());
        self.blocking(
            "read watermarks of",
            &format!("topic {topic} partition {partition}"),
            move || {
                inner
                    .admin
                    .inner()
                    .fetch_watermarks(&topic_owned, partition, inner.timeout)
            },
        )
        .await
    }

    /// The committed offset of every partition of `topic` that `group` has a commit for. Reads
    /// with the group's id but never joins the group.
    pub async fn committed_offsets(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<BTreeMap<i32, i64>, AdminError> {
        let count = self.partition_count(topic).await?;
        let (inner, group_owned, topic_owned) =
            (self.inner.clone(), group.to_string(), topic.to_string());
        let target = format!("group {group} on topic {topic}");
        self.blocking("read committed offsets of", &target, move || {
            let reader = inner.group_reader(&group_owned)?;
            let mut tpl = TopicPartitionList::new();
            for p in 0..count {
                tpl.add_partition(&topic_owned, p);
            }
            let committed = reader.consumer.committed_offsets(tpl, inner.timeout)?;
            Ok(committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((e.partition(), o)),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    /// The group's state ("Empty", "Stable", "PreparingRebalance", ...); `None` if the broker
    /// does not know it or it is dead.
    pub async fn group_state(&self, group: &str) -> Result<Option<String>, AdminError> {
        let (inner, group_owned) = (self.inner.clone(), group.to_string());
        self.blocking("describe", &format!("group {group}"), move || {
            let list = inner
                .admin
                .inner()
                .fetch_group_list(Some(&group_owned), inner.timeout)?;
            Ok(list
                .groups()
                .iter()
                .find(|g| g.name() == group_owned)
                .map(|g| g.state().to_string())
                .filter(|s| !s.is_empty() && s != "Dead"))
        })
        .await
    }

    /// Deletes an empty group and its committed offsets.
    pub async fn delete_group(&self, group: &str) -> Result<(), AdminError> {
        let target = format!("group {group}");
        let results = self
            .bounded(
                "delete",
                &target,
                self.inner.admin.delete_groups(&[group], &self.opts()),
            )
            .await?;
        check_results("delete", &target, results)
    }

    /// Every record of `topic` from log start to the high watermark as of the call, by
    /// partition then offset. Uses assign, never joins a group.
    pub async fn read_topic(&self, topic: &str) -> Result<Vec<ConsumedRecord>, AdminError> {
        let count = self.partition_count(topic).await?;
        let mut ends = BTreeMap::new();
        for p in 0..count {
            let (low, high) = self.watermarks(topic, p).await?;
            if high > low {
                ends.insert(p, (low, high));
            }
        }
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        let (inner, topic_owned) = (self.inner.clone(), topic.to_string());
        self.blocking("read", &format!("topic {topic}"), move || {
            read_ranges(&inner, &topic_owned, &ends)
        })
        .await?
    }

    /// Runs a blocking librdkafka call off the async threads.
    async fn blocking<T, F>(&self, op: &'static str, target: &str, f: F) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, KafkaError> + Send + 'static,
    {
        self.keep_connected();
        let joined = tokio::task::spawn_blocking(f).await;
        match joined {
            Ok(r) => r.map_err(|source| AdminError::Kafka {
                op,
                target: target.to_string(),
                source,
            }),
            Err(e) => Err(AdminError::Refused {
                op,
                target: target.to_string(),
                detail: format!("the call panicked or was cancelled: {e}"),
            }),
        }
    }

    /// Gives the admin client and the producer their bootstrap servers again if a broker
    /// restart left them with none; rate-limited, so every call can ask.
    fn keep_connected(&self) {
        let inner = &self.inner;
        inner.admin_rebootstrap.check(inner.admin.inner());
        inner.producer_rebootstrap.check(inner.producer.client());
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        target: &str,
        fut: impl Future<Output = Result<T, KafkaError>>,
    ) -> Result<T, AdminError> {
        self.bounded_raw(op, target, fut)
            .await?
            .map_err(|source| AdminError::Kafka {
                op,
                target: target.to_string(),
                source,
            })
    }

    async fn bounded_raw<T>(
        &self,
        op: &'static str,
        target: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, AdminError> {
        self.keep_connected();
        let started = Instant::now();
        // A little over the client's own timeout, so its clearer error wins when both fire.
        let limit = self.timeout() + Duration::from_millis(2_000);
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| AdminError::Timeout {
                op,
                target: target.to_string(),
                waited_ms: ms_since(started),
                seen: "nothing".into(),
            })
    }
}

fn base_config(bootstrap_servers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", "esm-chaos-admin")
        .set("log_level", "3")
        // A broker restart or cut is routine here: reconnect soon.
        .set("reconnect.backoff.max.ms", "1000")
        // Single records past the Invoke API's 6 MB limit are produced on purpose.
        .set("message.max.bytes", "16777216");
    config
}

fn check_results(
    op: &'static str,
    target: &str,
    results: Vec<Result<String, (String, rdkafka::types::RDKafkaErrorCode)>>,
) -> Result<(), AdminError> {
    for r in results {
        r.map_err(|(_, code)| AdminError::Kafka {
            op,
            target: target.to_string(),
            source: KafkaError::AdminOp(code),
        })?;
    }
    Ok(())
}

/// How far back from the high watermark a record acknowledged without its offset is looked for:
/// it was written moments ago, behind at most the other records then in flight.
const FIND_OFFSET_WINDOW: i64 = 10_000;

/// Reads `[low, high)` of each partition with an assigned consumer.
fn read_ranges(
    inner: &Inner,
    topic: &str,
    ends: &BTreeMap<i32, (i64, i64)>,
) -> Result<Result<Vec<ConsumedRecord>, AdminError>, KafkaError> {
    let consumer: BaseConsumer = base_config(&inner.bootstrap_servers)
        .set(
            "group.id",
            format!("esm-chaos-reader-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for (p, (low, _)) in ends {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*low))?;
    }
    consumer.assign(&tpl)?;
    let mut next: BTreeMap<i32, i64> = ends.iter().map(|(p, (low, _))| (*p, *low)).collect();
    let mut records = Vec::new();
    let started = Instant::now();
    while ends.iter().any(|(p, (_, high))| next[p] < *high) {
        if started.elapsed() > inner.timeout || records.len() >= MAX_READ_RECORDS {
            return Ok(Err(AdminError::Timeout {
                op: "read",
                target: format!("topic {topic}"),
                waited_ms: ms_since(started),
                seen: format!("read up to {next:?} of {ends:?}"),
            }));
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            // Control records (transaction markers) are never delivered: trust the position.
            for e in consumer.position()?.elements() {
                if let Offset::Offset(o) = e.offset() {
                    let seen = next.entry(e.partition()).or_insert(o);
                    *seen = (*seen).max(o);
                }
            }
            continue;
        };
        let msg = msg?;
        let Some((_, high)) = ends.get(&msg.partition()) else {
            continue;
        };
        if msg.offset() >= *high {
            continue;
        }
        next.insert(msg.partition(), msg.offset() + 1);
        records.push(ConsumedRecord {
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers: msg
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            timestamp_ms: msg.timestamp().to_millis(),
        });
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(Ok(records))
}

fn ms_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_name_the_topic_and_respect_the_deadline() {
        // Nothing listens on port 9 of loopback.
        let admin = Admin::with_timeout_ms("127.0.0.1:9", 500).unwrap();
        let started = Instant::now();
        let err = admin
            .partition_count("orders")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("topic orders"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
