//! Integration tests against a real local Kafka (provisioned into the cache on first use).
//!
//! The tests run one at a time (a shared lock): they would otherwise compete for 2 cores, and
//! each ends by checking that no child process is left, which is a process-global count.

use esm::fetch::FetchQueue;
use esm::rebootstrap::{Rebootstrap, has_usable_broker, learned_brokers};
use harness::admin::{Admin, KeyValue};
use harness::broker::{Broker, BrokerOptions};
use harness::procs;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Commits offsets for `group` the way a poller would, without joining the group.
fn commit(servers: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

fn values(n: usize, prefix: &str) -> Vec<KeyValue> {
    (0..n)
        .map(|i| {
            (
                Some(format!("k{i}").into_bytes()),
                Some(format!("{prefix}{i}").into_bytes()),
            )
        })
        .collect()
}

async fn stop_and_check(broker: Broker) {
    let work = broker.work_dir();
    broker.stop().await;
    assert_eq!(procs::live_count(), 0, "a broker process outlived stop()");
    if let Some(dir) = work {
        assert!(!dir.exists(), "work dir {} survived stop()", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_serves_commits_deletes_groups_and_survives_restart() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start(BrokerOptions::local_default()).await.unwrap();
    assert_eq!(broker.nodes(), 1);
    assert!(broker.last_ready_ms() > 0);
    let servers = broker.bootstrap_servers();
    let admin = Admin::new(&servers).unwrap();
    admin.create_topic("orders", 2, None, 1).await.unwrap();
    assert_eq!(admin.partition_count("orders").await.unwrap(), 2);

    let headers = vec![("trace".to_string(), b"abc".to_vec())];
    let produced = admin
        .produce_batch("orders", values(20, "v"), &headers)
        .await
        .unwrap();
    assert_eq!(produced.len(), 20);
    a_connected_client_is_left_alone(&servers).await;
    the_fetch_queue_reads_what_rdkafka_reads(&admin, &servers).await;
    let read = admin.read_topic("orders").await.unwrap();
    assert_eq!(read.len(), 20);
    assert!(read.iter().all(|r| r.headers == headers));
    let mut by_partition: BTreeMap<i32, i64> = BTreeMap::new();
    for p in &produced {
        *by_partition.entry(p.partition).or_default() += 1;
    }
    for (p, n) in &by_partition {
        assert_eq!(admin.watermarks("orders", *p).await.unwrap(), (0, *n));
    }
    // A delivery acknowledged without its offset is found again by key, value and timestamp.
    let (k7, v7) = (b"k7".as_slice(), b"v7".as_slice());
    let unknown = harness::admin::Produced {
        offset: -1001,
        ..produced[7]
    };
    let found = admin
        .find_offset("orders", &unknown, Some(k7), Some(v7))
        .await
        .unwrap();
    assert_eq!(found, produced[7].offset);
    let absent = admin
        .find_offset("orders", &unknown, Some(k7), Some(b"never".as_slice()))
        .await;
    assert!(absent.is_err(), "{absent:?}");

    commit(&servers, "g1", "orders", &[(0, 3)]);
    assert_eq!(
        admin.committed_offsets("g1", "orders").await.unwrap(),
        BTreeMap::from([(0, 3)])
    );
    assert_eq!(
        admin.group_state("g1").await.unwrap().as_deref(),
        Some("Empty")
    );
    admin.delete_group("g1").await.unwrap();
    assert!(
        admin
            .committed_offsets("g1", "orders")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(admin.group_state("g1").await.unwrap(), None);
    let err = admin
        .delete_group("never-existed")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("group never-existed"), "{err}");

    commit(&servers, "g2", "orders", &[(1, 2)]);
    broker.restart().await.unwrap();
    assert_eq!(
        broker.bootstrap_servers(),
        servers,
        "restart moved the ports"
    );
    let after = harness::wait::until(
        "the topic after restart",
        Duration::from_secs(30),
        || async { admin.read_topic("orders").await.map_err(|e| e.to_string()) },
    )
    .await
    .unwrap();
    assert_eq!(after, read, "restart lost or changed records");
    assert_eq!(
        admin.committed_offsets("g2", "orders").await.unwrap(),
        BTreeMap::from([(1, 2)])
    );
    println!("restart ready in {} ms", broker.last_ready_ms());
    drop(admin);
    stop_and_check(broker).await;
}

/// Records routed to the poller's fetch queue, read in batches from librdkafka's raw messages,
/// and records of a partition left unrouted, read by `BaseConsumer::poll` and converted by
/// `fetch::record_of`, equal what rust-rdkafka's own message API reads (the harness's
/// `read_topic`): keys, values, tombstones, empty values, repeated headers, timestamps.
async fn the_fetch_queue_reads_what_rdkafka_reads(admin: &Admin, servers: &str) {
    const TOPIC: &str = "fetched";
    admin.create_topic(TOPIC, 2, None, 1).await.unwrap();
    let headers = vec![
        ("h".to_string(), b"1".to_vec()),
        ("h".to_string(), b"2".to_vec()),
        ("empty".to_string(), Vec::new()),
    ];
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .create()
        .unwrap();
    for p in 0..2 {
        for i in 0..1_500 {
            let value = format!("{p}-{i}");
            let mut record = BaseRecord::<[u8], [u8]>::to(TOPIC).partition(p);
            record = match i % 3 {
                0 => record.key(b"k").payload(value.as_bytes()),
                1 => record,
                _ => record.key(b"").payload(b""),
            };
            if i % 2 == 0 {
                let mut owned = OwnedHeaders::new();
                for (key, value) in &headers {
                    owned = owned.insert(Header {
                        key,
                        value: Some(value),
                    });
                }
                record = record.headers(owned);
            }
            producer.send(record).map_err(|(e, _)| e).unwrap();
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let expected = admin.read_topic(TOPIC).await.unwrap();
    assert_eq!(expected.len(), 3_000);
    let servers = servers.to_string();
    let read =
        tokio::task::spawn_blocking(move || read_through_fetch_queue(&servers, TOPIC, 3_000))
            .await
            .unwrap();
    let read: Vec<harness::admin::ConsumedRecord> = read
        .into_iter()
        .map(|r| harness::admin::ConsumedRecord {
            partition: r.partition,
            offset: r.offset,
            key: r.key,
            value: r.value.map(|v| v.to_vec()),
            headers: r.headers,
            timestamp_ms: Some(r.timestamp_ms),
        })
        .collect();
    assert_eq!(read, expected);
}

/// Reads `count` records of `topic` (partitions 0 and 1 from the start), partition 0 through a
/// fetch queue and partition 1 through the consumer queue, sorted by partition then offset;
/// panics if a record comes the other way or the records of a partition come out of order.
fn read_through_fetch_queue(
    servers: &str,
    topic: &str,
    count: usize,
) -> Vec<esm::event::KafkaRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", "fetch-queue-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let fetch = FetchQueue::new(consumer.client(), topic).unwrap();
    let mut tpl = TopicPartitionList::new();
    fetch.route(consumer.client(), 0).unwrap();
    for p in 0..2 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    let topic_name: std::sync::Arc<str> = topic.into();
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read = Vec::new();
    let mut batches = 0;
    while read.len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} records after 30 s",
            read.len()
        );
        while let Some(m) = consumer.poll(Duration::ZERO) {
            let r = esm::fetch::record_of(&m.unwrap(), &topic_name).unwrap();
            assert_eq!(
                r.partition, 1,
                "a routed partition's record came by poll: {r:?}"
            );
            read.push(r);
        }
        let taken = fetch.read(Duration::from_millis(100), |r| {
            let r = r.unwrap();
            assert_eq!(
                r.partition, 0,
                "an unrouted partition's record came by the fetch queue: {r:?}"
            );
            read.push(r);
        });
        batches += usize::from(taken > 0);
    }
    assert!(batches < count / 2, "one record a read: {batches} reads");
    for pair in read.windows(2) {
        if pair[0].partition == pair[1].partition {
            assert_eq!(pair[1].offset, pair[0].offset + 1, "out of order: {pair:?}");
        }
    }
    drop(fetch);
    read.sort_by_key(|r| (r.partition, r.offset));
    read
}

/// The rebootstrap check sees a usable broker once a client has connected, and adds nothing.
async fn a_connected_client_is_left_alone(servers: &str) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .create()
        .unwrap();
    harness::wait::until("a new producer to connect", Duration::from_secs(10), || {
        std::future::ready(if has_usable_broker(producer.client()) {
            Ok(())
        } else {
            Err("no usable broker".to_string())
        })
    })
    .await
    .unwrap();
    assert!(learned_brokers(producer.client()) >= 1);
    let watch = Rebootstrap::new(servers, Duration::from_secs(1)).unwrap();
    assert!(
        !watch.check(producer.client()),
        "a connected client got its bootstrap servers again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_groups_offsets_expire_after_the_retention() {
    let _serial = SERIAL.lock().await;
    let broker = Broker::start(BrokerOptions::local_default()).await.unwrap();
    assert_eq!(broker.offsets_retention_minutes(), 1);
    let servers = broker.bootstrap_servers();
    let admin = Admin::new(&servers).unwrap();
    admin.create_topic("expiring", 1, None, 1).await.unwrap();
    admin
        .produce("expiring", None, Some(b"x"), &[])
        .await
        .unwrap();
    commit(&servers, "idle", "expiring", &[(0, 1)]);
    let committed_at = Instant::now();
    assert_eq!(
        admin.committed_offsets("idle", "expiring").await.unwrap(),
        BTreeMap::from([(0, 1)])
    );
    harness::wait::until_every(
        "the idle group's offsets to expire",
        Duration::from_secs(120),
        Duration::from_secs(1),
        || async {
            match admin.committed_offsets("idle", "expiring").await {
                Ok(o) if o.is_empty() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap();
    let expired_after = committed_at.elapsed();
    println!(
        "offsets expired {} ms after the commit",
        expired_after.as_millis()
    );
    assert!(
        expired_after >= Duration::from_secs(55),
        "expired too early: {expired_after:?}"
    );
    drop(admin);
    stop_and_check(broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_keeps_producing_with_a_node_down() {
    let _serial = SERIAL.lock().await;
    let opts = BrokerOptions {
        nodes: 3,
        ..BrokerOptions::local_default()
    };
    let broker = Broker::start(opts).await.unwrap();
    assert_eq!(broker.nodes(), 3);
    assert_eq!(broker.bootstrap_servers().split(',').count(), 3);
    println!("3-node cluster ready in {} ms", broker.last_ready_ms());
    let admin = Admin::with_timeout_ms(&broker.bootstrap_servers(), 30_000).unwrap();
    admin.create_topic("replicated", 3, None, 3).await.unwrap();
    admin
        .produce_batch("replicated", values(10, "a"), &[])
        .await
        .unwrap();

    broker.kill_node(2).await.unwrap();
    admin
        .produce_batch("replicated", values(10, "b"), &[])
        .await
        .unwrap();
    assert!(
        broker
            .kill_node(9)
            .await
            .unwrap_err()
            .to_string()
            .contains("1..=3")
    );

    broker.start_node(2).await.unwrap();
    admin
        .produce_batch("replicated", values(10, "c"), &[])
        .await
        .unwrap();
    assert_eq!(admin.read_topic("replicated").await.unwrap().len(), 30);

    let started = Instant::now();
    broker.restart().await.unwrap();
    println!("3-node restart took {} ms", started.elapsed().as_millis());
    let after = harness::wait::until(
        "the topic after restart",
        Duration::from_secs(30),
        || async {
            admin
                .read_topic("replicated")
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await
    .unwrap();
    assert_eq!(after.len(), 30);
    drop(admin);
    stop_and_check(broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxied_client_is_cut_off_by_the_proxy_and_recovers() {
    let _serial = SERIAL.lock().await;
    let opts = BrokerOptions {
        proxied: true,
        ..BrokerOptions::local_default()
    };
    let broker = Broker::start(opts).await.unwrap();
    let proxied = broker.proxied_bootstrap_servers().expect("proxied servers");
    assert_ne!(proxied, broker.bootstrap_servers());
    let proxies = broker.proxies();
    assert_eq!(proxies.len(), 1);

    let admin = Admin::with_timeout_ms(&proxied, 3_000).unwrap();
    admin.create_topic("through", 1, None, 1).await.unwrap();
    admin
        .produce("through", None, Some(b"one"), &[])
        .await
        .unwrap();
    assert_eq!(admin.read_topic("through").await.unwrap().len(), 1);
    assert!(
        proxies[0].connections_total() > 0,
        "the client bypassed the proxy"
    );

    for p in &proxies {
        p.set_cut(true);
    }
    let started = Instant::now();
    let cut = admin.produce("through", None, Some(b"two"), &[]).await;
    assert!(cut.is_err(), "a produce got through a cut");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // A fresh client that bootstraps through the cut proxy gets nowhere either.
    let fresh = Admin::with_timeout_ms(&proxied, 2_000).unwrap();
    assert!(fresh.partition_count("through").await.is_err());

    for p in &proxies {
        p.set_cut(false);
    }
    harness::wait::until(
        "a produce after the cut",
        Duration::from_secs(20),
        || async {
            admin
                .produce("through", None, Some(b"three"), &[])
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await
    .unwrap();
    let values: Vec<_> = admin
        .read_topic("through")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    assert!(values.contains(&b"three".to_vec()), "{values:?}");
    drop((admin, fresh));
    stop_and_check(broker).await;
}

/// Prints the median launch-to-ready time of 5 single-node starts (cache warm). Slow: run with
/// `cargo test -p esm-chaos-harness --test broker -- --ignored --nocapture start_time`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: about 30 s"]
async fn start_time_median_of_five() {
    let _serial = SERIAL.lock().await;
    // A first start records the class-data archive if there is none yet.
    let warm = Broker::start(BrokerOptions::local_default()).await.unwrap();
    warm.stop().await;
    let mut ready_ms = Vec::new();
    let mut total_ms = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let broker = Broker::start(BrokerOptions::local_default()).await.unwrap();
        total_ms.push(started.elapsed().as_millis());
        ready_ms.push(broker.last_ready_ms());
        broker.stop().await;
    }
    ready_ms.sort_unstable();
    total_ms.sort_unstable();
    println!("launch-to-ready ms: {ready_ms:?}, median {}", ready_ms[2]);
    println!(
        "Broker::start total ms (with format): {total_ms:?}, median {}",
        total_ms[2]
    );
    assert!(ready_ms[2] < 10_000);
    assert_eq!(procs::live_count(), 0);
}
