//! Benchmark: invocations per second through the Lambda Runtime API with the instant Rust
//! handler (examples/rust-handler on the lambda_runtime crate), against the mock function on the
//! same run, printed as a ratio at 1 and at `ESM_BENCH_CONCURRENCY` calls in flight; then the
//! cold-start time (process start to its first `invocation/next`) of each example runtime,
//! `ESM_BENCH_COLD_STARTS` times each (default 5), with the median.
//!
//! Needs the example runtimes built: `.ci/runtime.sh` (a venv, and `cargo build -p rust-handler`).

use anyhow::{Context, Result, bail};
use base64::Engine;
use harness::history::{EnvironmentChange, EventKind, History};
use harness::lambda::{MockLambda, Mode};
use harness::runtime::{FunctionSpec, RealFunction};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;

/// Calls per measurement when `ESM_BENCH_INVOCATIONS` is unset.
const INVOCATIONS_DEFAULT: u64 = 2_000;
const INVOCATIONS_MAX: u64 = 1_000_000;
const CONCURRENCY_DEFAULT: u64 = 4;
const CONCURRENCY_MAX: u64 = 100;
const COLD_STARTS_DEFAULT: u64 = 5;
const COLD_STARTS_MAX: u64 = 100;
/// Records in each benchmark event.
const RECORDS_PER_EVENT: i64 = 10;

fn main() -> Result<()> {
    common::run_bench(run)
}

async fn run() -> Result<()> {
    let invocations = common::number_from_env(
        "ESM_BENCH_INVOCATIONS",
        INVOCATIONS_DEFAULT,
        INVOCATIONS_MAX,
    )?;
    let concurrency = common::number_from_env(
        "ESM_BENCH_CONCURRENCY",
        CONCURRENCY_DEFAULT,
        CONCURRENCY_MAX,
    )?;
    let cold_starts = common::number_from_env(
        "ESM_BENCH_COLD_STARTS",
        COLD_STARTS_DEFAULT,
        COLD_STARTS_MAX,
    )?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let log_dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    println!("invocations per second, {invocations} calls of {RECORDS_PER_EVENT} records each");
    for in_flight in [1, concurrency] {
        let history = History::new();
        let mock = MockLambda::start(history.clone()).await;
        mock.define("process", Mode::Succeed);
        let mock_rate = rate(&mock.endpoint(), invocations, in_flight).await?;
        let mut spec = FunctionSpec::new("process", "./bootstrap", &examples.join("rust-handler"));
        spec.reserved_concurrency = u32::try_from(in_flight).unwrap_or(u32::MAX);
        let function = RealFunction::start(
            spec,
            mock.clone(),
            history,
            &log_dir.path().join(format!("rate-{in_flight}")),
        )
        .await?;
        let runtime_rate = rate(&function.endpoint(), invocations, in_flight).await?;
        function.stop().await;
        println!(
            "  {in_flight:>3} in flight: mock {mock_rate:>8.0}/s, Runtime API + Rust handler {runtime_rate:>8.0}/s, ratio {:.2}",
            runtime_rate / mock_rate
        );
    }
    println!("cold start (process start to its first invocation/next), {cold_starts} starts each");
    for (runtime, folder) in [
        ("python (awslambdaric)", "python-handler"),
        ("rust (lambda_runtime)", "rust-handler"),
    ] {
        let samples = cold_start_ms(&examples.join(folder), cold_starts, log_dir.path()).await?;
        println!(
            "  {runtime:<22} median {:>5} ms, all {samples:?}",
            median(&samples)
        );
    }
    Ok(())
}

fn event() -> String {
    let value = base64::engine::general_purpose::STANDARD.encode("order-1 {\"kind\":\"order\"}");
    let records: Vec<_> = (0..RECORDS_PER_EVENT)
        .map(|offset| {
            serde_json::json!({"topic": "orders", "partition": 0, "offset": offset, "timestamp": 1,
                "timestampType": "CREATE_TIME", "key": "a2V5", "value": value, "headers": []})
        })
        .collect();
    serde_json::json!({"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092",
        "records": {"orders-0": records}})
    .to_string()
}

/// Calls per second of `endpoint`, `in_flight` callers sharing `invocations` calls.
async fn rate(endpoint: &str, invocations: u64, in_flight: u64) -> Result<f64> {
    let url = format!("{endpoint}/2015-03-31/functions/process/invocations");
    let body = event();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let callers: Vec<_> = (0..in_flight)
        .map(|caller| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let calls = invocations / in_flight + u64::from(caller < invocations % in_flight);
            tokio::spawn(async move {
                for _ in 0..calls {
                    let response = client.post(&url).body(body.clone()).send().await?;
                    if response.status() != 200
                        || response.headers().contains_key("X-Amz-Function-Error")
                    {
                        bail!(
                            "{url} answered {} {:?}",
                            response.status(),
                            response.text().await
                        );
                    }
                }
                Ok(())
            })
        })
        .collect();
    for caller in callers {
        caller.await??;
    }
    Ok(invocations as f64 / started.elapsed().as_secs_f64())
}

/// Init times of `starts` fresh first environments of the runtime in `folder`.
async fn cold_start_ms(folder: &Path, starts: u64, log_dir: &Path) -> Result<Vec<u64>> {
    let mut samples = Vec::new();
    for i in 0..starts {
        let history = History::new();
        let recorder = MockLambda::start(history.clone()).await;
        let spec = FunctionSpec::new("process", "./bootstrap", folder);
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let logs: PathBuf = log_dir.join(format!("cold-{name}-{i}"));
        let function = RealFunction::start(spec, recorder, history.clone(), &logs)
            .await
            .with_context(|| {
                format!(
                    "cannot start {}: run .ci/runtime.sh first",
                    folder.display()
                )
            })?;
        function.stop().await;
        let init_ms = history.snapshot().into_iter().find_map(|e| match e.kind {
            EventKind::Environment {
                change: EnvironmentChange::Ready { init_ms },
                ..
            } => Some(init_ms),
            _ => None,
        });
        samples.push(init_ms.context("the environment never reported ready")?);
    }
    Ok(samples)
}

fn median(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}
