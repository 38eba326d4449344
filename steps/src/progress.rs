//! What a person and a CI log read while a run goes: one line per finished scenario with a
//! `[12/55]` counter and its time, and a failed scenario's steps printed whole, never
//! interleaved with another's. The tally it keeps gives the exit code and the durations file.

use crate::select::SKIPPED_TAG;
use crate::world::EsmWorld;
use cucumber::event::{self, Cucumber, Feature, RetryableScenario, Rule, Scenario, Step};
use cucumber::{Event, gherkin, parser};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Longest error text printed under a failed step; the report folder has the rest.
pub const ERROR_CHARS_MAX: usize = 4_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// Counts and durations of finished scenarios, shared with the runner.
#[derive(Debug, Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Failed scenarios' `file:line  name`, for the closing lines.
    pub failures: Vec<String>,
    /// Duration key to milliseconds, for scenarios that ran (not skipped).
    pub durations_ms: BTreeMap<String, u64>,
    pub parse_errors: usize,
}

impl Tally {
    pub fn finished(&self) -> usize {
        self.passed + self.failed + self.skipped
    }
}

/// One scenario in flight: when it started and what it printed so far.
struct Running {
    started: Instant,
    lines: Vec<String>,
    status: Status,
}

pub struct Progress {
    total: usize,
    tally: Arc<Mutex<Tally>>,
    running: HashMap<(String, usize), Running>,
}

impl Progress {
    pub fn new(total: usize, tally: Arc<Mutex<Tally>>) -> Progress {
        Progress {
            total,
            tally,
            running: HashMap::new(),
        }
    }

    fn on_scenario(
        &mut self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        ev: &event::Scenario<EsmWorld>,
    ) {
        let file = feature
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let key = (file.clone(), scenario.position.line);
        match ev {
            Scenario::Started => {
                self.running.insert(
                    key,
                    Running {
                        started: Instant::now(),
                        lines: Vec::new(),
                        status: Status::Passed,
                    },
                );
            }
            Scenario::Finished => {
                if let Some(run) = self.running.remove(&key) {
                    self.finish(feature, scenario, &file, run);
                }
            }
            other => {
                if let Some(run) = self.running.get_mut(&key) {
                    // The clock starts once set up: waiting for a slot is not the scenario's time.
                    if matches!(
                        other,
                        Scenario::Hook(event::HookType::Before, event::Hook::Passed)
                    ) {
                        run.started = Instant::now();
                    }
                    record(run, other);
                }
            }
        }
    }

    fn finish(
        &mut self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        file: &str,
        run: Running,
    ) {
        let elapsed_ms = u64::try_from(run.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let skipped_by_run = scenario.tags.iter().any(|t| t == SKIPPED_TAG);
        let location = format!("{file}:{}", scenario.position.line);
        let title = format!("{}: {}", feature.name, scenario.name);
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        match run.status {
            Status::Passed => tally.passed += 1,
            Status::Failed => {
                tally.failed += 1;
                tally.failures.push(format!("{location}  {title}"));
            }
            Status::Skipped => tally.skipped += 1,
        }
        if run.status != Status::Skipped {
            let key = crate::select::duration_key(std::path::Path::new(file), &scenario.name);
            tally.durations_ms.insert(key, elapsed_ms);
        }
        let mut block = format!(
            "{} {:<7} {:>6.1} s  {location}  {title}\n",
            counter(tally.finished(), self.total),
            label(run.status),
            elapsed_ms as f64 / 1000.0
        );
        drop(tally);
        if run.status == Status::Failed || (run.status == Status::Skipped && !skipped_by_run) {
            for line in &run.lines {
                block.push_str(line);
                block.push('\n');
            }
        } else if skipped_by_run && let Some(step) = scenario.steps.first() {
            block.push_str(&format!("    {}\n", step.value));
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(block.as_bytes());
        let _ = out.flush();
    }
}

/// `[ 7/55]`: the width of the total, so the column lines up.
pub fn counter(done: usize, total: usize) -> String {
    let width = total.to_string().len();
    format!("[{done:>width$}/{total}]")
}

fn label(status: Status) -> &'static str {
    match status {
        Status::Passed => "passed",
        Status::Failed => "FAILED",
        Status::Skipped => "skipped",
    }
}

fn record(run: &mut Running, ev: &event::Scenario<EsmWorld>) {
    match ev {
        Scenario::Step(step, outcome) | Scenario::Background(step, outcome) => {
            let text = format!("{}{}", step.keyword, step.value);
            match outcome {
                Step::Started => {}
                Step::Passed(..) => run.lines.push(format!("    ok   {text}")),
                Step::Skipped => {
                    if run.status == Status::Passed {
                        run.status = Status::Skipped;
                    }
                    run.lines.push(format!("    skip {text}"));
                }
                Step::Failed(_, _, _, error) => {
                    run.status = Status::Failed;
                    run.lines.push(format!("    FAIL {text}"));
                    run.lines.push(indent(&step_error(error)));
                }
            }
        }
        Scenario::Hook(kind, event::Hook::Failed(_, info)) => {
            run.status = Status::Failed;
            run.lines.push(format!("    FAIL {kind:?} hook"));
            run.lines.push(indent(&panic_text(info)));
        }
        Scenario::Log(text) => run.lines.push(indent(text)),
        _ => {}
    }
}

fn step_error(error: &event::StepError) -> String {
    match error {
        event::StepError::Panic(info) => panic_text(info),
        other => other.to_string(),
    }
}

/// The message a step panicked with (steps turn their errors into panics).
pub fn panic_text(info: &event::Info) -> String {
    let text = if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "(a panic without a message)".to_string()
    };
    text.chars().take(ERROR_CHARS_MAX).collect()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("         {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl cucumber::Writer<EsmWorld> for Progress {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<Cucumber<EsmWorld>>>,
        _cli: &Self::Cli,
    ) {
        let event = match event {
            Ok(ev) => ev.value,
            Err(e) => {
                eprintln!("esm-chaos: {e}");
                self.tally
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .parse_errors += 1;
                return;
            }
        };
        if let Cucumber::Feature(
            feature,
            Feature::Scenario(scenario, RetryableScenario { event, .. })
            | Feature::Rule(_, Rule::Scenario(scenario, RetryableScenario { event, .. })),
        ) = event
        {
            self.on_scenario(&feature, &scenario, &event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_lines_up() {
        assert_eq!(counter(7, 55), "[ 7/55]");
        assert_eq!(counter(55, 55), "[55/55]");
        assert_eq!(counter(1, 3), "[1/3]");
    }

    #[test]
    fn a_panic_message_is_read_back() {
        let info: event::Info = Arc::new("timed out".to_string());
        assert_eq!(panic_text(&info), "timed out");
        let info: event::Info = Arc::new(7_u8);
        assert!(panic_text(&info).contains("without a message"));
    }
}
