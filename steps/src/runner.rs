//! Runs feature files: the one entry point behind `esm-chaos run` and `cargo test`.

use crate::preflight;
use crate::world::{self, EsmWorld};
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::runner::basic::ScenarioType;
use cucumber::tag::Ext as _;
use cucumber::{WriterExt as _, writer};
use futures::FutureExt as _;
use harness::broker::BrokerOptions;
use harness::mapping::ConsumerCommand;
use harness::scenario::{Isolation, RunContext, Scenario};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Scenarios run at once on the shared broker; more only queue for the 2 cores.
pub const CONCURRENCY_DEFAULT: usize = 8;
pub const CONCURRENCY_MAX: usize = 64;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub tags: Option<String>,
    pub broker: BrokerOptions,
    pub report_dir: PathBuf,
    pub report_all: bool,
    pub junit: Option<PathBuf>,
    pub cucumber_json: Option<PathBuf>,
    pub seed: Option<u64>,
    pub concurrency: usize,
    pub consumer: ConsumerCommand,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub scenarios_run: usize,
    pub scenarios_failed: usize,
    pub elapsed: Duration,
    pub reports: Vec<PathBuf>,
    pub seed: u64,
}

impl RunSummary {
    pub fn failed(&self) -> bool {
        self.scenarios_failed > 0
    }
}

static RUN: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static REPORTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub async fn run(opts: RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    if opts.concurrency == 0 || opts.concurrency > CONCURRENCY_MAX {
        anyhow::bail!(
            "--concurrency {}: allowed 1 to {CONCURRENCY_MAX}",
            opts.concurrency
        );
    }
    let files = preflight::feature_files(&opts.paths).map_err(anyhow::Error::msg)?;
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
    let tags = opts
        .tags
        .as_deref()
        .map(|t| {
            t.parse::<TagOperation>()
                .map_err(|e| anyhow::anyhow!("--tags {t:?}: {e}"))
        })
        .transpose()?;
    check_prerequisites(&opts.broker).await?;
    let seed = opts.seed.unwrap_or_else(rand::random);
    println!("esm-chaos: seed {seed} (replay with --seed {seed})");
    let ctx = world::set_context(std::sync::Arc::new(RunContext::new(
        opts.broker.clone(),
        opts.consumer.clone(),
        opts.report_dir.clone(),
        opts.report_all,
        seed,
    )));
    harness::procs::install_interrupt_handler();

    let input = cucumber_input(&files)?;
    run_cucumber(&opts, &input.path, tags).await?;
    ctx.shutdown().await;
    harness::procs::cleanup();
    drop(input);

    let reports = REPORTS.lock().expect("reports lock").clone();
    Ok(RunSummary {
        scenarios_run: RUN.load(Ordering::SeqCst),
        scenarios_failed: FAILED.load(Ordering::SeqCst),
        elapsed: started.elapsed(),
        reports,
        seed,
    })
}

/// Java and Kafka are checked (and Kafka provisioned) once, before any scenario starts, so a
/// missing JDK or an unreachable Maven is one clear error rather than a failure per scenario.
async fn check_prerequisites(broker: &BrokerOptions) -> anyhow::Result<()> {
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

/// Cucumber reads one path: a single file or folder as given, several through a folder of links.
struct Input {
    path: PathBuf,
    _links: Option<tempfile::TempDir>,
}

fn cucumber_input(files: &[PathBuf]) -> anyhow::Result<Input> {
    if let [only] = files {
        return Ok(Input {
            path: only.clone(),
            _links: None,
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("esm-chaos-features-")
        .tempdir()?;
    // Listed for cleanup too: Ctrl-C exits without running destructors.
    harness::procs::register_temp_dir(dir.path());
    for (i, file) in files.iter().enumerate() {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let absolute = std::fs::canonicalize(file)?;
        std::os::unix::fs::symlink(absolute, dir.path().join(format!("{i:03}-{name}")))?;
    }
    Ok(Input {
        path: dir.path().to_path_buf(),
        _links: Some(dir),
    })
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
    input: &std::path::Path,
    tags: Option<TagOperation>,
) -> anyhow::Result<()> {
    let writer = writer::Basic::raw(std::io::stdout(), writer::Coloring::Auto, 0)
        .summarized()
        .tee::<EsmWorld, _>(writer::JUnit::for_tee(output(&opts.junit)?, 0))
        .tee::<EsmWorld, _>(writer::Json::for_tee(output(&opts.cucumber_json)?))
        .normalized();
    cucumber::Cucumber::<EsmWorld, _, _, _, _, _>::new()
        .steps(crate::steps::collection())
        .with_writer(writer)
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .max_concurrent_scenarios(opts.concurrency)
        .fail_on_skipped()
        .which_scenario(|feature, rule, scenario| {
            let own =
                Isolation::of_steps(preflight::scenario_steps(feature, rule, scenario)).own_broker;
            if own || scenario.tags.iter().any(|t| t == "serial") {
                ScenarioType::Serial
            } else {
                ScenarioType::Concurrent
            }
        })
        .before(|feature, rule, scenario, world| {
            let isolation = Isolation::of_steps(preflight::scenario_steps(feature, rule, scenario));
            let title = format!("{}: {}", feature.name, scenario.name);
            let feature_path = feature.path.clone();
            async move {
                match Scenario::new(world::context(), &title, isolation) {
                    Ok(mut s) => {
                        feature_path.inspect(|p| s.set_feature_path(p));
                        world.scenario = Some(s)
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            .boxed_local()
        })
        .after(|_feature, _rule, scenario, finished, world| {
            let failed = !matches!(finished, ScenarioFinished::StepPassed);
            let name = scenario.name.clone();
            async move {
                RUN.fetch_add(1, Ordering::SeqCst);
                if failed {
                    FAILED.fetch_add(1, Ordering::SeqCst);
                }
                let Some(world) = world else { return };
                let Some(s) = world.scenario.take() else {
                    return;
                };
                if let Some(dir) = s.finish(failed).await {
                    if failed {
                        eprintln!(
                            "esm-chaos: scenario {name:?} failed; history, logs and timeline in {}",
                            dir.display()
                        );
                    }
                    REPORTS.lock().expect("reports lock").push(dir);
                }
            }
            .boxed_local()
        })
        .filter_run(input, move |feature, rule, scenario| match &tags {
            None => true,
            Some(op) => op.eval(
                feature
                    .tags
                    .iter()
                    .chain(rule.iter().flat_map(|r| r.tags.iter()))
                    .chain(scenario.tags.iter()),
            ),
        })
        .await;
    Ok(())
}

/// Runs on a fresh multi-threaded runtime (the CLI and the `cargo test` target share this).
pub fn block_on_run(opts: RunOptions) -> anyhow::Result<RunSummary> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(opts));
    harness::procs::cleanup();
    result
}

/// Prints the closing lines and maps the result to an exit code: 0 all passed, 1 a scenario
/// failed, 2 the run could not start (bad input, no Java, …).
pub fn exit_code(result: anyhow::Result<RunSummary>) -> std::process::ExitCode {
    match result {
        Ok(summary) => {
            let passed = summary.scenarios_run - summary.scenarios_failed;
            println!(
                "esm-chaos: {} scenarios in {:.1} s (seed {})",
                summary.scenarios_run,
                summary.elapsed.as_secs_f64(),
                summary.seed
            );
            println!("{passed} passed, {} failed", summary.scenarios_failed);
            if summary.scenarios_run == 0 {
                eprintln!("esm-chaos: no scenario ran (check --tags and the paths)");
                return std::process::ExitCode::from(1);
            }
            if summary.failed() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("esm-chaos: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
