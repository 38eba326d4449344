//! The scenario's functions: the mock, and real functions (the user's command run as Lambda
//! execution environments, or someone else's endpoint behind a recording proxy: the `runtime`
//! module) beside it; and what "the function F had N …" counts.

use super::{Result, file_name, sanitise, usage};
use crate::history::{EnvironmentChange, EventKind, History, InvocationOutcome};
use crate::lambda::{MockLambda, Mode};
use crate::runtime::{FunctionSpec, RealFunction, ServedFunction};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What "the function F had N …" counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionEvent {
    /// An environment finished its init.
    ColdStart,
    /// An invocation passed the function timeout.
    Timeout,
    /// An environment's process exited (during an invocation or idle).
    Crash,
    /// An invocation was throttled (429).
    Throttle,
}

impl FunctionEvent {
    /// "cold start(s)", "timeout(s)", "crash(es)", "throttle(s)".
    pub fn from_words(words: &str) -> Option<FunctionEvent> {
        match words {
            "cold start" | "cold starts" => Some(FunctionEvent::ColdStart),
            "timeout" | "timeouts" => Some(FunctionEvent::Timeout),
            "crash" | "crashes" => Some(FunctionEvent::Crash),
            "throttle" | "throttles" => Some(FunctionEvent::Throttle),
            _ => None,
        }
    }

    fn counts(self, function: &str, event: &EventKind) -> bool {
        match event {
            EventKind::Environment {
                function: f,
                change,
                ..
            } if f == function => matches!(
                (self, change),
                (FunctionEvent::ColdStart, EnvironmentChange::Ready { .. })
                    | (FunctionEvent::Timeout, EnvironmentChange::TimedOut { .. })
                    | (FunctionEvent::Crash, EnvironmentChange::Exited { .. })
            ),
            EventKind::Invocation(inv) if inv.function == function => {
                self == FunctionEvent::Throttle && inv.outcome == InvocationOutcome::Throttled
            }
            _ => false,
        }
    }
}

/// How many `what` a function had in a history.
pub fn count_function_events(
    events: &[std::sync::Arc<crate::history::Event>],
    function: &str,
    what: FunctionEvent,
) -> usize {
    events
        .iter()
        .filter(|e| what.counts(function, &e.kind))
        .count()
}

/// A function that is not the mock.
enum RealEndpoint {
    Running(RealFunction),
    Served(ServedFunction),
}

/// The scenario's functions: the mock Lambda (started on first use; it also records the calls
/// of real functions), the real ones by name, and the folder their commands run in.
pub(super) struct Functions {
    history: History,
    mock: Option<MockLambda>,
    real: BTreeMap<String, RealEndpoint>,
    feature_dir: Option<PathBuf>,
}

impl Functions {
    pub(super) fn new(history: History) -> Functions {
        Functions {
            history,
            mock: None,
            real: BTreeMap::new(),
            feature_dir: None,
        }
    }

    /// The mock Lambda, started on first use.
    pub(super) async fn mock(&mut self) -> &MockLambda {
        if self.mock.is_none() {
            self.mock = Some(MockLambda::start(self.history.clone()).await);
        }
        self.mock.as_ref().expect("just set")
    }

    /// A function the mock serves, with its behaviour and delay.
    pub(super) async fn define_mock(&mut self, name: &str, mode: Mode, delay_ms: u64) {
        let mock = self.mock().await;
        mock.define(name, mode);
        mock.set_delay_ms(name, delay_ms);
    }

    /// A new behaviour for a function of the mock.
    pub(super) fn set_mode(&self, name: &str, mode: Mode) -> Result<()> {
        let mock = self
            .mock
            .as_ref()
            .ok_or_else(|| usage(format!("no Lambda function {name:?} was defined")))?;
        mock.set_mode(name, mode);
        Ok(())
    }

    /// Where real functions' commands run: the folder of the feature file at `path`.
    pub(super) fn set_feature_path(&mut self, path: &Path) {
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.feature_dir = absolute.parent().map(Path::to_path_buf);
    }

    fn ensure_new(&self, name: &str) -> Result<()> {
        let mock = self.mock.as_ref().is_some_and(|l| l.is_defined(name));
        if mock || self.real.contains_key(name) {
            return Err(usage(format!("the function {name:?} is already defined")));
        }
        Ok(())
    }

