//! Settings as one source gives them: the command line, a config file (and,
//! later, an environment bundle). Every field is optional so layers can be
//! stacked with [`RunOptions::over`]; defaults are applied once, when the
//! stack is resolved into [`super::RunSettings`].
//!
//! The same types are the clap arguments and the config file's schema, so a
//! setting has one name in both (`--max-iterations` / `max_iterations`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::SettingsError;
use super::environment::Bundle;
use plinth_record::grading::{GradeIn, GradingProfile};
use plinth_record::settings::RecordedEnvironment;

/// Where commands run, shared by `plinth run` and `plinth rescore`.
#[derive(Args, Deserialize, Default, Debug, Clone, PartialEq)]
#[command(next_help_heading = "Sandbox")]
pub struct SandboxOptions {
    /// Where commands run: `local` runs `bash -c` on this machine in a
    /// per-task directory.
    ///
    /// It is NOT isolation: the agent can touch anything
    /// plinth can. `docker`: a hardened container per task. `docker-pool`:
    /// slots in shared containers (see --slots-per-container).
    #[arg(long, alias = "env")]
    pub sandbox: Option<String>,
    /// Working directory for commands (shared by all tasks) [default: a fresh
    /// temp dir per task; in containers /workspace, where pool slots live].
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Container image (docker, docker-pool); a row's `image` wins.
    #[arg(long)]
    pub image: Option<String>,
    /// Docker network for containers [default: none: no network at all].
    #[arg(long)]
    pub network: Option<String>,
    /// Docker engine, unix:///path/docker.sock or tcp://host:port
    /// (repeatable: containers are spread over them) [default: $DOCKER_HOST,
    /// else the local socket].
    #[arg(long = "docker-host", alias = "docker_host")]
    #[serde(default)]
    pub docker_host: Vec<String>,
    /// Workspaces per pool container (docker-pool).
    #[arg(long, alias = "slots_per_container")]
    pub slots_per_container: Option<usize>,
    /// Pool containers started before the first task and kept running
    /// (docker-pool).
    #[arg(long, alias = "min_containers")]
    pub min_containers: Option<usize>,
    /// Most pool containers (docker-pool) [default: enough slots for
    /// --concurrency].
    #[arg(long, alias = "max_containers")]
    pub max_containers: Option<usize>,
    /// Seconds a trajectory waits for a free pool slot (docker-pool) before
    /// its sandbox fails as an infrastructure error.
    #[arg(long, alias = "slot_timeout")]
    pub slot_timeout: Option<f64>,
    /// Seconds a pool container may have every slot free before it is
    /// removed, down to --min-containers (0: the pool never shrinks).
    #[arg(long, alias = "pool_idle_timeout")]
    pub pool_idle_timeout: Option<f64>,
    /// Seconds after which a pool container takes no new trajectories and
    /// is replaced once its slots are free [default: no limit].
    #[arg(long, alias = "pool_max_age")]
    pub pool_max_age: Option<f64>,
    /// Trajectories a pool container serves before it is replaced
    /// [default: no limit].
    #[arg(long, alias = "pool_max_uses")]
    pub pool_max_uses: Option<u64>,
    /// Most containers created per second on each engine, shared by every
    /// plinth on this machine that uses it [default: no limit].
    #[arg(long, alias = "create_rate")]
    pub create_rate: Option<f64>,
    /// Memory per container, e.g. 512m or 4g (no swap on top).
    #[arg(long)]
    pub memory: Option<String>,
    /// CPUs per container, e.g. 0.5 or 2.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Most processes per container.
    #[arg(long, alias = "pids_limit")]
    pub pids_limit: Option<i64>,
    /// Read-only root filesystem in containers (the workspace and /tmp stay
    /// writable).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "read_only")]
    pub read_only: Option<bool>,
    /// Default command timeout in seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// How the agent's commands run: `persistent` (one bash per trajectory:
    /// `cd`, exported variables and functions carry over, builtins start no
    /// process; a timeout restarts it) or `fresh` (a new `bash -c` per
    /// command). Setup, evaluation and scorer commands always run fresh.
    #[arg(long, value_enum)]
    pub shell: Option<plinth_record::settings::Shell>,
    /// Most bytes of command output the model sees (head and tail kept).
    #[arg(long, alias = "max_output_bytes")]
    pub max_output_bytes: Option<usize>,
    /// Environment variable whose value is redacted from tool output and
    /// hidden from commands (repeatable; API key variables always are).
    #[arg(long = "secret-env", alias = "secret_env")]
    #[serde(default)]
    pub secret_env: Vec<String>,
    /// Where bare clones of task repositories are cached [default:
    /// $PLINTH_CACHE_DIR/repos].
    #[arg(long, alias = "repo_cache")]
    pub repo_cache: Option<PathBuf>,
    /// A command run in every task's workspace (or sandbox) before the
    /// row's own `setup` (repeatable).
    #[arg(long = "setup")]
    #[serde(default)]
    pub setup: Vec<String>,
}

