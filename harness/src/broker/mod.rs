//! The Kafka broker under the suite: a local KRaft JVM process or cluster (default), a container
//! (feature `docker`), or an external cluster the harness does not own.

#[cfg(feature = "docker")]
mod docker;
mod docker_engine;
mod external;
mod local;
mod provision;

pub use provision::{JavaInfo, check_java, provision};

use crate::proxy::TcpProxy;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// The Apache Kafka release the local and Docker backends run.
pub const KAFKA_VERSION: &str = "4.3.1";
/// How long a broker may take from launch to "Kafka Server started".
pub const READY_TIMEOUT_MS: u64 = 60_000;
/// Largest cluster the local backend starts.
pub const MAX_NODES: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Local,
    Docker,
    External,
}

impl FromStr for BackendKind {
    type Err = BrokerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "docker" => Ok(Self::Docker),
            "external" => Ok(Self::External),
            _ => Err(BrokerError::InvalidOption {
                field: "broker backend",
                detail: format!("{s:?} is not one of local, docker, external"),
            }),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Docker => "docker",
            Self::External => "external",
        })
    }
}

#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub backend: BackendKind,
    /// 1, or 3 for a cluster (1..=5).
    pub nodes: u8,
    /// Kafka's floor is 1.
    pub offsets_retention_minutes: u32,
    pub external_bootstrap_servers: Option<String>,
    pub cache_dir: PathBuf,
    /// Also a listener per node advertised at a [`TcpProxy`], for network faults.
    pub proxied: bool,
}

impl BrokerOptions {
    pub fn local_default() -> Self {
        Self {
            backend: BackendKind::Local,
            nodes: 1,
            offsets_retention_minutes: 1,
            external_bootstrap_servers: None,
            cache_dir: default_cache_dir(),
            proxied: false,
        }
    }

    /// Local defaults, with the backend from `ESM_CHAOS_BROKER` and bootstrap servers from
    /// `ESM_CHAOS_BOOTSTRAP_SERVERS` (which alone implies the external backend).
    pub fn from_env() -> Self {
        let mut opts = Self::local_default();
        let servers = std::env::var("ESM_CHAOS_BOOTSTRAP_SERVERS")
            .ok()
            .filter(|s| !s.trim().is_empty());
        if servers.is_some() {
            opts.backend = BackendKind::External;
        }
        opts.external_bootstrap_servers = servers;
        if let Some(kind) = std::env::var("ESM_CHAOS_BROKER")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            opts.backend = kind;
        }
        opts
    }

    /// Checks every field, naming it and its allowed range.
    pub fn validate(&self) -> Result<(), BrokerError> {
        if !(1..=MAX_NODES).contains(&self.nodes) {
            return Err(BrokerError::InvalidOption {
                field: "nodes",
                detail: format!("{} is outside 1..={MAX_NODES}", self.nodes),
            });
        }
        if self.offsets_retention_minutes < 1 {
            return Err(BrokerError::InvalidOption {
                field: "offsets_retention_minutes",
                detail: "0 is below Kafka's floor of 1".into(),
            });
        }
        if self.backend == BackendKind::External
            && self
                .external_bootstrap_servers
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            return Err(BrokerError::InvalidOption {
                field: "external_bootstrap_servers",
                detail: "the external backend needs bootstrap servers \
                         (set ESM_CHAOS_BOOTSTRAP_SERVERS or --bootstrap-servers)"
                    .into(),
            });
        }
        if self.backend != BackendKind::Local && self.proxied {
            return Err(BrokerError::Unsupported {
                operation: "proxied listeners".into(),
                backend: self.backend,
                hint: "only the local backend can advertise proxies (run with --broker local)"
                    .into(),
            });
        }
        Ok(())
    }
}

