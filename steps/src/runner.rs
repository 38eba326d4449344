//! Runs feature files: the one entry point behind `esm-chaos run` and `cargo test`.
//!
//! Scenarios are picked (paths, `FILE:LINE`, tags, name, partition), split one per feature and
//! started longest first: the expected durations come from the last run's durations file,
//! else from the steps. Scenarios with a broker of their own run beside the shared-broker
//! ones, as many at once as the machine has cores.

use crate::preflight;
use crate::progress::{Progress, Tally};
use crate::select::{self, Filter, Planned, SKIPPED_TAG};
use crate::vocabulary::vocabulary;
use crate::world::{self, EsmWorld};
use cucumber::event::ScenarioFinished;
use cucumber::gherkin;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::runner::basic::ScenarioType;
use cucumber::{WriterExt as _, writer};
use futures::FutureExt as _;
use harness::broker::{BackendKind, BrokerOptions};
use harness::mapping::ConsumerCommand;
use harness::scenario::{Isolation, RunContext, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Scenarios run at once. Most of a long scenario is waiting (for offsets to expire, a session
/// to time out, retention to delete), so the limit is not the cores: with 8 the eight longest
/// held every slot for their first 25-40 s and the short ones queued behind them (wall / longest
/// 1.18-1.24); with 12, 1.01 (side by side on 2 cores, `esm-chaos run features/`).
pub const CONCURRENCY_DEFAULT: usize = 12;
pub const CONCURRENCY_MAX: usize = 64;
/// The last run's scenario durations, in the report folder.
pub const DURATIONS_FILE: &str = "durations.json";
/// A copy of a run's durations file kept beside the feature files (`features/durations.json`
/// here): refresh it with `cp reports/durations.json features/` after a full run.
pub const SEED_DURATIONS_FILE: &str = "durations.json";
/// Most entries the durations file keeps.
pub const DURATIONS_MAX: usize = 10_000;

/// Exit codes of `esm-chaos run` and of a `cargo test` target calling `run_main`; the only
/// place they are defined (the README lists them).
pub mod exit {
    /// Every selected scenario passed (skipped ones included).
    pub const PASSED: u8 = 0;
    /// At least one scenario failed.
    pub const SCENARIO_FAILED: u8 = 1;
    /// The run could not start: bad flag, unknown step, no Java, an unreachable cluster.
    pub const COULD_NOT_START: u8 = 2;
    /// The paths, tags, name and partition selected no scenario.
    pub const NOTHING_MATCHED: u8 = 4;
    /// Interrupted by Ctrl-C or SIGTERM (everything started was stopped).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub tags: Option<String>,
    pub name: Option<String>,
    pub partition: Option<select::Partition>,
    pub list: bool,
    pub fail_fast: bool,
    pub broker: BrokerOptions,
    pub report_dir: PathBuf,
    pub report_all: bool,
    pub junit: Option<PathBuf>,
    pub cucumber_json: Option<PathBuf>,
    pub seed: Option<u64>,
    pub concurrency: usize,
    pub consumer: ConsumerCommand,
}

#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub selected: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Failed scenarios' `file:line  name`.
    pub failures: Vec<String>,
    pub elapsed: Duration,
    pub reports: Vec<PathBuf>,
    pub seed: u64,
    /// Only listed (`--list`), nothing ran.
    pub listed: bool,
}

impl RunSummary {
    pub fn failed(&self) -> bool {
        self.failed > 0
    }
}

static REPORTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub async fn run(opts: RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    if opts.concurrency == 0 || opts.concurrency > CONCURRENCY_MAX {
        anyhow::bail!(
            "--concurrency {}: allowed 1 to {CONCURRENCY_MAX}",
            opts.concurrency
        );
    }
    let plan = plan(&opts)?;
    if opts.list {
        for p in &plan {
            let skip = p.skip_reason.map(|r| format!("  (skipped: {r})"));
            println!(
                "{}  {}: {}{}",
                p.location(),
                p.feature_name,
                p.name,
                skip.unwrap_or_default()
            );
        }
        return Ok(RunSummary {
            selected: plan.len(),
            listed: true,
            ..RunSummary::default()
        });
    }
    if plan.is_empty() {
        return Ok(RunSummary::default());
    }
    if plan.iter().any(|p| p.skip_reason.is_none()) {
        check_prerequisites(&opts.broker).await?;
    }
    let seed = opts.seed.unwrap_or_else(rand::random);
    println!(
        "esm-chaos: {} scenarios, seed {seed} (replay with --seed {seed})",
        plan.len()
    );
    let ctx = world::set_context(Arc::new(RunContext::new(
        opts.broker.clone(),
        opts.consumer.clone(),
        opts.report_dir.clone(),
        opts.report_all,
        seed,
    )));
    harness::procs::install_interrupt_handler();

    let selected = plan.len();
    let tally = Arc::new(Mutex::new(Tally::default()));
    run_cucumber(&opts, plan, tally.clone()).await?;
    ctx.shutdown().await;
    harness::procs::cleanup();

    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    if let Err(e) = save_durations(&opts.report_dir, &tally.durations_ms) {
        tracing::warn!(
            "cannot write {}: {e}",
            opts.report_dir.join(DURATIONS_FILE).display()
        );
    }
    let reports = REPORTS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(RunSummary {
        selected,
        passed: tally.passed,
        failed: tally.failed + tally.parse_errors,
        skipped: tally.skipped,
        failures: tally.failures,
        elapsed: started.elapsed(),
        reports,
        seed,
        listed: false,
    })
}

/// Parses, checks and selects: every problem with the input is reported before anything
/// starts. Returns the scenarios in the order they should start.
fn plan(opts: &RunOptions) -> anyhow::Result<Vec<Planned>> {
    let targets: Vec<select::Target> = opts
        .paths
        .iter()
        .map(|p| select::Target::parse(p))
        .collect();
    let target_paths: Vec<PathBuf> = targets.iter().map(|t| t.path.clone()).collect();
    let files = preflight::feature_files(&target_paths).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        anyhow::bail!("no .feature files under {:?}", opts.paths);
    }
    let problems = preflight::check_files(&files).map_err(anyhow::Error::msg)?;
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::bail!(
            "{} step(s) are not in the vocabulary (run `esm-chaos steps` for the list):\n{}",
            problems.len(),
            list.join("\n")
        );
    }
    let filter = Filter {
        tags: opts
            .tags
            .as_deref()
            .map(|t| {
                t.parse::<TagOperation>()
                    .map_err(|e| anyhow::anyhow!("--tags {t:?}: {e}"))
            })
            .transpose()?,
        name: opts
            .name
            .as_deref()
            .map(|n| regex::Regex::new(n).map_err(|e| anyhow::anyhow!("--name {n:?}: {e}")))
            .transpose()?,
        partition: opts.partition,
        no_broker_control: opts.broker.backend == BackendKind::External,
    };
    let lines = line_targets(&targets, &files)?;
    let all = select::scenarios(&files).map_err(anyhow::Error::msg)?;
    let chosen = select::select(all, &lines, &filter);
    let capacity = select::Capacity {
        scenarios_max: opts.concurrency,
        broker_slots_max: u32::try_from(harness::scenario::own_brokers_max()).unwrap_or(1),
    };
    Ok(select::order(
        chosen,
        &expected_durations(&opts.report_dir, &files),
        capacity,
    ))
}

