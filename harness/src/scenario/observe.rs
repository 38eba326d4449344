//! Following committed offsets and log-start offsets on the broker into the history.

use super::*;

impl Scenario {
    pub(super) fn watch_group(&mut self, group: &str, local_topic: &str) {
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
    pub(super) fn spawn_observer(&self) -> JoinHandle<()> {
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
}

pub(super) async fn observe_log_starts(
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
