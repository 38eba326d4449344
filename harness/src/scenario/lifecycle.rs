//! A mapping's lifecycle: starts (and starts expected to be refused), scaling, disabling and
//! enabling, and the faults on its pollers (kills, freezes).

use super::mappings::StartAttempt;
use super::setup::replaced_by_test_broker;
use super::*;
use crate::history::{FaultKind, FaultTarget, LifecycleAction};

impl Scenario {
    /// "the mapping M is started [with N pollers]".
    pub async fn start_mapping(&mut self, name: &str, pollers: u32) -> Result<()> {
        if self.expects_refused_start(name) {
            return self.start_expecting_refusal(name).await;
        }
        let def = self.mapping_def(name)?;
        let (topic, function) = (def.topic().to_string(), def.function().to_string());
        if def.is_running() {
            return Err(usage(format!("the mapping {name:?} is already started")));
        }
        if !self.functions.is_defined(&function).await {
            return Err(usage(format!(
                "the mapping {name:?} invokes {function:?}, which is not defined: add 'Given a Lambda function \"{function}\" that succeeds'"
            )));
        }
        self.ensure_topic(&topic).await?;
        let def = self.mapping_def(name)?;
        for note in replaced_by_test_broker(def.config(), &self.mapping_bootstrap()?) {
            tracing::info!(mapping = name, "{note}");
        }
        let config = self.real_config(def.config())?;
        let group = def.group();
        let destination = self.mapping_config(name)?.destination_topic.clone();
        if let Some(local) = destination.and_then(|real| self.names.local(&real)) {
            self.ensure_topic(&local).await?;
        }
        let mapping = Arc::new(self.launch(name, &config).await?);
        let pollers = self.poller_count(name, pollers)?;
        mapping.scale_to(pollers, LifecycleAction::Started).await?;
        self.watch_group(&group, &topic);
        self.mappings.started(name, mapping, pollers)
    }

