//! The command line shared by the `esm-chaos` binary and a user's `cargo test` target:
//! `run`'s flags, the `broker` command, and [`run_main`], which takes the flags from a test
//! binary's own arguments so `cargo test --test esm -- --name LATEST` works.

use crate::runner::{CONCURRENCY_DEFAULT, RunOptions, exit};
use crate::select::Partition;
use harness::broker::{BackendKind, Broker, BrokerOptions};
use harness::mapping::ConsumerCommand;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `esm-chaos run` (and of a `cargo test` target calling [`run_main`]).
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Feature files or folders; `FILE:LINE` picks one scenario (or Examples row).
    pub paths: Vec<PathBuf>,
    /// Tag expression, e.g. "not @slow".
    #[arg(long, env = "ESM_CHAOS_TAGS")]
    pub tags: Option<String>,
    /// Only scenarios whose name matches this regular expression.
    #[arg(long, env = "ESM_CHAOS_NAME")]
    pub name: Option<String>,
    /// Run shard K of N (e.g. 2/4): every scenario falls in exactly one shard.
    #[arg(long, env = "ESM_CHAOS_PARTITION")]
    pub partition: Option<Partition>,
    /// Print the selected scenarios (file:line and name), one a line, and run nothing.
    #[arg(long)]
    pub list: bool,
    /// Start no new scenario once one has failed.
    #[arg(long)]
    pub fail_fast: bool,
    /// Where Kafka comes from.
    #[arg(long, env = "ESM_CHAOS_BROKER", default_value = "local")]
    pub broker: BackendKind,
    /// An existing cluster (implies --broker external).
    #[arg(long, env = "ESM_CHAOS_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// offsets.retention.minutes of the shared broker (Kafka's floor is 1); with an external
    /// cluster, what it is configured with.
    #[arg(long, default_value_t = 1)]
    pub retention_minutes: u32,
    /// Folder for failed scenarios' history, logs and timeline, and the durations file
    /// [default: reports].
    #[arg(long, env = "ESM_CHAOS_REPORT")]
    pub report: Option<PathBuf>,
    /// Write reports for passing scenarios too.
    #[arg(long)]
    pub report_all: bool,
    /// JUnit XML output file.
    #[arg(long, env = "ESM_CHAOS_JUNIT")]
    pub junit: Option<PathBuf>,
    /// Cucumber JSON output file.
    #[arg(long)]
    pub cucumber_json: Option<PathBuf>,
    /// Seed for random choices; printed at start so a run can be replayed.
    #[arg(long, env = "ESM_CHAOS_SEED")]
    pub seed: Option<u64>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = CONCURRENCY_DEFAULT)]
    pub concurrency: usize,
}

impl RunArgs {
    /// The runner's options; the defaults fill what was not given.
    pub fn into_options(self, defaults: &Defaults) -> RunOptions {
        let mut broker = BrokerOptions::local_default();
        broker.backend = self.broker;
        broker.offsets_retention_minutes = self.retention_minutes;
        if self.bootstrap_servers.is_some() {
            broker.backend = BackendKind::External;
        }
        broker.external_bootstrap_servers = self.bootstrap_servers;
        let paths = if self.paths.is_empty() {
            defaults.paths.iter().map(PathBuf::from).collect()
        } else {
            self.paths
        };
        RunOptions {
            paths,
            tags: self.tags,
            name: self.name,
            partition: self.partition,
            list: self.list,
            fail_fast: self.fail_fast,
            broker,
            report_dir: self
                .report
                .unwrap_or_else(|| PathBuf::from(defaults.report_dir)),
            report_all: self.report_all,
            junit: self.junit,
            cucumber_json: self.cucumber_json,
            seed: self.seed,
            concurrency: self.concurrency,
            consumer: consumer_command(),
        }
    }
}

/// `ESM_CHAOS_CONSUMER`, else this very executable as `<exe> poller` (the CLI and every
/// [`run_main`] binary answer to `poller`).
pub fn consumer_command() -> ConsumerCommand {
    ConsumerCommand::from_env().unwrap_or_else(|| ConsumerCommand {
        program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("esm-chaos")),
        args: vec!["poller".to_string()],
    })
}

