//! Child processes that cannot outlive the run.
//!
//! Every child runs in its own process group (so a signal reaches the JVM or poller and anything
//! it forks), with `PR_SET_PDEATHSIG` = SIGKILL (so it dies if the harness is killed outright),
//! and is listed in a global registry that [`cleanup`] empties on normal exit, failure and Ctrl-C.
//! Temporary folders are listed there too, so an interrupted run removes them; a watchdog process
//! removes them even when the harness itself is killed outright (SIGKILL, the OOM killer).

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
    let mut registry = registry().lock().expect("registry lock poisoned");
    registry.temp_dirs.insert(path.to_path_buf());
    watchdog::publish(&registry.temp_dirs);
}

/// Takes a folder off the removal list (a failed scenario's artifacts are kept).
pub fn keep_temp_dir(path: &Path) {
    let mut registry = registry().lock().expect("registry lock poisoned");
    registry.temp_dirs.remove(path);
    watchdog::publish(&registry.temp_dirs);
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
    watchdog::publish(&BTreeSet::new());
}

/// The run's temporary folders outlive a harness killed with SIGKILL unless someone else removes
/// them: children die with it (`PR_SET_PDEATHSIG`), but folders have no such signal. The watchdog
/// is a `sh` in its own process group, deliberately outside the death-signal scheme, that blocks
/// reading a pipe whose only writer is this process (the write end is close-on-exec, so no other
/// child holds it). End of file means the harness is gone, however it died: the watchdog then
/// removes every folder the manifest still lists (only `esm-chaos-*` folders of the temp dir) and
/// the manifest itself. The harness rewrites the manifest whenever the list changes.
mod watchdog {
    use std::collections::BTreeSet;
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;

    /// Runs after the pipe reaches EOF. `$0` is the temp dir, `$1` the manifest.
    const SCRIPT: &str = r#"cat >/dev/null
while IFS= read -r dir; do
  case "$dir" in "$0"/esm-chaos-*) rm -rf -- "$dir" ;; esac
done < "$1"
rm -f -- "$1""#;

    struct Watchdog {
        manifest: PathBuf,
        /// Held open for the life of the process; never written.
        _writer: std::io::PipeWriter,
    }

    fn instance() -> Option<&'static Watchdog> {
        static WATCHDOG: OnceLock<Option<Watchdog>> = OnceLock::new();
        WATCHDOG
            .get_or_init(|| match start() {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the temp-folder watchdog; a killed run may leave folders behind");
                    None
                }
            })
            .as_ref()
    }

    fn start() -> std::io::Result<Watchdog> {
        let temp = std::env::temp_dir();
        // Hidden, so a look for leftover `esm-chaos-*` folders does not see the live manifest.
        let manifest = temp.join(format!(".esm-chaos-watch-{}", std::process::id()));
        std::fs::write(&manifest, "")?;
        let (reader, writer) = std::io::pipe()?;
        Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&temp)
            .arg(&manifest)
            .stdin(Stdio::from(reader))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Watchdog {
            manifest,
            _writer: writer,
        })
    }

    /// Replaces the manifest with `dirs` (written aside, then renamed: never seen half-written).
    pub(super) fn publish(dirs: &BTreeSet<PathBuf>) {
        let Some(watchdog) = instance() else { return };
        let text: String = dirs
            .iter()
            .filter_map(|d| d.to_str())
            .map(|d| format!("{d}\n"))
            .collect();
        if let Err(e) = write_atomic(&watchdog.manifest, text.as_bytes()) {
            tracing::warn!(error = %e, "cannot update the temp-folder watchdog's manifest");
        }
    }

    fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let aside = path.with_extension("new");
        let mut file = std::fs::File::create(&aside)?;
        file.write_all(bytes)?;
        std::fs::rename(aside, path)
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`; `None` once it
/// is gone. `pid` 0 means this process. Benchmarks put it beside wall time: on a machine with
/// few cores, the CPU each side spends per record is what bounds their ratio.
pub fn cpu_time_ms(pid: i32) -> Option<u64> {
    let path = if pid == 0 {
        "/proc/self/stat".to_string()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) close with ')': utime and stime are
    // the 12th and 13th of them, in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a constant of the running system; it has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&t| t > 0)?;
    Some(ticks * 1000 / per_second)
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

    #[test]
    fn cpu_time_grows_with_work_and_is_none_for_no_process() {
        let before = cpu_time_ms(0).expect("this process has a stat file");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        let mut now = before;
        // Spins until 100 ms of CPU show; a reader that never moves fails at the deadline.
        while now < before + 100 && std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            now = cpu_time_ms(0).expect("still here");
        }
        assert!(
            now >= before + 100,
            "cpu {before} ms -> {now} ms after 20 s of spinning"
        );
        assert_eq!(cpu_time_ms(i32::MAX), None);
    }

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

    /// Run by [`a_killed_harness_leaves_no_temp_folder`] as a child process: registers a folder,
    /// says where, and waits to be killed. Does nothing when run on its own.
    #[test]
    #[ignore = "a child of a_killed_harness_leaves_no_temp_folder"]
    fn watchdog_probe() {
        if std::env::var_os("ESM_CHAOS_WATCHDOG_PROBE").is_none() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("esm-chaos-probe-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        register_temp_dir(&dir);
        println!("probe-dir: {}", dir.display());
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_killed_harness_leaves_no_temp_folder() {
        let exe = std::env::current_exe().unwrap();
        let mut probe = Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "procs::tests::watchdog_probe",
                "--nocapture",
            ])
            .env("ESM_CHAOS_WATCHDOG_PROBE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(probe.stdout.take().unwrap());
        let dir = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("probe-dir: ").map(PathBuf::from))
            .expect("the probe names its folder");
        assert!(
            dir.is_dir(),
            "{} exists while the probe runs",
            dir.display()
        );
        probe.kill().unwrap(); // SIGKILL: no handler, no cleanup of its own
        probe.wait().unwrap();
        crate::wait::until(
            "the watchdog to remove the folder",
            Duration::from_secs(10),
            || async {
                if dir.exists() {
                    Err(format!("{} still exists", dir.display()))
                } else {
                    Ok(())
                }
            },
        )
        .await
        .unwrap();
    }
}
