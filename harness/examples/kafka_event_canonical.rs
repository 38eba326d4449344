//! Reads every sample event in a folder (written by the mock Lambda when
//! `ESM_CHAOS_EVENT_SAMPLES` is set) as `aws_lambda_events`' `KafkaEvent` and prints one
//! canonical JSON line per event, or an "error" line, for `.ci/crosscheck.sh` to compare with
//! Powertools and aws-lambda-java-events.
//!
//! `cargo run -q -p esm-chaos-harness --example kafka_event_canonical -- <folder>`

use anyhow::{Context, Result, bail};
use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A folder with more samples than this is not a sample folder.
const FILES_MAX: usize = 10_000;

fn main() -> Result<()> {
    let folder = match std::env::args_os().nth(1) {
        Some(folder) => PathBuf::from(folder),
        None => bail!("usage: kafka_event_canonical <folder of sample events>"),
    };
    let mut out = std::io::stdout().lock();
    for file in sample_files(&folder)? {
        let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let mut line = match serde_json::from_slice::<KafkaEvent>(&body) {
            Ok(event) => canonical(&event),
            Err(e) => json!({"error": format!("aws_lambda_events KafkaEvent: {e}")}),
        };
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        line["file"] = json!(name);
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn sample_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("listing {}", folder.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
        if files.len() > FILES_MAX {
            bail!("{} holds more than {FILES_MAX} samples", folder.display());
        }
    }
    files.sort();
    Ok(files)
}

fn canonical(event: &KafkaEvent) -> Value {
    let mut keys: Vec<&String> = event.records.keys().collect();
    keys.sort();
    let records: Vec<Value> = keys
        .iter()
        .flat_map(|key| event.records[*key].iter().map(|r| canonical_record(key, r)))
        .collect();
    json!({
        "eventSource": event.event_source,
        "eventSourceArn": event.event_source_arn,
        "bootstrapServers": event.bootstrap_servers,
        "recordKeys": keys,
        "records": records,
    })
}

fn canonical_record(list_key: &str, r: &KafkaRecord) -> Value {
    let headers: Vec<Value> = r
        .headers
        .iter()
        .flat_map(|header| header.iter().map(|(name, bytes)| json!([name, bytes])))
        .collect();
    json!({
        "list": list_key,
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp.timestamp_millis(),
        "timestampType": r.timestamp_type,
        "key": hex_of_base64(r.key.as_deref()),
        "value": hex_of_base64(r.value.as_deref()),
        "headers": headers,
    })
}

/// A handler decodes key and value with standard base64; undecodable text shows as such.
fn hex_of_base64(text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) => json!(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Err(e) => json!(format!("not base64: {e}")),
    }
}
