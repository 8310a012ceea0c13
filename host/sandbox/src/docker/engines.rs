//! The Docker engines a run spreads its containers over, and the choice of
//! engine for each new container.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::{API_DEFAULT_VERSION, Docker};

use super::error::DockerError;
use crate::SandboxError;
use plinth_record::sync::Locked;

/// Seconds an Engine API request may take to answer (streams such as an
/// exec's output are not limited by it, only their first response).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The socket Docker listens on by default.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long a failed engine has to answer a ping before it counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How long new containers avoid an engine that stopped answering; after
/// that it gets another chance (engines restart).
const DOWN_FOR: Duration = Duration::from_secs(30);

/// One engine: its address, a client, and how many of our containers live
/// on it.
#[derive(Debug)]
pub struct Engine {
    url: String,
    docker: Docker,
    containers: AtomicUsize,
    /// Until when new containers go elsewhere, after the engine stopped
    /// answering.
    down_until: Mutex<Option<Instant>>,
}

impl Engine {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    fn is_down(&self) -> bool {
        let until = *self.down_until.locked();
        until.is_some_and(|until| Instant::now() < until)
    }

    /// After a failure here: whether the engine still answers a ping. One
    /// that does not is passed over for new containers for a while.
    async fn answers(&self) -> bool {
        let answered = tokio::time::timeout(PING_TIMEOUT, self.docker.ping())
            .await
            .is_ok_and(|ping| ping.is_ok());
        if !answered {
            *self.down_until.locked() = Some(Instant::now() + DOWN_FOR);
        }
        answered
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
    /// `tcp://host:port` or `http://host:port`, and `https://host:port` or
    /// `tcp://` with `DOCKER_TLS_VERIFY` for TLS engines, with the client
    /// certificates in `DOCKER_CERT_PATH`); with none, to `DOCKER_HOST`,
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

    /// The engine with the fewest of our containers (ties in turn) among
    /// those that are not down (among all, when every one is), counted
    /// until the returned placement is dropped.
    fn place(&self) -> Placement {
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let n = self.list.len();
        let in_turn = || (0..n).map(|i| &self.list[(start + i) % n]);
        let fewest = |e: &&Arc<Engine>| e.containers.load(Ordering::Relaxed);
        let engine = in_turn()
            .filter(|e| !e.is_down())
            .min_by_key(fewest)
            .or_else(|| in_turn().min_by_key(fewest))
            .expect("at least one engine");
        engine.containers.fetch_add(1, Ordering::Relaxed);
        Placement(engine.clone())
    }

    /// Makes something (a container) on a placed engine. When that fails
    /// and the engine no longer answers, the engine is passed over for a
    /// while and the next one is tried: one engine going down costs no work
    /// while another still answers.
    pub(super) async fn with_placement<T, F, Fut>(&self, mut make: F) -> Result<T, SandboxError>
    where
        F: FnMut(Placement) -> Fut,
        Fut: Future<Output = Result<T, SandboxError>>,
    {
        let mut tries = 0;
        loop {
            let placement = self.place();
            let engine = placement.engine().clone();
            let error = match make(placement).await {
                Ok(made) => return Ok(made),
                Err(error) => error,
            };
            tries += 1;
            if engine.answers().await || tries >= self.list.len() {
                return Err(error);
            }
            tracing::warn!(
                "docker engine {} does not answer ({error}); no new containers there for {}s",
                engine.url,
                DOWN_FOR.as_secs()
            );
        }
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
    } else if url.starts_with("https://") || (url.starts_with("tcp://") && tls_verify()) {
        let certs = cert_dir().ok_or_else(|| {
            bad("a TLS engine needs DOCKER_CERT_PATH (or ~/.docker) with ca.pem, cert.pem and key.pem")
        })?;
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            if !certs.join(name).is_file() {
                return Err(bad(&format!(
                    "a TLS engine needs {} (set DOCKER_CERT_PATH)",
                    certs.join(name).display()
                )));
            }
        }
        Docker::connect_with_ssl(
            url,
            &certs.join("key.pem"),
            &certs.join("cert.pem"),
            &certs.join("ca.pem"),
            REQUEST_TIMEOUT_SECS,
            API_DEFAULT_VERSION,
        )
    } else if url.starts_with("tcp://") || url.starts_with("http://") {
        Docker::connect_with_http(url, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
    } else {
        return Err(bad(
            "use unix:///path/to/docker.sock, a socket path, tcp://host:port or https://host:port",
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
        down_until: Mutex::new(None),
    })
}

/// Whether `tcp://` engines speak TLS and are verified, as the docker CLI
/// decides it.
fn tls_verify() -> bool {
    std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty())
}

/// Where the CA and the client's certificate and key of TLS engines are:
/// `DOCKER_CERT_PATH`, else `~/.docker`, as the docker CLI has them.
fn cert_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("DOCKER_CERT_PATH")
        .filter(|dir| !dir.is_empty())
        .map(Into::into)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker"))
        })
}
