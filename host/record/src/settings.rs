//! What every canonical record says of the run that produced it
//! (`settings`): the model and how it was sampled, the limits, the prompt
//! templates (by hash), the sandbox, the scorers, the tools; and the
//! vocabulary those settings are spelled in ([`SandboxKind`], [`Shell`]).
//!
//! Nothing secret is recorded: the run builds these once from its resolved
//! settings, with secret-looking values redacted. To record a new setting,
//! add a field (with a default, so older records still read: the structs are
//! `#[serde(default)]`) and fill it where the run builds them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grading::{GradeIn, GradingProfile};

/// The sandbox backends, recorded as they are named on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxKind {
    /// `bash -c` on this machine in a per-task directory: not isolation.
    #[default]
    Local,
    /// A hardened container per task.
    Docker,
    /// Slots in shared containers.
    DockerPool,
}

/// How the agent's commands run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// One `bash` per trajectory: `cd`, exported variables and shell
    /// functions carry from one command to the next, and builtins start no
    /// process (Hermes' terminal, SWE-ReX sessions).
    #[default]
    Persistent,
    /// A new `bash -c` per command: nothing but files carries over
    /// (mini-swe-agent).
    Fresh,
}

impl Shell {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Persistent => "persistent",
            Self::Fresh => "fresh",
        }
    }
}

/// Who a run's environment was, in its records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedEnvironment {
    pub name: String,
    pub version: String,
    pub api: String,
    /// sha256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// Where the bundle was pulled from (`--environment oci://REF`): the
    /// registry, repository and manifest digest it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci: Option<RecordedOci>,
}

/// An OCI artifact pinned by digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedOci {
    pub registry: String,
    pub repository: String,
    /// `sha256:...` of the image manifest.
    pub digest: String,
}

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
    /// `max_tokens` sent with every request (`--max-tokens`); none: none
    /// was sent (`--max-tokens 0`, a replay, or a record from before plinth
    /// sent one), or `extra_body` set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
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
    /// `--grading`, when given (else each record's `grading.profile` says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grading: Option<GradingProfile>,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedScorer {
    /// A built-in's name or the `.wasm` path as given.
    pub name: String,
    pub weight: f64,
}
