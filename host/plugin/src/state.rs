//! What one `Store` holds while a plugin runs: an empty WASI context, the
//! captured stdout/stderr, the memory limiter, and the sandbox session lent
//! for the call with the grants that bound it. What the guest may call on
//! it is in `imports`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::grants::{Denied, Grants};
use plinth_record::sync::Locked;
use plinth_sandbox::Sandbox;

/// The `session` resource as the host sees it: the task's sandbox.
pub struct SessionHandle(pub Arc<dyn Sandbox>);

/// Fails memory growth past a cap, and remembers that it did, so the error a
/// guest then traps with can be reported as "memory limit exceeded" rather
/// than an obscure allocation failure.
pub(crate) struct MemoryLimiter {
    pub cap: usize,
    pub hit: bool,
    /// The largest linear memory the guest asked for (granted or not).
    pub peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.peak = self.peak.max(desired);
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

/// A guest's stdout or stderr: the first `cap` bytes kept, the rest counted
/// and dropped. Writes always succeed: a pipe that refused them once full
/// would make a chatty guest trap, and printing too much is not a failure.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    cap: usize,
    captured: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

impl CapturedOutput {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            captured: Arc::default(),
        }
    }

    /// What was kept, as text, and how many bytes were dropped.
    pub fn text(&self) -> (String, u64) {
        let captured = self.captured.locked();
        let text = String::from_utf8_lossy(&captured.kept).trim().to_string();
        (text, captured.dropped)
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut captured = self.captured.locked();
        let room = self.cap.saturating_sub(captured.kept.len());
        let keep = buf.len().min(room);
        captured.kept.extend_from_slice(&buf[..keep]);
        captured.dropped += (buf.len() - keep) as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub(crate) struct StoreState {
    pub plugin: Arc<str>,
    /// What the plugin may do with the session it is lent.
    pub grants: Grants,
    /// The first use of the session beyond `grants`: it fails the call.
    pub denied: Option<Denied>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    /// When the call started and how long it has spent waiting on the host
    /// (sandbox commands), so the CPU budget counts only the guest's own time.
    pub started: Instant,
    pub host_time: Duration,
}

impl StoreState {
    pub fn new(plugin: Arc<str>, grants: Grants, memory_cap: usize, output_cap: usize) -> Self {
        let stdout = CapturedOutput::new(output_cap);
        let stderr = CapturedOutput::new(output_cap);
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
            grants,
            denied: None,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                cap: memory_cap,
                hit: false,
                peak: 0,
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
    pub fn session(&self, session: &Resource<SessionHandle>) -> wasmtime::Result<Arc<dyn Sandbox>> {
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
