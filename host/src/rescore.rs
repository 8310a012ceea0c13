//! Re-grading recorded runs with a (new) scorer, without calling a model:
//! each record's patch is graded as a run's is ([`Rollouts::grade`]), in a
//! fresh workspace at the task's base commit, so old runs can be graded
//! again by a hardened scorer.

use crate::rollout::Rollouts;
use crate::task::Task;
use crate::trajectory::Trajectory;

/// The record with a new score (the previous one dropped). A record that
/// cannot be rescored keeps its messages and gets the failure as its error
/// and an error status, never reward 0.
pub async fn rescore(rollouts: &Rollouts, mut trajectory: Trajectory) -> Trajectory {
    let task = Task::of_record(&trajectory);
    trajectory.score = None;
    trajectory.grading = None;
    rollouts.grade(&task, &mut trajectory, None).await;
    trajectory
}
