//! `plinth swebench`: a run's `preds.json` and SWE-bench-shaped report, from
//! its canonical records (`plinth run` writes them itself beside a canonical
//! JSONL output).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use plinth_run::store::Layout;

#[derive(Args)]
pub struct SweBenchArgs {
    /// Canonical trajectories (`--format canonical` output, or a checkpoint
    /// journal). Bad lines are skipped with a warning.
    input: PathBuf,
    /// Where `preds.json` goes [default: <stem>.preds.json beside the input].
    #[arg(long)]
    preds: Option<PathBuf>,
    /// Where the run report goes [default: <stem>.swebench.json beside the
    /// input].
    #[arg(long)]
    report: Option<PathBuf>,
}

pub fn run(args: SweBenchArgs) -> Result<ExitCode> {
    let beside = Layout::Jsonl(args.input.clone());
    let preds = args.preds.unwrap_or_else(|| beside.beside(PREDS));
    let report = args.report.unwrap_or_else(|| beside.beside(REPORT));
    let instances = plinth_run::swebench::write(&args.input, &preds, &report)?;
    if instances == 0 {
        bail!(
            "{}: no record of a SWE task (a task with a repository, whose record has a patch)",
            args.input.display()
        );
    }
    eprintln!(
        "{instances} instance(s)\n  predictions: {}\n  report: {}",
        preds.display(),
        report.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The names `plinth run` and `plinth swebench` give the files beside a run.
pub const PREDS: &str = "preds.json";
pub const REPORT: &str = "swebench.json";
