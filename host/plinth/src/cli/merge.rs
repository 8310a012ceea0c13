//! `plinth merge`: shard outputs into one dataset, with what is missing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use plinth_run::merge::merge;

#[derive(Args)]
pub struct MergeArgs {
    /// Canonical outputs of the shards (and of any re-runs), in any order.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// The batch's task file: report the tasks without a good record and
    /// write them to `<output>.rerun.jsonl`.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Where the merged records go (one per task and rollout; the report is
    /// written beside it as `<output>.merge.json`).
    #[arg(short = 'o', long = "output-file", alias = "output")]
    output: PathBuf,
}

pub fn run(args: MergeArgs) -> Result<ExitCode> {
    if args.shards.contains(&args.output) {
        bail!(
            "{}: the merged output cannot also be an input",
            args.output.display()
        );
    }
    let report = merge(&args.shards, args.input.as_deref(), &args.output)?;
    for line in &report.bad_lines {
        eprintln!("skipped {line}");
    }
    eprintln!(
        "plinth: {} record(s) from {} file(s) -> {} ({} duplicate(s) dropped)",
        report.records,
        args.shards.len(),
        args.output.display(),
        report.duplicates_dropped
    );
    let incomplete = report.missing.len() + report.errored.len();
    if let Some(rerun) = &report.rerun_tasks {
        eprintln!(
            "  missing: {} task(s) {}\n  errored: {} task(s) {}",
            report.missing.len(),
            shown(&report.missing),
            report.errored.len(),
            shown(&report.errored)
        );
        eprintln!(
            "  re-run just those with the run's flags, then merge again with its output:\n    \
             plinth run --prompts-file {} --output-file {} ...\n    \
             plinth merge {} {} --input {} -o {}",
            rerun.display(),
            args.output.with_extension("rerun.out.jsonl").display(),
            args.shards
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            args.output.with_extension("rerun.out.jsonl").display(),
            args.input
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            args.output.display()
        );
    }
    // 2: merged, but the dataset is incomplete (as a run whose tasks failed).
    Ok(if incomplete == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The first few ids, for a terminal line.
fn shown(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", ids.len() - SHOWN));
    }
    if text.is_empty() {
        text
    } else {
        format!("({text})")
    }
}
