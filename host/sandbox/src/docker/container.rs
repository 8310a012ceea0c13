//! Containers: the hardened configuration, the image check (and pull), start
//! and removal, and the labels that tie a container to its run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, RemoveContainerOptions,
};
use futures_util::StreamExt;
use tokio::sync::OnceCell;

use super::DockerConfig;
use super::engines::Engine;
use super::error::{message, sandbox_error, status};
use crate::SandboxError;
use plinth_record::sync::Locked;

/// Capabilities added back after dropping all; why each is there is in the
/// module documentation.
pub(crate) const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "KILL",
];

pub(super) const LABEL_RUN: &str = "plinth.run";
pub(super) const LABEL_TASK: &str = "plinth.task";
pub(super) const LABEL_PID: &str = "plinth.pid";
pub(super) const LABEL_HOST: &str = "plinth.host";
/// When the process in `plinth.pid` started (clock ticks after boot), so a
/// reused pid is not taken for the run.
pub(super) const LABEL_STARTED: &str = "plinth.started";

/// A tmpfs in every container for plinth's own bookkeeping (the process
/// group of each command), out of the way of the workspace and `/tmp`, which
/// commands may wipe.
pub(super) const CONTROL_DIR: &str = "/run/plinth";

/// The container's main process: it only has to stay alive; commands arrive
/// as execs.
const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 86400; done";

/// Who started a container: the run id, this process and this machine.
#[derive(Debug, Clone)]
pub(super) struct RunIdentity {
    pub id: String,
    pub pid: u32,
    pub started: u64,
    pub host: String,
}

impl RunIdentity {
    pub fn new() -> Self {
        // Several providers of one process (tests, benchmarks) must not share
        // an id: shutting one down would sweep the others' containers.
        static MADE: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        Self {
            id: format!("{millis:x}-{pid}-{n}"),
            pid,
            started: process_start(pid).unwrap_or(0),
            host: hostname(),
        }
    }

