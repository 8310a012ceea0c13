//! `plinth stats`: a run's figures in the terminal, or as JSON (the figures
//! of the `summary.json` a run leaves).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use plinth_run::stats::{RunFileError, Tally, each_record};

#[derive(Args)]
pub struct StatsArgs {
    /// Canonical trajectories (`--format canonical` output, or a checkpoint
    /// journal), one per line. Bad lines are skipped with a warning.
    input: PathBuf,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: StatsArgs) -> Result<ExitCode> {
    let mut tally = Tally::default();
    let skipped = each_record::<RunFileError>(&args.input, |t| {
        tally.add(&t);
        Ok(())
    })?;
    let stats = tally.stats();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        print!("{stats}");
        if !skipped.is_empty() {
            println!("\n{} bad line(s) skipped", skipped.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}
