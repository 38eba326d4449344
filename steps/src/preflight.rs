//! Before anything starts: every feature parses and every step is a known phrase. An unknown
//! step is reported with the nearest known phrase, so a typo costs seconds, not a broker start.

use crate::vocabulary::vocabulary;
use cucumber::gherkin::{self, GherkinEnv};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepProblem {
    pub file: PathBuf,
    pub line: usize,
    pub text: String,
    /// The nearest known phrase, for an unknown step; every match, for an ambiguous one.
    pub hint: String,
}

impl std::fmt::Display for StepProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {:?}\n    {}",
            self.file.display(),
            self.line,
            self.text,
            self.hint
        )
    }
}

/// Feature files under `paths` (files, or folders searched recursively), sorted, each once
/// (a folder and a file in it may both be given).
pub fn feature_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut files)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(format!(
                "{}: no such feature file or folder",
                path.display()
            ));
        }
    }
    files.sort();
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            files.push(path);
        }
    }
    Ok(())
}

/// Parses every file and checks every step; returns the problems (empty when all is known).
pub fn check_files(files: &[PathBuf]) -> Result<Vec<StepProblem>, String> {
    let mut problems = Vec::new();
    for file in files {
        let feature = gherkin::Feature::parse_path(file, GherkinEnv::default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for (line, text) in step_texts(&feature) {
            if let Some(hint) = problem(&text) {
                problems.push(StepProblem {
                    file: file.clone(),
                    line,
                    text,
                    hint,
                });
            }
        }
    }
    Ok(problems)
}

fn problem(text: &str) -> Option<String> {
    let matches: Vec<&str> = vocabulary()
        .matching(text)
        .into_iter()
        .map(|def| def.example)
        .collect();
    match matches.len() {
        1 => None,
        0 => Some(format!(
            "unknown step; nearest known phrase: {:?}",
            nearest(text)
        )),
        _ => Some(format!("ambiguous step; it matches: {matches:?}")),
    }
}

/// The known phrase closest to `text`.
pub fn nearest(text: &str) -> &'static str {
    vocabulary()
        .definitions()
        .map(|(_, d)| (strsim::normalized_levenshtein(text, d.example), d.example))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, example)| example)
        .unwrap_or("")
}

/// Every step of a feature with its line; outline placeholders filled from each example row.
fn step_texts(feature: &gherkin::Feature) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let backgrounds = feature
        .background
        .iter()
        .chain(feature.rules.iter().filter_map(|r| r.background.as_ref()));
    for background in backgrounds {
        out.extend(
            background
                .steps
                .iter()
                .map(|s| (s.position.line, s.value.clone())),
        );
    }
    let scenarios = feature
        .scenarios
        .iter()
        .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
    for scenario in scenarios {
        out.extend(expand(scenario));
    }
    out
}

fn expand(scenario: &gherkin::Scenario) -> Vec<(usize, String)> {
    let steps = || {
        scenario
            .steps
            .iter()
            .map(|s| (s.position.line, s.value.clone()))
    };
    let mut out = Vec::new();
    let mut any_rows = false;
    for examples in &scenario.examples {
        let Some(table) = &examples.table else {
            continue;
        };
        let Some((header, rows)) = table.rows.split_first() else {
            continue;
        };
        for row in rows {
            any_rows = true;
            for (line, text) in steps() {
                let filled = header.iter().zip(row).fold(text, |t, (name, value)| {
                    t.replace(&format!("<{name}>"), value)
                });
                out.push((line, filled));
            }
        }
    }
    if !any_rows {
        out.extend(steps());
    }
    out
}

/// The step texts of a scenario, for the isolation decision.
pub fn scenario_steps<'a>(
    feature: &'a gherkin::Feature,
    rule: Option<&'a gherkin::Rule>,
    scenario: &'a gherkin::Scenario,
) -> Vec<&'a str> {
    feature
        .background
        .iter()
        .chain(rule.and_then(|r| r.background.as_ref()))
        .flat_map(|b| b.steps.iter())
        .chain(scenario.steps.iter())
        .map(|s| s.value.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_step_names_the_nearest_phrase() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("typo.feature");
        std::fs::write(
            &file,
            "Feature: t\n  Scenario: s\n    Given a Kafka broker\n    When 10 records are producd to \"orders\"\n",
        )
        .unwrap();
        let problems = check_files(&feature_files(&[dir.path().to_path_buf()]).unwrap()).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 4);
        assert!(
            problems[0]
                .hint
                .contains(r#"100 records are produced to \"orders\""#),
            "{}",
            problems[0].hint
        );
    }

    #[test]
    fn outline_placeholders_are_filled() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("outline.feature");
        std::fs::write(
            &file,
            "Feature: t\n  Scenario Outline: s\n    Given a topic \"orders\" with <n> partitions\n    Examples:\n      | n |\n      | 1 |\n      | 3 |\n",
        )
        .unwrap();
        assert!(check_files(&[file]).unwrap().is_empty());
    }

    #[test]
    fn a_missing_path_is_refused() {
        assert!(
            feature_files(&[PathBuf::from("no/such/dir")])
                .unwrap_err()
                .contains("no such")
        );
    }
}
