//! An event source mapping (ESM) compatible Kafka consumer.
//!
//! It reads a mapping in AWS's CreateEventSourceMapping JSON shape, polls Kafka as a consumer
//! group, and invokes a function through the Lambda Invoke API with the batching, retry,
//! bisection, partial-failure, on-failure destination, filtering and commit behaviour of AWS's
//! ESM for Kafka. Pure logic (config, filter, event, response, batch, destination) is separate
//! from I/O (invoke, poller) so unit tests reach it.

pub mod batch;
pub mod cli;
pub mod config;
pub mod defects;
pub mod destination;
pub mod event;
pub mod fetch;
pub mod filter;
pub mod invoke;
pub mod poller;
pub mod rebootstrap;
pub mod response;
pub mod settle;
pub mod worker;
