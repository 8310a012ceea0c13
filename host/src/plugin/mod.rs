//! The plugin runtime: loads tool, scorer and formatter components and runs
//! them under limits.
//!
//! Shape (after wasmtime's own embedding advice, Spin and Zed's extension host):
//! one [`wasmtime::Engine`] with an epoch ticker; every component compiled
//! once (and cached on disk) into an `InstancePre`; a fresh `Store` per call,
//! with an empty WASI context, captured stdout/stderr, a memory cap, a CPU
//! budget (epoch deadline) and a wall-clock timeout. A call that fails drops
//! its store; the runtime goes on serving every other call.

mod bindings;
mod cache;
mod error;
mod state;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker, Resource};
use wasmtime::{Engine, Store, UpdateDeadline};

pub use bindings::types as wit;
pub use cache::default_dir as default_cache_dir;
pub use error::{GuestError, PluginError};
use state::StoreState;

use crate::sandbox::Sandbox;

/// The WIT package every plugin is built against.
pub const API_PACKAGE: &str = "plinth:plugin";
/// The version of [`API_PACKAGE`] this host implements.
pub const API_VERSION: &str = "0.1.0";

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

/// Limits and places for a runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Linear-memory cap per plugin instance.
    pub memory_limit: usize,
    /// CPU time a guest may spend in one call (time in host calls such as
    /// sandbox commands is not counted).
    pub cpu_budget: Duration,
    /// Wall-clock cap on one call, host calls included.
    pub call_timeout: Duration,
    /// Bytes of guest stdout/stderr kept per call.
    pub output_limit: usize,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances alive at once; more callers wait for a free one.
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            memory_limit: 256 << 20,
            cpu_budget: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30 * 60),
            output_limit: 64 << 10,
            cache_dir: cache::default_dir(),
            max_instances: 1000,
        }
    }
}

/// Where a plugin's bytes come from: embedded in the binary, or a file.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// `builtin:<name>` or the file's path: shown in listings and errors.
    pub label: String,
    pub bytes: Cow<'static, [u8]>,
}

impl PluginSource {
    pub fn builtin(name: &str, bytes: &'static [u8]) -> Self {
        Self {
            label: format!("builtin:{name}"),
            bytes: Cow::Borrowed(bytes),
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
    /// The `plinth:plugin` version it was built against.
    pub api_version: String,
    pub source: String,
    /// Every import and export name of the component, for `plugins inspect`.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// A tool the model may call, as a plugin declares it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// What a tool call returned.
#[derive(Debug, Clone)]
pub struct ToolResult {
    pub content: String,
    pub exec: Option<crate::sandbox::ExecOutput>,
}

/// Scorer output.
pub type Score = wit::ScoreResult;

/// Formatter self-description.
#[derive(Debug, Clone)]
pub struct FormatterInfo {
    pub file_extension: String,
    pub one_record_per_line: bool,
    /// One record per group of rollouts (`format_group`), not per trajectory.
    pub per_group: bool,
}

/// Owns the engine, the linkers for each world, and the epoch ticker.
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    tool_linker: Linker<StoreState>,
    scorer_linker: Linker<StoreState>,
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

        let mut formatter_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut formatter_linker).map_err(runtime_err)?;
        bindings::tool::plinth::plugin::host::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut formatter_linker,
            |s| s,
        )
        .map_err(runtime_err)?;
        // Tools and scorers may also use the sandbox session; formatters may not.
        let mut tool_linker = formatter_linker.clone();
        bindings::tool::plinth::plugin::sandbox::add_to_linker::<
            _,
            wasmtime::component::HasSelf<_>,
        >(&mut tool_linker, |s| s)
        .map_err(runtime_err)?;
        let scorer_linker = tool_linker.clone();