    pub(super) async fn launch(&mut self, name: &str, config: &Value) -> Result<Mapping> {
        let config_path = self
            .work_dir
            .join(format!("mapping-{}.json", sanitise(name)));
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(config).expect("json"),
        )
        .map_err(|e| usage(format!("cannot write {}: {e}", config_path.display())))?;
        let function = self.mapping_def(name)?.function().to_string();
        let endpoint = self.functions.endpoint(&function).await;
        let launch = MappingLaunch {
            name: name.to_string(),
            config_path,
            endpoint,
            bootstrap_servers: self.mapping_bootstrap()?,
            uuid: self.mapping_def(name)?.uuid().to_string(),
            function_timeout_ms: FUNCTION_TIMEOUT_MS,
            log_dir: self.work_dir.clone(),
        };
        Ok(Mapping::new(
            launch,
            self.ctx.consumer.clone(),
            self.history.clone(),
        ))
    }

    /// Pollers for `wanted` on a mapping: capped by its topic's partitions and its
    /// ProvisionedPollerConfig, as AWS does.
    fn poller_count(&self, name: &str, wanted: u32) -> Result<u32> {
        let config = self.mapping_config(name)?;
        let topic = self.mapping_def(name)?.topic();
        let partitions = self.topics.partitions(topic);
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
        let count = self.poller_count(name, pollers)?;
        mapping.scale_to(count, LifecycleAction::Scaled).await?;
        self.mappings.want_pollers(name, count)
    }

    /// "disabled": Enabled=false, every poller leaves the group cleanly.
    pub async fn disable_mapping(&mut self, name: &str) -> Result<()> {
        self.running(name)?.stop(LifecycleAction::Disabled).await;
        Ok(())
    }

    /// "enabled": the pollers come back with the mapping's config.
    pub async fn enable_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let count = self.mapping_def(name)?.pollers_wanted();
        mapping.scale_to(count, LifecycleAction::Enabled).await?;
        Ok(())
    }

    /// "killed": SIGKILL of every poller.
    pub async fn kill_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let window = self
            .nemesis
            .open(FaultKind::MappingKill, FaultTarget::Mapping(name.into()));
        mapping.kill_all().await;
        window.close();
        Ok(())
    }

    /// "restarted": pollers come back after a kill or a stop.
    pub async fn restart_mapping(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        if mapping.poller_count() > 0 {
            mapping.stop(LifecycleAction::StoppedForRestart).await;
        }
        let count = self.mapping_def(name)?.pollers_wanted();
        mapping.scale_to(count, LifecycleAction::Restarted).await?;
        Ok(())
    }

    /// "a poller of M is killed".
    pub async fn kill_poller(&mut self, name: &str) -> Result<()> {
        let mapping = self.running(name)?;
        let window = self
            .nemesis
            .open(FaultKind::PollerKill, FaultTarget::Mapping(name.into()));
        let killed = mapping.kill_one().await;
        window.close();
        killed
            .map(|_| ())
            .ok_or_else(|| failed(format!("the mapping {name:?} has no live poller to kill")))
    }

    /// "killed during an invocation": waits for a call of the mapping's function to be in
    /// flight, then SIGKILLs every poller.
    pub async fn kill_mapping_during_invocation(&mut self, name: &str) -> Result<()> {
        self.await_invocation_in_flight(name).await?;
        self.kill_mapping(name).await
    }

    /// "disabled during an invocation": waits for a call of the mapping's function to be in
    /// flight, then stops every poller cleanly (SIGTERM): the call finishes, its success is
    /// committed, the pollers leave the group.
    pub async fn disable_mapping_during_invocation(&mut self, name: &str) -> Result<()> {
        self.await_invocation_in_flight(name).await?;
        self.disable_mapping(name).await
    }

    async fn await_invocation_in_flight(&mut self, name: &str) -> Result<()> {
        let function = self.mapping_def(name)?.function().to_string();
        let lambda = self.functions.mock().await.clone();
        let this = &*self;
        wait::until(
            &format!("an invocation of {function:?} in flight"),
            Duration::from_secs(30),
            || async {
                match lambda.in_flight(&function) {
                    0 => Err(format!(
                        "{} invocations so far, none in flight",
                        this.invocation_count(&function)
                    )),
                    _ => Ok(()),
                }
            },
        )
        .await?;
        Ok(())
    }

    /// "frozen for N seconds": SIGSTOP, the time, SIGCONT.
    pub async fn freeze_mapping(&mut self, name: &str, seconds: u64) -> Result<()> {
        let mapping = self.running(name)?;
        let window = self
            .nemesis
            .open(FaultKind::Freeze, FaultTarget::Mapping(name.into()));
        mapping.freeze(true);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        // The end is stamped before SIGCONT: a thawed poller may call the function within a
        // millisecond, and its call must not seem to start inside the freeze.
        window.close();
        mapping.freeze(false);
        Ok(())
    }

    /// Whether the step after "the mapping M is started" expects that start to fail.
    pub fn expects_refused_start(&self, name: &str) -> bool {
        self.isolation.refused_starts.contains(name)
    }

    /// "the mapping M is started" followed by "… fails to start …": one poller runs, and its
    /// refusal (or its running) is kept for the next step to judge; this step does not fail.
    pub async fn start_expecting_refusal(&mut self, name: &str) -> Result<()> {
        let attempt = self.attempt_refused_start(name).await?;
        self.mappings.keep_attempt(name, attempt);
        Ok(())
    }

    /// Runs one poller of M that should refuse its config: its exit status and log (names
    /// localised), or why it was not refused.
    pub(super) async fn attempt_refused_start(&mut self, name: &str) -> Result<StartAttempt> {
        let topic = self.mapping_def(name)?.topic().to_string();
        if !topic.is_empty() {
            self.ensure_topic(&topic).await?;
        }
        let config = self.real_config(self.mapping_def(name)?.config())?;
        let mapping = self.launch(name, &config).await?;
        Ok(mapping
            .start_expecting_refusal(Duration::from_secs(REFUSAL_TIMEOUT_SECS))
            .await
            .map(|(status, log)| (status, self.names.localise(&log)))
            .map_err(|e| self.names.localise(&e)))
    }
}

/// How long a poller that should refuse its config may run before the refusal counts as missed.
pub const REFUSAL_TIMEOUT_SECS: u64 = 30;
