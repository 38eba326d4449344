//! The esm-chaos CLI: a thin shell over the library's runner.

use clap::{Parser, Subcommand};
use esm_chaos::cli::{BrokerArgs, Defaults, RunArgs};
use esm_chaos::exit;
use harness::broker::BrokerOptions;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "esm-chaos",
    version,
    about = "Chaos tests for Kafka event source mappings against a real broker",
    after_help = "Exit codes of `run`: 0 all passed (skips included), 1 a scenario failed, \
                  2 could not start, 4 nothing matched the filter, 130 interrupted."
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
    Steps {
        /// The reference as Markdown: phrase, what it needs, what it does (docs/STEPS.md's
        /// generated section).
        #[arg(long)]
        markdown: bool,
    },
    /// Download Apache Kafka into the cache (what the first run would do).
    Provision {
        #[arg(long, env = "ESM_CHAOS_CACHE")]
        cache_dir: Option<PathBuf>,
    },
    /// Start the local Kafka in the foreground and print its bootstrap servers; Ctrl-C stops it.
    Broker(BrokerArgs),
    /// Print the Apache Kafka version the local backend runs (a CI cache key).
    KafkaVersion,
    /// Run one ESM poller (the consumer under test); what the harness starts per poller.
    #[command(hide = true, disable_help_flag = true)]
    Poller {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Poller { args } => {
            esm::cli::main_with_args(std::iter::once("esm-poller".to_string()).chain(args))
        }
        Command::Steps { markdown: true } => {
            print!("{}", esm_chaos::vocabulary::markdown());
            ExitCode::SUCCESS
        }
        Command::Steps { markdown: false } => {
            for def in esm_chaos::steps::definitions() {
                println!("{}", def.example);
            }
            ExitCode::SUCCESS
        }
        Command::Provision { cache_dir } => provision(cache_dir),
        Command::Broker(args) => esm_chaos::cli::serve_broker(args),
        Command::KafkaVersion => {
            println!("{}", harness::broker::KAFKA_VERSION);
            ExitCode::SUCCESS
        }
        Command::Run(args) => {
            let opts = args.into_options(&Defaults::CLI);
            esm_chaos::runner::exit_code(esm_chaos::runner::block_on_run(opts))
        }
    }
}

fn provision(cache_dir: Option<PathBuf>) -> ExitCode {
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
            ExitCode::from(exit::COULD_NOT_START)
        }
    }
}
