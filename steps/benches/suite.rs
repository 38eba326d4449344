//! Benchmark: how close the whole suite's wall time comes to its longest scenario.
//!
//! Runs `esm-chaos run features/` once and reads the per-scenario durations the runner writes
//! (`durations.json` in its report folder), then runs it again as shards one after another
//! (`--partition 1/2`, then `--partition 2/2`; `ESM_BENCH_SHARDS` changes the count), ordered
//! by the first run's durations. Prints the wall time, the sum of scenario times, the longest
//! scenario, wall / longest (target <= 1.2) and the shards' wall. `ESM_BENCH_FEATURES=PATH` narrows the run to a file or folder;
//! `ESM_BENCH_TAGS="not @slow"` to a tag expression. `ESM_BENCH_RUNS=N` runs the whole suite N
//! times in a row in one report folder (each run after the first ordered by the previous run's
//! durations, as in CI with a kept durations file) and prints every run's wall / longest.
//! A failed scenario is reported with the figures, not hidden; the process fails only when a
//! run cannot start at all.

use anyhow::{Context, Result, bail};
use harness::procs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

const FEATURES_DEFAULT: &str = "features";
/// Wall time over the longest scenario: what parallel scheduling should reach.
const TARGET_WALL_OVER_LONGEST: f64 = 1.2;
/// One run of the suite may take this long before it is stopped and reported.
const RUN_TIMEOUT_MS: u64 = 3_600_000;
/// The runner's file of scenario durations (see the runner's `DURATIONS_FILE`).
const DURATIONS_FILE: &str = esm_chaos::runner::DURATIONS_FILE;
/// Exit codes of `esm-chaos run` that still produce durations.
const EXIT_PASSED: i32 = esm_chaos::runner::exit::PASSED as i32;
const EXIT_SCENARIO_FAILED: i32 = esm_chaos::runner::exit::SCENARIO_FAILED as i32;
/// A shard may hold no scenario when there are fewer scenarios than shards.
const EXIT_NOTHING_MATCHED: i32 = esm_chaos::runner::exit::NOTHING_MATCHED as i32;
const SHARDS_DEFAULT: u64 = 2;
const RUNS_DEFAULT: u64 = 1;
const RUNS_MAX: u64 = 20;
const SHARDS_MAX: u64 = 16;
const LOG_TAIL_LINES: usize = 30;

mod common;

fn main() -> Result<()> {
    common::run_bench(run)
}

/// One `esm-chaos run`: its wall time, its scenarios' durations and how it ended.
struct SuiteRun {
    wall: Duration,
    selected: usize,
    /// The report folder's durations file after the run (for a fresh folder: this run's).
    durations_ms: BTreeMap<String, u64>,
    /// The runner's result lines of failed scenarios.
    failures: Vec<String>,
}