        let ticker = EpochTicker::start(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                tool_linker,
                scorer_linker,
                formatter_linker,
                instances: Semaphore::new(config.max_instances as usize),
                config,
                ticker,
            }),
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Compiles (or loads from the cache), checks and links a component, then
    /// asks it to describe itself.
    pub async fn load(&self, source: &PluginSource) -> Result<Plugin, PluginError> {
        let inner = self.inner.clone();
        let label = source.label.clone();
        let bytes = source.bytes.clone().into_owned();
        // Compiling is CPU-bound (seconds when cold): keep it off the async workers.
        let component = tokio::task::spawn_blocking(move || {
            cache::compile(
                &inner.engine,
                inner.config.cache_dir.as_deref(),
                &label,
                &bytes,
            )
        })
        .await
        .map_err(|e| PluginError::Runtime(format!("compile task failed: {e}")))??;
        let (kind, api_version, imports, exports) =
            check_api(&self.inner.engine, &component, &source.label)?;
        let mut meta = PluginMeta {
            name: source.label.clone(),
            version: String::new(),
            description: String::new(),
            kind,
            api_version,
            source: source.label.clone(),
            imports,
            exports,
        };
        let link_err = |e: wasmtime::Error| PluginError::InvalidComponent {
            plugin: source.label.clone(),
            reason: format!(
                "it cannot be linked as a {kind} plugin: {e:#}. A {kind} plugin may import only {}",
                match kind {
                    PluginKind::Formatter => "plinth:plugin/host and WASI",
                    _ => "plinth:plugin/host, plinth:plugin/sandbox and WASI",
                }
            ),
        };
        Ok(match kind {
            PluginKind::Tool => {
                let pre = self
                    .inner
                    .tool_linker
                    .instantiate_pre(&component)
                    .map_err(link_err)?;
                let pre = bindings::tool::ToolPluginPre::new(pre).map_err(link_err)?;
                let mut plugin = ToolPlugin {
                    runtime: self.clone(),
                    meta: meta.clone(),
                    pre,
                    tools: Vec::new(),
                };
                let (info, tools) = plugin.describe().await?;
                meta.name = info.name;
                meta.version = info.version;
                meta.description = info.description;
                plugin.meta = meta;
                plugin.tools = tools;
                Plugin::Tool(plugin)
            }
            PluginKind::Scorer => {
                let pre = self
                    .inner
                    .scorer_linker
                    .instantiate_pre(&component)
                    .map_err(link_err)?;
                let pre = bindings::scorer::ScorerPluginPre::new(pre).map_err(link_err)?;
                let mut plugin = ScorerPlugin {
                    runtime: self.clone(),
                    meta: meta.clone(),
                    pre,
                };
                let info = plugin.info().await?;
                meta.name = info.name;
                meta.version = info.version;
                meta.description = info.description;
                plugin.meta = meta;
                Plugin::Scorer(plugin)
            }
            PluginKind::Formatter => {
                let pre = self
                    .inner
                    .formatter_linker
                    .instantiate_pre(&component)
                    .map_err(link_err)?;
                let pre = bindings::formatter::FormatterPluginPre::new(pre).map_err(link_err)?;
                let mut plugin = FormatterPlugin {
                    runtime: self.clone(),
                    meta: meta.clone(),
                    pre,
                    info: FormatterInfo {
                        file_extension: String::new(),
                        one_record_per_line: true,
                        per_group: false,
                    },
                };
                let info = plugin.describe().await?;
                meta.name = info.info.name;
                meta.version = info.info.version;
                meta.description = info.info.description;
                plugin.meta = meta;
                plugin.info = FormatterInfo {
                    file_extension: info.file_extension,
                    one_record_per_line: info.one_record_per_line,
                    per_group: info.per_group,
                };
                Plugin::Formatter(plugin)
            }
        })
    }

    /// A fresh store for one call, with this runtime's limits.
    fn new_store(&self, plugin: &str) -> Store<StoreState> {
        let config = &self.inner.config;
        let state = StoreState::new(plugin.into(), config.memory_limit, config.output_limit);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        let budget = config.cpu_budget;
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

    /// Runs one call in a fresh store under the runtime's limits and turns
    /// every way it can fail into a [`PluginError`] naming the plugin.
    async fn call<R, F>(
        &self,
        plugin: &str,
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
        let mut store = self.new_store(plugin);
        let limit = self.inner.config.call_timeout;
        let outcome = tokio::time::timeout(limit, async {
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
        let stderr = state.stderr_text();
        let stdout = state.stdout_text();
        if !stdout.is_empty() {
            tracing::debug!(plugin, "plugin stdout: {stdout}");
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
                limit,
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
                    limit: self.inner.config.cpu_budget,
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
        .max_memory_size(config.memory_limit)
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

/// Reads the component's imports and exports: which plugin kind it is, and
/// whether the `plinth:plugin` version it was built against is one we speak.
fn check_api(
    engine: &Engine,
    component: &Component,
    label: &str,
) -> Result<(PluginKind, String, Vec<String>, Vec<String>), PluginError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let prefix = format!("{API_PACKAGE}/");
    let mut found_version = None;
    for name in imports.iter().chain(&exports) {
        if let Some(rest) = name.strip_prefix(&prefix) {
            let version = rest.split_once('@').map_or("unversioned", |(_, v)| v);
            if !compatible(version) {
                return Err(PluginError::IncompatibleApi {
                    plugin: label.to_string(),
                    found: format!("{API_PACKAGE}@{version}"),
                    supported: format!("{API_PACKAGE}@{API_VERSION}"),
                });
            }
            found_version.get_or_insert_with(|| version.to_string());
        }
    }
    let kinds: Vec<PluginKind> = [PluginKind::Tool, PluginKind::Scorer, PluginKind::Formatter]
        .into_iter()
        .filter(|kind| {
            exports.iter().any(|e| {
                e.strip_prefix(&prefix)
                    .and_then(|rest| rest.split('@').next())
                    == Some(kind.interface())
            })
        })
        .collect();
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(PluginError::InvalidComponent {
                plugin: label.to_string(),
                reason: format!(
                    "it exports none of {API_PACKAGE}/tool, /scorer or /formatter (exports: {})",
                    if exports.is_empty() {
                        "none".to_string()
                    } else {
                        exports.join(", ")
                    }
                ),
            });
        }
        _ => {
            return Err(PluginError::InvalidComponent {
                plugin: label.to_string(),
                reason: "it exports more than one plugin interface; build one world per component"
                    .into(),
            });
        }
    };
    Ok((kind, found_version.unwrap_or_default(), imports, exports))
}

/// Same major version, and for 0.x the same minor (semver's rule for 0.x).
fn compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(API_VERSION)) {
        (Some((fmaj, fmin)), Some((maj, min))) => fmaj == maj && (maj != 0 || fmin == min),
        _ => false,
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

fn guest_error(meta: &PluginMeta, error: wit::PluginError) -> PluginError {
    PluginError::Guest {
        plugin: meta.name.clone(),
        error: error.into(),
    }
}

#[derive(Clone)]
pub struct ToolPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: bindings::tool::ToolPluginPre<StoreState>,
    /// The tools it offers, read once at load time.
    pub tools: Vec<ToolSpec>,
}

impl ToolPlugin {
    async fn describe(&self) -> Result<(wit::PluginInfo, Vec<ToolSpec>), PluginError> {
        let pre = self.pre.clone();
        let (info, specs) = self
            .runtime
            .call(&self.meta.source, None, move |store, _| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    let tool = plugin.plinth_plugin_tool();
                    let info = tool.call_info(&mut *store).await?;
                    let specs = tool.call_list_tools(&mut *store).await?;
                    Ok((info, specs))
                })
            })
            .await?;
        let tools = specs
            .into_iter()
            .map(|spec| {
                let parameters = serde_json::from_str(&spec.parameters).map_err(|e| {
                    PluginError::InvalidComponent {
                        plugin: self.meta.source.clone(),
                        reason: format!(
                            "tool `{}` has parameters that are not JSON: {e}",
                            spec.name
                        ),
                    }
                })?;
                Ok(ToolSpec {
                    name: spec.name,
                    description: spec.description,
                    parameters,
                })
            })
            .collect::<Result<_, PluginError>>()?;
        Ok((info, tools))
    }

    /// Runs tool `name` with the model's `arguments` in the task's sandbox.
    pub async fn invoke(
        &self,
        name: &str,
        arguments: &str,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<ToolResult, PluginError> {
        let pre = self.pre.clone();
        let (name, arguments) = (name.to_string(), arguments.to_string());
        let result = self
            .runtime
            .call(&self.meta.name, Some(sandbox), move |store, session| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    let session = session.expect("a session is lent for tool calls");
                    plugin
                        .plinth_plugin_tool()
                        .call_invoke(&mut *store, &name, &arguments, session)
                        .await
                })
            })
            .await?;
        let result = result.map_err(|e| guest_error(&self.meta, e))?;
        Ok(ToolResult {
            content: result.content,
            exec: result.exec.map(|e| crate::sandbox::ExecOutput {
                exit_code: e.exit_code,
                output: e.output,
                truncated: e.truncated,
                timed_out: e.timed_out,
            }),
        })
    }
}

