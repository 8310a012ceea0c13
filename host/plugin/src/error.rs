use std::fmt;
use std::time::Duration;

use super::{Denied, PluginKind};

/// A plugin failed. Every variant names the plugin; none takes the host down:
/// the store that failed is dropped and the runtime keeps serving others.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin `{plugin}` trapped: {message}{}", stderr_suffix(.stderr))]
    Trap {
        plugin: String,
        message: String,
        stderr: String,
    },
    #[error("plugin `{plugin}` timed out after {}s{}", .limit.as_secs_f64(), stderr_suffix(.stderr))]
    Timeout {
        plugin: String,
        limit: Duration,
        stderr: String,
    },
    #[error("plugin `{plugin}` exceeded its memory limit of {} MiB{}", .limit_bytes / (1024 * 1024), stderr_suffix(.stderr))]
    MemoryLimit {
        plugin: String,
        limit_bytes: usize,
        stderr: String,
    },
    #[error(
        "plugin `{plugin}` was built for plinth plugin API {found}, this host supports {supported}"
    )]
    IncompatibleApi {
        plugin: String,
        found: String,
        supported: String,
    },
    #[error("`{plugin}` is not a valid plinth plugin: {reason}")]
    InvalidComponent { plugin: String, reason: String },
    #[error("plugin `{plugin}` is a {found} plugin, but a {expected} plugin is needed here")]
    WrongKind {
        plugin: String,
        found: PluginKind,
        expected: PluginKind,
    },
    /// A group of rollouts was given to a formatter of single trajectories.
    #[error("plugin `{plugin}` formats single trajectories, not whole groups")]
    NotPerGroup { plugin: String },
    /// The plugin used its sandbox session beyond what it was granted.
    #[error("plugin `{plugin}` used its sandbox beyond its grants: {denied}")]
    CapabilityDenied { plugin: String, denied: Denied },
    /// The plugin ran and returned one of its typed errors.
    #[error("plugin `{plugin}`: {error}")]
    Guest { plugin: String, error: GuestError },
    #[error("plugin runtime: {0}")]
    Runtime(String),
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\nplugin stderr:\n{stderr}")
    }
}

/// The typed error a plugin returned (WIT `plugin-error`), the same for
/// every API version: each version's generated `plugin-error` converts into
/// it (see `convert`), so callers match on one type whatever a plugin was
/// built against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestError {
    /// The arguments the model sent are wrong: the model is told and may retry.
    InvalidArguments(String),
    UnknownTool(String),
    InvalidInput(String),
    /// The sandbox failed under the plugin: an infrastructure error.
    Sandbox(String),
    Failed(String),
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidArguments(m) => write!(f, "invalid arguments: {m}"),
            Self::UnknownTool(m) => write!(f, "unknown tool: {m}"),
            Self::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Self::Sandbox(m) => write!(f, "sandbox failure: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}
