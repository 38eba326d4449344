//! A real function in the loop: a Lambda Runtime API server that runs the user's command as
//! execution environments, with an Invoke API endpoint in front that records every call in the
//! mock's list and the scenario's history, exactly as the mock records its own.
//!
//! As Lambda does ("Understanding the Lambda execution environment lifecycle",
//! https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): one
//! environment per concurrent invocation, started on demand and reused while warm; past the
//! reserved concurrency an invocation is throttled (429); an invocation past the timeout fails
//! ("Task timed out after N.NN seconds") and its environment is killed and replaced; an
//! environment that dies mid-invocation fails that invocation ("Runtime exited with error").
//!
//! Not emulated: the Extensions and Telemetry APIs, response streaming, SnapStart restore,
//! the init phase's separate 10 s budget being retried inside the invoke, memory limits (the
//! memory size is only reported), freezing idle environments between invocations, idle
//! environments being reclaimed after minutes, and `ClientContext`/`CognitoIdentity` (an event
//! source mapping sends neither).
//!
//! The first environment starts when the function is defined, so a command that cannot start
//! fails that step with the command, its exit status and its last lines of output.

pub mod api;
mod decide;
mod environment;
mod http;
mod invoke;
mod served;

pub use served::ServedFunction;

use crate::history::{EnvironmentChange, EventKind, History};
use crate::lambda::MockLambda;
use crate::procs::ProcError;
use environment::{Environment, NotReady};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lambda's default reserved concurrency here (docs/STEPS.md: "default 10").
pub const RESERVED_CONCURRENCY_DEFAULT: u32 = 10;
/// Environments one function may run at once on this machine.
pub const RESERVED_CONCURRENCY_MAX: u32 = 100;
/// Lambda's default function timeout.
pub const TIMEOUT_DEFAULT_MS: u64 = 3_000;
/// Lambda's largest function timeout (15 minutes).
pub const TIMEOUT_MAX_MS: u64 = 900_000;
/// Lambda's init phase limit: an environment started for an invocation must ask for work
/// within this ("Init phase", lambda-runtime-environment.html).
pub const INIT_TIMEOUT_MS: u64 = 10_000;
/// The first environment, started when the function is defined, may take this long: its
/// command may build what it runs (a virtualenv, a binary) on a fresh clone.
pub const FIRST_INIT_TIMEOUT_MS: u64 = 300_000;
/// The memory size reported to the function.
pub const MEMORY_SIZE_MB: u32 = 128;
/// The region and account the function's ARN names.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot open a loopback port: {0}")]
    Bind(std::io::Error),
    #[error("cannot run {0:?}: {1}")]
    Spawn(String, ProcError),
    #[error(
        "function {function:?}: the command {command:?} (in {dir}) did not start: {why}\nlast lines of its output:\n{output}"
    )]
    Start {
        function: String,
        command: String,
        dir: String,
        why: String,
        output: String,
    },
}

/// A real function: what to run and how Lambda would run it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    /// Run with `sh -c` in `working_dir`.
    pub command: String,
    pub working_dir: PathBuf,
    pub reserved_concurrency: u32,
    pub timeout_ms: u64,
    pub memory_mb: u32,
}

impl FunctionSpec {
    /// A spec with Lambda's defaults.
    pub fn new(name: &str, command: &str, working_dir: &Path) -> FunctionSpec {
        FunctionSpec {
            name: name.to_string(),
            command: command.to_string(),
            working_dir: working_dir.to_path_buf(),
            reserved_concurrency: RESERVED_CONCURRENCY_DEFAULT,
            timeout_ms: TIMEOUT_DEFAULT_MS,
            memory_mb: MEMORY_SIZE_MB,
        }
    }

    /// Refuses values Lambda refuses, naming the field.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let invalid = |why: String| {
            Err(RuntimeError::Invalid(format!(
                "function {:?}: {why}",
                self.name
            )))
        };
        if self.command.trim().is_empty() {
            return invalid("the command is empty".into());
        }
        if !(1..=RESERVED_CONCURRENCY_MAX).contains(&self.reserved_concurrency) {
            return invalid(format!(
                "reserved concurrency {}; allowed 1 to {RESERVED_CONCURRENCY_MAX}",
                self.reserved_concurrency
            ));
        }
        if !(1_000..=TIMEOUT_MAX_MS).contains(&self.timeout_ms) {
            return invalid(format!(
                "timeout {} ms; allowed 1 to {} seconds",
                self.timeout_ms,
                TIMEOUT_MAX_MS / 1000
            ));
        }
        if !self.working_dir.is_dir() {
            return invalid(format!("{} is not a folder", self.working_dir.display()));
        }
        Ok(())
    }

    fn arn(&self) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", self.name)
    }
}

/// Environments of one function.
#[derive(Default)]
struct Pool {
    in_flight: u32,
    /// Every live environment.
    environments: BTreeMap<u32, Arc<Environment>>,
    /// Live environments serving no invocation, most recently freed last.
    free: Vec<u32>,
    /// Log files of every environment ever started (replaced ones too).
    logs: Vec<PathBuf>,
}

/// What the Invoke endpoint and the steps share about one function.
struct Function {
    spec: FunctionSpec,
    recorder: MockLambda,
    history: History,
    log_dir: PathBuf,
    pool: Mutex<Pool>,
    next_environment: AtomicU32,
}

impl Function {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_change(&self, at_ms: u64, environment: u32, change: EnvironmentChange) {
        self.history.record_at(
            at_ms,
            EventKind::Environment {
                function: self.spec.name.clone(),
                environment,
                change,
            },
        );
    }

