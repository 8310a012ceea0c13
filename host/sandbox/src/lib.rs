//! Where an agent's commands run.
//!
//! A [`Sandbox`] is one task's execution environment: a local directory, a
//! container, or a slot in a shared container. Tool and scorer components
//! reach it only through the `session` resource the plugin runtime lends them,
//! which forwards to this trait. [`workspace`] makes a task's repository at
//! its base commit in one.

pub mod docker;
mod local;
pub mod marker;
pub mod output;
pub mod session;
pub mod shell;
pub mod workspace;

use std::sync::Arc;
use std::time::Duration;

use plinth_record::task::Task;

pub use local::{LocalConfig, LocalProvider, LocalSandbox};
pub use output::OutputPolicy;

/// Environment every backend gives commands: no pagers or progress bars
/// waiting on a terminal that is not there.
pub(crate) const COMMAND_ENV: &[(&str, &str)] = &[
    ("PAGER", "cat"),
    ("MANPAGER", "cat"),
    ("GIT_PAGER", "cat"),
    ("TERM", "dumb"),
    ("PIP_PROGRESS_BAR", "off"),
    ("TQDM_DISABLE", "1"),
];

/// One command to run.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub command: String,
    /// `None`: the sandbox's default command timeout.
    pub timeout: Option<Duration>,
    pub env: Vec<(String, String)>,
    /// `None`: the sandbox's working directory.
    pub cwd: Option<String>,
}

impl ExecRequest {
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            ..Self::default()
        }
    }
}

/// What a command did. A command that fails is still an `ExecOutput`, with a
/// non-zero exit code; only a failing sandbox is a [`SandboxError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    /// stdout and stderr merged in the order they were written.
    pub output: String,
    pub truncated: bool,
    pub timed_out: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    #[error("not found: {0}")]
    NotFound(String),
    /// The sandbox itself is gone: an infrastructure failure, not the model's.
    #[error("sandbox is gone: {0}")]
    Dead(String),
    #[error("{0}")]
    Other(String),
}

#[async_trait::async_trait]
pub trait Sandbox: Send + Sync {
    /// `local`, `docker`, ...: recorded in every trajectory.
    fn kind(&self) -> &'static str;
    /// The directory commands run in unless a request says otherwise.
    fn cwd(&self) -> &str;
    /// What the model may see of output: commands' and tool plugins' alike.
    fn output_policy(&self) -> &OutputPolicy;
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError>;
    /// Runs `command` in this sandbox's persistent shell session (see
    /// [`Shell::Persistent`]), started on first use: one `bash` whose working
    /// directory, variables and functions carry from one command to the
    /// next. A command that finds the session busy (another command of the
    /// sandbox is running in it) runs fresh instead.
    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError>;
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError>;
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError>;

    /// `path` (absolute) with every symbolic link resolved as the sandbox
    /// sees it; components that do not exist yet are kept as written.
    /// Capability checks use it, so a link cannot lead a plugin outside the
    /// paths it was granted. This default asks the sandbox's shell (any
    /// POSIX `sh` with `readlink -f`, busybox's included).
    async fn real_path(&self, path: &str) -> Result<String, SandboxError> {
        let quoted = shlex::try_quote(path)
            .map_err(|_| SandboxError::Other(format!("{path:?} cannot be quoted for a shell")))?;
        let script = format!(
            "d={quoted}; rest=; \
             while [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; do rest=\"/${{d##*/}}$rest\"; d=\"${{d%/*}}\"; [ -n \"$d\" ] || d=/; done; \
             r=$(readlink -f -- \"$d\") || exit 1; r=\"${{r%/}}$rest\"; printf '%s' \"${{r:-/}}\""
        );
        let out = self.exec(ExecRequest::new(script)).await?;
        if out.exit_code != 0 || out.truncated || !out.output.starts_with('/') {
            return Err(SandboxError::Other(format!(
                "resolving {path} failed: {}",
                out.output.trim()
            )));
        }
        Ok(out.output)
    }

    /// The working directory as a path on this machine, when the sandbox's
    /// files live here (the local sandbox): workspaces can then be git
    /// worktrees instead of copies.
    fn host_path(&self) -> Option<&std::path::Path> {
        None
    }

    /// Unpacks a tar archive into `dir` (relative paths resolve against
    /// [`cwd`](Self::cwd)), creating it and its missing parents first. Every
    /// backend unpacks natively (the `tar` crate on the host, the Engine's
    /// archive API in a container), so nothing is run in the sandbox: an
    /// image needs no `tar`, and no name is ever quoted for a shell.
    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError>;
}

/// Makes each task's sandbox; one per backend, shared by a whole batch.
#[async_trait::async_trait]
pub trait SandboxProvider: Send + Sync {
    /// `local`, `docker`, ...: recorded in every trajectory.
    fn kind(&self) -> &'static str;
    async fn create(&self, task: &Task) -> Result<Arc<dyn Sandbox>, SandboxError>;
    /// Releases everything the provider still holds for the run (e.g. every
    /// container it started). Called once when a batch ends, normally or on
    /// SIGINT/SIGTERM; `create` must not be called after it.
    async fn shutdown(&self) {}
}
