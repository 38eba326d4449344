//! The consumer under test, run as poller processes: one OS process per poller, all in one
//! consumer group. The harness only starts, signals and watches them; what they did is judged
//! from the broker and the function, never from what they say about themselves.

use crate::history::{EventKind, History, LifecycleAction};
use crate::procs::{self, ChildProc, LineHook};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most pollers one mapping may run (ProvisionedPollerConfig.MaximumPollers' ceiling is 2,000,
/// but a 2-core machine gains nothing past a few dozen processes).
pub const POLLERS_MAX: u32 = 64;

/// How long a poller may take to leave the group after SIGTERM before it is killed.
pub const STOP_GRACE_MS: u64 = 20_000;

/// The command that runs one poller. It gets the mapping as an environment:
/// `ESM_CHAOS_CONFIG` (path of the mapping JSON, AWS's CreateEventSourceMapping shape),
/// `AWS_ENDPOINT_URL_LAMBDA` (the Invoke API endpoint), `ESM_BOOTSTRAP_SERVERS`,
/// `ESM_MAPPING_UUID`, `ESM_POLLER_ID` and `ESM_LOG_FORMAT=json` (the harness reads JSON log
/// lines). Any consumer that honours these can be judged.
#[derive(Debug, Clone)]
pub struct ConsumerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ConsumerCommand {
    /// A user's own consumer from `ESM_CHAOS_CONSUMER` (a command line split on whitespace).
    pub fn from_env() -> Option<ConsumerCommand> {
        let line = std::env::var("ESM_CHAOS_CONSUMER").ok()?;
        let mut words = line.split_whitespace().map(str::to_string);
        let program = PathBuf::from(words.next()?);
        Some(ConsumerCommand {
            program,
            args: words.collect(),
        })
    }
}

/// What a running mapping needs to know; names are the broker's.
#[derive(Debug, Clone)]
pub struct MappingLaunch {
    /// Scenario-local name, for logs and history.
    pub name: String,
    pub config_path: PathBuf,
    pub endpoint: String,
    pub bootstrap_servers: String,
    pub uuid: String,
    pub function_timeout_ms: u64,
    pub log_dir: PathBuf,
}

/// The latest offset lag a poller reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LagReport {
    pub total: i64,
    pub partitions: String,
}

struct Poller {
    id: u32,
    child: ChildProc,
}

pub struct Mapping {
    launch: MappingLaunch,
    command: ConsumerCommand,
    history: History,
    pollers: Mutex<Vec<Arc<Poller>>>,
    next_poller_id: Mutex<u32>,
    lags: Arc<Mutex<std::collections::BTreeMap<u32, LagReport>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping {mapping}: {source}")]
    Spawn {
        mapping: String,
        source: procs::ProcError,
    },
    #[error(
        "mapping {mapping}: poller {poller} exited at start with {status}; its log ({log}) ends with:\n{tail}"
    )]
    ExitedAtStart {
        mapping: String,
        poller: u32,
        status: String,
        log: String,
        tail: String,
    },
    #[error("mapping {mapping}: {count} pollers asked for; allowed 1 to {POLLERS_MAX}")]
    PollerCount { mapping: String, count: u32 },
}

impl Mapping {
    pub fn new(launch: MappingLaunch, command: ConsumerCommand, history: History) -> Mapping {
        Mapping {
            launch,
            command,
            history,
            pollers: Mutex::new(Vec::new()),
            next_poller_id: Mutex::new(1),
            lags: Arc::new(Mutex::new(Default::default())),
        }
    }

    pub fn name(&self) -> &str {
        &self.launch.name
    }

    pub fn poller_count(&self) -> usize {
        self.live_pollers().len()
    }

    fn live_pollers(&self) -> Vec<Arc<Poller>> {
        let mut pollers = self.pollers.lock().expect("pollers lock poisoned");
        pollers.retain(|p| p.child.is_running());
        pollers.clone()
    }

