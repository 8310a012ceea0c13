//! The batch runner: N trajectories in flight on tokio tasks (no thread per
//! trajectory), each in its own [`Rollout`]; records are formatted as
//! trajectories (or whole groups of rollouts) finish, and stored by one
//! writer task that batches its syncs.

mod group;
mod output;
mod signal;
mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use output::OutputFormat;
pub use summary::Summary;

use crate::atropos::Outbox;
use crate::scored::{self, ScoredFile};
use crate::stats::Tally;
use crate::store::{Journal, Record, StoreError, TrajectoryStore};
use group::{Dropped, GroupFilter, Groups};
use plinth_agent::{Agent, Checkpoint};
use plinth_grade::rollout::{Rollout, Rollouts};
use plinth_record::settings::RecordedSettings;
use plinth_record::task::Task;
use plinth_record::trajectory::{ExitStatus, Trajectory};
use summary::Progress;

/// What every task of a run shares.
pub struct RunContext {
    pub agent: Arc<Agent>,
    pub rollouts: Rollouts,
    /// Recorded in every trajectory of the run.
    pub settings: Arc<RecordedSettings>,
}

pub struct BatchConfig {
    pub concurrency: usize,
    pub jsonl: bool,
    /// Rollouts per task (`--group-size`); 1 means no groups.
    pub group_size: u32,
    /// Show a progress bar (on a terminal) instead of a line per task.
    pub progress_bar: bool,
    /// With `--capture-tokens`: where each finished group (or lone
    /// trajectory) goes as a scored group with its token rows.
    pub scored: Option<ScoredFile>,
    /// Runs again, in a fresh sandbox, of a rollout that ended in an
    /// infrastructure error (`--retry-infra`).
    pub retry_infra: u32,
    /// Groups with fewer valid rollouts are left out of per-group outputs
    /// (`--min-valid-rollouts`).
    pub min_valid_rollouts: u32,
    /// Groups whose valid rewards are all equal are too (`--drop-all-equal`).
    pub drop_all_equal: bool,
    /// With `--atropos-url`: told of each scored group written; no rollout
    /// starts while too many wait to be posted.
    pub outbox: Option<Outbox>,
}

/// Runs one task, and again in a fresh sandbox (up to `retries` times) while
/// it ends in an infrastructure error: a broken sandbox says nothing of the
/// model.
async fn run_with_retries(
    task: &Task,
    ctx: &RunContext,
    checkpoint_dir: PathBuf,
    retries: u32,
) -> Trajectory {
    let mut trajectory = run_task(task, ctx, checkpoint_dir.clone()).await;
    let mut retried = 0;
    while trajectory.exit_status == ExitStatus::InfrastructureError && retried < retries {
        retried += 1;
        tracing::warn!(
            "{} (rollout {}): {}; running it again in a fresh sandbox ({retried}/{retries})",
            task.id,
            task.rollout,
            trajectory
                .error
                .as_deref()
                .unwrap_or("infrastructure error"),
        );
        trajectory = run_task(task, ctx, checkpoint_dir.clone()).await;
    }
    trajectory.infra_retries = retried;
    trajectory
}

/// Runs one task from sandbox to scored trajectory, checkpointing as it goes.
async fn run_task(task: &Task, ctx: &RunContext, checkpoint_dir: PathBuf) -> Trajectory {
    let agent = &ctx.agent;
    let mut trajectory = Trajectory::start(task, agent.model_name(), ctx.rollouts.sandboxes.kind());
    trajectory.tools = agent.tool_specs().to_vec();
    trajectory.settings = Some(ctx.settings.clone());
    let mut checkpoint = Journal::new(&checkpoint_dir, task.index, task.rollout);
    let rollout = match Rollout::start(&ctx.rollouts, task).await {
        Ok(rollout) => rollout,
        Err(e) => {
            trajectory.fail(ExitStatus::InfrastructureError, e.to_string());
            checkpoint.save(&trajectory).await;
            return trajectory;
        }
    };
    agent
        .run(
            task,
            rollout.sandbox().clone(),
            &mut trajectory,
            &mut checkpoint,
        )
        .await;
    if trajectory.exit_status != ExitStatus::InfrastructureError {
        match rollout.patch().await {
            Ok(patch) => trajectory.patch = patch,
            Err(e) => trajectory.fail(ExitStatus::InfrastructureError, e.to_string()),
        }
    }
    // A run that failed for plinth or its environment has no reward.
    if trajectory.exit_status.is_error() {
        rollout.release().await;
    } else {
        ctx.rollouts
            .grade(task, &mut trajectory, Some(rollout))
            .await;
    }
    checkpoint.save(&trajectory).await;
    trajectory
}

