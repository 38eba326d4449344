//! The esm-chaos CLI: a thin shell over the library's runner.

use clap::{Parser, Subcommand};
use esm_chaos::runner::{CONCURRENCY_DEFAULT, RunOptions};
use harness::broker::{BackendKind, BrokerOptions};
use harness::mapping::ConsumerCommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "esm-chaos",
    version,
    about = "Chaos tests for Kafka event source mappings against a real broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run feature files (default: features/).
    Run(RunArgs),
    /// Print every step phrase of the vocabulary.
    Steps,
    /// Download Apache Kafka into the cache (what the first run would do).
    Provision {
        #[arg(long, env = "ESM_CHAOS_CACHE")]
        cache_dir: Option<PathBuf>,
    },
    /// Run one ESM poller (the consumer under test); what the harness starts per poller.
    #[command(hide = true, disable_help_flag = true)]
    Poller {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Feature files or folders.
    #[arg(default_value = "features")]
    paths: Vec<PathBuf>,
    /// Tag expression, e.g. "not @slow".
    #[arg(long)]
    tags: Option<String>,
    /// Where Kafka comes from.
    #[arg(long, env = "ESM_CHAOS_BROKER", default_value = "local")]
    broker: BackendKind,
    /// An existing cluster (with --broker external).
    #[arg(long, env = "ESM_CHAOS_BOOTSTRAP_SERVERS")]
    bootstrap_servers: Option<String>,
    /// offsets.retention.minutes of the shared broker (Kafka's floor is 1).
    #[arg(long, default_value_t = 1)]
    retention_minutes: u32,
    /// Folder for failed scenarios' history, logs and timeline.
    #[arg(long, default_value = "reports")]
    report: PathBuf,
    /// Write reports for passing scenarios too.
    #[arg(long)]
    report_all: bool,
    /// JUnit XML output file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Cucumber JSON output file.
    #[arg(long)]
    cucumber_json: Option<PathBuf>,
    /// Seed for random choices; printed at start so a run can be replayed.
    #[arg(long)]
    seed: Option<u64>,
    /// Scenarios run at once on the shared broker.
    #[arg(long, default_value_t = CONCURRENCY_DEFAULT)]
    concurrency: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Poller { args } => {
            esm::cli::main_with_args(std::iter::once("esm-poller".to_string()).chain(args))
        }
        Command::Steps => {
            for def in esm_chaos::steps::definitions() {
                println!("{}", def.example);
            }
            ExitCode::SUCCESS
        }
        Command::Provision { cache_dir } => {
            let cache = cache_dir.unwrap_or_else(|| BrokerOptions::local_default().cache_dir);
            match harness::broker::provision(&cache, harness::broker::KAFKA_VERSION) {
                Ok(libs) => {
                    println!(
                        "Apache Kafka {} is in {}",
                        harness::broker::KAFKA_VERSION,
                        libs.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("esm-chaos: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run(args) => run(args),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let mut broker = BrokerOptions::local_default();
    broker.backend = args.broker;
    broker.offsets_retention_minutes = args.retention_minutes;
    broker.external_bootstrap_servers = args.bootstrap_servers;
    let consumer = ConsumerCommand::from_env().unwrap_or_else(|| ConsumerCommand {
        program: std::env::current_exe().expect("the running executable has a path"),
        args: vec!["poller".to_string()],
    });
    let opts = RunOptions {
        paths: args.paths,
        tags: args.tags,
        broker,
        report_dir: args.report,
        report_all: args.report_all,
        junit: args.junit,
        cucumber_json: args.cucumber_json,
        seed: args.seed,
        concurrency: args.concurrency,
        consumer,
    };
    esm_chaos::runner::exit_code(esm_chaos::runner::block_on_run(opts))
}
