//! The scenario's event source mappings: each one's definition with its config parsed once, its
//! running pollers and how many it wants, and starts kept for a "fails to start" step.

use super::{Result, usage};
use crate::mapping::Mapping;
use esm::config::{ConfigErrors, MappingConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A start expected to fail: the poller's exit status and log, or why it was not refused.
pub(super) type StartAttempt = std::result::Result<(String, String), String>;

/// One mapping as the scenario defined it.
pub(super) struct MappingDef {
    /// The source topic (scenario-local name), empty when Topics names none.
    topic: String,
    /// The function the mock Lambda or a real function serves.
    function: String,
    /// The mapping as the scenario wrote it (scenario-local names).
    config: Value,
    /// The config with broker names as the poller is given it, parsed; AWS's refusal is kept,
    /// as a scenario may define a mapping only to see it refused.
    parsed: std::result::Result<MappingConfig, ConfigErrors>,
    uuid: String,
    running: Option<Arc<Mapping>>,
    pollers_wanted: u32,
}

impl MappingDef {
    pub(super) fn topic(&self) -> &str {
        &self.topic
    }

    pub(super) fn function(&self) -> &str {
        &self.function
    }

    /// The mapping as the scenario wrote it (scenario-local names).
    pub(super) fn config(&self) -> &Value {
        &self.config
    }

    pub(super) fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The parsed config (broker names), or why AWS refuses it.
    pub(super) fn parsed(&self) -> std::result::Result<&MappingConfig, &ConfigErrors> {
        self.parsed.as_ref()
    }

    /// The consumer group (broker name): ConsumerGroupId, else the mapping's UUID (also for a
    /// config AWS refuses, whose pollers never join a group).
    pub(super) fn group(&self) -> String {
        match &self.parsed {
            Ok(config) => config.group_id(&self.uuid),
            Err(_) => self.uuid.clone(),
        }
    }

    /// The topic of a `kafka://` on-failure destination (broker name).
    pub(super) fn destination_topic(&self) -> Option<&str> {
        self.parsed.as_ref().ok()?.destination_topic.as_deref()
    }

    pub(super) fn pollers_wanted(&self) -> u32 {
        self.pollers_wanted
    }

    pub(super) fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

/// The scenario's mappings by name.
#[derive(Default)]
pub(super) struct Mappings {
    by_name: BTreeMap<String, MappingDef>,
    /// Starts made by a start step for the "fails to start" step after it.
    start_attempts: BTreeMap<String, StartAttempt>,
}

impl Mappings {
    /// Defines a mapping from its scenario-local config and that config parsed with broker
    /// names; its group is its own UUID unless the config names one.
    pub(super) fn define(
        &mut self,
        name: &str,
        config: Value,
        parsed: std::result::Result<MappingConfig, ConfigErrors>,
    ) -> Result<()> {
        if self.by_name.contains_key(name) {
            return Err(usage(format!("the mapping {name:?} is already defined")));
        }
        let topic = config["Topics"]
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let def = MappingDef {
            topic,
            function: mock_function_name(&config),
            config,
            parsed,
            uuid: uuid::Uuid::new_v4().to_string(),
            running: None,
            pollers_wanted: 1,
        };
        self.by_name.insert(name.to_string(), def);
        Ok(())
    }

    pub(super) fn get(&self, name: &str) -> Result<&MappingDef> {
        self.by_name.get(name).ok_or_else(|| {
            usage(format!(
                "no mapping {name:?}: define it with 'Given an event source mapping \"{name}\" from …'"
            ))
        })
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut MappingDef> {
        // The same error as `get`, without borrowing the map twice.
        self.get(name)?;
        Ok(self
            .by_name
            .get_mut(name)
            .expect("the mapping was just found"))
    }

    /// The pollers of a started mapping.
    pub(super) fn running(&self, name: &str) -> Result<Arc<Mapping>> {
        self.get(name)?
            .running
            .clone()
            .ok_or_else(|| usage(format!("the mapping {name:?} was never started")))
    }

    /// Every mapping, by name.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &MappingDef)> {
        self.by_name.iter().map(|(name, def)| (name.as_str(), def))
    }

    /// A mapping's pollers now run, this many of them.
    pub(super) fn started(
        &mut self,
        name: &str,
        mapping: Arc<Mapping>,
        pollers: u32,
    ) -> Result<()> {
        let def = self.get_mut(name)?;
        def.running = Some(mapping);
        def.pollers_wanted = pollers;
        Ok(())
    }

    /// The pollers a mapping comes back with after a stop or a kill.
    pub(super) fn want_pollers(&mut self, name: &str, pollers: u32) -> Result<()> {
        self.get_mut(name)?.pollers_wanted = pollers;
        Ok(())
    }

    /// Keeps a start step's attempt for the "fails to start" step after it.
    pub(super) fn keep_attempt(&mut self, name: &str, attempt: StartAttempt) {
        self.start_attempts.insert(name.to_string(), attempt);
    }

    pub(super) fn take_attempt(&mut self, name: &str) -> Option<StartAttempt> {
        self.start_attempts.remove(name)
    }
}

/// The function the mock Lambda serves for a mapping: the name inside FunctionName, or inside
/// FunctionArn when a pasted get-event-source-mapping output has no FunctionName.
pub(super) fn mock_function_name(config: &Value) -> String {
    let given = config["FunctionName"]
        .as_str()
        .or_else(|| config["FunctionArn"].as_str())
        .unwrap_or_default();
    esm::config::function_base_name(given)
        .unwrap_or(given)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(group: Option<&str>) -> Value {
        let mut config = json!({
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:process",
            "Topics": ["s1-orders"],
            "StartingPosition": "TRIM_HORIZON",
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["h:1"]}},
            "DestinationConfig": {"OnFailure": {"Destination": "kafka://s1-dlq"}},
            "ProvisionedPollerConfig": {"MinimumPollers": 1},
        });
        if let Some(group) = group {
            config["SelfManagedKafkaEventSourceConfig"] = json!({"ConsumerGroupId": group});
        }
        config
    }

    #[test]
    fn a_definition_reads_its_parsed_config() {
        let mut mappings = Mappings::default();
        let parsed = MappingConfig::from_value(&config(Some("s1-g")));
        mappings.define("esm", config(Some("g")), parsed).unwrap();
        let def = mappings.get("esm").unwrap();
        assert!(def.parsed().is_ok(), "{:?}", def.parsed().err());
        assert_eq!(def.function(), "process");
        assert_eq!(def.group(), "s1-g");
        assert_eq!(def.destination_topic(), Some("s1-dlq"));
        assert!(!def.is_running());
        assert!(mappings.running("esm").is_err());
        let again = mappings.define(
            "esm",
            config(None),
            MappingConfig::from_value(&config(None)),
        );
        assert!(again.is_err());
        let missing = mappings.get("other").err().unwrap().to_string();
        assert!(
            missing.starts_with("no mapping \"other\": define it with"),
            "{missing}"
        );
    }

    #[test]
    fn a_refused_config_is_kept_and_its_group_is_the_uuid() {
        let mut mappings = Mappings::default();
        let mut refused = config(None);
        refused["BatchSize"] = json!(0);
        let parsed = MappingConfig::from_value(&refused);
        mappings.define("esm", refused, parsed).unwrap();
        let def = mappings.get("esm").unwrap();
        assert!(def.parsed().is_err());
        assert_eq!(def.group(), def.uuid());
        assert_eq!(def.destination_topic(), None);
    }
}
