//! Benchmark: whether the harness itself keeps up with a large run.
//!
//! Drives one scenario through the harness library as the steps do: a broker, a 6-partition
//! topic, an instant mock function, one poller (BatchSize 10,000), then `ESM_BENCH_RECORDS`
//! (default 1,200,000) records produced at `ESM_BENCH_RATE` per second (default 20,000), every
//! one awaited at the function, and every checker run through the entry point of the step
//! "every guarantee holds". Prints the rate the harness sustained end to end, the checkers' time
//! (target <= 3 s) and this process's peak RSS (target <= 1 GiB): the history, the mock function
//! and the checkers all live here; the poller is a process of its own. A miss is reported, not a
//! failure: the process exits 0 unless the scenario cannot run or a guarantee is broken.

use anyhow::{Context, Result, bail};
use harness::broker::BrokerOptions;
use harness::check;
use harness::lambda::Mode;
use harness::mapping::ConsumerCommand;
use harness::procs;
use harness::scenario::{Isolation, RunContext, Scenario};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RECORDS_DEFAULT: u64 = 1_200_000;
const RECORDS_MAX: u64 = 10_000_000;
const RATE_DEFAULT: u64 = 20_000;
/// The harness's own bound on "records are produced at R per second".
const RATE_MAX: u64 = 100_000;
const PARTITIONS: i32 = 6;
const BATCH_SIZE: &str = "10000";
/// After the last record is due, the function has this long to receive everything.
const DELIVERY_TAIL_TIMEOUT_MS: u64 = 300_000;
const TARGET_CHECKS_MS: u64 = 3_000;
const TARGET_PEAK_RSS_MIB: u64 = 1_024;
/// The sustained rate must be at least this share of the asked rate.
const TARGET_RATE_SHARE: f64 = 0.95;
const TOPIC: &str = "orders";
const FUNCTION: &str = "process";
const MAPPING: &str = "esm";

mod common;

fn main() -> Result<()> {
    common::run_bench(run)
}

struct Measured {
    records: u64,
    rate_asked: u64,
    /// First record due to every record at the function.
    delivered: Duration,
    checks: Duration,
    peak_rss_kib: u64,
}

async fn run() -> Result<()> {
    let records_asked = common::number_from_env("ESM_BENCH_RECORDS", RECORDS_DEFAULT, RECORDS_MAX)?;
    let rate = common::number_from_env("ESM_BENCH_RATE", RATE_DEFAULT, RATE_MAX)?;
    let seconds = records_asked.div_ceil(rate);
    let reports = tempfile::Builder::new()
        .prefix("esm-bench-scale-")
        .tempdir()
        .context("cannot create a report folder")?;
    let ctx = Arc::new(RunContext::new(
        BrokerOptions::local_default(),
        ConsumerCommand {
            program: PathBuf::from(env!("CARGO_BIN_EXE_esm-chaos")),
            args: vec!["poller".to_string()],
        },
        reports.path().to_path_buf(),
        false,
        1,
    ));
    let scenario = Scenario::new(ctx.clone(), "harness_scale", Isolation::default())?;
    let measured = drive(scenario, rate, seconds).await;
    ctx.shutdown().await;
    let measured = measured?;
    print_summary(&measured);
    if procs::live_count() != 0 {
        bail!(
            "{} child process group(s) still alive after the benchmark",
            procs::live_count()
        );
    }
    Ok(())
}

/// Runs the scenario and always finishes it (pollers and producers stopped) before returning.
async fn drive(mut scenario: Scenario, rate: u64, seconds: u64) -> Result<Measured> {
    let outcome = measure(&mut scenario, rate, seconds).await;
    scenario.finish(outcome.is_err()).await;
    outcome
}

async fn measure(s: &mut Scenario, rate: u64, seconds: u64) -> Result<Measured> {
    s.use_broker(1, None).await?;
    s.create_topic(TOPIC, PARTITIONS, None).await?;
    s.define_function(FUNCTION, Mode::Succeed, 0).await;
    s.define_mapping_from_table(
        MAPPING,
        TOPIC,
        FUNCTION,
        &[("BatchSize".to_string(), BATCH_SIZE.to_string())],
    )?;
    s.start_mapping(MAPPING, 1).await?;
    let records = rate * seconds;
    println!("producing {records} records at {rate}/s for {seconds} s");
    let started = Instant::now();
    s.produce_at_rate(TOPIC, rate, seconds).await?;
    let timeout = Duration::from_secs(seconds) + Duration::from_millis(DELIVERY_TAIL_TIMEOUT_MS);
    s.await_every_record(FUNCTION, TOPIC, timeout, None).await?;
    let delivered = started.elapsed();
    println!(
        "every record at the function after {} ms",
        delivered.as_millis()
    );
    let checking = Instant::now();
    // The entry point of the step "every guarantee holds".
    s.run_checks(None, check::all).await?;
    let checks = checking.elapsed();
    Ok(Measured {
        records,
        rate_asked: rate,
        delivered,
        checks,
        peak_rss_kib: own_peak_rss_kib().context("cannot read VmHWM from /proc/self/status")?,
    })
}

/// VmHWM (peak resident set) of this process, in KiB.
fn own_peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn print_summary(m: &Measured) {
    let sustained = m.records as f64 / m.delivered.as_secs_f64().max(1e-9);
    let rate_floor = m.rate_asked as f64 * TARGET_RATE_SHARE;
    let checks_ms = u64::try_from(m.checks.as_millis()).unwrap_or(u64::MAX);
    let rss_mib = m.peak_rss_kib / 1024;
    println!();
    println!(
        "harness_scale: {} records at {}/s on {PARTITIONS} partitions, BatchSize {BATCH_SIZE}, one poller",
        m.records, m.rate_asked
    );
    println!(
        "  {:<46} {:>12} {:>12} {:>6}",
        "measure", "value", "target", ""
    );
    println!(
        "  {:<46} {:>12.0} {:>12} {:>6}",
        "records/s, first due to all at the function",
        sustained,
        format!(">= {rate_floor:.0}"),
        verdict(sustained >= rate_floor)
    );
    println!(
        "  {:<46} {:>9} ms {:>9} ms {:>6}",
        "checkers (every guarantee holds)",
        checks_ms,
        TARGET_CHECKS_MS,
        verdict(checks_ms <= TARGET_CHECKS_MS)
    );
    println!(
        "  {:<46} {:>8} MiB {:>8} MiB {:>6}",
        "runner peak RSS (VmHWM)",
        rss_mib,
        TARGET_PEAK_RSS_MIB,
        verdict(rss_mib <= TARGET_PEAK_RSS_MIB)
    );
}
