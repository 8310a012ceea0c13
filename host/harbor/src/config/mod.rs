//! `task.toml`: Harbor's `TaskConfig` (harbor 0.26, `harbor/models/task/config.py`).
//!
//! The fields a runner needs are read with Harbor's defaults, its pydantic
//! coercions (the `lax` module) and its checks; the rest of Harbor's schema
//! (MCP servers, healthchecks, TPUs, artifacts, collect hooks, ...) is not
//! modelled. Keys Harbor does not know are ignored, as pydantic ignores them
//! (no model in `config.py` forbids extra keys); they are listed in
//! [`TaskConfig::ignored_keys`] so a caller can say so. Keys Harbor knows but
//! this crate does not model are not listed: they are valid Harbor.

mod lax;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use toml::{Table, Value};

/// Harbor's default `[verifier].timeout_sec`.
pub const DEFAULT_VERIFIER_TIMEOUT_SECS: f64 = 600.0;
/// Harbor's default `[environment].build_timeout_sec`.
pub const DEFAULT_BUILD_TIMEOUT_SECS: f64 = 600.0;
/// `schema_version` when `task.toml` gives none (`TaskConfig.schema_version`).
pub const DEFAULT_SCHEMA_VERSION: &str = "1.4";

/// What is wrong with a `task.toml`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("not valid TOML: {0}")]
    Toml(String),
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// A user to run a phase as: a name or a numeric uid (`str | int`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum User {
    Name(String),
    Id(i64),
}

/// `[environment].network_mode` (and the phases' overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    NoNetwork,
    Public,
    Allowlist,
}

impl NetworkMode {
    fn parse(key: &str, value: &Value) -> Result<Self, ConfigError> {
        match lax::string(key, value)?.as_str() {
            "no-network" => Ok(Self::NoNetwork),
            "public" => Ok(Self::Public),
            "allowlist" => Ok(Self::Allowlist),
            other => Err(invalid(
                key,
                format!("expected \"no-network\", \"public\" or \"allowlist\", found {other:?}"),
            )),
        }
    }
}

/// The operating system of the task's container (`[environment].os`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskOs {
    Linux,
    Windows,
}

/// `[environment].cpus`: `int | float`, a whole float collapsed to an int as
/// Harbor's `normalize_cpus` does; the distinction survives into Harbor's own
/// dumps (`cpus = 2` vs `cpus = 1.5`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cpus {
    Whole(i64),
    Fraction(f64),
}

impl Cpus {
    /// The count as a float (Docker's `NanoCpus` = this × 1e9).
    pub fn as_f64(self) -> f64 {
        match self {
            // CPU counts are small.
            #[allow(clippy::cast_precision_loss)]
            Cpus::Whole(n) => n as f64,
            Cpus::Fraction(f) => f,
        }
    }

    fn parse(key: &str, value: &Value) -> Result<Self, ConfigError> {
        // pydantic's smart union `int | float`: an int (or integer string) stays an int,
        // anything else numeric is a float.
        let cpus = match value {
            Value::Integer(i) => Cpus::Whole(*i),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                Cpus::Whole(lax::int(key, value)?)
            }
            _ => Cpus::Fraction(lax::float(key, value)?),
        };
        match cpus {
            Cpus::Fraction(f) if !f.is_finite() => Err(invalid(
                key,
                format!("cpus must be a finite number; got {f}"),
            )),
            // `normalize_cpus`: whole-number floats become ints.
            #[allow(clippy::cast_possible_truncation)]
            Cpus::Fraction(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Cpus::Whole(f as i64)),
            other => Ok(other),
        }
    }
}

/// A phase's network access: the mode and, for `allowlist`, the hosts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkPolicy {
    pub network_mode: NetworkMode,
    pub allowed_hosts: Vec<String>,
}

/// `[task]`: the package's registry identity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackageInfo {
    /// `org/name`.
    pub name: String,
    pub version: Option<String>,
    pub description: String,
    pub keywords: Vec<String>,
}

/// `[agent]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AgentConfig {
    /// None: no limit from the task (Harbor then runs the agent unbounded).
    pub timeout_sec: Option<f64>,
    pub user: Option<User>,
    /// An explicit override of the environment's network policy.
    pub network: Option<NetworkPolicy>,
}

/// Where the verifier runs (`[verifier].environment_mode`, resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifierEnvironmentMode {
    /// In the agent's container, after the agent stops.
    Shared,
    /// In a container of its own (`[verifier.environment]`).
    Separate,
}

