//! Conveniences on the generated WIT types.

use std::fmt;

use crate::{ExecRequest, ExitStatus, PluginError, SandboxError};

impl ExitStatus {
    /// The status as the canonical trajectory JSON spells it (UpperCamelCase,
    /// mini-swe-agent's names): what formats that print a status must print.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Submitted => "Submitted",
            Self::Finished => "Finished",
            Self::LimitsExceeded => "LimitsExceeded",
            Self::TimeExceeded => "TimeExceeded",
            Self::RepeatedFormatError => "RepeatedFormatError",
            Self::InfrastructureError => "InfrastructureError",
            Self::ModelError => "ModelError",
            Self::PluginError => "PluginError",
        }
    }

    /// True when the run failed for plinth or its environment (sandbox,
    /// model API, plugin): such a run has no reward, and must not be scored
    /// as if it had earned 0.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Self::InfrastructureError | Self::ModelError | Self::PluginError
        )
    }
}

/// Writes [`ExitStatus::as_str`] (the generated `Debug` writes
/// `ExitStatus::Running`).
impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ExecRequest {
    /// Runs `command` with the sandbox's defaults: its working directory,
    /// its command timeout, no extra environment. Set the other fields with
    /// struct update syntax: `ExecRequest { cwd, ..ExecRequest::new(c) }`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout_secs: None,
            env: Vec::new(),
            cwd: None,
        }
    }
}

impl SandboxError {
    /// The error as text for a plugin's own messages: the sandbox's message,
    /// saying so when the sandbox itself is gone or the path is missing.
    pub fn describe(self) -> String {
        match self {
            SandboxError::NotFound(m) => format!("not found: {m}"),
            SandboxError::Dead(m) => format!("the sandbox is gone: {m}"),
            SandboxError::Other(m) => m,
        }
    }
}

/// A sandbox that fails under a tool or scorer is an infrastructure failure,
/// not the plugin's nor the model's: `session.exec(&request)?` reports it as
/// a `sandbox` error with the sandbox's own message.
impl From<SandboxError> for PluginError {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::NotFound(m) | SandboxError::Dead(m) | SandboxError::Other(m) => {
                PluginError::Sandbox(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_names_are_the_canonical_ones() {
        use ExitStatus::*;
        let names = [
            (Running, "Running"),
            (Submitted, "Submitted"),
            (Finished, "Finished"),
            (LimitsExceeded, "LimitsExceeded"),
            (TimeExceeded, "TimeExceeded"),
            (RepeatedFormatError, "RepeatedFormatError"),
            (InfrastructureError, "InfrastructureError"),
            (ModelError, "ModelError"),
            (PluginError, "PluginError"),
        ];
        for (status, name) in names {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
        }
    }

    #[test]
    fn sandbox_errors_are_sandbox_plugin_errors() {
        let e = SandboxError::Dead("container exited".into());
        assert_eq!(
            PluginError::from(e),
            PluginError::Sandbox("container exited".into())
        );
    }
}
