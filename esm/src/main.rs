//! `esm-poller`: one poller of an ESM-compatible Kafka event source mapping.

fn main() -> std::process::ExitCode {
    esm::cli::main_with_args(std::env::args())
}
