//! `cargo test` runs the feature files through the same runner as `esm-chaos run`.
//! ESM_CHAOS_TAGS narrows the run (e.g. "not @slow"); ESM_CHAOS_FEATURES points elsewhere.

use esm_chaos::runner::{CONCURRENCY_DEFAULT, RunOptions};
use harness::broker::BrokerOptions;
use harness::mapping::ConsumerCommand;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let features = std::env::var_os("ESM_CHAOS_FEATURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("features"));
    let consumer = ConsumerCommand::from_env().unwrap_or_else(|| ConsumerCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_esm-chaos")),
        args: vec!["poller".to_string()],
    });
    let opts = RunOptions {
        paths: vec![features],
        tags: std::env::var("ESM_CHAOS_TAGS")
            .ok()
            .filter(|t| !t.is_empty()),
        broker: BrokerOptions::from_env(),
        report_dir: root.join("reports"),
        report_all: false,
        junit: std::env::var_os("ESM_CHAOS_JUNIT").map(PathBuf::from),
        cucumber_json: None,
        seed: std::env::var("ESM_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok()),
        concurrency: CONCURRENCY_DEFAULT,
        consumer,
    };
    esm_chaos::runner::exit_code(esm_chaos::runner::block_on_run(opts))
}
