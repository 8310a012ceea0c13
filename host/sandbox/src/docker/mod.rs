//! Docker sandboxes, through the Docker Engine API (bollard; plinth never runs
//! the `docker` CLI).
//!
//! Two backends share this module:
//! - `docker` ([`DockerProvider`]): one container per trajectory, removed when
//!   the trajectory ends.
//! - `docker-pool` ([`PoolProvider`]): long-lived containers that each host S
//!   workspaces ("slots"); a trajectory leases a slot and gives it back reset.
//!
//! Both spread their containers over one or more engines ([`Engines`]:
//! `--docker-host`, else `DOCKER_HOST`, else the local socket): unix sockets,
//! plain HTTP over TCP, and TLS (`https://`, or `tcp://` with
//! `DOCKER_TLS_VERIFY`) with the client certificate from `DOCKER_CERT_PATH`
//! (else `~/.docker`), as the docker CLI reads them.
//!
//! Podman's Docker-compatible service (`podman system service`) works the
//! same way, alone or in one pool with Docker engines: tried with Podman 4.3
//! (Debian 12), which needs `catatonit` installed for the init process and,
//! on hosts whose hard rlimits are below Podman's defaults, lower
//! `default_ulimits` in `containers.conf`.
//!
//! # Hardening (every container)
//! - All capabilities dropped, then `container::CAPABILITIES` added back: `CHOWN`,
//!   `DAC_OVERRIDE`, `FOWNER` (root in the container may still own, edit and
//!   chmod the files of the checkout it works on, as package installs and
//!   test suites expect), `SETUID`/`SETGID` (tools such as `su`, apt and test
//!   fixtures drop to another user; with no-new-privileges they cannot gain
//!   any), and `KILL` (the per-command and per-slot kill can stop processes a
//!   command started as another user). Not added back, among Docker's
//!   defaults: `NET_RAW`, `NET_BIND_SERVICE`, `MKNOD`, `SYS_CHROOT`,
//!   `SETFCAP`, `SETPCAP`, `AUDIT_WRITE`, `FSETID`.
//! - `no-new-privileges`, a pids limit, memory (with no extra swap) and CPU
//!   limits, an init process as PID 1 that reaps orphans.
//! - Network `none` unless `--network` names one.
//! - Optionally a read-only root filesystem. The working directory is then an
//!   anonymous volume (removed with the container) rather than a tmpfs, because
//!   the Engine's archive API, which `read_file`/`write_file` use, cannot see
//!   inside a tmpfs; `/tmp` is a tmpfs.
//! - Labels `plinth.run`, `plinth.task` (per-trajectory containers),
//!   `plinth.pid`, `plinth.started` and `plinth.host`, so a run's containers
//!   can always be found again: by the run on exit or on SIGINT/SIGTERM, and
//!   by `plinth sandbox reap` after a run that was killed (it tells a live run
//!   from a dead one by that process and its start time).
//!
//! # What a slot does not isolate
//! Slots of one container share a kernel namespace set, a user and the
//! container's limits. A slot gets its own directory (its cwd, `HOME` and
//! `TMPDIR`), its own environment (`PLINTH_SLOT`), and on release every
//! process it started is killed (by process group, and by the `PLINTH_SLOT`
//! variable for processes that left their group) and its directory wiped. It
//! does NOT stop a command from deliberately reading or writing sibling slot
//! directories or anything else outside its own (same user), from seeing or
//! signalling other slots' processes, from filling the shared memory, pids or
//! disk budget, or from changing what the image installed system-wide (e.g.
//! `pip install` into the image's site-packages is seen by every slot until
//! the container is replaced). Use `--sandbox docker` when trajectories must
//! not be able to affect each other.

mod archive;
mod container;
mod engines;
mod error;
mod exec;
mod pool;
mod rate;
mod reap;
mod sandbox;
mod session;

use std::time::Duration;

use super::OutputPolicy;
use plinth_record::defaults;

pub use engines::{Engine, Engines};
pub use error::DockerError;
pub use pool::{PoolConfig, PoolProvider};
pub use rate::CreateRate;
pub use reap::{Reaped, reap};
pub use sandbox::DockerProvider;

/// Settings shared by every container of a run (both backends).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The image (`--image`); a row's `image` field overrides it.
    pub image: Option<String>,
    /// Working directory in the container (`--cwd`); a row's `cwd` overrides
    /// it for `docker`; for `docker-pool` the slots live under it.
    pub workdir: String,
    /// `None`: no network at all.
    pub network: Option<String>,
    pub limits: Limits,
    pub read_only: bool,
    pub default_timeout: Duration,
    pub output: OutputPolicy,
    /// Extra environment for every command.
    pub env: Vec<(String, String)>,
    /// How fast containers may be created on each engine, across every
    /// plinth on this machine (`None`: as fast as asked).
    pub create_rate: Option<CreateRate>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            image: None,
            workdir: defaults::CONTAINER_WORKDIR.into(),
            network: None,
            limits: Limits::default(),
            read_only: false,
            default_timeout: defaults::COMMAND_TIMEOUT,
            output: OutputPolicy::default(),
            env: Vec::new(),
            create_rate: None,
        }
    }
}

/// Resource limits of one container (a pool container's are shared by its
/// slots).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: i64,
    /// CPUs, e.g. 1.5.
    pub cpus: f64,
    pub pids: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: defaults::CONTAINER_MEMORY_BYTES,
            cpus: defaults::CONTAINER_CPUS,
            pids: defaults::CONTAINER_PIDS,
        }
    }
}

/// Parses a size such as `512m`, `4g`, `1.5G` or `1048576` (bytes), as
/// `docker run --memory` does.
pub fn parse_size(text: &str) -> Result<i64, String> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}`: unknown unit (use k, m, g or t)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 512m or 4g"))?;
    let bytes = value * scale;
    if bytes.is_nan() || bytes < 1.0 || bytes >= i64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_defaults_are_spelled_and_counted_alike() {
        use plinth_record::defaults;
        assert_eq!(
            parse_size(defaults::CONTAINER_MEMORY),
            Ok(defaults::CONTAINER_MEMORY_BYTES)
        );
        assert_eq!(
            parse_size(defaults::PLUGIN_MEMORY),
            Ok(defaults::PLUGIN_MEMORY_BYTES as i64)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("64mb"), Ok(64 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5x").is_err());
        assert!(parse_size("0").is_err());
    }
}
