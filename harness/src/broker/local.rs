//! Kafka as local KRaft JVM processes on loopback ports: one combined broker+controller per node,
//! a static quorum, data in a temporary work dir.

use super::provision::{JavaInfo, check_java, dist_dir, provision};
use super::{BrokerError, BrokerOptions, KAFKA_VERSION, READY_TIMEOUT_MS, log_tail};
use crate::procs::{self, ChildProc, LineHook};
use crate::proxy::TcpProxy;
use base64::Engine;
use rand::{Rng, RngCore};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The line a Kafka node logs once it serves clients.
const READY_LINE: &str = "Kafka Server started";
/// How long a SIGTERMed node may take to shut down before it is SIGKILLed.
const SHUTDOWN_GRACE_MS: u64 = 20_000;
/// How long formatting one node's storage may take.
const FORMAT_TIMEOUT_MS: u64 = 60_000;
const LOG_TAIL_LINES: usize = 30;
/// How often readiness is looked at: short, so start-up time is not padded.
const READY_POLL_MS: u64 = 25;

const LOG4J2: &str = "\
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
# The config dumps are long and slow start-up.
logger.config.name=org.apache.kafka.common.config.AbstractConfig
logger.config.level=WARN
logger.kconfig.name=kafka.server.KafkaConfig
logger.kconfig.level=WARN
";

struct NodeSpec {
    id: u8,
    port: u16,
    controller_port: u16,
    /// The broker's own port for the proxied listener, and the proxy in front of it.
    proxied: Option<(u16, u16)>,
    dir: PathBuf,
}

impl NodeSpec {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    fn props_path(&self) -> PathBuf {
        self.dir.join("server.properties")
    }

    fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.port, self.controller_port];
        ports.extend(self.proxied.map(|(real, _)| real));
        ports
    }
}

/// A class-data-sharing archive of the broker's classes, kept next to the cached jars: it roughly
/// halves JVM start-up. The first node started without one writes it when it exits gracefully.
struct Cds {
    archive: PathBuf,
    /// The node recording an archive, and the file it writes at exit.
    recording: Mutex<Option<(u8, PathBuf)>>,
}

impl Cds {
    fn new(cache_dir: &Path, java: &JavaInfo) -> Self {
        let safe: String = java
            .version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let archive = dist_dir(cache_dir, KAFKA_VERSION).join(format!("classes-java{safe}.jsa"));
        remove_stale_recordings(&archive);
        Self {
            archive,
            recording: Mutex::new(None),
        }
    }

    /// JVM flags for a launch of `node`: use the archive, or record one if none exists yet.
    fn flags(&self, node: u8) -> Vec<String> {
        if self.archive.is_file() {
            return vec![format!("-XX:SharedArchiveFile={}", self.archive.display())];
        }
        if node == 0 {
            return Vec::new(); // tools (format) never record: the archive is of the broker
        }
        let mut recording = self.recording.lock().expect("cds lock poisoned");
        match &*recording {
            Some((n, tmp)) if *n == node => {
                vec![format!("-XX:ArchiveClassesAtExit={}", tmp.display())]
            }
            Some(_) => Vec::new(),
            None => {
                let tmp = self.archive.with_extension(format!(
                    "jsa.tmp-{}-{:08x}",
                    std::process::id(),
                    rand::rng().next_u32()
                ));
                *recording = Some((node, tmp.clone()));
                vec![format!("-XX:ArchiveClassesAtExit={}", tmp.display())]
            }
        }
    }

    /// After `node` exited: keep its archive if it wrote one completely (graceful exit).
    fn node_exited(&self, node: u8, graceful: bool) {
        let mut recording = self.recording.lock().expect("cds lock poisoned");
        let Some((n, tmp)) = recording.take_if(|(n, _)| *n == node) else {
            return;
        };
        let written = std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0);
        if graceful && written && std::fs::rename(&tmp, &self.archive).is_ok() {
            tracing::info!(archive = %self.archive.display(), "recorded a class-data-sharing archive for Kafka");
            return;
        }
        let _ = std::fs::remove_file(&tmp);
        tracing::debug!(node = n, "no class-data-sharing archive recorded");
    }

    /// A JVM that rejects the archive says so on a `[cds]` line; drop it so it is re-recorded.
    fn reject(&self) {
        let _ = std::fs::remove_file(&self.archive);
    }
}

