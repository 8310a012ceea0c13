//! Scored groups: a finished group of rollouts as atroposlib 0.4.0's
//! `ScoredDataGroup` (`atroposlib/envs/base.py`, and the API server's
//! `ScoredData` model), with the token rows the trainer learns from.
//!
//! The rows come from [`plinth_record::training`]: the ids the server sampled, never a
//! re-tokenization. A rollout that ended in an error (infrastructure, model,
//! plugin) is not in the group's rows, so a broken sandbox never teaches the
//! policy a reward of 0. With `--capture-tokens`, `plinth run` writes one
//! scored group per line to `<output stem>.scored.jsonl`; `--atropos-url`
//! posts the same lines (`crate::atropos`).

use serde::Serialize;

use plinth_record::tokens::SampleSource;
use plinth_record::training;
use plinth_record::trajectory::Trajectory;

/// One `ScoredDataGroup`: `tokens`, `masks` and `scores` are what the API
/// server requires; every row of `masks` and `inference_logprobs` is as long
/// as its `tokens` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredGroup {
    pub tokens: Vec<Vec<u32>>,
    pub masks: Vec<Vec<i64>>,
    /// The reward of each row's rollout (a rollout assembled per turn has one
    /// row per call, each with its rollout's reward).
    pub scores: Vec<f64>,
    /// Absent when a call came without logprobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_logprobs: Option<Vec<Vec<f64>>>,
    /// Where the rows came from, for people and for matching them back to
    /// records (atroposlib's `group_overrides` is free-form): the task id,
    /// the rollout of each row, and whether their ids were recomputed.
    pub group_overrides: GroupOrigin,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupOrigin {
    pub plinth_task: String,
    pub plinth_rollouts: Vec<u32>,
    /// `recomputed` (`--tokenizer` computed the rows' ids: the server
    /// returned none) or `mixed` (some rows' ids are the server's, some
    /// recomputed); omitted when every id is what the server sampled.
    #[serde(skip_serializing_if = "SampleSource::is_sampled")]
    pub plinth_token_source: SampleSource,
}

/// Why a finished group has no scored group.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unscored {
    #[error("no rollout of the group ended without an error")]
    NoValidRollout,
    #[error("rollout {rollout} has no training rows: {reason}")]
    NoTokens { rollout: u32, reason: String },
}

/// The scored group of `group`'s valid rollouts (in rollout order, as
/// `(rollout, trajectory)`).
pub fn scored_group(group: &[(u32, &Trajectory)]) -> Result<ScoredGroup, Unscored> {
    let mut scored = ScoredGroup {
        tokens: Vec::new(),
        masks: Vec::new(),
        scores: Vec::new(),
        inference_logprobs: Some(Vec::new()),
        group_overrides: GroupOrigin {
            plinth_task: group.first().map(|(_, t)| t.id.clone()).unwrap_or_default(),
            plinth_rollouts: Vec::new(),
            plinth_token_source: SampleSource::Sampled,
        },
    };
    let mut sources = Vec::new();
    for (rollout, trajectory) in group {
        if trajectory.exit_status.is_error() {
            continue;
        }
        let assembly = training::assemble(&trajectory.messages);
        if let training::Assembly::Unavailable { reason } = &assembly {
            return Err(Unscored::NoTokens {
                rollout: *rollout,
                reason: reason.clone(),
            });
        }
        let reward = trajectory.score.as_ref().map_or(0.0, |s| s.reward);
        for sample in assembly.samples() {
            sources.push(sample.source);
            scored.tokens.push(sample.tokens.clone());
            scored.masks.push(sample.masks.clone());
            scored.scores.push(reward);
            scored.group_overrides.plinth_rollouts.push(*rollout);
            scored.inference_logprobs = match (scored.inference_logprobs, &sample.logprobs) {
                (Some(mut rows), Some(row)) => {
                    rows.push(row.clone());
                    Some(rows)
                }
                _ => None,
            };
        }
    }
    if scored.tokens.is_empty() {
        return Err(Unscored::NoValidRollout);
    }
    scored.group_overrides.plinth_token_source = sources.into_iter().collect();
    Ok(scored)
}

/// Where a run's scored groups go: `<output stem>.scored.jsonl`, one group
/// per line, each synced before it counts as written (the Atropos poster
/// only posts what is on disk).
///
/// A task's group is written once. A resumed run re-runs the errored
/// rollouts of a group whose line an earlier run already wrote (without
/// them); that line stays the group's, because a trainer may already have
/// taken it, and a second line would hand it the group's valid rollouts
/// twice.
pub struct ScoredFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    /// Tasks whose group has a line.
    written: std::collections::HashSet<String>,
}

/// Whether [`ScoredFile::append`] wrote the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written,
    /// An earlier run of the same output wrote this task's group.
    AlreadyWritten,
}

