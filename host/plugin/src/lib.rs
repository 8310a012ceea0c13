//! The plugin runtime: loads tool, scorer and formatter components and runs
//! them under limits.
//!
//! Shape (after wasmtime's own embedding advice, Spin and Zed's extension host):
//! one [`wasmtime::Engine`] with an epoch ticker; every component compiled
//! once (and cached on disk) into an `InstancePre`; a fresh `Store` per call,
//! with an empty WASI context, captured stdout/stderr, a memory cap, a CPU
//! budget (epoch deadline) and a wall-clock timeout. A call that fails drops
//! its store; the runtime goes on serving every other call.

/// Runs one body for whichever API version a plugin was linked against:
/// each version's generated types are distinct, the logic is the same. In
/// `$body`, `$pre` is that version's `*Pre` and `$convert` its module in
/// [`convert`].
macro_rules! per_version {
    ($value:expr; $($variant:path => $module:ident),+ $(,)?; |$pre:ident, $convert:ident| $body:expr) => {
        match $value {
            $($variant($pre) => {
                #[allow(unused_imports)]
                use $crate::convert::$module as $convert;
                $body
            })+
        }
    };
}

mod api;
mod bindings;
pub mod builtins;
mod cache;
pub mod catalog;
mod convert;
mod error;
mod formatter;
mod grants;
mod imports;
pub mod scaffold;
mod scorer;
mod state;
mod stats;
mod tool;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::{Linker, Resource};
use wasmtime::{Engine, Store, UpdateDeadline};

pub use api::{API_PACKAGE, ApiVersion};
pub use error::{GuestError, PluginError};
pub use formatter::{FormatterInfo, FormatterPlugin};
pub use grants::{Access, Capability, Denied, Grants};
pub use scorer::ScorerPlugin;
use state::StoreState;
pub use stats::{CallStats, measured};
pub use tool::{ToolPlugin, ToolResult, ToolSpec};

use plinth_record::defaults;
use plinth_record::digest::sha256_hex;
use plinth_sandbox::Sandbox;

/// How often the epoch ticks; the CPU budget is checked at this granularity.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What a plugin is, read from what it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Tool,
    Scorer,
    Formatter,
}

impl PluginKind {
    fn interface(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Scorer => "scorer",
            Self::Formatter => "formatter",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// What one call of a plugin may use. Every call gets a fresh store with
/// these limits, so one plugin's limits never leak into another's.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginLimits {
    /// Linear-memory cap of the instance.
    pub memory_bytes: usize,
    /// CPU time the guest may spend in one call (time in host calls such as
    /// sandbox commands is not counted).
    pub cpu_budget: Duration,
    /// Wall-clock cap on one call, host calls included.
    pub call_timeout: Duration,
    /// Bytes of guest stdout and of stderr kept per call.
    pub output_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_bytes: defaults::PLUGIN_MEMORY_BYTES,
            cpu_budget: defaults::PLUGIN_CPU,
            call_timeout: defaults::PLUGIN_TIMEOUT,
            output_bytes: defaults::PLUGIN_OUTPUT_BYTES,
        }
    }
}

impl fmt::Display for PluginLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory {} MiB, CPU {:?} and wall {:?} per call, output {} bytes",
            self.memory_bytes >> 20,
            self.cpu_budget,
            self.call_timeout,
            self.output_bytes
        )
    }
}

/// Limits and places for a runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The limits of every plugin not named in `plugin_limits`.
    pub limits: PluginLimits,
    /// Limits of particular plugins, by the name or path they are selected
    /// with (an environment bundle gives a plugin its own); see
    /// [`PluginRuntime::load_as`].
    pub plugin_limits: BTreeMap<String, PluginLimits>,
    /// What plugins that are not built in may do with their sandbox
    /// session, by the name or path they are selected with; one not named
    /// here may do nothing with it. Built-ins may do everything.
    pub plugin_grants: BTreeMap<String, Grants>,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances alive at once; more callers wait for a free one.
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: PluginLimits::default(),
            plugin_limits: BTreeMap::new(),
            plugin_grants: BTreeMap::new(),
            cache_dir: plinth_record::paths::cache_dir(),
            max_instances: 1000,
        }
    }
}

impl RuntimeConfig {
    /// The defaults, sized for `runs` trajectories in flight: each may hold a
    /// tool or scorer instance and a formatter at once.
    pub fn for_runs(runs: usize) -> Self {
        Self {
            max_instances: u32::try_from(runs)
                .unwrap_or(u32::MAX)
                .saturating_mul(2)
                .max(16),
            ..Self::default()
        }
    }

