//! `plinth rescore`: re-grade recorded runs with a scorer, no model calls.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use plinth::plugin::{PluginRuntime, RuntimeConfig};
use plinth::rescore::Rescorer;
use plinth::trajectory::{RecordError, read_records};
use plinth::workspace::RepoCache;

use super::run::{RunArgs, sandbox_provider, scorers_from};

#[derive(Args)]
pub struct RescoreArgs {
    /// Canonical trajectories (`plinth run --format canonical`), one per line.
    #[arg(long)]
    input: PathBuf,
    /// Where the rescored canonical records go [default: stdout].
    #[arg(long)]
    output: Option<PathBuf>,
    /// Scorer name or .wasm file, optionally `NAME:WEIGHT` (repeatable).
    #[arg(long = "scorer", required = true)]
    scorer: Vec<String>,
    /// Scorer options (JSON object).
    #[arg(long)]
    scorer_config: Option<String>,
    /// Sandbox backend: local, docker, docker-pool [default: local].
    #[arg(long, alias = "env")]
    sandbox: Option<String>,
    /// Image for the docker backends (a record's `image` overrides it).
    #[arg(long)]
    image: Option<String>,
    /// Docker engine URL (repeatable).
    #[arg(long)]
    docker_host: Vec<String>,
    /// Default command timeout in seconds [default: 60].
    #[arg(long)]
    timeout: Option<u64>,
    /// Where bare clones of task repositories are cached.
    #[arg(long)]
    repo_cache: Option<PathBuf>,
    /// Records rescored at once [default: 1].
    #[arg(long)]
    concurrency: Option<usize>,
}

pub async fn run(args: RescoreArgs, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    let concurrency = args.concurrency.unwrap_or(1).max(1);
    let runtime = PluginRuntime::new(RuntimeConfig {
        max_instances: (concurrency as u32).saturating_mul(2).max(16),
        ..RuntimeConfig::default()
    })?;
    let scorers = scorers_from(
        &runtime,
        &args.scorer,
        args.scorer_config.as_deref(),
        extra_plugins,
    )
    .await?;
    let sandbox_args = RunArgs {
        sandbox: args.sandbox.clone(),
        image: args.image.clone(),
        docker_host: args.docker_host.clone(),
        timeout: args.timeout,
        ..RunArgs::default()
    };
    let sandboxes = sandbox_provider(&sandbox_args, None, concurrency).await?;
    let rescorer = Arc::new(Rescorer {
        sandboxes: sandboxes.clone(),
        repos: Arc::new(RepoCache::new(
            args.repo_cache
                .clone()
                .unwrap_or_else(RepoCache::default_dir),
        )),
        scorers,
    });

    let input = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut records = Vec::new();
    let mut bad = 0usize;
    for record in read_records(std::io::BufReader::new(input)) {
        match record {
            Ok((_, t)) => records.push(t),
            Err(RecordError::Read(e)) => {
                return Err(e).with_context(|| format!("reading {}", args.input.display()));
            }
            Err(e) => {
                bad += 1;
                eprintln!("{}:{e}", args.input.display());
            }
        }
    }
    if records.is_empty() && bad == 0 {
        bail!("no records in {}", args.input.display());
    }

    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    for record in records {
        let permit = slots.clone().acquire_owned().await.expect("semaphore open");
        let rescorer = rescorer.clone();
        running.spawn(async move {
            let rescored = rescorer.rescore(record).await;
            drop(permit);
            rescored
        });
    }
    let (mut scored, mut failed, mut total) = (0usize, 0usize, 0.0f64);
    while let Some(joined) = running.join_next().await {
        let t = joined.context("a rescoring task failed")?;
        match &t.score {
            Some(score) => {
                scored += 1;
                total += score.reward;
                tracing::info!("{} reward {}", t.id, score.reward);
            }
            None => {
                failed += 1;
                tracing::error!(
                    "{}: {}",
                    t.id,
                    t.error.as_deref().unwrap_or("InfrastructureError")
                );
            }
        }
        writeln!(out, "{}", serde_json::to_string(&t)?)?;
    }
    out.flush()?;
    sandboxes.shutdown().await;
    eprintln!(
        "plinth rescore: {scored} scored (mean reward {:.3}), {failed} could not be scored, {bad} bad line(s)",
        if scored > 0 {
            total / scored as f64
        } else {
            0.0
        }
    );
    Ok(if failed == 0 && bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
