//! `--shell`: whether the agent's commands share one long-lived shell.
//!
//! Only the model's shell tool (`terminal`, or `bash`/`shell` when a plugin
//! provides it) runs its commands in the session. Other tools' scripted
//! commands, setup, evaluation commands and scorers always run fresh: they
//! must neither see nor change the model's shell state, and a grade must not
//! depend on a function or variable the agent left in its shell.

use std::sync::Arc;

use plinth_record::settings::Shell;

use crate::{ExecOutput, ExecRequest, OutputPolicy, Sandbox, SandboxError};

/// The sandbox the agent's shell tool is lent under `shell`.
pub fn for_agent(shell: Shell, sandbox: Arc<dyn Sandbox>) -> Arc<dyn Sandbox> {
    match shell {
        Shell::Fresh => sandbox,
        Shell::Persistent => Arc::new(SessionSandbox(sandbox)),
    }
}

/// A sandbox whose commands run in its persistent session. A request that
/// names its own directory or environment (a tool's scripted command, not a
/// model's) runs fresh: a session has one directory and one environment, the
/// model's.
struct SessionSandbox(Arc<dyn Sandbox>);

#[async_trait::async_trait]
impl Sandbox for SessionSandbox {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    fn cwd(&self) -> &str {
        self.0.cwd()
    }

    fn output_policy(&self) -> &OutputPolicy {
        self.0.output_policy()
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError> {
        if request.cwd.is_some() || !request.env.is_empty() {
            return self.0.exec(request).await;
        }
        self.0
            .exec_in_session(&request.command, request.timeout)
            .await
    }

    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        self.0.exec_in_session(command, timeout).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        self.0.read_file(path).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        self.0.write_file(path, contents).await
    }

    fn host_path(&self) -> Option<&std::path::Path> {
        self.0.host_path()
    }

    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError> {
        self.0.write_archive(dir, tar).await
    }
}
