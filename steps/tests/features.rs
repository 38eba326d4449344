//! `cargo test` runs the feature files through the same entry point a user's crate calls:
//! `cargo test --test features -- --name LATEST` (or `-- features/commit.feature:12`, or a
//! bare word as a name filter) takes `esm-chaos run`'s flags. ESM_CHAOS_FEATURES points
//! elsewhere than this repository's features/.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Paths on the command line and in the output read from the workspace root, as in the CLI.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    if let Err(e) = std::env::set_current_dir(root) {
        eprintln!("esm-chaos: cannot enter the workspace root {root}: {e}");
        return ExitCode::from(esm_chaos::exit::COULD_NOT_START);
    }
    let features = std::env::var("ESM_CHAOS_FEATURES")
        .ok()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "features".to_string());
    esm_chaos::run_main(&[features.as_str()])
}
