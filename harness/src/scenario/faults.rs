//! Broker and network faults, offset expiry and deletion, and random faults drawn from the
//! weighted schedule.

use super::*;
use crate::history::{FaultKind, FaultTarget, LifecycleAction, OffsetsGoneCause};
use crate::schedule::{self, PlannedFault};

impl Scenario {
    pub(super) fn own_broker_for(&self, what: &str) -> Result<Arc<Broker>> {
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
        let window = self
            .nemesis
            .open(FaultKind::BrokerRestart, FaultTarget::Broker);
        broker.restart().await?;
        window.close();
        Ok(())
    }

    /// "broker N is killed".
    pub async fn kill_broker_node(&mut self, node: u8) -> Result<()> {
        let broker = self.own_broker_for("kill a broker")?;
        let window = self
            .nemesis
            .open(FaultKind::BrokerKill, FaultTarget::BrokerNode(node));
        broker.kill_node(node).await?;
        // The window stays open until a later step starts the node.
        self.nemesis.node_killed(node, window);
        Ok(())
    }

    /// "broker N is started".
    pub async fn start_broker_node(&mut self, node: u8) -> Result<()> {
        let broker = self.own_broker_for("start a broker")?;
        broker.start_node(node).await?;
        self.nemesis.node_started(node);
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
        let window = self.nemesis.open(
            FaultKind::OffsetsExpiring,
            FaultTarget::Group(local_group.into()),
        );
        let progress = crate::nemesis::progress_bar(
            &format!("waiting for the broker to expire {local_group}'s offsets"),
            timeout,
        );
        let topics = self.topics.reals();
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
        if result.is_ok() {
            self.history.record(EventKind::OffsetsGone {
                group,
                cause: OffsetsGoneCause::Expired,
            });
        }
        window.close();
        result.map_err(|e| failed(self.names.localise(&e.to_string())))
    }

    /// "the committed offsets of group G are deleted": through the admin API.
    pub async fn delete_offsets(&mut self, local_group: &str) -> Result<()> {
        let group = self.names.real(local_group);
        let admin = self.admin()?;
        let window = self.nemesis.open(
            FaultKind::OffsetsDeleted,
            FaultTarget::Group(local_group.into()),
        );
        admin.delete_group(&group).await?;
        self.history.record(EventKind::OffsetsGone {
            group,
            cause: OffsetsGoneCause::Deleted,
        });
        window.close();
        Ok(())
    }

    /// "the function F crashes": every execution environment of F is killed at once.
    pub async fn crash_function(&mut self, name: &str) -> Result<()> {
        let function = self.functions.running(name)?;
        let window = self
            .nemesis
            .open(FaultKind::FunctionCrash, FaultTarget::Function(name.into()));
        let killed = function.crash().await;
        window.close();
        tracing::info!(
            function = name,
            killed,
            "crashed every execution environment"
        );
        Ok(())
    }

    /// "random faults hit the mapping M for N seconds": a plan drawn from the weighted
    /// [`schedule::SCHEDULE`] with the scenario's seed, carried out in order: poller and
    /// mapping faults, broker restarts and kills, network cuts and slowdowns. The same run seed
    /// and scenario title give the same plan; the pollers end as they began.
    pub async fn chaos(&mut self, name: &str, seconds: u64) -> Result<()> {
        let wanted = self.mapping_def(name)?.pollers_wanted();
        self.own_broker_for("hit the broker and the network with random faults")?;
        let duration_ms = seconds
            .saturating_mul(1_000)
            .min(crate::nemesis::FAULT_DURATION_MAX_MS);
        let seed = self.chaos_seed();
        let faults = schedule::plan(seed, schedule::SCHEDULE, duration_ms);
        self.history.record(EventKind::FaultSchedule {
            mapping: name.to_string(),
            seed,
            weights: schedule::SCHEDULE.to_vec(),
        });
        println!(
            "esm-chaos: fault schedule of {name:?} from seed {seed} (run seed {}), weights {:?}: {}",
            self.ctx.seed,
            schedule::SCHEDULE,
            faults
                .iter()
                .map(PlannedFault::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        for fault in &faults {
            tokio::time::sleep(Duration::from_millis(fault.pause_ms)).await;
            self.carry_out(name, fault).await?;
        }
        self.scale_mapping(name, wanted).await
    }

    /// One planned fault on the mapping `name`, its broker or its network.
    async fn carry_out(&mut self, name: &str, fault: &PlannedFault) -> Result<()> {
        let hold = fault.hold();
        match fault.kind {
            FaultKind::PollerKill => {
                self.kill_poller(name).await?;
                let count = self.mapping_def(name)?.pollers_wanted();
                self.running(name)?
                    .scale_to(count, LifecycleAction::RestartedAfterPollerKill)
                    .await?;
            }
            FaultKind::MappingKill => {
                self.kill_mapping(name).await?;
                self.restart_mapping(name).await?;
            }
            FaultKind::Freeze => self.freeze_mapping(name, hold.as_secs()).await?,
            FaultKind::Rescale => {
                self.rescale_within_partitions(name, fault.magnitude)
                    .await?
            }
            FaultKind::Disable => {
                let window = self
                    .nemesis
                    .open(FaultKind::Disable, FaultTarget::Mapping(name.into()));
                self.disable_mapping(name).await?;
                tokio::time::sleep(hold).await;
                self.enable_mapping(name).await?;
                window.close();
            }
            FaultKind::NetworkCut => self.cut_network(name, hold.as_secs()).await?,
            FaultKind::NetworkSlow => {
                let proxies = self.own_broker_for("slow the network")?.proxies();
                self.nemesis
                    .slow_for(&proxies, name, fault.latency_ms(), hold)
                    .await;
            }
            FaultKind::BrokerRestart => self.restart_broker().await?,
            FaultKind::BrokerKill => {
                let nodes = u32::try_from(self.broker()?.nodes()).unwrap_or(1).max(1);
                let node = u8::try_from((fault.magnitude - 1) % nodes + 1).unwrap_or(1);
                self.kill_broker_node(node).await?;
                tokio::time::sleep(hold).await;
                self.start_broker_node(node).await?;
            }
            FaultKind::FunctionCrash | FaultKind::OffsetsDeleted | FaultKind::OffsetsExpiring => {
                return Err(usage(format!(
                    "random faults do not carry out {:?}: it is not in the schedule",
                    fault.kind
                )));
            }
        }
        Ok(())
    }

    /// Scales to `pollers`, at most one per partition of the mapping's topic.
    async fn rescale_within_partitions(&mut self, name: &str, pollers: u32) -> Result<()> {
        let partitions = self.topics.partitions(self.mapping_def(name)?.topic());
        let pollers_max = u32::try_from(partitions).unwrap_or(1).max(1);
        let window = self
            .nemesis
            .open(FaultKind::Rescale, FaultTarget::Mapping(name.into()));
        self.scale_mapping(name, pollers.min(pollers_max)).await?;
        window.close();
        Ok(())
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
}
