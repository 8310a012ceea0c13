//! Re-grading recorded runs with a (new) scorer, without calling a model:
//! each record gets a fresh workspace at its base commit, its recorded patch
//! applied, and the scorers run in that sandbox.

use std::sync::Arc;

use crate::sandbox::SandboxProvider;
use crate::scoring::Scorers;
use crate::task::Task;
use crate::trajectory::{ExitStatus, Trajectory};
use crate::workspace::{self, RepoCache, RepoSpec};

/// What rescoring needs, shared by every record.
pub struct Rescorer {
    pub sandboxes: Arc<dyn SandboxProvider>,
    pub repos: Arc<RepoCache>,
    pub scorers: Scorers,
}

impl Rescorer {
    /// The record with a new score (and the previous one replaced). A record
    /// that cannot be rescored keeps its messages and gets the failure as its
    /// error and an InfrastructureError status, never reward 0.
    pub async fn rescore(&self, mut trajectory: Trajectory) -> Trajectory {
        let row = match &trajectory.task {
            serde_json::Value::Object(row) => row.clone(),
            _ => serde_json::Map::new(),
        };
        let task = Task {
            index: trajectory.input_index,
            id: trajectory.id.clone(),
            rollout: trajectory.group.as_ref().map_or(0, |g| g.rollout),
            prompt: String::new(),
            row,
        };
        trajectory.score = None;
        if let Err(e) = self.try_rescore(&task, &mut trajectory).await {
            trajectory.exit_status = ExitStatus::InfrastructureError;
            trajectory.error = Some(format!("rescoring failed: {e}"));
        }
        trajectory
    }

    async fn try_rescore(&self, task: &Task, trajectory: &mut Trajectory) -> Result<(), String> {
        let sandbox = self
            .sandboxes
            .create(task)
            .await
            .map_err(|e| e.to_string())?;
        let workspace = match RepoSpec::of(task) {
            Some(spec) => Some(
                self.repos
                    .prepare(&spec, sandbox.as_ref())
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let result = async {
            if let Some(patch) = &trajectory.patch {
                workspace::apply(sandbox.as_ref(), patch)
                    .await
                    .map_err(|e| format!("applying the recorded patch: {e}"))?;
            }
            self.scorers
                .score(task, trajectory, &sandbox)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Some(ws) = &workspace {
            self.repos.release(ws).await;
        }
        trajectory.score = Some(result?);
        Ok(())
    }
}
