//! One rollout's life around the agent: a sandbox, the task's workspace in
//! it, the patch the run produced, grading (see [`crate`]: a fresh
//! workspace or the live one), and the release. `plinth run` (after the
//! agent) and `plinth rescore` (from a recorded patch) both go through
//! [`Rollouts::grade`], so a run is set up, graded and released in one way.

use std::sync::Arc;

use serde_json::{Map, json};

use crate::scoring::{Scorers, ScoringError};
use crate::{GradeIn, Grading, GradingPlan, GradingSettings, PlanRules};
use plinth_record::grading::GradingProfile;
use plinth_record::task::Task;
use plinth_record::trajectory::{ExitStatus, Score, Trajectory};
use plinth_sandbox::workspace::{self, RepoCache, RepoSpec, Workspace, WorkspaceError};
use plinth_sandbox::{Sandbox, SandboxError, SandboxProvider};

/// What every rollout of a run shares.
pub struct Rollouts {
    pub sandboxes: Arc<dyn SandboxProvider>,
    pub repos: Arc<RepoCache>,
    pub scorers: Scorers,
    pub grading: GradingSettings,
    /// Commands run in every task's workspace (or, without a repository,
    /// its sandbox) before the row's own `setup`.
    pub setup: Vec<String>,
}

/// Why a rollout's sandbox could not be set up or its workspace used: an
/// infrastructure failure, never the model's doing.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("cannot create the sandbox: {0}")]
    Sandbox(#[source] SandboxError),
    #[error("workspace setup failed: {0}")]
    Workspace(#[source] WorkspaceError),
    #[error("recording the patch failed: {0}")]
    Patch(#[source] WorkspaceError),
    #[error("applying the agent's patch for grading failed: {0}")]
    ApplyPatch(#[source] WorkspaceError),
    #[error("the task's test_patch does not apply: {0}")]
    TestPatch(#[source] WorkspaceError),
    #[error("an evaluation command failed: {0}")]
    EvalCommand(#[source] WorkspaceError),
}

/// Why a rollout has no reward.
#[derive(Debug, thiserror::Error)]
enum GradingError {
    #[error(transparent)]
    Rollout(#[from] RolloutError),
    #[error(transparent)]
    Scoring(#[from] ScoringError),
}

impl GradingError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Rollout(_) => ExitStatus::InfrastructureError,
            Self::Scoring(e) => e.exit_status(),
        }
    }
}

/// A task's live sandbox with its workspace, until [`Rollout::release`].
pub struct Rollout<'a> {
    rollouts: &'a Rollouts,
    sandbox: Arc<dyn Sandbox>,
    /// The task's repository at its base commit, when the row names one.
    workspace: Option<Workspace>,
}

impl<'a> Rollout<'a> {
    /// Creates the sandbox and, for a task with a repository, its workspace.
    pub async fn start(rollouts: &'a Rollouts, task: &'a Task) -> Result<Self, RolloutError> {
        let sandbox = rollouts
            .sandboxes
            .create(task)
            .await
            .map_err(RolloutError::Sandbox)?;
        let workspace = match RepoSpec::of(task) {
            None => {
                for command in &rollouts.setup {
                    workspace::run_command(sandbox.as_ref(), command)
                        .await
                        .map_err(RolloutError::Workspace)?;
                }
                None
            }
            Some(mut spec) => {
                spec.setup.splice(0..0, rollouts.setup.iter().cloned());
                Some(
                    rollouts
                        .repos
                        .prepare(&spec, sandbox.as_ref())
                        .await
                        .map_err(RolloutError::Workspace)?,
                )
            }
        };
        Ok(Self {
            rollouts,
            sandbox,
            workspace,
        })
    }

    pub fn sandbox(&self) -> &Arc<dyn Sandbox> {
        &self.sandbox
    }

    /// The workspace's diff since its baseline (SWE-bench's `model_patch`);
    /// `None` for a task without a repository. Taken before scoring, as test
    /// runs leave files behind.
    pub async fn patch(&self) -> Result<Option<String>, RolloutError> {
        match &self.workspace {
            None => Ok(None),
            Some(ws) => workspace::patch(self.sandbox.as_ref(), ws)
                .await
                .map(Some)
                .map_err(RolloutError::Patch),
        }
    }

    /// Makes the workspace what the plan grades: the patch applied (a fresh
    /// workspace), the `test_patch`'s files restored and patched, the
    /// evaluation commands run. `Ok(false)`: under the `swebench` profile,
    /// the patch applied by none of the harness's commands (unresolved, as
    /// the harness counts it; nothing else is done).
    async fn prepare_grading(&self, plan: &GradingPlan, fresh: bool) -> Result<bool, RolloutError> {
        let sandbox = self.sandbox.as_ref();
        if let Some(workspace) = &self.workspace {
            if fresh {
                match plan.grading.profile {
                    Some(GradingProfile::Swebench) if !plan.patch.trim().is_empty() => {
                        let commands = &plinth_swebench::spec::harness().git_apply_cmds;
                        let applied = workspace::apply_first(sandbox, &plan.patch, commands)
                            .await
                            .map_err(RolloutError::ApplyPatch)?;
                        if applied.is_none() {
                            return Ok(false);
                        }
                    }
                    _ => workspace::apply(sandbox, &plan.patch)
                        .await
                        .map_err(RolloutError::ApplyPatch)?,
                }
            }
            if let Some(test_patch) = &plan.test_patch {
                workspace::restore(sandbox, workspace, &plan.grading.test_patch_files)
                    .await
                    .map_err(RolloutError::TestPatch)?;
                workspace::apply(sandbox, test_patch)
                    .await
                    .map_err(RolloutError::TestPatch)?;
            }
        }
        for command in &plan.eval_commands {
            workspace::run_command(sandbox, command)
                .await
                .map_err(RolloutError::EvalCommand)?;
        }
        Ok(true)
    }

    /// Detaches the workspace from the cached clone; the sandbox goes when
    /// its last handle is dropped.
    pub async fn release(self) {
        if let Some(ws) = &self.workspace {
            self.rollouts.repos.release(ws).await;
        }
    }
}

impl Rollouts {
    /// Grades `trajectory` (a run of `task`) and records its reward and how
    /// it was graded, or the failure with its exit status: a rollout that
    /// could not be graded is never reward 0. `live` is the agent's rollout
    /// (`None` when rescoring a record); it is released here, before a clean
    /// grading sandbox is made, so a task never holds two sandboxes.
    pub async fn grade(&self, task: &Task, trajectory: &mut Trajectory, live: Option<Rollout<'_>>) {
        if self.scorers.is_empty() {
            if let Some(live) = live {
                live.release().await;
            }
            return;
        }
        let mut grade_in = self.grading.grade_in;
        let mut note = None;
        if grade_in == GradeIn::Clean && RepoSpec::of(task).is_none() {
            // Without a repository there is no base to rebuild: the sandbox
            // the agent left is all there is to grade.
            grade_in = GradeIn::Live;
            note = Some("the task has no repository: graded in the live sandbox".to_string());
        }
        let harness_eval = self.scorers.harness_grades(task);
        let profile = self.grading.profile.unwrap_or(if harness_eval {
            GradingProfile::Swebench
        } else {
            GradingProfile::Strict
        });
        let rules = PlanRules {
            grade_in,
            profile,
            harness_eval,
        };
        let mut plan = GradingPlan::new(&self.grading, rules, task, trajectory.patch.as_deref());
        plan.grading.note = note;
        if profile == GradingProfile::Swebench
            && harness_eval
            && trajectory
                .patch
                .as_deref()
                .is_none_or(|p| p.trim().is_empty())
        {
            // The harness does not evaluate an empty patch: unresolved.
            if let Some(live) = live {
                live.release().await;
            }
            trajectory.score = Some(unresolved("empty_patch"));
            trajectory.grading = Some(plan.grading);
            return;
        }
        let (result, grading) = self.grade_with(task, trajectory, live, plan).await;
        trajectory.grading = Some(grading);
        match result {
            Ok(score) => trajectory.score = Some(score),
            Err(e) => trajectory.fail(e.exit_status(), e.to_string()),
        }
    }

    async fn grade_with(
        &self,
        task: &Task,
        trajectory: &Trajectory,
        live: Option<Rollout<'_>>,
        plan: GradingPlan,
    ) -> (Result<Score, GradingError>, Grading) {
        let reuse = plan.grading.grade_in == GradeIn::Live;
        let (rollout, fresh) = match live {
            Some(live) if reuse => (live, false),
            live => {
                if let Some(live) = live {
                    live.release().await;
                }
                match Rollout::start(self, task).await {
                    Ok(rollout) => (rollout, true),
                    Err(e) => return (Err(e.into()), plan.grading),
                }
            }
        };
        let mut grading = plan.grading.clone();
        let result = match rollout.prepare_grading(&plan, fresh).await {
            Ok(true) => self
                .scorers
                .score(task, trajectory, rollout.sandbox())
                .await
                .map_err(GradingError::from),
            Ok(false) => {
                grading.patch_applied = Some(false);
                Ok(unresolved("patch_failed_to_apply"))
            }
            Err(e) => Err(e.into()),
        };
        rollout.release().await;
        (result, grading)
    }
}

/// Reward 0 without running the tests, and why (the harness's words for an
/// instance it does not evaluate).
fn unresolved(why: &str) -> Score {
    Score {
        reward: 0.0,
        sub_scores: Map::new(),
        details: json!({ "resolved": false, "not_evaluated": why }),
    }
}
