//! The checkers' own model of what AWS documents: the event a function receives, the record an
//! on-failure destination receives, the filter rules, and the parts of a mapping's
//! configuration a checker judges by. Written from AWS's pages, sharing no code with the
//! consumer (`esm`) or the mock function, so a bug there cannot excuse itself here.

pub mod destination;
pub mod event;
pub mod filter;
pub mod json;

use serde_json::Value;

/// Where a group with no committed offset starts ("Kafka starting positions"; AWS
/// CreateEventSourceMapping `StartingPosition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    /// The first record whose timestamp is at or after this time.
    AtTimestamp {
        timestamp_ms: i64,
    },
}

/// A mapping configuration a checker cannot judge by; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping config {field}: {why}")]
pub struct ConfigError {
    pub field: String,
    pub why: String,
}

fn config_error(field: &str, why: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        why: why.into(),
    }
}

/// What the checkers take from a mapping's CreateEventSourceMapping JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingModel {
    pub starting_position: StartingPosition,
    pub filters: Vec<filter::Pattern>,
    /// The topic of a `kafka://` on-failure destination.
    pub destination_topic: Option<String>,
}

impl MappingModel {
    /// Reads the fields from the JSON the consumer was given.
    pub fn from_config(config: &Value) -> Result<MappingModel, ConfigError> {
        Ok(MappingModel {
            starting_position: starting_position(config)?,
            filters: filters(config)?,
            destination_topic: config
                .pointer("/DestinationConfig/OnFailure/Destination")
                .and_then(Value::as_str)
                .and_then(|d| d.strip_prefix("kafka://"))
                .map(str::to_string),
        })
    }
}

fn starting_position(config: &Value) -> Result<StartingPosition, ConfigError> {
    match config.get("StartingPosition").and_then(Value::as_str) {
        Some("TRIM_HORIZON") => Ok(StartingPosition::TrimHorizon),
        Some("LATEST") => Ok(StartingPosition::Latest),
        Some("AT_TIMESTAMP") => {
            let seconds = config
                .get("StartingPositionTimestamp")
                .and_then(Value::as_f64)
                .ok_or_else(|| {
                    config_error("StartingPositionTimestamp", "is required with AT_TIMESTAMP")
                })?;
            Ok(StartingPosition::AtTimestamp {
                timestamp_ms: (seconds * 1000.0) as i64,
            })
        }
        other => Err(config_error(
            "StartingPosition",
            format!("{other:?} is not TRIM_HORIZON, LATEST or AT_TIMESTAMP"),
        )),
    }
}

fn filters(config: &Value) -> Result<Vec<filter::Pattern>, ConfigError> {
    let Some(filters) = config.pointer("/FilterCriteria/Filters") else {
        return Ok(Vec::new());
    };
    let list = filters
        .as_array()
        .ok_or_else(|| config_error("FilterCriteria.Filters", "is not a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let field = format!("FilterCriteria.Filters[{i}].Pattern");
            let text = f
                .get("Pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| config_error(&field, "is not a string"))?;
            filter::Pattern::parse(text).map_err(|e| config_error(&field, e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_judged_fields() {
        let model = MappingModel::from_config(&json!({
            "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_700_000_000,
            "FilterCriteria": {"Filters": [{"Pattern": "{\"value\": [\"a\"]}"}]},
            "DestinationConfig": {"OnFailure": {"Destination": "kafka://dlq"}}
        }))
        .unwrap();
        assert_eq!(
            model.starting_position,
            StartingPosition::AtTimestamp {
                timestamp_ms: 1_700_000_000_000
            }
        );
        assert_eq!(model.filters.len(), 1);
        assert_eq!(model.destination_topic.as_deref(), Some("dlq"));
        let bad = MappingModel::from_config(&json!({"StartingPosition": "LATEST",
            "FilterCriteria": {"Filters": [{"Pattern": "{\"topic\": [\"a\"]}"}]}}));
        assert_eq!(bad.unwrap_err().field, "FilterCriteria.Filters[0].Pattern");
        assert_eq!(
            MappingModel::from_config(&json!({})).unwrap_err().field,
            "StartingPosition"
        );
    }
}