    /// Starts pollers until `count` run; returns once each is alive (or fails with its log).
    pub async fn scale_to(&self, count: u32, action: LifecycleAction) -> Result<(), MappingError> {
        // Stamped before any poller spawns: a checker bounds the pollers' start-position
        // decisions from below by this moment.
        let began_ms = self.history.now_ms();
        if count == 0 || count > POLLERS_MAX {
            return Err(MappingError::PollerCount {
                mapping: self.launch.name.clone(),
                count,
            });
        }
        let live = self.live_pollers();
        let live_count = u32::try_from(live.len()).unwrap_or(u32::MAX);
        if live_count > count {
            // Newest first: the oldest pollers keep their partitions longest.
            let surplus = live.iter().rev().take((live_count - count) as usize);
            for poller in surplus {
                poller
                    .child
                    .terminate(Duration::from_millis(STOP_GRACE_MS))
                    .await;
            }
        }
        let mut started = Vec::new();
        for _ in live_count..count {
            started.push(self.spawn_one()?);
        }
        for poller in &started {
            self.check_alive(poller).await?;
        }
        self.record_at(began_ms, action, count);
        Ok(())
    }

    fn spawn_one(&self) -> Result<Arc<Poller>, MappingError> {
        let id = {
            let mut next = self.next_poller_id.lock().expect("id lock poisoned");
            let id = *next;
            *next += 1;
            id
        };
        let mut command = Command::new(&self.command.program);
        command
            .args(&self.command.args)
            .env("ESM_CHAOS_CONFIG", &self.launch.config_path)
            .env("AWS_ENDPOINT_URL_LAMBDA", &self.launch.endpoint)
            .env("ESM_BOOTSTRAP_SERVERS", &self.launch.bootstrap_servers)
            .env("ESM_MAPPING_UUID", &self.launch.uuid)
            .env("ESM_POLLER_ID", id.to_string())
            .env("ESM_LOG_FORMAT", "json")
            .env(
                "ESM_FUNCTION_TIMEOUT_MS",
                self.launch.function_timeout_ms.to_string(),
            );
        let log = self.log_path(id);
        let child = procs::spawn(
            &format!("poller {id} of {}", self.launch.name),
            command,
            &log,
            Some(self.line_hook(id)),
        )
        .map_err(|source| MappingError::Spawn {
            mapping: self.launch.name.clone(),
            source,
        })?;
        let poller = Arc::new(Poller { id, child });
        self.pollers
            .lock()
            .expect("pollers lock poisoned")
            .push(poller.clone());
        Ok(poller)
    }

    /// A poller that dies within its first moments has refused its config or cannot connect:
    /// that is an error of the start step, with its log.
    async fn check_alive(&self, poller: &Poller) -> Result<(), MappingError> {
        if let Some(status) = poller.child.wait_timeout(Duration::from_millis(300)).await {
            poller.child.output_flushed(Duration::from_secs(5)).await;
            if status.success() {
                // A mapping with Enabled=false polls nothing and exits cleanly: not a failure.
                tracing::info!(mapping = %self.launch.name, poller = poller.id, "poller exited at once with success (Enabled=false?)");
                return Ok(());
            }
            return Err(MappingError::ExitedAtStart {
                mapping: self.launch.name.clone(),
                poller: poller.id,
                status: status.to_string(),
                log: poller.child.log_path().display().to_string(),
                tail: log_tail(poller.child.log_path(), 20),
            });
        }
        Ok(())
    }

    fn log_path(&self, poller_id: u32) -> PathBuf {
        self.launch.log_dir.join(format!(
            "poller-{}-{poller_id}.log",
            sanitise(&self.launch.name)
        ))
    }

    fn line_hook(&self, poller_id: u32) -> LineHook {
        let history = self.history.clone();
        let mapping = self.launch.name.clone();
        let lags = self.lags.clone();
        Arc::new(move |line: &str| {
            let Some(json) = parse_event_line(line) else {
                return;
            };
            let event = event_field(&json, "event").unwrap_or_default();
            match event.as_str() {
                "offset_lag" => {
                    let report = LagReport {
                        total: event_field(&json, "total")
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(-1),
                        partitions: event_field(&json, "partitions").unwrap_or_default(),
                    };
                    lags.lock()
                        .expect("lags lock poisoned")
                        .insert(poller_id, report);
                }
                "start_position" | "rebalance" | "destination" => {
                    history.record(EventKind::ConsumerLog {
                        mapping: mapping.clone(),
                        line: json,
                    });
                }
                _ => {}
            }
        })
    }

    /// Total offset lag over the live pollers' latest reports; `None` before any report.
    pub fn offset_lag(&self) -> Option<i64> {
        let live: Vec<u32> = self.live_pollers().iter().map(|p| p.id).collect();
        let lags = self.lags.lock().expect("lags lock poisoned");
        let reports: Vec<&LagReport> = live.iter().filter_map(|id| lags.get(id)).collect();
        if reports.is_empty() {
            return None;
        }
        Some(reports.iter().map(|r| r.total.max(0)).sum())
    }

