//! One scenario's world: its broker, topics, functions, mappings, workload and history, behind
//! methods the Cucumber steps call one to one. Steps stay thin; everything here is reachable
//! from unit and integration tests. State has owners with private fields: `topics::Topics`,
//! `functions::Functions`, `mappings::Mappings` (a mapping's config parsed once, when it is
//! defined). The step methods are split by concern: `setup` (broker, topics, functions, mapping
//! definitions), `lifecycle` (a mapping's starts, scaling, stops and poller faults), `faults`,
//! `workload`, `assertions`, `observe`; `isolation` decides from the steps' declarations whether
//! the scenario needs its own broker.

mod assertions;
mod faults;
mod functions;
mod isolation;
mod lifecycle;
mod mappings;
mod observe;
mod setup;
mod topics;
mod workload;

pub use functions::FunctionEvent;
pub use isolation::{CLUSTER_SLOTS, DeclaredStep, Isolation, Needs, StartRole};
pub use setup::set_table_field;

use crate::admin::Admin;
use crate::broker::{BackendKind, Broker, BrokerOptions};
use crate::check::{self, Subject, Verdict};
use crate::history::{EventKind, History};
use crate::lambda::Mode;
use crate::mapping::{ConsumerCommand, Mapping, MappingLaunch};
use crate::names::Names;
use crate::nemesis::Nemesis;
use crate::wait;
use functions::Functions;
use mappings::{MappingDef, Mappings};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use topics::Topics;

