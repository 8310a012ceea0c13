//! `plinth rescore`: re-grade recorded runs with a scorer, no model calls.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use plinth_grade::rollout::Rollouts;
use plinth_grade::scoring::Scorers;
use plinth_plugin::PluginRuntime;
use plinth_record::defaults;
use plinth_record::trajectory::{RecordError, read_records};
use plinth_run::rescore::rescore;
use plinth_run::settings::{
    GrantOptions, PluginLimitOptions, SandboxOptions, SandboxSettings, ScoringOptions, grant,
    plugin_runtime, recorded_scoring,
};
use plinth_sandbox::workspace::RepoCache;

#[derive(Args)]
pub struct RescoreArgs {
    /// Canonical trajectories (`plinth run --format canonical`, or a run's
    /// checkpoint journal), one per line.
    #[arg(long)]
    input: PathBuf,
    /// Where the rescored canonical records go [default: stdout].
    #[arg(long, alias = "output")]
    output_file: Option<PathBuf>,
    #[command(flatten)]
    scoring: ScoringOptions,
    #[command(flatten)]
    sandbox: SandboxOptions,
    #[command(flatten)]
    plugin_limits: PluginLimitOptions,
    #[command(flatten)]
    grants: GrantOptions,
    /// Records rescored at once.
    #[arg(long, alias = "workers")]
    concurrency: Option<usize>,
}

pub async fn run(args: RescoreArgs, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    let concurrency = args.concurrency.unwrap_or(defaults::CONCURRENCY).max(1);
    let scoring = plinth_run::settings::resolve_scoring(&args.scoring)?;
    if scoring.scorers.is_empty() {
        bail!("give at least one --scorer to rescore with");
    }
    let sandbox = SandboxSettings::resolve(&args.sandbox, None)?;
    let mut plugins = plugin_runtime(&args.plugin_limits, concurrency)?;
    grant(&mut plugins, &args.grants, sandbox.kind)?;
    let runtime = PluginRuntime::new(plugins)?;
    let rollouts = Arc::new(Rollouts {
        sandboxes: sandbox.provider(concurrency).await?,
        repos: Arc::new(RepoCache::new(sandbox.repo_cache.clone())),
        scorers: Scorers::load(&runtime, &scoring, extra_plugins).await?,
        grading: scoring.grading.clone(),
        setup: sandbox.setup.clone(),
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

    let mut out: Box<dyn Write> = match &args.output_file {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let recorded = Arc::new(recorded_scoring(&scoring));
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut running = JoinSet::new();
    for record in records {
        let permit = slots.clone().acquire_owned().await?;
        let (rollouts, recorded) = (rollouts.clone(), recorded.clone());
        running.spawn(async move {
            let rescored = rescore(&rollouts, &recorded, record).await;
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
                    t.error.as_deref().unwrap_or(t.exit_status.as_str())
                );
            }
        }
        writeln!(out, "{}", serde_json::to_string(&t)?)?;
    }
    out.flush()?;
    rollouts.sandboxes.shutdown().await;
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
