//! A run's settings, resolved once. Sources are stacked as [`RunOptions`]
//! layers (flags over a config file over an environment bundle,
//! [`environment`]), then [`RunSettings::resolve`] applies the defaults (`plinth_record::defaults`) and
//! checks every value, so the rest of plinth reads typed, complete settings
//! and never applies a default of its own.

pub mod environment;
mod grants;
mod options;
mod plugin_limits;
mod recorded;
mod sandbox;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

pub use grants::grant;
pub use options::{GrantOptions, PluginLimitOptions, RunOptions, SandboxOptions, ScoringOptions};
pub use plugin_limits::{InvalidLimit, LimitField, plugin_runtime};
pub use recorded::{record_plugins, recorded_scoring};
pub use sandbox::SandboxSettings;

use crate::shard::Shard;
use crate::store::Resume;
use environment::ManifestError;
use plinth_agent::{AgentConfig, CompletionMarker, OnTextReply, Prompts};
use plinth_grade::GradingSettings;
use plinth_grade::scoring::{ScorerSpec, ScoringSettings};
use plinth_model::tokenize::{ChatTokenizer, TokenizerError};
use plinth_model::{
    ModelConfig, PriceError, PriceTable, RESERVED_REQUEST_FIELDS, resolve_endpoint,
};
use plinth_plugin::RuntimeConfig;
use plinth_record::defaults;
use plinth_record::settings::RecordedEnvironment;

/// A setting that cannot be used, named as the user wrote it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config {}: {reason}", .path.display())]
    Config { path: PathBuf, reason: String },
    #[error("{setting}: {reason}")]
    Invalid {
        /// The flag, e.g. `--time-limit`.
        setting: &'static str,
        reason: String,
    },
    #[error("cannot read template {}: {source}", .path.display())]
    Template {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Price(#[from] PriceError),
    #[error(transparent)]
    Environment(#[from] ManifestError),
    #[error("--tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// Where the tasks of a run come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskSource {
    /// `--task TEXT`.
    Single(String),
    /// `--prompts-file FILE.jsonl`.
    File(PathBuf),
}

/// Where records go.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputTarget {
    /// One JSONL file, a record per line.
    Jsonl(PathBuf),
    /// One file per trajectory in a directory.
    Files(PathBuf),
}

/// Which model answers.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// An OpenAI-compatible API (boxed: its config is large beside a path).
    Api(Box<ModelConfig>),
    /// `replay:FILE`: the assistant turns of recorded canonical trajectories.
    Replay(PathBuf),
}