#[derive(clap::Parser, Debug)]
#[command(
    name = "esm-chaos",
    about = "esm-chaos scenarios as a cargo test target"
)]
struct TestArgs {
    #[command(flatten)]
    run: RunArgs,
}

/// Flags `cargo test` may hand every test binary; they mean nothing here.
const LIBTEST_FLAGS: &[&str] = &[
    "--nocapture",
    "--show-output",
    "--quiet",
    "-q",
    "--exact",
    "--include-ignored",
];
/// libtest flags that take a value.
const LIBTEST_VALUE_FLAGS: &[&str] = &["--test-threads", "--color", "--format"];

/// What a run uses when the command line does not say.
#[derive(Debug, Clone, Copy)]
pub struct Defaults<'a> {
    pub paths: &'a [&'a str],
    pub report_dir: &'a str,
}

impl Defaults<'_> {
    pub const CLI: Defaults<'static> = Defaults {
        paths: &["features"],
        report_dir: "reports",
    };
}

/// The entry point of a `harness = false` test target: `esm_chaos::run_main(&["features"])`.
/// Takes `run`'s flags from the process arguments; a bare word that is no path narrows by
/// scenario name as `cargo test WORD` does. Also serves as the poller the scenarios start.
pub fn run_main(default_paths: &[&str]) -> ExitCode {
    run_main_with(&Defaults {
        paths: default_paths,
        report_dir: Defaults::CLI.report_dir,
    })
}

/// [`run_main`] with a chosen report folder too.
pub fn run_main_with(defaults: &Defaults) -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "poller") {
        let rest = args
            .iter()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned());
        return esm::cli::main_with_args(std::iter::once("esm-poller".to_string()).chain(rest));
    }
    if args.iter().any(|a| a == "--ignored") {
        println!("esm-chaos: no scenario is ignored");
        return ExitCode::SUCCESS;
    }
    let parsed = match <TestArgs as clap::Parser>::try_parse_from(without_libtest_flags(args)) {
        Ok(parsed) => parsed.run,
        Err(e) => {
            let _ = e.print();
            // --help is no error.
            let code = if e.use_stderr() {
                exit::COULD_NOT_START
            } else {
                exit::PASSED
            };
            return ExitCode::from(code);
        }
    };
    let had_name = parsed.name.is_some();
    let parsed = match names_from_bare_words(parsed) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("esm-chaos: {e}");
            return ExitCode::from(exit::COULD_NOT_START);
        }
    };
    // `cargo test some_unit_test` hands its filter to every test binary: as in libtest, a bare
    // word that matches no scenario is no failure (an explicit --name that matches none is).
    let bare_words = parsed.name.is_some() && !had_name;
    let opts = parsed.into_options(defaults);
    let result = crate::runner::block_on_run(opts);
    if bare_words && matches!(&result, Ok(summary) if summary.selected == 0) {
        println!("esm-chaos: no scenario name matches the test filter");
        return ExitCode::SUCCESS;
    }
    crate::runner::exit_code(result)
}

fn without_libtest_flags(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip_value = false;
    for arg in args {
        let text = arg.to_string_lossy();
        if skip_value {
            skip_value = false;
            continue;
        }
        if LIBTEST_FLAGS.contains(&text.as_ref()) {
            continue;
        }
        if LIBTEST_VALUE_FLAGS.contains(&text.as_ref()) {
            skip_value = true;
            continue;
        }
        if LIBTEST_VALUE_FLAGS
            .iter()
            .any(|f| text.starts_with(&format!("{f}=")))
        {
            continue;
        }
        out.push(arg);
    }
    out
}

/// `cargo test commit` hands "commit" to the binary: a word that names no file becomes the
/// name filter (several words are alternatives, each matched literally).
fn names_from_bare_words(mut args: RunArgs) -> Result<RunArgs, String> {
    let (paths, words): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .into_iter()
        .partition(|p| crate::select::Target::parse(p).path.exists());
    args.paths = paths;
    if words.is_empty() {
        return Ok(args);
    }
    let words: Vec<String> = words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    if args.name.is_some() {
        return Err(format!(
            "{words:?} is no feature file or folder, and --name is given too: \
             use one of a bare word or --name"
        ));
    }
    let alternatives: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    args.name = Some(alternatives.join("|"));
    Ok(args)
}

