//! `plinth run`: the main job.
//!
//! Flags follow Hermes' mini_swe_runner (its underscore spellings are
//! accepted too). A TOML config file (`--config`) may hold the same settings
//! under the same names with underscores; flags win over it.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use plinth::agent::{Agent, AgentConfig, OnTextReply, Prompts, Toolbox};
use plinth::batch::{BatchConfig, OutputFormat, RunContext, Summary, run_batch};
use plinth::catalog;
use plinth::model::{
    ChatModel, ModelClient, ModelConfig, PriceTable, ReplayModel, resolve_endpoint,
};
use plinth::plugin::{PluginKind, PluginRuntime, RuntimeConfig};
use plinth::sandbox::docker::{
    DockerConfig, DockerProvider, Engines, Limits, PoolConfig, PoolProvider, parse_size,
};
use plinth::sandbox::{LocalConfig, LocalProvider, OutputPolicy, SandboxProvider};
use plinth::scoring::{Scorers, WeightedScorer};
use plinth::store::{Layout, TrajectoryStore};
use plinth::task::{BadLine, Task};
use plinth::workspace::RepoCache;

/// Every setting is optional here so a config file can fill what the
/// command line leaves out; defaults are applied after merging.
#[derive(Args, Serialize, Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// A TOML file with any of these settings (underscored names); flags win.
    #[arg(long)]
    #[serde(skip)]
    pub(super) config: Option<PathBuf>,

    /// One task to run.
    #[arg(long, conflicts_with = "prompts_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) task: Option<String>,
    /// JSONL tasks: rows with `prompt` or `task` (optional `id`, `cwd`, any
    /// fields for templates); a raw non-JSON line is a prompt.
    #[arg(long, alias = "prompts_file", alias = "prompts")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) prompts_file: Option<PathBuf>,
    /// Where records go (JSONL) [default: trajectories.jsonl].
    #[arg(long, alias = "output_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output_file: Option<PathBuf>,
    /// Write one file per trajectory here instead (e.g. mswea `.traj.json`).
    #[arg(long, alias = "output_dir", conflicts_with = "output_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output_dir: Option<PathBuf>,
    /// hermes, mswea, openai, canonical, or a formatter .wasm [default: hermes].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<String>,
    /// Formatter options (JSON object), e.g. '{"variant": "batch_runner"}'.
    #[arg(long, alias = "format_options")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format_options: Option<String>,

    /// Model name [default: claude-sonnet-4-20250514], or `replay:FILE` to
    /// replay the assistant turns of recorded canonical trajectories (matched
    /// by task id) instead of calling an API.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<String>,
    /// OpenAI-compatible base URL [default: $OPENAI_BASE_URL, else OpenRouter].
    #[arg(long, alias = "base_url")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) base_url: Option<String>,
    /// API key [default: $OPENROUTER_API_KEY, $ANTHROPIC_API_KEY, $OPENAI_API_KEY].
    #[arg(long, alias = "api_key")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) api_key: Option<String>,
    /// Sampling temperature (omitted from requests when unset).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) temperature: Option<f64>,
    /// Seconds one model request may take [default: 300].
    #[arg(long, alias = "request_timeout")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) request_timeout: Option<f64>,
    /// Retries of a failed model request [default: 5].
    #[arg(long, alias = "max_retries")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_retries: Option<u32>,
    /// Prices per million input/output tokens by model (TOML or JSON).
    #[arg(long, alias = "price_table")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) price_table: Option<PathBuf>,

    /// Where commands run: `local` runs `bash -c` on this machine in a
    /// per-task directory. It is NOT isolation: the agent can touch anything
    /// plinth can. `docker`: a hardened container per task. `docker-pool`:
    /// slots in shared containers (see --slots-per-container). [default: local]
    #[arg(long, alias = "env")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sandbox: Option<String>,
    /// Working directory for commands (shared by all tasks) [default: a fresh
    /// temp dir per task; in containers /workspace, where pool slots live].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cwd: Option<PathBuf>,
    /// Container image (docker, docker-pool); a row's `image` wins.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) image: Option<String>,
    /// Docker network for containers [default: none: no network at all].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) network: Option<String>,
    /// Docker engine, unix:///path/docker.sock or tcp://host:port
    /// (repeatable: containers are spread over them) [default: $DOCKER_HOST,
    /// else the local socket].
    #[arg(long = "docker-host", alias = "docker_host")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) docker_host: Vec<String>,
    /// Workspaces per pool container (docker-pool) [default: 4].
    #[arg(long, alias = "slots_per_container")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) slots_per_container: Option<usize>,
    /// Pool containers started before the first task and kept running
    /// (docker-pool) [default: 1].
    #[arg(long, alias = "min_containers")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) min_containers: Option<usize>,
    /// Most pool containers (docker-pool) [default: enough slots for
    /// --concurrency].
    #[arg(long, alias = "max_containers")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_containers: Option<usize>,
    /// Memory per container, e.g. 512m or 4g (no swap on top) [default: 4g].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) memory: Option<String>,
    /// CPUs per container, e.g. 0.5 or 2 [default: 1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cpus: Option<f64>,
    /// Most processes per container [default: 1024].
    #[arg(long, alias = "pids_limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pids_limit: Option<i64>,
    /// Read-only root filesystem in containers (the workspace and /tmp stay
    /// writable).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "read_only")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) read_only: Option<bool>,
    /// Most model calls per task (0: no limit) [default: 15].
    #[arg(long, alias = "max_iterations", alias = "step-limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_iterations: Option<u32>,
    /// Most dollars per task (0: no limit; needs --price-table) [default: 3].
    #[arg(long, alias = "cost_limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cost_limit: Option<f64>,
    /// Wall-clock seconds per task (0: no limit) [default: 0].
    #[arg(long, alias = "time_limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) time_limit: Option<f64>,
    /// Default command timeout in seconds [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) timeout: Option<u64>,
    /// Most bytes of command output the model sees (head and tail kept) [default: 10000].
    #[arg(long, alias = "max_output_bytes")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_output_bytes: Option<usize>,
    /// Environment variable whose value is redacted from tool output and
    /// hidden from commands (repeatable; API key variables always are).
    #[arg(long = "secret-env", alias = "secret_env")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) secret_env: Vec<String>,

    /// Add a tool component (repeatable); the built-in terminal is always on
    /// unless --no-terminal.
    #[arg(long = "tool")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) tool: Vec<PathBuf>,
    /// Do not offer the built-in terminal tool.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "no_terminal")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) no_terminal: Option<bool>,
    /// A reply without tool calls is a format error the model is told about
    /// (mini-swe-agent) instead of the final answer (Hermes).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "require_tool_calls")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) require_tool_calls: Option<bool>,
    /// Parse ```bash blocks and <tool_call> tags from plain replies, for
    /// models served without tool-call parsing.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "text_actions")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text_actions: Option<bool>,
    /// Consecutive format errors that end a task [default: 3].
    #[arg(long, alias = "max_format_errors")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_format_errors: Option<u32>,
    /// System prompt template file (minijinja).
    #[arg(long, alias = "system_template")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) system_template: Option<PathBuf>,
    /// First user message template file (minijinja; `{{ task }}` is the prompt).
    #[arg(long, alias = "instance_template")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) instance_template: Option<PathBuf>,

    /// Score each trajectory in its live sandbox with this scorer component:
    /// a name (`pytest`) or a .wasm file, with an optional weight as
    /// `NAME:WEIGHT` (repeatable; rewards are combined by weight).
    #[arg(long = "scorer")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) scorer: Vec<String>,
    /// Scorer options (JSON object), given to every scorer; a task row's
    /// `scorer_config` object is merged over it.
    #[arg(long, alias = "scorer_config")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) scorer_config: Option<String>,
    /// Rollouts per task, each in its own sandbox; records carry group reward
    /// statistics, and per-group formats (atropos) write one record per group
    /// [default: 1].
    #[arg(long, alias = "group_size")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) group_size: Option<u32>,
    /// Where bare clones of task repositories are cached [default:
    /// $PLINTH_CACHE_DIR/repos].
    #[arg(long, alias = "repo_cache")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) repo_cache: Option<PathBuf>,

    /// Trajectories in flight at once [default: 1].
    #[arg(long, alias = "workers")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) concurrency: Option<usize>,
    /// Skip tasks a previous run of the same output already finished.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) resume: Option<bool>,
}

