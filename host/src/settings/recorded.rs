//! The settings a run records in every canonical record (`settings`), so a
//! trajectory says what produced it: the model and how it was sampled, the
//! limits, the prompt templates (by hash), the sandbox, the scorers, the
//! tools. Built once per run from the resolved [`RunSettings`] and shared by
//! every record.
//!
//! Nothing secret is recorded: no API key (the key, however it was given, is
//! simply not a field), a base URL without credentials, and scorer options
//! with secret-looking values redacted. To record a new setting, add a field
//! (with a default, so older records still read: the struct is
//! `#[serde(default)]`) and fill it in [`RecordedSettings::of`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ModelChoice, RunSettings, SandboxKind, ScoringSettings};
use crate::agent::{OnTextReply, Prompts};
use crate::digest::sha256_hex;
use crate::environment::RecordedEnvironment;
use crate::grading::GradeIn;
use crate::plugin::{PluginLimits, PluginMeta, RuntimeConfig};
use crate::sandbox::Shell;

/// What replaces a secret.
const REDACTED: &str = "<redacted>";

/// A run's settings as each of its records carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedSettings {
    pub plinth_version: String,
    pub model: RecordedModel,
    pub limits: RecordedLimits,
    pub agent: RecordedAgent,
    /// SHA-256 (hex) of each prompt template's text in use.
    pub templates: TemplateHashes,
    pub sandbox: RecordedSandbox,
    pub scoring: RecordedScoring,
    pub plugin_limits: RecordedPluginLimits,
    /// What plugins that are not built in were granted of their sandbox
    /// session (`exec`, `read`, `write:PREFIX`), by the path or name given.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub grants: BTreeMap<String, Vec<String>>,
    /// The environment bundle the run's settings came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<RecordedEnvironment>,
    /// sha256 of every plugin component the run loaded, by its source
    /// (`builtin:NAME` or the file's path): the exact bytes a result came from.
    pub plugins: BTreeMap<String, String>,
    /// Tool plugins offered: `terminal` (the built-in) and `--tool` as given.
    pub tools: Vec<String>,
    pub group_size: u32,
    /// What became of failed rollouts and groups without signal: see
    /// `--retry-infra`, `--min-valid-rollouts`, `--drop-all-equal`.
    pub groups: RecordedGroups,
    /// The scorers of the latest `plinth rescore`, which gave the record its
    /// `score`; `scoring` stays what the run itself used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescored_with: Option<RecordedScoring>,
}

/// How rollouts that failed, and groups without signal, were handled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedGroups {
    pub retry_infra: u32,
    pub min_valid_rollouts: u32,
    pub drop_all_equal: bool,
    /// The Atropos API server groups were posted to (credentials removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atropos_url: Option<String>,
}

/// The model and how it was asked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedModel {
    /// The model's name, or `replay:FILE` for a replayed one.
    pub name: String,
    /// The API's base URL, credentials removed (none for a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Sampling temperature; none: the server's default.
    pub temperature: Option<f64>,
    pub request_timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    pub retry_delay_secs: Option<f64>,
    /// US dollars per million input/output tokens, when a price was known.
    pub price_per_million: Option<(f64, f64)>,
    /// Token ids and logprobs were asked for and recorded (`--capture-tokens`).
    pub capture_tokens: bool,
    /// `--extra-body`, secret-looking values redacted; omitted when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_body: Option<Value>,
    /// `--tokenizer`: what computed the ids of calls the server returned
    /// none for; omitted without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<RecordedTokenizer>,
}

/// The tokenizer and chat template that recomputed ids, by content hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedTokenizer {
    /// The tokenizer.json as given.
    pub path: String,
    pub sha256: String,
    /// The `--chat-template` file, or where beside the tokenizer the
    /// template was found.
    pub chat_template: String,
    pub chat_template_sha256: String,
}

/// When a task stops (0: no limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedLimits {
    pub steps: u32,
    pub cost: f64,
    /// Wall-clock seconds; none: no limit.
    pub time_secs: Option<f64>,
    pub format_errors: u32,
}

/// How the agent reads the model's replies and runs commands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedAgent {
    /// A reply without tool calls is a format error (`--require-tool-calls`).
    pub require_tool_calls: bool,
    pub text_actions: bool,
    pub command_timeout_secs: f64,
    /// Most bytes of a command's output the model sees.
    pub max_output_bytes: usize,
    /// What a command prints to submit (`first-line:TEXT`, `anywhere:TEXT`).
    pub completion_markers: Vec<String>,
}

/// SHA-256 (hex) of each template's text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateHashes {
    pub system: String,
    pub instance: String,
    pub format_error: String,
    /// None: tool results went to the model as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<String>,
}

/// Where commands ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedSandbox {
    pub kind: SandboxKind,
    /// The default container image (a task row's `image` wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Docker network; none: no network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Container limits (docker sandboxes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// How the agent's commands ran (`--shell`); absent in records of plinth
    /// versions that always ran them fresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Shell>,
    /// `--setup` commands (the environment's), before each row's own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<String>,
}