/// Writes a finished group's scored group, or says why it has none.
fn write_scored(
    file: &mut ScoredFile,
    outbox: Option<&Outbox>,
    group: &[(u32, &Trajectory)],
    summary: &mut Summary,
) {
    let id = group.first().map_or("", |(_, t)| t.id.as_str());
    match scored::scored_group(group) {
        Ok(scored) => match file.append(&scored) {
            Ok(scored::Appended::Written) => {
                summary.scored_groups += 1;
                if let Some(outbox) = outbox {
                    outbox.wrote_group();
                }
            }
            Ok(scored::Appended::AlreadyWritten) => {
                tracing::info!(
                    "{id}: its scored group stays the one an earlier run wrote \
                     (a trainer may already have it)"
                );
            }
            Err(e) => {
                tracing::error!(
                    "{id}: cannot write its scored group to {}: {e}",
                    file.path().display()
                );
                summary.unscored_groups += 1;
            }
        },
        Err(why) => {
            tracing::warn!("{id}: no scored group: {why}");
            summary.unscored_groups += 1;
        }
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
    let mut scored_file = config.scored;
    let mut outbox = config.outbox;
    let filter = GroupFilter {
        min_valid: config.min_valid_rollouts,
        drop_all_equal: config.drop_all_equal,
    };
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
    let mut progress = Progress::new(config.progress_bar, pending.len());
    let mut tally = Tally::default();
    let mut groups = Groups::default();
    for task in &pending {
        groups.expect(task);
    }

    let checkpoint_dir = store.checkpoint_dir().to_path_buf();
    let (tx, writer) = output::spawn_writer(store);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut running = JoinSet::new();
    let mut pending = pending.into_iter();
    let signal = signal::interrupted();
    tokio::pin!(signal);
    loop {
        // Keep up to `concurrency` tasks in flight; collect finished ones.
        let next = if slots.available_permits() > 0 {
            pending.next()
        } else {
            None
        };
        if let Some(task) = next {
            // The trainer sets the pace: no new rollout while its groups
            // would only queue up.
            if let Some(outbox) = outbox.as_mut() {
                tokio::select! {
                    () = outbox.room() => {}
                    name = &mut signal => {
                        summary.interrupted = Some(name.to_string());
                        break;
                    }
                }
            }
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (ctx, format, tx, dir) = (
                ctx.clone(),
                format.clone(),
                tx.clone(),
                checkpoint_dir.clone(),
            );
            let (jsonl, grouped, retries) = (config.jsonl, group_size > 1, config.retry_infra);
            running.spawn(async move {
                let trajectory = run_with_retries(&task, &ctx, dir, retries).await;
                drop(permit);
                // Without groups a record is formatted and stored right away,
                // by the task that ran it; groups wait for all their rollouts.
                let stored = grouped
                    || match format.format(&trajectory, jsonl).await {
                        Ok(text) => {
                            let error = trajectory.exit_status.is_error();
                            tx.send(Record::single(task.index, &task.id, text, error))
                                .is_ok()
                        }
                        Err(e) => {
                            output::format_failed(&task.id, &e);
                            false
                        }
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
        summary.unsaved += usize::from(!stored);
        tally.add(&trajectory);
        progress.finished(&trajectory);
        if group_size == 1 {
            if let Some(file) = scored_file.as_mut() {
                write_scored(
                    file,
                    outbox.as_ref(),
                    &[(task.rollout, &trajectory)],
                    &mut summary,
                );
            }
            continue;
        }
        let Some(group) = groups.finish(&task, trajectory) else {
            continue;
        };
        let dropped = filter.verdict(&group);
        match dropped {
            Some(Dropped::TooFewValid) => summary.dropped_too_few_valid += 1,
            Some(Dropped::AllEqual) => summary.dropped_all_equal += 1,
            None => {
                if let Some(file) = scored_file.as_mut() {
                    let members: Vec<(u32, &Trajectory)> =
                        group.iter().map(|(r, t)| (*r, t)).collect();
                    write_scored(file, outbox.as_ref(), &members, &mut summary);
                }
            }
        }
        let (rollouts, group): (Vec<u32>, Vec<Trajectory>) = group.into_iter().unzip();
        // One errored rollout runs the whole group again on resume: its
        // statistics are over all of them.
        let error = group.iter().any(|t| t.exit_status.is_error());
        // A dropped group's per-group record is left out, but its rollouts
        // are stored as done (a per-rollout format still writes them).
        let texts = if dropped.is_some() && format.per_group() {
            Ok(Vec::new())
        } else {
            format.format_group(&group, config.jsonl).await
        };
        let stored = match texts {
            Ok(texts) => tx
                .send(Record {
                    index: task.index,
                    id: task.id.clone(),
                    rollouts,
                    texts,
                    error,
                })
                .is_ok(),
            Err(e) => {
                output::format_failed(&task.id, &e);
                false
            }
        };
        if !stored {
            summary.unsaved += group.len();
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
    ctx.rollouts.sandboxes.shutdown().await;
    drop(tx);
    summary.unsaved += match writer.await {
        Ok(unsaved) => unsaved?,
        Err(e) => {
            tracing::error!("the record writer failed: {e}");
            summary.tasks
        }
    };
    progress.clear();
    summary.stats = tally.stats();
    summary.wall_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}
