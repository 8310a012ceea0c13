//! `plinth report`: a run's canonical records as one HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use plinth_run::report::write_report;

#[derive(Args)]
pub struct ReportArgs {
    /// Canonical trajectories (`--format canonical` output, or a checkpoint
    /// journal), one per line. Bad lines are skipped with a warning.
    input: PathBuf,
    /// The HTML file to write [default: the input with extension `.html`].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let output = args
        .output
        .unwrap_or_else(|| args.input.with_extension("html"));
    let report = write_report(&args.input, &output)?;
    eprintln!(
        "plinth report: {} trajectories{} -> {}",
        report.stats.trajectories,
        match report.skipped.len() {
            0 => String::new(),
            n => format!(", {n} bad line(s) skipped"),
        },
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}