/// Removes recordings left by runs that were killed (older than 10 minutes).
fn remove_stale_recordings(archive: &Path) {
    let (Some(dir), Some(name)) = (archive.parent(), archive.file_name()) else {
        return;
    };
    let prefix = format!("{}.tmp-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(600)));
        if stale && entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Readiness of one launch, fed by the log hook.
struct Launch {
    launched: Instant,
    ready_ms: AtomicU64,
    port_in_use: AtomicBool,
}

pub(super) struct LocalCluster {
    work: PathBuf,
    /// The storage tool's `bootstrap.checkpoint` for this Kafka version, once written.
    checkpoint: PathBuf,
    java: JavaInfo,
    classpath: String,
    cds: Arc<Cds>,
    nodes: Vec<NodeSpec>,
    procs: Mutex<Vec<Option<ChildProc>>>,
    proxies: Vec<Arc<TcpProxy>>,
    last_ready_ms: AtomicU64,
    /// Serialises restart, kill, start and stop.
    ops: tokio::sync::Mutex<()>,
    stopped: AtomicBool,
}

impl LocalCluster {
    pub(super) async fn start(opts: &BrokerOptions) -> Result<LocalCluster, BrokerError> {
        let cache_dir = opts.cache_dir.clone();
        let (java, libs) = tokio::task::spawn_blocking(move || {
            let java = check_java()?;
            let libs = provision(&cache_dir, KAFKA_VERSION)?;
            Ok::<_, BrokerError>((java, libs))
        })
        .await
        .map_err(|e| BrokerError::Process {
            program: "provisioning".into(),
            detail: e.to_string(),
        })??;
        let work = tempfile::Builder::new()
            .prefix("esm-chaos-kafka-")
            .tempdir()
            .map_err(BrokerError::io("cannot create the broker work dir"))?
            .keep();
        procs::register_temp_dir(&work);
        let cds = Arc::new(Cds::new(&opts.cache_dir, &java));
        let mut cluster = LocalCluster {
            work,
            checkpoint: dist_dir(&opts.cache_dir, KAFKA_VERSION).join(CHECKPOINT_FILE),
            java,
            classpath: format!("{}/*", libs.display()),
            cds,
            nodes: Vec::new(),
            procs: Mutex::new(Vec::new()),
            proxies: Vec::new(),
            last_ready_ms: AtomicU64::new(0),
            ops: tokio::sync::Mutex::new(()),
            stopped: AtomicBool::new(false),
        };
        // On any error the cluster is dropped, which kills its nodes and removes the work dir.
        cluster.prepare(opts).await?;
        cluster.format_all().await?;
        let launched = cluster.launch_all().await?;
        cluster.last_ready_ms.store(launched, Ordering::Relaxed);
        Ok(cluster)
    }

    /// Picks ports, binds the proxies and writes each node's configuration.
    async fn prepare(&mut self, opts: &BrokerOptions) -> Result<(), BrokerError> {
        let count = usize::from(opts.nodes);
        let per_node = if opts.proxied { 3 } else { 2 };
        let ports = free_ports(count * per_node)?;
        for i in 0..count {
            let id = u8::try_from(i + 1).expect("at most 5 nodes");
            let base = i * per_node;
            let proxied = if opts.proxied {
                let real = ports[base + 2];
                let target = SocketAddr::from(([127, 0, 0, 1], real));
                let proxy = TcpProxy::start(target)
                    .await
                    .map_err(BrokerError::io("cannot bind a proxy port on 127.0.0.1"))?;
                let proxy_port = proxy.port();
                self.proxies.push(proxy);
                Some((real, proxy_port))
            } else {
                None
            };
            let node = NodeSpec {
                id,
                port: ports[base],
                controller_port: ports[base + 1],
                proxied,
                dir: self.work.join(format!("node-{id}")),
            };
            std::fs::create_dir_all(node.data_dir()).map_err(BrokerError::io(format!(
                "cannot create {}",
                node.dir.display()
            )))?;
            self.nodes.push(node);
        }
        let voters = self
            .nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        for node in &self.nodes {
            let props = server_properties(node, &voters, count, opts.offsets_retention_minutes);
            std::fs::write(node.props_path(), props).map_err(BrokerError::io(format!(
                "cannot write {}",
                node.props_path().display()
            )))?;
        }
        let log4j = self.work.join("log4j2.properties");
        std::fs::write(&log4j, LOG4J2)
            .map_err(BrokerError::io(format!("cannot write {}", log4j.display())))?;
        self.procs = Mutex::new((0..count).map(|_| None).collect());
        Ok(())
    }

    fn java_command(&self, node: u8, main: &str) -> Command {
        let mut cmd = Command::new(&self.java.path);
        cmd.args([
            "-Xmx512m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
        ])
        .args(self.cds.flags(node))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            self.work.join("log4j2.properties").display()
        ))
        .arg("-cp")
        .arg(&self.classpath)
        .arg(main)
        .current_dir(&self.work);
        cmd
    }

    /// Writes every node's storage as the storage tool (`kafka-storage format`) does for a static
    /// quorum: the release's `bootstrap.checkpoint` (feature levels, the same for every node)
    /// and a `meta.properties` with the node id, one fresh cluster id and a fresh directory id.
    /// The tool is a JVM of its own (2.5 s, 1.7 s of CPU, per node); it now runs once per Kafka
    /// version and cache, and its checkpoint is copied.
    async fn format_all(&self) -> Result<(), BrokerError> {
        let checkpoint = self.bootstrap_checkpoint().await?;
        let cluster_id = new_cluster_id();
        for node in &self.nodes {
            write_storage(&node.data_dir(), node.id, &cluster_id, &checkpoint)?;
        }
        Ok(())
    }

    /// The cached checkpoint, or the storage tool's for node 1, kept for later clusters.
    async fn bootstrap_checkpoint(&self) -> Result<Vec<u8>, BrokerError> {
        if let Ok(bytes) = std::fs::read(&self.checkpoint)
            && !bytes.is_empty()
        {
            return Ok(bytes);
        }
        let first = &self.nodes[0];
        self.format(first, &new_cluster_id()).await?;
        let written = first.data_dir().join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&written).map_err(BrokerError::io(format!(
            "the storage tool wrote no {}",
            written.display()
        )))?;
        // Other clusters, of this process too, may be writing it: each writes a file of its own,
        // then renames, so no reader ever sees a partly written checkpoint.
        let tmp = self.checkpoint.with_extension(format!(
            "tmp-{}-{:08x}",
            std::process::id(),
            rand::rng().next_u32()
        ));
        let kept =
            std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &self.checkpoint));
        if let Err(e) = kept {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, path = %self.checkpoint.display(), "cannot keep the bootstrap checkpoint; the next broker formats again");
        }
        Ok(bytes)
    }

    async fn format(&self, node: &NodeSpec, cluster_id: &str) -> Result<(), BrokerError> {
        // Node 0 is never launched, so formatting never records (or fights over) the archive.
        let mut cmd = self.java_command(0, "kafka.tools.StorageTool");
        cmd.args(["format", "-t", cluster_id, "-c"])
            .arg(node.props_path());
        let log = node.dir.join("format.log");
        let child =
            procs::spawn(&format!("kafka-format-{}", node.id), cmd, &log, None).map_err(|e| {
                BrokerError::Process {
                    program: "java (kafka StorageTool)".into(),
                    detail: e.to_string(),
                }
            })?;
        let status = child
            .wait_timeout(Duration::from_millis(FORMAT_TIMEOUT_MS))
            .await;
        if status.is_some_and(|s| s.success()) {
            return Ok(());
        }
        child.kill().await;
        Err(BrokerError::Process {
            program: format!("kafka StorageTool format for node {}", node.id),
            detail: format!("{status:?}; {}", log_tail(&log, LOG_TAIL_LINES)),
        })
    }

    /// Launches every node and waits until all are ready; returns the slowest launch-to-ready ms.
    async fn launch_all(&self) -> Result<u64, BrokerError> {
        let launches: Vec<_> = self
            .nodes
            .iter()
            .map(|n| self.launch(n))
            .collect::<Result<_, _>>()?;
        let waits = self
            .nodes
            .iter()
            .zip(launches)
            .map(|(n, l)| self.wait_ready(n, l));
        let ready = futures::future::try_join_all(waits).await?;
        Ok(ready.into_iter().max().unwrap_or(0))
    }

    fn launch(&self, node: &NodeSpec) -> Result<Arc<Launch>, BrokerError> {
        let launch = Arc::new(Launch {
            launched: Instant::now(),
            ready_ms: AtomicU64::new(u64::MAX),
            port_in_use: AtomicBool::new(false),
        });
        let mut cmd = self.java_command(node.id, "kafka.Kafka");
        cmd.arg(node.props_path());
        let seen = launch.clone();
        let cds = self.cds.clone();
        let hook: LineHook = Arc::new(move |line: &str| {
            if line.contains(READY_LINE) {
                let ms = u64::try_from(seen.launched.elapsed().as_millis()).unwrap_or(u64::MAX);
                seen.ready_ms.store(ms, Ordering::Relaxed);
            } else if line.contains("Address already in use") {
                seen.port_in_use.store(true, Ordering::Relaxed);
            } else if line.contains("[cds]")
                && (line.contains("[error]") || line.contains("[warning]"))
            {
                cds.reject();
            }
        });
        let child = procs::spawn(
            &format!("kafka-node-{}", node.id),
            cmd,
            &node.log_path(),
            Some(hook),
        )
        .map_err(|e| BrokerError::Process {
            program: format!("java (kafka node {})", node.id),
            detail: e.to_string(),
        })?;
        self.procs.lock().expect("procs lock poisoned")[usize::from(node.id - 1)] = Some(child);
        Ok(launch)
    }

    /// Waits for the ready line; an early exit or the deadline gives the log tail.
    async fn wait_ready(&self, node: &NodeSpec, launch: Arc<Launch>) -> Result<u64, BrokerError> {
        let what = format!("node {} (127.0.0.1:{})", node.id, node.port);
        let outcome = crate::wait::until_every(
            &format!("Kafka {what} to start"),
            Duration::from_millis(READY_TIMEOUT_MS),
            Duration::from_millis(READY_POLL_MS),
            || async {
                let ready_ms = launch.ready_ms.load(Ordering::Relaxed);
                if ready_ms != u64::MAX {
                    return Ok(Ok(ready_ms));
                }
                match self.exit_status(node.id) {
                    Some(status) => Ok(Err(status)),
                    None => Err("no ready line yet".to_string()),
                }
            },
        )
        .await;
        let waited_ms = u64::try_from(launch.launched.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(Ok(ready_ms)) => {
                tracing::info!(node = node.id, ready_ms, "Kafka node ready");
                Ok(ready_ms)
            }
            Ok(Err(_)) if launch.port_in_use.load(Ordering::Relaxed) => {
                self.kill_proc(node.id, false).await;
                Err(BrokerError::PortInUse {
                    port: busy_port(&node.ports()).unwrap_or(node.port),
                })
            }
            Ok(Err(status)) => Err(BrokerError::NotReady {
                what: format!("{what} exited ({status})"),
                waited_ms,
                log: node.log_path(),
                log_tail: log_tail(&node.log_path(), LOG_TAIL_LINES),
            }),
            Err(_) => {
                self.kill_proc(node.id, false).await;
                Err(BrokerError::NotReady {
                    what,
                    waited_ms,
                    log: node.log_path(),
                    log_tail: log_tail(&node.log_path(), LOG_TAIL_LINES),
                })
            }
        }
    }

    fn exit_status(&self, id: u8) -> Option<std::process::ExitStatus> {
        let procs = self.procs.lock().expect("procs lock poisoned");
        procs[usize::from(id - 1)]
            .as_ref()
            .and_then(|p| p.try_status())
    }

    fn take_proc(&self, id: u8) -> Option<ChildProc> {
        self.procs.lock().expect("procs lock poisoned")[usize::from(id - 1)].take()
    }

    /// SIGKILLs (or, if `graceful`, SIGTERMs) one node and reaps it.
    async fn kill_proc(&self, id: u8, graceful: bool) {
        let Some(child) = self.take_proc(id) else {
            return;
        };
        let clean = if graceful {
            child
                .terminate(Duration::from_millis(SHUTDOWN_GRACE_MS))
                .await
                .is_some_and(|s| s.code().is_some() || s.signal_is_term())
        } else {
            child.kill().await;
            false
        };
        self.cds.node_exited(id, clean);
    }

    fn node(&self, node_id: u8) -> Result<&NodeSpec, BrokerError> {
        self.nodes
            .get(usize::from(node_id).wrapping_sub(1))
            .ok_or(BrokerError::NoSuchNode {
                node_id,
                nodes: self.nodes.len(),
            })
    }

    pub(super) fn bootstrap_servers(&self) -> String {
        join_ports(self.nodes.iter().map(|n| n.port))
    }

    pub(super) fn proxied_bootstrap_servers(&self) -> Option<String> {
        let ports: Option<Vec<u16>> = self.nodes.iter().map(|n| n.proxied.map(|p| p.1)).collect();
        ports.map(|p| join_ports(p.into_iter()))
    }

    pub(super) fn proxies(&self) -> Vec<Arc<TcpProxy>> {
        self.proxies.clone()
    }

    pub(super) fn nodes(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn last_ready_ms(&self) -> u64 {
        self.last_ready_ms.load(Ordering::Relaxed)
    }

    pub(super) async fn restart(&self) -> Result<(), BrokerError> {
        let _ops = self.ops.lock().await;
        self.ensure_running("restart the broker")?;
        let stops = self.nodes.iter().map(|n| self.kill_proc(n.id, true));
        futures::future::join_all(stops).await;
        let ready_ms = self.launch_all().await?;
        self.last_ready_ms.store(ready_ms, Ordering::Relaxed);
        Ok(())
    }

    pub(super) async fn kill_node(&self, node_id: u8) -> Result<(), BrokerError> {
        let _ops = self.ops.lock().await;
        self.ensure_running("kill a broker node")?;
        self.node(node_id)?;
        self.kill_proc(node_id, false).await;
        Ok(())
    }

    /// Starts a node that was killed (or crashed); a node that runs already is left alone.
    pub(super) async fn start_node(&self, node_id: u8) -> Result<(), BrokerError> {
        let _ops = self.ops.lock().await;
        self.ensure_running("start a broker node")?;
        let node = self.node(node_id)?;
        let running = self.procs.lock().expect("procs lock poisoned")[usize::from(node_id - 1)]
            .as_ref()
            .is_some_and(ChildProc::is_running);
        if running {
            return Ok(());
        }
        self.kill_proc(node_id, false).await; // reap a crashed one
        let launch = self.launch(node)?;
        let ready_ms = self.wait_ready(node, launch).await?;
        self.last_ready_ms.store(ready_ms, Ordering::Relaxed);
        Ok(())
    }

    fn ensure_running(&self, operation: &str) -> Result<(), BrokerError> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(BrokerError::Unsupported {
                operation: operation.into(),
                backend: super::BackendKind::Local,
                hint: "the broker was stopped".into(),
            });
        }
        Ok(())
    }

    pub(super) async fn stop(&self) {
        let _ops = self.ops.lock().await;
        if self.stopped.swap(true, Ordering::Relaxed) {
            return;
        }
        // The node recording a class-data archive exits gracefully so the archive is written.
        let recorder = self
            .cds
            .recording
            .lock()
            .expect("cds lock poisoned")
            .as_ref()
            .map(|r| r.0);
        let stops = self
            .nodes
            .iter()
            .map(|n| self.kill_proc(n.id, Some(n.id) == recorder));
        futures::future::join_all(stops).await;
        for proxy in &self.proxies {
            proxy.stop();
        }
        self.remove_work_dir();
    }

    fn remove_work_dir(&self) {
        if let Err(e) = std::fs::remove_dir_all(&self.work)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.work.display(), error = %e, "cannot remove the broker work dir");
        }
        procs::keep_temp_dir(&self.work); // off the cleanup list: it is gone
    }

    pub(super) fn log_paths(&self) -> Vec<PathBuf> {
        self.nodes.iter().map(NodeSpec::log_path).collect()
    }

    pub(super) fn work_dir(&self) -> Option<PathBuf> {
        Some(self.work.clone())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.stopped.swap(true, Ordering::Relaxed) {
            return;
        }
        // Dropping a ChildProc SIGKILLs and reaps it.
        let procs = std::mem::take(&mut *self.procs.lock().unwrap_or_else(|e| e.into_inner()));
        drop(procs);
        for node in &self.nodes {
            self.cds.node_exited(node.id, false);
        }
        for proxy in &self.proxies {
            proxy.stop();
        }
        self.remove_work_dir();
    }
}

