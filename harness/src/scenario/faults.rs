//! Broker and network faults, and offset expiry and deletion.

use super::*;
use crate::history::OffsetsGoneCause;

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
        if result.is_ok() {
            self.history.record(EventKind::OffsetsGone {
                group,
                cause: OffsetsGoneCause::Expired,
            });
        }
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
        if result.is_ok() {
            self.history.record(EventKind::OffsetsGone {
                group,
                cause: OffsetsGoneCause::Deleted,
            });
        }
        self.nemesis.end(id, &fault);
        Ok(result?)
    }
}