/// `$ESM_CHAOS_CACHE`, else `$XDG_CACHE_HOME/esm-chaos`, else `~/.cache/esm-chaos`.
pub fn default_cache_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("ESM_CHAOS_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("esm-chaos");
    }
    let home = non_empty("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("esm-chaos")
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("invalid broker option {field}: {detail}")]
    InvalidOption { field: &'static str, detail: String },
    #[error(
        "no Java found: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )]
    JavaMissing,
    #[error(
        "Java {found} is too old for Kafka: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )]
    JavaTooOld { found: String },
    #[error(
        "no Maven found (needed once to download Kafka into the cache): install it (Debian: apt-get install maven) or use --broker docker"
    )]
    MavenMissing,
    #[error("Maven could not download Kafka {version} into {dir}: {tail}")]
    MavenFailed {
        version: String,
        dir: PathBuf,
        tail: String,
    },
    #[error(
        "Kafka {what} was not ready after {waited_ms} ms (see {log}); last log lines:\n{log_tail}"
    )]
    NotReady {
        what: String,
        waited_ms: u64,
        log: PathBuf,
        log_tail: String,
    },
    #[error("port {port} on 127.0.0.1 is in use: stop whatever holds it and retry")]
    PortInUse { port: u16 },
    #[error("Docker is unavailable: {detail}")]
    DockerUnavailable { detail: String },
    #[error("cannot {operation}: {hint}")]
    Unsupported {
        operation: String,
        backend: BackendKind,
        hint: String,
    },
    #[error("no node {node_id}: node ids are 1..={nodes}")]
    NoSuchNode { node_id: u8, nodes: usize },
    #[error("cannot run {program}: {detail}")]
    Process { program: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl BrokerError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrokerError {
        let context = context.into();
        move |source| BrokerError::Io { context, source }
    }
}

impl From<std::io::Error> for BrokerError {
    fn from(source: std::io::Error) -> Self {
        BrokerError::Io {
            context: "broker I/O".into(),
            source,
        }
    }
}

enum Backend {
    Local(Box<local::LocalCluster>),
    #[cfg(feature = "docker")]
    Docker(Box<docker::DockerBroker>),
    External(external::ExternalCluster),
}

/// A running broker (or cluster). Every method takes `&self`, so one `Arc<Broker>` is shared by
/// the scenarios and the nemesis.
pub struct Broker {
    backend: Backend,
    offsets_retention_minutes: u32,
}

impl Broker {
    pub async fn start(opts: BrokerOptions) -> Result<Broker, BrokerError> {
        opts.validate()?;
        let backend = match opts.backend {
            BackendKind::Local => {
                Backend::Local(Box::new(local::LocalCluster::start(&opts).await?))
            }
            BackendKind::Docker => start_docker(&opts).await?,
            BackendKind::External => {
                let servers = opts.external_bootstrap_servers.clone().unwrap_or_default();
                Backend::External(external::ExternalCluster::new(&servers))
            }
        };
        Ok(Broker {
            backend,
            offsets_retention_minutes: opts.offsets_retention_minutes,
        })
    }

    pub fn bootstrap_servers(&self) -> String {
        match &self.backend {
            Backend::Local(c) => c.bootstrap_servers(),
            #[cfg(feature = "docker")]
            Backend::Docker(d) => d.bootstrap_servers(),
            Backend::External(e) => e.bootstrap_servers(),
        }
    }

    /// Bootstrap servers through the proxies, when started `proxied`.
    pub fn proxied_bootstrap_servers(&self) -> Option<String> {
        match &self.backend {
            Backend::Local(c) => c.proxied_bootstrap_servers(),
            _ => None,
        }
    }

    /// One proxy per node (node 1 first), when started `proxied`.
    pub fn proxies(&self) -> Vec<Arc<TcpProxy>> {
        match &self.backend {
            Backend::Local(c) => c.proxies(),
            _ => Vec::new(),
        }
    }

    pub fn nodes(&self) -> usize {
        match &self.backend {
            Backend::Local(c) => c.nodes(),
            #[cfg(feature = "docker")]
            Backend::Docker(_) => 1,
            Backend::External(e) => e.nodes(),
        }
    }

    pub fn backend(&self) -> BackendKind {
        match &self.backend {
            Backend::Local(_) => BackendKind::Local,
            #[cfg(feature = "docker")]
            Backend::Docker(_) => BackendKind::Docker,
            Backend::External(_) => BackendKind::External,
        }
    }

    pub fn offsets_retention_minutes(&self) -> u32 {
        self.offsets_retention_minutes
    }

    /// Launch-to-ready time of the last (re)start, in ms (0 when the harness did not start it).
    pub fn last_ready_ms(&self) -> u64 {
        match &self.backend {
            Backend::Local(c) => c.last_ready_ms(),
            #[cfg(feature = "docker")]
            Backend::Docker(d) => d.last_ready_ms(),
            Backend::External(_) => 0,
        }
    }

    /// Stops every node gracefully and starts it again on the same data and ports.
    pub async fn restart(&self) -> Result<(), BrokerError> {
        match &self.backend {
            Backend::Local(c) => c.restart().await,
            #[cfg(feature = "docker")]
            Backend::Docker(d) => d.restart().await,
            Backend::External(_) => Err(external::unsupported("restart the broker")),
        }
    }

