//! Turning finished trajectories into stored records: the output format,
//! and the one writer task that stores them.

use serde_json::Value;
use tokio::sync::mpsc;

use crate::store::{Record, StoreError, TrajectoryStore};
use plinth_plugin::{FormatterPlugin, PluginError};
use plinth_record::trajectory::Trajectory;

/// How trajectories are turned into output records.
#[derive(Clone)]
pub enum OutputFormat {
    /// The canonical record itself (what `plinth format` and `rescore` read).
    Canonical,
    Plugin {
        formatter: Box<FormatterPlugin>,
        options: Value,
    },
}

impl OutputFormat {
    pub async fn format(
        &self,
        trajectory: &Trajectory,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        match self {
            Self::Canonical => Ok(canonical_text(trajectory, jsonl)),
            Self::Plugin { formatter, options } => {
                formatter.format(trajectory, options, jsonl).await
            }
        }
    }

    /// A per-group formatter: one record per group of rollouts.
    pub(super) fn per_group(&self) -> bool {
        matches!(self, Self::Plugin { formatter, .. } if formatter.info.per_group)
    }

    /// The records of a finished group: one for a per-group formatter, else
    /// one per rollout.
    pub(super) async fn format_group(
        &self,
        group: &[Trajectory],
        jsonl: bool,
    ) -> Result<Vec<String>, PluginError> {
        if let Self::Plugin { formatter, options } = self
            && formatter.info.per_group
        {
            return Ok(vec![formatter.format_group(group, options, jsonl).await?]);
        }
        let mut records = Vec::with_capacity(group.len());
        for trajectory in group {
            records.push(self.format(trajectory, jsonl).await?);
        }
        Ok(records)
    }
}

/// The canonical JSON of a record: one line for JSONL, else pretty.
fn canonical_text(trajectory: &Trajectory, jsonl: bool) -> String {
    let text = if jsonl {
        serde_json::to_string(trajectory)
    } else {
        serde_json::to_string_pretty(trajectory)
    };
    text.expect("a record holds only strings, numbers and JSON values: it serialises")
}

/// Logs a record that could not be formatted; its canonical checkpoint stays.
pub(super) fn format_failed(id: &str, e: &PluginError) {
    tracing::error!(
        "formatting {id} failed: {e}; its canonical record stays in the checkpoint directory"
    );
}

/// Starts the writer: one blocking task owns the store and batches records
/// that arrive together into one sync. It returns how many records it could
/// not store.
pub(super) fn spawn_writer(
    mut store: TrajectoryStore,
) -> (
    mpsc::UnboundedSender<Record>,
    tokio::task::JoinHandle<Result<usize, StoreError>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
    let writer = tokio::task::spawn_blocking(move || {
        let mut unsaved = 0;
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            if let Err(e) = store.append(&batch) {
                tracing::error!("storing {} record(s) failed: {e}", batch.len());
                unsaved += batch.len();
            }
        }
        store.close();
        Ok(unsaved)
    });
    (tx, writer)
}
