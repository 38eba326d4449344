//! The esm-chaos harness: a real Kafka broker, a mock Lambda function, the consumer under test
//! run as child processes, faults, one recorded history per scenario, and checkers that judge it.
//!
//! Modules follow Jepsen's split: `broker` (the database), `mapping` (the client: the consumer
//! processes), `lambda` (the function), `nemesis` (faults), `schedule` (the generator of random
//! faults), `history`, `check` (pure verdicts, judged by `contract`: the checkers' own model of
//! AWS), `report` (artifacts and the timeline picture). `scenario` ties them together for the
//! steps.

pub mod admin;
pub mod broker;
pub mod lambda;
pub mod mapping;
pub mod names;
pub mod nemesis;
pub mod procs;
pub mod proxy;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod schedule;
pub mod wait;

// The history and its checkers live in a crate that cannot depend on the consumer.
pub use checker::{check, contract, history};