trait SignalIsTerm {
    fn signal_is_term(&self) -> bool;
}

impl SignalIsTerm for std::process::ExitStatus {
    fn signal_is_term(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.signal() == Some(libc::SIGTERM)
    }
}

fn server_properties(
    node: &NodeSpec,
    voters: &str,
    nodes: usize,
    retention_minutes: u32,
) -> String {
    let rf = nodes.min(3);
    let min_isr = nodes.min(2);
    let (mut listeners, mut advertised) = (
        format!(
            "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
            node.port, node.controller_port
        ),
        format!("PLAINTEXT://127.0.0.1:{}", node.port),
    );
    if let Some((real, proxy)) = node.proxied {
        listeners += &format!(",PROXIED://127.0.0.1:{real}");
        advertised += &format!(",PROXIED://127.0.0.1:{proxy}");
    }
    format!(
        "process.roles=broker,controller
node.id={id}
controller.quorum.voters={voters}
listeners={listeners}
advertised.listeners={advertised}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs={data}
offsets.retention.minutes={retention_minutes}
offsets.retention.check.interval.ms=1000
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor={rf}
share.coordinator.state.topic.min.isr={min_isr}
default.replication.factor={rf}
num.network.threads=2
# Fence a killed node within seconds, so leaders and ISRs move on quickly.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
num.io.threads=4
# Topics with a short retention.ms lose their records within seconds, not after 5 minutes.
log.retention.check.interval.ms=1000
# Room for single records past the Invoke API's 6 MB limit (payload-limit scenarios).
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
",
        id = node.id,
        data = node.data_dir().display(),
    )
}