/// Which scorers grade a run, shared by `plinth run` and `plinth rescore`.
#[derive(Args, Deserialize, Default, Debug, Clone, PartialEq)]
#[command(next_help_heading = "Tools and scorers")]
pub struct ScoringOptions {
    /// Score each trajectory in its live sandbox with this scorer component:
    /// a name (`pytest`) or a .wasm file, with an optional weight as
    /// `NAME:WEIGHT` (repeatable; rewards are combined by weight).
    #[arg(long = "scorer")]
    #[serde(default)]
    pub scorer: Vec<String>,
    /// Scorer options (JSON object), given to every scorer; a task row's
    /// `scorer_config` object is merged over it.
    #[arg(long, alias = "scorer_config")]
    pub scorer_config: Option<String>,
    /// Where the scorers grade: `clean` (a fresh workspace at the base
    /// commit with the agent's patch minus the files that decide the grade,
    /// then the task's test_patch) or `live` (the sandbox the agent left;
    /// faster, and the agent can game it).
    #[arg(long, alias = "grade_in", value_enum)]
    pub grade_in: Option<GradeIn>,
    /// Whose rules grade: `strict` (plinth's: the patch applies without the
    /// files that decide the grade) or `swebench` (SWE-bench's harness byte
    /// for byte: the whole patch, applied as the harness applies it, what
    /// strict would drop flagged in the record).
    ///
    /// Unset: `swebench` for SWE-bench rows graded with `--scorer swebench`,
    /// `strict` for everything else.
    #[arg(long, value_enum)]
    pub grading: Option<GradingProfile>,
    /// Also keep the agent's changes to paths matching this glob out of
    /// clean grading (repeatable; `*` stays within a directory, `**` does not).
    #[arg(long = "protect")]
    #[serde(default)]
    pub protect: Vec<String>,
    /// A command run in the graded workspace after the test_patch, before the
    /// scorers (repeatable; a task row's `eval_commands` run after these).
    #[arg(long = "eval-command", alias = "eval_command")]
    #[serde(default)]
    pub eval_command: Vec<String>,
    /// Each scorer's own options, by the name or path it is given as, under
    /// `--scorer-config` (an environment bundle's `[[scorers]]` set them).
    #[arg(skip)]
    #[serde(skip)]
    pub scorer_configs: BTreeMap<String, serde_json::Value>,
}

/// What one plugin call may use, for every command that runs plugins.
#[derive(Args, Deserialize, Default, Debug, Clone, PartialEq)]
#[command(next_help_heading = "Tools and scorers")]
pub struct PluginLimitOptions {
    /// Linear memory one plugin instance may grow to (`256m`, `1g`).
    #[arg(long, alias = "plugin_memory")]
    pub plugin_memory: Option<String>,
    /// CPU seconds a plugin may spend in one call (time in its sandbox
    /// commands not counted).
    #[arg(long, alias = "plugin_cpu")]
    pub plugin_cpu: Option<f64>,
    /// Wall-clock seconds one plugin call may take, sandbox commands included.
    #[arg(long, alias = "plugin_timeout")]
    pub plugin_timeout: Option<f64>,
    /// Bytes of a plugin's stdout and of its stderr kept per call (for the
    /// log); the rest is dropped.
    #[arg(long, alias = "plugin_output_bytes")]
    pub plugin_output_bytes: Option<usize>,
    /// Limits particular plugins were given, by the name or path they are
    /// selected with (an environment bundle's per-plugin `limits`).
    #[arg(skip)]
    #[serde(skip)]
    pub per_plugin: BTreeMap<String, PluginLimitOptions>,
}