/// `FILE:LINE` targets by file, as `files` names them; a file also given whole has none.
fn line_targets(
    targets: &[select::Target],
    files: &[PathBuf],
) -> anyhow::Result<BTreeMap<PathBuf, Vec<usize>>> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let whole: Vec<PathBuf> = targets
        .iter()
        .filter(|t| t.line.is_none())
        .map(|t| canonical(&t.path))
        .collect();
    let mut lines: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for target in targets {
        let Some(line) = target.line else { continue };
        let wanted = canonical(&target.path);
        if whole.iter().any(|w| wanted.starts_with(w)) {
            continue;
        }
        let file = files
            .iter()
            .find(|f| canonical(f) == wanted)
            .ok_or_else(|| anyhow::anyhow!("{}: not a feature file", target.path.display()))?;
        lines.entry(file.clone()).or_default().push(line);
    }
    Ok(lines)
}

fn load_durations(report_dir: &Path) -> BTreeMap<String, u64> {
    read_durations(&report_dir.join(DURATIONS_FILE))
}

fn read_durations(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// What the scenarios are expected to take: the last run's durations, over the seed kept beside
/// the feature files ([`SEED_DURATIONS_FILE`]); scenarios in neither get the static estimate.
/// A clean clone has no last run: without the seed its first run starts the long scenarios in
/// the static estimate's order, which guesses the middle of the list poorly (wall / longest
/// 1.25 against 1.16 with durations, measured side by side in the suite benchmark).
fn expected_durations(report_dir: &Path, files: &[PathBuf]) -> BTreeMap<String, u64> {
    let folders: std::collections::BTreeSet<&Path> =
        files.iter().filter_map(|f| f.parent()).collect();
    let mut expected = BTreeMap::new();
    for folder in folders {
        expected.extend(read_durations(&folder.join(SEED_DURATIONS_FILE)));
    }
    expected.extend(load_durations(report_dir));
    expected
}

/// Merges this run's durations into the file (a partial run keeps the others').
fn save_durations(report_dir: &Path, measured_ms: &BTreeMap<String, u64>) -> std::io::Result<()> {
    if measured_ms.is_empty() {
        return Ok(());
    }
    let mut all = load_durations(report_dir);
    all.extend(measured_ms.iter().map(|(k, v)| (k.clone(), *v)));
    let kept: BTreeMap<String, u64> = all.into_iter().take(DURATIONS_MAX).collect();
    std::fs::create_dir_all(report_dir)?;
    let text = serde_json::to_string_pretty(&kept).map_err(std::io::Error::other)?;
    std::fs::write(report_dir.join(DURATIONS_FILE), text + "\n")
}

/// Java and Kafka are checked (and Kafka provisioned) once, before any scenario starts, so a
/// missing JDK or an unreachable Maven is one clear error rather than a failure per scenario.
pub async fn check_prerequisites(broker: &BrokerOptions) -> anyhow::Result<()> {
    if broker.backend != harness::broker::BackendKind::Local {
        return Ok(());
    }
    let cache = broker.cache_dir.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        harness::broker::check_java()?;
        harness::broker::provision(&cache, harness::broker::KAFKA_VERSION)?;
        Ok(())
    })
    .await?
}