    /// The largest memory any plugin may have: the size of a pooled slot.
    fn largest_memory(&self) -> usize {
        self.plugin_limits
            .values()
            .map(|l| l.memory_bytes)
            .fold(self.limits.memory_bytes, usize::max)
    }
}

/// Where a plugin's bytes come from: embedded in the binary, or a file.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// `builtin:<name>` or the file's path: shown in listings and errors.
    pub label: String,
    pub bytes: Cow<'static, [u8]>,
    /// Embedded in this binary: ours, so it may use its whole session.
    pub builtin: bool,
}

impl PluginSource {
    pub fn builtin(name: &str, bytes: &'static [u8]) -> Self {
        Self {
            label: format!("builtin:{name}"),
            bytes: Cow::Borrowed(bytes),
            builtin: true,
        }
    }

    pub fn file(path: &Path) -> Result<Self, PluginError> {
        let bytes = std::fs::read(path).map_err(|e| PluginError::InvalidComponent {
            plugin: path.display().to_string(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Ok(Self {
            label: path.display().to_string(),
            bytes: Cow::Owned(bytes),
            builtin: false,
        })
    }
}

/// What a loaded plugin says about itself.
#[derive(Debug, Clone)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub description: String,
    pub kind: PluginKind,
    /// The `plinth:plugin` version whose bindings the host uses for it: the
    /// supported version semver-compatible with the one it was built against.
    pub api_version: ApiVersion,
    pub source: String,
    /// sha256 of the component's bytes (hex), so a record names the exact
    /// plugin it ran with.
    pub sha256: String,
    /// Every import and export name of the component, for `plugins inspect`.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// What each of its calls may use.
    pub limits: PluginLimits,
    /// What it may do with the sandbox session it is lent.
    pub grants: Grants,
}

impl PluginMeta {
    /// Fills in who the plugin says it is (its `info`), read after linking.
    fn describe(&mut self, info: PluginInfo) {
        self.name = info.name;
        self.version = info.version;
        self.description = info.description;
    }

    /// The component cannot be linked as the kind of plugin it exports.
    fn link_error(&self, e: wasmtime::Error) -> PluginError {
        let kind = self.kind;
        PluginError::InvalidComponent {
            plugin: self.source.clone(),
            reason: format!(
                "it cannot be linked as a {kind} plugin: {e:#}. A {kind} plugin may import only {}",
                match kind {
                    PluginKind::Formatter => "plinth:plugin/host and WASI",
                    _ => "plinth:plugin/host, plinth:plugin/sandbox and WASI",
                }
            ),
        }
    }

    /// The plugin ran and returned one of its typed errors.
    fn guest_error(&self, error: GuestError) -> PluginError {
        PluginError::Guest {
            plugin: self.name.clone(),
            error,
        }
    }
}

/// Who a plugin says it is: the WIT `plugin-info` of any API version.
struct PluginInfo {
    name: String,
    version: String,
    description: String,
}

/// Owns the engine, the linkers for each world, and the epoch ticker.
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// For tools and scorers: `host`, `sandbox` and WASI.
    sandboxed_linker: Linker<StoreState>,
    /// For formatters: `host` and WASI only.
    formatter_linker: Linker<StoreState>,
    config: RuntimeConfig,
    instances: Semaphore,
    ticker: EpochTicker,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Relaxed);
    }
}

/// Advances the engine's epoch from a plain thread, outside tokio, so it
/// keeps ticking even when every runtime worker is busy.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("plinth-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        Self { stop }
    }
}

impl PluginRuntime {
    pub fn new(config: RuntimeConfig) -> Result<Self, PluginError> {
        let engine = new_engine(&config)?;
        let runtime_err = |e: wasmtime::Error| PluginError::Runtime(format!("{e:#}"));

        // Every linker offers the imports of every supported API version;
        // a component links against the ones it was built for.
        let mut formatter_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut formatter_linker).map_err(runtime_err)?;
        imports::add_host(&mut formatter_linker).map_err(runtime_err)?;
        // Tools and scorers may also use the sandbox session; formatters may not.
        let mut sandboxed_linker = formatter_linker.clone();
        imports::add_sandbox(&mut sandboxed_linker).map_err(runtime_err)?;

