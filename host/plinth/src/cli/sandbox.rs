//! `plinth sandbox`: housekeeping of sandboxes outside a run.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use plinth_sandbox::docker::{Engines, reap};

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Remove containers left behind by plinth runs that were killed (found
    /// by their `plinth.run` label). Containers of runs still going on this
    /// machine are kept.
    Reap(ReapArgs),
}

#[derive(Args)]
pub struct ReapArgs {
    /// Only containers at least this old, e.g. 30m or 2h [default: 0s].
    /// Runs started on other machines cannot be checked for life: give them
    /// an age no live run reaches.
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<Duration>,
    /// Docker engine to sweep (repeatable) [default: $DOCKER_HOST, else the
    /// local socket].
    #[arg(long = "docker-host")]
    docker_host: Vec<String>,
}

pub async fn run(command: SandboxCommand) -> Result<ExitCode> {
    match command {
        SandboxCommand::Reap(args) => {
            let engines = Engines::connect(&args.docker_host).await?;
            let reaped = reap(&engines, args.older_than.unwrap_or_default()).await?;
            for c in &reaped {
                println!(
                    "removed {} ({}) of run {} on {}, {} old",
                    c.name,
                    &c.id[..c.id.len().min(12)],
                    c.run,
                    c.engine,
                    humantime::format_duration(Duration::from_secs(c.age.as_secs()))
                );
            }
            eprintln!("plinth: {} container(s) removed", reaped.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