/// What tool and scorer plugins may do with the sandbox session they are
/// lent: nothing unless granted (the built-ins may do everything).
#[derive(Args, Deserialize, Default, Debug, Clone, PartialEq)]
#[command(next_help_heading = "Tools and scorers")]
pub struct GrantOptions {
    /// Let a plugin use its sandbox session: `PLUGIN=CAP,CAP`, PLUGIN as
    /// given to --tool/--scorer, CAP one of exec, read, write, read:PREFIX,
    /// write:PREFIX (paths under the workspace).
    ///
    /// Repeatable; for a plugin an
    /// environment bundle grants, this replaces the bundle's grant.
    #[arg(long = "grant")]
    #[serde(default)]
    pub grant: Vec<String>,
    /// Let plugins that are not built in run commands on the `local`
    /// backend, where a command runs as you on this machine (not isolation).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", alias = "allow_local_exec")]
    pub allow_local_exec: Option<bool>,
    /// The grants an environment bundle gives its plugins, by the path or
    /// name it selects them with.
    #[arg(skip)]
    #[serde(skip)]
    pub bundle_grants: BTreeMap<String, Vec<String>>,
}

/// Every setting of `plinth run`. Flags follow Hermes' mini_swe_runner (its
/// underscore spellings are accepted too).
#[derive(Args, Deserialize, Default, Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// A TOML file with any of these settings (underscored names); flags win.
    #[arg(help_heading = "Task input", long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// An environment bundle: a directory with a `plinth-env.toml` manifest
    /// (tools, scorers, templates, sandbox, limits, tasks).
    ///
    /// Flags and the
    /// config file override it.
    #[arg(help_heading = "Task input", long)]
    pub environment: Option<PathBuf>,
    /// The bundle whose settings are the lowest layer, once read (set by
    /// [`crate::environment::Bundle::options`]).
    #[arg(skip)]
    #[serde(skip)]
    pub bundle: Option<RecordedEnvironment>,

    /// One task to run.
    #[arg(help_heading = "Task input", long, conflicts_with = "prompts_file")]
    pub task: Option<String>,
    /// JSONL tasks: rows with `prompt` or `task` (optional `id`, `cwd`, any
    /// fields for templates); a raw non-JSON line is a prompt.
    #[arg(
        help_heading = "Task input",
        long,
        alias = "prompts_file",
        alias = "prompts"
    )]
    pub prompts_file: Option<PathBuf>,
    /// Where records go (JSONL).
    #[arg(help_heading = "Output", long, alias = "output_file", alias = "output")]
    pub output_file: Option<PathBuf>,
    /// Write one file per trajectory here instead (e.g. mswea `.traj.json`).
    #[arg(
        help_heading = "Output",
        long,
        alias = "output_dir",
        conflicts_with = "output_file"
    )]
    pub output_dir: Option<PathBuf>,
    /// hermes, mswea, openai, atropos, canonical, or a formatter .wasm.
    #[arg(help_heading = "Output", long)]
    pub format: Option<String>,
    /// Formatter options (JSON object), e.g. '{"variant": "batch_runner"}'.
    #[arg(
        help_heading = "Output",
        long,
        alias = "format_options",
        alias = "options"
    )]
    pub format_options: Option<String>,

    /// Model name, or `replay:FILE` to replay the assistant turns of recorded
    /// canonical trajectories (matched by task id) instead of calling an API.
    #[arg(help_heading = "Model", long)]
    pub model: Option<String>,
    /// OpenAI-compatible base URL [default: $OPENAI_BASE_URL, else OpenRouter].
    #[arg(help_heading = "Model", long, alias = "base_url")]
    pub base_url: Option<String>,
    /// API key [default: $OPENROUTER_API_KEY, $ANTHROPIC_API_KEY, $OPENAI_API_KEY].
    #[arg(help_heading = "Model", long, alias = "api_key")]
    pub api_key: Option<String>,
    /// Sampling temperature (omitted from requests when unset).
    #[arg(help_heading = "Model", long)]
    pub temperature: Option<f64>,
    /// Most tokens one reply may generate, sent as `max_tokens` with every
    /// request (0: none sent, the server's own limit; a `max_tokens` or
    /// `max_completion_tokens` in --extra-body wins).
    #[arg(help_heading = "Model", long, alias = "max_tokens")]
    pub max_tokens: Option<u32>,
    /// Seconds one model request may take.
    #[arg(help_heading = "Model", long, alias = "request_timeout")]
    pub request_timeout: Option<f64>,
    /// Retries of a failed model request.
    #[arg(help_heading = "Model", long, alias = "max_retries")]
    pub max_retries: Option<u32>,
    /// Seconds before the first retry of a failed model request; the wait
    /// doubles (with jitter) per retry, up to a minute.
    #[arg(help_heading = "Model", long, alias = "retry_delay")]
    pub retry_delay: Option<f64>,
    /// Prices per million input/output tokens by model (TOML or JSON).
    #[arg(help_heading = "Model", long, alias = "price_table")]
    pub price_table: Option<PathBuf>,
    /// Record the token ids and logprobs the server sampled for every call
    /// (asks for vLLM's `return_token_ids` and `logprobs`) and assemble them
    /// into training sequences with masks.
    #[arg(help_heading = "RL", long, num_args = 0..=1, default_missing_value = "true", alias = "capture_tokens")]
    pub capture_tokens: Option<bool>,
    /// With --capture-tokens: a Hugging Face tokenizer.json, loaded locally,
    /// that computes the ids of calls the server returned none for from
    /// their text (flagged `recomputed`, without logprobs).
    ///
    /// The chat
    /// template is chat_template.jinja, or else the `chat_template` of
    /// tokenizer_config.json, beside it, unless --chat-template is given;
    /// --extra-body's `chat_template_kwargs` are passed to it.
    #[arg(help_heading = "RL", long)]
    pub tokenizer: Option<PathBuf>,
    /// The chat template (a Jinja file) --tokenizer renders conversations
    /// with, instead of the one beside the tokenizer.
    #[arg(help_heading = "RL", long, alias = "chat_template")]
    pub chat_template: Option<PathBuf>,
    /// Extra fields for every chat request (JSON object), sent as given
    /// (e.g. '{"top_k": 20}'); they win over --capture-tokens' fields.
    #[arg(help_heading = "Model", long, alias = "extra_body")]
    pub extra_body: Option<String>,

    #[command(flatten)]
    #[serde(flatten)]
    pub sandbox: SandboxOptions,

    /// Most model calls per task (0: no limit).
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "max_iterations",
        alias = "step-limit"
    )]
    pub max_iterations: Option<u32>,
    /// Most dollars per task (0: no limit; needs --price-table).
    #[arg(help_heading = "Agent limits and prompts", long, alias = "cost_limit")]
    pub cost_limit: Option<f64>,
    /// Wall-clock seconds per task (0: no limit).
    #[arg(help_heading = "Agent limits and prompts", long, alias = "time_limit")]
    pub time_limit: Option<f64>,

    /// Add a tool component (repeatable); the built-in terminal is always on
    /// unless --no-terminal.
    #[arg(help_heading = "Tools and scorers", long = "tool")]
    #[serde(default)]
    pub tool: Vec<PathBuf>,
    /// Do not offer the built-in terminal tool.
    #[arg(help_heading = "Tools and scorers", long, num_args = 0..=1, default_missing_value = "true", alias = "no_terminal")]
    pub no_terminal: Option<bool>,
    /// A reply without tool calls is a format error the model is told about
    /// (mini-swe-agent) instead of the final answer (Hermes).
    #[arg(help_heading = "Agent limits and prompts", long, num_args = 0..=1, default_missing_value = "true", alias = "require_tool_calls")]
    pub require_tool_calls: Option<bool>,
    /// Parse ```bash blocks and <tool_call> tags from plain replies, for
    /// models served without tool-call parsing.
    #[arg(help_heading = "Agent limits and prompts", long, num_args = 0..=1, default_missing_value = "true", alias = "text_actions")]
    pub text_actions: Option<bool>,
    /// Consecutive format errors that end a task.
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "max_format_errors"
    )]
    pub max_format_errors: Option<u32>,
    /// What a command prints to submit (repeatable; replaces the defaults):
    /// `first-line:TEXT` (the output's first line is TEXT, the rest is the
    /// submission; a bare TEXT means this) or `anywhere:TEXT` (what follows
    /// TEXT is the submission).
    #[arg(
        help_heading = "Agent limits and prompts",
        long = "completion-marker",
        alias = "completion_marker"
    )]
    #[serde(default)]
    pub completion_marker: Vec<String>,
    /// System prompt template file (minijinja).
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "system_template"
    )]
    pub system_template: Option<PathBuf>,
    /// First user message template file (minijinja; `{{ task }}` is the prompt).
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "instance_template"
    )]
    pub instance_template: Option<PathBuf>,
    /// Template file (minijinja) of the message sent back when a reply has
    /// no action (`{{ tools }}` lists the tools).
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "format_error_template"
    )]
    pub format_error_template: Option<PathBuf>,
    /// Template file (minijinja) wrapping every tool result the model sees
    /// (`{{ output }}`, `{{ tool }}`, `{{ step }}`, `{{ returncode }}`,
    /// `{{ timed_out }}`); without it the result is sent as is.
    #[arg(
        help_heading = "Agent limits and prompts",
        long,
        alias = "observation_template"
    )]
    pub observation_template: Option<PathBuf>,

    #[command(flatten)]
    #[serde(flatten)]
    pub scoring: ScoringOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub plugin_limits: PluginLimitOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub grants: GrantOptions,
    /// Rollouts per task, each in its own sandbox; records carry group reward
    /// statistics, and per-group formats (atropos) write one record per group.
    #[arg(help_heading = "RL", long, alias = "group_size")]
    pub group_size: Option<u32>,
    /// Run a rollout that ended in an infrastructure error again, in a fresh
    /// sandbox, up to this many times; one still failing is left out of its
    /// group's statistics (never scored 0).
    #[arg(help_heading = "Batch", long, alias = "retry_infra")]
    pub retry_infra: Option<u32>,
    /// A group with fewer rollouts that did not end in an error is left out
    /// of per-group outputs (atropos records, scored groups); the summary
    /// counts it.
    #[arg(help_heading = "RL", long, alias = "min_valid_rollouts")]
    pub min_valid_rollouts: Option<u32>,
    /// Leave groups whose valid rollouts all got the same reward out of
    /// per-group outputs (no signal for relative-advantage training).
    #[arg(help_heading = "RL", long, num_args = 0..=1, default_missing_value = "true", alias = "drop_all_equal")]
    pub drop_all_equal: Option<bool>,
    /// Be a live Atropos environment: register with the atroposlib API
    /// server at this URL (`run-api`) and post each scored group as it is
    /// written, at the pace the trainer takes them (needs --capture-tokens).
    #[arg(help_heading = "RL", long, alias = "atropos_url")]
    pub atropos_url: Option<String>,

    /// Run one share of the tasks: `I/N` (0 <= I < N; a task's share is
    /// set by its id), or `auto` in a Slurm job array or a Kubernetes
    /// Indexed Job.
    ///
    /// The output's name gets `.shard-I-of-N`; `plinth merge`
    /// joins the shards' outputs.
    #[arg(help_heading = "Batch", long)]
    pub shard: Option<String>,
    /// Trajectories in flight at once.
    #[arg(help_heading = "Batch", long, alias = "workers")]
    pub concurrency: Option<usize>,
    /// Skip tasks a previous run of the same output already finished; those
    /// whose records ended in an error (InfrastructureError, ModelError,
    /// PluginError) run again and their records are replaced.
    #[arg(help_heading = "Batch", long, num_args = 0..=1, default_missing_value = "true")]
    pub resume: Option<bool>,
    /// With --resume, keep the records that ended in an error and skip their
    /// tasks too, instead of running them again.
    #[arg(help_heading = "Batch", long, num_args = 0..=1, default_missing_value = "true", alias = "resume_keep_errors")]
    pub resume_keep_errors: Option<bool>,
}

