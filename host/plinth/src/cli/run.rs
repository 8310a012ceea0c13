//! `plinth run`: the main job. Settings come resolved from
//! [`plinth_run::settings`]; this module wires the parts together.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::swebench::{PREDS, REPORT};

use plinth_agent::{Agent, Toolbox};
use plinth_grade::rollout::Rollouts;
use plinth_grade::scoring::Scorers;
use plinth_model::{ChatModel, ModelClient, ReplayModel};
use plinth_plugin::catalog;
use plinth_plugin::{PluginKind, PluginRuntime};
use plinth_record::settings::RecordedSettings;
use plinth_record::task::Task;
use plinth_run::atropos::{self, AtroposConfig};
use plinth_run::batch::{BatchConfig, OutputFormat, RunContext, Summary, run_batch};
use plinth_run::scored::ScoredFile;
use plinth_run::settings::{
    ModelChoice, OutputTarget, RunOptions, RunSettings, TaskSource, record_plugins,
};
use plinth_run::store::{Layout, Resume, TrajectoryStore, save_json};
use plinth_sandbox::workspace::RepoCache;

pub async fn run(options: RunOptions, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    let settings = RunSettings::resolve(options.with_config_file()?)?;
    let (mut tasks, bad_lines) = load_tasks(&settings.tasks)?;
    if let Some(shard) = settings.shard {
        let all = tasks.len();
        tasks.retain(|task| shard.contains(&task.id));
        eprintln!("plinth: shard {shard}: {} of {all} task(s)", tasks.len());
    }

    let model: Arc<dyn ChatModel> = match &settings.model {
        ModelChoice::Replay(path) => Arc::new(ReplayModel::load(path)?),
        ModelChoice::Api(config) => {
            if config.price.is_none() {
                tracing::warn!(
                    "no price known for model `{}`: its cost counts as 0",
                    config.model
                );
            }
            Arc::new(ModelClient::new((**config).clone())?)
        }
    };

    let runtime = PluginRuntime::new(settings.plugins.clone())?;
    let mut recorded = RecordedSettings::from(&settings);
    let mut tools = Vec::new();
    let terminal = settings.terminal.then(|| PathBuf::from("terminal"));
    for spec in terminal.iter().chain(&settings.tools) {
        let spec = spec.to_string_lossy();
        tools.push(
            catalog::find(&runtime, &spec, PluginKind::Tool, extra_plugins)
                .await?
                .into_tool()?,
        );
    }
    record_plugins(&mut recorded, tools.iter().map(|t| &t.meta));
    let toolbox = Arc::new(Toolbox::new(tools)?);
    let scorers = Scorers::load(&runtime, &settings.scoring, extra_plugins).await?;
    record_plugins(&mut recorded, scorers.plugins());
    let format = if settings.format == "canonical" {
        OutputFormat::Canonical
    } else {
        let formatter = catalog::find(
            &runtime,
            &settings.format,
            PluginKind::Formatter,
            extra_plugins,
        )
        .await?
        .into_formatter()?;
        record_plugins(&mut recorded, [&formatter.meta]);
        OutputFormat::Plugin {
            formatter: Box::new(formatter),
            options: settings.format_options.clone(),
        }
    };

    let agent = Arc::new(Agent::new(settings.agent.clone(), model, toolbox));
    let sandboxes = settings.sandbox.provider(settings.concurrency).await?;

    let (layout, jsonl) = match (&settings.output, &format) {
        (OutputTarget::Files(dir), OutputFormat::Plugin { formatter, .. }) => (
            Layout::Files {
                dir: dir.clone(),
                extension: formatter.info.file_extension.clone(),
            },
            false,
        ),
        (OutputTarget::Files(dir), OutputFormat::Canonical) => (
            Layout::Files {
                dir: dir.clone(),
                extension: ".json".into(),
            },
            false,
        ),
        (OutputTarget::Jsonl(path), _) => (Layout::Jsonl(path.clone()), true),
    };
    let store = TrajectoryStore::open(layout.clone(), settings.resume)?;

    let context = Arc::new(RunContext {
        agent,
        rollouts: Rollouts {
            sandboxes,
            repos: Arc::new(RepoCache::new(settings.sandbox.repo_cache.clone())),
            scorers,
            grading: settings.scoring.grading.clone(),
            setup: settings.sandbox.setup.clone(),
        },
        settings: Arc::new(recorded),
    });
    let canonical = matches!(format, OutputFormat::Canonical);
    let scored = if settings.agent.capture_tokens {
        let path = layout.beside("scored.jsonl");
        let fresh = matches!(settings.resume, Resume::Fresh);
        let file = ScoredFile::open(&path, fresh)
            .with_context(|| format!("opening {}", path.display()))?;
        eprintln!(
            "  scored groups (token rows for trainers): {}",
            path.display()
        );
        Some(file)
    } else {
        None
    };
    let (outbox, poster) = match (&settings.atropos_url, &scored) {
        (Some(url), Some(file)) => {
            let config = AtroposConfig {
                url: url.clone(),
                name: "plinth".into(),
                group_size: settings.group_size,
            };
            let fresh = matches!(settings.resume, Resume::Fresh);
            let (outbox, poster) = atropos::start(config, file.path(), fresh)?;
            eprintln!("  posting scored groups to the Atropos API server at {url}");
            (Some(outbox), Some(poster))
        }
        _ => (None, None),
    };
    let mut summary = run_batch(
        tasks,
        bad_lines,
        context,
        format,
        store,
        BatchConfig {
            concurrency: settings.concurrency,
            jsonl,
            group_size: settings.group_size,
            progress_bar: std::io::stderr().is_terminal()
                && matches!(settings.tasks, TaskSource::File(_)),
            scored,
            retry_infra: settings.retry_infra,
            min_valid_rollouts: settings.min_valid_rollouts,
            drop_all_equal: settings.drop_all_equal,
            outbox,
        },
    )
    .await?;
    if let Some(poster) = poster {
        summary.atropos = Some(poster.await.context("the Atropos poster failed")?);
    }
    print_summary(&summary, &layout);
    let summary_path = layout.beside("summary.json");
    match save_json(&summary_path, &summary) {
        Ok(()) => eprintln!("  summary: {}", summary_path.display()),
        Err(e) => tracing::error!("cannot save the summary: {e}"),
    }
    // SWE-bench's files, from the whole output (records of earlier runs
    // resumed into it included), when the output is canonical records.
    if let (Layout::Jsonl(path), true) = (&layout, canonical) {
        let (preds, report) = (layout.beside(PREDS), layout.beside(REPORT));
        match plinth_run::swebench::write(path, &preds, &report) {
            Ok(0) => {}
            Ok(_) => eprintln!(
                "  SWE-bench predictions: {}\n  SWE-bench report: {}",
                preds.display(),
                report.display()
            ),
            Err(e) => tracing::error!("cannot write the SWE-bench files: {e}"),
        }
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The tasks to run, and how many input lines were bad (each reported with
/// its line number; the others still run).
fn load_tasks(source: &TaskSource) -> Result<(Vec<Task>, usize)> {
    let path = match source {
        TaskSource::Single(task) => return Ok((vec![Task::single(task)], 0)),
        TaskSource::File(path) => path,
    };
    let (tasks, bad) =
        Task::read_file(path).with_context(|| format!("reading {}", path.display()))?;
    for line in &bad {
        tracing::error!("{}: {line}", path.display());
    }
    let bad = bad.len();
    if tasks.is_empty() && bad == 0 {
        bail!("no tasks in {}", path.display());
    }
    Ok((tasks, bad))
}

fn print_summary(summary: &Summary, layout: &Layout) {
    let where_ = match layout {
        Layout::Jsonl(path) => path.display().to_string(),
        Layout::Files { dir, .. } => dir.display().to_string(),
    };
    let stats = &summary.stats;
    let statuses: Vec<String> = stats
        .by_status
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    eprintln!(
        "plinth: {} task(s) run, {} skipped (already done), {} bad input line(s) -> {where_}",
        summary.tasks, summary.skipped, summary.bad_lines
    );
    eprintln!(
        "  exit statuses: {}",
        if statuses.is_empty() {
            "none".into()
        } else {
            statuses.join(", ")
        }
    );
    if let Some(reward) = &stats.reward {
        eprintln!(
            "  rewards: {} scored, mean {:.3}",
            reward.scored, reward.mean
        );
    }
    eprintln!(
        "  api calls: {}, tokens: {} in / {} out, cost: ${:.4}, wall: {:.1}s",
        stats.api_calls.total,
        stats.usage.prompt_tokens,
        stats.usage.completion_tokens,
        stats.cost.total,
        summary.wall_secs
    );
    if summary.unsaved > 0 {
        eprintln!(
            "  {} record(s) could not be saved (see the errors above)",
            summary.unsaved
        );
    }
    // The last stdout line: a machine-readable summary.
    println!(
        "{}",
        serde_json::to_string(summary).expect("summary serialises")
    );
}
