//! A Kafka-triggered Lambda function on the official `lambda_runtime` crate, parsing the event
//! as `aws_lambda_events`' `KafkaEvent`. What it does is chosen by the values: a value
//! containing "poison" fails the invocation, one containing "sleep" sleeps past the deadline,
//! anything else succeeds, after `HANDLER_DELAY_MS` milliseconds (at once if unset: the
//! benchmark's instant handler).

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Past the deadline by this much, so the runtime's timeout, not the handler, ends a sleep.
const OVERSLEEP_MS: u64 = 5_000;

/// Every record's value, decoded; a record that breaks AWS's shape is an error.
fn values(event: &KafkaEvent) -> Result<Vec<Vec<u8>>, Error> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut values = Vec::new();
    for (key, records) in &event.records {
        for record in records {
            let topic = record.topic.as_deref().ok_or("a record without a topic")?;
            if key != &format!("{topic}-{}", record.partition) {
                return Err(format!(
                    "records[{key:?}] holds a record of {topic}-{}",
                    record.partition
                )
                .into());
            }
            if let Some(k) = &record.key {
                engine.decode(k)?;
            }
            let value = match &record.value {
                Some(v) => engine.decode(v)?,
                None => Vec::new(),
            };
            values.push(value);
        }
    }
    Ok(values)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn handle(event: LambdaEvent<KafkaEvent>) -> Result<serde_json::Value, Error> {
    let (event, context) = event.into_parts();
    let values = values(&event)?;
    if values.iter().any(|v| contains(v, b"poison")) {
        return Err("a poison record".into());
    }
    if values.iter().any(|v| contains(v, b"sleep")) {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
        let remaining_ms = context.deadline.saturating_sub(now_ms);
        tokio::time::sleep(Duration::from_millis(remaining_ms + OVERSLEEP_MS)).await;
    }
    if let Some(delay_ms) = std::env::var("HANDLER_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    Ok(serde_json::json!({ "batchItemFailures": [] }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