/// `self` where it says something, else `lower`: a list given in a higher
/// layer replaces the lower one, as any other setting does.
trait Layer: Sized {
    fn or_lower(self, lower: Self) -> Self;
}

impl<T> Layer for Option<T> {
    fn or_lower(self, lower: Self) -> Self {
        self.or(lower)
    }
}

impl<K, V> Layer for BTreeMap<K, V> {
    fn or_lower(self, lower: Self) -> Self {
        if self.is_empty() { lower } else { self }
    }
}

impl<T> Layer for Vec<T> {
    fn or_lower(self, lower: Self) -> Self {
        if self.is_empty() { lower } else { self }
    }
}

/// Stacks two layers of a struct field by field. Listing the fields here
/// (and only here) is checked by the compiler: a field left out is a
/// missing-field error.
macro_rules! layered {
    ($ty:ident, $upper:expr, $lower:expr; $($field:ident),* $(,)?) => {{
        let (upper, lower) = ($upper, $lower);
        $ty { $($field: Layer::or_lower(upper.$field, lower.$field),)* }
    }};
}

impl Layer for SandboxOptions {
    fn or_lower(self, lower: Self) -> Self {
        self.over(lower)
    }
}

impl Layer for ScoringOptions {
    fn or_lower(self, lower: Self) -> Self {
        self.over(lower)
    }
}

