//! Child processes that cannot outlive the run.
//!
//! Every child runs in its own process group (so a signal reaches the JVM or poller and anything
//! it forks), with `PR_SET_PDEATHSIG` = SIGKILL (so it dies if the harness is killed outright),
//! and is listed in a global registry that [`cleanup`] empties on normal exit, failure and Ctrl-C.
//! Temporary folders are listed there too, so an interrupted run removes them.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

/// Called with each line a child prints (stdout and stderr), after it is written to the log.
pub type LineHook = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct Registry {
    groups: BTreeMap<i32, String>,
    temp_dirs: BTreeSet<PathBuf>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry::default()))
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot open log file {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running child in its own process group.
pub struct ChildProc {
    name: String,
    pid: i32,
    child: Arc<Mutex<Child>>,
    log_path: PathBuf,
    /// The threads copying stdout and stderr to the log: done once both reached EOF.
    pumps: Vec<std::thread::JoinHandle<()>>,
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so every child is forked
/// from one thread that lives as long as the process.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("esm-chaos-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        Mutex::new(tx)
    })
}

/// Starts `command` in a new process group; its stdout and stderr go line by line to `log_path`
/// and, if given, to `on_line`.
pub fn spawn(
    name: &str,
    mut command: Command,
    log_path: &Path,
    on_line: Option<LineHook>,
) -> Result<ChildProc, ProcError> {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; it only sets a flag on the forked child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|source| ProcError::Log {
            path: log_path.to_path_buf(),
            source,
        })?;
    let log = Arc::new(Mutex::new(log));
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .expect("spawner lock poisoned")
        .send((command, tx))
        .expect("spawner thread is gone");
    let mut child = rx
        .recv()
        .expect("spawner thread is gone")
        .map_err(|source| ProcError::Spawn {
            program: program.clone(),
            source,
        })?;
    let pid = i32::try_from(child.id()).expect("pid fits i32");
    registry()
        .lock()
        .expect("registry lock poisoned")
        .groups
        .insert(pid, name.to_string());
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(pump(out, log.clone(), on_line.clone()));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(pump(err, log, on_line));
    }
    Ok(ChildProc {
        name: name.to_string(),
        pid,
        child: Arc::new(Mutex::new(child)),
        log_path: log_path.to_path_buf(),
        pumps,
    })
}

fn pump(
    stream: impl std::io::Read + Send + 'static,
    log: Arc<Mutex<std::fs::File>>,
    on_line: Option<LineHook>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut file) = log.lock() {
                let _ = writeln!(file, "{line}");
            }
            if let Some(hook) = &on_line {
                hook(&line);
            }
        }
    })
}

impl ChildProc {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Sends `signal` to the child's whole process group. A group that is already gone is fine.
    pub fn signal(&self, signal: Signal) {
        let _ = killpg(Pid::from_raw(self.pid), signal);
    }

    /// The exit status, if the child has exited.
    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().expect("child lock poisoned");
        child.try_wait().ok().flatten()
    }

    pub fn is_running(&self) -> bool {
        self.try_status().is_none()
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running then.
    pub async fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        crate::wait::until(&format!("{} to exit", self.name), timeout, || async {
            self.try_status().ok_or_else(|| "still running".to_string())
        })
        .await
        .ok()
    }

    /// Waits up to `timeout` for everything the child printed to reach its log (the copying
    /// threads end at EOF, just after the child exits). Returns whether it all arrived.
    pub async fn output_flushed(&self, timeout: Duration) -> bool {
        crate::wait::until(&format!("{}'s output", self.name), timeout, || async {
            if self.pumps.iter().all(|p| p.is_finished()) {
                Ok(())
            } else {
                Err("still copying".to_string())
            }
        })
        .await
        .is_ok()
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status.
    pub async fn terminate(&self, grace: Duration) -> Option<ExitStatus> {
        self.signal(Signal::SIGCONT);
        self.signal(Signal::SIGTERM);
        if let Some(status) = self.wait_timeout(grace).await {
            self.forget();
            return Some(status);
        }
        self.kill().await
    }

    /// SIGKILL to the group, then reaps the child.
    pub async fn kill(&self) -> Option<ExitStatus> {
        self.signal(Signal::SIGKILL);
        let status = self.wait_timeout(Duration::from_secs(10)).await;
        self.forget();
        status
    }

    fn forget(&self) {
        registry()
            .lock()
            .expect("registry lock poisoned")
            .groups
            .remove(&self.pid);
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if self.is_running() {
            self.signal(Signal::SIGCONT);
            self.signal(Signal::SIGKILL);
            let mut child = self.child.lock().expect("child lock poisoned");
            let _ = child.wait();
        }
        self.forget();
    }
}

/// Lists a folder to remove at [`cleanup`] unless [`keep_temp_dir`] is called for it.
pub fn register_temp_dir(path: &Path) {
    registry()
        .lock()
        .expect("registry lock poisoned")
        .temp_dirs
        .insert(path.to_path_buf());
}

/// Takes a folder off the removal list (a failed scenario's artifacts are kept).
pub fn keep_temp_dir(path: &Path) {
    registry()
        .lock()
        .expect("registry lock poisoned")
        .temp_dirs
        .remove(path);
}

/// Kills every live child group and removes every listed temporary folder. Safe to call more
/// than once, from a signal task or at exit.
pub fn cleanup() {
    let (groups, dirs) = {
        let mut registry = registry().lock().unwrap_or_else(|e| e.into_inner());
        (
            std::mem::take(&mut registry.groups),
            std::mem::take(&mut registry.temp_dirs),
        )
    };
    for pid in groups.keys() {
        let _ = killpg(Pid::from_raw(*pid), Signal::SIGCONT);
        let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// How many child groups are alive: a run that ends with any left over has leaked.
pub fn live_count() -> usize {
    registry()
        .lock()
        .expect("registry lock poisoned")
        .groups
        .len()
}

/// Installs a Ctrl-C / SIGTERM handler that cleans up and exits with 130.
pub fn install_interrupt_handler() {
    tokio::spawn(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("cannot listen for SIGTERM");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!(
            "esm-chaos: interrupted; stopping every broker and poller and removing temporary folders"
        );
        cleanup();
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_child_is_logged_killed_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("child.log");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let mut command = Command::new("sh");
        command.args(["-c", "echo hello; sleep 30"]);
        let child = spawn(
            "sleeper",
            command,
            &log,
            Some(Arc::new(move |l: &str| {
                seen.lock().unwrap().push(l.to_string())
            })),
        )
        .unwrap();
        crate::wait::until("hello", Duration::from_secs(5), || async {
            if lines.lock().unwrap().iter().any(|l| l == "hello") {
                Ok(())
            } else {
                Err(format!("{:?}", lines.lock().unwrap()))
            }
        })
        .await
        .unwrap();
        assert!(child.is_running());
        let status = child.terminate(Duration::from_secs(5)).await.unwrap();
        assert!(!status.success());
        assert!(std::fs::read_to_string(&log).unwrap().contains("hello"));
        assert!(!registry().lock().unwrap().groups.contains_key(&child.pid()));
    }
}