/// How often the observer reads committed offsets and log-start offsets from the broker.
pub const OBSERVE_INTERVAL_MS: u64 = 200;
/// Assertions without "within" still let asynchronous commits land: this long, at most.
pub const SETTLE_TIMEOUT_MS: u64 = 5_000;
/// The function timeout given to pollers: long enough for scripted delays, short enough that a
/// hung call cannot outlast a scenario.
pub const FUNCTION_TIMEOUT_MS: u64 = 60_000;
/// Records one produce step may write.
pub const PRODUCE_COUNT_MAX: u64 = 10_000_000;
/// Deadline of the harness's own calls (produce, admin) on a broker of the scenario's own: they
/// wait out the outages its faults cause, and a broker node's start on a busy machine passes
/// the default deadline.
pub const OWN_BROKER_CALL_TIMEOUT_MS: u64 = 60_000;
/// Margin added to the offsets retention when waiting for the broker to expire a group.
pub const EXPIRY_MARGIN_MS: u64 = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    #[error(transparent)]
    Mapping(#[from] crate::mapping::MappingError),
    #[error(transparent)]
    TimedOut(#[from] wait::TimedOut),
    #[error(transparent)]
    Config(#[from] esm::config::ConfigErrors),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A scenario that asks for something it did not set up, or an impossible value.
    #[error("{0}")]
    Usage(String),
    /// An assertion that does not hold, with what was seen.
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = ScenarioError> = std::result::Result<T, E>;

fn usage(message: impl Into<String>) -> ScenarioError {
    ScenarioError::Usage(message.into())
}

fn failed(message: impl Into<String>) -> ScenarioError {
    ScenarioError::Failed(message.into())
}

/// What every scenario of one run shares: the broker options, the consumer command, the
/// shared broker (started on first use), where reports go, the seed.
pub struct RunContext {
    pub broker_options: BrokerOptions,
    pub consumer: ConsumerCommand,
    pub report_dir: PathBuf,
    /// Write artifacts for passing scenarios too.
    pub report_all: bool,
    pub seed: u64,
    shared_broker: tokio::sync::OnceCell<Arc<Broker>>,
    /// Scenarios with a broker of their own run beside the shared pool, this many at once.
    own_broker_slots: Arc<tokio::sync::Semaphore>,
    scenario_counter: AtomicU64,
    run_id: String,
}

/// Broker JVMs of their own at once: two per core. A running broker idles between requests;
/// its start-up (a few CPU seconds) is what competes with the scenarios already running, and
/// the starts spread out as scenarios end at different times. A 3-node cluster takes three.
pub fn own_brokers_max() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_mul(OWN_BROKERS_PER_CORE)
        .clamp(1, OWN_BROKERS_MAX)
}

/// See [`own_brokers_max`].
const OWN_BROKERS_PER_CORE: usize = 2;

/// The most scenarios with a broker of their own that run at once, however many cores.
pub const OWN_BROKERS_MAX: usize = 8;

impl RunContext {
    pub fn new(
        broker_options: BrokerOptions,
        consumer: ConsumerCommand,
        report_dir: PathBuf,
        report_all: bool,
        seed: u64,
    ) -> RunContext {
        let run_id = format!("r{:06x}", seed & 0xff_ffff ^ u64::from(std::process::id()));
        RunContext {
            broker_options,
            consumer,
            report_dir,
            report_all,
            seed,
            shared_broker: tokio::sync::OnceCell::new(),
            own_broker_slots: Arc::new(tokio::sync::Semaphore::new(own_brokers_max())),
            scenario_counter: AtomicU64::new(0),
            run_id,
        }
    }

    /// The broker every plain scenario shares, started on first use.
    pub async fn shared_broker(&self) -> Result<Arc<Broker>> {
        let broker = self
            .shared_broker
            .get_or_try_init(|| async {
                Broker::start(self.broker_options.clone())
                    .await
                    .map(Arc::new)
            })
            .await?;
        Ok(broker.clone())
    }

    /// Waits for `weight` free slots (a cluster weighs more than one broker) for a scenario with
    /// a broker of its own; they are free again when the permit is dropped (the scenario's end).
    pub async fn own_broker_slot(&self, weight: u32) -> tokio::sync::OwnedSemaphorePermit {
        let all = u32::try_from(own_brokers_max()).unwrap_or(1);
        let weight = weight.clamp(1, all);
        match self
            .own_broker_slots
            .clone()
            .acquire_many_owned(weight)
            .await
        {
            Ok(permit) => permit,
            Err(_) => unreachable!("the slots semaphore is never closed"),
        }
    }

    fn next_scenario_id(&self) -> String {
        let n = self.scenario_counter.fetch_add(1, Ordering::SeqCst) + 1;
        format!("{}-s{n}", self.run_id)
    }

    /// Stops the shared broker (end of run).
    pub async fn shutdown(&self) {
        if let Some(broker) = self.shared_broker.get() {
            broker.stop().await;
        }
    }
}

pub struct Scenario {
    ctx: Arc<RunContext>,
    pub title: String,
    pub id: String,
    pub names: Names,
    pub history: History,
    isolation: Isolation,
    work_dir: PathBuf,
    broker: Option<Arc<Broker>>,
    owns_broker: bool,
    admin: Option<Arc<Admin>>,
    topics: Topics,
    functions: Functions,
    mappings: Mappings,
    producers: Vec<(String, JoinHandle<Result<u64>>)>,
    observer: Option<JoinHandle<()>>,
    watched: Arc<Mutex<Watched>>,
    nemesis: Nemesis,
    /// A slot among the scenarios with a broker of their own, held until the scenario ends.
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// What the observer looks at on the broker.
#[derive(Default)]
struct Watched {
    /// (group, topic), broker names.
    commits: BTreeSet<(String, String)>,
    /// Topics whose log-start offsets are followed (retention deletes records).
    log_starts: BTreeSet<String>,
}

impl Scenario {
    pub fn new(ctx: Arc<RunContext>, title: &str, isolation: Isolation) -> Result<Scenario> {
        let id = ctx.next_scenario_id();
        let work_dir = std::env::temp_dir().join(format!("esm-chaos-{id}"));
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| usage(format!("cannot create {}: {e}", work_dir.display())))?;
        crate::procs::register_temp_dir(&work_dir);
        let history = History::new();
        let functions = Functions::new(history.clone());
        Ok(Scenario {
            nemesis: Nemesis::new(history.clone()),
            ctx,
            title: title.to_string(),
            names: Names::new(&id),
            id,
            history,
            isolation,
            work_dir,
            broker: None,
            owns_broker: false,
            admin: None,
            topics: Topics::default(),
            functions,
            mappings: Mappings::default(),
            producers: Vec::new(),
            observer: None,
            watched: Arc::new(Mutex::new(Watched::default())),
            slot: None,
        })
    }

    /// Keeps the scenario's slot (see [`RunContext::own_broker_slot`]) until it finishes.
    pub fn hold_slot(&mut self, slot: Option<tokio::sync::OwnedSemaphorePermit>) {
        self.slot = slot;
    }

    // ----- teardown -------------------------------------------------------------------------

    /// Stops everything the scenario started. With `failed` (or --report for all), writes the
    /// artifacts and returns their folder.
    pub async fn finish(mut self, failed: bool) -> Option<PathBuf> {
        let mut logs: Vec<(String, PathBuf)> = Vec::new();
        for (name, _) in self.mappings.iter() {
            if let Ok(mapping) = self.mappings.running(name) {
                mapping.kill_all().await;
                for path in mapping.log_paths() {
                    logs.push((format!("{name}: {}", file_name(&path)), path));
                }
            }
        }
        logs.extend(self.functions.stop_real().await);
        for (_, handle) in self.producers.drain(..) {
            handle.abort();
        }
        self.nemesis.heal();
        if let Some(observer) = self.observer.take() {
            observer.abort();
        }
        if let Some(broker) = &self.broker {
            for path in broker.log_paths() {
                logs.push((format!("broker: {}", file_name(&path)), path));
            }
        }
        let _ = self.collect_destinations().await;
        let report = if failed || self.ctx.report_all {
            let dir = self
                .ctx
                .report_dir
                .join(sanitise(&format!("{}-{}", self.id, self.title)));
            let verdicts = self.verdicts();
            crate::report::write_artifacts(
                &dir,
                &self.title,
                &self.history,
                &self.names,
                &logs,
                &verdicts,
            )
            .ok()
        } else {
            None
        };
        if self.owns_broker
            && let Some(broker) = self.broker.take()
        {
            broker.stop().await;
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
        crate::procs::keep_temp_dir(&self.work_dir);
        report
    }
}

pub(super) fn describe_keys(keys: &[&(i32, i64)]) -> String {
    keys.iter()
        .take(5)
        .map(|(p, o)| format!("partition {p} offset {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::assertions::failure_record_value;
    use super::*;

    #[test]
    fn table_rows_become_aws_fields() {
        let mut config =
            json!({ "FunctionName": "f", "Topics": ["t"], "StartingPosition": "TRIM_HORIZON" });
        for (k, v) in [
            ("BatchSize", "10"),
            ("ConsumerGroupId", "orders-group"),
            ("BisectBatchOnFunctionError", "true"),
            ("FunctionResponseTypes", "ReportBatchItemFailures"),
            (
                "DestinationConfig.OnFailure.Destination",
                "kafka://orders-dlq",
            ),
            ("FilterCriteria", r#"{"value": {"type": ["order"]}}"#),
            ("MaximumBatchingWindowInSeconds", "0.5"),
        ] {
            set_table_field(&mut config, k, v).unwrap();
        }
        assert_eq!(config["BatchSize"], 10);
        assert_eq!(
            config["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"],
            "orders-group"
        );
        assert_eq!(config["BisectBatchOnFunctionError"], true);
        assert_eq!(
            config["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(
            config["DestinationConfig"]["OnFailure"]["Destination"],
            "kafka://orders-dlq"
        );
        assert_eq!(
            config["FilterCriteria"]["Filters"][0]["Pattern"],
            r#"{"value": {"type": ["order"]}}"#
        );
        assert_eq!(config["MaximumBatchingWindowInSeconds"], 0.5);
    }

    #[test]
    fn failure_record_value_decodes_the_payload_record() {
        let json = json!({ "payload": { "records": { "t-0": [ { "value": "cG9pc29u" } ] } } });
        assert_eq!(failure_record_value(&json).as_deref(), Some("poison"));
    }
}
