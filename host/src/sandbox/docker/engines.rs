//! The Docker engines a run spreads its containers over, and the choice of
//! engine for each new container.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bollard::{API_DEFAULT_VERSION, Docker};

use super::error::DockerError;

/// Seconds an Engine API request may take to answer (streams such as an
/// exec's output are not limited by it, only their first response).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The socket Docker listens on by default.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// One engine: its address, a client, and how many of our containers live
/// on it.
#[derive(Debug)]
pub struct Engine {
    url: String,
    docker: Docker,
    containers: AtomicUsize,
}

impl Engine {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }
}

/// Counts one container against its engine while it lives.
#[derive(Debug)]
pub(super) struct Placement(Arc<Engine>);

impl Placement {
    pub(super) fn engine(&self) -> &Arc<Engine> {
        &self.0
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.0.containers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The engines of a run.
#[derive(Debug)]
pub struct Engines {
    list: Vec<Arc<Engine>>,
    /// Rotates the start of the search so ties go round-robin.
    turn: AtomicUsize,
}

impl Engines {
    /// Connects to every host (`unix:///path`, a bare socket path,
    /// `tcp://host:port` or `http://host:port`); with none, to `DOCKER_HOST`,
    /// else the local socket. Each engine must answer now: a run should fail
    /// at its start, not at its hundredth task.
    pub async fn connect(hosts: &[String]) -> Result<Self, DockerError> {
        let hosts: Vec<String> = if hosts.is_empty() {
            vec![
                std::env::var("DOCKER_HOST")
                    .ok()
                    .filter(|h| !h.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_HOST.into()),
            ]
        } else {
            hosts.to_vec()
        };
        let connecting = hosts.iter().map(|url| connect_one(url));
        let list = futures_util::future::try_join_all(connecting).await?;
        Ok(Self {
            list: list.into_iter().map(Arc::new).collect(),
            turn: AtomicUsize::new(0),
        })
    }

    pub fn list(&self) -> &[Arc<Engine>] {
        &self.list
    }

    /// The engine with the fewest of our containers (ties in turn), counted
    /// until the returned placement is dropped.
    pub(super) fn place(&self) -> Placement {
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let n = self.list.len();
        let engine = (0..n)
            .map(|i| &self.list[(start + i) % n])
            .min_by_key(|e| e.containers.load(Ordering::Relaxed))
            .expect("at least one engine");
        engine.containers.fetch_add(1, Ordering::Relaxed);
        Placement(engine.clone())
    }
}

async fn connect_one(url: &str) -> Result<Engine, DockerError> {
    let bad = |reason: &str| DockerError::BadHost {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let docker = if let Some(path) = url.strip_prefix("unix://") {
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if url.starts_with('/') {
        Docker::connect_with_unix(url, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) {
            return Err(bad(
                "DOCKER_TLS_VERIFY is set but plinth speaks plain HTTP to engines; \
                 reach a TLS engine through an SSH tunnel or a local socket",
            ));
        }
        Docker::connect_with_http(url, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(bad(
            "use unix:///path/to/docker.sock, a socket path, or tcp://host:port",
        ));
    }
    .map_err(|e| bad(&e.to_string()))?;
    // Old engines reject a newer API version outright: use the older of the
    // two.
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|source| DockerError::Unreachable {
            url: url.to_string(),
            source,
        })?;
    tracing::debug!(
        "docker engine {url}: API {}",
        docker.client_version().to_string()
    );
    Ok(Engine {
        url: url.to_string(),
        docker,
        containers: AtomicUsize::new(0),
    })
}
