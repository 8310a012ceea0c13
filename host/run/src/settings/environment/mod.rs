//! Environment bundles: a directory whose manifest (`plinth-env.toml`) says
//! everything a run of that environment needs (its tools, scorers, templates,
//! sandbox, agent limits, grading and plugin limits, and optionally its
//! tasks), so an environment ships as `.wasm` files plus a manifest.
//!
//! The manifest is read into the same [`RunOptions`] the flags and a config
//! file fill, as the lowest layer: flags over the config file over the
//! bundle. Paths in it resolve against the bundle's directory. Every run of a
//! bundle records its name and version and the sha256 of its manifest (with
//! each plugin's and template's hash in the run's settings), so a result can
//! be traced to exact bytes. The schema is documented in
//! `wit/environment.md`; [`MANIFEST_VERSION`] moves when it changes
//! incompatibly. `plinth env check` is [`check`].

mod check;
pub mod oci;

pub use check::{CheckReport, Finding, check};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{GrantOptions, PluginLimitOptions, RunOptions, SandboxOptions, ScoringOptions};
use plinth_agent::CompletionMarker;
use plinth_plugin::catalog::is_path;
use plinth_plugin::{Grants, PluginLimits};
use plinth_record::digest::sha256_hex;
use plinth_record::grading::GradeIn;
use plinth_record::settings::RecordedEnvironment;

/// The manifest's file name in a bundle.
pub const MANIFEST_FILE: &str = "plinth-env.toml";
/// The manifest schema this plinth reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Why a bundle cannot be used: always names the manifest, and the field
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: cannot read it: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, a value of the wrong type (the TOML error
    /// names the key and its line).
    #[error("{}: {reason}", .path.display())]
    Schema { path: PathBuf, reason: String },
    #[error("{}: `{field}`: {reason}", .path.display())]
    Field {
        path: PathBuf,
        field: String,
        reason: String,
    },
    /// `oci://REF` could not be pulled (or its cached copy is not intact).
    #[error("{}{reference}: {source}", oci::SCHEME)]
    Oci {
        reference: String,
        /// Boxed: registry errors are large, and every settings result
        /// carries this type.
        #[source]
        source: Box<plinth_oci::OciError>,
    },
}

