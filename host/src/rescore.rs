//! Re-grading recorded runs with a (new) scorer, without calling a model:
//! each record gets a fresh [`Rollout`] (its workspace at the base commit),
//! its recorded patch applied, and the scorers run in that sandbox.

use std::sync::Arc;

use crate::rollout::{Rollout, Rollouts};
use crate::settings::RecordedScoring;
use crate::task::Task;
use crate::trajectory::{ExitStatus, Trajectory};

/// The record with a new score (the previous one dropped). A record that
/// cannot be rescored keeps its messages and gets the failure as its error
/// and an error status, never reward 0. Its recorded `settings` stay the
/// run's; `scoring` (the rescore's scorers) is noted in them as
/// `rescored_with`, since it is what made the new score.
pub async fn rescore(
    rollouts: &Rollouts,
    scoring: &RecordedScoring,
    mut trajectory: Trajectory,
) -> Trajectory {
    let task = Task::of_record(&trajectory);
    trajectory.score = None;
    if let Some(settings) = trajectory.settings.as_mut() {
        Arc::make_mut(settings).rescored_with = Some(scoring.clone());
    }
    let rollout = match Rollout::start(rollouts, &task).await {
        Ok(rollout) => rollout,
        Err(e) => {
            trajectory.fail(
                ExitStatus::InfrastructureError,
                format!("rescoring failed: {e}"),
            );
            return trajectory;
        }
    };
    let patched = match &trajectory.patch {
        Some(patch) => rollout.apply_patch(patch).await,
        None => Ok(()),
    };
    match patched {
        Ok(()) => rollout.score(&mut trajectory).await,
        Err(e) => trajectory.fail(
            ExitStatus::InfrastructureError,
            format!("rescoring failed: {e}"),
        ),
    }
    rollout.release().await;
    trajectory
}