#[derive(Clone)]
pub struct ScorerPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: bindings::scorer::ScorerPluginPre<StoreState>,
}

impl ScorerPlugin {
    async fn info(&self) -> Result<wit::PluginInfo, PluginError> {
        let pre = self.pre.clone();
        self.runtime
            .call(&self.meta.source, None, move |store, _| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    plugin.plinth_plugin_scorer().call_info(&mut *store).await
                })
            })
            .await
    }

    /// Scores a finished trajectory in the task's (still live) sandbox.
    pub async fn score(
        &self,
        task: &str,
        trajectory: &wit::Trajectory,
        config: &str,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<Score, PluginError> {
        let pre = self.pre.clone();
        let (task, trajectory, config) = (task.to_string(), trajectory.clone(), config.to_string());
        let result = self
            .runtime
            .call(&self.meta.name, Some(sandbox), move |store, session| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    let session = session.expect("a session is lent for scorer calls");
                    plugin
                        .plinth_plugin_scorer()
                        .call_score(&mut *store, &task, &trajectory, &config, session)
                        .await
                })
            })
            .await?;
        result.map_err(|e| guest_error(&self.meta, e))
    }
}

/// What a formatter call formats.
enum FormatInput {
    One(Box<wit::Trajectory>),
    Group(Vec<wit::Trajectory>),
}

