//! What both benchmarks share: a runtime that cleans up every child on exit and on Ctrl-C, and
//! bounded numbers from the environment.

use anyhow::{Context, Result, bail};
use harness::procs;
use std::future::Future;

/// Runs `bench` on a fresh runtime; brokers and pollers never outlive it.
pub fn run_bench<F: Future<Output = Result<()>>>(bench: impl FnOnce() -> F) -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    let outcome = rt.block_on(async {
        procs::install_interrupt_handler();
        bench().await
    });
    procs::cleanup();
    outcome
}

/// A whole number from `var` (underscores allowed), `default` when unset, refused outside
/// 1..=`max` with the variable and the range named.
pub fn number_from_env(var: &str, default: u64, max: u64) -> Result<u64> {
    let Ok(text) = std::env::var(var) else {
        return Ok(default);
    };
    match text.trim().replace('_', "").parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => bail!("{var}={text:?}: must be a whole number from 1 to {max}"),
    }
}
