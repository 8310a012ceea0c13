//! `plinth slurm script`: an `sbatch` job-array script that runs a batch as
//! N shards (`--shard I/N`), each resumable, for `plinth merge` to join.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum SlurmCommand {
    /// Print an sbatch script that runs `plinth run RUN_ARGS` as a job array
    /// of --shards tasks (submit it with `sbatch`).
    Script(ScriptArgs),
}

#[derive(Args)]
pub struct ScriptArgs {
    /// Array tasks, one shard each.
    #[arg(long)]
    shards: u32,
    /// Most array tasks running at once (sbatch's `%` limit).
    #[arg(long)]
    max_running: Option<u32>,
    /// Slurm job name.
    #[arg(long, default_value = "plinth")]
    job_name: String,
    /// Partition to submit to.
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per array task, as sbatch takes it (e.g. `4:00:00`).
    #[arg(long)]
    time: Option<String>,
    /// CPUs per array task.
    #[arg(long)]
    cpus: Option<u32>,
    /// Where each array task's log goes (a directory on the shared disk).
    #[arg(long, default_value = "logs")]
    logs: PathBuf,
    /// The plinth binary the nodes run [default: this one].
    #[arg(long)]
    plinth: Option<PathBuf>,
    /// The flags of `plinth run` (after `--`); every shard gets them, with
    /// `--shard I/N --resume`, so a failed array task re-submitted alone
    /// (`sbatch --array=I SCRIPT`) goes on where it stopped.
    #[arg(last = true, required = true)]
    run_args: Vec<String>,
}

pub fn run(command: SlurmCommand) -> Result<ExitCode> {
    let SlurmCommand::Script(args) = command;
    print!("{}", script(&args)?);
    Ok(ExitCode::SUCCESS)
}

fn script(args: &ScriptArgs) -> Result<String> {
    if args.shards == 0 {
        bail!("--shards must be at least 1");
    }
    if args
        .run_args
        .iter()
        .any(|a| a == "--shard" || a.starts_with("--shard="))
    {
        bail!("leave --shard out of the run's flags: each array task sets its own");
    }
    let plinth = match &args.plinth {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding this plinth binary")?,
    };
    let quote = |word: &str| {
        shlex::try_quote(word)
            .map(|q| q.into_owned())
            .map_err(|_| anyhow::anyhow!("{word:?} cannot be written in a shell script"))
    };
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name={}", quote(&args.job_name)?),
        format!(
            "#SBATCH --array=0-{}{}",
            args.shards - 1,
            args.max_running
                .map(|m| format!("%{m}"))
                .unwrap_or_default()
        ),
        format!(
            "#SBATCH --output={}",
            quote(&args.logs.join("%x-%A_%a.log").to_string_lossy())?
        ),
    ];
    if let Some(partition) = &args.partition {
        lines.push(format!("#SBATCH --partition={}", quote(partition)?));
    }
    if let Some(time) = &args.time {
        lines.push(format!("#SBATCH --time={}", quote(time)?));
    }
    if let Some(cpus) = args.cpus {
        lines.push(format!("#SBATCH --cpus-per-task={cpus}"));
    }
    lines.push(String::new());
    lines.push(format!(
        "# Array task I runs shard I of {}. The count is written here, not read from\n\
         # Slurm: re-submitting some tasks alone (sbatch --array=1 ...) must not change it.",
        args.shards
    ));
    lines.push("set -euo pipefail".into());
    let mut command = vec![
        quote(&plinth.to_string_lossy())?,
        "run".into(),
        "--shard".into(),
        format!("\"${{SLURM_ARRAY_TASK_ID}}/{}\"", args.shards),
        "--resume".into(),
    ];
    for arg in &args.run_args {
        command.push(quote(arg)?);
    }
    lines.push(format!("exec {}", command.join(" ")));
    Ok(lines.join("\n") + "\n")
}