/// The storage tool's file of the release's feature levels (see [`LocalCluster::format_all`]).
const CHECKPOINT_FILE: &str = "bootstrap.checkpoint";

/// One node's log directory as `kafka-storage format` leaves it: `checkpoint` and a
/// `meta.properties` (version 1) naming the node, the cluster and this directory.
fn write_storage(
    data: &Path,
    node_id: u8,
    cluster_id: &str,
    checkpoint: &[u8],
) -> Result<(), BrokerError> {
    let meta = format!(
        "node.id={node_id}\ndirectory.id={}\nversion=1\ncluster.id={cluster_id}\n",
        new_cluster_id()
    );
    for (name, bytes) in [
        (CHECKPOINT_FILE, checkpoint),
        ("meta.properties", meta.as_bytes()),
    ] {
        let path = data.join(name);
        std::fs::write(&path, bytes)
            .map_err(BrokerError::io(format!("cannot write {}", path.display())))?;
    }
    Ok(())
}

/// A fresh random cluster id: 16 bytes as 22 characters of unpadded base64url.
fn new_cluster_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    // A leading '-' (or '_') would be read as an option by the storage tool: with the top bit
    // clear the first character is a letter.
    bytes[0] &= 0x7f;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Broker ports are picked from here up to just below the kernel's ephemeral range.
