//! The batch runner: N trajectories in flight on tokio tasks (no thread per
//! trajectory), each with its own sandbox and plugin stores; records are
//! formatted by the worker that produced them and stored by one writer task
//! that batches its syncs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::agent::{Agent, Checkpoint, exit};
use crate::plugin::{FormatterPlugin, PluginError};
use crate::sandbox::SandboxProvider;
use crate::store::{Record, StoreError, TrajectoryStore, save_checkpoint};
use crate::task::Task;
use crate::trajectory::{SCHEMA, Trajectory, Usage};

/// How trajectories are turned into output records.
#[derive(Clone)]
pub enum OutputFormat {
    /// The canonical record itself (what `plinth format` and `rescore` read).
    Canonical,
    Plugin {
        formatter: Box<FormatterPlugin>,
        options: Value,
    },
}

impl OutputFormat {
    pub async fn format(
        &self,
        trajectory: &Trajectory,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        match self {
            Self::Canonical if jsonl => Ok(serde_json::to_string(trajectory).expect("serialises")),
            Self::Canonical => Ok(serde_json::to_string_pretty(trajectory).expect("serialises")),
            Self::Plugin { formatter, options } => {
                formatter.format(&trajectory.to_wit(), options, jsonl).await
            }
        }
    }
}

pub struct BatchConfig {
    pub concurrency: usize,
    pub jsonl: bool,
    /// Show a progress bar (on a terminal) instead of a line per task.
    pub progress_bar: bool,
}

/// What a batch did, for the summary.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub tasks: usize,
    pub skipped: usize,
    pub bad_lines: usize,
    pub by_status: BTreeMap<String, usize>,
    pub api_calls: u64,
    pub usage: Usage,
    pub cost: f64,
    pub wall_secs: f64,
    /// Records that could not be formatted or stored (their canonical
    /// checkpoint is kept).
    pub unsaved: usize,
}

impl Summary {
    /// True when everything ran and every record was saved. Limits reached
    /// by the model are outcomes, not failures.
    pub fn ok(&self) -> bool {
        self.bad_lines == 0
            && self.unsaved == 0
            && !self.by_status.keys().any(|s| exit::is_error(s))
    }

