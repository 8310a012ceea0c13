//! Checkpoints of runs in progress: after every step a run's state is on
//! disk, so a crash leaves the partial run behind.
//!
//! A run's checkpoint is a journal (`<index>[.<rollout>].jsonl` in the
//! store's checkpoint directory): its canonical record when it started, then
//! one [`Progress`] line per step with only what that step added. A step
//! therefore costs an append of a few hundred bytes, not a rewrite of the
//! whole growing record into a new file (which, at a thousand runs in flight,
//! spent most of the host's CPU allocating inodes in the file system). A torn
//! last line, from a crash in mid-append, is ignored when the journal is read.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};

use tokio::sync::oneshot;

use super::{StoreError, io, write_atomic};
use plinth_agent::Checkpoint;
use plinth_record::sync::Locked;
use plinth_record::trajectory::{ExitStatus, Trajectory};

pub(crate) fn checkpoint_path(dir: &Path, index: u64, rollout: u32) -> PathBuf {
    if rollout == 0 {
        dir.join(format!("{index}.jsonl"))
    } else {
        dir.join(format!("{index}.{rollout}.jsonl"))
    }
}

/// The checkpoint journal of one run.
pub(crate) struct Journal {
    path: PathBuf,
    /// Messages already in the journal; `None` until its first line.
    saved: Option<usize>,
}

/// A run's journal is its agent checkpoint: a step's save is queued so the
/// run goes on; the final save is on disk before the record is stored (which
/// removes the journal).
#[async_trait::async_trait]
impl Checkpoint for Journal {
    async fn save(&mut self, trajectory: &Trajectory) {
        if trajectory.exit_status == ExitStatus::Running {
            self.queue(trajectory);
        } else if let Err(e) = self.write(trajectory).await {
            tracing::warn!("checkpoint of {} failed: {e}", trajectory.id);
        }
    }
}

impl Journal {
    pub fn new(dir: &Path, index: u64, rollout: u32) -> Self {
        Self {
            path: checkpoint_path(dir, index, rollout),
            saved: None,
        }
    }

    /// Saves the run's state in the background, so a step never waits on the
    /// file system; the write happens shortly after, in order with the run's
    /// other saves, and a failure is logged.
    pub(crate) fn queue(&mut self, trajectory: &Trajectory) {
        let (bytes, restart) = self.next_line(trajectory);
        writer().submit(self.path.clone(), bytes, restart, None);
    }

    /// Saves the run's state and returns once it is written.
    pub async fn write(&mut self, trajectory: &Trajectory) -> Result<(), StoreError> {
        let (bytes, restart) = self.next_line(trajectory);
        let (done, written) = oneshot::channel();
        writer().submit(self.path.clone(), bytes, restart, Some(done));
        let failure = match written.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err((kind, message))) => std::io::Error::new(kind, message),
            Err(_) => std::io::Error::other("the checkpoint writer stopped"),
        };
        Err(StoreError::Io {
            path: self.path.clone(),
            source: failure,
        })
    }

    /// The journal line that brings the saved state up to `trajectory`, and
    /// whether it starts the journal afresh (its first line, or a record
    /// whose messages were replaced rather than extended).
    fn next_line(&mut self, trajectory: &Trajectory) -> (Vec<u8>, bool) {
        let mut line = Vec::with_capacity(512);
        let restart = match self.saved {
            Some(saved) if saved <= trajectory.messages.len() => {
                serde_json::to_writer(&mut line, &trajectory.progress_since(saved))
                    .expect("progress serialises");
                false
            }
            _ => {
                serde_json::to_writer(&mut line, trajectory).expect("trajectories serialise");
                true
            }
        };
        line.push(b'\n');
        self.saved = Some(trajectory.messages.len());
        (line, restart)
    }
}

/// Why a checkpoint write failed, for each run waiting on it.
type WriteResult = Result<(), (std::io::ErrorKind, String)>;

/// Every checkpoint of the process is written by one thread. A thread per
/// write (`spawn_blocking`) made a thousand runs in flight contend for the
/// checkpoint directory's lock with hundreds of threads; one writer has no
/// contention, and when it falls behind, a run's queued lines are written
/// together in one append.
struct Writer {
    state: Mutex<WriterState>,
    ready: Condvar,
}

#[derive(Default)]
struct WriterState {
    /// Journals with pending lines, oldest first; each appears once.
    order: VecDeque<PathBuf>,
    pending: HashMap<PathBuf, PendingWrite>,
}

struct PendingWrite {
    bytes: Vec<u8>,
    /// Replace the journal rather than append to it.
    restart: bool,
    /// Callers waiting for these lines to be written.
    waiting: Vec<oneshot::Sender<WriteResult>>,
}

fn writer() -> &'static Writer {
    static WRITER: OnceLock<&'static Writer> = OnceLock::new();
    WRITER.get_or_init(|| {
        let writer: &'static Writer = Box::leak(Box::new(Writer {
            state: Mutex::new(WriterState::default()),
            ready: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("plinth-checkpoints".into())
            .spawn(move || writer.run())
            .expect("spawning the checkpoint writer");
        writer
    })
}