/// The scorers, their options and the grading `options` ask for, checked.
pub fn resolve_scoring(options: &ScoringOptions) -> Result<ScoringSettings, SettingsError> {
    let config = json_object("--scorer-config", options.scorer_config.as_deref())?;
    let grading = GradingSettings::new(
        options.grade_in.unwrap_or(defaults::GRADE_IN),
        options.protect.clone(),
        options.eval_command.clone(),
    )
    .map_err(|e| invalid("--protect", e.to_string()))?
    .with_profile(options.grading);
    let scorers = options
        .scorer
        .iter()
        .map(|spec| {
            parse_scorer(spec).map(|mut parsed| {
                parsed.config = options.scorer_configs.get(&parsed.name).cloned();
                parsed
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ScoringSettings {
        scorers,
        config,
        grading,
    })
}

/// `NAME` or `NAME:WEIGHT` (a path may hold colons: only a numeric tail is a
/// weight).
fn parse_scorer(spec: &str) -> Result<ScorerSpec, SettingsError> {
    let (name, weight) = match spec.rsplit_once(':') {
        Some((name, weight)) => match weight.parse::<f64>() {
            Ok(weight) => (name, weight),
            Err(_) => (spec, 1.0),
        },
        None => (spec, 1.0),
    };
    if !(weight.is_finite() && weight >= 0.0) {
        return Err(invalid(
            "--scorer",
            format!("{spec}: the weight must be a non-negative number"),
        ));
    }
    Ok(ScorerSpec {
        name: name.to_string(),
        weight,
        config: None,
    })
}

/// Everything `plinth run` needs, complete and checked.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub tasks: TaskSource,
    pub output: OutputTarget,
    /// `canonical`, a formatter's name, or a `.wasm` path.
    pub format: String,
    /// A JSON object.
    pub format_options: Value,
    pub model: ModelChoice,
    pub sandbox: SandboxSettings,
    pub agent: AgentConfig,
    /// Offer the built-in terminal tool.
    pub terminal: bool,
    /// Extra tool components.
    pub tools: Vec<PathBuf>,
    pub scoring: ScoringSettings,
    /// What each plugin call may use, sized for the run's concurrency.
    pub plugins: RuntimeConfig,
    /// The environment bundle the settings came from, if any.
    pub environment: Option<RecordedEnvironment>,
    pub group_size: u32,
    /// `--retry-infra`, `--min-valid-rollouts`, `--drop-all-equal`.
    pub retry_infra: u32,
    pub min_valid_rollouts: u32,
    pub drop_all_equal: bool,
    /// `--atropos-url`: the atroposlib API server to post scored groups to.
    pub atropos_url: Option<String>,
    pub concurrency: usize,
    pub resume: Resume,
    /// The share of the tasks this run takes, when the batch is split.
    pub shard: Option<Shard>,
}

impl RunSettings {
    /// Applies the defaults to `options` and checks every value.
    pub fn resolve(options: RunOptions) -> Result<Self, SettingsError> {
        let tasks = match (&options.task, &options.prompts_file) {
            (Some(task), _) if task.trim().is_empty() => return Err(invalid("--task", "empty")),
            (Some(task), _) => TaskSource::Single(task.clone()),
            (None, Some(path)) => TaskSource::File(path.clone()),
            (None, None) => {
                return Err(invalid(
                    "--task",
                    "give a task with --task TEXT or --prompts-file FILE.jsonl",
                ));
            }
        };
        let shard = options
            .shard
            .as_deref()
            .map(Shard::resolve)
            .transpose()
            .map_err(|e| invalid("--shard", e.to_string()))?;
        // A shard writes its own output, named after it, so shards of one
        // batch never share a file and each resumes on its own.
        let sharded = |path: PathBuf| match shard {
            Some(shard) => shard.output_path(&path),
            None => path,
        };
        let output = match (&options.output_dir, &options.output_file) {
            (Some(dir), _) => OutputTarget::Files(sharded(dir.clone())),
            (None, file) => OutputTarget::Jsonl(sharded(
                file.clone()
                    .unwrap_or_else(|| PathBuf::from(defaults::OUTPUT_FILE)),
            )),
        };
        let format_options = json_object("--format-options", options.format_options.as_deref())?;

        let model_name = options
            .model
            .clone()
            .unwrap_or_else(|| defaults::MODEL.to_string());
        let model = match model_name.strip_prefix("replay:") {
            Some(path) => ModelChoice::Replay(PathBuf::from(path)),
            None => {
                let endpoint = resolve_endpoint(
                    options.base_url.as_deref(),
                    options.api_key.as_deref(),
                    |name| std::env::var(name).ok(),
                );
                let mut config = ModelConfig::new(model_name.clone(), endpoint);
                config.temperature = options.temperature;
                config.max_tokens = match options.max_tokens.unwrap_or(defaults::MAX_TOKENS) {
                    0 => None,
                    max_tokens => Some(max_tokens),
                };
                if let Some(secs) = options.request_timeout {
                    config.request_timeout = seconds("--request-timeout", secs)?;
                }
                if let Some(retries) = options.max_retries {
                    config.max_retries = retries;
                }
                if let Some(secs) = options.retry_delay {
                    config.retry_base_delay = seconds("--retry-delay", secs)?;
                }
                if let Some(path) = &options.price_table {
                    config.price = PriceTable::load(path)?.price(&model_name);
                }
                config.capture_tokens = options.capture_tokens.unwrap_or(false);
                config.extra_body = extra_body(options.extra_body.as_deref())?;
                config.native_tool_calls = !options.text_actions.unwrap_or(false);
                ModelChoice::Api(Box::new(config))
            }
        };
        let api_key = match &model {
            ModelChoice::Api(config) => config.api_key.clone(),
            ModelChoice::Replay(_) => None,
        };

        let sandbox = SandboxSettings::resolve(&options.sandbox, api_key)?;
        let mut prompts = Prompts::default();
        if let Some(path) = &options.system_template {
            prompts.system = read_template(path)?;
        }
        if let Some(path) = &options.instance_template {
            prompts.instance = read_template(path)?;
        }
        if let Some(path) = &options.format_error_template {
            prompts.format_error = read_template(path)?;
        }
        if let Some(path) = &options.observation_template {
            prompts.observation = Some(read_template(path)?);
        }
        prompts.validate().map_err(|e| {
            invalid(
                "--system-template/--instance-template/--format-error-template/--observation-template",
                e.to_string(),
            )
        })?;
        let completion_markers = if options.completion_marker.is_empty() {
            CompletionMarker::defaults()
        } else {
            options
                .completion_marker
                .iter()
                .map(|spec| spec.parse().map_err(|e| invalid("--completion-marker", e)))
                .collect::<Result<_, _>>()?
        };
        let time_limit = options.time_limit.unwrap_or(defaults::TIME_LIMIT_SECS);
        let agent = AgentConfig {
            prompts,
            step_limit: options.max_iterations.unwrap_or(defaults::STEP_LIMIT),
            cost_limit: options.cost_limit.unwrap_or(defaults::COST_LIMIT),
            time_limit: if time_limit > 0.0 {
                Some(seconds("--time-limit", time_limit)?)
            } else {
                None
            },
            max_format_errors: options
                .max_format_errors
                .unwrap_or(defaults::MAX_FORMAT_ERRORS),
            on_text_reply: if options.require_tool_calls.unwrap_or(false) {
                OnTextReply::FormatError
            } else {
                OnTextReply::Finish
            },
            text_actions: options.text_actions.unwrap_or(false),
            command_timeout: sandbox.command_timeout,
            completion_markers,
            capture_tokens: options.capture_tokens.unwrap_or(false),
            tokenizer: chat_tokenizer(&options, &model)?,
            shell: sandbox.shell,
        };
        if options.atropos_url.is_some() && !agent.capture_tokens {
            return Err(invalid(
                "--atropos-url",
                "needs --capture-tokens: a trainer learns from the sampled token ids",
            ));
        }
        let atropos_url = options.atropos_url.clone();
        let mut plugins = plugin_runtime(
            &options.plugin_limits,
            options.concurrency.unwrap_or(defaults::CONCURRENCY),
        )?;
        grant(&mut plugins, &options.grants, sandbox.kind)?;
        Ok(Self {
            tasks,
            output,
            format: options
                .format
                .clone()
                .unwrap_or_else(|| defaults::FORMAT.to_string()),
            format_options,
            model,
            sandbox,
            agent,
            terminal: !options.no_terminal.unwrap_or(false),
            tools: options.tool.clone(),
            scoring: resolve_scoring(&options.scoring)?,
            environment: options.bundle.clone(),
            plugins,
            group_size: options.group_size.unwrap_or(defaults::GROUP_SIZE).max(1),
            retry_infra: options.retry_infra.unwrap_or(defaults::RETRY_INFRA),
            min_valid_rollouts: options
                .min_valid_rollouts
                .unwrap_or(defaults::MIN_VALID_ROLLOUTS),
            drop_all_equal: options.drop_all_equal.unwrap_or(false),
            atropos_url,
            concurrency: options.concurrency.unwrap_or(defaults::CONCURRENCY).max(1),
            resume: match (
                options.resume.unwrap_or(false),
                options
                    .resume_keep_errors
                    .unwrap_or(defaults::RESUME_KEEP_ERRORS),
            ) {
                (false, _) => Resume::Fresh,
                (true, true) => Resume::KeepErrors,
                (true, false) => Resume::RetryErrors,
            },
            shard,
        })
    }
}

/// `--tokenizer` (with `--chat-template`), loaded and tried once.
fn chat_tokenizer(
    options: &RunOptions,
    model: &ModelChoice,
) -> Result<Option<std::sync::Arc<ChatTokenizer>>, SettingsError> {
    let Some(path) = &options.tokenizer else {
        return match options.chat_template {
            Some(_) => Err(invalid("--chat-template", "needs --tokenizer")),
            None => Ok(None),
        };
    };
    if !options.capture_tokens.unwrap_or(false) {
        return Err(invalid(
            "--tokenizer",
            "needs --capture-tokens: it computes the ids of captured calls",
        ));
    }
    // What the server's template gets with every request.
    let kwargs = match model {
        ModelChoice::Api(config) => config.extra_body.get("chat_template_kwargs"),
        ModelChoice::Replay(_) => None,
    };
    let kwargs = match kwargs {
        None => Map::new(),
        Some(Value::Object(kwargs)) => kwargs.clone(),
        Some(_) => {
            return Err(invalid(
                "--extra-body",
                "`chat_template_kwargs` must be a JSON object",
            ));
        }
    };
    let tokenizer = ChatTokenizer::load(path, options.chat_template.as_deref())?
        .with_template_kwargs(&kwargs)?;
    Ok(Some(std::sync::Arc::new(tokenizer)))
}

/// `text` as a JSON object (an empty one when not given), or an error
/// naming `setting`.
pub fn json_object(setting: &'static str, text: Option<&str>) -> Result<Value, SettingsError> {
    let Some(text) = text else {
        return Ok(Value::Object(Map::new()));
    };
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(invalid(setting, "must be a JSON object")),
        Err(e) => Err(invalid(setting, format!("not valid JSON: {e}"))),
    }
}

/// `--extra-body`: a JSON object that leaves the fields plinth sets alone.
fn extra_body(text: Option<&str>) -> Result<Map<String, Value>, SettingsError> {
    let Value::Object(body) = json_object("--extra-body", text)? else {
        return Err(invalid("--extra-body", "must be a JSON object"));
    };
    match RESERVED_REQUEST_FIELDS
        .iter()
        .find(|k| body.contains_key(**k))
    {
        Some(key) => Err(invalid(
            "--extra-body",
            format!("may not set `{key}`: plinth sets it for every request"),
        )),
        None => Ok(body),
    }
}

fn seconds(setting: &'static str, secs: f64) -> Result<Duration, SettingsError> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| invalid(setting, format!("{secs} is not a usable number of seconds")))
}

fn read_template(path: &Path) -> Result<String, SettingsError> {
    std::fs::read_to_string(path).map_err(|source| SettingsError::Template {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends ` [default: X]` to the help of every argument of `command` that
/// has a default in [`defaults::help`], so `--help` shows the values the
/// code uses.
pub fn document_defaults(mut command: clap::Command) -> clap::Command {
    for (id, value) in help() {
        // A flag that states its own default (`plinth rescore --output-file`
        // writes to stdout, not `plinth run`'s file) keeps it.
        let states_its_own = |arg: &clap::Arg| {
            arg.get_long_help()
                .or(arg.get_help())
                .is_some_and(|help| help.to_string().contains("[default:"))
        };
        if command
            .get_arguments()
            .any(|arg| arg.get_id() == id && !states_its_own(arg))
        {
            command = command.mut_arg(id, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                let long = arg.get_long_help().map(ToString::to_string);
                let arg = arg.help(format!("{help} [default: {value}]"));
                match long {
                    Some(long) => arg.long_help(format!("{long} [default: {value}]")),
                    None => arg,
                }
            });
        }
    }
    command
}

/// The defaults `--help` shows, by argument id (the field name in
/// [`RunOptions`] and its flattened parts). Settings whose default is
/// computed (an environment variable, a temp dir) say so in their own help.
fn help() -> Vec<(&'static str, String)> {
    vec![
        ("model", defaults::MODEL.into()),
        ("format", defaults::FORMAT.into()),
        ("output_file", defaults::OUTPUT_FILE.into()),
        ("sandbox", defaults::SANDBOX.into()),
        ("max_iterations", defaults::STEP_LIMIT.to_string()),
        ("cost_limit", defaults::COST_LIMIT.to_string()),
        ("time_limit", defaults::TIME_LIMIT_SECS.to_string()),
        ("max_format_errors", defaults::MAX_FORMAT_ERRORS.to_string()),
        (
            "completion_marker",
            CompletionMarker::defaults()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("max_tokens", defaults::MAX_TOKENS.to_string()),
        (
            "request_timeout",
            defaults::REQUEST_TIMEOUT.as_secs().to_string(),
        ),
        ("max_retries", defaults::MAX_RETRIES.to_string()),
        (
            "retry_delay",
            defaults::RETRY_DELAY.as_secs_f64().to_string(),
        ),
        ("timeout", defaults::COMMAND_TIMEOUT.as_secs().to_string()),
        ("shell", defaults::SHELL.as_str().into()),
        ("max_output_bytes", defaults::MAX_OUTPUT_BYTES.to_string()),
        ("memory", defaults::CONTAINER_MEMORY.into()),
        ("cpus", defaults::CONTAINER_CPUS.to_string()),
        ("pids_limit", defaults::CONTAINER_PIDS.to_string()),
        (
            "slots_per_container",
            defaults::SLOTS_PER_CONTAINER.to_string(),
        ),
        ("min_containers", defaults::MIN_CONTAINERS.to_string()),
        ("slot_timeout", defaults::SLOT_TIMEOUT.as_secs().to_string()),
        (
            "pool_idle_timeout",
            defaults::POOL_IDLE_TIMEOUT.as_secs().to_string(),
        ),
        ("grade_in", defaults::GRADE_IN.as_str().into()),
        ("plugin_memory", defaults::PLUGIN_MEMORY.into()),
        ("plugin_cpu", defaults::PLUGIN_CPU.as_secs().to_string()),
        (
            "plugin_timeout",
            defaults::PLUGIN_TIMEOUT.as_secs().to_string(),
        ),
        (
            "plugin_output_bytes",
            defaults::PLUGIN_OUTPUT_BYTES.to_string(),
        ),
        ("group_size", defaults::GROUP_SIZE.to_string()),
        ("retry_infra", defaults::RETRY_INFRA.to_string()),
        (
            "min_valid_rollouts",
            defaults::MIN_VALID_ROLLOUTS.to_string(),
        ),
        ("concurrency", defaults::CONCURRENCY.to_string()),
        (
            "resume_keep_errors",
            defaults::RESUME_KEEP_ERRORS.to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use clap::Args;

    use super::*;
    use plinth_plugin::PluginLimits;
    use plinth_record::grading::GradeIn;
    use plinth_record::settings::{RecordedSettings, SandboxKind};

    fn resolve(flags: &[&str]) -> Result<RunSettings, SettingsError> {
        RunSettings::resolve(RunOptions::parse_flags(flags).unwrap())
    }

    #[test]
    fn plugin_limits_and_grading_resolve_or_name_their_flag() {
        let settings = resolve(&["--task", "t", "--concurrency", "40"]).unwrap();
        assert_eq!(settings.plugins.limits, PluginLimits::default());
        assert_eq!(settings.plugins.max_instances, 80);
        assert_eq!(settings.scoring.grading.grade_in, GradeIn::Clean);
        let settings = resolve(&[
            "--task",
            "t",
            "--plugin-memory",
            "64m",
            "--plugin-cpu",
            "2.5",
            "--plugin-timeout",
            "60",
            "--plugin-output-bytes",
            "100",
            "--grade-in",
            "live",
        ])
        .unwrap();
        assert_eq!(
            settings.plugins.limits,
            PluginLimits {
                memory_bytes: 64 << 20,
                cpu_budget: Duration::from_millis(2500),
                call_timeout: Duration::from_secs(60),
                output_bytes: 100,
            }
        );
        assert_eq!(settings.scoring.grading.grade_in, GradeIn::Live);
        for (flag, value) in [
            ("--plugin-memory", "lots"),
            ("--plugin-memory", "10k"),
            ("--plugin-cpu", "0"),
            ("--plugin-timeout", "0.0"),
            ("--protect", "a["),
        ] {
            let err = resolve(&["--task", "t", flag, value]).unwrap_err();
            assert!(err.to_string().contains(flag), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn defaults_apply_once() {
        let settings = resolve(&["--task", "t", "--model", "m"]).unwrap();
        assert_eq!(settings.agent.step_limit, defaults::STEP_LIMIT);
        assert_eq!(settings.agent.cost_limit, defaults::COST_LIMIT);
        assert_eq!(settings.agent.time_limit, None);
        assert_eq!(settings.sandbox.command_timeout, defaults::COMMAND_TIMEOUT);
        assert_eq!(settings.agent.command_timeout, defaults::COMMAND_TIMEOUT);
        assert_eq!(
            settings.sandbox.max_output_bytes,
            defaults::MAX_OUTPUT_BYTES
        );
        assert_eq!(
            settings.output,
            OutputTarget::Jsonl(PathBuf::from(defaults::OUTPUT_FILE))
        );
        assert_eq!(settings.format, defaults::FORMAT);
        assert_eq!(settings.sandbox.kind, SandboxKind::Local);
        let ModelChoice::Api(model) = settings.model else {
            panic!("an API model")
        };
        assert_eq!(model.request_timeout, defaults::REQUEST_TIMEOUT);
        assert_eq!(model.max_retries, defaults::MAX_RETRIES);
        assert_eq!(model.max_tokens, Some(defaults::MAX_TOKENS));
    }

    #[test]
    fn max_tokens_is_sent_recorded_and_0_sends_none() {
        let model = |flags: &[&str]| match resolve(flags).unwrap().model {
            ModelChoice::Api(config) => config,
            ModelChoice::Replay(_) => panic!("an API model"),
        };
        let recorded = |flags: &[&str]| RecordedSettings::from(&resolve(flags).unwrap()).model;
        assert_eq!(
            model(&["--task", "t", "--max-tokens", "256"]).max_tokens,
            Some(256)
        );
        assert_eq!(
            recorded(&["--task", "t", "--max-tokens", "256"]).max_tokens,
            Some(256)
        );
        assert_eq!(
            recorded(&["--task", "t"]).max_tokens,
            Some(defaults::MAX_TOKENS)
        );
        assert_eq!(
            model(&["--task", "t", "--max-tokens", "0"]).max_tokens,
            None
        );
        assert_eq!(
            recorded(&["--task", "t", "--max-tokens", "0"]).max_tokens,
            None
        );
        // The extra body's own bound wins, and the record says which was sent.
        let flags = [
            "--task",
            "t",
            "--extra-body",
            r#"{"max_completion_tokens": 99}"#,
        ];
        let settings = recorded(&flags);
        assert_eq!(settings.max_tokens, None);
        assert_eq!(settings.extra_body.unwrap()["max_completion_tokens"], 99);
    }

    #[test]
    fn bad_values_name_their_flag() {
        let error = |flags: &[&str]| resolve(flags).unwrap_err().to_string();
        assert!(error(&["--task", " "]).starts_with("--task"));
        assert!(error(&["--task", "t", "--format-options", "[1]"]).starts_with("--format-options"));
        assert!(error(&["--task", "t", "--scorer-config", "{"]).starts_with("--scorer-config"));
        assert!(error(&["--task", "t", "--scorer", "pytest:-1"]).starts_with("--scorer"));
        assert!(error(&["--task", "t", "--time-limit", "inf"]).starts_with("--time-limit"));
        assert!(error(&["--task", "t", "--sandbox", "vm"]).starts_with("--sandbox"));
        assert!(error(&["--task", "t", "--memory", "lots"]).starts_with("--memory"));
        assert!(error(&["--task", "t", "--cpus", "0"]).starts_with("--cpus"));
    }

    #[test]
    fn a_tokenizer_is_loaded_once_recorded_and_needs_capture() {
        let toy = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/golden/tokenizer/toy/tokenizer.json");
        let toy = toy.to_str().unwrap();
        let settings = resolve(&["--task", "t", "--capture-tokens", "--tokenizer", toy]).unwrap();
        let loaded = settings.agent.tokenizer.as_ref().expect("a tokenizer");
        assert_eq!(loaded.origin().path, Path::new(toy));
        let recorded = RecordedSettings::from(&settings).model.tokenizer.unwrap();
        assert_eq!(recorded.path, toy);
        assert_eq!(recorded.sha256.len(), 64);
        assert!(
            recorded.chat_template.contains("tokenizer_config.json"),
            "{recorded:?}"
        );
        let without = resolve(&["--task", "t", "--capture-tokens"]).unwrap();
        assert!(without.agent.tokenizer.is_none());
        assert_eq!(RecordedSettings::from(&without).model.tokenizer, None);

        let error = |flags: &[&str]| resolve(flags).unwrap_err().to_string();
        assert!(error(&["--task", "t", "--tokenizer", toy]).contains("needs --capture-tokens"));
        assert!(
            error(&[
                "--task",
                "t",
                "--capture-tokens",
                "--chat-template",
                "c.jinja"
            ])
            .starts_with("--chat-template")
        );
        let missing = error(&[
            "--task",
            "t",
            "--capture-tokens",
            "--tokenizer",
            "/no/tok.json",
        ]);
        assert!(
            missing.starts_with("--tokenizer") && missing.contains("/no/tok.json"),
            "{missing}"
        );
    }

    #[test]
    fn scorer_weights_and_replay_models() {
        let settings = resolve(&[
            "--task",
            "t",
            "--scorer",
            "pytest:2.5",
            "--scorer",
            "./my:scorer.wasm",
            "--model",
            "replay:r.jsonl",
        ])
        .unwrap();
        assert_eq!(
            settings.scoring.scorers,
            [
                ScorerSpec {
                    name: "pytest".into(),
                    weight: 2.5,
                    config: None,
                },
                ScorerSpec {
                    name: "./my:scorer.wasm".into(),
                    weight: 1.0,
                    config: None,
                },
            ]
        );
        assert!(
            matches!(settings.model, ModelChoice::Replay(path) if path == Path::new("r.jsonl"))
        );
    }

    #[test]
    fn help_shows_every_documented_default() {
        let command = document_defaults(RunOptions::augment_args(clap::Command::new("run")));
        for (id, value) in help() {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap_or_else(|| panic!("no argument `{id}`"));
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.ends_with(&format!("[default: {value}]")),
                "{id}: {help}"
            );
        }
    }
}