impl ScoredFile {
    /// Opens `path`: emptied for a `fresh` run, appended to by a resumed one
    /// (whose earlier groups stay, and are not written again).
    pub fn open(path: &std::path::Path, fresh: bool) -> std::io::Result<Self> {
        if fresh {
            std::fs::File::create(path)?;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        // A line a crash cut short was never synced, so never posted: cut
        // it off, or the next group would be glued to it.
        let complete = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |end| end + 1);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        if complete < bytes.len() {
            file.set_len(complete as u64)?;
        }
        let written = written_tasks(&bytes[..complete]);
        Ok(Self {
            path: path.to_path_buf(),
            file,
            written,
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Appends one group as a line and syncs it, unless its task's group
    /// is already in the file.
    pub fn append(&mut self, group: &ScoredGroup) -> std::io::Result<Appended> {
        use std::io::Write;
        let task = &group.group_overrides.plinth_task;
        if self.written.contains(task) {
            return Ok(Appended::AlreadyWritten);
        }
        let mut line = serde_json::to_vec(group).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.written.insert(task.clone());
        Ok(Appended::Written)
    }
}

/// The tasks of the groups in a scored file's lines.
fn written_tasks(lines: &[u8]) -> std::collections::HashSet<String> {
    lines
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter_map(|group| {
            let task = group.get("group_overrides")?.get("plinth_task")?.as_str()?;
            Some(task.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_record::task::Task;
    use plinth_record::tokens::{MASKED, TokenRecord, TokenSource};
    use plinth_record::trajectory::{ExitStatus, Message, Role, Score};

    fn rollout(reward: f64, status: ExitStatus, tokens: Option<TokenRecord>) -> Trajectory {
        let mut t = Trajectory::start(&Task::single("p"), "m", "local");
        let mut m = Message::new(Role::Assistant, "a");
        m.tokens = tokens;
        t.messages = vec![Message::new(Role::User, "p"), m];
        t.exit_status = status;
        t.score = Some(Score {
            reward,
            sub_scores: Default::default(),
            details: Default::default(),
        });
        t
    }

    fn ids(prompt: &[u32], completion: &[u32]) -> Option<TokenRecord> {
        Some(TokenRecord {
            prompt_shared: 0,
            prompt_ids: prompt.to_vec(),
            completion_ids: completion.to_vec(),
            logprobs: Some(vec![-0.5; completion.len()]),
            finish_reason: Some("stop".into()),
            source: Default::default(),
        })
    }

    #[test]
    fn errored_rollouts_are_left_out_not_scored_zero() {
        let (a, b, c) = (
            rollout(1.0, ExitStatus::Submitted, ids(&[1], &[2])),
            rollout(0.0, ExitStatus::InfrastructureError, None),
            rollout(0.0, ExitStatus::LimitsExceeded, ids(&[1], &[3, 4])),
        );
        let group = scored_group(&[(0, &a), (1, &b), (2, &c)]).unwrap();
        assert_eq!(group.scores, [1.0, 0.0]);
        assert_eq!(group.group_overrides.plinth_rollouts, [0, 2]);
        assert_eq!(group.masks[1], [MASKED, 3, 4]);
        assert_eq!(group.inference_logprobs.unwrap()[1], [1.0, -0.5, -0.5]);
        assert_eq!(scored_group(&[(1, &b)]), Err(Unscored::NoValidRollout));
        let without = rollout(1.0, ExitStatus::Submitted, None);
        assert!(matches!(
            scored_group(&[(0, &without)]),
            Err(Unscored::NoTokens { rollout: 0, .. })
        ));
    }

    #[test]
    fn recomputed_rows_are_flagged_in_the_group() {
        let recomputed = |completion: &[u32]| {
            let mut record = ids(&[1], completion).unwrap();
            record.logprobs = None;
            record.source = TokenSource::Recomputed;
            Some(record)
        };
        let (a, b) = (
            rollout(1.0, ExitStatus::Submitted, recomputed(&[2])),
            rollout(0.0, ExitStatus::Submitted, recomputed(&[3])),
        );
        let group = scored_group(&[(0, &a), (1, &b)]).unwrap();
        assert_eq!(group.inference_logprobs, None);
        let line = serde_json::to_value(&group).unwrap();
        assert_eq!(line["group_overrides"]["plinth_token_source"], "recomputed");
        let served = rollout(0.5, ExitStatus::Submitted, ids(&[1], &[4]));
        let group = scored_group(&[(0, &a), (1, &served)]).unwrap();
        assert_eq!(
            group.group_overrides.plinth_token_source,
            SampleSource::Mixed
        );
        let line = serde_json::to_value(scored_group(&[(0, &served)]).unwrap()).unwrap();
        assert!(
            line["group_overrides"].get("plinth_token_source").is_none(),
            "{line}"
        );
    }

    #[test]
    fn a_task_whose_group_is_in_the_file_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.scored.jsonl");
        let a = rollout(1.0, ExitStatus::Submitted, ids(&[1], &[2]));
        let group = scored_group(&[(0, &a)]).unwrap();
        let mut file = ScoredFile::open(&path, true).unwrap();
        assert_eq!(file.append(&group).unwrap(), Appended::Written);
        assert_eq!(file.append(&group).unwrap(), Appended::AlreadyWritten);
        // A crash cut the next line short: that group was not written, and
        // the line is cut off so the next one starts clean.
        let mut other = group.clone();
        other.group_overrides.plinth_task = "other".into();
        let mut text = std::fs::read_to_string(&path).unwrap();
        let line = serde_json::to_string(&other).unwrap();
        text.push_str(&line[..line.len() - 3]);
        std::fs::write(&path, &text).unwrap();
        let mut resumed = ScoredFile::open(&path, false).unwrap();
        assert_eq!(resumed.append(&group).unwrap(), Appended::AlreadyWritten);
        assert_eq!(resumed.append(&other).unwrap(), Appended::Written);
        let lines = std::fs::read_to_string(&path).unwrap();
        assert_eq!(lines.lines().count(), 2, "{lines}");
        assert!(
            lines
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        );
        // A fresh run starts the file over.
        let mut fresh = ScoredFile::open(&path, true).unwrap();
        assert_eq!(fresh.append(&group).unwrap(), Appended::Written);
    }
}