    pub(crate) fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_RUN.to_string(), self.id.clone()),
            (LABEL_PID.to_string(), self.pid.to_string()),
            (LABEL_STARTED.to_string(), self.started.to_string()),
            (LABEL_HOST.to_string(), self.host.clone()),
        ])
    }
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// `/proc/PID/stat`); `None` when there is no such process.
pub(super) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count after its `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// What one container is made of.
pub(super) struct ContainerSpec<'a> {
    pub name: String,
    pub image: &'a str,
    pub workdir: &'a str,
    pub config: &'a DockerConfig,
    pub labels: HashMap<String, String>,
}

impl ContainerSpec<'_> {
    fn body(&self) -> ContainerCreateBody {
        let config = self.config;
        let mut tmpfs = HashMap::from([(
            CONTROL_DIR.to_string(),
            "rw,nosuid,nodev,noexec,size=8m,mode=1777".to_string(),
        )]);
        if config.read_only {
            tmpfs.insert(
                "/tmp".to_string(),
                "rw,nosuid,nodev,exec,mode=1777".to_string(),
            );
        }
        let host_config = HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(CAPABILITIES.iter().map(|c| c.to_string()).collect()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(config.limits.pids),
            memory: Some(config.limits.memory_bytes),
            // Equal to the memory limit: no swap on top of it.
            memory_swap: Some(config.limits.memory_bytes),
            nano_cpus: Some((config.limits.cpus * 1e9) as i64),
            readonly_rootfs: Some(config.read_only),
            network_mode: Some(config.network.clone().unwrap_or_else(|| "none".into())),
            tmpfs: Some(tmpfs),
            // An init as PID 1 reaps the orphans of killed commands, so a
            // killed process group really disappears.
            init: Some(true),
            ..HostConfig::default()
        };
        ContainerCreateBody {
            image: Some(self.image.to_string()),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec![IDLE.into()]),
            working_dir: Some(self.workdir.to_string()),
            labels: Some(self.labels.clone()),
            // On a read-only root, the workspace must still be writable and
            // reachable by the archive API: an anonymous volume, removed
            // with the container.
            volumes: config.read_only.then(|| vec![self.workdir.to_string()]),
            network_disabled: Some(config.network.is_none()),
            host_config: Some(host_config),
            ..ContainerCreateBody::default()
        }
    }
}

/// Creates and starts a container; returns its id. A container that was
/// created but would not start is removed again.
pub(super) async fn start(
    engine: &Engine,
    spec: &ContainerSpec<'_>,
) -> Result<String, SandboxError> {
    if let Some(rate) = spec.config.create_rate {
        rate.wait_turn(engine.url()).await?;
    }
    let docker = engine.docker();
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(spec.name.clone()),
                ..CreateContainerOptions::default()
            }),
            spec.body(),
        )
        .await
        .map_err(|e| {
            SandboxError::Other(format!(
                "cannot create a container from `{}` on {}: {}",
                spec.image,
                engine.url(),
                message(&e)
            ))
        })?;
    if let Err(e) = docker.start_container(&created.id, None).await {
        remove(engine, &created.id).await;
        return Err(SandboxError::Other(format!(
            "cannot start a container from `{}` on {}: {}",
            spec.image,
            engine.url(),
            message(&e)
        )));
    }
    Ok(created.id)
}

/// Removes a container and its anonymous volumes, whatever its state. A
/// container already gone is fine.
pub(super) async fn remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..RemoveContainerOptions::default()
    };
    match engine.docker().remove_container(id, Some(options)).await {
        Ok(()) => {}
        // Gone already, or its removal is under way.
        Err(e) if matches!(status(&e), Some(404 | 409)) => {}
        Err(e) => tracing::warn!("cannot remove container {id} on {}: {e}", engine.url()),
    }
}

/// `Ok` while the container runs; otherwise why it is dead.
pub(super) async fn check_running(engine: &Engine, id: &str) -> Result<(), SandboxError> {
    let what = format!("container {}", short(id));
    let info = engine
        .docker()
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| sandbox_error(&what, e))?;
    let state = info.state.unwrap_or_default();
    if state.running == Some(true) {
        return Ok(());
    }
    let mut why = format!("{what} stopped");
    if let Some(code) = state.exit_code {
        why.push_str(&format!(" (exit code {code})"));
    }
    if state.oom_killed == Some(true) {
        why.push_str(": it ran out of memory");
    }
    Err(SandboxError::Dead(why))
}

/// The first 12 characters of an id, as Docker shows them.
pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The outcome of checking one image on one engine, shared by every task
/// that needs it.
type ImageCheck = Arc<OnceCell<Result<(), SandboxError>>>;

/// The images known to be present on each engine, checked once per run.
#[derive(Default)]
pub(super) struct Images {
    /// By (engine URL, image).
    checked: Mutex<HashMap<(String, String), ImageCheck>>,
}

impl Images {
    /// `Ok` when `image` is on `engine`, pulling it if it is missing and a
    /// registry answers; the outcome is remembered for the run.
    pub(crate) async fn ensure(&self, engine: &Engine, image: &str) -> Result<(), SandboxError> {
        let cell = self
            .checked
            .locked()
            .entry((engine.url().to_string(), image.to_string()))
            .or_default()
            .clone();
        cell.get_or_init(|| check_or_pull(engine, image))
            .await
            .clone()
    }
}

async fn check_or_pull(engine: &Engine, image: &str) -> Result<(), SandboxError> {
    let docker = engine.docker();
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if status(&e) == Some(404) => {}
        Err(e) => {
            return Err(SandboxError::Other(format!(
                "cannot check image `{image}` on {}: {}",
                engine.url(),
                message(&e)
            )));
        }
    }
    tracing::info!("image `{image}` is missing on {}: pulling it", engine.url());
    let options = CreateImageOptions {
        from_image: Some(image.to_string()),
        ..CreateImageOptions::default()
    };
    let mut progress = docker.create_image(Some(options), None, None);
    let mut last_line = Instant::now();
    while let Some(step) = progress.next().await {
        match step {
            Ok(info) => {
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(missing(image, engine, &error));
                }
                // One progress line a second at most.
                if last_line.elapsed() >= Duration::from_secs(1) {
                    last_line = Instant::now();
                    let done = info
                        .progress_detail
                        .and_then(|p| Some(format!(" {}/{} MB", p.current? >> 20, p.total? >> 20)))
                        .unwrap_or_default();
                    tracing::info!(
                        "pulling `{image}` on {}: {}{done}",
                        engine.url(),
                        info.status.unwrap_or_default(),
                    );
                }
            }
            Err(e) => return Err(missing(image, engine, &message(&e))),
        }
    }
    tracing::info!("pulled `{image}` on {}", engine.url());
    Ok(())
}

fn missing(image: &str, engine: &Engine, pull_error: &str) -> SandboxError {
    SandboxError::Other(format!(
        "image `{image}` is missing locally on {} and could not be pulled ({pull_error}); \
         build or load it on that engine first",
        engine.url()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_known_by_its_start_time() {
        let me = process_start(std::process::id());
        assert!(me.is_some());
        assert_eq!(me, process_start(std::process::id()));
        assert_eq!(process_start(u32::MAX), None);
    }
}
