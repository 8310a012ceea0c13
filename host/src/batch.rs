//! The batch runner: N trajectories in flight on tokio tasks (no thread per
//! trajectory), each with its own sandbox and plugin stores; records are
//! formatted as trajectories (or whole groups of rollouts) finish, and stored
//! by one writer task that batches its syncs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::agent::{Agent, Checkpoint};
use crate::plugin::{FormatterPlugin, PluginError};
use crate::sandbox::{Sandbox, SandboxProvider};
use crate::scoring::Scorers;
use crate::store::{Journal, Record, StoreError, TrajectoryStore};
use crate::task::Task;
use crate::trajectory::{ExitStatus, Group, SCHEMA, Trajectory, Usage};
use crate::workspace::{self, RepoCache, RepoSpec};

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
                formatter.format(trajectory, options, jsonl).await
            }
        }
    }

    /// The records of a finished group: one for a per-group formatter, else
    /// one per rollout.
    async fn format_group(
        &self,
        group: &[Trajectory],
        jsonl: bool,
    ) -> Result<Vec<String>, PluginError> {
        if let Self::Plugin { formatter, options } = self
            && formatter.info.per_group
        {
            return Ok(vec![formatter.format_group(group, options, jsonl).await?]);
        }
        let mut records = Vec::with_capacity(group.len());
        for trajectory in group {
            records.push(self.format(trajectory, jsonl).await?);
        }
        Ok(records)
    }
}

/// What every task of a run shares.
pub struct RunContext {
    pub agent: Arc<Agent>,
    pub sandboxes: Arc<dyn SandboxProvider>,
    pub repos: Arc<RepoCache>,
    pub scorers: Scorers,
}

pub struct BatchConfig {
    pub concurrency: usize,
    pub jsonl: bool,
    /// Rollouts per task (`--group-size`); 1 means no groups.
    pub group_size: u32,
    /// Show a progress bar (on a terminal) instead of a line per task.
    pub progress_bar: bool,
}

/// What a batch did, for the summary.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub tasks: usize,
    pub skipped: usize,
    pub bad_lines: usize,
    pub by_status: BTreeMap<ExitStatus, usize>,
    pub api_calls: u64,
    pub usage: Usage,
    pub cost: f64,
    /// Mean reward over scored trajectories, when any were scored.
    pub mean_reward: Option<f64>,
    pub scored: usize,
    pub wall_secs: f64,
    /// Records that could not be formatted or stored (their canonical
    /// checkpoint is kept).
    pub unsaved: usize,
    /// The signal that stopped the batch early; trajectories still running
    /// then were dropped (their checkpoints stay, for `--resume`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

impl Summary {
    /// True when everything ran and every record was saved. Limits reached
    /// by the model are outcomes, not failures.
    pub fn ok(&self) -> bool {
        self.bad_lines == 0
            && self.unsaved == 0
            && self.interrupted.is_none()
            && !self.by_status.keys().any(|s| s.is_error())
    }

    fn add(&mut self, t: &Trajectory) {
        *self.by_status.entry(t.exit_status).or_default() += 1;
        self.api_calls += u64::from(t.api_calls);
        self.usage.prompt_tokens += t.usage.prompt_tokens;
        self.usage.completion_tokens += t.usage.completion_tokens;
        self.cost += t.cost;
        if let Some(score) = &t.score {
            let total = self.mean_reward.unwrap_or(0.0) * self.scored as f64 + score.reward;
            self.scored += 1;
            self.mean_reward = Some(total / self.scored as f64);
        }
    }
}