/// Hands Cucumber the planned features, in the planned order.
struct PlannedFeatures;

impl cucumber::Parser<Vec<gherkin::Feature>> for PlannedFeatures {
    type Cli = cucumber::cli::Empty;
    type Output =
        futures::stream::Iter<std::vec::IntoIter<cucumber::parser::Result<gherkin::Feature>>>;

    fn parse(self, input: Vec<gherkin::Feature>, _cli: Self::Cli) -> Self::Output {
        futures::stream::iter(input.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

fn output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn std::io::Write>> {
    Ok(match path {
        Some(p) => {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            Box::new(
                std::fs::File::create(p)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
            )
        }
        None => Box::new(std::io::sink()),
    })
}

async fn run_cucumber(
    opts: &RunOptions,
    plan: Vec<Planned>,
    tally: Arc<Mutex<Tally>>,
) -> anyhow::Result<()> {
    let total = plan.len();
    let features: Vec<gherkin::Feature> = plan.into_iter().map(select::into_feature).collect();
    let writer = Progress::new(total, tally)
        .tee::<EsmWorld, _>(writer::JUnit::new(output(&opts.junit)?, 0))
        .tee::<EsmWorld, _>(writer::Json::new(output(&opts.cucumber_json)?))
        .assert_normalized();
    let cucumber = cucumber::Cucumber::<EsmWorld, _, PathBuf, _, _, _>::new()
        .with_parser(PlannedFeatures)
        .steps(crate::steps::collection())
        .with_writer(writer)
        .max_concurrent_scenarios(opts.concurrency)
        .fail_on_skipped_with(|_, _, scenario| !scenario.tags.iter().any(|t| t == SKIPPED_TAG))
        .which_scenario(|_, _, scenario| {
            if scenario.tags.iter().any(|t| t == "serial") {
                ScenarioType::Serial
            } else {
                ScenarioType::Concurrent
            }
        })
        .before(|feature, rule, scenario, world| {
            let steps = preflight::scenario_steps(feature, rule, scenario);
            let isolation = vocabulary().isolation(&steps);
            let skipped = scenario.tags.iter().any(|t| t == SKIPPED_TAG);
            let title = format!("{}: {}", feature.name, scenario.name);
            let feature_path = feature.path.clone();
            async move {
                if !skipped {
                    world.scenario = Some(start_scenario(&title, isolation, feature_path).await);
                }
            }
            .boxed_local()
        })
        .after(|_feature, _rule, _scenario, finished, world| {
            let failed = !matches!(finished, ScenarioFinished::StepPassed);
            async move {
                let Some(s) = world.and_then(|w| w.scenario.take()) else {
                    return;
                };
                if let Some(dir) = s.finish(failed).await {
                    if failed {
                        eprintln!(
                            "esm-chaos: history, logs and timeline of the failed scenario in {}",
                            dir.display()
                        );
                    }
                    REPORTS.lock().unwrap_or_else(|e| e.into_inner()).push(dir);
                }
            }
            .boxed_local()
        });
    let cucumber = if opts.fail_fast {
        cucumber.fail_fast()
    } else {
        cucumber
    };
    cucumber
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .run(features)
        .await;
    Ok(())
}

/// A harness scenario; one with a broker of its own first waits for a free slot.
async fn start_scenario(
    title: &str,
    isolation: Isolation,
    feature_path: Option<PathBuf>,
) -> Scenario {
    let ctx = world::context();
    let slot = if isolation.own_broker {
        Some(ctx.own_broker_slot(isolation.slot_weight()).await)
    } else {
        None
    };
    match Scenario::new(ctx, title, isolation) {
        Ok(mut s) => {
            s.hold_slot(slot);
            // A real function's command runs in its feature file's folder.
            if let Some(path) = &feature_path {
                s.set_feature_path(path);
            }
            s
        }
        // A hook failure is how Cucumber reports a scenario that could not be set up.
        Err(e) => panic!("{e}"),
    }
}

/// Runs on a fresh multi-threaded runtime (the CLI and the `cargo test` target share this).
pub fn block_on_run(opts: RunOptions) -> anyhow::Result<RunSummary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(opts));
    harness::procs::cleanup();
    // Dropping a runtime waits for every blocking task still running (a client's close, a pipe
    // read), however long it runs; everything the run started is stopped by now, so the wait
    // is bounded and what is left ends with the process.
    let shutdown = Instant::now();
    runtime.shutdown_timeout(Duration::from_millis(RUNTIME_SHUTDOWN_MS));
    if shutdown.elapsed() >= Duration::from_millis(RUNTIME_SHUTDOWN_MS) {
        tracing::warn!(
            "a background task was still running {RUNTIME_SHUTDOWN_MS} ms after the run ended; it ends with the process"
        );
    }
    result
}

/// How long the end of a run waits for background tasks before the process exits.
const RUNTIME_SHUTDOWN_MS: u64 = 2_000;

/// Prints the closing lines and maps the result to one of the [`exit`] codes.
pub fn exit_code(result: anyhow::Result<RunSummary>) -> std::process::ExitCode {
    let code = match result {
        Ok(summary) if summary.listed => {
            if summary.selected == 0 {
                eprintln!(
                    "esm-chaos: no scenario matched (check the paths, --tags, --name, --partition)"
                );
                exit::NOTHING_MATCHED
            } else {
                exit::PASSED
            }
        }
        Ok(summary) => closing_lines(&summary),
        Err(e) => {
            eprintln!("esm-chaos: {e:#}");
            exit::COULD_NOT_START
        }
    };
    std::process::ExitCode::from(code)
}

fn closing_lines(summary: &RunSummary) -> u8 {
    if summary.selected == 0 {
        eprintln!("esm-chaos: no scenario matched (check the paths, --tags, --name, --partition)");
        return exit::NOTHING_MATCHED;
    }
    println!(
        "esm-chaos: {} passed, {} failed, {} skipped of {} in {:.1} s (seed {})",
        summary.passed,
        summary.failed,
        summary.skipped,
        summary.selected,
        summary.elapsed.as_secs_f64(),
        summary.seed
    );
    for failure in &summary.failures {
        println!("  failed: {failure}");
    }
    let not_run = summary.selected
        - (summary.passed + summary.failed + summary.skipped).min(summary.selected);
    if not_run > 0 {
        println!("  not run: {not_run} (--fail-fast)");
    }
    if summary.failed() {
        exit::SCENARIO_FAILED
    } else {
        exit::PASSED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_runs_durations_win_over_the_seed_beside_the_features() {
        let features = tempfile::tempdir().unwrap();
        let reports = tempfile::tempdir().unwrap();
        let seed = r#"{"f.feature: long": 70000, "f.feature: short": 3000}"#;
        std::fs::write(features.path().join(SEED_DURATIONS_FILE), seed).unwrap();
        let files = [features.path().join("f.feature")];
        let from_seed = expected_durations(reports.path(), &files);
        assert_eq!(from_seed.get("f.feature: long"), Some(&70_000));
        save_durations(
            reports.path(),
            &BTreeMap::from([("f.feature: short".to_string(), 9_000)]),
        )
        .unwrap();
        let merged = expected_durations(reports.path(), &files);
        assert_eq!(
            merged.get("f.feature: short"),
            Some(&9_000),
            "the last run wins"
        );
        assert_eq!(
            merged.get("f.feature: long"),
            Some(&70_000),
            "the seed fills the rest"
        );
    }

    #[test]
    fn durations_are_merged_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        save_durations(dir.path(), &BTreeMap::from([("a: x".to_string(), 10)])).unwrap();
        save_durations(dir.path(), &BTreeMap::from([("b: y".to_string(), 20)])).unwrap();
        let back = load_durations(dir.path());
        assert_eq!(back.get("a: x"), Some(&10));
        assert_eq!(back.get("b: y"), Some(&20));
    }

    #[test]
    fn exit_codes_are_distinct() {
        let mut codes = [
            exit::PASSED,
            exit::SCENARIO_FAILED,
            exit::COULD_NOT_START,
            exit::NOTHING_MATCHED,
            exit::INTERRUPTED,
        ];
        codes.sort();
        assert!(codes.windows(2).all(|w| w[0] != w[1]));
        let none = RunSummary::default();
        assert_eq!(closing_lines(&none), exit::NOTHING_MATCHED);
        let failed = RunSummary {
            selected: 2,
            passed: 1,
            failed: 1,
            ..RunSummary::default()
        };
        assert_eq!(closing_lines(&failed), exit::SCENARIO_FAILED);
    }
}