const PORT_POOL_LOW: u16 = 20_000;
/// Random picks tried before giving up on finding free ports.
const PORT_PICKS_MAX: usize = 10_000;

/// `count` distinct free loopback ports for broker listeners, below the kernel's ephemeral
/// range: a port picked there stays free until the JVM binds it a few seconds later (and across
/// a node's restart), while a port from the ephemeral range can meanwhile become the source port
/// of any outgoing connection, and brokers, pollers and clients open many. No port is handed out
/// twice by this process, so brokers started at the same moment never pick the same one.
fn free_ports(count: usize) -> Result<Vec<u16>, BrokerError> {
    static HANDED_OUT: Mutex<std::collections::BTreeSet<u16>> =
        Mutex::new(std::collections::BTreeSet::new());
    let Some(high) = ephemeral_low().and_then(|low| low.checked_sub(1)) else {
        return ephemeral_ports(count);
    };
    if high < PORT_POOL_LOW.saturating_add(1_000) {
        return ephemeral_ports(count); // no room below the ephemeral range on this system
    }
    let mut handed_out = HANDED_OUT.lock().expect("ports lock poisoned");
    let mut rng = rand::rng();
    let mut picked = Vec::with_capacity(count);
    for _ in 0..PORT_PICKS_MAX {
        if picked.len() == count {
            break;
        }
        let port = rng.random_range(PORT_POOL_LOW..=high);
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            picked.push(port);
        }
    }
    if picked.len() < count {
        return Err(BrokerError::io(format!(
            "cannot find {count} free ports on 127.0.0.1 between {PORT_POOL_LOW} and {high}"
        ))(std::io::Error::from(
            std::io::ErrorKind::AddrInUse,
        )));
    }
    Ok(picked)
}

