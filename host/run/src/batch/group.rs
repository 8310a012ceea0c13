//! Groups of rollouts of one task (`--group-size`): a group is complete when
//! its last rollout finishes, and then every rollout learns the group's
//! reward statistics.

use std::collections::HashMap;

use plinth_record::task::Task;
use plinth_record::trajectory::{Group, Trajectory};

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

/// Group statistics over the rewards of the rollouts that did not end in an
/// error (an unscored one of those counts as 0); an errored rollout is
/// marked excluded, never counted as a reward of 0. With no valid rollout the
/// statistics are 0.
fn add_statistics(group: &mut [(u32, Trajectory)]) {
    let rewards: Vec<f64> = group
        .iter()
        .filter(|(_, t)| !t.exit_status.is_error())
        .map(|(_, t)| t.score.as_ref().map_or(0.0, |s| s.reward))
        .collect();
    let n = rewards.len().max(1) as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let all_equal = rewards.windows(2).all(|w| w[0] == w[1]);
    let size = group.len() as u32;
    let valid = rewards.len() as u32;
    for (rollout, t) in group.iter_mut() {
        t.group = Some(Group {
            id: t.id.clone(),
            size,
            rollout: *rollout,
            mean,
            std,
            all_equal,
            valid: (valid < size).then_some(valid),
            excluded: t.exit_status.is_error(),
        });
    }
}

/// Why a finished group is left out of the per-group outputs (a per-group
/// format's record, the scored groups); its rollouts' own records stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dropped {
    /// Fewer valid rollouts than `--min-valid-rollouts`.
    TooFewValid,
    /// Every valid rollout has the same reward (`--drop-all-equal`): no
    /// signal for relative-advantage training.
    AllEqual,
}

/// What to keep of finished groups.
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupFilter {
    pub min_valid: u32,
    pub drop_all_equal: bool,
}

impl GroupFilter {
    /// Whether `group` (with statistics) is dropped, and why.
    pub(super) fn verdict(&self, group: &[(u32, Trajectory)]) -> Option<Dropped> {
        let stats = group.first().and_then(|(_, t)| t.group.as_ref())?;
        let valid = stats.valid.unwrap_or(stats.size);
        if valid < self.min_valid {
            Some(Dropped::TooFewValid)
        } else if self.drop_all_equal && stats.all_equal {
            Some(Dropped::AllEqual)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_record::trajectory::{ExitStatus, Score};

    fn rollout(n: u32, status: ExitStatus, reward: Option<f64>) -> (u32, Trajectory) {
        let mut t = Trajectory::start(&Task::single("p"), "m", "local");
        t.exit_status = status;
        t.score = reward.map(|reward| Score {
            reward,
            sub_scores: Default::default(),
            details: Default::default(),
        });
        (n, t)
    }

    #[test]
    fn errored_rollouts_are_excluded_from_the_statistics_never_scored_zero() {
        let mut group = vec![
            rollout(0, ExitStatus::Submitted, Some(1.0)),
            rollout(1, ExitStatus::ModelError, None),
            rollout(2, ExitStatus::InfrastructureError, None),
            rollout(3, ExitStatus::LimitsExceeded, Some(0.0)),
        ];
        add_statistics(&mut group);
        let stats: Vec<&Group> = group
            .iter()
            .map(|(_, t)| t.group.as_ref().unwrap())
            .collect();
        assert_eq!(
            (stats[0].mean, stats[0].std, stats[0].valid),
            (0.5, 0.5, Some(2))
        );
        assert_eq!(
            stats.iter().map(|g| g.excluded).collect::<Vec<_>>(),
            [false, true, true, false]
        );
        let keep = |min_valid, drop_all_equal| {
            GroupFilter {
                min_valid,
                drop_all_equal,
            }
            .verdict(&group)
        };
        assert_eq!(keep(2, true), None);
        assert_eq!(keep(3, false), Some(Dropped::TooFewValid));

        let mut same = vec![
            rollout(0, ExitStatus::Submitted, Some(1.0)),
            rollout(1, ExitStatus::Submitted, Some(1.0)),
        ];
        add_statistics(&mut same);
        assert_eq!(
            same[0].1.group.as_ref().unwrap().valid,
            None,
            "all valid: no key"
        );
        let filter = GroupFilter {
            min_valid: 1,
            drop_all_equal: true,
        };
        assert_eq!(filter.verdict(&same), Some(Dropped::AllEqual));

        let mut none = vec![rollout(0, ExitStatus::PluginError, None)];
        add_statistics(&mut none);
        let stats = none[0].1.group.as_ref().unwrap();
        assert_eq!((stats.mean, stats.std, stats.valid), (0.0, 0.0, Some(0)));
    }
}
