//! esm-chaos scenarios as a `cargo test` target (`harness = false` in Cargo.toml): the
//! arguments after `--` are `esm-chaos run`'s flags.

fn main() -> std::process::ExitCode {
    esm_chaos::run_main(&["features"])
}
