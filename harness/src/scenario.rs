//! One scenario's world: its broker, topics, functions, mappings, workload and history, behind
//! methods the Cucumber steps call one to one. Steps stay thin; everything here is reachable
//! from unit and integration tests.

use crate::admin::Admin;
use crate::broker::{BackendKind, Broker, BrokerOptions};
use crate::check::{self, Subject, Verdict};
use crate::history::{EventKind, History};
use crate::lambda::{MockLambda, Mode};
use crate::mapping::{ConsumerCommand, Mapping, MappingLaunch};
use crate::names::Names;
use crate::nemesis::Nemesis;
use crate::wait;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the observer reads committed offsets and log-start offsets from the broker.
pub const OBSERVE_INTERVAL_MS: u64 = 200;
/// Assertions without "within" still let asynchronous commits land: this long, at most.
pub const SETTLE_TIMEOUT_MS: u64 = 5_000;
/// The function timeout given to pollers: long enough for scripted delays, short enough that a
/// hung call cannot outlast a scenario.
pub const FUNCTION_TIMEOUT_MS: u64 = 60_000;
/// Records one produce step may write.
pub const PRODUCE_COUNT_MAX: u64 = 10_000_000;
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
    Config(#[from] esm::config::ConfigError),
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
    scenario_counter: AtomicU64,
    run_id: String,
}

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

/// What a scenario's steps ask of the broker, read from the steps before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Isolation {
    /// It restarts or kills brokers, or asks for a cluster or another retention.
    pub own_broker: bool,
    /// It cuts or slows the network: the broker advertises proxies.
    pub proxied: bool,
}

impl Isolation {
    /// Decides from the step texts alone, so no tag is needed.
    pub fn of_steps<'a>(steps: impl IntoIterator<Item = &'a str>) -> Isolation {
        let mut isolation = Isolation::default();
        for step in steps {
            let s = step.to_ascii_lowercase();
            if s.contains("the network between") {
                isolation.own_broker = true;
                isolation.proxied = true;
            }
            let touches_broker = s.contains("the broker is restarted")
                || (s.starts_with("broker ")
                    && (s.ends_with(" is killed") || s.ends_with(" is started")))
                || s.contains("kafka cluster of");
            let other_retention =
                s.contains("offsets retention of") && !s.contains("retention of 1 minute");
            if touches_broker || other_retention {
                isolation.own_broker = true;
            }
        }
        isolation
    }
}

struct TopicState {
    real: String,
    partitions: i32,
    next_value: u64,
}

