//! Real functions: the user's command run as Lambda execution environments, or someone else's
//! endpoint behind a recording proxy (the `runtime` module), beside the mock.

use super::*;
use crate::history::{EnvironmentChange, FaultKind, FaultTarget, InvocationOutcome};
use crate::runtime::{FunctionSpec, RealFunction, ServedFunction};

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
            EventKind::Invocation {
                function: f,
                outcome,
                ..
            } if f == function => {
                self == FunctionEvent::Throttle && *outcome == InvocationOutcome::Throttled
            }
            _ => false,
        }
    }
}

/// How many `what` a function had in a history.
pub fn count_function_events(
    events: &[crate::history::Event],
    function: &str,
    what: FunctionEvent,
) -> usize {
    events
        .iter()
        .filter(|e| what.counts(function, &e.kind))
        .count()
}

/// A function that is not the mock.
pub(super) enum RealEndpoint {
    Running(RealFunction),
    Served(ServedFunction),
}

impl Scenario {
    /// Where real functions' commands run: the folder of the feature file at `path`.
    pub fn set_feature_path(&mut self, path: &std::path::Path) {
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.feature_dir = absolute.parent().map(std::path::Path::to_path_buf);
    }

    fn ensure_new_function(&self, name: &str) -> Result<()> {
        let mock = self.lambda.as_ref().is_some_and(|l| l.is_defined(name));
        if mock || self.real_functions.contains_key(name) {
            return Err(usage(format!("the function {name:?} is already defined")));
        }
        Ok(())
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
        self.ensure_new_function(name)?;
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
        let recorder = self.lambda().await.clone();
        let log_dir = self.work_dir.join(format!("function-{}", sanitise(name)));
        let function = RealFunction::start(spec, recorder, self.history.clone(), &log_dir).await?;
        self.real_functions
            .insert(name.to_string(), RealEndpoint::Running(function));
        Ok(())
    }

    /// "a Lambda function F served at URL": someone else's endpoint behind a recording proxy.
    pub async fn define_served_function(&mut self, name: &str, url: &str) -> Result<()> {
        self.ensure_new_function(name)?;
        let recorder = self.lambda().await.clone();
        let function = ServedFunction::start(name, url, recorder, self.history.clone()).await?;
        self.real_functions
            .insert(name.to_string(), RealEndpoint::Served(function));
        Ok(())
    }

    /// "the function F crashes": every execution environment of F is killed at once.
    pub async fn crash_function(&mut self, name: &str) -> Result<()> {
        let Some(RealEndpoint::Running(function)) = self.real_functions.get(name) else {
            return Err(usage(format!(
                "only a function defined with 'running \"…\"' can crash; {name:?} is not one"
            )));
        };
        let window = self
            .nemesis
            .open(FaultKind::FunctionCrash, FaultTarget::Function(name.into()));
        let killed = function.crash().await;
        window.close();
        tracing::info!(
            function = name,
            killed,
            "crashed every execution environment"
        );
        Ok(())
    }

    /// Whether a call naming `function` reaches a mock or a real function.
    pub(super) async fn function_defined(&mut self, function: &str) -> bool {
        self.real_functions.contains_key(function) || self.lambda().await.is_defined(function)
    }

    /// The Invoke endpoint that serves `function`.
    pub(super) async fn function_endpoint(&mut self, function: &str) -> String {
        match self.real_functions.get(function) {
            Some(RealEndpoint::Running(f)) => f.endpoint(),
            Some(RealEndpoint::Served(f)) => f.endpoint(),
            None => self.lambda().await.endpoint(),
        }
    }

    /// Stops every real function; returns their environments' logs for the report.
    pub(super) async fn stop_real_functions(&mut self) -> Vec<(String, std::path::PathBuf)> {
        let mut logs = Vec::new();
        for (name, function) in std::mem::take(&mut self.real_functions) {
            if let RealEndpoint::Running(function) = function {
                function.stop().await;
                for path in function.log_paths() {
                    logs.push((format!("{name}: {}", file_name(&path)), path));
                }
            }
        }
        logs
    }

    /// "the function F had [at least] N cold starts | timeouts | crashes | throttles".
    pub fn assert_function_events(
        &self,
        function: &str,
        what: FunctionEvent,
        count: usize,
        at_least: bool,
    ) -> Result<()> {
        let seen = count_function_events(&self.history.snapshot(), function, what);
        let holds = if at_least {
            seen >= count
        } else {
            seen == count
        };
        if holds {
            return self.assert_no_malformed();
        }
        let expected = if at_least { "at least " } else { "" };
        Err(failed(format!(
            "{function:?} had {seen} {what:?} event(s), expected {expected}{count}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;

    fn event(kind: EventKind) -> Event {
        Event { at_ms: 0, kind }
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
            event(EventKind::Invocation {
                function: "f".into(),
                id: 2,
                start_ms: 0,
                end_ms: 0,
                records: Vec::new(),
                outcome: InvocationOutcome::Throttled,
                item_failures: Vec::new(),
                malformed: None,
                body: None,
            }),
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