impl RunArgs {
    /// The command line over the config file.
    fn merged(self) -> Result<Self> {
        let Some(path) = &self.config else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let file: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let mut merged = serde_json::to_value(file).context("config to JSON")?;
        let flags = serde_json::to_value(&self).context("flags to JSON")?;
        let (serde_json::Value::Object(base), serde_json::Value::Object(flags)) =
            (&mut merged, flags)
        else {
            bail!("config {} must be a table of settings", path.display());
        };
        for (key, value) in flags {
            match (base.get_mut(&key), value) {
                (Some(serde_json::Value::Array(list)), serde_json::Value::Array(more)) => {
                    list.extend(more)
                }
                (_, value) => {
                    base.insert(key, value);
                }
            }
        }
        serde_json::from_value(merged).with_context(|| format!("in config {}", path.display()))
    }
}

fn flag(value: Option<bool>) -> bool {
    value.unwrap_or(false)
}

pub async fn run(args: RunArgs, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    let args = args.merged()?;
    let (tasks, bad_lines) = load_tasks(&args)?;

    // The model.
    let endpoint = resolve_endpoint(args.base_url.as_deref(), args.api_key.as_deref(), |name| {
        std::env::var(name).ok()
    });
    let api_key = endpoint.api_key.clone();
    let model_name = args
        .model
        .clone()
        .unwrap_or_else(|| "claude-sonnet-4-20250514".into());
    let mut model_config = ModelConfig::new(model_name.clone(), endpoint);
    model_config.temperature = args.temperature;
    if let Some(secs) = args.request_timeout {
        model_config.request_timeout = Duration::try_from_secs_f64(secs)
            .context("--request-timeout must be a non-negative number of seconds")?;
    }
    if let Some(n) = args.max_retries {
        model_config.max_retries = n;
    }
    if let Some(path) = &args.price_table {
        let table = PriceTable::load(path)?;
        model_config.price = table.price(&model_name);
    }
    let model: Arc<dyn ChatModel> = match model_name.strip_prefix("replay:") {
        Some(path) => Arc::new(ReplayModel::load(Path::new(path))?),
        None => {
            if model_config.price.is_none() {
                tracing::warn!("no price known for model `{model_name}`: its cost counts as 0");
            }
            Arc::new(ModelClient::new(model_config)?)
        }
    };

    // Plugins: tools and the formatter.
    let concurrency = args.concurrency.unwrap_or(1).max(1);
    let runtime = PluginRuntime::new(RuntimeConfig {
        // Every trajectory in flight may hold a tool instance and a formatter.
        max_instances: (concurrency as u32).saturating_mul(2).max(16),
        ..RuntimeConfig::default()
    })?;
    let mut tools = Vec::new();
    if !flag(args.no_terminal) {
        tools.push(
            catalog::find(&runtime, "terminal", PluginKind::Tool, extra_plugins)
                .await?
                .into_tool()?,
        );
    }
    for path in &args.tool {
        let spec = path.to_string_lossy();
        tools.push(
            catalog::find(&runtime, &spec, PluginKind::Tool, extra_plugins)
                .await?
                .into_tool()?,
        );
    }
    let toolbox = Arc::new(Toolbox::new(tools)?);
    let scorers = load_scorers(&runtime, &args, extra_plugins).await?;
    let format_name = args.format.clone().unwrap_or_else(|| "hermes".into());
    let format = if format_name == "canonical" {
        OutputFormat::Canonical
    } else {
        let formatter = catalog::find(&runtime, &format_name, PluginKind::Formatter, extra_plugins)
            .await?
            .into_formatter()?;
        let options = match &args.format_options {
            Some(text) => {
                serde_json::from_str(text).context("--format-options is not valid JSON")?
            }
            None => serde_json::json!({}),
        };
        OutputFormat::Plugin {
            formatter: Box::new(formatter),
            options,
        }
    };

    // The agent.
    let mut prompts = Prompts::default();
    if let Some(path) = &args.system_template {
        prompts.system = read_template(path)?;
    }
    if let Some(path) = &args.instance_template {
        prompts.instance = read_template(path)?;
    }
    prompts.validate().map_err(anyhow::Error::msg)?;
    let command_timeout = Duration::from_secs(args.timeout.unwrap_or(60));
    let agent_config = AgentConfig {
        prompts,
        step_limit: args.max_iterations.unwrap_or(15),
        cost_limit: args.cost_limit.unwrap_or(3.0),
        time_limit: args
            .time_limit
            .filter(|s| *s > 0.0)
            .map(Duration::try_from_secs_f64)
            .transpose()
            .context("--time-limit is not a usable number of seconds")?,
        max_format_errors: args.max_format_errors.unwrap_or(3),
        on_text_reply: if flag(args.require_tool_calls) {
            OnTextReply::FormatError
        } else {
            OnTextReply::Finish
        },
        text_actions: flag(args.text_actions),
        command_timeout,
    };
    let agent = Arc::new(Agent::new(agent_config, model, toolbox));

    let sandboxes = sandbox_provider(&args, api_key, concurrency).await?;

    // The output.
    let (layout, jsonl) = match (&args.output_dir, &format) {
        (Some(dir), OutputFormat::Plugin { formatter, .. }) => (
            Layout::Files {
                dir: dir.clone(),
                extension: formatter.info.file_extension.clone(),
            },
            false,
        ),
        (Some(dir), OutputFormat::Canonical) => (
            Layout::Files {
                dir: dir.clone(),
                extension: ".json".into(),
            },
            false,
        ),
        (None, _) => (
            Layout::Jsonl(
                args.output_file
                    .clone()
                    .unwrap_or_else(|| "trajectories.jsonl".into()),
            ),
            true,
        ),
    };
    let store = TrajectoryStore::open(layout.clone(), flag(args.resume))?;

    let context = Arc::new(RunContext {
        agent,
        sandboxes,
        repos: Arc::new(RepoCache::new(
            args.repo_cache
                .clone()
                .unwrap_or_else(RepoCache::default_dir),
        )),
        scorers,
    });
    let summary = run_batch(
        tasks,
        bad_lines,
        context,
        format,
        store,
        BatchConfig {
            concurrency,
            jsonl,
            group_size: args.group_size.unwrap_or(1).max(1),
            progress_bar: std::io::stderr().is_terminal() && args.task.is_none(),
        },
    )
    .await?;
    print_summary(&summary, &layout);
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `--scorer NAME[:WEIGHT]` entries, loaded, with `--scorer-config`.
pub async fn load_scorers(
    runtime: &PluginRuntime,
    args: &RunArgs,
    extra_plugins: &[PathBuf],
) -> Result<Scorers> {
    scorers_from(
        runtime,
        &args.scorer,
        args.scorer_config.as_deref(),
        extra_plugins,
    )
    .await
}

pub async fn scorers_from(
    runtime: &PluginRuntime,
    specs: &[String],
    config: Option<&str>,
    extra_plugins: &[PathBuf],
) -> Result<Scorers> {
    let config: serde_json::Value = match config {
        Some(text) => serde_json::from_str(text).context("--scorer-config is not valid JSON")?,
        None => serde_json::json!({}),
    };
    if !config.is_object() {
        bail!("--scorer-config must be a JSON object");
    }
    let mut scorers = Vec::new();
    for spec in specs {
        let (name, weight) = match spec.rsplit_once(':') {
            Some((name, weight)) if weight.parse::<f64>().is_ok() => (name, weight.parse::<f64>()?),
            _ => (spec.as_str(), 1.0),
        };
        if !(weight.is_finite() && weight >= 0.0) {
            bail!("--scorer {spec}: the weight must be a non-negative number");
        }
        let plugin = catalog::find(runtime, name, PluginKind::Scorer, extra_plugins)
            .await?
            .into_scorer()?;
        scorers.push(WeightedScorer {
            plugin,
            weight,
            config: config.clone(),
        });
    }
    Ok(Scorers::new(scorers))
}

/// The sandbox backend the flags ask for. API key variables (and
/// `--secret-env` ones) are hidden from commands and their values redacted
/// from what the model sees.
pub(super) async fn sandbox_provider(
    args: &RunArgs,
    api_key: Option<String>,
    concurrency: usize,
) -> Result<Arc<dyn SandboxProvider>> {
    let command_timeout = Duration::from_secs(args.timeout.unwrap_or(60));
    let mut secrets: Vec<String> = plinth::model::API_KEY_VARS
        .iter()
        .map(|s| s.to_string())
        .collect();
    secrets.extend(args.secret_env.iter().cloned());
    let mut secret_values: Vec<String> = secrets
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    secret_values.extend(api_key);
    secret_values.retain(|v| v.len() >= 4);
    Ok(match args.sandbox.as_deref().unwrap_or("local") {
        "local" => Arc::new(LocalProvider {
            cwd: args.cwd.clone(),
            config: LocalConfig {
                default_timeout: command_timeout,
                output: OutputPolicy {
                    max_bytes: args.max_output_bytes.unwrap_or(10_000),
                    secrets: secret_values,
                },
                hidden_env: secrets,
                env: Vec::new(),
            },
        }),
        kind @ ("docker" | "docker-pool") => {
            let output = OutputPolicy {
                max_bytes: args.max_output_bytes.unwrap_or(10_000),
                secrets: secret_values,
            };
            docker_sandboxes(args, kind, output, command_timeout, concurrency).await?
        }
        other => bail!("unknown sandbox `{other}` (available: local, docker, docker-pool)"),
    })
}

/// The Docker backends: one container per task, or slots in a pool.
async fn docker_sandboxes(
    args: &RunArgs,
    kind: &str,
    output: OutputPolicy,
    default_timeout: Duration,
    concurrency: usize,
) -> Result<Arc<dyn SandboxProvider>> {
    let limits = Limits::default();
    let memory_bytes = match &args.memory {
        Some(text) => parse_size(text).map_err(|e| anyhow::anyhow!("--memory {e}"))?,
        None => limits.memory_bytes,
    };
    let cpus = args.cpus.unwrap_or(limits.cpus);
    if cpus.is_nan() || cpus <= 0.0 {
        bail!("--cpus must be above 0");
    }
    let config = DockerConfig {
        image: args.image.clone(),
        workdir: args
            .cwd
            .as_ref()
            .map_or_else(|| "/workspace".into(), |p| p.to_string_lossy().into_owned()),
        network: args.network.clone().filter(|n| n != "none"),
        limits: Limits {
            memory_bytes,
            cpus,
            pids: args.pids_limit.unwrap_or(limits.pids),
        },
        read_only: flag(args.read_only),
        default_timeout,
        output,
        env: Vec::new(),
    };
    let engines = Engines::connect(&args.docker_host).await?;
    if kind == "docker" {
        let provider = DockerProvider::new(engines, config);
        tracing::info!(
            "docker: containers are labelled plinth.run={}",
            provider.run_id()
        );
        return Ok(Arc::new(provider));
    }
    let slots = args.slots_per_container.unwrap_or(4);
    let min = args.min_containers.unwrap_or(1);
    let shape = PoolConfig {
        slots_per_container: slots,
        min_containers: min,
        max_containers: args
            .max_containers
            .unwrap_or_else(|| concurrency.div_ceil(slots.max(1)).max(min).max(1)),
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

fn read_template(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read template {}", path.display()))
}

/// The tasks to run, and how many input lines were bad (each reported with
/// its line number; the others still run).
fn load_tasks(args: &RunArgs) -> Result<(Vec<Task>, usize)> {
    if let Some(task) = &args.task {
        if task.trim().is_empty() {
            bail!("--task is empty");
        }
        return Ok((vec![Task::single(task)], 0));
    }
    let Some(path) = &args.prompts_file else {
        bail!("give a task with --task TEXT or --prompts-file FILE.jsonl");
    };
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut tasks = Vec::new();
    let mut bad = 0;
    for (index, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let parsed = match String::from_utf8(line) {
            Ok(line) => Task::parse_line(index as u64, &line),
            Err(_) => Err(BadLine {
                line: index as u64 + 1,
                reason: "not valid UTF-8".into(),
            }),
        };
        match parsed {
            Ok(Some(task)) => tasks.push(task),
            Ok(None) => {}
            Err(e) => {
                bad += 1;
                tracing::error!("{}: {e}", path.display());
            }
        }
    }
    if tasks.is_empty() && bad == 0 {
        bail!("no tasks in {}", path.display());
    }
    Ok((tasks, bad))
}

fn print_summary(summary: &Summary, layout: &Layout) {
    let where_ = match layout {
        Layout::Jsonl(path) => path.display().to_string(),
        Layout::Files { dir, .. } => dir.display().to_string(),
    };
    let statuses: Vec<String> = summary
        .by_status
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    eprintln!(
        "plinth: {} task(s) run, {} skipped (already done), {} bad input line(s) -> {where_}",
        summary.tasks, summary.skipped, summary.bad_lines
    );
    eprintln!(
        "  exit statuses: {}",
        if statuses.is_empty() {
            "none".into()
        } else {
            statuses.join(", ")
        }
    );
    if let Some(mean) = summary.mean_reward {
        eprintln!("  rewards: {} scored, mean {mean:.3}", summary.scored);
    }
    eprintln!(
        "  api calls: {}, tokens: {} in / {} out, cost: ${:.4}, wall: {:.1}s",
        summary.api_calls,
        summary.usage.prompt_tokens,
        summary.usage.completion_tokens,
        summary.cost,
        summary.wall_secs
    );
    if summary.unsaved > 0 {
        eprintln!(
            "  {} record(s) could not be saved (see the errors above)",
            summary.unsaved
        );
    }
    // The last stdout line: a machine-readable summary.
    println!(
        "{}",
        serde_json::to_string(summary).expect("summary serialises")
    );
}