#[derive(Clone)]
pub struct FormatterPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: bindings::formatter::FormatterPluginPre<StoreState>,
    pub info: FormatterInfo,
}

impl FormatterPlugin {
    async fn describe(
        &self,
    ) -> Result<bindings::formatter::exports::plinth::plugin::formatter::FormatterInfo, PluginError>
    {
        let pre = self.pre.clone();
        self.runtime
            .call(&self.meta.source, None, move |store, _| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    plugin
                        .plinth_plugin_formatter()
                        .call_info(&mut *store)
                        .await
                })
            })
            .await
    }

    /// Formats one trajectory. `options` is a JSON object; `jsonl` is set in it
    /// to say whether the text becomes one line of a JSONL file.
    pub async fn format(
        &self,
        trajectory: &wit::Trajectory,
        options: &serde_json::Value,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        self.run(
            FormatInput::One(Box::new(trajectory.clone())),
            options,
            jsonl,
        )
        .await
    }

    /// Formats a group of rollouts of one task as one record (for formatters
    /// whose info says `per_group`).
    pub async fn format_group(
        &self,
        group: &[wit::Trajectory],
        options: &serde_json::Value,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        self.run(FormatInput::Group(group.to_vec()), options, jsonl)
            .await
    }

    async fn run(
        &self,
        input: FormatInput,
        options: &serde_json::Value,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        let options = self.options(options, jsonl)?;
        let pre = self.pre.clone();
        let result = self
            .runtime
            .call(&self.meta.name, None, move |store, _| {
                Box::pin(async move {
                    let plugin = pre.instantiate_async(&mut *store).await?;
                    let formatter = plugin.plinth_plugin_formatter();
                    match &input {
                        FormatInput::One(t) => {
                            formatter.call_format(&mut *store, t, &options).await
                        }
                        FormatInput::Group(g) => {
                            formatter.call_format_group(&mut *store, g, &options).await
                        }
                    }
                })
            })
            .await?;
        self.checked(result, jsonl)
    }

    /// The options object the guest receives, with `jsonl` set.
    fn options(&self, options: &serde_json::Value, jsonl: bool) -> Result<String, PluginError> {
        let mut options = match options {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(PluginError::Runtime(format!(
                    "formatter options must be a JSON object, got {other}"
                )));
            }
        };
        options.insert("jsonl".into(), jsonl.into());
        Ok(serde_json::Value::Object(options).to_string())
    }

    fn checked(
        &self,
        result: Result<String, wit::PluginError>,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        let text = result.map_err(|e| guest_error(&self.meta, e))?;
        if jsonl && text.contains('\n') {
            return Err(PluginError::Guest {
                plugin: self.meta.name.clone(),
                error: GuestError::Failed("it returned several lines for one JSONL record".into()),
            });
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compatibility_follows_semver_for_0x() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible("unversioned"));
    }
}
