//! The `plinth` command line.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use plinth_plugin::{PluginRuntime, RuntimeConfig};

/// Every step allocates and frees many small buffers on several threads
/// (request bodies, replies, records, journal lines): mimalloc's per-thread
/// free lists cost less there than glibc's arenas (see bench/run.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "plinth",
    version,
    about = "Run LLM software-engineering agents in sandboxes; tools, scorers and formatters are WebAssembly components"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// Load an extra plugin component (repeatable). Directories in
    /// PLINTH_PLUGIN_PATH are searched too.
    #[arg(long = "plugin", global = true, value_name = "FILE.wasm")]
    plugins: Vec<PathBuf>,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run an agent on one task or a JSONL file of tasks.
    Run(Box<plinth_run::settings::RunOptions>),
    /// Check an environment bundle, or show what a run of it would use.
    Env {
        #[command(subcommand)]
        command: cli::env::EnvCommand,
    },
    /// List and inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Turn canonical trajectories (JSONL) into another format.
    Format(cli::format::FormatArgs),
    /// Re-grade recorded runs with a scorer: fresh workspace, recorded patch,
    /// scorer; no model calls.
    Rescore(Box<cli::rescore::RescoreArgs>),
    /// A run's records as one self-contained HTML page: figures, a table of
    /// trajectories, each one's conversation, patch and test outcomes.
    Report(cli::report::ReportArgs),
    /// A run's figures: exit statuses, rewards, cost, tokens, durations,
    /// tool calls.
    Stats(cli::stats::StatsArgs),
    /// A run's `preds.json` and SWE-bench-shaped report (resolved /
    /// unresolved / error ids, per-instance test lists); `plinth swebench
    /// eval` grades predictions as SWE-bench's harness does, without a model.
    Swebench(cli::swebench::SweBenchArgs),
    /// Join the outputs of a batch's shards into one dataset: one record per
    /// task and rollout, and a report (with a task file) of what is missing.
    Merge(cli::merge::MergeArgs),
    /// Run a batch on a Slurm cluster as a job array of shards.
    Slurm {
        #[command(subcommand)]
        command: cli::slurm::SlurmCommand,
    },
    /// Start a plugin project (tool, scorer or formatter) in Rust, Python or
    /// JavaScript that builds into NAME.wasm with one command.
    New(cli::new::NewArgs),
    /// Housekeeping of sandboxes (e.g. containers left by a killed run).
    Sandbox {
        #[command(subcommand)]
        command: cli::sandbox::SandboxCommand,
    },
    /// Shell completions for plinth, written to stdout.
    ///
    /// bash: `plinth completions bash > ~/.local/share/bash-completion/completions/plinth`;
    /// zsh: into a directory on `$fpath` as `_plinth`; fish:
    /// `~/.config/fish/completions/plinth.fish`.
    Completions { shell: clap_complete::Shell },
    /// plinth's man page (roff), written to stdout: `plinth man > plinth.1`.
    Man,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Built-in and discovered plugins: name, kind, version, API version, source.
    List,
    /// A component's world, imports, exports and tools, or why it cannot load.
    Inspect {
        /// The component file.
        file: PathBuf,
    },
    /// Load a component and try it as plinth would: world and API version,
    /// `info`, tool schemas, a formatter on a sample trajectory; per-call
    /// time and peak memory under the limits given.
    Check {
        /// The component file.
        file: PathBuf,
        #[command(flatten)]
        limits: plinth_run::settings::PluginLimitOptions,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = parse_command_line();
    init_tracing(cli.global.verbose);
    raise_open_files_limit();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command line's definition, with every default from
/// `plinth_record::defaults` shown in the help of the flags it applies to:
/// `--help`, the completions and the man page are all made from it.
fn command() -> clap::Command {
    ["run", "rescore"]
        .into_iter()
        .fold(Cli::command(), |cli, name| {
            cli.mut_subcommand(name, plinth_run::settings::document_defaults)
        })
}

fn parse_command_line() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Every run in flight holds a connection to the model and a pipe per running
/// command, so a thousand in flight need more than the usual soft limit of
/// 1,024 open files: raise it to the hard limit, as servers commonly do.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::debug!("could not raise the open-files limit");
            }
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,plinth=info",
        1 => "debug,hyper=info,reqwest=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => cli::run::run(*args, &cli.global.plugins).await,
        Command::Plugins { command } => {
            let runtime = PluginRuntime::new(RuntimeConfig::default())?;
            match command {
                PluginsCommand::List => cli::plugins::list(&runtime, &cli.global.plugins).await,
                PluginsCommand::Inspect { file } => cli::plugins::inspect(&runtime, &file).await,
                PluginsCommand::Check { file, limits } => cli::plugins::check(&file, &limits).await,
            }
        }
        Command::Env { command } => cli::env::run(command, &cli.global.plugins).await,
        Command::Format(args) => cli::format::run(args, &cli.global.plugins).await,
        Command::Rescore(args) => cli::rescore::run(*args, &cli.global.plugins).await,
        Command::Report(args) => cli::report::run(args),
        Command::Stats(args) => cli::stats::run(args),
        Command::Swebench(args) => cli::swebench::run(args, &cli.global.plugins).await,
        Command::Sandbox { command } => cli::sandbox::run(command).await,
        Command::New(args) => cli::new::run(args),
        Command::Merge(args) => cli::merge::run(args),
        Command::Slurm { command } => cli::slurm::run(command),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "plinth", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
