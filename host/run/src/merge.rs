//! `plinth merge`: the outputs of a batch's shards (or of re-runs) joined
//! into one dataset, one record per task and rollout, with a report of what
//! is missing or failed and a task file that re-runs just those.
//!
//! **Which record wins** when a task's rollout appears more than once (a
//! shard re-run, a task re-run from the report): a record that did not end
//! in an error (`InfrastructureError`, `ModelError`, `PluginError`) wins
//! over one that did; between two of the same kind, the one that started
//! later (`started_at`) wins, then the one read later (later files on the
//! command line, later lines).

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::stats::{Stats, Tally};
use crate::store::save_json;
use plinth_record::task::Task;
use plinth_record::trajectory::{RecordError, Trajectory, read_records};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", .path.display())]
    Tasks { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What a merge found, also written beside the merged output
/// (`<output>.merge.json`).
#[derive(Debug, Default, Serialize)]
pub struct MergeReport {
    /// Records written: one per task and rollout found.
    pub records: usize,
    /// Records read that lost to another of the same task and rollout.
    pub duplicates_dropped: usize,
    /// Lines of the shard outputs that were not records (with where).
    pub bad_lines: Vec<String>,
    /// Tasks of the input with fewer rollouts than the run's group size.
    pub missing: Vec<String>,
    /// Tasks whose best record of some rollout is still an error.
    pub errored: Vec<String>,
    /// A task file of the missing and errored tasks, when there are any.
    pub rerun_tasks: Option<PathBuf>,
    /// The figures of the merged records, as a run's summary has them.
    pub stats: Stats,
}

/// The rank of a record among others of the same task and rollout: higher
/// wins (see the module's rule).
type Rank = (bool, String, usize);

fn rank(t: &Trajectory, order: usize) -> Rank {
    (!t.exit_status.is_error(), t.started_at.clone(), order)
}

/// The winning record of each task id and rollout, with its rank.
type Best = BTreeMap<(String, u32), (Trajectory, Rank)>;

/// Merges the canonical records of `inputs` into `output` (written whole or
/// not at all). With `tasks` (the batch's input), reports the tasks that
/// are missing or errored and writes them to `<output>.rerun.jsonl`.
pub fn merge(
    inputs: &[PathBuf],
    tasks: Option<&Path>,
    output: &Path,
) -> Result<MergeReport, MergeError> {
    let mut report = MergeReport::default();
    let mut best = Best::new();
    let mut order = 0usize;
    for path in inputs {
        let io = |source| MergeError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        for record in read_records(BufReader::new(file)) {
            let trajectory = match record {
                Ok((_, t)) => t,
                Err(RecordError::Read(e)) => return Err(io(e)),
                Err(e) => {
                    report.bad_lines.push(format!("{}:{e}", path.display()));
                    continue;
                }
            };
            order += 1;
            let rollout = trajectory.group.as_ref().map_or(0, |g| g.rollout);
            let key = (trajectory.id.clone(), rollout);
            let ranked = rank(&trajectory, order);
            match best.get(&key) {
                Some((_, held)) if *held >= ranked => report.duplicates_dropped += 1,
                Some(_) => {
                    report.duplicates_dropped += 1;
                    best.insert(key, (trajectory, ranked));
                }
                None => {
                    best.insert(key, (trajectory, ranked));
                }
            }
        }
    }

    let mut kept: Vec<&Trajectory> = best.values().map(|(t, _)| t).collect();
    kept.sort_by_key(|t| (t.input_index, t.group.as_ref().map_or(0, |g| g.rollout)));
    let mut text = Vec::new();
    let mut tally = Tally::default();
    for t in &kept {
        serde_json::to_writer(&mut text, t).expect("trajectories serialise");
        text.push(b'\n');
        tally.add(t);
    }
    write_whole(output, &text)?;
    report.records = kept.len();
    report.stats = tally.stats();

    if let Some(tasks) = tasks {
        report_tasks(&mut report, &best, tasks, output)?;
    }
    save_json(&output.with_extension("merge.json"), &report)?;
    Ok(report)
}

/// Fills in the missing and errored tasks of `tasks` and writes the rerun
/// file of their rows (each with its id, so a re-run's records merge in).
fn report_tasks(
    report: &mut MergeReport,
    best: &Best,
    tasks: &Path,
    output: &Path,
) -> Result<(), MergeError> {
    let (tasks, bad) = Task::read_file(tasks).map_err(|e| MergeError::Tasks {
        path: tasks.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(line) = bad.first() {
        report.bad_lines.push(format!("task file {line}"));
    }
    let group_size = best
        .values()
        .filter_map(|(t, _)| t.settings.as_ref().map(|s| s.group_size))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut rerun = Vec::new();
    for task in &tasks {
        let rollouts: Vec<&Trajectory> = (0..group_size)
            .filter_map(|r| best.get(&(task.id.clone(), r)).map(|(t, _)| t))
            .collect();
        let failed = if rollouts.len() < group_size as usize {
            &mut report.missing
        } else if rollouts.iter().any(|t| t.exit_status.is_error()) {
            &mut report.errored
        } else {
            continue;
        };
        failed.push(task.id.clone());
        let mut row = task.row.clone();
        row.entry("id")
            .or_insert_with(|| Value::String(task.id.clone()));
        serde_json::to_writer(&mut rerun, &row).expect("rows serialise");
        rerun.push(b'\n');
    }
    if !rerun.is_empty() {
        let path = output.with_extension("rerun.jsonl");
        write_whole(&path, &rerun)?;
        report.rerun_tasks = Some(path);
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), MergeError> {
    let io = |source| MergeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let mut file = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