/// The first port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`).
fn ephemeral_low() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

/// `count` distinct ports the kernel hands out (all held at once so none repeats): the fallback
/// where the ephemeral range leaves no room below it.
fn ephemeral_ports(count: usize) -> Result<Vec<u16>, BrokerError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(BrokerError::io("cannot find a free port on 127.0.0.1"))?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The first of `ports` that something else holds.
fn busy_port(ports: &[u16]) -> Option<u16> {
    ports
        .iter()
        .copied()
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_err())
}

fn join_ports(ports: impl Iterator<Item = u16>) -> String {
    ports
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod cluster_id_tests {
    use super::*;

    #[test]
    fn cluster_ids_never_start_like_an_option() {
        for _ in 0..2_000 {
            let id = new_cluster_id();
            assert_eq!(id.len(), 22);
            assert!(id.chars().next().unwrap().is_ascii_alphabetic(), "{id}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_base64url_chars_and_fresh() {
        let a = new_cluster_id();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, new_cluster_id());
    }

    #[test]
    fn storage_is_written_as_the_storage_tool_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d).unwrap();
            write_storage(d, 2, "AAAAAAAAAAAAAAAAAAAAAA", b"levels").unwrap();
            assert_eq!(std::fs::read(d.join(CHECKPOINT_FILE)).unwrap(), b"levels");
        }
        let meta = |d: &Path| std::fs::read_to_string(d.join("meta.properties")).unwrap();
        let directory_id = |text: &str| {
            let line = text
                .lines()
                .find(|l| l.starts_with("directory.id="))
                .unwrap();
            line["directory.id=".len()..].to_string()
        };
        let text = meta(&a);
        for line in [
            "node.id=2",
            "version=1",
            "cluster.id=AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from {text}"
            );
        }
        assert_eq!(directory_id(&text).len(), 22);
        assert_ne!(
            directory_id(&text),
            directory_id(&meta(&b)),
            "directory ids repeat"
        );
    }

    #[test]
    fn properties_carry_the_quorum_the_proxy_and_the_retention() {
        let node = NodeSpec {
            id: 2,
            port: 1001,
            controller_port: 1002,
            proxied: Some((1003, 1004)),
            dir: PathBuf::from("/w/node-2"),
        };
        let props = server_properties(&node, "1@127.0.0.1:1,2@127.0.0.1:1002", 3, 1);
        assert!(props.contains("node.id=2\n"));
        assert!(props.contains("controller.quorum.voters=1@127.0.0.1:1,2@127.0.0.1:1002\n"));
        assert!(props.contains(",PROXIED://127.0.0.1:1003\n"));
        assert!(props.contains(
            "advertised.listeners=PLAINTEXT://127.0.0.1:1001,PROXIED://127.0.0.1:1004\n"
        ));
        assert!(props.contains("offsets.topic.replication.factor=3\n"));
        assert!(props.contains("transaction.state.log.min.isr=2\n"));
        assert!(props.contains("offsets.retention.minutes=1\n"));
        assert!(props.contains("log.dirs=/w/node-2/data\n"));
    }

    #[test]
    fn free_ports_are_distinct_across_calls_and_below_the_ephemeral_range() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            for port in free_ports(6).unwrap() {
                assert!(seen.insert(port), "port {port} handed out twice");
            }
        }
        if let Some(low) = ephemeral_low().filter(|&low| low > PORT_POOL_LOW + 1_000) {
            assert!(
                seen.iter().all(|&p| p >= PORT_POOL_LOW && p < low),
                "{seen:?}"
            );
        }
    }
}
