//! Every default of a run, written once. The library's own constructors
//! (`ModelConfig::new`, `LocalConfig::default`, ...) and `--help` read them
//! from here, so a default cannot drift between the code and its docs.

use std::time::Duration;

use crate::grading::GradeIn;
use crate::settings::Shell;

/// Model asked when none is named.
pub const MODEL: &str = "claude-sonnet-4-20250514";
/// Output format when none is named.
pub const FORMAT: &str = "hermes";
/// Where records go when neither `--output-file` nor `--output-dir` is given.
pub const OUTPUT_FILE: &str = "trajectories.jsonl";
/// Sandbox backend when none is named.
pub const SANDBOX: &str = "local";

/// Most model calls per run (0: no limit).
pub const STEP_LIMIT: u32 = 15;
/// Most dollars per run (0: no limit).
pub const COST_LIMIT: f64 = 3.0;
/// Wall-clock seconds per run (0: no limit).
pub const TIME_LIMIT_SECS: f64 = 0.0;
/// Consecutive format errors that end a run.
pub const MAX_FORMAT_ERRORS: u32 = 3;

/// Most tokens one reply may generate, sent as `max_tokens` with every
/// request (`--max-tokens 0` sends none: the server's own limit). Without
/// one, a server such as llama.cpp generates until the context is full: a
/// small model that never stopped ran every request to the 300 s timeout,
/// which was retried (1,891 s for one step). 4,096 holds a long reasoning
/// and a tool call, and is within every current chat model's output cap
/// (the smallest common ones allow 4,096).
pub const MAX_TOKENS: u32 = 4096;
/// Seconds one model request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Retries of a failed model request.
pub const MAX_RETRIES: u32 = 5;
/// Wait before the first retry of a failed model request (it doubles per retry).
pub const RETRY_DELAY: Duration = Duration::from_secs(1);

/// A command's timeout when the model does not ask for one.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How the agent's commands run: one shell per trajectory, as Hermes'
/// terminal (plinth's default tool, prompts and format) keeps one.
pub const SHELL: Shell = Shell::Persistent;
/// Most bytes of one command's output the model sees (head and tail kept).
pub const MAX_OUTPUT_BYTES: usize = 10_000;

/// Working directory inside containers; pool slots live under it.
pub const CONTAINER_WORKDIR: &str = "/workspace";
/// Memory per container, as `--memory` spells it.
pub const CONTAINER_MEMORY: &str = "4g";
/// [`CONTAINER_MEMORY`] in bytes.
pub const CONTAINER_MEMORY_BYTES: i64 = 4 << 30;
/// CPUs per container.
pub const CONTAINER_CPUS: f64 = 1.0;
/// Most processes per container.
pub const CONTAINER_PIDS: i64 = 1024;
/// Workspaces per pool container.
pub const SLOTS_PER_CONTAINER: usize = 4;
/// Pool containers started before the first task.
pub const MIN_CONTAINERS: usize = 1;
/// How long a trajectory waits for a free pool slot.
pub const SLOT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long a pool container may sit with every slot free before the pool
/// shrinks by it (down to its minimum).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Linear memory of one plugin instance, as `--plugin-memory` spells it.
pub const PLUGIN_MEMORY: &str = "256m";
/// [`PLUGIN_MEMORY`] in bytes.
pub const PLUGIN_MEMORY_BYTES: usize = 256 << 20;
/// CPU time of one plugin call.
pub const PLUGIN_CPU: Duration = Duration::from_secs(10);
/// Wall-clock time of one plugin call, sandbox commands included.
pub const PLUGIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bytes of a plugin's stdout and of its stderr kept per call.
pub const PLUGIN_OUTPUT_BYTES: usize = 64 << 10;

/// Where scorers grade.
pub const GRADE_IN: GradeIn = GradeIn::Clean;

/// Rollouts per task.
pub const GROUP_SIZE: u32 = 1;
/// Runs again of a rollout that ended in an infrastructure error.
pub const RETRY_INFRA: u32 = 2;
/// Valid rollouts a group needs to stay in per-group outputs: 1 drops only
/// groups where every rollout failed.
pub const MIN_VALID_ROLLOUTS: u32 = 1;
/// Runs in flight at once.
pub const CONCURRENCY: usize = 1;
/// `--resume` runs the tasks whose records ended in an error again.
pub const RESUME_KEEP_ERRORS: bool = false;
