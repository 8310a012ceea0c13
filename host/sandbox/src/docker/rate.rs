//! How fast containers are created on one engine (`--create-rate N`, per
//! second), shared by every plinth process on this machine that uses the
//! same engine, so ten runs starting at once do not stampede it (providers
//! such as Modal and Daytona refuse creations past a rate; a local engine
//! just slows to a crawl).
//!
//! Each engine has a schedule file in the machine's temp directory holding
//! the time of the last creation slot handed out. A creator takes the file's
//! lock, reserves the next slot (`max(now, last + 1/rate)`), writes it,
//! unlocks, and sleeps until its slot: a queue across processes in which no
//! one holds the lock while waiting.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SandboxError;
use plinth_record::digest::sha256_hex;

/// Container creations per second on one engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreateRate(f64);

impl CreateRate {
    /// `per_second` creations a second; none for a rate that is not a
    /// positive number.
    pub fn per_second(per_second: f64) -> Option<Self> {
        (per_second.is_finite() && per_second > 0.0).then_some(Self(per_second))
    }

    fn interval(self) -> f64 {
        1.0 / self.0
    }

    /// Waits for this process's turn to create a container on the engine
    /// at `engine_url`.
    pub(crate) async fn wait_turn(self, engine_url: &str) -> Result<(), SandboxError> {
        self.wait_turn_in(&schedule_dir(), engine_url).await
    }

    async fn wait_turn_in(self, dir: &Path, engine_url: &str) -> Result<(), SandboxError> {
        let path = dir.join(format!(
            "create-{}",
            &sha256_hex(engine_url.as_bytes())[..16]
        ));
        let interval = self.interval();
        let slot = tokio::task::spawn_blocking(move || reserve(&path, interval))
            .await
            .map_err(|e| SandboxError::Other(format!("waiting for a creation slot stopped: {e}")))?
            .map_err(|e| {
                SandboxError::Other(format!("the container creation schedule failed: {e}"))
            })?;
        let wait = slot - now_secs();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        Ok(())
    }
}

/// Where the schedule files live: one directory for every plinth on the
/// machine.
fn schedule_dir() -> PathBuf {
    std::env::temp_dir().join("plinth-create-rate")
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reserves the next creation slot in the schedule at `path` (under its
/// lock) and returns its time, in seconds since the epoch.
fn reserve(path: &Path, interval: f64) -> std::io::Result<f64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.lock()?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    // An unreadable schedule (a crash mid-write) is an empty one.
    let last: f64 = text.trim().parse().unwrap_or(0.0);
    let slot = now_secs().max(last + interval);
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "{slot}")?;
    file.unlock()?;
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn creators_sharing_an_engine_take_turns_at_its_rate() {
        let dir = tempfile::tempdir().unwrap();
        let rate = CreateRate::per_second(20.0).unwrap();
        let started = Instant::now();
        // Twelve creators at once (each opens the schedule itself, as
        // separate processes do): the last goes about 11 intervals later.
        let mut creators = Vec::new();
        for _ in 0..12 {
            let dir = dir.path().to_path_buf();
            creators.push(tokio::spawn(async move {
                rate.wait_turn_in(&dir, "unix:///var/run/docker.sock")
                    .await
                    .unwrap();
                started.elapsed()
            }));
        }
        let mut times = Vec::new();
        for creator in creators {
            times.push(creator.await.unwrap());
        }
        times.sort();
        let last = times.last().unwrap().as_secs_f64();
        assert!(last >= 0.5, "12 creations at 20/s took {last} s");
        assert!(last < 2.0, "12 creations at 20/s took {last} s");
        // Another engine has its own schedule: no wait.
        let other = Instant::now();
        rate.wait_turn_in(dir.path(), "tcp://other:2376")
            .await
            .unwrap();
        assert!(other.elapsed() < Duration::from_millis(100));
        assert!(CreateRate::per_second(0.0).is_none());
        assert!(CreateRate::per_second(f64::NAN).is_none());
    }
}
