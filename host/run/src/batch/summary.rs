//! What a batch did: the final summary (printed, and saved as
//! `summary.json` beside the output), and a line (or a progress bar tick)
//! per finished trajectory while it runs.

use std::time::Duration;

use crate::atropos::PostReport;
use crate::stats::Stats;
use plinth_record::trajectory::Trajectory;

/// What a batch did, for the summary.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub tasks: usize,
    pub skipped: usize,
    pub bad_lines: usize,
    /// The figures of the trajectories this batch ran (not those an earlier
    /// run did, counted in `skipped`): what `plinth stats --json` prints.
    #[serde(flatten)]
    pub stats: Stats,
    pub wall_secs: f64,
    /// Records that could not be formatted or stored (their canonical
    /// checkpoint is kept).
    pub unsaved: usize,
    /// With `--capture-tokens`: groups written as scored groups, and groups
    /// that had none (no valid rollout, or a rollout without token ids).
    #[serde(skip_serializing_if = "is_zero")]
    pub scored_groups: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub unscored_groups: usize,
    /// Groups left out of per-group outputs: fewer valid rollouts than
    /// `--min-valid-rollouts`, or all rewards equal with `--drop-all-equal`.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_too_few_valid: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_all_equal: usize,
    /// With `--atropos-url`: groups posted to the API server, posted again
    /// after it restarted, and left on disk for the next `--resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atropos: Option<PostReport>,
    /// The signal that stopped the batch early; trajectories still running
    /// then were dropped (their checkpoints stay, for `--resume`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// True when everything ran and every record was saved. Limits reached
    /// by the model are outcomes, not failures.
    pub fn ok(&self) -> bool {
        self.bad_lines == 0
            && self.unsaved == 0
            && self.atropos.is_none_or(|a| a.unposted == 0)
            && self.interrupted.is_none()
            && !self.stats.by_status.keys().any(|s| s.is_error())
    }
}

/// Tells the user as trajectories finish: a progress bar on a terminal,
/// else one log line each.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    done: usize,
    total: usize,
}

impl Progress {
    pub(super) fn new(bar: bool, total: usize) -> Self {
        let bar = bar.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} trajectories ({per_sec}, eta {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            done: 0,
            total,
        }
    }

    pub(super) fn finished(&mut self, t: &Trajectory) {
        self.done += 1;
        match &self.bar {
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
                    "[{}/{}] {} {} ({} calls, {:.1}s{reward}){error}",
                    self.done,
                    self.total,
                    t.id,
                    t.exit_status,
                    t.api_calls,
                    t.duration_secs
                );
            }
        }
    }

    pub(super) fn clear(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
