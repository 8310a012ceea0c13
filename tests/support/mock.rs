//! `plinth run` against the scripted mock chat server
//! (`plinth_mock_llm`), in a scratch directory of its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use plinth_mock_llm::{Attempt, MockConfig, MockServer, RecordedRequest, Script};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::run::{Outcome, plinth, read_jsonl, read_jsonl_if_any};

/// The model plinth asks the mock for.
pub const MODEL: &str = "mock-model";

/// A mock server playing a script, and a scratch directory for one test.
pub struct Ctx {
    pub server: MockServer,
    pub dir: TempDir,
}

impl Ctx {
    pub async fn new(script: Script) -> Self {
        Self::with_config(MockConfig::scripted(script)).await
    }

    /// A mock server configured as `config` says (faults, latency, ...).
    pub async fn with_config(config: MockConfig) -> Self {
        super::warm_plugin_cache();
        let server = MockServer::start(config)
            .await
            .expect("starting the mock server");
        // `plinth-agent-run-...` for the `agent_run` tests, and so on.
        let prefix = format!("plinth-{}-", env!("CARGO_CRATE_NAME").replace('_', "-"));
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .expect("creating a scratch directory");
        Self { server, dir }
    }

    /// A server playing `steps` for every prompt.
    pub async fn with_steps(steps: Vec<Vec<Attempt>>) -> Self {
        Self::new(Script::new().task("t", steps).default_task("t")).await
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where [`Ctx::command`] has plinth write its records.
    pub fn output(&self) -> PathBuf {
        self.path("out.jsonl")
    }

    /// Writes JSONL task rows to `tasks.jsonl` and returns its path.
    pub fn tasks(&self, rows: &[Value]) -> PathBuf {
        let path = self.path("tasks.jsonl");
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(&path, text).expect("writing tasks");
        path
    }

    /// `plinth run` against the mock, writing records to [`Ctx::output`] in
    /// the canonical format unless `args` name another `--format`. Its
    /// stdout and stderr are piped unless the caller sets them.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::from(plinth());
        command
            .arg("run")
            .args(["--base-url", &self.server.base_url(), "--model", MODEL])
            .arg("--output-file")
            .arg(self.output());
        if !args.contains(&"--format") {
            command.args(["--format", "canonical"]);
        }
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts [`Ctx::command`]; returns the process and its pid.
    pub fn start(&self, args: &[&str]) -> (tokio::process::Child, u32) {
        let child = self.command(args).spawn().expect("starting plinth");
        let pid = child.id().expect("a pid");
        (child, pid)
    }

    /// Runs plinth to its end.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command(args).output().await.expect("running plinth"))
    }

    /// Runs plinth to its end; returns its pid (for what it labelled with
    /// it) and what it did.
    pub async fn run_with_pid(&self, args: &[&str]) -> (u32, Outcome) {
        let (child, pid) = self.start(args);
        (pid, finish(child).await)
    }

    /// Runs one `--task` and returns its canonical record; the run must
    /// succeed.
    pub async fn run_task(&self, args: &[&str]) -> Value {
        let mut all = vec!["--task", "Please do the task."];
        all.extend_from_slice(args);
        let outcome = self.run(&all).await;
        outcome.assert_success();
        let mut records = read_jsonl(&self.output());
        assert_eq!(records.len(), 1, "{}", outcome.describe());
        records.remove(0)
    }

    /// The records by task id (none when the run wrote no output file).
    pub fn records(&self) -> BTreeMap<String, Value> {
        read_jsonl_if_any(&self.output())
            .into_iter()
            .map(|t| (t["id"].as_str().expect("id").to_string(), t))
            .collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }
}

/// Waits for a plinth started by [`Ctx::start`] to end.
pub async fn finish(child: tokio::process::Child) -> Outcome {
    Outcome::from(child.wait_with_output().await.expect("plinth ends"))
}

/// A native call of the terminal tool running `command`.
pub fn run_cmd(command: &str) -> Attempt {
    Attempt::tool_call("terminal", &json!({ "command": command }).to_string())
}

/// A record's `exit_status`.
pub fn status(trajectory: &Value) -> &str {
    trajectory["exit_status"].as_str().expect("exit_status")
}
