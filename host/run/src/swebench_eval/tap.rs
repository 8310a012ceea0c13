//! The sandbox a scorer component is lent, watched: the eval script's whole output (the
//! harness's `test_output.txt`, which the component reads back and then deletes) and
//! whether a command timed out, so the run can write the harness's files and count a
//! timeout as the harness does. Everything else passes through unchanged.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plinth_record::sync::Locked;
use plinth_sandbox::{ExecOutput, ExecRequest, OutputPolicy, Sandbox, SandboxError};

/// The log's file name in the swebench scorers (the harness's `LOG_TEST_OUTPUT`).
const LOG_FILE: &str = "test_output.txt";

pub struct Tap {
    inner: Arc<dyn Sandbox>,
    log: Mutex<Option<Vec<u8>>>,
    timed_out: Mutex<bool>,
}

impl Tap {
    pub fn new(inner: Arc<dyn Sandbox>) -> Self {
        Self {
            inner,
            log: Mutex::new(None),
            timed_out: Mutex::new(false),
        }
    }

    /// The last `test_output.txt` the scorer read.
    pub fn log(&self) -> Option<Vec<u8>> {
        self.log.locked().clone()
    }

    /// Whether any command of the scorer timed out (the eval script, in practice).
    pub fn timed_out(&self) -> bool {
        *self.timed_out.locked()
    }
}

#[async_trait::async_trait]
impl Sandbox for Tap {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn cwd(&self) -> &str {
        self.inner.cwd()
    }

    fn output_policy(&self) -> &OutputPolicy {
        self.inner.output_policy()
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError> {
        let out = self.inner.exec(request).await?;
        if out.timed_out {
            *self.timed_out.locked() = true;
        }
        Ok(out)
    }

    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        let out = self.inner.exec_in_session(command, timeout).await?;
        if out.timed_out {
            *self.timed_out.locked() = true;
        }
        Ok(out)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        let bytes = self.inner.read_file(path).await?;
        if Path::new(path).file_name().is_some_and(|n| n == LOG_FILE) {
            *self.log.locked() = Some(bytes.clone());
        }
        Ok(bytes)
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        self.inner.write_file(path, contents).await
    }

    async fn real_path(&self, path: &str) -> Result<String, SandboxError> {
        self.inner.real_path(path).await
    }

    fn host_path(&self) -> Option<&Path> {
        self.inner.host_path()
    }

    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError> {
        self.inner.write_archive(dir, tar).await
    }
}