struct MappingDef {
    topic: String,
    function: String,
    /// The mapping as the scenario wrote it (scenario-local names).
    config: Value,
    uuid: String,
    running: Option<Arc<Mapping>>,
    pollers_wanted: u32,
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
    lambda: Option<MockLambda>,
    topics: BTreeMap<String, TopicState>,
    mappings: BTreeMap<String, MappingDef>,
    producers: Vec<(String, JoinHandle<Result<u64>>)>,
    observer: Option<JoinHandle<()>>,
    watched: Arc<Mutex<Watched>>,
    nemesis: Nemesis,
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
            lambda: None,
            topics: BTreeMap::new(),
            mappings: BTreeMap::new(),
            producers: Vec::new(),
            observer: None,
            watched: Arc::new(Mutex::new(Watched::default())),
        })
    }

    // ----- setup -------------------------------------------------------------------------

    /// "a Kafka broker", "… with offsets retention of N minutes", "a Kafka cluster of N brokers".
    pub async fn use_broker(&mut self, nodes: u8, retention_minutes: Option<u32>) -> Result<()> {
        if self.broker.is_some() {
            return Err(usage("this scenario already has a broker"));
        }
        let shared = &self.ctx.broker_options;
        let retention = retention_minutes.unwrap_or(shared.offsets_retention_minutes);
        let own = self.isolation.own_broker
            || nodes != shared.nodes
            || retention != shared.offsets_retention_minutes;
        let broker = if own && shared.backend != BackendKind::External {
            let mut options = shared.clone();
            options.nodes = nodes;
            options.offsets_retention_minutes = retention;
            options.proxied = self.isolation.proxied;
            self.owns_broker = true;
            Arc::new(Broker::start(options).await?)
        } else {
            self.ctx.shared_broker().await?
        };
        self.admin = Some(Arc::new(Admin::new(&broker.bootstrap_servers())?));
        self.broker = Some(broker);
        Ok(())
    }

    fn broker(&self) -> Result<&Arc<Broker>> {
        self.broker
            .as_ref()
            .ok_or_else(|| usage("no broker yet: start the scenario with 'Given a Kafka broker'"))
    }

    fn admin(&self) -> Result<Arc<Admin>> {
        self.admin
            .clone()
            .ok_or_else(|| usage("no broker yet: start the scenario with 'Given a Kafka broker'"))
    }

    /// "a topic X with N partitions [whose records are deleted after S seconds]".
    pub async fn create_topic(
        &mut self,
        local: &str,
        partitions: i32,
        retention_ms: Option<u64>,
    ) -> Result<()> {
        if !(1..=1000).contains(&partitions) {
            return Err(usage(format!(
                "topic {local}: {partitions} partitions; allowed 1 to 1000"
            )));
        }
        let real = self.names.real(local);
        let replication = i16::try_from(self.broker()?.nodes().min(3)).unwrap_or(1);
        self.admin()?
            .create_topic(&real, partitions, retention_ms, replication)
            .await?;
        if retention_ms.is_some() {
            self.watched
                .lock()
                .expect("watched lock poisoned")
                .log_starts
                .insert(real.clone());
        }
        self.topics.insert(
            local.to_string(),
            TopicState {
                real,
                partitions,
                next_value: 1,
            },
        );
        Ok(())
    }

    /// A topic the scenario names without creating it gets one partition, as a broker with
    /// auto-creation would give it.
    async fn ensure_topic(&mut self, local: &str) -> Result<String> {
        if !self.topics.contains_key(local) {
            self.create_topic(local, 1, None).await?;
        }
        Ok(self.topics[local].real.clone())
    }

    async fn lambda(&mut self) -> &MockLambda {
        if self.lambda.is_none() {
            self.lambda = Some(MockLambda::start(self.history.clone()).await);
        }
        self.lambda.as_ref().expect("just set")
    }

    /// "a Lambda function X that …".
    pub async fn define_function(&mut self, name: &str, mode: Mode, delay_ms: u64) {
        let lambda = self.lambda().await;
        lambda.define(name, mode);
        lambda.set_delay_ms(name, delay_ms);
    }

    /// "the function X starts succeeding / failing".
    pub async fn set_function_mode(&mut self, name: &str, mode: Mode) -> Result<()> {
        let lambda = self
            .lambda
            .as_ref()
            .ok_or_else(|| usage(format!("no Lambda function {name:?} was defined")))?;
        lambda.set_mode(name, mode);
        Ok(())
    }

    /// "an event source mapping M from T to F [with: table]".
    pub fn define_mapping_from_table(
        &mut self,
        name: &str,
        topic: &str,
        function: &str,
        rows: &[(String, String)],
    ) -> Result<()> {
        let mut config = json!({
            "FunctionName": function,
            "Topics": [topic],
            "StartingPosition": "TRIM_HORIZON",
        });
        for (key, value) in rows {
            set_table_field(&mut config, key, value)?;
        }
        self.define_mapping(name, config)
    }

    /// "an event source mapping M configured as: json".
    pub fn define_mapping(&mut self, name: &str, config: Value) -> Result<()> {
        if self.mappings.contains_key(name) {
            return Err(usage(format!("the mapping {name:?} is already defined")));
        }
        let topic = config["Topics"]
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let function = config["FunctionName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.mappings.insert(
            name.to_string(),
            MappingDef {
                topic,
                function,
                config,
                uuid: uuid::Uuid::new_v4().to_string(),
                running: None,
                pollers_wanted: 1,
            },
        );
        Ok(())
    }

    fn mapping_def(&self, name: &str) -> Result<&MappingDef> {
        self.mappings.get(name).ok_or_else(|| {
            usage(format!(
                "no mapping {name:?}: define it with 'Given an event source mapping \"{name}\" from …'"
            ))
        })
    }

    fn running(&self, name: &str) -> Result<Arc<Mapping>> {
        self.mapping_def(name)?
            .running
            .clone()
            .ok_or_else(|| usage(format!("the mapping {name:?} was never started")))
    }

    /// The mapping's config with broker names, written where the poller reads it.
    fn real_config(&self, def: &MappingDef) -> Result<(Value, String)> {
        let mut config = def.config.clone();
        let topic_real = self
            .topics
            .get(&def.topic)
            .map(|t| t.real.clone())
            .unwrap_or_else(|| self.names.real(&def.topic));
        if let Some(topics) = config.get_mut("Topics").and_then(Value::as_array_mut) {
            for t in topics.iter_mut() {
                if let Some(local) = t.as_str() {
                    *t = Value::String(self.names.real(local));
                }
            }
        }
        let _ = topic_real;
        let mut group = def.uuid.clone();
        for section in [
            "SelfManagedKafkaEventSourceConfig",
            "AmazonManagedKafkaEventSourceConfig",
        ] {
            if let Some(local) = config[section]["ConsumerGroupId"].as_str() {
                let real = self.names.real(local);
                group = real.clone();
                config[section]["ConsumerGroupId"] = Value::String(real);
            }
        }
        if let Some(dest) = config["DestinationConfig"]["OnFailure"]["Destination"].as_str()
            && let Some(local) = dest.strip_prefix("kafka://")
        {
            config["DestinationConfig"]["OnFailure"]["Destination"] =
                Value::String(format!("kafka://{}", self.names.real(local)));
        }
        if config.get("EventSourceArn").is_none() {
            let servers: Vec<Value> = self
                .mapping_bootstrap()?
                .split(',')
                .map(|s| Value::String(s.to_string()))
                .collect();
            config["SelfManagedEventSource"] =
                json!({ "Endpoints": { "KAFKA_BOOTSTRAP_SERVERS": servers } });
        }
        Ok((config, group))
    }

    fn mapping_bootstrap(&self) -> Result<String> {
        let broker = self.broker()?;
        Ok(broker
            .proxied_bootstrap_servers()
            .unwrap_or_else(|| broker.bootstrap_servers()))
    }

    /// The consumer group a mapping uses, broker name.
    pub fn mapping_group(&self, name: &str) -> Result<String> {
        let def = self.mapping_def(name)?;
        Ok(self.real_config(def)?.1)
    }

    /// "the mapping M is started [with N pollers]".
    pub async fn start_mapping(&mut self, name: &str, pollers: u32) -> Result<()> {
        let (topic, function) = {
            let def = self.mapping_def(name)?;
            (def.topic.clone(), def.function.clone())
        };
        if self.mapping_def(name)?.running.is_some() {
            return Err(usage(format!("the mapping {name:?} is already started")));
        }
        self.ensure_topic(&topic).await?;
        let def = self.mapping_def(name)?;
        let (config, group) = self.real_config(def)?;
        let parsed = esm::config::MappingConfig::from_value(&config).map_err(|e| {
            usage(format!(
                "mapping {name:?}: {}",
                self.names.localise(&e.to_string())
            ))
        })?;
        if let Some(dest) = parsed.destination_topic.as_deref()
            && let Some(local) = self.names.local(dest)
        {
            self.ensure_topic(&local).await?;
        }
        let mapping = Arc::new(self.launch(name, &config).await?);
        let pollers = self.poller_count(&topic, &parsed, pollers)?;
        mapping.scale_to(pollers, "started").await?;
        self.watch_group(&group, &topic);
        self.lambda().await;
        let _ = function;
        let def = self.mappings.get_mut(name).expect("checked above");
        def.running = Some(mapping);
        def.pollers_wanted = pollers;
        Ok(())
    }

    async fn launch(&mut self, name: &str, config: &Value) -> Result<Mapping> {
        let config_path = self
            .work_dir
            .join(format!("mapping-{}.json", sanitise(name)));
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(config).expect("json"),
        )
        .map_err(|e| usage(format!("cannot write {}: {e}", config_path.display())))?;
        let endpoint = self.lambda().await.endpoint();
        let launch = MappingLaunch {
            name: name.to_string(),
            config_path,
            endpoint,
            bootstrap_servers: self.mapping_bootstrap()?,
            uuid: self.mapping_def(name)?.uuid.clone(),
            function_timeout_ms: FUNCTION_TIMEOUT_MS,
            log_dir: self.work_dir.clone(),
        };
        Ok(Mapping::new(
            launch,
            self.ctx.consumer.clone(),
            self.history.clone(),
        ))
    }

    /// Pollers are capped by the partition count and ProvisionedPollerConfig, as AWS does.
    fn poller_count(
        &self,
        topic: &str,
        config: &esm::config::MappingConfig,
        wanted: u32,
    ) -> Result<u32> {
        let partitions = self.topics.get(topic).map(|t| t.partitions).unwrap_or(1);
        let cap = u32::try_from(partitions)
            .unwrap_or(1)
            .min(config.max_pollers)
            .min(crate::mapping::POLLERS_MAX);
        if wanted == 0 {
            return Err(usage("a mapping runs at least 1 poller"));
        }
        let count = wanted.min(cap).max(config.min_pollers.min(cap));
        if count != wanted {
            tracing::info!(
                topic,
                wanted,
                count,
                "poller count capped by partitions and ProvisionedPollerConfig"
            );
        }
        Ok(count)
    }

    /// "the mapping M scales to N pollers".
    pub async fn scale_mapping(&mut self, name: &str, pollers: u32) -> Result<()> {
        let mapping = self.running(name)?;
        let def = self.mapping_def(name)?;
        let (config, _) = self.real_config(def)?;
        let parsed = esm::config::MappingConfig::from_value(&config)?;
        let count = self.poller_count(&def.topic.clone(), &parsed, pollers)?;
        mapping
            .scale_to(count, &format!("scaled to {count}"))
            .await?;
        self.mappings.get_mut(name).expect("exists").pollers_wanted = count;
        Ok(())
    }

    /// "disabled": Enabled=false, every poller leaves the group cleanly.
    pub async fn disable_mapping(&mut self, name: &str) -> Result<()> {
        self.running(name)?.stop("disabled").await;
        Ok(())
    }

    /// "enabled": the pollers come back with the mapping's config.
    pub async fn enable_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let count = self.mapping_def(name)?.pollers_wanted;
        mapping.scale_to(count, "enabled").await?;
        Ok(())
    }

    /// "killed": SIGKILL of every poller.
    pub async fn kill_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let id = self.nemesis.begin(&format!("kill {name}"));
        mapping.kill_all().await;
        self.nemesis.end(id, &format!("kill {name}"));
        Ok(())
    }

    /// "restarted": pollers come back after a kill or a stop.
    pub async fn restart_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        if mapping.poller_count() > 0 {
            mapping.stop("stopped for restart").await;
        }
        let count = self.mapping_def(name)?.pollers_wanted;
        mapping.scale_to(count, "restarted").await?;
        Ok(())
    }

    /// "a poller of M is killed".
    pub async fn kill_poller(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let id = self.nemesis.begin(&format!("kill a poller of {name}"));
        let killed = mapping.kill_one().await;
        self.nemesis.end(id, &format!("kill a poller of {name}"));
        killed
            .map(|_| ())
            .ok_or_else(|| failed(format!("the mapping {name:?} has no live poller to kill")))
    }

    /// "killed during an invocation": waits for a call of the mapping's function to be in
    /// flight, then SIGKILLs every poller.
    pub async fn kill_mapping_during_invocation(&mut self, name: &str) -> Result<()> {
        let function = self.mapping_def(name)?.function.clone();
        let lambda = self.lambda().await.clone();
        wait::until(
            &format!("an invocation of {function:?} in flight"),
            Duration::from_secs(30),
            || async {
                match lambda.in_flight(&function) {
                    0 => Err(format!(
                        "{} invocations so far, none in flight",
                        lambda.invocations(&function).len()
                    )),
                    _ => Ok(()),
                }
            },
        )
        .await?;
        self.kill_mapping(name).await
    }

    /// "frozen for N seconds": SIGSTOP, the time, SIGCONT.
    pub async fn freeze_mapping(&mut self, name: &str, seconds: u64) -> Result<()> {
        let mapping = self.running(name)?;
        let fault = format!("freeze {name}");
        let id = self.nemesis.begin(&fault);
        mapping.freeze(true);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        mapping.freeze(false);
        self.nemesis.end(id, &fault);
        Ok(())
    }

    /// "the topic T grows to N partitions".
    pub async fn grow_topic(&mut self, local: &str, partitions: i32) -> Result<()> {
        let real = self.ensure_topic(local).await?;
        self.admin()?.add_partitions(&real, partitions).await?;
        if let Some(t) = self.topics.get_mut(local) {
            t.partitions = partitions;
        }
        Ok(())
    }

    /// "random faults hit the mapping M for N seconds": a seeded schedule of process faults
    /// (poller kills, freezes, whole-mapping kills, scaling, disable/enable). The same run seed
    /// and scenario title give the same schedule; the pollers end as they began.
    pub async fn chaos(&mut self, name: &str, seconds: u64) -> Result<()> {
        use rand::{Rng, SeedableRng};
        let seconds = seconds.min(crate::nemesis::FAULT_DURATION_MAX_MS / 1_000);
        let seed = self.chaos_seed();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let wanted = self.mapping_def(name)?.pollers_wanted;
        let partitions = self
            .topics
            .get(&self.mapping_def(name)?.topic)
            .map(|t| t.partitions)
            .unwrap_or(1);
        let max_pollers = u32::try_from(partitions).unwrap_or(1).max(1);
        println!(
            "esm-chaos: fault schedule of {name:?} from seed {seed} (run seed {})",
            self.ctx.seed
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while tokio::time::Instant::now() < deadline {
            let pause_ms = rng.random_range(500..2_000);
            let fault = rng.random_range(0..5u32);
            let arg = rng.random_range(1..=4u32);
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            match fault {
                0 => {
                    self.kill_poller(name).await?;
                    let count = self.mapping_def(name)?.pollers_wanted;
                    self.running(name)?
                        .scale_to(count, "restarted after a poller kill")
                        .await?;
                }
                1 => self.freeze_mapping(name, u64::from(arg)).await?,
                2 => {
                    self.kill_mapping(name).await?;
                    self.restart_mapping(name).await?;
                }
                3 => self.scale_mapping(name, arg.min(max_pollers)).await?,
                _ => {
                    let fault = format!("disable {name}");
                    let id = self.nemesis.begin(&fault);
                    self.disable_mapping(name).await?;
                    tokio::time::sleep(Duration::from_millis(u64::from(arg) * 250)).await;
                    self.enable_mapping(name).await?;
                    self.nemesis.end(id, &fault);
                }
            }
        }
        self.scale_mapping(name, wanted).await
    }

    /// The seed of this scenario's random choices: the run seed mixed with the title, so each
    /// scenario has its own schedule and `--seed` replays all of them.
    fn chaos_seed(&self) -> u64 {
        // FNV-1a: stable across Rust releases, unlike the standard hasher.
        let title_hash = self.title.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.ctx.seed ^ title_hash
    }

    // ----- broker and network faults ------------------------------------------------------

    fn own_broker_for(&self, what: &str) -> Result<Arc<Broker>> {
        let broker = self.broker()?.clone();
        if !self.owns_broker {
            return Err(usage(format!(
                "cannot {what}: the scenario runs on the shared broker (the run uses --broker {})",
                broker.backend()
            )));
        }
        Ok(broker)
    }

    /// "the broker is restarted".
    pub async fn restart_broker(&mut self) -> Result<()> {
        let broker = self.own_broker_for("restart the broker")?;
        let id = self.nemesis.begin("broker restart");
        let result = broker.restart().await;
        self.nemesis.end(id, "broker restart");
        Ok(result?)
    }

    /// "broker N is killed".
    pub async fn kill_broker_node(&mut self, node: u8) -> Result<()> {
        let broker = self.own_broker_for("kill a broker")?;
        self.nemesis.begin(&format!("broker {node} down"));
        Ok(broker.kill_node(node).await?)
    }

    /// "broker N is started".
    pub async fn start_broker_node(&mut self, node: u8) -> Result<()> {
        let broker = self.own_broker_for("start a broker")?;
        broker.start_node(node).await?;
        self.nemesis.end_named(&format!("broker {node} down"));
        Ok(())
    }

    /// "the network between M and the broker is cut for N seconds".
    pub async fn cut_network(&mut self, mapping: &str, seconds: u64) -> Result<()> {
        self.mapping_def(mapping)?;
        let broker = self.own_broker_for("cut the network")?;
        let proxies = broker.proxies();
        if proxies.is_empty() {
            return Err(usage("the broker has no proxies to cut"));
        }
        self.nemesis
            .cut_for(&proxies, mapping, Duration::from_secs(seconds))
            .await;
        Ok(())
    }

    /// "the network between M and the broker is slowed by N ms".
    pub async fn slow_network(&mut self, mapping: &str, latency_ms: u64) -> Result<()> {
        self.mapping_def(mapping)?;
        let broker = self.own_broker_for("slow the network")?;
        self.nemesis.slow(&broker.proxies(), mapping, latency_ms);
        Ok(())
    }

    /// "the committed offsets of group G expire": waits for the broker itself to expire them.
    pub async fn expire_offsets(&mut self, local_group: &str) -> Result<()> {
        let group = self.names.real(local_group);
        let admin = self.admin()?;
        let retention_ms = u64::from(self.broker()?.offsets_retention_minutes()) * 60_000;
        let timeout = Duration::from_millis(retention_ms + EXPIRY_MARGIN_MS);
        let fault = format!("offsets of {local_group} expiring");
        let id = self.nemesis.begin(&fault);
        let progress = crate::nemesis::progress_bar(
            &format!("waiting for the broker to expire {local_group}'s offsets"),
            timeout,
        );
        let topics: Vec<String> = self.topics.values().map(|t| t.real.clone()).collect();
        let result = wait::until_every(
            &format!("the broker to expire the offsets of group {local_group}"),
            timeout,
            Duration::from_millis(1_000),
            || {
                let admin = admin.clone();
                let group = group.clone();
                let topics = topics.clone();
                let progress = progress.clone();
                async move {
                    progress.tick();
                    let mut left = BTreeMap::new();
                    for topic in &topics {
                        let offsets = admin
                            .committed_offsets(&group, topic)
                            .await
                            .map_err(|e| e.to_string())?;
                        if !offsets.is_empty() {
                            left.insert(topic.clone(), offsets);
                        }
                    }
                    if left.is_empty() {
                        Ok(())
                    } else {
                        let state = admin.group_state(&group).await.ok().flatten();
                        Err(format!("still committed: {left:?} (group state {state:?})"))
                    }
                }
            },
        )
        .await;
        progress.finish();
        self.nemesis.end(id, &fault);
        result.map_err(|e| failed(self.names.localise(&e.to_string())))
    }

    /// "the committed offsets of group G are deleted": through the admin API.
    pub async fn delete_offsets(&mut self, local_group: &str) -> Result<()> {
        let group = self.names.real(local_group);
        let admin = self.admin()?;
        let fault = format!("offsets of {local_group} deleted");
        let id = self.nemesis.begin(&fault);
        let result = admin.delete_group(&group).await;
        self.nemesis.end(id, &fault);
        Ok(result?)
    }

    // ----- workload -------------------------------------------------------------------------

    /// "N records [with key K] are produced to T", "a record with value V …", "… header H set to V".
    pub async fn produce(
        &mut self,
        local: &str,
        count: u64,
        key: Option<&str>,
        value: Option<&str>,
        headers: &[(String, Vec<u8>)],
    ) -> Result<()> {
        if count > PRODUCE_COUNT_MAX {
            return Err(usage(format!(
                "{count} records asked for; at most {PRODUCE_COUNT_MAX} a step"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let topic = self.topics.get_mut(local).expect("ensured");
        let first = topic.next_value;
        topic.next_value += count;
        let stem = local.trim_end_matches('s').to_string();
        let values: Vec<String> = (first..first + count)
            .map(|n| {
                value
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{stem}-{n}"))
            })
            .collect();
        produce_values(&admin, &self.history, &real, key, &values, headers).await
    }

    /// "N records of S MB are produced to T": numbered values padded to `bytes` each.
    pub async fn produce_sized(&mut self, local: &str, count: u64, bytes: usize) -> Result<()> {
        if count > 1_000 {
            return Err(usage(format!(
                "{count} sized records asked for; at most 1000 a step"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let topic = self.topics.get_mut(local).expect("ensured");
        let first = topic.next_value;
        topic.next_value += count;
        let stem = local.trim_end_matches('s').to_string();
        let values: Vec<String> = (first..first + count)
            .map(|n| {
                let mut value = format!("{stem}-{n}-");
                let pad = bytes.saturating_sub(value.len());
                value.extend(std::iter::repeat_n('x', pad));
                value
            })
            .collect();
        produce_values(&admin, &self.history, &real, None, &values, &[]).await
    }

    /// "records are produced to T at R per second for S seconds": in the background.
    pub async fn produce_at_rate(
        &mut self,
        local: &str,
        per_second: u64,
        seconds: u64,
    ) -> Result<()> {
        if per_second == 0 || per_second > 100_000 || seconds > 3_600 {
            return Err(usage(format!(
                "{per_second} per second for {seconds} seconds: allowed 1 to 100000 per second, at most 3600 seconds"
            )));
        }
        let real = self.ensure_topic(local).await?;
        let admin = self.admin()?;
        let history = self.history.clone();
        let topic = self.topics.get_mut(local).expect("ensured");
        let first = topic.next_value;
        let total = per_second * seconds;
        topic.next_value += total;
        let stem = local.trim_end_matches('s').to_string();
        let handle = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            for second in 0..seconds {
                let from = first + second * per_second;
                let values: Vec<String> = (from..from + per_second)
                    .map(|n| format!("{stem}-{n}"))
                    .collect();
                // One slice of records per tick keeps the rate even without a sleep per record.
                let ticks = per_second.clamp(1, 10);
                for (i, chunk) in values
                    .chunks(values.len().div_ceil(ticks as usize))
                    .enumerate()
                {
                    let due =
                        started + Duration::from_millis(second * 1_000 + i as u64 * 1_000 / ticks);
                    tokio::time::sleep_until(due).await;
                    produce_values(&admin, &history, &real, None, chunk, &[]).await?;
                }
            }
            Ok(total)
        });
        self.producers.push((local.to_string(), handle));
        Ok(())
    }

    /// Waits for background production to `local` to finish (before "every record" assertions).
    async fn await_producers(&mut self, local: &str) -> Result<()> {
        let mut pending = Vec::new();
        for (topic, handle) in std::mem::take(&mut self.producers) {
            if topic == local {
                pending.push(handle);
            } else {
                self.producers.push((topic, handle));
            }
        }
        for handle in pending {
            handle
                .await
                .map_err(|e| failed(format!("background production to {local} panicked: {e}")))??;
        }
        Ok(())
    }

    /// "N seconds pass": the scenario's own clock, on purpose.
    pub async fn pass_time(&mut self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    // ----- assertions -------------------------------------------------------------------------

    fn topic_real(&self, local: &str) -> Result<String> {
        self.topics
            .get(local)
            .map(|t| t.real.clone())
            .ok_or_else(|| usage(format!("no topic {local:?} in this scenario")))
    }

    fn lambda_ref(&self) -> Result<&MockLambda> {
        self.lambda
            .as_ref()
            .ok_or_else(|| usage("no Lambda function was defined in this scenario"))
    }

    /// The mock rejected an event that is not a valid Kafka event: that fails any assertion.
    fn assert_no_malformed(&self) -> Result<()> {
        if let Some(lambda) = &self.lambda {
            let malformed = lambda.malformed();
            if !malformed.is_empty() {
                return Err(failed(format!(
                    "the function received {} malformed events; first: {}",
                    malformed.len(),
                    self.names.localise(&malformed[0])
                )));
            }
        }
        Ok(())
    }

    /// Produced records of a topic, (partition, offset) → value.
    fn produced(&self, topic_real: &str) -> BTreeMap<(i32, i64), Option<String>> {
        self.history
            .snapshot()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Produced {
                    topic,
                    partition,
                    offset,
                    value,
                    ..
                } if topic == topic_real => Some(((partition, offset), value)),
                _ => None,
            })
            .collect()
    }

    /// "within N seconds F has received every record of T [exactly once | N times]".
    /// `times`: None = at least once; Some(n) = each record exactly n times.
    pub async fn await_every_record(
        &mut self,
        function: &str,
        local: &str,
        timeout: Duration,
        times: Option<u32>,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let produced = self.produced(&topic);
        let at_least = times.unwrap_or(1);
        let history = self.history.clone();
        let what = format!("{function:?} to receive every record of {local:?} {at_least} time(s)");
        let function_owned = function.to_string();
        let topic_owned = topic.clone();
        wait::until(&what, timeout, || {
            let history = history.clone();
            let produced = &produced;
            let function = function_owned.clone();
            let topic = topic_owned.clone();
            async move {
                let counts = check::delivery_counts(&history.snapshot(), &topic, &function);
                let short: Vec<_> = produced
                    .keys()
                    .filter(|k| counts.get(k).copied().unwrap_or(0) < at_least)
                    .collect();
                if short.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} of {} records received fewer than {at_least} time(s); first: {}",
                        short.len(),
                        produced.len(),
                        describe_keys(&short)
                    ))
                }
            }
        })
        .await
        .map_err(|e| failed(self.names.localise(&e.to_string())))?;
        if let Some(exact) = times {
            self.assert_at_most(function, &topic, local, exact)?;
        }
        self.assert_no_malformed()
    }

    /// "F received every record of T at most N times".
    pub async fn assert_every_record_at_most(
        &mut self,
        function: &str,
        local: &str,
        max: u32,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let counts = check::delivery_counts(&self.history.snapshot(), &topic, function);
        let missing: Vec<_> = self
            .produced(&topic)
            .into_keys()
            .filter(|k| !counts.contains_key(k))
            .collect();
        if !missing.is_empty() {
            return Err(failed(format!(
                "{} records of {local:?} never reached {function:?}; first: {}",
                missing.len(),
                describe_keys(&missing.iter().collect::<Vec<_>>())
            )));
        }
        self.assert_at_most(function, &topic, local, max)?;
        self.assert_no_malformed()
    }

    fn assert_at_most(&self, function: &str, topic: &str, local: &str, max: u32) -> Result<()> {
        let counts = check::delivery_counts(&self.history.snapshot(), topic, function);
        let over: Vec<_> = counts.iter().filter(|(_, n)| **n > max).collect();
        if over.is_empty() {
            return Ok(());
        }
        let sample: Vec<String> = over
            .iter()
            .take(5)
            .map(|((p, o), n)| format!("partition {p} offset {o}: {n} times"))
            .collect();
        Err(failed(format!(
            "{} records of {local:?} reached {function:?} more than {max} time(s): {}",
            over.len(),
            sample.join(", ")
        )))
    }

    /// Committed offsets of a group on a topic, straight from the broker.
    async fn committed(&self, local_group: &str, local_topic: &str) -> Result<BTreeMap<i32, i64>> {
        let group = self.names.real(local_group);
        let topic = self.topic_real(local_topic)?;
        Ok(self.admin()?.committed_offsets(&group, &topic).await?)
    }

    /// "within N seconds the group G has committed the end of T".
    pub async fn await_committed_end(
        &mut self,
        local_group: &str,
        local: &str,
        timeout: Duration,
    ) -> Result<()> {
        self.await_producers(local).await?;
        let topic = self.topic_real(local)?;
        let admin = self.admin()?;
        let group = self.names.real(local_group);
        let partitions = self.topics[local].partitions;
        let what = format!("group {local_group:?} to commit the end of {local:?}");
        wait::until(&what, timeout, || {
            let admin = admin.clone();
            let topic = topic.clone();
            let group = group.clone();
            async move {
                let committed = admin
                    .committed_offsets(&group, &topic)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut behind = Vec::new();
                for partition in 0..partitions {
                    let (_, high) = admin
                        .watermarks(&topic, partition)
                        .await
                        .map_err(|e| e.to_string())?;
                    let at = committed.get(&partition).copied();
                    if at != Some(high) {
                        behind.push(format!(
                            "partition {partition}: committed {at:?}, end {high}"
                        ));
                    }
                }
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind.join("; "))
                }
            }
        })
        .await
        .map_err(|e| failed(self.names.localise(&e.to_string())))?;
        Ok(())
    }

    /// "[within N seconds] the group G has committed offset O on partition P of T". Commits are
    /// asynchronous, so without "within" it settles for up to [`SETTLE_TIMEOUT_MS`].
    pub async fn assert_committed(
        &mut self,
        local_group: &str,
        local: &str,
        partition: i32,
        offset: i64,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let what = format!(
            "group {local_group:?} to have committed offset {offset} on partition {partition} of {local:?}"
        );
        let this = &*self;
        wait::until(
            &what,
            timeout.unwrap_or(Duration::from_millis(SETTLE_TIMEOUT_MS)),
            || async move {
                let committed = this
                    .committed(local_group, local)
                    .await
                    .map_err(|e| e.to_string())?;
                match committed.get(&partition) {
                    Some(o) if *o == offset => Ok(()),
                    Some(o) => Err(format!("committed offset {o}")),
                    None => Err("no committed offset".to_string()),
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// "the group G has committed nothing on partition P of T" (settles like
    /// [`Scenario::assert_committed`]: a commit that lands within the window is seen).
    pub async fn assert_committed_nothing(
        &mut self,
        local_group: &str,
        local: &str,
        partition: i32,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(SETTLE_TIMEOUT_MS);
        loop {
            let committed = self.committed(local_group, local).await?;
            if let Some(offset) = committed.get(&partition) {
                return Err(failed(format!(
                    "group {local_group:?} has committed offset {offset} on partition {partition} of {local:?}"
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(OBSERVE_INTERVAL_MS)).await;
        }
    }

    /// "the mapping M runs N pollers".
    pub fn assert_poller_count(&self, name: &str, count: usize) -> Result<()> {
        let running = self.running(name)?.poller_count();
        if running != count {
            return Err(failed(format!(
                "the mapping {name:?} runs {running} poller(s), expected {count}"
            )));
        }
        Ok(())
    }

    /// "within N seconds the topic T holds N records".
    pub async fn await_topic_holds(
        &mut self,
        local: &str,
        count: i64,
        timeout: Duration,
    ) -> Result<()> {
        let real = self.names.real(local);
        let admin = self.admin()?;
        let what = format!("topic {local:?} to hold {count} record(s)");
        // Exactly: a destination that got too many records, or a topic whose retention has not
        // yet deleted what it should, both fail with the count seen at the deadline.
        wait::until(&what, timeout, || {
            let admin = admin.clone();
            let real = real.clone();
            async move {
                let held = topic_size(&admin, &real).await?;
                if held == count {
                    Ok(())
                } else {
                    Err(format!("{held} record(s)"))
                }
            }
        })
        .await
        .map_err(|e| failed(e.to_string()))?;
        self.collect_destinations().await
    }

    /// Reads every destination topic of the scenario's mappings into the history.
    async fn collect_destinations(&mut self) -> Result<()> {
        let admin = self.admin()?;
        let mut seen: BTreeSet<(String, i32, i64)> = self
            .history
            .snapshot()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Destination {
                    topic,
                    partition,
                    offset,
                    ..
                } => Some((topic, partition, offset)),
                _ => None,
            })
            .collect();
        for topic in self.destination_topics() {
            if !self.topics.values().any(|t| t.real == topic) {
                continue;
            }
            for record in admin.read_topic(&topic).await? {
                if seen.insert((topic.clone(), record.partition, record.offset)) {
                    self.history.record(EventKind::Destination {
                        topic: topic.clone(),
                        partition: record.partition,
                        offset: record.offset,
                        key: record
                            .key
                            .as_deref()
                            .map(|k| String::from_utf8_lossy(k).into_owned()),
                        body: String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                            .into_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    fn destination_topics(&self) -> Vec<String> {
        self.mappings
            .values()
            .filter_map(|def| def.config["DestinationConfig"]["OnFailure"]["Destination"].as_str())
            .filter_map(|d| d.strip_prefix("kafka://"))
            .map(|local| self.names.real(local))
            .collect()
    }

    /// "the topic D holds a failure record for the value V with condition C".
    pub async fn assert_failure_record(
        &mut self,
        local: &str,
        value: &str,
        condition: &str,
    ) -> Result<()> {
        self.collect_destinations().await?;
        let real = self.names.real(local);
        let bodies: Vec<String> = self
            .history
            .snapshot()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Destination { topic, body, .. } if topic == real => Some(body),
                _ => None,
            })
            .collect();
        let mut conditions = Vec::new();
        for body in &bodies {
            let Ok(json) = serde_json::from_str::<Value>(body) else {
                continue;
            };
            if failure_record_value(&json).as_deref() == Some(value) {
                let found = json["requestContext"]["condition"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if found == condition {
                    return Ok(());
                }
                conditions.push(found);
            }
        }
        Err(failed(format!(
            "topic {local:?} holds {} record(s); none for the value {value:?} with condition {condition:?} (conditions seen for that value: {conditions:?})",
            bodies.len()
        )))
    }

    /// "the topic D holds a failure record with condition C".
    pub async fn assert_failure_record_condition(
        &mut self,
        local: &str,
        condition: &str,
    ) -> Result<()> {
        self.collect_destinations().await?;
        let real = self.names.real(local);
        let mut seen = Vec::new();
        for event in self.history.snapshot() {
            if let EventKind::Destination { topic, body, .. } = event.kind
                && topic == real
            {
                let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let found = json["requestContext"]["condition"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_string();
                if found == condition {
                    return Ok(());
                }
                seen.push(found);
            }
        }
        Err(failed(format!(
            "topic {local:?} holds no failure record with condition {condition:?}; conditions seen: {seen:?}"
        )))
    }

    /// Invocations of `function` whose records include `value`.
    fn invocations_with_value(&self, function: &str, value: &str) -> Result<usize> {
        Ok(self
            .lambda_ref()?
            .invocations(function)
            .iter()
            .filter(|inv| {
                inv.records
                    .iter()
                    .any(|r| r.value.as_deref() == Some(value.as_bytes()))
            })
            .count())
    }

    /// "F was invoked with the value V N times".
    pub fn assert_invoked_with_value(
        &self,
        function: &str,
        value: &str,
        times: usize,
    ) -> Result<()> {
        let seen = self.invocations_with_value(function, value)?;
        if seen != times {
            return Err(failed(format!(
                "{function:?} was invoked with the value {value:?} {seen} time(s), expected {times}"
            )));
        }
        self.assert_no_malformed()
    }

    /// "within N seconds F has received the value V".
    pub async fn await_value(
        &mut self,
        function: &str,
        value: &str,
        timeout: Duration,
    ) -> Result<()> {
        let this = &*self;
        wait::until(
            &format!("{function:?} to receive the value {value:?}"),
            timeout,
            || async move {
                let lambda = this.lambda_ref().map_err(|e| e.to_string())?;
                let invocations = lambda.invocations(function);
                if invocations.iter().any(|inv| {
                    inv.records
                        .iter()
                        .any(|r| r.value.as_deref() == Some(value.as_bytes()))
                }) {
                    Ok(())
                } else {
                    Err(format!("{} invocations, none with it", invocations.len()))
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        self.assert_no_malformed()
    }

    /// "F never received the value V".
    pub fn assert_never_received(&self, function: &str, value: &str) -> Result<()> {
        match self.invocations_with_value(function, value)? {
            0 => self.assert_no_malformed(),
            n => Err(failed(format!(
                "{function:?} received the value {value:?} in {n} invocation(s)"
            ))),
        }
    }

    /// "F received the header H as the bytes B".
    pub fn assert_header_bytes(&self, function: &str, header: &str, bytes: &[i8]) -> Result<()> {
        let invocations = self.lambda_ref()?.invocations(function);
        let mut seen = Vec::new();
        for record in invocations.iter().flat_map(|inv| inv.records.iter()) {
            for (name, value) in &record.headers {
                if name == header {
                    if value.as_slice() == bytes {
                        return self.assert_no_malformed();
                    }
                    seen.push(value.clone());
                }
            }
        }
        Err(failed(format!(
            "{function:?} never received the header {header:?} as {bytes:?}; values seen: {seen:?}"
        )))
    }

    /// "F received no record of T produced before the mapping M started".
    pub fn assert_nothing_from_before_start(
        &self,
        function: &str,
        local: &str,
        mapping: &str,
    ) -> Result<()> {
        let topic = self.topic_real(local)?;
        let events = self.history.snapshot();
        let started_ms = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Lifecycle {
                    mapping: m, action, ..
                } if m == mapping && action == "started" => Some(e.at_ms),
                _ => None,
            })
            .ok_or_else(|| usage(format!("the mapping {mapping:?} was never started")))?;
        let before: BTreeSet<(i32, i64)> = events
            .iter()
            .filter(|e| e.at_ms < started_ms)
            .filter_map(|e| match &e.kind {
                EventKind::Produced {
                    topic: t,
                    partition,
                    offset,
                    ..
                } if *t == topic => Some((*partition, *offset)),
                _ => None,
            })
            .collect();
        let counts = check::delivery_counts(&events, &topic, function);
        let leaked: Vec<_> = before.iter().filter(|k| counts.contains_key(k)).collect();
        if leaked.is_empty() {
            return self.assert_no_malformed();
        }
        Err(failed(format!(
            "{function:?} received {} of the {} records produced before {mapping:?} started; first: {}",
            leaked.len(),
            before.len(),
            describe_keys(&leaked)
        )))
    }

    /// "the mapping M fails to start with an error mentioning S".
    pub async fn assert_fails_to_start(&mut self, name: &str, text: &str) -> Result<()> {
        let topic = self.mapping_def(name)?.topic.clone();
        if !topic.is_empty() {
            self.ensure_topic(&topic).await?;
        }
        let def = self.mapping_def(name)?;
        let (config, _) = self.real_config(def)?;
        let mapping = self.launch(name, &config).await?;
        let (status, log) = mapping
            .start_expecting_refusal(Duration::from_secs(30))
            .await
            .map_err(|e| {
                failed(format!(
                    "the mapping {name:?} started: {}",
                    self.names.localise(&e)
                ))
            })?;
        let log = self.names.localise(&log);
        if !log.contains(text) {
            return Err(failed(format!(
                "the mapping {name:?} failed to start ({status}), but its error does not mention {text:?}:\n{log}"
            )));
        }
        Ok(())
    }

    /// "the mapping M reports an offset lag of N within S seconds".
    pub async fn await_offset_lag(
        &mut self,
        name: &str,
        lag: i64,
        timeout: Duration,
    ) -> Result<()> {
        let mapping = self.running(name)?;
        wait::until(
            &format!("mapping {name:?} to report an offset lag of {lag}"),
            timeout,
            || {
                let mapping = mapping.clone();
                async move {
                    match mapping.offset_lag() {
                        Some(l) if l == lag => Ok(()),
                        Some(l) => Err(format!("lag {l}")),
                        None => Err("no lag reported yet".to_string()),
                    }
                }
            },
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// The checkers' subject for each mapping.
    fn subjects(&self) -> Result<Vec<Subject>> {
        let mut subjects = Vec::new();
        for def in self.mappings.values() {
            let (config, group) = self.real_config(def)?;
            let parsed = esm::config::MappingConfig::from_value(&config)?;
            subjects.push(Subject {
                topic: self.names.real(&def.topic),
                function: def.function.clone(),
                groups: vec![group],
                destination_topic: parsed.destination_topic.clone(),
                filters: parsed.filters.clone(),
            });
        }
        Ok(subjects)
    }

    /// Runs `select` checkers over the history; fails with every verdict that does not hold.
    /// `topic`: only mappings reading that scenario-local topic; `None`: every mapping.
    pub async fn run_checks(
        &mut self,
        topic: Option<&str>,
        select: fn(&[crate::history::Event], &Subject) -> Vec<Verdict>,
    ) -> Result<()> {
        let producing: Vec<String> = self.producers.iter().map(|(t, _)| t.clone()).collect();
        for local in producing {
            self.await_producers(&local).await?;
        }
        self.collect_destinations().await?;
        self.assert_no_malformed()?;
        let events = self.history.snapshot();
        let mut broken = Vec::new();
        let topic = topic.map(|t| self.names.real(t));
        let subjects = self.subjects()?;
        for subject in subjects
            .iter()
            .filter(|s| topic.as_ref().is_none_or(|t| *t == s.topic))
        {
            for verdict in select(&events, subject) {
                if !verdict.ok {
                    broken.push(format!(
                        "{}: {}\n  {}",
                        verdict.checker,
                        verdict.summary,
                        verdict.evidence.join("\n  ")
                    ));
                }
            }
        }
        if broken.is_empty() {
            return Ok(());
        }
        Err(failed(self.names.localise(&broken.join("\n"))))
    }

    /// Every verdict of every checker (for the report).
    pub fn verdicts(&self) -> Vec<Verdict> {
        let events = self.history.snapshot();
        self.subjects()
            .unwrap_or_default()
            .iter()
            .flat_map(|s| check::all(&events, s))
            .collect()
    }

    // ----- observation ----------------------------------------------------------------------

    fn watch_group(&mut self, group: &str, local_topic: &str) {
        let topic = self.names.real(local_topic);
        self.watched
            .lock()
            .expect("watched lock poisoned")
            .commits
            .insert((group.to_string(), topic));
        if self.observer.is_none() {
            self.observer = Some(self.spawn_observer());
        }
    }

    /// Follows committed offsets and log-start offsets on the broker, recording changes.
    fn spawn_observer(&self) -> JoinHandle<()> {
        let admin = self.admin.clone().expect("broker before mappings");
        let watched = self.watched.clone();
        let history = self.history.clone();
        tokio::spawn(async move {
            let mut commits: BTreeMap<(String, String, i32), i64> = BTreeMap::new();
            let mut log_starts: BTreeMap<(String, i32), i64> = BTreeMap::new();
            loop {
                let (groups, topics) = {
                    let w = watched.lock().expect("watched lock poisoned");
                    (w.commits.clone(), w.log_starts.clone())
                };
                for (group, topic) in groups {
                    let Ok(offsets) = admin.committed_offsets(&group, &topic).await else {
                        continue;
                    };
                    for (partition, offset) in offsets {
                        let key = (group.clone(), topic.clone(), partition);
                        if commits.get(&key) != Some(&offset) {
                            commits.insert(key, offset);
                            history.record(EventKind::Commit {
                                group: group.clone(),
                                topic: topic.clone(),
                                partition,
                                offset,
                            });
                        }
                    }
                }
                for topic in topics {
                    observe_log_starts(&admin, &history, &topic, &mut log_starts).await;
                }
                tokio::time::sleep(Duration::from_millis(OBSERVE_INTERVAL_MS)).await;
            }
        })
    }

    // ----- teardown -------------------------------------------------------------------------

    /// Stops everything the scenario started. With `failed` (or --report for all), writes the
    /// artifacts and returns their folder.
    pub async fn finish(mut self, failed: bool) -> Option<PathBuf> {
        let mut logs: Vec<(String, PathBuf)> = Vec::new();
        for (name, def) in &self.mappings {
            if let Some(mapping) = &def.running {
                mapping.kill_all().await;
                for path in mapping.log_paths() {
                    logs.push((format!("{name}: {}", file_name(&path)), path));
                }
            }
        }
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

async fn produce_values(
    admin: &Admin,
    history: &History,
    topic: &str,
    key: Option<&str>,
    values: &[String],
    headers: &[(String, Vec<u8>)],
) -> Result<()> {
    let produced = admin
        .produce_batch(
            topic,
            values
                .iter()
                .map(|v| {
                    (
                        key.map(|k| k.as_bytes().to_vec()),
                        Some(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
            headers,
        )
        .await?;
    for (value, p) in values.iter().zip(produced) {
        history.record(EventKind::Produced {
            topic: topic.to_string(),
            partition: p.partition,
            offset: p.offset,
            key: key.map(str::to_string),
            value: Some(value.clone()),
            timestamp_ms: p.timestamp_ms,
        });
    }
    Ok(())
}

async fn topic_size(admin: &Admin, topic: &str) -> std::result::Result<i64, String> {
    let partitions = admin
        .partition_count(topic)
        .await
        .map_err(|e| e.to_string())?;
    let mut held = 0;
    for partition in 0..partitions {
        let (low, high) = admin
            .watermarks(topic, partition)
            .await
            .map_err(|e| e.to_string())?;
        held += high - low;
    }
    Ok(held)
}

async fn observe_log_starts(
    admin: &Admin,
    history: &History,
    topic: &str,
    seen: &mut BTreeMap<(String, i32), i64>,
) {
    let Ok(partitions) = admin.partition_count(topic).await else {
        return;
    };
    for partition in 0..partitions {
        let Ok((low, _)) = admin.watermarks(topic, partition).await else {
            continue;
        };
        let key = (topic.to_string(), partition);
        if low > seen.get(&key).copied().unwrap_or(0) {
            seen.insert(key, low);
            history.record(EventKind::RetentionDeleted {
                topic: topic.to_string(),
                partition,
                log_start_offset: low,
            });
        }
    }
}

/// The decoded value of the one record in a destination message's payload.
fn failure_record_value(json: &Value) -> Option<String> {
    use base64::Engine;
    let records = json["payload"]["records"].as_object()?;
    let record = records.values().next()?.get(0)?;
    let encoded = record["value"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Sets a mapping field from a table row: AWS field names, dotted paths for nested fields,
/// `ConsumerGroupId` and `FilterCriteria` as shorthands.
pub fn set_table_field(config: &mut Value, key: &str, value: &str) -> Result<()> {
    let key = key.trim();
    let value = value.trim();
    let (path, json_value): (String, Value) = match key {
        "ConsumerGroupId" => (
            "SelfManagedKafkaEventSourceConfig.ConsumerGroupId".into(),
            Value::String(value.into()),
        ),
        "FilterCriteria" => (
            "FilterCriteria".into(),
            json!({ "Filters": [ { "Pattern": value } ] }),
        ),
        "FunctionResponseTypes" | "Topics" => (
            key.into(),
            Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.into()))
                    .collect(),
            ),
        ),
        // "now" is resolved when the mapping is defined, so a scenario can start at a moment.
        "StartingPositionTimestamp" if value == "now" => {
            (key.into(), Value::from(chrono::Utc::now().timestamp()))
        }
        _ => (key.into(), table_value(value)),
    };
    if key == "ConsumerGroupId" && config.get("EventSourceArn").is_some() {
        let mut parts = path.split('.');
        let _ = parts.next();
        config["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"] = json_value;
        return Ok(());
    }
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(usage(format!(
            "table key {key:?} is not a field name or dotted path"
        )));
    }
    let mut node = config;
    for part in &parts[..parts.len() - 1] {
        if !node[*part].is_object() {
            node[*part] = json!({});
        }
        node = &mut node[*part];
    }
    node[parts[parts.len() - 1]] = json_value;
    Ok(())
}

/// A table cell as JSON: numbers, booleans and JSON objects/arrays as such, else a string.
fn table_value(text: &str) -> Value {
    if text == "true" || text == "false" {
        return Value::Bool(text == "true");
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    if let Ok(f) = text.parse::<f64>() {
        return Value::from(f);
    }
    if (text.starts_with('{') || text.starts_with('['))
        && let Ok(v) = serde_json::from_str(text)
    {
        return v;
    }
    Value::String(text.to_string())
}

fn describe_keys(keys: &[&(i32, i64)]) -> String {
    keys.iter()
        .take(5)
        .map(|(p, o)| format!("partition {p} offset {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sanitise(text: &str) -> String {
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
    fn isolation_is_read_from_the_steps() {
        assert_eq!(
            Isolation::of_steps(["a Kafka broker", "the mapping \"esm\" is killed"]),
            Isolation::default()
        );
        assert!(Isolation::of_steps(["the broker is restarted"]).own_broker);
        assert!(Isolation::of_steps(["broker 2 is killed"]).own_broker);
        assert!(Isolation::of_steps(["a Kafka cluster of 3 brokers"]).own_broker);
        let network = Isolation::of_steps([
            "the network between \"esm\" and the broker is cut for 10 seconds",
        ]);
        assert!(network.own_broker && network.proxied);
        assert!(
            !Isolation::of_steps(["a Kafka broker with offsets retention of 1 minute"]).own_broker
        );
        assert!(
            Isolation::of_steps(["a Kafka broker with offsets retention of 2 minutes"]).own_broker
        );
    }

    #[test]
    fn failure_record_value_decodes_the_payload_record() {
        let json = json!({ "payload": { "records": { "t-0": [ { "value": "cG9pc29u" } ] } } });
        assert_eq!(failure_record_value(&json).as_deref(), Some("poison"));
    }
}
