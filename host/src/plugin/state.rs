//! What one `Store` holds while a plugin runs: an empty WASI context, the
//! captured stdout/stderr, the memory limiter, and the sandbox session lent
//! for the call. The host-side implementations of the `host` and `sandbox`
//! interfaces live here too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::tool::plinth::plugin::{host, sandbox as wit_sandbox};
use super::bindings::types::ExecOutput as WitExecOutput;
use crate::sandbox::{ExecRequest, Sandbox, SandboxError};

/// The `session` resource as the host sees it: the task's sandbox.
pub struct SessionHandle(pub Arc<dyn Sandbox>);

/// Fails memory growth past a cap, and remembers that it did, so the error a
/// guest then traps with can be reported as "memory limit exceeded" rather
/// than an obscure allocation failure.
pub struct MemoryLimiter {
    pub cap: usize,
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

pub struct StoreState {
    pub plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
    /// When the call started and how long it has spent waiting on the host
    /// (sandbox commands), so the CPU budget counts only the guest's own time.
    pub started: Instant,
    pub host_time: Duration,
}

impl StoreState {
    pub fn new(plugin: Arc<str>, memory_cap: usize, output_cap: usize) -> Self {
        let stdout = MemoryOutputPipe::new(output_cap);
        let stderr = MemoryOutputPipe::new(output_cap);
        // Nothing inherited: no env, args, preopens, stdin or network.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            plugin,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                cap: memory_cap,
                hit: false,
            },
            stdout,
            stderr,
            started: Instant::now(),
            host_time: Duration::ZERO,
        }
    }

    /// Time the guest itself has run (wall time minus host calls).
    pub fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
    }

    /// What the guest wrote to stderr (bounded), for error messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    /// What the guest wrote to stdout (bounded), for the debug log.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents())
            .trim()
            .to_string()
    }

    pub fn lend(&mut self, sandbox: Arc<dyn Sandbox>) -> wasmtime::Result<Resource<SessionHandle>> {
        Ok(self.table.push(SessionHandle(sandbox))?)
    }

    pub fn take_back(&mut self, session: Resource<SessionHandle>) {
        let _ = self.table.delete(session);
    }

    fn session(&self, session: &Resource<SessionHandle>) -> wasmtime::Result<Arc<dyn Sandbox>> {
        Ok(self.table.get(session)?.0.clone())
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for StoreState {
    async fn log(&mut self, level: host::LogLevel, message: String) -> wasmtime::Result<()> {
        let plugin = &*self.plugin;
        match level {
            host::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            host::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            host::LogLevel::Info => tracing::info!(plugin, "{message}"),
            host::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            host::LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl wit_sandbox::Host for StoreState {}

impl wit_sandbox::HostSession for StoreState {
    async fn exec(
        &mut self,
        session: Resource<SessionHandle>,
        request: wit_sandbox::ExecRequest,
    ) -> wasmtime::Result<Result<WitExecOutput, wit_sandbox::SandboxError>> {
        let sandbox = self.session(&session)?;
        let request = ExecRequest {
            command: request.command,
            timeout: request.timeout_secs.map(|s| Duration::from_secs(s.into())),
            env: request.env,
            cwd: request.cwd,
        };
        let started = Instant::now();
        let result = sandbox.exec(request).await;
        self.host_time += started.elapsed();
        Ok(result
            .map(|out| WitExecOutput {
                exit_code: out.exit_code,
                output: out.output,
                truncated: out.truncated,
                timed_out: out.timed_out,
            })
            .map_err(to_wit_error))
    }

    async fn read_file(
        &mut self,
        session: Resource<SessionHandle>,
        path: String,
    ) -> wasmtime::Result<Result<Vec<u8>, wit_sandbox::SandboxError>> {
        let sandbox = self.session(&session)?;
        let started = Instant::now();
        let result = sandbox.read_file(&path).await;
        self.host_time += started.elapsed();
        Ok(result.map_err(to_wit_error))
    }

    async fn write_file(
        &mut self,
        session: Resource<SessionHandle>,
        path: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wit_sandbox::SandboxError>> {
        let sandbox = self.session(&session)?;
        let started = Instant::now();
        let result = sandbox.write_file(&path, &contents).await;
        self.host_time += started.elapsed();
        Ok(result.map_err(to_wit_error))
    }

    async fn cwd(&mut self, session: Resource<SessionHandle>) -> wasmtime::Result<String> {
        Ok(self.session(&session)?.cwd().to_string())
    }

    async fn drop(&mut self, session: Resource<SessionHandle>) -> wasmtime::Result<()> {
        // The guest only ever borrows the session; the host owns and deletes it.
        let _ = session;
        Ok(())
    }
}

fn to_wit_error(e: SandboxError) -> wit_sandbox::SandboxError {
    match e {
        SandboxError::NotFound(m) => wit_sandbox::SandboxError::NotFound(m),
        SandboxError::Dead(m) => wit_sandbox::SandboxError::Dead(m),
        SandboxError::Other(m) => wit_sandbox::SandboxError::Other(m),
    }
}
