//! One rollout's life around the agent: a sandbox, the task's workspace in
//! it, the patch the run produced, the scorers in the same live sandbox, and
//! the release. `plinth run` (after the agent) and `plinth rescore` (after
//! re-applying a recorded patch) both go through [`Rollout`], so a sandbox is
//! set up, graded and released in one way.

use std::sync::Arc;

use crate::sandbox::{Sandbox, SandboxError, SandboxProvider};
use crate::scoring::Scorers;
use crate::task::Task;
use crate::trajectory::Trajectory;
use crate::workspace::{self, RepoCache, RepoSpec, Workspace, WorkspaceError};

/// What every rollout of a run shares.
pub struct Rollouts {
    pub sandboxes: Arc<dyn SandboxProvider>,
    pub repos: Arc<RepoCache>,
    pub scorers: Scorers,
}

/// Why a rollout's sandbox could not be set up or its workspace used: an
/// infrastructure failure, never the model's doing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RolloutError {
    #[error("cannot create the sandbox: {0}")]
    Sandbox(#[source] SandboxError),
    #[error("workspace setup failed: {0}")]
    Workspace(#[source] WorkspaceError),
    #[error("recording the patch failed: {0}")]
    Patch(#[source] WorkspaceError),
    #[error("applying the recorded patch failed: {0}")]
    ApplyPatch(#[source] WorkspaceError),
}

/// A task's live sandbox with its workspace, until [`Rollout::release`].
pub(crate) struct Rollout<'a> {
    rollouts: &'a Rollouts,
    task: &'a Task,
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
            None => None,
            Some(spec) => Some(
                rollouts
                    .repos
                    .prepare(&spec, sandbox.as_ref())
                    .await
                    .map_err(RolloutError::Workspace)?,
            ),
        };
        Ok(Self {
            rollouts,
            task,
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

    /// Applies a recorded patch to the fresh workspace (rescoring).
    pub(crate) async fn apply_patch(&self, patch: &str) -> Result<(), RolloutError> {
        workspace::apply(self.sandbox.as_ref(), patch)
            .await
            .map_err(RolloutError::ApplyPatch)
    }

    /// Runs the scorers on `trajectory` in this live sandbox and records the
    /// reward, or the failure with its exit status: a scorer that could not
    /// judge is never reward 0. Without scorers nothing changes.
    pub async fn score(&self, trajectory: &mut Trajectory) {
        if self.rollouts.scorers.is_empty() {
            return;
        }
        match self
            .rollouts
            .scorers
            .score(self.task, trajectory, &self.sandbox)
            .await
        {
            Ok(score) => trajectory.score = Some(score),
            Err(e) => trajectory.fail(e.exit_status(), e.to_string()),
        }
    }

    /// Detaches the workspace from the cached clone; the sandbox goes when
    /// its last handle is dropped.
    pub async fn release(self) {
        if let Some(ws) = &self.workspace {
            self.rollouts.repos.release(ws).await;
        }
    }
}
