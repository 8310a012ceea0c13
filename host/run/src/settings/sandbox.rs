//! Sandbox settings, resolved from [`SandboxOptions`], and the backend they
//! describe.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{SandboxOptions, SettingsError, defaults, invalid};
use plinth_record::settings::{SandboxKind, Shell};
use plinth_sandbox::docker::{
    CreateRate, DockerConfig, DockerError, DockerProvider, Engines, Limits, PoolConfig,
    PoolProvider, parse_size,
};
use plinth_sandbox::workspace::RepoCache;
use plinth_sandbox::{LocalConfig, LocalProvider, OutputPolicy, SandboxProvider};

/// `--sandbox NAME`.
fn sandbox_kind(name: &str) -> Result<SandboxKind, SettingsError> {
    match name {
        "local" => Ok(SandboxKind::Local),
        "docker" => Ok(SandboxKind::Docker),
        "docker-pool" => Ok(SandboxKind::DockerPool),
        other => Err(invalid(
            "--sandbox",
            format!("unknown sandbox `{other}` (available: local, docker, docker-pool)"),
        )),
    }
}

/// Where and how commands run, complete and checked.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub kind: SandboxKind,
    /// `--cwd`: for `local`, a directory shared by all tasks (else a temp dir
    /// per task); in containers, the working directory.
    pub cwd: Option<PathBuf>,
    pub image: Option<String>,
    /// `None`: no network at all.
    pub network: Option<String>,
    pub docker_hosts: Vec<String>,
    pub limits: Limits,
    pub read_only: bool,
    pub slots_per_container: usize,
    pub min_containers: usize,
    /// `None`: enough containers for the run's concurrency.
    pub max_containers: Option<usize>,
    /// Container creations per second per engine (`None`: no limit).
    pub create_rate: Option<CreateRate>,
    /// How long a trajectory waits for a pool slot.
    pub slot_timeout: Duration,
    /// When pool containers are removed or replaced.
    pub pool_idle_timeout: Option<Duration>,
    pub pool_max_age: Option<Duration>,
    pub pool_max_uses: Option<u64>,
    pub command_timeout: Duration,
    /// Whether the agent's commands share one shell session.
    pub shell: Shell,
    pub max_output_bytes: usize,
    /// Variables hidden from commands: API key variables and `--secret-env`.
    pub hidden_env: Vec<String>,
    /// Their values (and the run's API key), redacted from what the model sees.
    pub secret_values: Vec<String>,
    pub repo_cache: PathBuf,
    /// Commands run in every task's workspace before the row's `setup`.
    pub setup: Vec<String>,
}

impl SandboxSettings {
    /// Applies the defaults. `api_key` is the model's key, redacted from
    /// command output wherever it came from.
    pub fn resolve(
        options: &SandboxOptions,
        api_key: Option<String>,
    ) -> Result<Self, SettingsError> {
        let kind = sandbox_kind(options.sandbox.as_deref().unwrap_or(defaults::SANDBOX))?;
        let memory_bytes = match &options.memory {
            Some(text) => parse_size(text).map_err(|e| invalid("--memory", e))?,
            None => defaults::CONTAINER_MEMORY_BYTES,
        };
        let create_rate = options
            .create_rate
            .map(|rate| {
                CreateRate::per_second(rate)
                    .ok_or_else(|| invalid("--create-rate", "must be a positive number per second"))
            })
            .transpose()?;
        let cpus = options.cpus.unwrap_or(defaults::CONTAINER_CPUS);
        if cpus.is_nan() || cpus <= 0.0 {
            return Err(invalid("--cpus", "must be above 0"));
        }
        let mut hidden_env: Vec<String> = plinth_model::API_KEY_VARS
            .iter()
            .map(|s| s.to_string())
            .collect();
        hidden_env.extend(options.secret_env.iter().cloned());
        let mut secret_values: Vec<String> = hidden_env
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .collect();
        secret_values.extend(api_key);
        // Redacting a two-letter value would shred ordinary output.
        secret_values.retain(|v| v.len() >= 4);
        Ok(Self {
            kind,
            cwd: options.cwd.clone(),
            image: options.image.clone(),
            network: options.network.clone().filter(|n| n != "none"),
            docker_hosts: options.docker_host.clone(),
            limits: Limits {
                memory_bytes,
                cpus,
                pids: options.pids_limit.unwrap_or(defaults::CONTAINER_PIDS),
            },
            read_only: options.read_only.unwrap_or(false),
            slots_per_container: options
                .slots_per_container
                .unwrap_or(defaults::SLOTS_PER_CONTAINER)
                .max(1),
            min_containers: options.min_containers.unwrap_or(defaults::MIN_CONTAINERS),
            max_containers: options.max_containers,
            create_rate,
            slot_timeout: positive_secs("--slot-timeout", options.slot_timeout)?
                .unwrap_or(defaults::SLOT_TIMEOUT),
            pool_idle_timeout: match options.pool_idle_timeout {
                None => Some(defaults::POOL_IDLE_TIMEOUT),
                Some(0.0) => None,
                secs => positive_secs("--pool-idle-timeout", secs)?,
            },
            pool_max_age: positive_secs("--pool-max-age", options.pool_max_age)?,
            pool_max_uses: match options.pool_max_uses {
                Some(0) => return Err(invalid("--pool-max-uses", "must be at least 1")),
                uses => uses,
            },
            command_timeout: options
                .timeout
                .map_or(defaults::COMMAND_TIMEOUT, Duration::from_secs),
            shell: options.shell.unwrap_or(defaults::SHELL),
            max_output_bytes: options
                .max_output_bytes
                .unwrap_or(defaults::MAX_OUTPUT_BYTES),
            hidden_env,
            secret_values,
            repo_cache: options
                .repo_cache
                .clone()
                .unwrap_or_else(RepoCache::default_dir),
            setup: options.setup.clone(),
        })
    }

