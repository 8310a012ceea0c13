//! The built-in `pytest` scorer: runs the task's FAIL_TO_PASS and
//! PASS_TO_PASS pytest node ids in the sandbox plinth grades and rewards 1.0
//! when every one of them passes, else 0.0 (SWE-bench / SWE-smith style).
//!
//! - Task row: `FAIL_TO_PASS`, `PASS_TO_PASS` (lists of node ids, or JSON text
//!   of such lists), optional `test_cmd` (default `python -m pytest`).
//! - Config: `test_cmd` (overrides the row's), `chunk_size` (ids per pytest
//!   run, default 50), `timeout_secs` (per run, default 900), `cwd`,
//!   `pytest_args` (string of shell text, or list of arguments), `config_file`
//!   (pytest's `-c`: a file in the test directory, `false` for none; default:
//!   the first of pytest.ini, .pytest.ini, pyproject.toml, tox.ini, setup.cfg there
//!   that configures pytest), `plugins` (modules loaded with `-p`).
//! - pytest runs isolated from what the agent may have left: no plugin
//!   autoload, no `PYTEST_ADDOPTS` / `PYTEST_PLUGINS`, no cache provider, the
//!   root directory and configuration file given rather than searched for.
//! - Sub-scores `f2p` and `p2p`: the fraction of each list passing (1.0 for an
//!   empty list). Passing means pytest's verdict is a success: `passed`,
//!   `xfailed` or (non-strict) `xpassed`.
//! - An empty patch is graded as SWE-bench's harness grades one: it is
//!   `empty_patch` (the details' `not_evaluated`), the tests are not run,
//!   and it is unresolved: reward 0, `f2p` and `p2p` 0, every test
//!   `not_run`. The same in every task, with or without tool calls: the
//!   trajectory's `patch` decides; only when none was recorded (a task
//!   without a repository) does a trajectory without tool calls count as
//!   an empty patch, and one with tool calls run the tests.
//! - A test command that cannot run (pytest missing, usage error, sandbox
//!   failure) is a `sandbox` error, never reward 0.

pub mod parse;
mod scorer;

use plinth_sdk::{
    ExecRequest, LogLevel, PluginError, PluginInfo, Role, SandboxError, ScoreResult, Scorer,
    Session, SubScore, Trajectory, log,
};

struct Pytest;

plinth_sdk::export_scorer!(Pytest);

impl Scorer for Pytest {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "pytest",
            "Runs the task's FAIL_TO_PASS and PASS_TO_PASS pytest tests in the sandbox; reward \
             1.0 when all pass"
        )
    }

    fn score(
        task: &str,
        trajectory: Trajectory,
        config: &str,
        session: &Session,
    ) -> Result<ScoreResult, PluginError> {
        let task = scorer::parse_task(task).map_err(to_plugin_error)?;
        let config = scorer::parse_config(config).map_err(to_plugin_error)?;
        let has_tool_calls = trajectory
            .messages
            .iter()
            .any(|m| m.role == Role::Assistant && !m.tool_calls.is_empty());
        let change = scorer::Change::of(trajectory.patch.as_deref(), has_tool_calls);
        let score = scorer::score(&task, &config, change, &HostSandbox(session))
            .map_err(to_plugin_error)?;
        Ok(ScoreResult {
            reward: score.reward,
            sub_scores: score
                .sub_scores
                .into_iter()
                .map(|(name, value)| SubScore { name, value })
                .collect(),
            details: score.details.to_string(),
        })
    }
}

fn to_plugin_error(e: scorer::ScoreError) -> PluginError {
    match e {
        scorer::ScoreError::InvalidInput(m) => PluginError::InvalidInput(m),
        scorer::ScoreError::Sandbox(m) => PluginError::Sandbox(m),
    }
}

/// The host's sandbox session behind the scorer's [`scorer::Sandbox`] trait.
struct HostSandbox<'a>(&'a Session);

impl scorer::Sandbox for HostSandbox<'_> {
    fn exec(
        &self,
        command: &str,
        timeout_secs: Option<u32>,
        cwd: Option<&str>,
    ) -> Result<scorer::Exec, String> {
        let request = ExecRequest {
            timeout_secs,
            cwd: cwd.map(str::to_string),
            ..ExecRequest::new(command)
        };
        self.0
            .exec(&request)
            .map(|out| scorer::Exec {
                exit_code: out.exit_code,
                output: out.output,
                truncated: out.truncated,
                timed_out: out.timed_out,
            })
            .map_err(SandboxError::describe)
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.read_file(path).map_err(SandboxError::describe)
    }

    fn log(&self, message: &str) {
        log(LogLevel::Info, message);
    }
}