impl Layer for PluginLimitOptions {
    /// A limit this layer sets holds for every plugin, over the limits the
    /// lower layer gave a plugin of its own (flags override the manifest).
    fn or_lower(self, mut lower: Self) -> Self {
        let run_wide = self.run_wide();
        for own in lower.per_plugin.values_mut() {
            *own = run_wide.clone().or_lower(std::mem::take(own));
        }
        layered!(PluginLimitOptions, self, lower;
            plugin_memory, plugin_cpu, plugin_timeout, plugin_output_bytes, per_plugin)
    }
}

impl Layer for GrantOptions {
    fn or_lower(self, lower: Self) -> Self {
        layered!(GrantOptions, self, lower; grant, allow_local_exec, bundle_grants)
    }
}

impl SandboxOptions {
    /// These settings over `lower`'s.
    pub fn over(self, lower: Self) -> Self {
        layered!(SandboxOptions, self, lower;
            sandbox, cwd, image, network, docker_host, slots_per_container, min_containers,
            max_containers, slot_timeout, pool_idle_timeout, pool_max_age, pool_max_uses, create_rate,
            memory, cpus, pids_limit, read_only, timeout, shell, max_output_bytes,
            secret_env, repo_cache, setup)
    }
}

impl ScoringOptions {
    /// These settings over `lower`'s.
    pub fn over(self, lower: Self) -> Self {
        layered!(ScoringOptions, self, lower;
            scorer, scorer_config, grade_in, grading, protect, eval_command, scorer_configs)
    }
}