    /// The backend these settings describe, ready for `concurrency` runs at
    /// once (a pool sizes itself by it).
    pub async fn provider(
        &self,
        concurrency: usize,
    ) -> Result<Arc<dyn SandboxProvider>, DockerError> {
        let output = OutputPolicy {
            max_bytes: self.max_output_bytes,
            secrets: self.secret_values.clone(),
        };
        if self.kind == SandboxKind::Local {
            return Ok(Arc::new(LocalProvider {
                cwd: self.cwd.clone(),
                config: LocalConfig {
                    default_timeout: self.command_timeout,
                    output,
                    hidden_env: self.hidden_env.clone(),
                    env: Vec::new(),
                },
            }));
        }
        let config = DockerConfig {
            image: self.image.clone(),
            workdir: self.cwd.as_ref().map_or_else(
                || defaults::CONTAINER_WORKDIR.into(),
                |p| p.to_string_lossy().into_owned(),
            ),
            network: self.network.clone(),
            limits: self.limits,
            read_only: self.read_only,
            default_timeout: self.command_timeout,
            output,
            env: Vec::new(),
            create_rate: self.create_rate,
        };
        let engines = Engines::connect(&self.docker_hosts).await?;
        if self.kind == SandboxKind::Docker {
            let provider = DockerProvider::new(engines, config);
            tracing::info!(
                "docker: containers are labelled plinth.run={}",
                provider.run_id()
            );
            return Ok(Arc::new(provider));
        }
        let shape = PoolConfig {
            slots_per_container: self.slots_per_container,
            min_containers: self.min_containers,
            max_containers: self.max_containers.unwrap_or_else(|| {
                concurrency
                    .div_ceil(self.slots_per_container)
                    .max(self.min_containers)
                    .max(1)
            }),
            slot_timeout: self.slot_timeout,
            idle_timeout: self.pool_idle_timeout,
            max_age: self.pool_max_age,
            max_uses: self.pool_max_uses,
        };
        let provider = PoolProvider::start(engines, config, shape).await?;
        tracing::info!(
            "docker-pool: {} slot(s) per container, {}..{} containers, labelled plinth.run={}",
            shape.slots_per_container,
            shape.min_containers,
            shape.max_containers,
            provider.run_id()
        );
        Ok(Arc::new(provider))
    }
}

/// `secs` as a duration, when given: a positive number of seconds, else an
/// error naming `setting`.
fn positive_secs(
    setting: &'static str,
    secs: Option<f64>,
) -> Result<Option<Duration>, SettingsError> {
    secs.map(|secs| {
        Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| invalid(setting, "must be a positive number of seconds"))
    })
    .transpose()
}