/// `[verifier]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifierConfig {
    pub timeout_sec: f64,
    /// Environment variables for `tests/test.sh`, by name (`${VAR}`
    /// templates unresolved, as written).
    pub env: Vec<(String, String)>,
    pub user: Option<User>,
    pub network: Option<NetworkPolicy>,
    /// `shared` unless a `[verifier.environment]` table or
    /// `environment_mode = "separate"` asks for a container of its own.
    pub environment_mode: VerifierEnvironmentMode,
}

/// `[environment]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnvironmentConfig {
    pub build_timeout_sec: f64,
    /// A prebuilt image to use instead of building `environment/`.
    pub docker_image: Option<String>,
    pub os: TaskOs,
    pub cpus: Option<Cpus>,
    pub memory_mb: Option<i64>,
    pub storage_mb: Option<i64>,
    pub gpus: Option<i64>,
    /// The baseline policy, with the deprecated `allow_internet` applied.
    pub network: NetworkPolicy,
    /// Variables set in the container, by name (templates unresolved).
    pub env: Vec<(String, String)>,
    /// Overrides the image's `WORKDIR` for every command when set.
    pub workdir: Option<String>,
}

/// A parsed `task.toml`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskConfig {
    pub schema_version: String,
    pub task: Option<PackageInfo>,
    /// `[metadata]`, free-form (difficulty, category, tags, ...).
    pub metadata: Map<String, Json>,
    pub verifier: VerifierConfig,
    pub agent: AgentConfig,
    pub environment: EnvironmentConfig,
    /// `[solution].env`: variables for the oracle's `solve.sh`.
    pub solution_env: Vec<(String, String)>,
    pub source: Option<String>,
    /// Names of `[[steps]]` (empty for a single-step task).
    pub steps: Vec<String>,
    /// Keys Harbor does not know and ignores, as dotted paths.
    pub ignored_keys: Vec<String>,
}

/// Keys Harbor's models know, per section (what is not here is ignored by
/// pydantic and listed in `ignored_keys`).
const ROOT_KEYS: &[&str] = &[
    "schema_version",
    "version",
    "task",
    "metadata",
    "verifier",
    "agent",
    "environment",
    "solution",
    "source",
    "multi_step_reward_strategy",
    "steps",
    "artifacts",
];
const AGENT_KEYS: &[&str] = &["timeout_sec", "user", "network_mode", "allowed_hosts"];
const VERIFIER_KEYS: &[&str] = &[
    "timeout_sec",
    "env",
    "user",
    "network_mode",
    "allowed_hosts",
    "environment_mode",
    "environment",
    "collect",
];
const ENVIRONMENT_KEYS: &[&str] = &[
    "build_timeout_sec",
    "docker_image",
    "os",
    "cpus",
    "memory_mb",
    "storage_mb",
    "memory",
    "storage",
    "gpus",
    "gpu_types",
    "tpu",
    "mcp_servers",
    "env",
    "skills_dir",
    "healthcheck",
    "workdir",
    "allow_internet",
    "network_mode",
    "allowed_hosts",
];
const TASK_KEYS: &[&str] = &["name", "version", "description", "authors", "keywords"];
const SOLUTION_KEYS: &[&str] = &["env"];

