//! Setting a scenario up: its broker, topics, functions and mapping definitions, and a
//! mapping's config as the poller is given it.

use super::mappings::mock_function_name;
use super::*;
use esm::config::MappingConfig;

impl Scenario {
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
        let call_timeout_ms = if self.owns_broker {
            OWN_BROKER_CALL_TIMEOUT_MS
        } else {
            crate::admin::DEFAULT_TIMEOUT_MS
        };
        let admin = Admin::with_timeout_ms(&broker.bootstrap_servers(), call_timeout_ms)?;
        self.admin = Some(Arc::new(admin));
        self.broker = Some(broker);
        Ok(())
    }

    pub(super) fn broker(&self) -> Result<&Arc<Broker>> {
        self.broker
            .as_ref()
            .ok_or_else(|| usage("no broker yet: start the scenario with 'Given a Kafka broker'"))
    }

    pub(super) fn admin(&self) -> Result<Arc<Admin>> {
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
        Topics::check_partitions(local, partitions)?;
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
        self.topics.created(local, real, partitions);
        Ok(())
    }

    /// A topic the scenario names without creating it gets one partition, as a broker with
    /// auto-creation would give it.
    pub(super) async fn ensure_topic(&mut self, local: &str) -> Result<String> {
        if !self.topics.contains(local) {
            self.create_topic(local, 1, None).await?;
        }
        self.topics.real(local)
    }

    /// "the topic T grows to N partitions".
    pub async fn grow_topic(&mut self, local: &str, partitions: i32) -> Result<()> {
        let real = self.ensure_topic(local).await?;
        self.admin()?.add_partitions(&real, partitions).await?;
        self.topics.grown(local, partitions);
        Ok(())
    }

    /// "a Lambda function X that …".
    pub async fn define_function(&mut self, name: &str, mode: Mode, delay_ms: u64) {
        self.functions.define_mock(name, mode, delay_ms).await;
    }

    /// "the function X starts succeeding / failing".
    pub async fn set_function_mode(&mut self, name: &str, mode: Mode) -> Result<()> {
        self.functions.set_mode(name, mode)
    }

    /// Where real functions' commands run: the folder of the feature file at `path`.
    pub fn set_feature_path(&mut self, path: &std::path::Path) {
        self.functions.set_feature_path(path);
    }

    /// "a Lambda function F running CMD [with reserved concurrency N] [with a timeout of S
    /// seconds]": the command as Lambda execution environments, in the feature file's folder.
    pub async fn define_real_function(
        &mut self,
        name: &str,
        command: &str,
        reserved_concurrency: Option<u32>,
        timeout_seconds: Option<u64>,
    ) -> Result<()> {
        let work_dir = self.work_dir.clone();
        self.functions
            .define_real(
                name,
                command,
                reserved_concurrency,
                timeout_seconds,
                &work_dir,
            )
            .await
    }

    /// "a Lambda function F served at URL": someone else's endpoint behind a recording proxy.
    pub async fn define_served_function(&mut self, name: &str, url: &str) -> Result<()> {
        self.functions.define_served(name, url).await
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

    /// "an event source mapping M configured as: json" (the get-event-source-mapping output of a
    /// real mapping may be pasted: FunctionArn then names the function). The config is parsed
    /// here, once, as the poller will be given it; a refusal is kept for the start to report.
    pub fn define_mapping(&mut self, name: &str, config: Value) -> Result<()> {
        let parsed = MappingConfig::from_value(&self.real_config(&config)?);
        self.mappings.define(name, config, parsed)
    }

    pub(super) fn mapping_def(&self, name: &str) -> Result<&MappingDef> {
        self.mappings.get(name)
    }

    pub(super) fn running(&self, name: &str) -> Result<Arc<Mapping>> {
        self.mappings.running(name)
    }

    /// The parsed config of a mapping, or AWS's refusal of it (names as the scenario wrote them).
    pub(super) fn mapping_config(&self, name: &str) -> Result<&MappingConfig> {
        self.mapping_def(name)?.parsed().map_err(|e| {
            usage(format!(
                "mapping {name:?}: {}",
                self.names.localise(&e.to_string())
            ))
        })
    }

    /// A mapping's config (scenario-local names) as the poller reads it: broker names, and the
    /// test broker's bootstrap servers unless an MSK ARN stands for the cluster.
    pub(super) fn real_config(&self, local: &Value) -> Result<Value> {
        let mut config = esm::config::with_names(local, |name| self.names.real(name));
        if config.get("EventSourceArn").is_none()
            && let Some(fields) = config.as_object_mut()
        {
            let servers: Vec<Value> = self
                .mapping_bootstrap()?
                .split(',')
                .map(|s| Value::String(s.to_string()))
                .collect();
            fields.insert(
                "SelfManagedEventSource".into(),
                json!({ "Endpoints": { "KAFKA_BOOTSTRAP_SERVERS": servers } }),
            );
        }
        Ok(config)
    }

    pub(super) fn mapping_bootstrap(&self) -> Result<String> {
        let broker = self.broker()?;
        Ok(broker
            .proxied_bootstrap_servers()
            .unwrap_or_else(|| broker.bootstrap_servers()))
    }
}

