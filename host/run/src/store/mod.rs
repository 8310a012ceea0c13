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
//!
//! `--resume` also runs again the tasks whose records ended in an error
//! ([`Resume::RetryErrors`]; a done entry says whether its record did). Their
//! records must leave the output first, and in a JSONL output they may sit
//! anywhere, so the output is rewritten without them (`compact`): the kept
//! records are copied into `<output>.compact`, a done file whose offsets match
//! it replaces the old one (the commit point), then the copy replaces the
//! output. Each step is synced before the next; a `kill -9` (or power loss)
//! between two steps leaves either the old pair or the new done file beside a
//! complete `.compact`, and [`TrajectoryStore::open`] finishes or discards the
//! rewrite by comparing the two (see `recover_compaction`). In a directory
//! output only the done file is rewritten: the errored records' files stay
//! until their tasks' new records replace them.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, Write};
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

/// What `--resume` keeps of an earlier run of the same output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// No resume: earlier output is replaced.
    Fresh,
    /// Skip every task with a record, errors included (`--resume-keep-errors`).
    KeepErrors,
    /// Skip tasks with a good record; those that ended in an infrastructure,
    /// model or plugin error run again and their records are replaced.
    RetryErrors,
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
    /// The record (a rollout of it, for a group) ended in an error status.
    /// Done files written before this field existed read as no error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    error: bool,
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
    /// A rollout ended in an error status: `--resume` runs the task again.
    pub error: bool,
}

impl Record {
    /// The record of a task run once.
    pub fn single(index: u64, id: &str, text: String, error: bool) -> Self {
        Self {
            index,
            id: id.to_string(),
            rollouts: vec![0],
            texts: vec![text],
            error,
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
    /// Opens the output. With [`Resume::Fresh`], earlier output is replaced;
    /// with [`Resume::RetryErrors`], errored records are dropped from it so
    /// their tasks run again.
    pub fn open(layout: Layout, resume: Resume) -> Result<Self, StoreError> {
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
        let (mut finished, mut valid_len) = if resume == Resume::Fresh {
            (Vec::new(), 0)
        } else {
            read_done(&done_path)?
        };
        // A done file being written by an interrupted rewrite never took effect.
        let _ = std::fs::remove_file(sibling(&done_path, ".tmp"));
        let errored = finished.iter().filter(|e| e.error).count();
        let retry = resume == Resume::RetryErrors && errored > 0;
        if retry {
            tracing::info!(
                "{}: {errored} record(s) ended in an error; their tasks run again",
                done_path.display()
            );
        }

        let (output, output_len) = match &layout {
            Layout::Jsonl(path) => {
                let compacted = sibling(path, ".compact");
                if resume == Resume::Fresh {
                    let _ = std::fs::remove_file(&compacted);
                } else {
                    recover_compaction(path, &compacted, &finished)?;
                }
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
                if retry {
                    drop(file);
                    finished = compact(path, &compacted, &done_path, finished)?;
                    valid_len = file_len(&done_path)?;
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io(path))?;
                    let len = file.metadata().map_err(io(path))?.len();
                    (Some(file), len)
                } else {
                    (Some(file), keep)
                }
            }
            Layout::Files { .. } => {
                if retry {
                    finished.retain(|e| !e.error);
                    replace_done(&done_path, &finished)?;
                    valid_len = file_len(&done_path)?;
                }
                (None, 0)
            }
        };
        let done = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&done_path)
            .map_err(io(&done_path))?;
        // Drop a torn last entry (or everything, for a fresh run).
        done.set_len(valid_len).map_err(io(&done_path))?;
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
                        error: record.error,
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
                        error: record.error,
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

fn file_len(path: &Path) -> Result<u64, StoreError> {
    Ok(std::fs::metadata(path).map_err(io(path))?.len())
}

/// Syncs the directory holding `path`, so a rename in it is durable.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io(parent))
}

/// Writes `bytes` to `<path>.tmp`, syncs it, and renames it over `path`; the
/// directory is synced so the new file is the one that survives a crash.
fn replace_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = sibling(path, ".tmp");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_parent(path)
}