async fn run() -> Result<()> {
    let features = std::env::var("ESM_BENCH_FEATURES").unwrap_or_else(|_| FEATURES_DEFAULT.into());
    let tags = std::env::var("ESM_BENCH_TAGS").ok();
    let shards_wanted = common::number_from_env("ESM_BENCH_SHARDS", SHARDS_DEFAULT, SHARDS_MAX)?;
    let workspace = workspace_root();
    let full_dir = tempfile::Builder::new()
        .prefix("esm-bench-suite-")
        .tempdir()
        .context("cannot create a report folder")?;
    let runs_wanted = common::number_from_env("ESM_BENCH_RUNS", RUNS_DEFAULT, RUNS_MAX)?;
    let mut runs = Vec::new();
    for index in 1..=runs_wanted {
        let run = run_suite(
            &workspace,
            &features,
            tags.as_deref(),
            None,
            full_dir.path(),
        )
        .await?;
        if run.durations_ms.is_empty() {
            bail!("the full run wrote no scenario durations to its {DURATIONS_FILE}");
        }
        println!(
            "full run {index}/{runs_wanted}: {} scenarios in {} ms, wall / longest {:.2}, {} failed",
            run.selected,
            run.wall.as_millis(),
            run.wall_over_longest(),
            run.failures.len()
        );
        if !run.failures.is_empty() {
            // The next run starts its log afresh: keep this one's, with the failures' messages.
            let kept = full_dir.path().join(format!("run-all-{index}.log"));
            std::fs::copy(full_dir.path().join("run-all.log"), &kept).with_context(|| {
                format!("cannot keep the failed run's log as {}", kept.display())
            })?;
        }
        runs.push(run);
    }
    if runs.is_empty() {
        bail!("ESM_BENCH_RUNS must be at least 1");
    }
    // The shards share one report folder (their durations are not read back) seeded with the full run's durations, so each shard
    // starts its longest scenarios first, as a CI job with a kept durations file would.
    let shard_dir = tempfile::Builder::new()
        .prefix("esm-bench-shards-")
        .tempdir()
        .context("cannot create a report folder")?;
    std::fs::copy(
        full_dir.path().join(DURATIONS_FILE),
        shard_dir.path().join(DURATIONS_FILE),
    )
    .context("the full run wrote no durations file")?;
    let mut shards = Vec::new();
    for index in 1..=shards_wanted {
        let partition = format!("{index}/{shards_wanted}");
        let shard = run_suite(
            &workspace,
            &features,
            tags.as_deref(),
            Some(&partition),
            shard_dir.path(),
        )
        .await?;
        println!(
            "shard {partition}: {} scenarios in {} ms",
            shard.selected,
            shard.wall.as_millis()
        );
        shards.push(shard);
    }
    print_summary(&features, tags.as_deref(), &runs, &shards);
    if runs.iter().chain(&shards).any(|r| !r.failures.is_empty()) {
        // A failure is evidence: its report folder (history, timeline, logs) outlives the run.
        println!(
            "  reports of failed scenarios kept in {} and {}",
            full_dir.keep().display(),
            shard_dir.keep().display()
        );
    }
    if procs::live_count() != 0 {
        bail!(
            "{} child process group(s) still alive after the benchmark",
            procs::live_count()
        );
    }
    Ok(())
}

/// The workspace folder: feature paths and the default report folder are relative to it.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs the suite (or one shard) with its report folder at `report_dir`, timing it.
async fn run_suite(
    workspace: &Path,
    features: &str,
    tags: Option<&str>,
    partition: Option<&str>,
    report_dir: &Path,
) -> Result<SuiteRun> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esm-chaos"));
    cmd.current_dir(workspace)
        .arg("run")
        .arg(features)
        .arg("--report")
        .arg(report_dir);
    if let Some(tags) = tags {
        cmd.arg("--tags").arg(tags);
    }
    if let Some(partition) = partition {
        cmd.arg("--partition").arg(partition);
    }
    let log = report_dir.join(format!(
        "run-{}.log",
        partition.unwrap_or("all").replace('/', "-of-")
    ));
    // The log is appended to: a repeated run must not count the failures of the one before.
    match std::fs::remove_file(&log) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            bail!(
                "cannot remove the previous run's log {}: {e}",
                log.display()
            )
        }
        _ => {}
    }
    let started = Instant::now();
    let child = procs::spawn("esm-chaos run", cmd, &log, None)?;
    let status = child
        .wait_timeout(Duration::from_millis(RUN_TIMEOUT_MS))
        .await;
    let wall = started.elapsed();
    drop(child);
    let selected = match outcome(status, &log)? {
        Outcome::Ran => selected_in_log(&log)?,
        Outcome::NothingSelected => 0,
    };
    Ok(SuiteRun {
        wall,
        selected,
        durations_ms: read_durations(report_dir),
        failures: failures_in_log(&log),
    })
}

impl SuiteRun {
    /// The longest scenario of this run: (title, ms).
    fn longest(&self) -> (&str, u64) {
        self.durations_ms
            .iter()
            .max_by_key(|(_, ms)| **ms)
            .map_or(("none", 0), |(k, v)| (k.as_str(), *v))
    }