    /// The command as Lambda execution environments, in the feature file's folder; their logs
    /// go under `work_dir`.
    pub(super) async fn define_real(
        &mut self,
        name: &str,
        command: &str,
        reserved_concurrency: Option<u32>,
        timeout_seconds: Option<u64>,
        work_dir: &Path,
    ) -> Result<()> {
        self.ensure_new(name)?;
        let dir = match &self.feature_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| usage(format!("cannot read the current folder: {e}")))?,
        };
        let mut spec = FunctionSpec::new(name, command, &dir);
        if let Some(reserved) = reserved_concurrency {
            spec.reserved_concurrency = reserved;
        }
        if let Some(seconds) = timeout_seconds {
            spec.timeout_ms = seconds.saturating_mul(1_000);
        }
        let recorder = self.mock().await.clone();
        let log_dir = work_dir.join(format!("function-{}", sanitise(name)));
        let function = RealFunction::start(spec, recorder, self.history.clone(), &log_dir).await?;
        self.real
            .insert(name.to_string(), RealEndpoint::Running(function));
        Ok(())
    }

    /// Someone else's endpoint behind a recording proxy.
    pub(super) async fn define_served(&mut self, name: &str, url: &str) -> Result<()> {
        self.ensure_new(name)?;
        let recorder = self.mock().await.clone();
        let function = ServedFunction::start(name, url, recorder, self.history.clone()).await?;
        self.real
            .insert(name.to_string(), RealEndpoint::Served(function));
        Ok(())
    }

    /// A function whose execution environments the harness runs (only those can crash).
    pub(super) fn running(&self, name: &str) -> Result<&RealFunction> {
        match self.real.get(name) {
            Some(RealEndpoint::Running(function)) => Ok(function),
            _ => Err(usage(format!(
                "only a function defined with 'running \"…\"' can crash; {name:?} is not one"
            ))),
        }
    }

    /// Whether a call naming `function` reaches a mock or a real function.
    pub(super) async fn is_defined(&mut self, function: &str) -> bool {
        self.real.contains_key(function) || self.mock().await.is_defined(function)
    }

    /// The Invoke endpoint that serves `function`.
    pub(super) async fn endpoint(&mut self, function: &str) -> String {
        match self.real.get(function) {
            Some(RealEndpoint::Running(f)) => f.endpoint(),
            Some(RealEndpoint::Served(f)) => f.endpoint(),
            None => self.mock().await.endpoint(),
        }
    }

    /// Stops every real function; returns their environments' logs for the report.
    pub(super) async fn stop_real(&mut self) -> Vec<(String, PathBuf)> {
        let mut logs = Vec::new();
        for (name, function) in std::mem::take(&mut self.real) {
            if let RealEndpoint::Running(function) = function {
                function.stop().await;
                for path in function.log_paths() {
                    logs.push((format!("{name}: {}", file_name(&path)), path));
                }
            }
        }
        logs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, InvocationEvent};

    fn event(kind: EventKind) -> std::sync::Arc<Event> {
        std::sync::Arc::new(Event { at_ms: 0, kind })
    }

    #[test]
    fn function_events_are_counted_per_function() {
        let env = |function: &str, change| {
            event(EventKind::Environment {
                function: function.into(),
                environment: 1,
                change,
            })
        };
        let events = vec![
            env("f", EnvironmentChange::Ready { init_ms: 5 }),
            env("g", EnvironmentChange::Ready { init_ms: 5 }),
            env("f", EnvironmentChange::TimedOut { invocation: 1 }),
            env(
                "f",
                EnvironmentChange::Exited {
                    invocation: None,
                    status: "signal: killed".into(),
                },
            ),
            event(EventKind::Invocation(Box::new(InvocationEvent {
                function: "f".into(),
                id: 2,
                start_ms: 0,
                end_ms: 0,
                records: Vec::new(),
                outcome: InvocationOutcome::Throttled,
                item_failures: Vec::new(),
                malformed: None,
                body: None,
            }))),
        ];
        let count = |what| count_function_events(&events, "f", what);
        assert_eq!(count(FunctionEvent::ColdStart), 1);
        assert_eq!(count(FunctionEvent::Timeout), 1);
        assert_eq!(count(FunctionEvent::Crash), 1);
        assert_eq!(count(FunctionEvent::Throttle), 1);
        assert_eq!(
            FunctionEvent::from_words("crashes"),
            Some(FunctionEvent::Crash)
        );
        assert_eq!(
            FunctionEvent::from_words("cold starts"),
            Some(FunctionEvent::ColdStart)
        );
        assert_eq!(
            FunctionEvent::from_words("throttles"),
            Some(FunctionEvent::Throttle)
        );
        assert_eq!(FunctionEvent::from_words("1 throttle"), None);
    }
}
