//! What a scenario recorded and the verdicts on it, in a crate of their own so that the
//! separation is Cargo's to enforce: nothing here depends on the consumer (`esm`), the mock
//! function or the harness that drives them.
//!
//! - `history`: the operations and observations of one scenario, in order, with evidence.
//! - `contract`: the checkers' own model of what AWS documents (the event, the destination
//!   record, filters, the mapping's parts a checker judges by).
//! - `check`: pure verdicts over a history, judged by `contract`.

pub mod check;
pub mod contract;
pub mod history;