    fn wall_over_longest(&self) -> f64 {
        self.wall.as_millis() as f64 / (self.longest().1.max(1) as f64)
    }
}

enum Outcome {
    /// Every scenario passed, or some failed (the failures are in the log).
    Ran,
    NothingSelected,
}

/// How the run ended; an error when it could not start, was interrupted or overran.
fn outcome(status: Option<ExitStatus>, log: &Path) -> Result<Outcome> {
    match status.and_then(|s| s.code()) {
        Some(EXIT_PASSED | EXIT_SCENARIO_FAILED) => Ok(Outcome::Ran),
        Some(EXIT_NOTHING_MATCHED) => Ok(Outcome::NothingSelected),
        other => bail!(
            "esm-chaos run ended with {other:?} (None: killed or over {RUN_TIMEOUT_MS} ms); last log lines:\n{}",
            log_tail(log)
        ),
    }
}

/// The count from the runner's first line, "esm-chaos: N scenarios, seed S ...".
fn selected_in_log(log: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("esm-chaos: "))
        .and_then(|rest| rest.split_once(" scenarios"))
        .and_then(|(n, _)| n.trim().parse().ok())
        .with_context(|| {
            format!(
                "no \"esm-chaos: N scenarios\" line in the run's output; last log lines:\n{}",
                log_tail(log)
            )
        })
}

/// The runner's result lines of failed scenarios: "[n/N] FAILED  12.3 s  file:line  title".
fn failures_in_log(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("] FAILED "))
        .map(str::to_string)
        .collect()
}

fn read_durations(report_dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(report_dir.join(DURATIONS_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

fn print_summary(features: &str, tags: Option<&str>, runs: &[SuiteRun], shards: &[SuiteRun]) {
    let Some(full) = runs.last() else {
        return;
    };
    let wall_ms = full.wall.as_millis() as f64;
    let sum_ms: u64 = full.durations_ms.values().sum();
    let (longest_name, longest_ms) = full.longest();
    let ratio = runs
        .iter()
        .map(SuiteRun::wall_over_longest)
        .fold(0.0, f64::max);
    let shards_ms: u128 = shards.iter().map(|s| s.wall.as_millis()).sum();
    println!();
    println!(
        "suite: {features}{} ({} scenarios)",
        tags.map(|t| format!(" --tags {t:?}")).unwrap_or_default(),
        full.selected
    );
    println!(
        "  {:<46} {:>12} {:>10} {:>6}",
        "measure", "value", "target", ""
    );
    println!("  {:<46} {:>9} ms", "wall time", full.wall.as_millis());
    println!("  {:<46} {:>9} ms", "sum of scenario times", sum_ms);
    println!("  {:<46} {:>9} ms", "longest scenario", longest_ms);
    println!("  {:<46} {longest_name}", "  which");
    let verdict = if ratio <= TARGET_WALL_OVER_LONGEST {
        "PASS"
    } else {
        "MISS"
    };
    println!(
        "  {:<46} {:>12.2} {:>10} {verdict:>6}",
        format!("wall / longest, worst of {} run(s)", runs.len()),
        ratio,
        format!("<= {TARGET_WALL_OVER_LONGEST}")
    );
    let each: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.2}", r.wall_over_longest()))
        .collect();
    println!("  {:<46} {}", "  each run", each.join(" "));
    println!(
        "  {:<46} {:>12.2}",
        "sum / wall (scenarios running at once)",
        sum_ms as f64 / wall_ms.max(1.0)
    );
    println!(
        "  {:<46} {:>9} ms",
        format!("wall of {} shards run one after another", shards.len()),
        shards_ms
    );
    for (i, shard) in shards.iter().enumerate() {
        println!(
            "  {:<46} {:>9} ms  ({} scenarios)",
            format!("  shard {}/{}", i + 1, shards.len()),
            shard.wall.as_millis(),
            shard.selected
        );
    }
    for failure in runs.iter().chain(shards).flat_map(|r| &r.failures) {
        println!("  failed: {failure}");
    }
}