/// Seconds as a duration; None for what no duration can be (negative, NaN,
/// infinite), which a runner then treats as no limit of its own.
fn duration(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

impl TaskConfig {
    /// How long the agent may run (`[agent].timeout_sec`; None: the task sets
    /// no limit). Harbor multiplies it by `--timeout-multiplier` (1 by default).
    pub fn agent_timeout(&self) -> Option<Duration> {
        self.agent.timeout_sec.and_then(duration)
    }

    /// How long `tests/test.sh` may run (`[verifier].timeout_sec`, 600 s by default).
    pub fn verifier_timeout(&self) -> Option<Duration> {
        duration(self.verifier.timeout_sec)
    }

    /// How long building the image may take (`[environment].build_timeout_sec`, 600 s by default).
    pub fn build_timeout(&self) -> Option<Duration> {
        duration(self.environment.build_timeout_sec)
    }

    /// Parses the text of a `task.toml`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let root: Table = text
            .parse::<Table>()
            .map_err(|e| ConfigError::Toml(e.to_string()))?;
        let mut ignored = Vec::new();
        note_ignored(&root, "", ROOT_KEYS, &mut ignored);

        // `version` is the old spelling of `schema_version` (`handle_version_rename`).
        let schema_version = match root.get("schema_version").or_else(|| root.get("version")) {
            Some(v) => lax::string("schema_version", v)?,
            None => DEFAULT_SCHEMA_VERSION.to_string(),
        };
        let task = match root.get("task") {
            Some(v) => Some(package(lax::table("task", v)?, &mut ignored)?),
            None => None,
        };
        let metadata = match root.get("metadata") {
            Some(v) => match toml_to_json(v) {
                Json::Object(map) => map,
                _ => return Err(invalid("metadata", "expected a table")),
            },
            None => Map::new(),
        };
        let empty = Table::new();
        let section = |name: &str| -> Result<&Table, ConfigError> {
            root.get(name).map_or(Ok(&empty), |v| lax::table(name, v))
        };
        let agent = agent(section("agent")?, &mut ignored)?;
        let verifier = verifier(section("verifier")?, &mut ignored)?;
        let environment = environment(section("environment")?, "environment", &mut ignored)?;
        let solution = section("solution")?;
        note_ignored(solution, "solution", SOLUTION_KEYS, &mut ignored);
        let solution_env = match solution.get("env") {
            Some(v) => lax::string_map("solution.env", v)?,
            None => Vec::new(),
        };
        let source = root
            .get("source")
            .map(|v| lax::string("source", v))
            .transpose()?;
        let steps = match root.get("steps") {
            Some(Value::Array(steps)) => steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let key = format!("steps[{i}]");
                    let step = lax::table(&key, step)?;
                    let name = step
                        .get("name")
                        .ok_or_else(|| invalid(&format!("{key}.name"), "missing"))?;
                    lax::string(&format!("{key}.name"), name)
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => {
                return Err(invalid(
                    "steps",
                    format!(
                        "expected an array of tables, found {}",
                        lax::describe(other)
                    ),
                ));
            }
            None => Vec::new(),
        };
        Ok(TaskConfig {
            schema_version,
            task,
            metadata,
            verifier,
            agent,
            environment,
            solution_env,
            source,
            steps,
            ignored_keys: ignored,
        })
    }
}

fn note_ignored(table: &Table, prefix: &str, known: &[&str], ignored: &mut Vec<String>) {
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            ignored.push(if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            });
        }
    }
}

/// `org/name`, as Harbor's `ORG_NAME_PATTERN` and its `..` check.
fn valid_package_name(name: &str) -> bool {
    fn part(p: &str) -> bool {
        let mut chars = p.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    }
    match name.split_once('/') {
        Some((org, short)) => part(org) && part(short) && !name.contains(".."),
        None => false,
    }
}

