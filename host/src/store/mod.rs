//! Where trajectories go: the output (one JSONL file, or one file per
//! trajectory in a directory), a companion "done" file that makes `--resume`
//! exact, and per-step checkpoints of runs in progress ([`checkpoint`]).
//!
//! Crash safety rests on one ordering: a record is written and synced to the
//! output *before* its entry (with the output's length after it) is appended
//! to the done file. On resume the output is cut back to the length the last
//! complete done entry names, which drops a torn last line and any record
//! whose done entry never made it; those tasks simply run again. So after a
//! `kill -9` at any moment, a resumed run ends with every task exactly once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod checkpoint;

pub(crate) use checkpoint::{Journal, checkpoint_path};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{done}: task {index} was `{recorded}` in the earlier run but is `{now}` now; the input changed, so start a fresh run instead of --resume"
    )]
    InputChanged {
        done: PathBuf,
        index: u64,
        recorded: String,
        now: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How formatted records are laid out.
#[derive(Debug, Clone)]
pub enum Layout {
    /// One record per line of this file.
    Jsonl(PathBuf),
    /// One file per trajectory in this directory, `<id><extension>`.
    Files { dir: PathBuf, extension: String },
}

impl Layout {
    /// Where a file about the whole run goes: `<stem>.<name>` beside a
    /// JSONL output (`out/run.jsonl` -> `out/run.summary.json`), `<name>` in
    /// an output directory.
    pub fn beside(&self, name: &str) -> PathBuf {
        match self {
            Self::Jsonl(path) => path.with_extension(name),
            Self::Files { dir, .. } => dir.join(name),
        }
    }
}

/// Writes `value` as pretty JSON to `path` whole or not at all (a temp file
/// renamed over it), so a crash never leaves half a file.
pub fn save_json(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    serde_json::to_writer_pretty(&mut file, value).map_err(|e| io(e.into()))?;
    file.write_all(b"\n").map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// One line of the done file.
#[derive(Debug, Serialize, Deserialize)]
struct DoneEntry {
    index: u64,
    /// The rollouts of the task's group (`--group-size`) this entry covers:
    /// a group is recorded in one entry, so it is done whole or not at all.
    #[serde(default = "first_rollout", skip_serializing_if = "is_first_rollout")]
    rollouts: Vec<u32>,
    id: String,
    /// Output length after this record (JSONL layout).
    #[serde(default)]
    end: u64,
}

fn first_rollout() -> Vec<u32> {
    vec![0]
}

fn is_first_rollout(rollouts: &[u32]) -> bool {
    rollouts == [0]
}

/// What one task produced, ready to be stored as a unit: the records of its
/// rollouts (one per rollout, or one for the whole group).
#[derive(Debug)]
pub(crate) struct Record {
    pub index: u64,
    pub id: String,
    pub rollouts: Vec<u32>,
    pub texts: Vec<String>,
}

impl Record {
    /// The record of a task run once.
    pub fn single(index: u64, id: &str, text: String) -> Self {
        Self {
            index,
            id: id.to_string(),
            rollouts: vec![0],
            texts: vec![text],
        }
    }
}

pub struct TrajectoryStore {
    layout: Layout,
    output: Option<File>,
    output_len: u64,
    done: File,
    done_path: PathBuf,
    checkpoints: PathBuf,
    /// Rollouts finished by earlier runs: (input index, rollout) → task id.
    finished: HashMap<(u64, u32), String>,
}

impl TrajectoryStore {
    /// Opens the output. Without `resume`, earlier output is replaced.
    pub fn open(layout: Layout, resume: bool) -> Result<Self, StoreError> {
        let (done_path, checkpoints) = match &layout {
            Layout::Jsonl(path) => (sibling(path, ".done"), sibling(path, ".partial")),
            Layout::Files { dir, .. } => {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                (dir.join(".plinth-done.jsonl"), dir.join(".plinth-partial"))
            }
        };
        if let Some(parent) = done_path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let (finished, valid_len) = if resume {
            read_done(&done_path)?
        } else {
            (Vec::new(), 0)
        };
        let done = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&done_path)
            .map_err(io(&done_path))?;
        // Drop a torn last entry (or everything, for a fresh run).
        done.set_len(valid_len).map_err(io(&done_path))?;

        let (output, output_len) = match &layout {
            Layout::Jsonl(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(false)
                    .open(path)
                    .map_err(io(path))?;
                let keep = finished.iter().map(|e| e.end).max().unwrap_or(0);
                let len = file.metadata().map_err(io(path))?.len();
                if keep > len {
                    // The done file claims more than the output holds: the
                    // output was edited or replaced. Trust neither.
                    return Err(StoreError::Io {
                        path: path.clone(),
                        source: std::io::Error::other(format!(
                            "is shorter ({len} bytes) than its done file records ({keep} bytes); start a fresh run"
                        )),
                    });
                }
                file.set_len(keep).map_err(io(path))?;
                (Some(file), keep)
            }
            Layout::Files { .. } => (None, 0),
        };
        std::fs::create_dir_all(&checkpoints).map_err(io(&checkpoints))?;
        // Half-written files of a crashed run would keep the directory.
        for entry in std::fs::read_dir(&checkpoints).map_err(io(&checkpoints))? {
            let path = entry.map_err(io(&checkpoints))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(path);
            }
        }
        let mut store = Self {
            layout,
            output,
            output_len,
            done,
            done_path,
            checkpoints,
            finished: finished
                .into_iter()
                .flat_map(|e| {
                    let (index, id) = (e.index, e.id);
                    e.rollouts
                        .into_iter()
                        .map(move |r| ((index, r), id.clone()))
                })
                .collect(),
        };
        if let Some(file) = store.output.as_mut() {
            file.seek(std::io::SeekFrom::End(0))
                .map_err(io(&store.done_path))?;
        }
        for &(index, rollout) in store.finished.keys() {
            let _ = std::fs::remove_file(checkpoint_path(&store.checkpoints, index, rollout));
        }
        Ok(store)
    }

    /// Whether an earlier run finished rollout `rollout` of task `index`;
    /// errors if that task's id changed since (the input file was edited).
    pub fn is_finished(&self, index: u64, rollout: u32, id: &str) -> Result<bool, StoreError> {
        match self.finished.get(&(index, rollout)) {
            None => Ok(false),
            Some(recorded) if recorded == id => Ok(true),
            Some(recorded) => Err(StoreError::InputChanged {
                done: self.done_path.clone(),
                index,
                recorded: recorded.clone(),
                now: id.to_string(),
            }),
        }
    }

    /// Directory of per-step checkpoints of runs in progress.
    pub(crate) fn checkpoint_dir(&self) -> &Path {
        &self.checkpoints
    }

    /// Appends records and makes them durable: output first, then done
    /// entries, each synced once for the whole batch.
    pub(crate) fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(records.len());
        match &self.layout {
            Layout::Jsonl(path) => {
                let file = self
                    .output
                    .as_mut()
                    .expect("JSONL layout has an output file");
                let mut buf = Vec::new();
                for record in records {
                    for text in &record.texts {
                        buf.extend_from_slice(text.as_bytes());
                        buf.push(b'\n');
                    }
                    entries.push(DoneEntry {
                        index: record.index,
                        rollouts: record.rollouts.clone(),
                        id: record.id.clone(),
                        end: self.output_len + buf.len() as u64,
                    });
                }
                file.write_all(&buf).map_err(io(path))?;
                file.sync_data().map_err(io(path))?;
                self.output_len += buf.len() as u64;
            }
            Layout::Files { dir, extension } => {
                for record in records {
                    let base = file_name(&record.id);
                    for (n, text) in record.texts.iter().enumerate() {
                        let name = if record.rollouts == [0] {
                            base.clone()
                        } else if record.texts.len() == 1 {
                            format!("{base}.group")
                        } else {
                            format!("{base}.{}", record.rollouts[n])
                        };
                        write_atomic(&dir.join(format!("{name}{extension}")), text.as_bytes())?;
                    }
                    entries.push(DoneEntry {
                        index: record.index,
                        rollouts: record.rollouts.clone(),
                        id: record.id.clone(),
                        end: 0,
                    });
                }
            }
        }
        let mut lines = Vec::new();
        for entry in &entries {
            serde_json::to_writer(&mut lines, entry).expect("done entries serialise");
            lines.push(b'\n');
        }
        self.done.write_all(&lines).map_err(io(&self.done_path))?;
        self.done.sync_data().map_err(io(&self.done_path))?;
        for record in records {
            for &rollout in &record.rollouts {
                let _ =
                    std::fs::remove_file(checkpoint_path(&self.checkpoints, record.index, rollout));
            }
        }
        Ok(())
    }

    /// Ends the run: the checkpoint directory goes when no run left a
    /// record there (a formatter failure or a crash keeps it).
    pub(crate) fn close(self) {
        let _ = std::fs::remove_dir(&self.checkpoints);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// `<path><suffix>` beside `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A task id made safe as a file name.
pub fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// Complete entries of a done file and the byte length they span; a torn
/// last line is left out.
fn read_done(path: &Path) -> Result<(Vec<DoneEntry>, u64), StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut valid = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io(path))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<DoneEntry>(&line) {
            Ok(entry) => entries.push(entry),
            Err(_) => break,
        }
        valid += n as u64;
    }
    Ok((entries, valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, text: &str) -> Record {
        Record::single(index, &format!("t{index}"), text.into())
    }

    #[test]
    fn resume_cuts_records_without_done_entries_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), false).unwrap();
        store
            .append(&[record(0, "{\"a\":0}"), record(2, "{\"a\":2}")])
            .unwrap();
        drop(store);
        // A crash after writing a record but before its done entry, then a
        // torn half line.
        let mut f = OpenOptions::new().append(true).open(&out).unwrap();
        f.write_all(b"{\"a\":1}\n{\"a\":").unwrap();
        let mut d = OpenOptions::new()
            .append(true)
            .open(sibling(&out, ".done"))
            .unwrap();
        d.write_all(b"{\"index\":1,\"id\":\"t1\",\"en").unwrap();

        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), true).unwrap();
        assert!(store.is_finished(0, 0, "t0").unwrap());
        assert!(store.is_finished(2, 0, "t2").unwrap());
        assert!(!store.is_finished(1, 0, "t1").unwrap());
        assert!(store.is_finished(0, 0, "changed").is_err());
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"a\":0}\n{\"a\":2}\n"
        );
    }

    #[test]
    fn fresh_run_replaces_earlier_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), false).unwrap();
        store.append(&[record(0, "old")]).unwrap();
        drop(store);
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), false).unwrap();
        assert!(!store.is_finished(0, 0, "t0").unwrap());
        store.append(&[record(0, "new")]).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new\n");
    }

    #[test]
    fn file_layout_writes_one_file_per_trajectory() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TrajectoryStore::open(
            Layout::Files {
                dir: dir.path().to_path_buf(),
                extension: ".traj.json".into(),
            },
            false,
        )
        .unwrap();
        store.append(&[record(0, "{}")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t0.traj.json")).unwrap(),
            "{}"
        );
        assert_eq!(file_name("../x y"), "_.._x_y");
    }
}