impl RunOptions {
    /// These settings over `lower`'s (flags over a config file).
    pub fn over(self, lower: Self) -> Self {
        layered!(RunOptions, self, lower;
            config, environment, bundle, task, prompts_file, output_file, output_dir, format, format_options, model,
            base_url, api_key, temperature, max_tokens, request_timeout, max_retries, retry_delay, price_table,
            capture_tokens, tokenizer, chat_template, extra_body, sandbox,
            max_iterations, cost_limit, time_limit, tool, no_terminal, require_tool_calls,
            text_actions, max_format_errors, completion_marker, system_template, instance_template,
            format_error_template, observation_template, scoring,
            plugin_limits, grants, group_size, retry_infra, min_valid_rollouts, drop_all_equal, atropos_url,
            shard, concurrency, resume, resume_keep_errors)
    }

    /// The command line over the config file it names, if any, over the
    /// environment bundle either of them names, if any.
    pub fn with_config_file(self) -> Result<Self, SettingsError> {
        let layered = match &self.config {
            None => self,
            Some(path) => {
                let file = Self::from_config_file(path)?;
                self.over(file)
            }
        };
        match &layered.environment {
            None => Ok(layered),
            Some(dir) => {
                let bundle = Bundle::load(dir)?;
                Ok(layered.over(bundle.options()))
            }
        }
    }