        let ticker = EpochTicker::start(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                sandboxed_linker,
                formatter_linker,
                instances: Semaphore::new(config.max_instances as usize),
                config,
                ticker,
            }),
        })
    }

    /// Loads a component under the limits and grants the run gave its
    /// label (its path), if any.
    pub async fn load(&self, source: &PluginSource) -> Result<Plugin, PluginError> {
        self.load_as(source, &source.label).await
    }

    /// Compiles (or loads from the cache), checks and links a component
    /// selected as `spec` (a name or a path), then asks it to describe
    /// itself. Every call it gets runs under the limits the run gave `spec`
    /// (else the run-wide ones) and may use its session as far as the run
    /// granted `spec` (everything for a built-in; nothing when not granted).
    pub async fn load_as(&self, source: &PluginSource, spec: &str) -> Result<Plugin, PluginError> {
        let config = &self.inner.config;
        let limits = config
            .plugin_limits
            .get(spec)
            .unwrap_or(&config.limits)
            .clone();
        let grants = if source.builtin {
            Grants::all()
        } else {
            config.plugin_grants.get(spec).cloned().unwrap_or_default()
        };
        let inner = self.inner.clone();
        let label = source.label.clone();
        let bytes = source.bytes.clone().into_owned();
        // Hashing and compiling are CPU-bound (seconds when cold): keep them
        // off the async workers. The hash names the cache entry and the
        // plugin's bytes in records.
        let (component, sha256) = tokio::task::spawn_blocking(move || {
            let sha256 = sha256_hex(&bytes);
            cache::compile(
                &inner.engine,
                inner.config.cache_dir.as_deref(),
                &label,
                &bytes,
                &sha256,
            )
            .map(|component| (component, sha256))
        })
        .await
        .map_err(|e| PluginError::Runtime(format!("compile task failed: {e}")))??;
        let shape = api::inspect(&self.inner.engine, &component, &source.label)?;
        let meta = PluginMeta {
            name: source.label.clone(),
            version: String::new(),
            description: String::new(),
            kind: shape.kind,
            api_version: shape.api_version,
            source: source.label.clone(),
            sha256,
            imports: shape.imports,
            exports: shape.exports,
            limits,
            grants,
        };
        let linker = match shape.kind {
            PluginKind::Tool | PluginKind::Scorer => &self.inner.sandboxed_linker,
            PluginKind::Formatter => &self.inner.formatter_linker,
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| meta.link_error(e))?;
        let runtime = self.clone();
        Ok(match shape.kind {
            PluginKind::Tool => Plugin::Tool(ToolPlugin::load(runtime, meta, pre).await?),
            PluginKind::Scorer => Plugin::Scorer(ScorerPlugin::load(runtime, meta, pre).await?),
            PluginKind::Formatter => Plugin::Formatter(
                FormatterPlugin::load(runtime, meta, shape.group_formatter, pre).await?,
            ),
        })
    }

    /// A fresh store for one call of `plugin`, under its limits.
    fn new_store(&self, plugin: &PluginMeta) -> Store<StoreState> {
        let limits = &plugin.limits;
        let state = StoreState::new(
            plugin.name.as_str().into(),
            plugin.grants.clone(),
            limits.memory_bytes,
            limits.output_bytes,
        );
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        let budget = limits.cpu_budget;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |ctx| {
            if ctx.data().guest_time() > budget {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield so a busy guest never starves the other tasks on
                // this worker thread.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs one call of `meta`'s plugin in a fresh store under its limits
    /// and turns every way it can fail into a [`PluginError`] naming it.
    async fn call<R, F>(
        &self,
        meta: &PluginMeta,
        sandbox: Option<Arc<dyn Sandbox>>,
        f: F,
    ) -> Result<R, PluginError>
    where
        F: for<'a> FnOnce(
            &'a mut Store<StoreState>,
            Option<Resource<state::SessionHandle>>,
        ) -> CallFuture<'a, R>,
    {
        let _permit = self
            .inner
            .instances
            .acquire()
            .await
            .map_err(|_| PluginError::Runtime("runtime shut down".into()))?;
        let plugin = meta.name.as_str();
        let limits = &meta.limits;
        let mut store = self.new_store(meta);
        let outcome = tokio::time::timeout(limits.call_timeout, async {
            let session = match sandbox {
                Some(sandbox) => Some(store.data_mut().lend(sandbox)?),
                None => None,
            };
            let borrowed = session.as_ref().map(|s| Resource::new_borrow(s.rep()));
            let result = f(&mut store, borrowed).await;
            if let Some(session) = session {
                store.data_mut().take_back(session);
            }
            result
        })
        .await;
        let state = store.data();
        stats::note(CallStats {
            plugin: plugin.to_string(),
            wall: state.started.elapsed(),
            guest: state.guest_time(),
            peak_memory: state.limiter.peak,
        });
        let (stdout, stdout_dropped) = state.stdout.text();
        let (stderr, stderr_dropped) = state.stderr.text();
        if !stdout.is_empty() {
            tracing::debug!(plugin, "plugin stdout: {stdout}");
        }
        if stdout_dropped + stderr_dropped > 0 {
            tracing::warn!(
                plugin,
                "the plugin printed {stdout_dropped} byte(s) to stdout and {stderr_dropped} to \
                 stderr beyond its {}-byte output cap; they were dropped",
                limits.output_bytes
            );
        }
        if let Some(denied) = state.denied.clone() {
            // The guest was told, and may have gone on; overstepping its
            // grants fails the call whatever it returned.
            return Err(PluginError::CapabilityDenied {
                plugin: plugin.to_string(),
                denied,
            });
        }
        match outcome {
            Ok(Ok(value)) => {
                if !stderr.is_empty() {
                    tracing::debug!(plugin, "plugin stderr: {stderr}");
                }
                Ok(value)
            }
            Err(_) => Err(PluginError::Timeout {
                plugin: plugin.to_string(),
                limit: limits.call_timeout,
                stderr,
            }),
            Ok(Err(e)) if state.limiter.hit => Err(PluginError::MemoryLimit {
                plugin: plugin.to_string(),
                limit_bytes: state.limiter.cap,
                stderr: {
                    let _ = e;
                    stderr
                },
            }),
            Ok(Err(e))
                if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) =>
            {
                Err(PluginError::Timeout {
                    plugin: plugin.to_string(),
                    limit: limits.cpu_budget,
                    stderr,
                })
            }
            Ok(Err(e)) => Err(PluginError::Trap {
                plugin: plugin.to_string(),
                message: format!("{e:#}"),
                stderr,
            }),
        }
    }
}

