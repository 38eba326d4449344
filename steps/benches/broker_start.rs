//! Benchmark: how fast the local backend brings a broker up once Kafka is in the cache.
//!
//! Starts and stops a single-node broker `ESM_BENCH_STARTS` times (default 5) after one warm-up
//! start, then a 3-node cluster once, and times `provision` on a warm cache (library call and the
//! `esm-chaos provision` command). Prints each launch-to-ready time, the median and its ratio to
//! the 1 s target. A miss is reported, not a failure: the process exits 0 unless a broker cannot
//! start at all.

use anyhow::{Context, Result, bail};
use harness::broker::{Broker, BrokerOptions, KAFKA_VERSION, provision};
use harness::procs;
use std::process::Command;
use std::time::{Duration, Instant};

/// Launch-to-ready target of one single-node broker.
const TARGET_READY_MS: u64 = 1_000;
/// Measured single-node starts when `ESM_BENCH_STARTS` is unset.
const STARTS_DEFAULT: usize = 5;
const STARTS_MAX: usize = 50;
/// The `esm-chaos provision` command may take this long on a warm cache before it is a failure.
const PROVISION_CMD_TIMEOUT_MS: u64 = 30_000;

/// One start and stop of a broker.
struct Sample {
    /// Launch to "Kafka Server started", as the harness measures it (slowest node).
    ready_ms: u64,
    /// The whole `Broker::start` call: provision check, storage format, launch, ready.
    start_ms: u64,
    stop_ms: u64,
}

mod common;

fn main() -> Result<()> {
    common::run_bench(run)
}

async fn run() -> Result<()> {
    let starts = starts_from_env()?;
    let opts = BrokerOptions::local_default();
    // Warm-up: fills the cache (and the JVM class-data archive) if this is the first run.
    let warm = start_stop(&opts).await.context("warm-up start")?;
    println!(
        "warm-up start: ready {} ms (start call {} ms, stop {} ms)",
        warm.ready_ms, warm.start_ms, warm.stop_ms
    );
    let (lib_us, cmd_ms) = time_provision(&opts).await?;

    let mut samples = Vec::with_capacity(starts);
    for i in 1..=starts {
        let s = start_stop(&opts)
            .await
            .with_context(|| format!("single-node start {i}"))?;
        println!(
            "single-node start {i}/{starts}: launch-to-ready {:>5} ms   start call {:>5} ms   stop {:>5} ms",
            s.ready_ms, s.start_ms, s.stop_ms
        );
        samples.push(s);
    }
    let mut cluster_opts = opts.clone();
    cluster_opts.nodes = 3;
    let cluster = start_stop(&cluster_opts)
        .await
        .context("3-node cluster start")?;
    print_table(&samples, &cluster, lib_us, cmd_ms);
    if procs::live_count() != 0 {
        bail!(
            "{} child process group(s) still alive after the benchmark",
            procs::live_count()
        );
    }
    Ok(())
}

fn starts_from_env() -> Result<usize> {
    let starts =
        common::number_from_env("ESM_BENCH_STARTS", STARTS_DEFAULT as u64, STARTS_MAX as u64)?;
    Ok(usize::try_from(starts)?)
}

async fn start_stop(opts: &BrokerOptions) -> Result<Sample> {
    let started = Instant::now();
    let broker = Broker::start(opts.clone()).await?;
    let start_ms = ms(started.elapsed());
    let ready_ms = broker.last_ready_ms();
    let work_dir = broker.work_dir();
    let stopping = Instant::now();
    broker.stop().await;
    let stop_ms = ms(stopping.elapsed());
    if let Some(dir) = work_dir.filter(|d| d.exists()) {
        bail!("broker work dir {} survived stop()", dir.display());
    }
    Ok(Sample {
        ready_ms,
        start_ms,
        stop_ms,
    })
}

/// `provision` on a warm cache: the library call (µs) and the CLI command end to end (ms).
async fn time_provision(opts: &BrokerOptions) -> Result<(u128, u64)> {
    let started = Instant::now();
    provision(&opts.cache_dir, KAFKA_VERSION).context("provision on a warm cache")?;
    let lib_us = started.elapsed().as_micros();

    let dir = tempfile::tempdir().context("cannot create a temp dir for the provision log")?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esm-chaos"));
    cmd.arg("provision").arg("--cache-dir").arg(&opts.cache_dir);
    let started = Instant::now();
    let child = procs::spawn(
        "esm-chaos provision",
        cmd,
        &dir.path().join("provision.log"),
        None,
    )?;
    let status = child
        .wait_timeout(Duration::from_millis(PROVISION_CMD_TIMEOUT_MS))
        .await;
    let cmd_ms = ms(started.elapsed());
    drop(child);
    match status {
        Some(s) if s.success() => Ok((lib_us, cmd_ms)),
        other => bail!(
            "esm-chaos provision on a warm cache ended with {other:?} after {cmd_ms} ms; log: {}",
            std::fs::read_to_string(dir.path().join("provision.log")).unwrap_or_default()
        ),
    }
}

fn print_table(samples: &[Sample], cluster: &Sample, lib_us: u128, cmd_ms: u64) {
    let mut ready: Vec<u64> = samples.iter().map(|s| s.ready_ms).collect();
    ready.sort_unstable();
    let median = median(&ready);
    let ratio = median as f64 / TARGET_READY_MS as f64;
    let verdict = if median <= TARGET_READY_MS {
        "PASS"
    } else {
        "MISS"
    };
    println!();
    println!("broker_start (Kafka {KAFKA_VERSION}, local backend, warm cache)");
    println!(
        "  {:<44} {:>12} {:>10} {:>6}",
        "measure", "value", "target", ""
    );
    println!(
        "  {:<44} {:>9} ms {:>7} ms {verdict:>6}",
        "single-node launch-to-ready, median", median, TARGET_READY_MS
    );
    println!(
        "  {:<44} {:>12.2} {:>10} {verdict:>6}",
        "  ratio median / target (<= 1.0)", ratio, "1.00"
    );
    println!(
        "  {:<44} {:>9} ms",
        "  min .. max",
        format!("{}..{}", ready[0], ready[ready.len() - 1])
    );
    println!(
        "  {:<44} {:>9} ms",
        "single-node Broker::start call, median",
        median_of(samples.iter().map(|s| s.start_ms))
    );
    println!(
        "  {:<44} {:>9} ms",
        "single-node stop, median",
        median_of(samples.iter().map(|s| s.stop_ms))
    );
    println!(
        "  {:<44} {:>9} ms",
        "3-node cluster launch-to-ready (slowest node)", cluster.ready_ms
    );
    println!(
        "  {:<44} {:>9} ms",
        "3-node cluster Broker::start call", cluster.start_ms
    );
    println!("  {:<44} {:>9} ms", "3-node cluster stop", cluster.stop_ms);
    println!("  {:<44} {:>9} µs", "provision() on a warm cache", lib_us);
    println!(
        "  {:<44} {:>9} ms",
        "`esm-chaos provision` on a warm cache", cmd_ms
    );
}

fn median_of(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    median(&v)
}

/// Median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[u64]) -> u64 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