    /// Starts one more environment and waits until its runtime asks for work.
    async fn start_environment(
        &self,
        init_timeout: Duration,
    ) -> Result<Arc<Environment>, RuntimeError> {
        let id = self.next_environment.fetch_add(1, Ordering::Relaxed) + 1;
        let log_path = self.log_dir.join(format!("environment-{id}.log"));
        let env = Environment::spawn(&self.spec, id, &log_path).await?;
        self.pool().logs.push(log_path);
        match env.ready(Instant::now() + init_timeout).await {
            Ok(()) => {
                self.record_change(
                    self.history.now_ms(),
                    id,
                    EnvironmentChange::Ready {
                        init_ms: env.age_ms(),
                    },
                );
                self.pool().environments.insert(id, env.clone());
                Ok(env)
            }
            Err(not_ready) => Err(self.init_failed(&env, not_ready, init_timeout).await),
        }
    }

    async fn init_failed(
        &self,
        env: &Environment,
        not_ready: NotReady,
        init_timeout: Duration,
    ) -> RuntimeError {
        let why = match not_ready {
            NotReady::InitError(body) => format!("it reported an init error: {body}"),
            NotReady::Exited(status) => format!(
                "it exited before asking for work ({})",
                decide::exit_status_text(status)
            ),
            NotReady::Silent => format!(
                "it did not ask for work within {} ms",
                init_timeout.as_millis()
            ),
        };
        let status = env
            .kill()
            .await
            .map(decide::exit_status_text)
            .unwrap_or_default();
        self.record_change(
            self.history.now_ms(),
            env.id,
            EnvironmentChange::InitFailed { why: why.clone() },
        );
        RuntimeError::Start {
            function: self.spec.name.clone(),
            command: self.spec.command.clone(),
            dir: self.spec.working_dir.display().to_string(),
            why: format!("{why}; exit status: {status}"),
            output: env.output_tail().await,
        }
    }

    /// Takes an environment out of the pool after it timed out, exited or crashed.
    fn forget(&self, id: u32) -> Option<Arc<Environment>> {
        let mut pool = self.pool();
        pool.free.retain(|&f| f != id);
        pool.environments.remove(&id)
    }
}

/// A running real function; dropping it kills its environments.
pub struct RealFunction {
    function: Arc<Function>,
    endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RealFunction {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RealFunction {
    /// Opens the function's Invoke endpoint and starts its first environment, failing with the
    /// command, its exit status and its last output if that environment cannot start. Each
    /// environment logs to its own file in `log_dir` (created if missing).
    pub async fn start(
        spec: FunctionSpec,
        recorder: MockLambda,
        history: History,
        log_dir: &Path,
    ) -> Result<RealFunction, RuntimeError> {
        spec.validate()?;
        std::fs::create_dir_all(log_dir).map_err(|e| {
            RuntimeError::Invalid(format!("cannot create {}: {e}", log_dir.display()))
        })?;
        let function = Arc::new(Function {
            spec,
            recorder,
            history,
            log_dir: log_dir.to_path_buf(),
            pool: Mutex::new(Pool::default()),
            next_environment: AtomicU32::new(0),
        });
        let first = function
            .start_environment(Duration::from_millis(FIRST_INIT_TIMEOUT_MS))
            .await?;
        function.pool().free.push(first.id);
        let listener = http::bind_loopback().await.map_err(RuntimeError::Bind)?;
        let endpoint = format!(
            "http://{}",
            listener.local_addr().map_err(RuntimeError::Bind)?
        );
        let server = {
            let function = function.clone();
            http::serve(listener, move |request| {
                let function = function.clone();
                async move { invoke::invoke(&function, request).await }
            })
        };
        Ok(RealFunction {
            function,
            endpoint,
            server,
        })
    }

    /// The base URL a consumer invokes, e.g. `http://127.0.0.1:4372`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub fn name(&self) -> &str {
        &self.function.spec.name
    }

    /// Invocations in progress now.
    pub fn in_flight(&self) -> u32 {
        self.function.pool().in_flight
    }

    /// Live environments now.
    pub fn environment_count(&self) -> usize {
        self.function.pool().environments.len()
    }

    /// "the function crashes": SIGKILL to every environment at once. Idle ones are forgotten
    /// here; the invocations in progress see their environment exit and fail. Returns how many
    /// were killed.
    pub async fn crash(&self) -> usize {
        let (all, idle): (Vec<Arc<Environment>>, Vec<u32>) = {
            let pool = self.function.pool();
            (
                pool.environments.values().cloned().collect(),
                pool.free.clone(),
            )
        };
        for env in &all {
            env.signal_kill();
        }
        for id in idle {
            if let Some(env) = self.function.forget(id) {
                let status = env
                    .kill()
                    .await
                    .map(decide::exit_status_text)
                    .unwrap_or_default();
                self.function.record_change(
                    self.function.history.now_ms(),
                    id,
                    EnvironmentChange::Exited {
                        invocation: None,
                        status,
                    },
                );
            }
        }
        all.len()
    }

    /// Kills every environment and waits for each to be reaped.
    pub async fn stop(&self) {
        self.server.abort();
        let all: Vec<Arc<Environment>> = {
            let mut pool = self.function.pool();
            pool.free.clear();
            std::mem::take(&mut pool.environments)
                .into_values()
                .collect()
        };
        for env in all {
            env.kill().await;
        }
    }

    /// Every environment's log file, replaced ones too.
    pub fn log_paths(&self) -> Vec<PathBuf> {
        self.function.pool().logs.clone()
    }
}

#[cfg(test)]
mod tests;
