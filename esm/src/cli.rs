//! The `esm-poller` command line (also run as `esm-chaos poller`): reads the mapping, refuses an
//! invalid one before connecting anywhere, and runs one poller until SIGTERM/SIGINT.

use crate::config::MappingConfig;
use crate::poller::{self, PollerOptions};
use clap::Parser;
use std::process::ExitCode;

/// Exit code for a refused configuration or command line.
pub const EXIT_INVALID_CONFIG: u8 = 2;
/// Exit code for a failure while running (cannot create the consumer, ...).
pub const EXIT_RUN_FAILED: u8 = 1;
/// The Invoke API's longest function timeout for Kafka ESMs: 14 minutes.
pub const FUNCTION_TIMEOUT_MAX_MS: u64 = 840_000;

#[derive(Debug, Parser)]
#[command(
    name = "esm-poller",
    about = "One poller of an ESM-compatible Kafka event source mapping"
)]
pub struct Args {
    /// The mapping in AWS's CreateEventSourceMapping JSON shape.
    #[arg(long, env = "ESM_CHAOS_CONFIG", value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// Where the Lambda Invoke API is served.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL_LAMBDA",
        default_value = "http://127.0.0.1:9001"
    )]
    pub endpoint: String,
    /// host:port list; overrides the config's KAFKA_BOOTSTRAP_SERVERS (required for MSK configs).
    #[arg(long, env = "ESM_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// The mapping's UUID: the consumer group when no ConsumerGroupId is set. Default: random.
    #[arg(long, env = "ESM_MAPPING_UUID")]
    pub uuid: Option<String>,
    /// An invocation with no answer within this is a function error.
    #[arg(long, env = "ESM_FUNCTION_TIMEOUT_MS", default_value_t = FUNCTION_TIMEOUT_MAX_MS,
          value_parser = clap::value_parser!(u64).range(1..=FUNCTION_TIMEOUT_MAX_MS))]
    pub function_timeout_ms: u64,
    /// A name for this poller in logs.
    #[arg(long, env = "ESM_POLLER_ID", default_value = "1")]
    pub poller_id: String,
}

/// Parses `args` (the first is the program name), runs a poller, returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_INVALID_CONFIG)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let opts = match options(&args) {
        Ok(o) => o,
        Err(why) => {
            eprintln!("esm-poller: {why}");
            return ExitCode::from(EXIT_INVALID_CONFIG);
        }
    };
    init_logs();
    if !opts.config.enabled {
        tracing::info!(event = "disabled", poller = %opts.poller_id, "Enabled is false: not joining the group");
        return ExitCode::SUCCESS;
    }
    match poller::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(event = "failed", error = %e);
            eprintln!("esm-poller: {e}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// Everything checked before any connection: the config file, the mapping, the servers.
fn options(args: &Args) -> Result<PollerOptions, String> {
    let text = std::fs::read_to_string(&args.config).map_err(|e| {
        format!(
            "cannot read the mapping config {}: {e} (pass --config FILE or set ESM_CHAOS_CONFIG)",
            args.config.display()
        )
    })?;
    let config = MappingConfig::from_json(&text).map_err(|e| e.to_string())?;
    let bootstrap_servers = match &args.bootstrap_servers {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ if !config.bootstrap_servers.is_empty() => config.bootstrap_servers.join(","),
        _ => {
            return Err("no bootstrap servers: set SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS \
                 in the mapping, or pass --bootstrap-servers / ESM_BOOTSTRAP_SERVERS (required for MSK)"
                .to_string());
        }
    };
    let uuid = args
        .uuid
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    Ok(PollerOptions {
        group_id: config.group_id(&uuid),
        config,
        endpoint: args.endpoint.clone(),
        bootstrap_servers,
        function_timeout_ms: args.function_timeout_ms,
        poller_id: args.poller_id.clone(),
    })
}

/// JSON lines on stdout, fields at the top level; `RUST_LOG` overrides the `info` default.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("esm-poller")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_missing_config_file_is_refused_with_exit_2() {
        let code = main_with_args(args(&["--config", "/nonexistent/esm.json"]));
        assert_eq!(code, ExitCode::from(EXIT_INVALID_CONFIG));
    }

    #[test]
    fn a_function_timeout_out_of_range_is_refused() {
        let parsed =
            Args::try_parse_from(args(&["--config", "x", "--function-timeout-ms", "840001"]));
        assert!(parsed.is_err());
        let ok =
            Args::try_parse_from(args(&["--config", "x", "--function-timeout-ms", "1"])).unwrap();
        assert_eq!(ok.function_timeout_ms, 1);
    }
}