/// Replaces the done file with `entries`, atomically and durably.
fn replace_done(done_path: &Path, entries: &[DoneEntry]) -> Result<(), StoreError> {
    let mut lines = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut lines, entry).expect("done entries serialise");
        lines.push(b'\n');
    }
    replace_durably(done_path, &lines)
}

/// Drops the errored records from a JSONL output: the kept records (in
/// their order) are copied to `compacted` and synced, the done file is
/// replaced by one whose offsets match the copy (the commit point), then the
/// copy replaces the output. Returns the kept entries.
fn compact(
    output: &Path,
    compacted: &Path,
    done_path: &Path,
    entries: Vec<DoneEntry>,
) -> Result<Vec<DoneEntry>, StoreError> {
    let kept = write_compacted(output, compacted, entries)?;
    replace_done(done_path, &kept)?;
    install_compacted(output, compacted)?;
    Ok(kept)
}

/// The first step of [`compact`]: the kept records, copied into
/// `compacted` and synced, and their entries with the new offsets.
fn write_compacted(
    output: &Path,
    compacted: &Path,
    entries: Vec<DoneEntry>,
) -> Result<Vec<DoneEntry>, StoreError> {
    let mut source = BufReader::new(File::open(output).map_err(io(output))?);
    let mut target = std::io::BufWriter::new(File::create(compacted).map_err(io(compacted))?);
    let mut kept = Vec::with_capacity(entries.len());
    let (mut start, mut written) = (0u64, 0u64);
    for mut entry in entries {
        // Entries are in output order and each spans the bytes after the
        // one before it.
        let len = entry.end.saturating_sub(start);
        start = entry.end;
        if entry.error {
            std::io::copy(&mut (&mut source).take(len), &mut std::io::sink())
                .map_err(io(output))?;
            continue;
        }
        let copied =
            std::io::copy(&mut (&mut source).take(len), &mut target).map_err(io(compacted))?;
        if copied != len {
            return Err(StoreError::Io {
                path: output.to_path_buf(),
                source: std::io::Error::other("ended before its done file's last record"),
            });
        }
        written += len;
        entry.end = written;
        kept.push(entry);
    }
    let target = target
        .into_inner()
        .map_err(|e| io(compacted)(e.into_error()))?;
    target.sync_all().map_err(io(compacted))?;
    Ok(kept)
}

/// The last step of [`compact`], also taken by [`recover_compaction`].
fn install_compacted(output: &Path, compacted: &Path) -> Result<(), StoreError> {
    std::fs::rename(compacted, output).map_err(io(output))?;
    sync_parent(output)
}