    /// SIGKILLs one node (ids 1..=nodes).
    pub async fn kill_node(&self, node_id: u8) -> Result<(), BrokerError> {
        match &self.backend {
            Backend::Local(c) => c.kill_node(node_id).await,
            #[cfg(feature = "docker")]
            Backend::Docker(_) => Err(docker::unsupported("kill a broker node")),
            Backend::External(_) => Err(external::unsupported("kill a broker node")),
        }
    }

    /// Starts a killed node again and waits until it is ready.
    pub async fn start_node(&self, node_id: u8) -> Result<(), BrokerError> {
        match &self.backend {
            Backend::Local(c) => c.start_node(node_id).await,
            #[cfg(feature = "docker")]
            Backend::Docker(_) => Err(docker::unsupported("start a broker node")),
            Backend::External(_) => Err(external::unsupported("start a broker node")),
        }
    }

    /// Kills everything the harness started and removes the work dir.
    pub async fn stop(&self) {
        match &self.backend {
            Backend::Local(c) => c.stop().await,
            #[cfg(feature = "docker")]
            Backend::Docker(d) => d.stop().await,
            Backend::External(_) => {}
        }
    }

    /// The broker logs (one per node) to keep as artifacts.
    pub fn log_paths(&self) -> Vec<PathBuf> {
        match &self.backend {
            Backend::Local(c) => c.log_paths(),
            _ => Vec::new(),
        }
    }

    pub fn work_dir(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Local(c) => c.work_dir(),
            _ => None,
        }
    }
}

#[cfg(feature = "docker")]
async fn start_docker(opts: &BrokerOptions) -> Result<Backend, BrokerError> {
    Ok(Backend::Docker(Box::new(
        docker::DockerBroker::start(opts).await?,
    )))
}

#[cfg(not(feature = "docker"))]
async fn start_docker(_opts: &BrokerOptions) -> Result<Backend, BrokerError> {
    Err(BrokerError::DockerUnavailable {
        detail:
            "this build has no Docker support: rebuild with --features docker or use --broker local"
                .into(),
    })
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub(crate) fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_kind_round_trips() {
        for kind in [
            BackendKind::Local,
            BackendKind::Docker,
            BackendKind::External,
        ] {
            assert_eq!(kind.to_string().parse::<BackendKind>().unwrap(), kind);
        }
        let err = "kube".parse::<BackendKind>().unwrap_err().to_string();
        assert!(err.contains("local, docker, external"), "{err}");
    }

    #[test]
    fn validate_names_the_field_and_range() {
        let mut opts = BrokerOptions::local_default();
        opts.nodes = 6;
        assert!(
            opts.validate()
                .unwrap_err()
                .to_string()
                .contains("nodes: 6 is outside 1..=5")
        );
        opts.nodes = 0;
        assert!(opts.validate().is_err());
        opts.nodes = 3;
        opts.offsets_retention_minutes = 0;
        let err = opts.validate().unwrap_err().to_string();
        assert!(err.contains("offsets_retention_minutes"), "{err}");
        opts.offsets_retention_minutes = 1;
        assert!(opts.validate().is_ok());
        opts.backend = BackendKind::External;
        assert!(
            opts.validate()
                .unwrap_err()
                .to_string()
                .contains("bootstrap")
        );
    }

    #[tokio::test]
    async fn external_backend_refuses_faults_with_a_hint() {
        let mut opts = BrokerOptions::local_default();
        opts.backend = BackendKind::External;
        opts.external_bootstrap_servers = Some("127.0.0.1:9".into());
        let broker = Broker::start(opts).await.unwrap();
        assert_eq!(broker.bootstrap_servers(), "127.0.0.1:9");
        assert_eq!(broker.backend(), BackendKind::External);
        let err = broker.restart().await.unwrap_err().to_string();
        assert!(err.contains("cannot restart the broker"), "{err}");
        assert!(err.contains("--broker local"), "{err}");
        assert!(broker.kill_node(1).await.is_err());
        assert!(broker.start_node(1).await.is_err());
        broker.stop().await;
    }

    #[test]
    fn cache_dir_prefers_the_explicit_variable() {
        // Read-only check of the fallback shape; env is process-global so it is not modified.
        let dir = default_cache_dir();
        if std::env::var_os("ESM_CHAOS_CACHE").is_none() {
            assert!(dir.ends_with("esm-chaos"), "{}", dir.display());
        }
    }
}