impl Writer {
    fn submit(
        &self,
        path: PathBuf,
        bytes: Vec<u8>,
        restart: bool,
        done: Option<oneshot::Sender<WriteResult>>,
    ) {
        let mut state = self.state.locked();
        // The writer only sleeps on an empty queue: wake it for the first
        // entry, not for every step (each wake is a futex call).
        let idle = state.order.is_empty();
        match state.pending.get_mut(&path) {
            Some(pending) if restart => {
                pending.bytes = bytes;
                pending.restart = true;
                pending.waiting.extend(done);
            }
            Some(pending) => {
                pending.bytes.extend_from_slice(&bytes);
                pending.waiting.extend(done);
            }
            None => {
                state.order.push_back(path.clone());
                let waiting = done.into_iter().collect();
                state.pending.insert(
                    path,
                    PendingWrite {
                        bytes,
                        restart,
                        waiting,
                    },
                );
            }
        }
        drop(state);
        if idle {
            self.ready.notify_one();
        }
    }

    fn run(&self) {
        loop {
            let (path, write) = {
                let mut state = self.state.locked();
                loop {
                    if let Some(path) = state.order.pop_front() {
                        let write = state
                            .pending
                            .remove(&path)
                            .expect("every queued journal has pending lines");
                        break (path, write);
                    }
                    state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            let result: WriteResult = write_lines(&path, &write).map_err(|e| match e {
                StoreError::Io { source, .. } => (source.kind(), source.to_string()),
                other => (std::io::ErrorKind::Other, other.to_string()),
            });
            if let (Err((_, message)), true) = (&result, write.waiting.is_empty()) {
                tracing::warn!("checkpoint {} failed: {message}", path.display());
            }
            for done in write.waiting {
                let _ = done.send(result.clone());
            }
        }
    }
}

fn write_lines(path: &Path, write: &PendingWrite) -> Result<(), StoreError> {
    if write.restart {
        // Atomically, so a crash leaves the journal of an earlier attempt
        // whole rather than a torn first line.
        return write_atomic(path, &write.bytes);
    }
    // No `create`: a journal that is gone was stored and removed already.
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(&write.bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_record::trajectory::{Message, Role, read_records};

    /// The journal's latest record. Only newline-terminated lines are
    /// complete: the rest is a torn append.
    fn read_checkpoint(path: &Path) -> Result<Trajectory, String> {
        let text = std::fs::read_to_string(path).unwrap();
        let complete = &text[..text.rfind('\n').map_or(0, |at| at + 1)];
        let mut records = read_records(complete.as_bytes());
        match (records.next(), records.next()) {
            (Some(Ok((_, trajectory))), None) => Ok(trajectory),
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e.to_string()),
            (Some(Ok(_)), Some(Ok((line, _)))) => Err(format!("{line}: a second record")),
            (None, _) => Err("no complete record".into()),
        }
    }

    fn trajectory() -> Trajectory {
        serde_json::from_value(serde_json::json!({
            "schema": "plinth-trajectory/0.1", "id": "t", "input_index": 3,
            "task": {"prompt": "p"}, "messages": [], "tools": [],
            "exit_status": "Running", "model": "m", "sandbox": "local",
            "api_calls": 0, "started_at": "2026-11-21T00:00:00Z", "plinth_version": "0"
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn journal_reads_back_as_the_latest_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::new(dir.path(), 3, 0);
        let mut t = trajectory();
        journal.write(&t).await.unwrap();
        for step in 0..3 {
            t.messages
                .push(Message::new(Role::User, format!("m{step}")));
            t.api_calls += 1;
            journal.queue(&t);
        }
        t.exit_status = plinth_record::trajectory::ExitStatus::Finished;
        t.submission = "done".into();
        journal.write(&t).await.unwrap();
        let path = checkpoint_path(dir.path(), 3, 0);
        assert_eq!(read_checkpoint(&path).unwrap(), t);

        // A torn append is ignored: the record as of the line before.
        let before = read_checkpoint(&path).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"from\":4,\"messa").unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), before);

        // A record whose messages were replaced starts a fresh journal.
        t.messages.truncate(1);
        journal.write(&t).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        assert_eq!(read_checkpoint(&path).unwrap(), t);
    }

    #[test]
    fn a_broken_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.jsonl");
        let first = serde_json::to_string(&trajectory()).unwrap();
        std::fs::write(&path, format!("{first}\n{{\"from\":5}}\n")).unwrap();
        let err = read_checkpoint(&path).unwrap_err();
        assert!(err.starts_with("2: not a progress line"), "{err}");
        std::fs::write(&path, format!("{first}\n{first}\n")).unwrap();
        let err = read_checkpoint(&path).unwrap_err();
        assert!(err.starts_with("2: a second record"), "{err}");
    }
}
