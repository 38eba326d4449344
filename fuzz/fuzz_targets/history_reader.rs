//! A history.jsonl may be edited, cut short or written by another version: reading any text
//! must give a history or the first bad line's number and fault, and the checkers must judge
//! whatever reads as a history, never panic or hang.
#![no_main]

use harness::check::{self, Subject};
use harness::contract::StartingPosition;
use harness::contract::filter::Pattern;
use harness::history::{Event, EventKind, History};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Topics and functions judged per history: enough to reach every checker's branches.
const NAMES_MAX: usize = 2;
const FILTER: &str = r#"{"value": {"n": [{"numeric": [">", 5]}]}}"#;

fn first_names<'a>(names: impl Iterator<Item = &'a str>, default: &'a str) -> Vec<String> {
    let mut seen: Vec<String> = names
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(NAMES_MAX)
        .map(str::to_string)
        .collect();
    if seen.is_empty() {
        seen.push(default.to_string());
    }
    seen
}

/// Subjects named by the history itself; `choice` picks the start position and the filters.
fn subjects(events: &[Arc<Event>], choice: usize) -> Vec<Subject> {
    let kinds = || events.iter().map(|e| &e.kind);
    let topics = first_names(
        kinds().filter_map(|k| match k {
            EventKind::Produced { topic, .. } => Some(&**topic),
            _ => None,
        }),
        "orders",
    );
    let functions = first_names(
        kinds().filter_map(|k| match k {
            EventKind::Invocation(inv) => Some(inv.function.as_str()),
            _ => None,
        }),
        "process",
    );
    let groups = first_names(
        kinds().filter_map(|k| match k {
            EventKind::Commit { group, .. } => Some(group.as_str()),
            _ => None,
        }),
        "g",
    );
    let destination_topic = kinds().find_map(|k| match k {
        EventKind::Destination { topic, .. } => Some(topic.clone()),
        _ => None,
    });
    let timestamp_ms = kinds()
        .find_map(|k| match k {
            EventKind::Produced { timestamp_ms, .. } => Some(*timestamp_ms),
            _ => None,
        })
        .unwrap_or(0);
    let starting_position = match choice % 3 {
        0 => StartingPosition::TrimHorizon,
        1 => StartingPosition::Latest,
        _ => StartingPosition::AtTimestamp { timestamp_ms },
    };
    let filters: Vec<Pattern> = if choice / 3 % 2 == 1 {
        Pattern::parse(FILTER).into_iter().collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for topic in &topics {
        for function in &functions {
            out.push(Subject {
                mapping: "esm".to_string(),
                topic: topic.clone(),
                function: function.clone(),
                groups: groups.clone(),
                destination_topic: destination_topic.clone(),
                filters: filters.clone(),
                starting_position,
            });
        }
    }
    out
}

fn judge(events: &[Arc<Event>], choice: usize) {
    for s in subjects(events, choice) {
        for verdict in check::all(events, &s) {
            assert!(!verdict.summary.is_empty(), "{verdict:?}");
            assert!(verdict.evidence.len() <= check::EVIDENCE_MAX);
        }
        let _ = check::duplicates(events, &s, 1);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match History::from_jsonl(text) {
        Ok(history) => judge(&history.snapshot(), data.len()),
        Err(e) => assert!(e.to_string().starts_with("history line "), "{e}"),
    }
});