fn package(t: &Table, ignored: &mut Vec<String>) -> Result<PackageInfo, ConfigError> {
    note_ignored(t, "task", TASK_KEYS, ignored);
    let name = lax::string(
        "task.name",
        t.get("name")
            .ok_or_else(|| invalid("task.name", "missing"))?,
    )?;
    if !valid_package_name(&name) {
        return Err(invalid(
            "task.name",
            format!(
                "package name must be in 'org/name' format (alphanumerics, '-', '_', '.'; no leading dot, no '..'); got {name:?}"
            ),
        ));
    }
    let version = match t.get("version") {
        Some(v) => {
            let v = lax::string("task.version", v)?;
            if v.is_empty() {
                return Err(invalid("task.version", "must not be empty"));
            }
            Some(v)
        }
        None => None,
    };
    Ok(PackageInfo {
        name,
        version,
        description: t
            .get("description")
            .map(|v| lax::string("task.description", v))
            .transpose()?
            .unwrap_or_default(),
        keywords: t
            .get("keywords")
            .map(|v| lax::strings("task.keywords", v))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A phase's `network_mode` / `allowed_hosts` override (`PhaseNetworkPolicyConfig`).
fn phase_network(t: &Table, prefix: &str) -> Result<Option<NetworkPolicy>, ConfigError> {
    let mode = t
        .get("network_mode")
        .map(|v| NetworkMode::parse(&format!("{prefix}.network_mode"), v))
        .transpose()?;
    let hosts = allowed_hosts(t, prefix)?;
    match mode {
        None if hosts.is_some() => Err(invalid(
            &format!("{prefix}.allowed_hosts"),
            "allowed_hosts is only valid when network_mode='allowlist'",
        )),
        None => Ok(None),
        Some(mode) => policy(mode, hosts, prefix).map(Some),
    }
}

fn allowed_hosts(t: &Table, prefix: &str) -> Result<Option<Vec<String>>, ConfigError> {
    t.get("allowed_hosts")
        .map(|v| lax::strings(&format!("{prefix}.allowed_hosts"), v))
        .transpose()
}

fn policy(
    mode: NetworkMode,
    hosts: Option<Vec<String>>,
    prefix: &str,
) -> Result<NetworkPolicy, ConfigError> {
    let hosts = hosts.unwrap_or_default();
    if mode != NetworkMode::Allowlist && !hosts.is_empty() {
        return Err(invalid(
            &format!("{prefix}.allowed_hosts"),
            "allowed_hosts is only valid when network_mode='allowlist'",
        ));
    }
    Ok(NetworkPolicy {
        network_mode: mode,
        // Harbor lower-cases and drops a trailing dot; its finer host checks are not repeated.
        allowed_hosts: hosts
            .into_iter()
            .map(|h| h.trim().to_lowercase().trim_end_matches('.').to_string())
            .collect(),
    })
}

fn agent(t: &Table, ignored: &mut Vec<String>) -> Result<AgentConfig, ConfigError> {
    note_ignored(t, "agent", AGENT_KEYS, ignored);
    Ok(AgentConfig {
        timeout_sec: t
            .get("timeout_sec")
            .map(|v| lax::float("agent.timeout_sec", v))
            .transpose()?,
        user: t
            .get("user")
            .map(|v| lax::user("agent.user", v))
            .transpose()?,
        network: phase_network(t, "agent")?,
    })
}

fn verifier(t: &Table, ignored: &mut Vec<String>) -> Result<VerifierConfig, ConfigError> {
    note_ignored(t, "verifier", VERIFIER_KEYS, ignored);
    let explicit_mode = match t.get("environment_mode") {
        None => None,
        Some(v) => match lax::string("verifier.environment_mode", v)?.as_str() {
            "shared" => Some(VerifierEnvironmentMode::Shared),
            "separate" => Some(VerifierEnvironmentMode::Separate),
            other => {
                return Err(invalid(
                    "verifier.environment_mode",
                    format!("expected \"shared\" or \"separate\", found {other:?}"),
                ));
            }
        },
    };
    let separate_environment = match t.get("environment") {
        Some(v) => {
            // Checked as Harbor checks it, though a separate verifier container
            // is the caller's to support or refuse.
            environment(
                lax::table("verifier.environment", v)?,
                "verifier.environment",
                ignored,
            )?;
            true
        }
        None => false,
    };
    let environment_mode = match (explicit_mode, separate_environment) {
        (Some(VerifierEnvironmentMode::Shared), true) => {
            return Err(invalid(
                "verifier.environment_mode",
                "[verifier].environment_mode='shared' is incompatible with [verifier.environment]",
            ));
        }
        (Some(mode), _) => mode,
        (None, true) => VerifierEnvironmentMode::Separate,
        (None, false) => VerifierEnvironmentMode::Shared,
    };
    Ok(VerifierConfig {
        timeout_sec: t
            .get("timeout_sec")
            .map(|v| lax::float("verifier.timeout_sec", v))
            .transpose()?
            .unwrap_or(DEFAULT_VERIFIER_TIMEOUT_SECS),
        env: t
            .get("env")
            .map(|v| lax::string_map("verifier.env", v))
            .transpose()?
            .unwrap_or_default(),
        user: t
            .get("user")
            .map(|v| lax::user("verifier.user", v))
            .transpose()?,
        network: phase_network(t, "verifier")?,
        environment_mode,
    })
}

/// Harbor's `_parse_size_to_mb` for the deprecated `memory` / `storage`
/// strings (`"2G"`, `"512M"`, `"1024K"`).
fn size_to_mb(key: &str, text: &str) -> Result<i64, ConfigError> {
    let s = text.trim().to_uppercase();
    let bad = || {
        invalid(
            key,
            format!("invalid size format: {s}; expected a format like '1G', '512M'"),
        )
    };
    let parse = |n: &str| crate::reward::python_float(n).ok_or_else(bad);
    // Python's float(), then the same arithmetic (`* 1024`, `/ 1024`).
    let mb = if let Some(n) = s.strip_suffix('G') {
        parse(n)? * 1024.0
    } else if let Some(n) = s.strip_suffix('M') {
        parse(n)?
    } else if let Some(n) = s.strip_suffix('K') {
        parse(n)? / 1024.0
    } else {
        return Err(bad());
    };
    if !mb.is_finite() {
        return Err(bad());
    }
    // Python's int() truncates toward zero.
    #[allow(clippy::cast_possible_truncation)]
    Ok(mb.trunc() as i64)
}

/// `memory_mb` / `storage_mb`, or their deprecated string forms.
fn size_field(
    t: &Table,
    prefix: &str,
    mb_key: &str,
    legacy_key: &str,
) -> Result<Option<i64>, ConfigError> {
    let mb = t
        .get(mb_key)
        .map(|v| lax::int(&format!("{prefix}.{mb_key}"), v))
        .transpose()?;
    match t.get(legacy_key) {
        // Harbor only converts a string; any other legacy value is dropped.
        Some(Value::String(s)) => {
            let legacy = size_to_mb(&format!("{prefix}.{legacy_key}"), s)?;
            match mb {
                Some(mb) if mb != legacy => Err(invalid(
                    &format!("{prefix}.{legacy_key}"),
                    format!(
                        "conflicting '{legacy_key}' and '{mb_key}' values: {legacy_key}={s:?} ({legacy} MB) != {mb_key}={mb}"
                    ),
                )),
                _ => Ok(Some(legacy)),
            }
        }
        _ => Ok(mb),
    }
}

fn environment(
    t: &Table,
    prefix: &str,
    ignored: &mut Vec<String>,
) -> Result<EnvironmentConfig, ConfigError> {
    note_ignored(t, prefix, ENVIRONMENT_KEYS, ignored);
    let key = |k: &str| format!("{prefix}.{k}");
    let os = match t.get("os") {
        None => TaskOs::Linux,
        Some(v) => match lax::string(&key("os"), v)?.to_lowercase().as_str() {
            "linux" => TaskOs::Linux,
            "windows" => TaskOs::Windows,
            other => {
                return Err(invalid(
                    &key("os"),
                    format!("expected \"linux\" or \"windows\", found {other:?}"),
                ));
            }
        },
    };
    let explicit_mode = t
        .get("network_mode")
        .map(|v| NetworkMode::parse(&key("network_mode"), v))
        .transpose()?;
    let hosts = allowed_hosts(t, prefix)?;
    let allow_internet = t
        .get("allow_internet")
        .map(|v| lax::boolean(&key("allow_internet"), v))
        .transpose()?;
    // `handle_deprecated_environment_allow_internet`: the old flag decides only
    // when neither `network_mode` nor `allowed_hosts` is given.
    let mode = match (explicit_mode, allow_internet) {
        (Some(mode), _) => mode,
        (None, Some(allow)) if hosts.is_none() => {
            if allow {
                NetworkMode::Public
            } else {
                NetworkMode::NoNetwork
            }
        }
        (None, _) => NetworkMode::Public,
    };
    Ok(EnvironmentConfig {
        build_timeout_sec: t
            .get("build_timeout_sec")
            .map(|v| lax::float(&key("build_timeout_sec"), v))
            .transpose()?
            .unwrap_or(DEFAULT_BUILD_TIMEOUT_SECS),
        docker_image: t
            .get("docker_image")
            .map(|v| lax::string(&key("docker_image"), v))
            .transpose()?,
        os,
        cpus: t
            .get("cpus")
            .map(|v| Cpus::parse(&key("cpus"), v))
            .transpose()?,
        memory_mb: size_field(t, prefix, "memory_mb", "memory")?,
        storage_mb: size_field(t, prefix, "storage_mb", "storage")?,
        gpus: t
            .get("gpus")
            .map(|v| lax::int(&key("gpus"), v))
            .transpose()?,
        network: policy(mode, hosts, prefix)?,
        env: t
            .get("env")
            .map(|v| lax::string_map(&key("env"), v))
            .transpose()?
            .unwrap_or_default(),
        workdir: t
            .get("workdir")
            .map(|v| lax::string(&key("workdir"), v))
            .transpose()?,
    })
}

/// A TOML value as JSON (datetimes as their RFC 3339 text, as
/// `model_dump(mode="json")` writes them).
pub(crate) fn toml_to_json(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