/// The scorers and the options they were given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedScoring {
    pub scorers: Vec<RecordedScorer>,
    /// `--scorer-config`, secret-looking values redacted (a task row's
    /// `scorer_config` is in the record's `task`).
    pub config: Value,
    /// Where the scorers graded (absent in records from before grading
    /// modes: those were graded live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade_in: Option<GradeIn>,
    /// `--protect` globs beside the built-in ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// `--eval-command`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eval_commands: Vec<String>,
}

/// What each plugin call could use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedPluginLimits {
    pub memory_bytes: usize,
    pub cpu_secs: f64,
    pub timeout_secs: f64,
    pub output_bytes: usize,
    /// The limits of plugins that had their own, by the name or path they
    /// were selected with.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_plugin: BTreeMap<String, RecordedPluginLimits>,
}

impl RecordedPluginLimits {
    fn of(config: &RuntimeConfig) -> Self {
        let mut recorded = Self::of_limits(&config.limits);
        recorded.per_plugin = config
            .plugin_limits
            .iter()
            .map(|(spec, limits)| (spec.clone(), Self::of_limits(limits)))
            .collect();
        recorded
    }

    fn of_limits(limits: &PluginLimits) -> Self {
        Self {
            memory_bytes: limits.memory_bytes,
            cpu_secs: limits.cpu_budget.as_secs_f64(),
            timeout_secs: limits.call_timeout.as_secs_f64(),
            output_bytes: limits.output_bytes,
            per_plugin: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedScorer {
    /// A built-in's name or the `.wasm` path as given.
    pub name: String,
    pub weight: f64,
}

impl RecordedSettings {
    /// The record of `settings`: call once per run and share the result.
    pub fn of(settings: &RunSettings) -> Self {
        let mut model = match &settings.model {
            ModelChoice::Api(config) => RecordedModel {
                name: config.model.clone(),
                base_url: Some(without_credentials(&config.base_url)),
                temperature: config.temperature,
                request_timeout_secs: Some(config.request_timeout.as_secs_f64()),
                max_retries: Some(config.max_retries),
                retry_delay_secs: Some(config.retry_base_delay.as_secs_f64()),
                price_per_million: config
                    .price
                    .map(|p| (p.input_per_million, p.output_per_million)),
                capture_tokens: config.capture_tokens,
                extra_body: (!config.extra_body.is_empty())
                    .then(|| redact_secrets(&Value::Object(config.extra_body.clone()))),
                tokenizer: None,
            },
            ModelChoice::Replay(path) => RecordedModel {
                name: format!("replay:{}", path.display()),
                ..RecordedModel::default()
            },
        };
        let agent = &settings.agent;
        model.tokenizer = agent.tokenizer.as_ref().map(|tokenizer| {
            let origin = tokenizer.origin();
            RecordedTokenizer {
                path: display(&origin.path),
                sha256: origin.sha256.clone(),
                chat_template: origin.chat_template.clone(),
                chat_template_sha256: origin.chat_template_sha256.clone(),
            }
        });
        let sandbox = &settings.sandbox;
        let containers = sandbox.kind != SandboxKind::Local;
        let terminal = settings.terminal.then(|| "terminal".to_string());
        Self {
            plinth_version: env!("CARGO_PKG_VERSION").into(),
            model,
            limits: RecordedLimits {
                steps: agent.step_limit,
                cost: agent.cost_limit,
                time_secs: agent.time_limit.map(|t| t.as_secs_f64()),
                format_errors: agent.max_format_errors,
            },
            agent: RecordedAgent {
                require_tool_calls: agent.on_text_reply == OnTextReply::FormatError,
                text_actions: agent.text_actions,
                command_timeout_secs: agent.command_timeout.as_secs_f64(),
                max_output_bytes: sandbox.max_output_bytes,
                completion_markers: agent
                    .completion_markers
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
            templates: TemplateHashes::of(&agent.prompts),
            sandbox: RecordedSandbox {
                kind: sandbox.kind,
                image: sandbox.image.clone(),
                network: sandbox.network.clone(),
                memory_bytes: containers.then_some(sandbox.limits.memory_bytes),
                cpus: containers.then_some(sandbox.limits.cpus),
                pids: containers.then_some(sandbox.limits.pids),
                read_only: containers && sandbox.read_only,
                shell: Some(sandbox.shell),
                setup: sandbox.setup.clone(),
            },
            scoring: RecordedScoring::of(&settings.scoring),
            environment: settings.environment.clone(),
            plugins: BTreeMap::new(),
            plugin_limits: RecordedPluginLimits::of(&settings.plugins),
            grants: settings
                .plugins
                .plugin_grants
                .iter()
                .map(|(spec, grants)| (spec.clone(), grants.specs()))
                .collect(),
            tools: terminal
                .into_iter()
                .chain(settings.tools.iter().map(|p| display(p)))
                .collect(),
            group_size: settings.group_size,
            groups: RecordedGroups {
                retry_infra: settings.retry_infra,
                min_valid_rollouts: settings.min_valid_rollouts,
                drop_all_equal: settings.drop_all_equal,
                atropos_url: settings.atropos_url.as_deref().map(without_credentials),
            },
            rescored_with: None,
        }
    }
}

impl RecordedSettings {
    /// Notes the hashes of plugins the run loaded.
    pub fn add_plugins<'a>(&mut self, plugins: impl IntoIterator<Item = &'a PluginMeta>) {
        for meta in plugins {
            self.plugins
                .insert(meta.source.clone(), meta.sha256.clone());
        }
    }
}

impl TemplateHashes {
    fn of(prompts: &Prompts) -> Self {
        Self {
            system: sha256_hex(prompts.system.as_bytes()),
            instance: sha256_hex(prompts.instance.as_bytes()),
            format_error: sha256_hex(prompts.format_error.as_bytes()),
            observation: prompts
                .observation
                .as_deref()
                .map(|t| sha256_hex(t.as_bytes())),
        }
    }
}

impl RecordedScoring {
    pub fn of(scoring: &ScoringSettings) -> Self {
        Self {
            scorers: scoring
                .scorers
                .iter()
                .map(|s| RecordedScorer {
                    name: s.name.clone(),
                    weight: s.weight,
                })
                .collect(),
            config: redact_secrets(&scoring.config),
            grade_in: Some(scoring.grading.grade_in),
            protect: scoring.grading.protect.clone(),
            eval_commands: scoring.grading.eval_commands.clone(),
        }
    }
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Whether a name (a JSON key, a query parameter) says its value is a secret.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "authorization",
        "credential",
        "auth",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `value` with the values of secret-looking keys replaced, at any depth.
fn redact_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if secret_name(k) && !v.is_null() {
                        Value::from(REDACTED)
                    } else {
                        redact_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_secrets).collect()),
        other => other.clone(),
    }
}

/// A URL without its user info (`user:password@`) and with the values of
/// secret-looking query parameters (`?api_key=...`) redacted.
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (query, None),
        };
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if secret_name(name) => format!("{name}={REDACTED}"),
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RunOptions;

    const KEY: &str = "sk-live-0123456789abcdef";

    #[test]
    fn no_api_key_is_recorded_however_it_was_given() {
        let flags = RunOptions::parse_flags([
            "--task",
            "t",
            "--model",
            "m",
            "--api-key",
            KEY,
            "--base-url",
            &format!("https://user:{KEY}@api.example.com/v1?api_key={KEY}&region=eu"),
            "--scorer-config",
            &format!(r#"{{"timeout": 30, "hub": {{"token": "{KEY}"}}, "auth": null}}"#),
            "--temperature",
            "0.5",
        ])
        .unwrap();
        let settings = RunSettings::resolve(flags).unwrap();
        let recorded = RecordedSettings::of(&settings);
        let text = serde_json::to_string(&recorded).unwrap();
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("user:"), "{text}");
        assert_eq!(
            recorded.model.base_url.as_deref(),
            Some("https://api.example.com/v1?api_key=<redacted>&region=eu")
        );
        assert_eq!(recorded.scoring.config["timeout"], 30);
        assert_eq!(recorded.scoring.config["hub"]["token"], REDACTED);
        assert_eq!(recorded.model.temperature, Some(0.5));

        // From the environment: resolve reads the key the same way a flag
        // gives it, into the model config, which records no key at all.
        let mut settings =
            RunSettings::resolve(RunOptions::parse_flags(["--task", "t", "--model", "m"]).unwrap())
                .unwrap();
        let ModelChoice::Api(config) = &mut settings.model else {
            panic!("an API model")
        };
        config.api_key = Some(KEY.into());
        let text = serde_json::to_string(&RecordedSettings::of(&settings)).unwrap();
        assert!(!text.contains(KEY), "{text}");
    }

    #[test]
    fn templates_are_recorded_by_hash_and_settings_read_back() {
        let settings = RunSettings::resolve(
            RunOptions::parse_flags(["--task", "t", "--max-iterations", "7"]).unwrap(),
        )
        .unwrap();
        let recorded = RecordedSettings::of(&settings);
        assert_eq!(
            recorded.templates.system,
            sha256_hex(Prompts::default().system.as_bytes())
        );
        assert_eq!(recorded.templates.system.len(), 64);
        assert_eq!(recorded.limits.steps, 7);
        assert_eq!(recorded.tools, ["terminal"]);
        let text = serde_json::to_string(&recorded).unwrap();
        let back: RecordedSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, recorded);
        // A record from before a field existed still reads.
        let old: RecordedSettings = serde_json::from_str(r#"{"group_size": 2}"#).unwrap();
        assert_eq!(old.group_size, 2);
    }

    #[test]
    fn urls_lose_their_credentials_only() {
        assert_eq!(
            without_credentials("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            without_credentials("https://a:b@h/v1?key=x&q=1#f"),
            "https://h/v1?key=<redacted>&q=1#f"
        );
    }
}
