//! What one `Store` holds while a plugin runs: an empty WASI context, the
//! captured stdout/stderr, the memory limiter, and the sandbox session lent
//! for the call. What the guest may call on it is in `imports`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::sandbox::Sandbox;

/// The `session` resource as the host sees it: the task's sandbox.
pub struct SessionHandle(pub Arc<dyn Sandbox>);

/// Fails memory growth past a cap, and remembers that it did, so the error a
/// guest then traps with can be reported as "memory limit exceeded" rather
/// than an obscure allocation failure.
pub(crate) struct MemoryLimiter {
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

pub(crate) struct StoreState {
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
    pub(crate) fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
    }

    /// What the guest wrote to stderr (bounded), for error messages.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    /// What the guest wrote to stdout (bounded), for the debug log.
    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents())
            .trim()
            .to_string()
    }

    pub(crate) fn lend(
        &mut self,
        sandbox: Arc<dyn Sandbox>,
    ) -> wasmtime::Result<Resource<SessionHandle>> {
        Ok(self.table.push(SessionHandle(sandbox))?)
    }

    pub(crate) fn take_back(&mut self, session: Resource<SessionHandle>) {
        let _ = self.table.delete(session);
    }

    /// The sandbox behind a session the guest was lent.
    pub(crate) fn session(
        &self,
        session: &Resource<SessionHandle>,
    ) -> wasmtime::Result<Arc<dyn Sandbox>> {
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