/// `esm-chaos broker`: the local Kafka in the foreground, for other tools and for
/// `run --broker external`.
#[derive(clap::Args, Debug, Clone)]
pub struct BrokerArgs {
    /// Brokers in the KRaft cluster (1 to 5).
    #[arg(long, default_value_t = 1)]
    pub nodes: u8,
    /// offsets.retention.minutes (Kafka's floor is 1).
    #[arg(long, default_value_t = 1)]
    pub retention_minutes: u32,
    /// Where Apache Kafka is cached.
    #[arg(long, env = "ESM_CHAOS_CACHE")]
    pub cache_dir: Option<PathBuf>,
}

/// The line `esm-chaos broker` prints once the cluster is ready; scripts wait for it.
pub const BOOTSTRAP_LINE_PREFIX: &str = "ESM_CHAOS_BOOTSTRAP_SERVERS=";

/// Starts the cluster, prints its bootstrap servers, and stops it on Ctrl-C or SIGTERM.
pub fn serve_broker(args: BrokerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("esm-chaos: cannot start the async runtime: {e}");
            return ExitCode::from(exit::COULD_NOT_START);
        }
    };
    let result = runtime.block_on(serve(args));
    harness::procs::cleanup();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esm-chaos: {e:#}");
            ExitCode::from(exit::COULD_NOT_START)
        }
    }
}

async fn serve(args: BrokerArgs) -> anyhow::Result<()> {
    let mut opts = BrokerOptions::local_default();
    opts.nodes = args.nodes;
    opts.offsets_retention_minutes = args.retention_minutes;
    if let Some(dir) = args.cache_dir {
        opts.cache_dir = dir;
    }
    opts.validate()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    crate::runner::check_prerequisites(&opts).await?;
    let broker = tokio::select! {
        started = Broker::start(opts.clone()) => started?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
        _ = term.recv() => return Ok(()),
    };
    println!(
        "esm-chaos: Apache Kafka {} is up: {} node(s), offsets retention {} min; Ctrl-C stops it",
        harness::broker::KAFKA_VERSION,
        broker.nodes(),
        opts.offsets_retention_minutes
    );
    println!("{BOOTSTRAP_LINE_PREFIX}{}", broker.bootstrap_servers());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("esm-chaos: stopping the broker");
    broker.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunArgs {
        let args = without_libtest_flags(args.iter().map(OsString::from).collect());
        <TestArgs as clap::Parser>::try_parse_from(args)
            .unwrap()
            .run
    }

    #[test]
    fn libtest_flags_are_dropped_and_run_flags_kept() {
        let args = parse(&[
            "esm",
            "--nocapture",
            "--test-threads",
            "1",
            "--name",
            "LATEST",
            "--partition",
            "1/2",
        ]);
        assert_eq!(args.name.as_deref(), Some("LATEST"));
        assert_eq!(args.partition, Some(Partition { index: 1, count: 2 }));
    }

    #[test]
    fn a_bare_word_is_a_literal_name_filter() {
        let args = names_from_bare_words(parse(&["esm", "a.b", "LATEST"])).unwrap();
        assert!(args.paths.is_empty());
        assert_eq!(args.name.as_deref(), Some(r"a\.b|LATEST"));
        let both = names_from_bare_words(parse(&["esm", "x", "--name", "y"]));
        assert!(both.unwrap_err().contains("--name"));
    }

    #[test]
    fn bootstrap_servers_imply_the_external_backend() {
        let opts =
            parse(&["esm", "--bootstrap-servers", "127.0.0.1:9092"]).into_options(&Defaults::CLI);
        assert_eq!(opts.broker.backend, BackendKind::External);
        assert_eq!(opts.paths, [PathBuf::from("features")]);
    }
}
