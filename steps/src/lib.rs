//! esm-chaos's Cucumber layer: the World, the step vocabulary of STEPS.md, the runner that the
//! CLI and `cargo test` share, and the check that every step of a feature is known before
//! anything starts.

pub mod preflight;
pub mod runner;
pub mod steps;
pub mod world;

pub use runner::{RunOptions, RunSummary, run};
