//! Re-grading recorded runs with a (new) scorer, without calling a model:
//! each record's patch is graded as a run's is ([`Rollouts::grade`]), in a
//! fresh workspace at the task's base commit, so old runs can be graded
//! again by a hardened scorer.

use std::sync::Arc;

use plinth_grade::rollout::Rollouts;
use plinth_record::settings::RecordedScoring;

use plinth_record::trajectory::Trajectory;

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
    let task = trajectory.task();
    trajectory.score = None;
    trajectory.grading = None;
    if let Some(settings) = trajectory.settings.as_mut() {
        Arc::make_mut(settings).rescored_with = Some(scoring.clone());
    }
    rollouts.grade(&task, &mut trajectory, None).await;
    trajectory
}
