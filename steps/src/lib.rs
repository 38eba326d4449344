//! esm-chaos's Cucumber layer: the World, the step vocabulary of docs/STEPS.md, the runner that the
//! CLI and `cargo test` share, and the check that every step of a feature is known before
//! anything starts.
//!
//! In a crate of your own, a `harness = false` test target runs your features with the same
//! flags as the CLI:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     esm_chaos::run_main(&["features"])
//! }
//! ```

pub mod cli;
pub mod preflight;
pub mod progress;
pub mod runner;
pub mod select;
pub mod steps;
pub mod vocabulary;
pub mod world;

pub use cli::run_main;
pub use runner::{RunOptions, RunSummary, exit, run};