    /// A TOML config file: a table of settings named as the flags are, with
    /// underscores. An unknown name is an error that names it, so a typo is
    /// not silently ignored.
    pub(crate) fn from_config_file(path: &Path) -> Result<Self, SettingsError> {
        let config_error = |reason: String| SettingsError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| config_error(format!("cannot read it: {e}")))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| config_error(format!("not valid TOML: {e}")))?;
        let known = setting_names();
        let unknown: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|key| !known.iter().any(|k| k == key) || *key == "config")
            .collect();
        if !unknown.is_empty() {
            return Err(config_error(format!(
                "unknown setting(s) {} (settings are the flags of `plinth run` with underscores, e.g. max_iterations)",
                unknown.join(", ")
            )));
        }
        Self::deserialize(toml::Value::Table(table)).map_err(|e| config_error(e.to_string()))
    }
}

/// Every setting's name: the ids clap gives the flags, which are the field
/// names serde reads from a config file.
fn setting_names() -> Vec<String> {
    let command = RunOptions::augment_args(clap::Command::new("run"));
    command
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect()
}

/// Parses `plinth run`'s flags alone, for tests.
#[cfg(test)]
#[derive(clap::Parser)]
struct RunOptionsParser {
    #[command(flatten)]
    options: RunOptions,
}

#[cfg(test)]
impl RunOptions {
    /// Parses command-line words (without the program name) as `plinth run`
    /// flags.
    pub(crate) fn parse_flags<I, S>(words: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = RunOptionsParser::command();
        let matches = command.try_get_matches_from_mut(
            std::iter::once("run".into()).chain(words.into_iter().map(Into::into)),
        )?;
        Ok(RunOptionsParser::from_arg_matches(&matches)?.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn flags_win_over_the_config_file_and_lists_replace() {
        let (_dir, path) = write_config(
            "max_iterations = 30\nimage = \"py:3\"\nscorer = [\"pytest\"]\ntool = [\"a.wasm\"]\nresume = true\n",
        );
        let flags = RunOptions::parse_flags([
            "--config",
            path.to_str().unwrap(),
            "--max-iterations",
            "7",
            "--tool",
            "b.wasm",
        ])
        .unwrap();
        let merged = flags.with_config_file().unwrap();
        assert_eq!(merged.max_iterations, Some(7));
        assert_eq!(merged.sandbox.image.as_deref(), Some("py:3"));
        assert_eq!(merged.scoring.scorer, ["pytest"]);
        assert_eq!(merged.tool, [PathBuf::from("b.wasm")]);
        assert_eq!(merged.resume, Some(true));
    }

    #[test]
    fn an_unknown_or_mistyped_config_setting_is_named() {
        let (_dir, path) = write_config("max_iteration = 3\n");
        let error = RunOptions::from_config_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("max_iteration") && error.contains("plinth.toml"),
            "{error}"
        );

        let (_dir, path) = write_config("max_iterations = \"many\"\n");
        let error = RunOptions::from_config_file(&path).unwrap_err().to_string();
        assert!(error.contains("plinth.toml"), "{error}");
    }

    #[test]
    fn underscored_spellings_are_aliases() {
        let flags =
            RunOptions::parse_flags(["--max_iterations", "4", "--docker_host", "unix:///x"])
                .unwrap();
        assert_eq!(flags.max_iterations, Some(4));
        assert_eq!(flags.sandbox.docker_host, ["unix:///x"]);
    }
}
