//! Every default of a run, written once. The library's own constructors
//! (`ModelConfig::new`, `LocalConfig::default`, ...) and `--help` read them
//! from here, so a default cannot drift between the code and its docs.

use std::time::Duration;

use crate::grading::GradeIn;
use crate::sandbox::Shell;

/// Model asked when none is named.
pub const MODEL: &str = "claude-sonnet-4-20250514";
/// Output format when none is named.
pub(crate) const FORMAT: &str = "hermes";
/// Where records go when neither `--output-file` nor `--output-dir` is given.
pub(crate) const OUTPUT_FILE: &str = "trajectories.jsonl";
/// Sandbox backend when none is named.
pub(crate) const SANDBOX: &str = "local";

/// Most model calls per run (0: no limit).
pub(crate) const STEP_LIMIT: u32 = 15;
/// Most dollars per run (0: no limit).
pub(crate) const COST_LIMIT: f64 = 3.0;
/// Wall-clock seconds per run (0: no limit).
pub(crate) const TIME_LIMIT_SECS: f64 = 0.0;
/// Consecutive format errors that end a run.
pub(crate) const MAX_FORMAT_ERRORS: u32 = 3;

/// Seconds one model request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Retries of a failed model request.
pub(crate) const MAX_RETRIES: u32 = 5;
/// Wait before the first retry of a failed model request (it doubles per retry).
pub(crate) const RETRY_DELAY: Duration = Duration::from_secs(1);

/// A command's timeout when the model does not ask for one.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How the agent's commands run: one shell per trajectory, as Hermes'
/// terminal (plinth's default tool, prompts and format) keeps one.
pub(crate) const SHELL: Shell = Shell::Persistent;
/// Most bytes of one command's output the model sees (head and tail kept).
pub(crate) const MAX_OUTPUT_BYTES: usize = 10_000;

/// Working directory inside containers; pool slots live under it.
pub(crate) const CONTAINER_WORKDIR: &str = "/workspace";
/// Memory per container, as `--memory` spells it.
pub(crate) const CONTAINER_MEMORY: &str = "4g";
/// [`CONTAINER_MEMORY`] in bytes.
pub(crate) const CONTAINER_MEMORY_BYTES: i64 = 4 << 30;
/// CPUs per container.
pub(crate) const CONTAINER_CPUS: f64 = 1.0;
/// Most processes per container.
pub(crate) const CONTAINER_PIDS: i64 = 1024;
/// Workspaces per pool container.
pub(crate) const SLOTS_PER_CONTAINER: usize = 4;
/// Pool containers started before the first task.
pub(crate) const MIN_CONTAINERS: usize = 1;
/// How long a trajectory waits for a free pool slot.
pub(crate) const SLOT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long a pool container may sit with every slot free before the pool
/// shrinks by it (down to its minimum).
pub(crate) const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Linear memory of one plugin instance, as `--plugin-memory` spells it.
pub(crate) const PLUGIN_MEMORY: &str = "256m";
/// [`PLUGIN_MEMORY`] in bytes.
pub(crate) const PLUGIN_MEMORY_BYTES: usize = 256 << 20;
/// CPU time of one plugin call.
pub(crate) const PLUGIN_CPU: Duration = Duration::from_secs(10);
/// Wall-clock time of one plugin call, sandbox commands included.
pub(crate) const PLUGIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bytes of a plugin's stdout and of its stderr kept per call.
pub(crate) const PLUGIN_OUTPUT_BYTES: usize = 64 << 10;

/// Where scorers grade.
pub(crate) const GRADE_IN: GradeIn = GradeIn::Clean;

/// Rollouts per task.
pub(crate) const GROUP_SIZE: u32 = 1;
/// Runs again of a rollout that ended in an infrastructure error.
pub(crate) const RETRY_INFRA: u32 = 2;
/// Valid rollouts a group needs to stay in per-group outputs: 1 drops only
/// groups where every rollout failed.
pub(crate) const MIN_VALID_ROLLOUTS: u32 = 1;
/// Runs in flight at once.
pub const CONCURRENCY: usize = 1;
/// `--resume` runs the tasks whose records ended in an error again.
pub(crate) const RESUME_KEEP_ERRORS: bool = false;

/// The defaults `--help` shows, by argument id (the field name in
/// [`super::RunOptions`] and its flattened parts). Settings whose default is
/// computed (an environment variable, a temp dir) say so in their own help.
pub fn help() -> Vec<(&'static str, String)> {
    vec![
        ("model", MODEL.into()),
        ("format", FORMAT.into()),
        ("output_file", OUTPUT_FILE.into()),
        ("sandbox", SANDBOX.into()),
        ("max_iterations", STEP_LIMIT.to_string()),
        ("cost_limit", COST_LIMIT.to_string()),
        ("time_limit", TIME_LIMIT_SECS.to_string()),
        ("max_format_errors", MAX_FORMAT_ERRORS.to_string()),
        (
            "completion_marker",
            crate::agent::CompletionMarker::defaults()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("request_timeout", REQUEST_TIMEOUT.as_secs().to_string()),
        ("max_retries", MAX_RETRIES.to_string()),
        ("retry_delay", RETRY_DELAY.as_secs_f64().to_string()),
        ("timeout", COMMAND_TIMEOUT.as_secs().to_string()),
        ("shell", SHELL.as_str().into()),
        ("max_output_bytes", MAX_OUTPUT_BYTES.to_string()),
        ("memory", CONTAINER_MEMORY.into()),
        ("cpus", CONTAINER_CPUS.to_string()),
        ("pids_limit", CONTAINER_PIDS.to_string()),
        ("slots_per_container", SLOTS_PER_CONTAINER.to_string()),
        ("min_containers", MIN_CONTAINERS.to_string()),
        ("slot_timeout", SLOT_TIMEOUT.as_secs().to_string()),
        ("pool_idle_timeout", POOL_IDLE_TIMEOUT.as_secs().to_string()),
        ("grade_in", GRADE_IN.as_str().into()),
        ("plugin_memory", PLUGIN_MEMORY.into()),
        ("plugin_cpu", PLUGIN_CPU.as_secs().to_string()),
        ("plugin_timeout", PLUGIN_TIMEOUT.as_secs().to_string()),
        ("plugin_output_bytes", PLUGIN_OUTPUT_BYTES.to_string()),
        ("group_size", GROUP_SIZE.to_string()),
        ("retry_infra", RETRY_INFRA.to_string()),
        ("min_valid_rollouts", MIN_VALID_ROLLOUTS.to_string()),
        ("concurrency", CONCURRENCY.to_string()),
        ("resume_keep_errors", RESUME_KEEP_ERRORS.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_default_is_spelled_and_counted_alike() {
        assert_eq!(
            crate::sandbox::docker::parse_size(CONTAINER_MEMORY),
            Ok(CONTAINER_MEMORY_BYTES)
        );
        assert_eq!(
            crate::sandbox::docker::parse_size(PLUGIN_MEMORY),
            Ok(PLUGIN_MEMORY_BYTES as i64)
        );
    }
}