/// Finishes or discards a [`compact`] a crash interrupted. The done file
/// decides: the one written with the copy ends exactly at the copy's length,
/// while the old one ends at the old output's, which is longer (it also holds
/// the dropped records, each at least a newline). So a `compacted` file whose
/// length the done file's last offset names is the committed output, and any
/// other is a copy that never took effect.
fn recover_compaction(
    output: &Path,
    compacted: &Path,
    entries: &[DoneEntry],
) -> Result<(), StoreError> {
    let Ok(copy) = std::fs::metadata(compacted) else {
        return Ok(());
    };
    let end = entries.iter().map(|e| e.end).max().unwrap_or(0);
    if copy.len() == end {
        install_compacted(output, compacted)
    } else {
        std::fs::remove_file(compacted).map_err(io(compacted))
    }
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
        Record::single(index, &format!("t{index}"), text.into(), false)
    }

    fn errored(index: u64, text: &str) -> Record {
        Record::single(index, &format!("t{index}"), text.into(), true)
    }

    fn finished(store: &TrajectoryStore, indexes: std::ops::Range<u64>) -> Vec<u64> {
        indexes
            .filter(|&i| store.is_finished(i, 0, &format!("t{i}")).unwrap())
            .collect()
    }

    /// An output of four records, the second and the fourth errored.
    fn output_with_errors() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::Fresh).unwrap();
        store.append(&[record(0, "a0"), errored(1, "e1")]).unwrap();
        store.append(&[record(2, "a2"), errored(3, "e3")]).unwrap();
        drop(store);
        (dir, out)
    }

    fn done_entries(out: &Path) -> Vec<(u64, u64, bool)> {
        read_done(&sibling(out, ".done"))
            .unwrap()
            .0
            .iter()
            .map(|e| (e.index, e.end, e.error))
            .collect()
    }

    #[test]
    fn resume_drops_errored_records_and_runs_their_tasks_again() {
        let (_dir, out) = output_with_errors();
        let keep = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::KeepErrors).unwrap();
        assert_eq!(finished(&keep, 0..4), [0, 1, 2, 3]);
        drop(keep);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\ne1\na2\ne3\n");

        let mut store =
            TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::RetryErrors).unwrap();
        assert_eq!(finished(&store, 0..4), [0, 2]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\na2\n");
        assert_eq!(done_entries(&out), [(0, 3, false), (2, 6, false)]);
        assert!(!sibling(&out, ".compact").exists());
        store.append(&[record(3, "b3"), errored(1, "f1")]).unwrap();
        drop(store);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\na2\nb3\nf1\n");

        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::RetryErrors).unwrap();
        assert_eq!(finished(&store, 0..4), [0, 2, 3]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\na2\nb3\n");
    }

    /// A crash after the compacted copy is written but before the done file
    /// is replaced: the copy is discarded, the old output stands.
    #[test]
    fn a_rewrite_killed_before_its_done_file_never_happened() {
        let (_dir, out) = output_with_errors();
        let compacted = sibling(&out, ".compact");
        let (entries, _) = read_done(&sibling(&out, ".done")).unwrap();
        write_compacted(&out, &compacted, entries).unwrap();
        // And a done file half written beside it.
        std::fs::write(sibling(&sibling(&out, ".done"), ".tmp"), "{\"ind").unwrap();

        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::KeepErrors).unwrap();
        assert_eq!(finished(&store, 0..4), [0, 1, 2, 3]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\ne1\na2\ne3\n");
        assert!(!compacted.exists());
        assert!(!sibling(&sibling(&out, ".done"), ".tmp").exists());
        drop(store);

        // A torn copy, then the rewrite redone whole.
        std::fs::write(&compacted, "a0\n").unwrap();
        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::RetryErrors).unwrap();
        assert_eq!(finished(&store, 0..4), [0, 2]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\na2\n");
    }

    /// A crash after the done file is replaced but before the copy replaces
    /// the output: the copy is installed, so offsets and output agree.
    #[test]
    fn a_rewrite_killed_after_its_done_file_is_finished() {
        let (_dir, out) = output_with_errors();
        let compacted = sibling(&out, ".compact");
        let done = sibling(&out, ".done");
        let (entries, _) = read_done(&done).unwrap();
        let kept = write_compacted(&out, &compacted, entries).unwrap();
        replace_done(&done, &kept).unwrap();

        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::KeepErrors).unwrap();
        assert_eq!(finished(&store, 0..4), [0, 2]);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a0\na2\n");
        assert!(!compacted.exists());
    }

    #[test]
    fn a_directory_output_forgets_errored_records_in_its_done_file() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::Files {
            dir: dir.path().to_path_buf(),
            extension: ".json".into(),
        };
        let mut store = TrajectoryStore::open(layout.clone(), Resume::Fresh).unwrap();
        store.append(&[record(0, "a0"), errored(1, "e1")]).unwrap();
        drop(store);
        let mut store = TrajectoryStore::open(layout.clone(), Resume::RetryErrors).unwrap();
        assert_eq!(finished(&store, 0..2), [0]);
        store.append(&[record(1, "b1")]).unwrap();
        drop(store);
        let store = TrajectoryStore::open(layout, Resume::RetryErrors).unwrap();
        assert_eq!(finished(&store, 0..2), [0, 1]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(
            (read("t0.json"), read("t1.json")),
            ("a0".into(), "b1".into())
        );
    }

    #[test]
    fn resume_cuts_records_without_done_entries_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::Fresh).unwrap();
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

        let store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::RetryErrors).unwrap();
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
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::Fresh).unwrap();
        store.append(&[record(0, "old")]).unwrap();
        drop(store);
        let mut store = TrajectoryStore::open(Layout::Jsonl(out.clone()), Resume::Fresh).unwrap();
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
            Resume::Fresh,
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
