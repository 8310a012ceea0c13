//! `plinth format`: canonical trajectories into any format.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use plinth_plugin::catalog;
use plinth_plugin::{PluginKind, PluginRuntime};
use plinth_record::trajectory::{RecordError, read_records};
use plinth_run::settings::{PluginLimitOptions, json_object, plugin_runtime};

#[derive(Args)]
pub struct FormatArgs {
    /// A formatter's name (hermes, mswea, openai, ...) or a .wasm file.
    #[arg(long)]
    format: String,
    /// Canonical trajectories, one JSON record per line.
    #[arg(long)]
    input: PathBuf,
    /// Formatter options as a JSON object, e.g. '{"variant": "batch_runner"}'.
    #[arg(long, alias = "options", alias = "format_options")]
    format_options: Option<String>,
    /// Write JSONL here instead of stdout.
    #[arg(
        long,
        alias = "output",
        alias = "output_file",
        conflicts_with = "output_dir"
    )]
    output_file: Option<PathBuf>,
    /// Write one file per trajectory here, named `<id><extension>`.
    #[arg(long, alias = "output_dir")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    plugin_limits: PluginLimitOptions,
}

pub async fn run(args: FormatArgs, extra: &[PathBuf]) -> Result<ExitCode> {
    let options = json_object("--format-options", args.format_options.as_deref())?;
    let runtime = PluginRuntime::new(plugin_runtime(&args.plugin_limits, 1)?)?;
    let formatter = catalog::find(&runtime, &args.format, PluginKind::Formatter, extra)
        .await?
        .into_formatter()?;
    let input = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut out: Box<dyn Write> = match &args.output_file {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut failures = 0usize;
    let jsonl = args.output_dir.is_none();
    for record in read_records(std::io::BufReader::new(input)) {
        let (line_no, trajectory) = match record {
            Ok(record) => record,
            Err(RecordError::Read(e)) => {
                return Err(e).with_context(|| format!("reading {}", args.input.display()));
            }
            Err(bad) => {
                failures += 1;
                eprintln!("{}:{bad}", args.input.display());
                continue;
            }
        };
        match formatter.format(&trajectory, &options, jsonl).await {
            Ok(text) => match &args.output_dir {
                Some(dir) => {
                    let path = dir.join(format!(
                        "{}{}",
                        trajectory.id, formatter.info.file_extension
                    ));
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => writeln!(out, "{text}")?,
            },
            Err(e) => {
                failures += 1;
                eprintln!(
                    "{}:{line_no} (id {}): {e}",
                    args.input.display(),
                    trajectory.id
                );
            }
        }
    }
    out.flush()?;
    Ok(if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