/// A bundle's manifest. Every section but `[environment]` is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    manifest_version: u32,
    environment: Identity,
    #[serde(default)]
    agent: AgentSection,
    #[serde(default)]
    templates: TemplatesSection,
    #[serde(default)]
    sandbox: SandboxSection,
    #[serde(default)]
    tools: ToolsSection,
    #[serde(default)]
    scorers: Vec<ScorerEntry>,
    #[serde(default)]
    output: OutputSection,
    #[serde(default)]
    grading: GradingSection,
    #[serde(default)]
    plugin_limits: PluginLimitsSection,
    #[serde(default)]
    rollouts: RolloutsSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    /// The `plinth:plugin` API version its plugins target, e.g. "0.2.0".
    api: String,
    /// A task file shipped with the bundle.
    tasks: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentSection {
    max_iterations: Option<u32>,
    cost_limit: Option<f64>,
    time_limit: Option<f64>,
    max_format_errors: Option<u32>,
    require_tool_calls: Option<bool>,
    text_actions: Option<bool>,
    /// `first-line:TEXT` / `anywhere:TEXT`, replacing the defaults.
    #[serde(default)]
    completion_markers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplatesSection {
    system: Option<PathBuf>,
    instance: Option<PathBuf>,
    format_error: Option<PathBuf>,
    observation: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSection {
    kind: Option<String>,
    image: Option<String>,
    cwd: Option<PathBuf>,
    network: Option<String>,
    memory: Option<String>,
    cpus: Option<f64>,
    pids_limit: Option<i64>,
    read_only: Option<bool>,
    timeout: Option<u64>,
    shell: Option<plinth_record::settings::Shell>,
    max_output_bytes: Option<usize>,
    /// Commands run in every task's workspace before the row's own.
    #[serde(default)]
    setup: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsSection {
    /// The built-in terminal (default on).
    terminal: Option<bool>,
    /// Tool components: `.wasm` paths (relative to the bundle) or names,
    /// each alone or with its own limits.
    #[serde(default)]
    plugins: Vec<ToolEntry>,
}

/// A tool plugin: `"tools/search.wasm"`, or
/// `{ plugin = "tools/search.wasm", grants = ["read"], limits = { memory = "512m" } }`.
#[derive(Debug, Clone)]
enum ToolEntry {
    Spec(String),
    Table(ToolTable),
}

impl<'de> Deserialize<'de> for ToolEntry {
    /// By hand rather than `untagged`, so a mistake inside the table is
    /// named (`unknown field ...`) instead of "did not match any variant".
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(spec) => Ok(Self::Spec(spec)),
            table @ toml::Value::Table(_) => ToolTable::deserialize(table)
                .map(Self::Table)
                .map_err(|e| D::Error::custom(e.message())),
            other => Err(D::Error::custom(format!(
                "a tool is a plugin name or path, or a table {{ plugin, grants, limits }}, not a {}",
                other.type_str()
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolTable {
    plugin: String,
    /// What it may do with its sandbox session (`exec`, `read`, `write:out`).
    #[serde(default)]
    grants: Vec<String>,
    limits: Option<PluginLimitsSection>,
}

impl ToolEntry {
    fn spec(&self) -> &str {
        match self {
            Self::Spec(spec) => spec,
            Self::Table(tool) => &tool.plugin,
        }
    }

    fn limits(&self) -> Option<&PluginLimitsSection> {
        match self {
            Self::Spec(_) => None,
            Self::Table(tool) => tool.limits.as_ref(),
        }
    }

    fn grants(&self) -> &[String] {
        match self {
            Self::Spec(_) => &[],
            Self::Table(tool) => &tool.grants,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorerEntry {
    plugin: String,
    #[serde(default = "one")]
    weight: f64,
    /// This scorer's options, under the run's `--scorer-config`.
    config: Option<toml::Table>,
    /// This scorer's own limits, over `[plugin_limits]`.
    limits: Option<PluginLimitsSection>,
    /// What it may do with its sandbox session (`exec`, `read`, `write:out`).
    #[serde(default)]
    grants: Vec<String>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSection {
    format: Option<String>,
    format_options: Option<toml::Table>,
    /// The formatter's own limits, over `[plugin_limits]`.
    limits: Option<PluginLimitsSection>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradingSection {
    grade_in: Option<GradeIn>,
    #[serde(default)]
    protect: Vec<String>,
    #[serde(default)]
    eval_commands: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginLimitsSection {
    memory: Option<String>,
    cpu: Option<f64>,
    timeout: Option<f64>,
    output_bytes: Option<usize>,
}

impl PluginLimitsSection {
    fn options(&self) -> PluginLimitOptions {
        PluginLimitOptions {
            plugin_memory: self.memory.clone(),
            plugin_cpu: self.cpu,
            plugin_timeout: self.timeout,
            plugin_output_bytes: self.output_bytes,
            per_plugin: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Every limits table, with where it is in the manifest.
    fn limit_tables(&self) -> Vec<(String, &PluginLimitsSection)> {
        let tools = self.tools.plugins.iter().enumerate();
        let tools =
            tools.filter_map(|(i, t)| Some((format!("tools.plugins[{i}].limits"), t.limits()?)));
        let scorers = self.scorers.iter().enumerate();
        let scorers =
            scorers.filter_map(|(i, s)| Some((format!("scorers[{i}].limits"), s.limits.as_ref()?)));
        let output = self
            .output
            .limits
            .as_ref()
            .map(|l| ("output.limits".to_string(), l));
        std::iter::once(("plugin_limits".to_string(), &self.plugin_limits))
            .chain(tools)
            .chain(scorers)
            .chain(output)
            .collect()
    }
}

/// How rollouts are sampled and kept for training (`--capture-tokens`,
/// `--extra-body`, `--retry-infra`, `--min-valid-rollouts`,
/// `--drop-all-equal`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutsSection {
    capture_tokens: Option<bool>,
    /// `--tokenizer` and `--chat-template`, relative to the bundle.
    tokenizer: Option<PathBuf>,
    chat_template: Option<PathBuf>,
    extra_body: Option<toml::Table>,
    retry_infra: Option<u32>,
    min_valid_rollouts: Option<u32>,
    drop_all_equal: Option<bool>,
}

/// A loaded bundle: its directory and manifest.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
    /// The registry artifact the bundle was pulled from, when it was.
    oci: Option<plinth_record::settings::RecordedOci>,
}

impl Bundle {
    /// Reads and checks `dir/plinth-env.toml` (its schema; plugins and
    /// templates are checked when a run loads them, or by `plinth env
    /// check`). `dir` may be `oci://REF`: the bundle is pulled (or found in
    /// the cache, verified) and pinned by digest.
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        if let Some(reference) = oci::reference_in(dir) {
            let (pulled, pin) =
                oci::pull_blocking(reference, None).map_err(|source| ManifestError::Oci {
                    reference: reference.to_string(),
                    source: Box::new(source),
                })?;
            let mut bundle = Self::load(&pulled)?;
            bundle.oci = Some(oci::recorded(&pin));
            return Ok(bundle);
        }
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(dir, &text)
    }

    /// Checks `text` as the manifest of the bundle in `dir`.
    pub fn parse(dir: &Path, text: &str) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Schema {
            path: path.clone(),
            reason: e.to_string().trim().to_string(),
        })?;
        let field = |field: &str, reason: String| ManifestError::Field {
            path: path.clone(),
            field: field.to_string(),
            reason,
        };
        if manifest.manifest_version != MANIFEST_VERSION {
            return Err(field(
                "manifest_version",
                format!(
                    "version {} is not one this plinth reads (it reads {MANIFEST_VERSION})",
                    manifest.manifest_version
                ),
            ));
        }
        for (name, value) in [
            ("environment.name", &manifest.environment.name),
            ("environment.version", &manifest.environment.version),
            ("environment.api", &manifest.environment.api),
        ] {
            if value.trim().is_empty() {
                return Err(field(name, "must not be empty".into()));
            }
        }
        for (i, scorer) in manifest.scorers.iter().enumerate() {
            if !(scorer.weight.is_finite() && scorer.weight >= 0.0) {
                return Err(field(
                    &format!("scorers[{i}].weight"),
                    "must be a finite number >= 0".into(),
                ));
            }
        }
        for (i, marker) in manifest.agent.completion_markers.iter().enumerate() {
            if let Err(reason) = marker.parse::<CompletionMarker>() {
                return Err(field(&format!("agent.completion_markers[{i}]"), reason));
            }
        }
        let tool_grants = manifest.tools.plugins.iter().map(ToolEntry::grants);
        let scorer_grants = manifest.scorers.iter().map(|s| s.grants.as_slice());
        let tool_grants = tool_grants
            .enumerate()
            .map(|(i, g)| (format!("tools.plugins[{i}].grants"), g));
        let scorer_grants = scorer_grants
            .enumerate()
            .map(|(i, g)| (format!("scorers[{i}].grants"), g));
        for (at, grants) in tool_grants.chain(scorer_grants) {
            if let Err(reason) = Grants::parse(grants) {
                return Err(field(&at, reason));
            }
        }
        for (at, limits) in manifest.limit_tables() {
            if let Err(e) = limits.options().resolve_over(&PluginLimits::default()) {
                return Err(field(&format!("{at}.{}", e.field.key()), e.reason));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            manifest_sha256: sha256_hex(text.as_bytes()),
            oci: None,
        })
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST_FILE)
    }

    pub fn name(&self) -> &str {
        &self.manifest.environment.name
    }

    pub fn version(&self) -> &str {
        &self.manifest.environment.version
    }

    pub fn description(&self) -> &str {
        &self.manifest.environment.description
    }

    /// The plugin API version the bundle's plugins target.
    pub fn api(&self) -> &str {
        &self.manifest.environment.api
    }

    pub fn recorded(&self) -> RecordedEnvironment {
        RecordedEnvironment {
            name: self.name().to_string(),
            version: self.version().to_string(),
            api: self.api().to_string(),
            manifest_sha256: self.manifest_sha256.clone(),
            oci: self.oci.clone(),
        }
    }

    /// A path the manifest gives, against the bundle's directory.
    fn path(&self, path: &Path) -> PathBuf {
        self.dir.join(path)
    }

    /// A plugin the manifest names: a `.wasm` path against the bundle, or a
    /// name (a built-in, or one found on the plugin path) as is.
    fn plugin(&self, spec: &str) -> String {
        if is_path(spec) {
            self.path(Path::new(spec)).to_string_lossy().into_owned()
        } else {
            spec.to_string()
        }
    }

    /// The bundle's settings as the lowest layer of a run's options.
    pub fn options(&self) -> RunOptions {
        let m = &self.manifest;
        let json = |table: &Option<toml::Table>| {
            table
                .as_ref()
                .map(|t| toml_to_json(&toml::Value::Table(t.clone())))
        };
        let mut scorer_configs = BTreeMap::new();
        let mut per_plugin = BTreeMap::new();
        let mut bundle_grants = BTreeMap::new();
        let scorer = m
            .scorers
            .iter()
            .map(|s| {
                let plugin = self.plugin(&s.plugin);
                if let Some(config) = json(&s.config) {
                    scorer_configs.insert(plugin.clone(), config);
                }
                if let Some(limits) = &s.limits {
                    per_plugin.insert(plugin.clone(), limits.options());
                }
                if !s.grants.is_empty() {
                    bundle_grants.insert(plugin.clone(), s.grants.clone());
                }
                format!("{plugin}:{}", s.weight)
            })
            .collect();
        let tool = m
            .tools
            .plugins
            .iter()
            .map(|t| {
                let plugin = self.plugin(t.spec());
                if let Some(limits) = t.limits() {
                    per_plugin.insert(plugin.clone(), limits.options());
                }
                if !t.grants().is_empty() {
                    bundle_grants.insert(plugin.clone(), t.grants().to_vec());
                }
                PathBuf::from(plugin)
            })
            .collect();
        let format = m.output.format.as_deref().map(|f| self.plugin(f));
        if let (Some(format), Some(limits)) = (&format, &m.output.limits) {
            per_plugin.insert(format.clone(), limits.options());
        }
        let sandbox = &m.sandbox;
        RunOptions {
            environment: Some(self.dir.clone()),
            bundle: Some(self.recorded()),
            prompts_file: m.environment.tasks.as_deref().map(|p| self.path(p)),
            format,
            format_options: json(&m.output.format_options).map(|v| v.to_string()),
            sandbox: SandboxOptions {
                sandbox: sandbox.kind.clone(),
                cwd: sandbox.cwd.clone(),
                image: sandbox.image.clone(),
                network: sandbox.network.clone(),
                memory: sandbox.memory.clone(),
                cpus: sandbox.cpus,
                pids_limit: sandbox.pids_limit,
                read_only: sandbox.read_only,
                timeout: sandbox.timeout,
                shell: sandbox.shell,
                max_output_bytes: sandbox.max_output_bytes,
                setup: sandbox.setup.clone(),
                ..SandboxOptions::default()
            },
            capture_tokens: m.rollouts.capture_tokens,
            tokenizer: m.rollouts.tokenizer.as_deref().map(|p| self.path(p)),
            chat_template: m.rollouts.chat_template.as_deref().map(|p| self.path(p)),
            retry_infra: m.rollouts.retry_infra,
            min_valid_rollouts: m.rollouts.min_valid_rollouts,
            drop_all_equal: m.rollouts.drop_all_equal,
            extra_body: json(&m.rollouts.extra_body).map(|v| v.to_string()),
            max_iterations: m.agent.max_iterations,
            cost_limit: m.agent.cost_limit,
            time_limit: m.agent.time_limit,
            tool,
            no_terminal: m.tools.terminal.map(|on| !on),
            require_tool_calls: m.agent.require_tool_calls,
            text_actions: m.agent.text_actions,
            max_format_errors: m.agent.max_format_errors,
            completion_marker: m.agent.completion_markers.clone(),
            system_template: m.templates.system.as_deref().map(|p| self.path(p)),
            instance_template: m.templates.instance.as_deref().map(|p| self.path(p)),
            format_error_template: m.templates.format_error.as_deref().map(|p| self.path(p)),
            observation_template: m.templates.observation.as_deref().map(|p| self.path(p)),
            scoring: ScoringOptions {
                scorer,
                scorer_configs,
                grade_in: m.grading.grade_in,
                protect: m.grading.protect.clone(),
                eval_command: m.grading.eval_commands.clone(),
                ..ScoringOptions::default()
            },
            plugin_limits: PluginLimitOptions {
                per_plugin,
                ..m.plugin_limits.options()
            },
            grants: GrantOptions {
                bundle_grants,
                ..GrantOptions::default()
            },
            ..RunOptions::default()
        }
    }
}

/// A TOML value as JSON (dates become their text).
fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(manifest: &str) -> (tempfile::TempDir, Result<Bundle, ManifestError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest).unwrap();
        let loaded = Bundle::load(dir.path());
        (dir, loaded)
    }

    /// The settings of `plinth run --task t FLAGS` over `bundle`.
    fn run_of(
        bundle: &Bundle,
        flags: &[&str],
    ) -> Result<crate::settings::RunSettings, crate::settings::SettingsError> {
        let mut all = vec!["--task", "t"];
        all.extend(flags);
        let options = RunOptions::parse_flags(&all)
            .unwrap()
            .over(bundle.options());
        crate::settings::RunSettings::resolve(options)
    }

    const MINIMAL: &str = r#"
manifest_version = 1
[environment]
name = "calc"
version = "1.2.0"
api = "0.2.0"
"#;

    #[test]
    fn a_full_manifest_becomes_the_lowest_layer_of_options() {
        let text = format!(
            "{MINIMAL}tasks = \"tasks.jsonl\"\n{}",
            r#"
[agent]
max_iterations = 30
require_tool_calls = true
completion_markers = ["anywhere:DONE"]
[templates]
system = "templates/system.j2"
observation = "templates/observation.j2"
[sandbox]
kind = "docker"
image = "py:3"
setup = ["pip install -e ."]
[tools]
terminal = false
plugins = ["tools/search.wasm", "other-builtin"]
[[scorers]]
plugin = "pytest"
weight = 2.0
config = { chunk_size = 10 }
[[scorers]]
plugin = "scorers/check.wasm"
[output]
format = "canonical"
[grading]
grade_in = "live"
protect = ["docs/**"]
[plugin_limits]
memory = "128m"
cpu = 5
[rollouts]
capture_tokens = true
tokenizer = "tok/tokenizer.json"
chat_template = "tok/chat.jinja"
"#
        );
        let (dir, loaded) = bundle(&text);
        let bundle = loaded.unwrap();
        let options = bundle.options();
        let at = |p: &str| dir.path().join(p);
        assert_eq!(options.prompts_file, Some(at("tasks.jsonl")));
        assert_eq!(options.max_iterations, Some(30));
        assert_eq!(options.system_template, Some(at("templates/system.j2")));
        assert_eq!(
            options.observation_template,
            Some(at("templates/observation.j2"))
        );
        assert_eq!(options.completion_marker, ["anywhere:DONE"]);
        assert_eq!(options.tokenizer, Some(at("tok/tokenizer.json")));
        assert_eq!(options.chat_template, Some(at("tok/chat.jinja")));
        assert_eq!(options.sandbox.sandbox.as_deref(), Some("docker"));
        assert_eq!(options.sandbox.setup, ["pip install -e ."]);
        assert_eq!(options.no_terminal, Some(true));
        assert_eq!(
            options.tool,
            [at("tools/search.wasm"), PathBuf::from("other-builtin")]
        );
        let check = at("scorers/check.wasm").to_string_lossy().into_owned();
        assert_eq!(
            options.scoring.scorer,
            ["pytest:2".to_string(), format!("{check}:1")]
        );
        assert_eq!(
            options.scoring.scorer_configs["pytest"],
            serde_json::json!({"chunk_size": 10})
        );
        assert_eq!(options.scoring.grade_in, Some(GradeIn::Live));
        assert_eq!(options.plugin_limits.plugin_memory.as_deref(), Some("128m"));
        assert_eq!(options.plugin_limits.plugin_cpu, Some(5.0));
        let recorded = bundle.recorded();
        assert_eq!(
            (recorded.name.as_str(), recorded.version.as_str()),
            ("calc", "1.2.0")
        );
        assert_eq!(recorded.manifest_sha256, sha256_hex(text.as_bytes()));
    }

    #[test]
    fn plugins_get_their_own_limits_and_flags_still_override_them() {
        let text = format!(
            "{MINIMAL}{}",
            r#"
[tools]
plugins = ["tools/a.wasm", { plugin = "tools/b.wasm", limits = { memory = "512m", cpu = 30 } }]
[[scorers]]
plugin = "pytest"
limits = { timeout = 5 }
[output]
format = "fmt.wasm"
limits = { output_bytes = 10 }
[plugin_limits]
memory = "128m"
"#
        );
        let (dir, loaded) = bundle(&text);
        let bundle = loaded.unwrap();
        let b = dir
            .path()
            .join("tools/b.wasm")
            .to_string_lossy()
            .into_owned();
        let resolve = |flags: &[&str]| run_of(&bundle, flags).unwrap().plugins;
        let config = resolve(&[]);
        assert_eq!(config.limits.memory_bytes, 128 << 20);
        assert_eq!(config.plugin_limits.len(), 3);
        let own = &config.plugin_limits[&b];
        assert_eq!(own.memory_bytes, 512 << 20);
        assert_eq!(own.cpu_budget, std::time::Duration::from_secs(30));
        let scorer = &config.plugin_limits["pytest"];
        assert_eq!(scorer.memory_bytes, 128 << 20, "the bundle's default");
        assert_eq!(scorer.call_timeout, std::time::Duration::from_secs(5));
        let format = dir.path().join("fmt.wasm").to_string_lossy().into_owned();
        assert_eq!(config.plugin_limits[&format].output_bytes, 10);
        assert!(!config.plugin_limits.contains_key("tools/a.wasm"));
        // A flag holds for every plugin, over the bundle's per-plugin limits.
        let config = resolve(&["--plugin-memory", "64m"]);
        assert_eq!(config.limits.memory_bytes, 64 << 20);
        let own = &config.plugin_limits[&b];
        assert_eq!(own.memory_bytes, 64 << 20);
        assert_eq!(own.cpu_budget, std::time::Duration::from_secs(30));
    }

    #[test]
    fn bundle_grants_reach_the_runtime_and_local_commands_need_the_users_opt_in() {
        let text = format!(
            "{MINIMAL}{}",
            r#"
[tools]
plugins = [{ plugin = "tools/t.wasm", grants = ["read:src", "write:out"] }]
[[scorers]]
plugin = "s.wasm"
grants = ["exec"]
"#
        );
        let (dir, loaded) = bundle(&text);
        let bundle = loaded.unwrap();
        let path = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
        let (tool, scorer) = (path("tools/t.wasm"), path("s.wasm"));
        let resolve = |flags: &[&str]| run_of(&bundle, flags).map(|s| s.plugins.plugin_grants);
        let refused = resolve(&[]).unwrap_err().to_string();
        assert!(refused.contains("--allow-local-exec"), "{refused}");
        assert!(refused.contains(&scorer), "{refused}");
        let grants = resolve(&["--allow-local-exec"]).unwrap();
        assert_eq!(grants[&tool].specs(), ["read:src", "write:out"]);
        assert!(grants[&scorer].exec);
        // The user's --grant replaces the bundle's for that plugin.
        let only_read = format!("{scorer}=read");
        let grants = resolve(&["--grant", &only_read]).unwrap();
        assert_eq!(grants[&scorer].specs(), ["read"]);
        assert_eq!(grants[&tool].specs(), ["read:src", "write:out"]);
        let bad = resolve(&["--grant", "x.wasm=sudo"])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("--grant") && bad.contains("sudo"), "{bad}");
    }

    #[test]
    fn manifest_errors_name_the_file_and_the_field() {
        let cases = [
            (
                format!("{MINIMAL}[agent]\nmax_iteration = 3\n"),
                "max_iteration",
            ),
            (format!("{MINIMAL}colour = 1\n"), "colour"),
            (
                MINIMAL.replace("manifest_version = 1", "manifest_version = 9"),
                "manifest_version",
            ),
            (
                MINIMAL.replace("name = \"calc\"", "name = \"\""),
                "environment.name",
            ),
            (MINIMAL.replace("api = \"0.2.0\"\n", ""), "api"),
            (
                format!("{MINIMAL}[[scorers]]\nplugin = \"x\"\nweight = -1\n"),
                "scorers[0].weight",
            ),
            (
                format!("{MINIMAL}[agent]\nmax_iterations = \"many\"\n"),
                "max_iterations",
            ),
            ("not toml = = 1".to_string(), "plinth-env.toml"),
            (
                format!("{MINIMAL}[[scorers]]\nplugin = \"x\"\nlimits = {{ memory = \"lots\" }}\n"),
                "scorers[0].limits.memory",
            ),
            (
                format!(
                    "{MINIMAL}[tools]\nplugins = [{{ plugin = \"t.wasm\", limits = {{ cpu = 0 }} }}]\n"
                ),
                "tools.plugins[0].limits.cpu",
            ),
            (
                format!("{MINIMAL}[[scorers]]\nplugin = \"x\"\ngrants = [\"exec\", \"root\"]\n"),
                "scorers[0].grants",
            ),
            (
                format!(
                    "{MINIMAL}[tools]\nplugins = [{{ plugin = \"t.wasm\", grants = [\"read:../up\"] }}]\n"
                ),
                "tools.plugins[0].grants",
            ),
            (
                format!("{MINIMAL}[agent]\ncompletion_markers = [\"anywhere:\"]\n"),
                "agent.completion_markers[0]",
            ),
            (
                format!("{MINIMAL}[plugin_limits]\ntimeout = -1\n"),
                "plugin_limits.timeout",
            ),
            (
                format!("{MINIMAL}[[scorers]]\nplugin = \"x\"\nlimits = {{ memroy = \"1g\" }}\n"),
                "memroy",
            ),
            (
                format!("{MINIMAL}[tools]\nplugins = [{{ plugin = \"t.wasm\", limts = {{}} }}]\n"),
                "unknown field `limts`",
            ),
        ];
        for (text, field) in cases {
            let (_dir, loaded) = bundle(&text);
            let err = loaded.unwrap_err().to_string();
            assert!(err.contains(MANIFEST_FILE), "{err}");
            assert!(err.contains(field), "{field}: {err}");
        }
        let missing = Bundle::load(Path::new("/no/such/bundle")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }
}