    pub fn completed(&self) -> usize {
        self.by_status
            .iter()
            .filter(|(s, _)| exit::completed(s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Checkpoints a run after every step into the store's checkpoint directory.
struct FileCheckpoint {
    dir: PathBuf,
}

#[async_trait::async_trait]
impl Checkpoint for FileCheckpoint {
    async fn save(&mut self, trajectory: &Trajectory) {
        if let Err(e) = save_checkpoint(&self.dir, trajectory).await {
            tracing::warn!("checkpoint of {} failed: {e}", trajectory.id);
        }
    }
}

/// A trajectory before its first step: identity and metadata only.
pub fn new_trajectory(task: &Task, model: &str, sandbox: &str) -> Trajectory {
    Trajectory {
        schema: SCHEMA.into(),
        id: task.id.clone(),
        input_index: task.index,
        task: Value::Object(task.row.clone()),
        messages: Vec::new(),
        tools: Vec::new(),
        exit_status: exit::RUNNING.into(),
        submission: String::new(),
        error: None,
        model: model.into(),
        sandbox: sandbox.into(),
        api_calls: 0,
        usage: Usage::default(),
        cost: 0.0,
        started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        duration_secs: 0.0,
        plinth_version: env!("CARGO_PKG_VERSION").into(),
        patch: None,
        score: None,
        group: None,
    }
}

/// Runs one task from sandbox to finished trajectory.
async fn run_task(
    task: &Task,
    agent: &Agent,
    sandboxes: &dyn SandboxProvider,
    checkpoint_dir: PathBuf,
) -> Trajectory {
    let mut trajectory = new_trajectory(task, agent.model_name(), sandboxes.kind());
    let mut checkpoint = FileCheckpoint {
        dir: checkpoint_dir,
    };
    match sandboxes.create(task).await {
        Ok(sandbox) => {
            agent
                .run(task, sandbox, &mut trajectory, &mut checkpoint)
                .await;
        }
        Err(e) => {
            trajectory.tools = agent.tool_specs().to_vec();
            trajectory.exit_status = exit::INFRASTRUCTURE_ERROR.into();
            trajectory.error = Some(format!("cannot create the sandbox: {e}"));
            checkpoint.save(&trajectory).await;
        }
    }
    trajectory
}

/// Runs `tasks` (bad lines already reported by the caller) and stores one
/// record per task as each finishes.
pub async fn run_batch(
    tasks: Vec<Task>,
    bad_lines: usize,
    agent: Arc<Agent>,
    sandboxes: Arc<dyn SandboxProvider>,
    format: OutputFormat,
    mut store: TrajectoryStore,
    config: BatchConfig,
) -> Result<Summary, StoreError> {
    let started = Instant::now();
    let mut summary = Summary {
        bad_lines,
        ..Summary::default()
    };
    let mut pending = Vec::new();
    for task in tasks {
        if store.is_finished(task.index, &task.id)? {
            summary.skipped += 1;
        } else {
            pending.push(task);
        }
    }
    summary.tasks = pending.len();
    let total = pending.len();
    let progress = progress_bar(config.progress_bar, total);

    let checkpoint_dir = store.checkpoint_dir().to_path_buf();
    // The writer batches records that arrive together into one sync.
    let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
    let writer = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
        let mut unsaved = 0;
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            if let Err(e) = store.append(&batch) {
                tracing::error!("storing {} record(s) failed: {e}", batch.len());
                unsaved += batch.len();
            }
        }
        store.close();
        Ok(unsaved)
    });

    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut done = 0usize;
    let mut pending = pending.into_iter();
    loop {
        // Keep up to `concurrency` tasks in flight; collect finished ones.
        let next = if slots.available_permits() > 0 {
            pending.next()
        } else {
            None
        };
        if let Some(task) = next {
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let (agent, sandboxes, format, tx) =
                (agent.clone(), sandboxes.clone(), format.clone(), tx.clone());
            let dir = checkpoint_dir.clone();
            let jsonl = config.jsonl;
            running.spawn(async move {
                let trajectory = run_task(&task, &agent, sandboxes.as_ref(), dir).await;
                let stored = match format.format(&trajectory, jsonl).await {
                    Ok(text) => tx
                        .send(Record {
                            index: task.index,
                            id: task.id.clone(),
                            text,
                        })
                        .is_ok(),
                    Err(e) => {
                        tracing::error!(
                            "formatting {} failed: {e}; its canonical record stays in the checkpoint directory",
                            task.id
                        );
                        false
                    }
                };
                drop(permit);
                (trajectory, stored)
            });
            continue;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (trajectory, stored) = match joined {
            Ok(result) => result,
            Err(e) => {
                tracing::error!("a trajectory task failed: {e}");
                summary.unsaved += 1;
                continue;
            }
        };
        done += 1;
        if !stored {
            summary.unsaved += 1;
        }
        *summary
            .by_status
            .entry(trajectory.exit_status.clone())
            .or_default() += 1;
        summary.api_calls += u64::from(trajectory.api_calls);
        summary.usage.prompt_tokens += trajectory.usage.prompt_tokens;
        summary.usage.completion_tokens += trajectory.usage.completion_tokens;
        summary.cost += trajectory.cost;
        report(&progress, done, total, &trajectory);
    }
    drop(tx);
    summary.unsaved += writer.await.expect("writer does not panic")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.wall_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn progress_bar(enabled: bool, total: usize) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} trajectories ({per_sec}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn report(bar: &Option<indicatif::ProgressBar>, done: usize, total: usize, t: &Trajectory) {
    match bar {
        Some(bar) => {
            bar.inc(1);
            bar.set_message(format!("last: {} {}", t.id, t.exit_status));
        }
        None => {
            let error = t
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            tracing::info!(
                "[{done}/{total}] {} {} ({} calls, {:.1}s){error}",
                t.id,
                t.exit_status,
                t.api_calls,
                t.duration_secs
            );
        }
    }
}
