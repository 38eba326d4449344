//! The mapping configuration in AWS's CreateEventSourceMapping JSON shape, validated with AWS's
//! ranges. Anything invalid is refused before the consumer connects, naming field, value and
//! allowed range.

use crate::filter::Pattern;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtTimestamp { timestamp_s: i64 },
}

/// A validated mapping. Built only by [`MappingConfig::from_json`] / [`MappingConfig::from_value`].
#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub function_name: String,
    pub topic: String,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    pub batching_window_ms: u64,
    pub enabled: bool,
    /// From SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS; empty for MSK.
    pub bootstrap_servers: Vec<String>,
    /// Set for MSK: the event then says `aws:kafka` and carries the ARN.
    pub event_source_arn: Option<String>,
    /// `None`: the group id is the mapping's UUID.
    pub consumer_group_id: Option<String>,
    pub filters: Vec<Pattern>,
    /// The topic of a `kafka://topic` on-failure destination.
    pub destination_topic: Option<String>,
    /// `None` = infinite (-1).
    pub max_retry_attempts: Option<u32>,
    /// `None` = infinite (-1).
    pub max_record_age_s: Option<u64>,
    pub bisect_batch_on_function_error: bool,
    pub report_batch_item_failures: bool,
    pub min_pollers: u32,
    pub max_pollers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mapping config: {field} = {value}: {allowed}")]
pub struct ConfigError {
    /// AWS's field name, dotted for nested fields.
    pub field: String,
    /// The value as given (JSON text), or "missing".
    pub value: String,
    /// What is allowed, e.g. "allowed 1 to 10000".
    pub allowed: String,
}

impl MappingConfig {
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let _ = text;
        todo!()
    }

    pub fn from_value(value: &serde_json::Value) -> Result<Self, ConfigError> {
        let _ = value;
        todo!()
    }

    /// Retries allowed after the first attempt: `None` = unbounded. Infinite retries with an
    /// on-failure destination are capped at 10 (documented by AWS).
    pub fn effective_max_retries(&self) -> Option<u32> {
        todo!()
    }

    /// `"aws:kafka"` with an EventSourceArn, else `"SelfManagedKafka"`.
    pub fn event_source(&self) -> &'static str {
        todo!()
    }

    /// The consumer group: ConsumerGroupId, or the mapping's UUID.
    pub fn group_id(&self, mapping_uuid: &str) -> String {
        let _ = mapping_uuid;
        todo!()
    }
}