/// A call into a freshly made store: it gets the call's store and the
/// sandbox session lent for it, if any.
type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

fn new_engine(config: &RuntimeConfig) -> Result<Engine, PluginError> {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        // Plugins are called one call per store and never run concurrently
        // inside it: without the component-model-async state, a store is
        // cheaper to make and to drop (dropping one built an error, with a
        // backtrace under RUST_BACKTRACE=1, every time).
        .concurrency_support(false);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    let n = config.max_instances.max(1);
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(8))
        .total_memories(n.saturating_mul(2))
        .total_tables(n.saturating_mul(4))
        .max_memory_size(config.largest_memory())
        // Every call instantiates afresh, so slots are reused all the time:
        // reset the pages a call dirtied with memset (found with
        // PAGEMAP_SCAN on Linux 6.7+) instead of an madvise per memory,
        // whose TLB shootdowns and page faults on the next call cost more
        // than the call itself. Only up to 100 idle slots stay warm
        // (wasmtime's default), which bounds the extra resident memory.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&wasm) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            // Pooling reserves a lot of virtual memory up front; hosts with a
            // tight `ulimit -v` refuse it. On-demand allocation always works.
            tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
            wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
            Engine::new(&wasm).map_err(|e| PluginError::Runtime(format!("{e:#}")))
        }
    }
}

/// A loaded plugin of any kind.
#[derive(Clone)]
pub enum Plugin {
    Tool(ToolPlugin),
    Scorer(ScorerPlugin),
    Formatter(FormatterPlugin),
}

impl Plugin {
    pub fn meta(&self) -> &PluginMeta {
        match self {
            Self::Tool(p) => &p.meta,
            Self::Scorer(p) => &p.meta,
            Self::Formatter(p) => &p.meta,
        }
    }

    fn wrong_kind(&self, expected: PluginKind) -> PluginError {
        PluginError::WrongKind {
            plugin: self.meta().source.clone(),
            found: self.meta().kind,
            expected,
        }
    }

    /// The WIT world it was built as, e.g. `plinth:plugin/tool-plugin@0.1.0`.
    pub fn world(&self) -> String {
        let world = match self {
            Self::Formatter(f)
                if f.info.per_group && self.meta().api_version >= ApiVersion::V0_2 =>
            {
                "group-formatter-plugin".to_string()
            }
            _ => format!("{}-plugin", self.meta().kind),
        };
        format!("{API_PACKAGE}/{world}@{}", self.meta().api_version)
    }

    pub fn into_tool(self) -> Result<ToolPlugin, PluginError> {
        match self {
            Self::Tool(p) => Ok(p),
            other => Err(other.wrong_kind(PluginKind::Tool)),
        }
    }

    pub fn into_scorer(self) -> Result<ScorerPlugin, PluginError> {
        match self {
            Self::Scorer(p) => Ok(p),
            other => Err(other.wrong_kind(PluginKind::Scorer)),
        }
    }

    pub fn into_formatter(self) -> Result<FormatterPlugin, PluginError> {
        match self {
            Self::Formatter(p) => Ok(p),
            other => Err(other.wrong_kind(PluginKind::Formatter)),
        }
    }
}
