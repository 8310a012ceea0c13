//! Plugin limits, resolved: the run's defaults for every plugin, and the
//! limits particular plugins were given (an environment bundle's
//! per-plugin `limits`).
//!
//! Layering rule: a limit set in a higher layer (a flag, a config file)
//! holds for every plugin, over the limits a lower layer (the bundle) gave a
//! plugin of its own, as any flag overrides the manifest. Within the bundle,
//! a plugin's own limits sit over its `[plugin_limits]`.

use std::time::Duration;

use super::{PluginLimitOptions, SettingsError, invalid};
use plinth_plugin::{PluginLimits, RuntimeConfig};

/// One of a plugin's limits, as the flags and the manifest name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitField {
    Memory,
    Cpu,
    Timeout,
    OutputBytes,
}

impl LimitField {
    pub fn flag(self) -> &'static str {
        match self {
            Self::Memory => "--plugin-memory",
            Self::Cpu => "--plugin-cpu",
            Self::Timeout => "--plugin-timeout",
            Self::OutputBytes => "--plugin-output-bytes",
        }
    }

    /// The key in a manifest's `[plugin_limits]` or a plugin's `limits`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Cpu => "cpu",
            Self::Timeout => "timeout",
            Self::OutputBytes => "output_bytes",
        }
    }
}

/// A limit that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidLimit {
    pub field: LimitField,
    pub reason: String,
}

impl PluginLimitOptions {
    /// These limits where given, else `base`'s.
    pub fn resolve_over(&self, base: &PluginLimits) -> Result<PluginLimits, InvalidLimit> {
        let bad = |field, reason: &str| InvalidLimit {
            field,
            reason: reason.to_string(),
        };
        let seconds = |field, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(secs) if secs.is_finite() && secs > 0.0 => Ok(Duration::from_secs_f64(secs)),
            Some(_) => Err(bad(field, "must be a positive number of seconds")),
        };
        let memory_bytes = match &self.plugin_memory {
            None => base.memory_bytes,
            Some(text) => {
                let bytes = plinth_sandbox::docker::parse_size(text)
                    .map_err(|e| bad(LimitField::Memory, &e))?;
                usize::try_from(bytes)
                    .ok()
                    .filter(|b| *b >= 1 << 20)
                    .ok_or_else(|| bad(LimitField::Memory, "must be at least 1m"))?
            }
        };
        Ok(PluginLimits {
            memory_bytes,
            cpu_budget: seconds(LimitField::Cpu, self.plugin_cpu, base.cpu_budget)?,
            call_timeout: seconds(LimitField::Timeout, self.plugin_timeout, base.call_timeout)?,
            output_bytes: self.plugin_output_bytes.unwrap_or(base.output_bytes),
        })
    }

    /// The run-wide limits alone, without any plugin's own.
    pub(super) fn run_wide(&self) -> Self {
        Self {
            per_plugin: Default::default(),
            ..self.clone()
        }
    }
}

/// The plugin runtime's limits from `options` (defaults applied), with
/// instances for `runs` trajectories in flight.
pub fn plugin_runtime(
    options: &PluginLimitOptions,
    runs: usize,
) -> Result<RuntimeConfig, SettingsError> {
    let flag_error = |e: InvalidLimit| invalid(e.field.flag(), e.reason);
    let mut config = RuntimeConfig::for_runs(runs);
    config.limits = options
        .resolve_over(&PluginLimits::default())
        .map_err(flag_error)?;
    for (spec, own) in &options.per_plugin {
        let limits = own.resolve_over(&config.limits).map_err(flag_error)?;
        config.plugin_limits.insert(spec.clone(), limits);
    }
    Ok(config)
}
