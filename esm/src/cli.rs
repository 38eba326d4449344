//! The `esm-poller` command line (also run as `esm-chaos poller`): reads the mapping, refuses an
//! invalid one before connecting anywhere, and runs one poller until SIGTERM/SIGINT.

use crate::config::{CONFIG_BYTES_MAX, MappingConfig};
use crate::poller::{self, PollerOptions};
use clap::Parser;
use std::io::Read;
use std::path::Path;
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
    version,
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
    /// How log lines are written: `human` reads well on a terminal, `json` (one object a line,
    /// fields at the top level) is what the harness and log pipelines read. Default: `human` when
    /// stdout is a terminal, else `json`.
    #[arg(long, env = "ESM_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// The two ways `esm-poller` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl LogFormat {
    /// `human` on a terminal, `json` when stdout is a pipe or a file.
    fn for_stdout(chosen: Option<LogFormat>) -> LogFormat {
        use std::io::IsTerminal as _;
        chosen.unwrap_or(if std::io::stdout().is_terminal() {
            LogFormat::Human
        } else {
            LogFormat::Json
        })
    }
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
    init_logs(LogFormat::for_stdout(args.log_format));
    if let Some(warning) = opts.config.warning() {
        tracing::warn!(event = "config_ignored_fields", poller = %opts.poller_id, fields = %opts.config.ignored_fields.join(","), "{warning}");
    }
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

/// Everything checked before any connection: the config file, the mapping (every fault of it at
/// once), the servers.
fn options(args: &Args) -> Result<PollerOptions, String> {
    let text = read_config(&args.config)?;
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

/// The config file's text, refused past [`CONFIG_BYTES_MAX`].
fn read_config(path: &Path) -> Result<String, String> {
    let cannot = |e: std::io::Error| {
        format!(
            "cannot read the mapping config {}: {e} (pass --config FILE or set ESM_CHAOS_CONFIG)",
            path.display()
        )
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(CONFIG_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > CONFIG_BYTES_MAX {
        return Err(format!(
            "the mapping config {} is larger than {CONFIG_BYTES_MAX} bytes: give the JSON of one mapping",
            path.display()
        ));
    }
    Ok(text)
}

/// Log lines on stdout in `format`; `RUST_LOG` overrides the `info` default.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only where a person reads them, not in a file or a pipe.
        LogFormat::Human => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
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
    fn version_is_answered_without_a_config() {
        let err = Args::try_parse_from(args(&["--version"])).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")), "{err}");
        assert_eq!(main_with_args(args(&["--version"])), ExitCode::SUCCESS);
    }

    #[test]
    fn log_format_is_human_or_json_and_anything_else_is_refused() {
        let parsed = |format: &str| {
            Args::try_parse_from(args(&["--config", "c.json", "--log-format", format]))
                .map(|a| a.log_format)
        };
        assert_eq!(parsed("json").unwrap(), Some(LogFormat::Json));
        assert_eq!(parsed("human").unwrap(), Some(LogFormat::Human));
        assert!(
            parsed("xml")
                .unwrap_err()
                .to_string()
                .contains("--log-format")
        );
        assert_eq!(
            LogFormat::for_stdout(Some(LogFormat::Json)),
            LogFormat::Json
        );
        let code = main_with_args(args(&["--config", "c.json", "--log-format", "xml"]));
        assert_eq!(code, ExitCode::from(EXIT_INVALID_CONFIG));
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn every_fault_of_the_config_is_reported_with_exit_2() {
        let file = config_file(
            r#"{"FunctionName": "f", "Topics": ["t"], "StartingPosition": "NOW", "BatchSize": 0,
                "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["h:1"]}}}"#,
        );
        let path = file.path().to_str().unwrap();
        let why = options(&Args::try_parse_from(args(&["--config", path])).unwrap()).unwrap_err();
        assert!(why.starts_with("invalid mapping config: 2 faults"), "{why}");
        assert!(why.contains("\n  - StartingPosition = \"NOW\""), "{why}");
        assert!(
            why.contains("\n  - BatchSize = 0: allowed 1 to 10000"),
            "{why}"
        );
        let code = main_with_args(args(&["--config", path]));
        assert_eq!(code, ExitCode::from(EXIT_INVALID_CONFIG));
    }

    #[test]
    fn an_oversized_config_file_is_refused() {
        let file = config_file(&" ".repeat(CONFIG_BYTES_MAX as usize + 1));
        let why = read_config(file.path()).unwrap_err();
        assert!(why.contains("larger than 1048576 bytes"), "{why}");
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
