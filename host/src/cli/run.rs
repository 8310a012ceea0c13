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
use plinth::batch::{BatchConfig, OutputFormat, Summary, run_batch};
use plinth::catalog;
use plinth::model::{ChatModel, ModelClient, ModelConfig, PriceTable, resolve_endpoint};
use plinth::plugin::{PluginKind, PluginRuntime, RuntimeConfig};
use plinth::sandbox::{LocalConfig, LocalProvider, OutputPolicy, SandboxProvider};
use plinth::store::{Layout, TrajectoryStore};
use plinth::task::Task;

/// Every setting is optional here so a config file can fill what the
/// command line leaves out; defaults are applied after merging.
#[derive(Args, Serialize, Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// A TOML file with any of these settings (underscored names); flags win.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,

    /// One task to run.
    #[arg(long, conflicts_with = "prompts_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<String>,
    /// JSONL tasks: rows with `prompt` or `task` (optional `id`, `cwd`, any
    /// fields for templates); a raw non-JSON line is a prompt.
    #[arg(long, alias = "prompts_file", alias = "prompts")]
    #[serde(skip_serializing_if = "Option::is_none")]
    prompts_file: Option<PathBuf>,
    /// Where records go (JSONL) [default: trajectories.jsonl].
    #[arg(long, alias = "output_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    output_file: Option<PathBuf>,
    /// Write one file per trajectory here instead (e.g. mswea `.traj.json`).
    #[arg(long, alias = "output_dir", conflicts_with = "output_file")]
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dir: Option<PathBuf>,
    /// hermes, mswea, openai, canonical, or a formatter .wasm [default: hermes].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    /// Formatter options (JSON object), e.g. '{"variant": "batch_runner"}'.
    #[arg(long, alias = "format_options")]
    #[serde(skip_serializing_if = "Option::is_none")]
    format_options: Option<String>,

    /// Model name [default: claude-sonnet-4-20250514].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    /// OpenAI-compatible base URL [default: $OPENAI_BASE_URL, else OpenRouter].
    #[arg(long, alias = "base_url")]
    #[serde(skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    /// API key [default: $OPENROUTER_API_KEY, $ANTHROPIC_API_KEY, $OPENAI_API_KEY].
    #[arg(long, alias = "api_key")]
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    /// Sampling temperature (omitted from requests when unset).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    /// Seconds one model request may take [default: 300].
    #[arg(long, alias = "request_timeout")]
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout: Option<f64>,
    /// Retries of a failed model request [default: 5].
    #[arg(long, alias = "max_retries")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_retries: Option<u32>,
    /// Prices per million input/output tokens by model (TOML or JSON).
    #[arg(long, alias = "price_table")]
    #[serde(skip_serializing_if = "Option::is_none")]
    price_table: Option<PathBuf>,

    /// Where commands run: `local` runs `bash -c` on this machine in a
    /// per-task directory. It is NOT isolation: the agent can touch anything
    /// plinth can. [default: local]
    #[arg(long, alias = "env")]
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<String>,
    /// Working directory for commands (shared by all tasks) [default: a fresh
    /// temp dir per task].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<PathBuf>,
    /// Most model calls per task (0: no limit) [default: 15].
    #[arg(long, alias = "max_iterations", alias = "step-limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_iterations: Option<u32>,
    /// Most dollars per task (0: no limit; needs --price-table) [default: 3].
    #[arg(long, alias = "cost_limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_limit: Option<f64>,
    /// Wall-clock seconds per task (0: no limit) [default: 0].
    #[arg(long, alias = "time_limit")]
    #[serde(skip_serializing_if = "Option::is_none")]
    time_limit: Option<f64>,
    /// Default command timeout in seconds [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
    /// Most bytes of command output the model sees (head and tail kept) [default: 10000].
    #[arg(long, alias = "max_output_bytes")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_bytes: Option<usize>,
    /// Environment variable whose value is redacted from tool output and
    /// hidden from commands (repeatable; API key variables always are).
    #[arg(long = "secret-env", alias = "secret_env")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    secret_env: Vec<String>,

    /// Add a tool component (repeatable); the built-in terminal is always on
    /// unless --no-terminal.
    #[arg(long = "tool")]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tool: Vec<PathBuf>,
    /// Do not offer the built-in terminal tool.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "no_terminal")]
    #[serde(skip_serializing_if = "Option::is_none")]
    no_terminal: Option<bool>,
    /// A reply without tool calls is a format error the model is told about
    /// (mini-swe-agent) instead of the final answer (Hermes).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "require_tool_calls")]
    #[serde(skip_serializing_if = "Option::is_none")]
    require_tool_calls: Option<bool>,
    /// Parse ```bash blocks and <tool_call> tags from plain replies, for
    /// models served without tool-call parsing.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "text_actions")]
    #[serde(skip_serializing_if = "Option::is_none")]
    text_actions: Option<bool>,
    /// Consecutive format errors that end a task [default: 3].
    #[arg(long, alias = "max_format_errors")]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_format_errors: Option<u32>,
    /// System prompt template file (minijinja).
    #[arg(long, alias = "system_template")]
    #[serde(skip_serializing_if = "Option::is_none")]
    system_template: Option<PathBuf>,
    /// First user message template file (minijinja; `{{ task }}` is the prompt).
    #[arg(long, alias = "instance_template")]
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_template: Option<PathBuf>,

    /// Trajectories in flight at once [default: 1].
    #[arg(long, alias = "workers")]
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrency: Option<usize>,
    /// Skip tasks a previous run of the same output already finished.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    resume: Option<bool>,
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
        model_config.request_timeout = Duration::from_secs_f64(secs);
    }
    if let Some(n) = args.max_retries {
        model_config.max_retries = n;
    }
    if let Some(path) = &args.price_table {
        let table = PriceTable::load(path)?;
        model_config.price = table.price(&model_name);
    }
    if model_config.price.is_none() {
        tracing::warn!("no price known for model `{model_name}`: its cost counts as 0");
    }
    let model: Arc<dyn ChatModel> = Arc::new(ModelClient::new(model_config)?);

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
            .map(Duration::from_secs_f64),
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

    // The sandbox.
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
    let sandboxes: Arc<dyn SandboxProvider> = match args.sandbox.as_deref().unwrap_or("local") {
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
        other => bail!("unknown sandbox `{other}` (available: local)"),
    };

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

    let summary = run_batch(
        tasks,
        bad_lines,
        agent,
        sandboxes,
        format,
        store,
        BatchConfig {
            concurrency,
            jsonl,
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
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        match Task::parse_line(index as u64, &line) {
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
