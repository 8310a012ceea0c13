//! Groups of rollouts of one task (`--group-size`): a group is complete when
//! its last rollout finishes, and then every rollout learns the group's
//! reward statistics.

use std::collections::HashMap;

use crate::task::Task;
use crate::trajectory::{Group, Trajectory};

/// Rollouts waiting for the rest of their group, by task index.
#[derive(Default)]
pub(super) struct Groups {
    /// How many rollouts each group still waits for.
    waiting: HashMap<u64, u32>,
    finished: HashMap<u64, Vec<(u32, Trajectory)>>,
}

impl Groups {
    /// Expects one rollout of `task` (call once per pending rollout).
    pub(super) fn expect(&mut self, task: &Task) {
        *self.waiting.entry(task.index).or_default() += 1;
    }

    /// Files a finished rollout; returns its whole group, in rollout order
    /// and with statistics, when it was the last one.
    pub(super) fn finish(
        &mut self,
        task: &Task,
        trajectory: Trajectory,
    ) -> Option<Vec<(u32, Trajectory)>> {
        self.finished
            .entry(task.index)
            .or_default()
            .push((task.rollout, trajectory));
        let left = self.waiting.get_mut(&task.index)?;
        *left = left.saturating_sub(1);
        if *left > 0 {
            return None;
        }
        self.waiting.remove(&task.index);
        let mut group = self.finished.remove(&task.index).unwrap_or_default();
        group.sort_by_key(|(rollout, _)| *rollout);
        add_statistics(&mut group);
        Some(group)
    }
}

/// Group statistics over the rollouts' rewards (unscored rollouts count as 0).
fn add_statistics(group: &mut [(u32, Trajectory)]) {
    let rewards: Vec<f64> = group
        .iter()
        .map(|(_, t)| t.score.as_ref().map_or(0.0, |s| s.reward))
        .collect();
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let all_equal = rewards.windows(2).all(|w| w[0] == w[1]);
    let size = group.len() as u32;
    for (rollout, t) in group.iter_mut() {
        t.group = Some(Group {
            id: t.id.clone(),
            size,
            rollout: *rollout,
            mean,
            std,
            all_equal,
        });
    }
}
