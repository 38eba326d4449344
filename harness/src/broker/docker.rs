//! Kafka in a container (the apache/kafka JVM image) through testcontainers.

use super::docker_engine::docker_answers;
use super::{BackendKind, BrokerError, BrokerOptions, KAFKA_VERSION, READY_TIMEOUT_MS};
use std::time::{Duration, Instant};
use testcontainers_modules::kafka::apache::{KAFKA_PORT, Kafka};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

pub(super) struct DockerBroker {
    container: tokio::sync::Mutex<Option<ContainerAsync<Kafka>>>,
    servers: String,
    ready_ms: u64,
}

impl DockerBroker {
    pub(super) async fn start(opts: &BrokerOptions) -> Result<DockerBroker, BrokerError> {
        docker_answers(None).await?;
        if opts.nodes != 1 {
            return Err(unsupported("start a multi-node cluster"));
        }
        let retention = opts.offsets_retention_minutes.to_string();
        let launched = Instant::now();
        let container = Kafka::default()
            .with_jvm_image()
            .with_tag(KAFKA_VERSION)
            .with_env_var("KAFKA_OFFSETS_RETENTION_MINUTES", retention)
            .with_env_var("KAFKA_OFFSETS_RETENTION_CHECK_INTERVAL_MS", "1000")
            .with_env_var("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .with_env_var("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .with_startup_timeout(Duration::from_millis(READY_TIMEOUT_MS))
            .start()
            .await
            .map_err(|e| BrokerError::DockerUnavailable {
                detail: format!("cannot start the apache/kafka:{KAFKA_VERSION} container: {e}"),
            })?;
        let port = container
            .get_host_port_ipv4(KAFKA_PORT)
            .await
            .map_err(|e| BrokerError::DockerUnavailable {
                detail: format!("the Kafka container exposes no port: {e}"),
            })?;
        Ok(DockerBroker {
            container: tokio::sync::Mutex::new(Some(container)),
            servers: format!("127.0.0.1:{port}"),
            ready_ms: u64::try_from(launched.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    pub(super) fn bootstrap_servers(&self) -> String {
        self.servers.clone()
    }

    pub(super) fn last_ready_ms(&self) -> u64 {
        self.ready_ms
    }

    /// The container's advertised port is fixed at first start, so a restart could move it.
    pub(super) async fn restart(&self) -> Result<(), BrokerError> {
        Err(unsupported("restart the broker"))
    }

    pub(super) async fn stop(&self) {
        if let Some(container) = self.container.lock().await.take()
            && let Err(e) = container.rm().await
        {
            tracing::warn!(error = %e, "cannot remove the Kafka container");
        }
    }
}

pub(super) fn unsupported(operation: &str) -> BrokerError {
    BrokerError::Unsupported {
        operation: operation.to_string(),
        backend: BackendKind::Docker,
        hint: "the docker backend runs one container it cannot restart in place (run with --broker local)"
            .into(),
    }
}