/// What a pasted mapping names that the scenario replaces: its bootstrap servers (by the test
/// broker's), its MSK cluster (the test broker stands for it) and its function ARN (the mock's).
pub(super) fn replaced_by_test_broker(pasted: &Value, bootstrap: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let servers = &pasted["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"];
    if let Some(list) = servers.as_array().filter(|l| !l.is_empty()) {
        let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        notes.push(format!(
            "pasted bootstrap servers {} replaced by the test broker's {bootstrap}",
            list.join(",")
        ));
    }
    if let Some(arn) = pasted["EventSourceArn"].as_str() {
        notes.push(format!(
            "MSK cluster {arn} stands for the test broker {bootstrap}"
        ));
    }
    let function = pasted["FunctionName"]
        .as_str()
        .or_else(|| pasted["FunctionArn"].as_str())
        .unwrap_or_default();
    if function.starts_with("arn:") || function.contains(":function:") {
        notes.push(format!(
            "function {function} is served by the mock Lambda as {:?}",
            mock_function_name(pasted)
        ));
    }
    notes
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
pub(super) fn table_value(text: &str) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_table_key_sets_provisioned_mode() {
        let mut config = json!({ "FunctionName": "f", "Topics": ["t"] });
        set_table_field(&mut config, "ProvisionedPollerConfig.MinimumPollers", "1").unwrap();
        set_table_field(&mut config, "ProvisionedPollerConfig.MaximumPollers", "4").unwrap();
        assert_eq!(
            config["ProvisionedPollerConfig"],
            json!({"MinimumPollers": 1, "MaximumPollers": 4})
        );
    }

    #[test]
    fn a_pasted_mapping_names_what_the_scenario_replaces() {
        let pasted = json!({
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:process",
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b-1.example.com:9092", "b-2.example.com:9092"]}},
        });
        assert_eq!(mock_function_name(&pasted), "process");
        assert_eq!(
            replaced_by_test_broker(&pasted, "127.0.0.1:1"),
            [
                "pasted bootstrap servers b-1.example.com:9092,b-2.example.com:9092 replaced by the test broker's 127.0.0.1:1",
                "function arn:aws:lambda:us-east-1:123456789012:function:process is served by the mock Lambda as \"process\"",
            ]
        );
        let msk = json!({"FunctionName": "process", "EventSourceArn": "arn:aws:kafka:us-east-1:1:cluster/c/x"});
        assert_eq!(
            replaced_by_test_broker(&msk, "127.0.0.1:1"),
            [
                "MSK cluster arn:aws:kafka:us-east-1:1:cluster/c/x stands for the test broker 127.0.0.1:1"
            ]
        );
        assert!(replaced_by_test_broker(&json!({"FunctionName": "process"}), "h:1").is_empty());
    }
}
