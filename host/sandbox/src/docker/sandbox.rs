//! `--sandbox docker`: a fresh container per trajectory, removed when the
//! trajectory is done with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::RwLock;

use super::container::{self, CONTROL_DIR, ContainerSpec, Images, LABEL_TASK, RunIdentity};
use super::engines::{Engines, Placement};
use super::{DockerConfig, archive, exec, reap, session};
use crate::{ExecOutput, ExecRequest, OutputPolicy, Sandbox, SandboxError, SandboxProvider};
use plinth_record::task::Task;

/// Makes one container per task, spread over the run's engines.
pub struct DockerProvider {
    engines: Arc<Engines>,
    config: Arc<DockerConfig>,
    run: RunIdentity,
    images: Images,
    /// True once the run shuts down. Creations hold it for reading from
    /// start to finish, so shutdown (which takes it for writing) knows no
    /// container is half made when it sweeps.
    closed: Arc<RwLock<bool>>,
    made: AtomicU64,
}

impl DockerProvider {
    pub fn new(engines: Engines, config: DockerConfig) -> Self {
        Self {
            engines: Arc::new(engines),
            config: Arc::new(config),
            run: RunIdentity::new(),
            images: Images::default(),
            closed: Arc::new(RwLock::new(false)),
            made: AtomicU64::new(0),
        }
    }

    /// The `plinth.run` label of this run's containers.
    pub fn run_id(&self) -> &str {
        &self.run.id
    }

    /// Starts the container of `task` on the engine of `placement`.
    async fn create_on(
        &self,
        placement: Placement,
        task: &Task,
        image: &str,
        workdir: &str,
    ) -> Result<Arc<dyn Sandbox>, SandboxError> {
        self.images.ensure(placement.engine(), image).await?;

        let gate = self.closed.clone().read_owned().await;
        if *gate {
            return Err(SandboxError::Other("the run is shutting down".into()));
        }
        let mut labels = self.run.labels();
        labels.insert(LABEL_TASK.into(), task.id.clone());
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let name = format!("plinth-{}-{n}", self.run.id);
        let engine = placement.engine().clone();
        let config = self.config.clone();
        let (image, spec_workdir) = (image.to_string(), workdir.to_string());
        // Its own task: if this trajectory is cancelled mid-way (Ctrl-C), the
        // container is still finished and recorded, and the shutdown sweep,
        // which waits for the gate, finds it.
        let id = tokio::spawn(async move {
            let spec = ContainerSpec {
                name,
                image: &image,
                workdir: &spec_workdir,
                config: &config,
                labels,
            };
            let id = container::start(&engine, &spec).await;
            drop(gate);
            id
        })
        .await
        .map_err(|e| SandboxError::Other(format!("creating the container failed: {e}")))??;
        tracing::debug!(
            "task {}: container {} on {}",
            task.id,
            container::short(&id),
            placement.engine().url()
        );
        Ok(Arc::new(DockerSandbox {
            placement,
            id,
            cwd: workdir.to_string(),
            config: self.config.clone(),
            shell: exec::Shell::default(),
            session: session::PersistentShell::default(),
        }))
    }
}

#[async_trait::async_trait]
impl SandboxProvider for DockerProvider {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn create(&self, task: &Task) -> Result<Arc<dyn Sandbox>, SandboxError> {
        let image = task
            .image()
            .or(self.config.image.as_deref())
            .ok_or_else(|| {
                SandboxError::Other(
                    "no image: give --image or an `image` (or `image_name`) field in the row"
                        .into(),
                )
            })?
            .to_string();
        let workdir = task
            .field("cwd")
            .unwrap_or(&self.config.workdir)
            .to_string();
        if !workdir.starts_with('/') {
            return Err(SandboxError::Other(format!(
                "the working directory in the container must be absolute, not `{workdir}`"
            )));
        }
        self.engines
            .with_placement(|placement| self.create_on(placement, task, &image, &workdir))
            .await
    }

    async fn shutdown(&self) {
        *self.closed.write().await = true;
        reap::remove_run(&self.engines, &self.run.id).await;
    }
}

/// One trajectory's container; removed when dropped.
pub(crate) struct DockerSandbox {
    placement: Placement,
    id: String,
    cwd: String,
    config: Arc<DockerConfig>,
    shell: exec::Shell,
    session: session::PersistentShell,
}

impl DockerSandbox {
    fn context(&self) -> exec::ExecContext<'_> {
        exec::ExecContext {
            engine: self.placement.engine(),
            container: &self.id,
            cwd: &self.cwd,
            control: CONTROL_DIR,
            env: &self.config.env,
            output: &self.config.output,
            default_timeout: self.config.default_timeout,
        }
    }
}

impl Drop for DockerSandbox {
    fn drop(&mut self) {
        let engine = self.placement.engine().clone();
        let id = std::mem::take(&mut self.id);
        // Without a runtime (the process is ending) the run's shutdown sweep
        // removes it instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { container::remove(&engine, &id).await });
        }
    }
}

#[async_trait::async_trait]
impl Sandbox for DockerSandbox {
    fn kind(&self) -> &'static str {
        "docker"
    }

    fn cwd(&self) -> &str {
        &self.cwd
    }

    fn output_policy(&self) -> &OutputPolicy {
        &self.config.output
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError> {
        exec::exec(&self.context(), &self.shell, request).await
    }

    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        let ctx = self.context();
        self.session.exec(&ctx, &self.shell, command, timeout).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        let path = archive::resolve(&self.cwd, path);
        archive::read_file(self.placement.engine(), &self.id, &path).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        let path = archive::resolve(&self.cwd, path);
        archive::write_file(
            self.placement.engine(),
            &self.id,
            &self.cwd,
            &path,
            contents,
        )
        .await
    }

    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError> {
        let dir = archive::resolve(&self.cwd, dir);
        archive::write_archive(self.placement.engine(), &self.id, &dir, tar).await
    }
}