    /// Enabled=false: every poller leaves the group cleanly (SIGTERM).
    pub async fn stop(&self, action: LifecycleAction) {
        let pollers = self.live_pollers();
        futures::future::join_all(
            pollers
                .iter()
                .map(|p| p.child.terminate(Duration::from_millis(STOP_GRACE_MS))),
        )
        .await;
        self.lags.lock().expect("lags lock poisoned").clear();
        self.record(action, 0);
    }

    /// SIGKILL of every poller: no goodbye to the group.
    pub async fn kill_all(&self) {
        let pollers = self.live_pollers();
        futures::future::join_all(pollers.iter().map(|p| p.child.kill())).await;
        self.lags.lock().expect("lags lock poisoned").clear();
        self.record(LifecycleAction::Killed, 0);
    }

    /// SIGKILL of the newest poller. Returns its id.
    pub async fn kill_one(&self) -> Option<u32> {
        let poller = self.live_pollers().pop()?;
        poller.child.kill().await;
        self.lags
            .lock()
            .expect("lags lock poisoned")
            .remove(&poller.id);
        let left = u32::try_from(self.poller_count()).unwrap_or(u32::MAX);
        tracing::info!(mapping = %self.launch.name, poller = poller.id, "poller killed");
        self.record(LifecycleAction::PollerKilled, left);
        Some(poller.id)
    }

    /// SIGSTOP (`frozen = true`) or SIGCONT to every poller.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for poller in self.live_pollers() {
            poller.child.signal(signal);
        }
    }

    /// Runs one poller expecting it to refuse to start: its exit status and log, or an error if
    /// it is still running after `timeout`.
    pub async fn start_expecting_refusal(
        &self,
        timeout: Duration,
    ) -> Result<(String, String), String> {
        let poller = self.spawn_one().map_err(|e| e.to_string())?;
        let exited = poller.child.wait_timeout(timeout).await;
        if exited.is_some() {
            poller.child.output_flushed(Duration::from_secs(5)).await;
        }
        match exited {
            Some(status) if !status.success() => Ok((
                status.to_string(),
                std::fs::read_to_string(poller.child.log_path()).unwrap_or_default(),
            )),
            Some(status) => Err(format!(
                "the poller exited with {status}, which is success; its log:\n{}",
                log_tail(poller.child.log_path(), 20)
            )),
            None => {
                poller.child.kill().await;
                Err(format!(
                    "the poller was still running after {} ms; its log:\n{}",
                    timeout.as_millis(),
                    log_tail(poller.child.log_path(), 20)
                ))
            }
        }
    }

    pub fn log_paths(&self) -> Vec<PathBuf> {
        let next = *self.next_poller_id.lock().expect("id lock poisoned");
        (1..next)
            .map(|id| self.log_path(id))
            .filter(|p| p.exists())
            .collect()
    }

    fn record(&self, action: LifecycleAction, pollers: u32) {
        self.record_at(self.history.now_ms(), action, pollers);
    }

    fn record_at(&self, at_ms: u64, action: LifecycleAction, pollers: u32) {
        self.history.record_at(
            at_ms,
            EventKind::Lifecycle {
                mapping: self.launch.name.clone(),
                action,
                pollers,
            },
        );
    }
}

/// A consumer log line as JSON, if it is one.
pub fn parse_event_line(line: &str) -> Option<serde_json::Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

/// A field of a structured log line, at top level or under tracing's `fields`, as text.
pub fn event_field(json: &serde_json::Value, name: &str) -> Option<String> {
    let value = json
        .get(name)
        .or_else(|| json.get("fields").and_then(|f| f.get(name)))?;
    Some(match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_at_top_level_or_under_fields() {
        let json = parse_event_line(
            r#"{"level":"INFO","fields":{"event":"offset_lag","total":3,"partitions":"{\"t-0\":3}"}}"#,
        )
        .unwrap();
        assert_eq!(event_field(&json, "event").as_deref(), Some("offset_lag"));
        assert_eq!(event_field(&json, "total").as_deref(), Some("3"));
        assert_eq!(
            event_field(&json, "partitions").as_deref(),
            Some(r#"{"t-0":3}"#)
        );
        let flat = parse_event_line(r#"{"event":"rebalance"}"#).unwrap();
        assert_eq!(event_field(&flat, "event").as_deref(), Some("rebalance"));
        assert!(parse_event_line("plain text").is_none());
    }
}