/// Checkpoints a run after every step into its journal in the store's
/// checkpoint directory.
#[async_trait::async_trait]
impl Checkpoint for Journal {
    async fn save(&mut self, trajectory: &Trajectory) {
        if trajectory.exit_status == ExitStatus::Running {
            // A step's checkpoint is written in the background; the run goes on.
            self.queue(trajectory);
        } else if let Err(e) = self.write(trajectory).await {
            // A finished run's checkpoint is on disk before its record is
            // stored (which removes it).
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
        exit_status: ExitStatus::Running,
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

/// Marks a run as failed by its environment, not by the model.
fn infrastructure_error(trajectory: &mut Trajectory, error: String) {
    trajectory.exit_status = ExitStatus::InfrastructureError;
    trajectory.error = Some(error);
}

/// Runs one task from sandbox to scored trajectory.
async fn run_task(task: &Task, ctx: &RunContext, checkpoint_dir: PathBuf) -> Trajectory {
    let agent = &ctx.agent;
    let mut trajectory = new_trajectory(task, agent.model_name(), ctx.sandboxes.kind());
    trajectory.tools = agent.tool_specs().to_vec();
    let mut checkpoint = Journal::new(&checkpoint_dir, task.index, task.rollout);
    let sandbox = match ctx.sandboxes.create(task).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            infrastructure_error(&mut trajectory, format!("cannot create the sandbox: {e}"));
            checkpoint.save(&trajectory).await;
            return trajectory;
        }
    };
    let workspace = match RepoSpec::of(task) {
        None => None,
        Some(spec) => match ctx.repos.prepare(&spec, sandbox.as_ref()).await {
            Ok(ws) => Some(ws),
            Err(e) => {
                infrastructure_error(&mut trajectory, format!("workspace setup failed: {e}"));
                checkpoint.save(&trajectory).await;
                return trajectory;
            }
        },
    };
    agent
        .run(task, sandbox.clone(), &mut trajectory, &mut checkpoint)
        .await;
    if let Some(ws) = &workspace {
        finish_workspace(ctx, task, &mut trajectory, &sandbox, ws).await;
    } else {
        score(ctx, task, &mut trajectory, &sandbox).await;
    }
    checkpoint.save(&trajectory).await;
    trajectory
}

/// Records the run's patch, scores it in the same live sandbox, and detaches
/// the workspace.
async fn finish_workspace(
    ctx: &RunContext,
    task: &Task,
    trajectory: &mut Trajectory,
    sandbox: &Arc<dyn Sandbox>,
    ws: &workspace::Workspace,
) {
    // The patch is taken before scoring: test runs leave files behind.
    if trajectory.exit_status != ExitStatus::InfrastructureError {
        match workspace::patch(sandbox.as_ref(), ws).await {
            Ok(patch) => trajectory.patch = Some(patch),
            Err(e) => infrastructure_error(trajectory, format!("recording the patch failed: {e}")),
        }
    }
    score(ctx, task, trajectory, sandbox).await;
    ctx.repos.release(ws).await;
}

async fn score(
    ctx: &RunContext,
    task: &Task,
    trajectory: &mut Trajectory,
    sandbox: &Arc<dyn Sandbox>,
) {
    if ctx.scorers.is_empty() || trajectory.exit_status.is_error() {
        return;
    }
    match ctx.scorers.score(task, trajectory, sandbox).await {
        Ok(score) => trajectory.score = Some(score),
        Err(e) => {
            trajectory.exit_status = if e.is_infrastructure() {
                ExitStatus::InfrastructureError
            } else {
                ExitStatus::PluginError
            };
            trajectory.error = Some(e.to_string());
        }
    }
}

/// Group statistics over the rollouts' rewards (unscored rollouts count as 0).
fn group_stats(group: &mut [Trajectory], rollouts: &[u32]) {
    let rewards: Vec<f64> = group
        .iter()
        .map(|t| t.score.as_ref().map_or(0.0, |s| s.reward))
        .collect();
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let all_equal = rewards.windows(2).all(|w| w[0] == w[1]);
    let size = group.len() as u32;
    for (t, &rollout) in group.iter_mut().zip(rollouts) {
        t.group = Some(Group {
            id: t.id.clone(),
            size,
            rollout,
            mean,
            std,
            all_equal,
        });
    }
}

/// Runs `tasks` (bad lines already reported by the caller) and stores one
/// record per task (or group) as each finishes.
pub async fn run_batch(
    tasks: Vec<Task>,
    bad_lines: usize,
    ctx: Arc<RunContext>,
    format: OutputFormat,
    store: TrajectoryStore,
    config: BatchConfig,
) -> Result<Summary, StoreError> {
    let started = Instant::now();
    let mut summary = Summary {
        bad_lines,
        ..Summary::default()
    };
    let group_size = config.group_size.max(1);
    let mut pending = Vec::new();
    for task in tasks {
        for rollout in 0..group_size {
            if store.is_finished(task.index, rollout, &task.id)? {
                summary.skipped += 1;
            } else {
                pending.push(Task {
                    rollout,
                    ..task.clone()
                });
            }
        }
    }
    summary.tasks = pending.len();
    let total = pending.len();
    let progress = progress_bar(config.progress_bar, total);
    // Rollouts a group still waits for, by task index.
    let mut waiting: HashMap<u64, u32> = HashMap::new();
    for task in &pending {
        *waiting.entry(task.index).or_default() += 1;
    }
    let mut groups: HashMap<u64, Vec<(u32, Trajectory)>> = HashMap::new();

    let checkpoint_dir = store.checkpoint_dir().to_path_buf();
    let (tx, writer) = spawn_writer(store);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut done = 0usize;
    let mut pending = pending.into_iter();
    let signal = interrupted();
    tokio::pin!(signal);
    loop {
        // Keep up to `concurrency` tasks in flight; collect finished ones.
        let next = if slots.available_permits() > 0 {
            pending.next()
        } else {
            None
        };
        if let Some(task) = next {
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let (ctx, format, tx, dir) = (
                ctx.clone(),
                format.clone(),
                tx.clone(),
                checkpoint_dir.clone(),
            );
            let (jsonl, grouped) = (config.jsonl, group_size > 1);
            running.spawn(async move {
                let trajectory = run_task(&task, &ctx, dir).await;
                drop(permit);
                // Without groups a record is formatted and stored right away,
                // by the task that ran it; groups wait for all their rollouts.
                let stored = grouped
                    || match format.format(&trajectory, jsonl).await {
                        Ok(text) => tx.send(Record::single(task.index, &task.id, text)).is_ok(),
                        Err(e) => format_failed(&task, &e),
                    };
                (task, trajectory, stored)
            });
            continue;
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            name = &mut signal => {
                summary.interrupted = Some(name.to_string());
                break;
            }
        };
        let Some(joined) = joined else { break };
        let (task, trajectory, stored) = match joined {
            Ok(result) => result,
            Err(e) => {
                tracing::error!("a trajectory task failed: {e}");
                summary.unsaved += 1;
                continue;
            }
        };
        done += 1;
        summary.unsaved += usize::from(!stored);
        summary.add(&trajectory);
        report(&progress, done, total, &trajectory);
        if group_size > 1 {
            let group = groups.entry(task.index).or_default();
            group.push((task.rollout, trajectory));
            let left = waiting
                .get_mut(&task.index)
                .expect("every pending task is counted");
            *left -= 1;
            if *left == 0 {
                let mut group = groups.remove(&task.index).unwrap_or_default();
                group.sort_by_key(|(rollout, _)| *rollout);
                let rollouts: Vec<u32> = group.iter().map(|(r, _)| *r).collect();
                let mut group: Vec<Trajectory> = group.into_iter().map(|(_, t)| t).collect();
                group_stats(&mut group, &rollouts);
                let stored = match format.format_group(&group, config.jsonl).await {
                    Ok(texts) => tx
                        .send(Record {
                            index: task.index,
                            id: task.id.clone(),
                            rollouts,
                            texts,
                        })
                        .is_ok(),
                    Err(e) => format_failed(&task, &e),
                };
                if !stored {
                    summary.unsaved += group.len();
                }
            }
        }
    }
    if let Some(name) = &summary.interrupted {
        tracing::warn!(
            "{name}: stopping {} running trajectory(ies) and removing the run's sandboxes",
            running.len()
        );
        running.shutdown().await;
    }
    // Every sandbox of the run goes, however the batch ended.
    ctx.sandboxes.shutdown().await;
    drop(tx);
    summary.unsaved += writer.await.expect("writer does not panic")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.wall_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Resolves on the first SIGINT or SIGTERM, naming it. The handlers are
/// installed by the call, not on first poll, so no signal slips by; after
/// the first, a second signal ends the process at once.
fn interrupted() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers =
        signal(SignalKind::interrupt()).and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
    async move {
        let Ok((mut int, mut term)) = handlers else {
            tracing::warn!(
                "cannot handle SIGINT/SIGTERM: sandboxes may outlive an interrupted run"
            );
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!(
                "plinth: interrupted again: exiting now (`plinth sandbox reap` removes leftover containers)"
            );
            std::process::exit(130);
        });
        name
    }
}

/// Logs a record that could not be formatted; its canonical checkpoint stays.
fn format_failed(task: &Task, e: &PluginError) -> bool {
    tracing::error!(
        "formatting {} failed: {e}; its canonical record stays in the checkpoint directory",
        task.id
    );
    false
}

/// The writer batches records that arrive together into one sync.
fn spawn_writer(
    mut store: TrajectoryStore,
) -> (
    mpsc::UnboundedSender<Record>,
    tokio::task::JoinHandle<Result<usize, StoreError>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
    let writer = tokio::task::spawn_blocking(move || {
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
    (tx, writer)
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
            let reward = t
                .score
                .as_ref()
                .map(|s| format!(", reward {}", s.reward))
                .unwrap_or_default();
            tracing::info!(
                "[{done}/{total}] {} {} ({} calls, {:.1}s{reward}){error}",
                t.id,
                t.exit_status,
                t.api_calls,
                t.duration_secs
            );
        }
    }
}
