//! The scoring procedure, written against a small [`Sandbox`] trait so that it
//! runs natively in tests (against real bash and pytest) as well as inside
//! the component (against the host's sandbox session).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::parse::{self, Outcome, TestResult};

/// Default test command when neither the config nor the task row names one.
pub const DEFAULT_TEST_CMD: &str = "python -m pytest";
/// Node ids per pytest run.
pub const DEFAULT_CHUNK_SIZE: usize = 50;
/// Timeout of one pytest run, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u32 = 900;

/// Flags that make pytest print one summary line per test whatever the
/// project's configuration says: `-r fEsxXp` (every outcome but the captured
/// output of passing tests, which `-rA` would add), no tracebacks, no colour,
/// and keep going past modules that fail to collect.
const PYTEST_FLAGS: &str = "-rfEsxXp --tb=no --color=no --continue-on-collection-errors";
/// What the agent could otherwise use to steer pytest from the environment:
/// plugins installed in the sandbox's Python load only when named (`-p`),
/// and options or plugins from environment variables are dropped.
const ENVIRONMENT: &str =
    "export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1; unset PYTEST_ADDOPTS PYTEST_PLUGINS;";
/// No cache (no `--lf` state carried between runs or left for the agent)
/// and the root directory fixed to where pytest runs, not searched for.
const ISOLATION_FLAGS: &str = "-p no:cacheprovider --rootdir=.";
/// Where pytest's configuration may come from when the config names none,
/// in pytest's own order, each with the section that makes it pytest's.
/// Only the test directory is looked at, never its parents.
const CONFIG_FILES: [(&str, Option<&str>); 5] = [
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", Some("[tool.pytest.ini_options]")),
    ("tox.ini", Some("[pytest]")),
    ("setup.cfg", Some("[tool:pytest]")),
];
/// The configuration file given when the project has none: an empty one.
const NO_CONFIG: &str = "/dev/null";
/// Names each skipped test (pytest >= 8.3); dropped when pytest rejects it.
const NO_FOLD_SKIPPED: &str = "--no-fold-skipped";

/// Bounds on what goes into the details.
const MAX_COMMAND_CHARS: usize = 2_000;
const MAX_OUTPUT_TAIL_CHARS: usize = 2_000;
const MAX_MESSAGE_CHARS: usize = 500;

/// A command's result, as the sandbox reports it.
#[derive(Debug, Clone)]
pub struct Exec {
    pub exit_code: i32,
    pub output: String,
    pub truncated: bool,
    pub timed_out: bool,
}

/// The part of the sandbox session the scorer uses. Errors are the sandbox
/// failing (not a command failing), already described as text.
pub trait Sandbox {
    fn exec(
        &self,
        command: &str,
        timeout_secs: Option<u32>,
        cwd: Option<&str>,
    ) -> Result<Exec, String>;
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String>;
    fn log(&self, _message: &str) {}
}

/// Why scoring could not produce a reward.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreError {
    /// The task row or the config is malformed.
    InvalidInput(String),
    /// The tests could not be run: an infrastructure failure, never reward 0.
    Sandbox(String),
}

/// The reward, named sub-scores and details JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub reward: f64,
    pub sub_scores: Vec<(String, f64)>,
    pub details: Value,
}

/// The test lists and command of a task row.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub test_cmd: Option<String>,
}

/// The scorer's options (`--scorer-config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Overrides the task row's `test_cmd`.
    pub test_cmd: Option<String>,
    pub chunk_size: usize,
    pub timeout_secs: u32,
    /// Working directory of the test command; None: the sandbox's.
    pub cwd: Option<String>,
    /// Shell text appended after the scorer's pytest flags.
    pub pytest_args: String,
    /// Where pytest's configuration comes from.
    pub config_file: ConfigFile,
    /// Plugin modules to load (`-p`): nothing is loaded by itself.
    pub plugins: Vec<String>,
}

/// The configuration file pytest is given (`-c`), so it never searches for
/// one itself.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigFile {
    /// The first of [`CONFIG_FILES`] in the test directory that configures
    /// pytest, else none.
    Auto,
    /// This file (relative to the test directory).
    Path(String),
    /// An empty configuration.
    None,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            test_cmd: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            cwd: None,
            pytest_args: String::new(),
            config_file: ConfigFile::Auto,
            plugins: Vec::new(),
        }
    }
}

/// Reads `FAIL_TO_PASS`, `PASS_TO_PASS` (lists of node ids, or JSON text of
/// such lists as SWE-bench publishes them) and `test_cmd` from a task row.
pub fn parse_task(task: &str) -> Result<Task, ScoreError> {
    let value: Value = serde_json::from_str(task)
        .map_err(|e| ScoreError::InvalidInput(format!("the task row is not valid JSON: {e}")))?;
    let Value::Object(row) = value else {
        return Err(ScoreError::InvalidInput(
            "the task row is not a JSON object".into(),
        ));
    };
    let fail_to_pass = id_list(&row, "FAIL_TO_PASS")?;
    let pass_to_pass = id_list(&row, "PASS_TO_PASS")?;
    if fail_to_pass.is_empty() && pass_to_pass.is_empty() {
        return Err(ScoreError::InvalidInput(
            "the task row has no FAIL_TO_PASS or PASS_TO_PASS tests for the pytest scorer".into(),
        ));
    }
    let test_cmd = optional_command(&row, "test_cmd", "the task row's")?;
    Ok(Task {
        fail_to_pass,
        pass_to_pass,
        test_cmd,
    })
}

fn id_list(row: &Map<String, Value>, key: &str) -> Result<Vec<String>, ScoreError> {
    let invalid = |why: &str| {
        ScoreError::InvalidInput(format!(
            "the task row's `{key}` {why}: expected a list of pytest node ids or a JSON string of one"
        ))
    };
    let list = match row.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Array(items)) => items,
            _ => return Err(invalid("is a string that is not a JSON list")),
        },
        Some(_) => return Err(invalid("has the wrong type")),
    };
    let mut ids = Vec::with_capacity(list.len());
    for item in list {
        match item {
            Value::String(id) if !id.trim().is_empty() && !id.contains('\0') => ids.push(id),
            _ => return Err(invalid("holds an item that is not a non-empty string")),
        }
    }
    Ok(ids)
}

fn optional_command(
    map: &Map<String, Value>,
    key: &str,
    whose: &str,
) -> Result<Option<String>, ScoreError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && !s.contains('\0') => {
            Ok(Some(s.trim().to_string()))
        }
        Some(_) => Err(ScoreError::InvalidInput(format!(
            "{whose} `{key}` must be a non-empty string"
        ))),
    }
}

/// Reads the scorer config: a JSON object (or empty text / `null`) with
/// `test_cmd`, `chunk_size`, `timeout_secs`, `cwd` and `pytest_args` (a string
/// of shell text, or a list of arguments each quoted for the shell).
pub fn parse_config(config: &str) -> Result<Config, ScoreError> {
    let mut out = Config::default();
    if config.trim().is_empty() {
        return Ok(out);
    }
    let value: Value = serde_json::from_str(config).map_err(|e| {
        ScoreError::InvalidInput(format!("the pytest scorer config is not valid JSON: {e}"))
    })?;
    let map = match value {
        Value::Null => return Ok(out),
        Value::Object(map) => map,
        _ => {
            return Err(ScoreError::InvalidInput(
                "the pytest scorer config must be a JSON object".into(),
            ));
        }
    };
    let invalid = |key: &str, what: &str| {
        ScoreError::InvalidInput(format!("pytest scorer option `{key}` must be {what}"))
    };
    for (key, value) in &map {
        match key.as_str() {
            "test_cmd" => out.test_cmd = optional_command(&map, key, "pytest scorer option")?,
            "chunk_size" => {
                out.chunk_size = value
                    .as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(key, "a positive integer"))?
                    as usize;
            }
            "timeout_secs" => {
                out.timeout_secs = match value {
                    Value::Null => DEFAULT_TIMEOUT_SECS,
                    v => v
                        .as_u64()
                        .filter(|n| *n > 0 && *n <= u64::from(u32::MAX))
                        .ok_or_else(|| invalid(key, "a positive integer (seconds)"))?
                        as u32,
                };
            }
            "cwd" => {
                out.cwd = match value {
                    Value::Null => None,
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    _ => return Err(invalid(key, "a non-empty string")),
                };
            }
            "pytest_args" => {
                out.pytest_args = match value {
                    Value::Null => String::new(),
                    Value::String(s) => s.trim().to_string(),
                    Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().map(shell_quote))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| invalid(key, "a string or a list of strings"))?
                        .join(" "),
                    _ => return Err(invalid(key, "a string or a list of strings")),
                };
            }
            "config_file" => {
                out.config_file = match value {
                    Value::Null => ConfigFile::Auto,
                    Value::Bool(false) => ConfigFile::None,
                    Value::String(s) if !s.trim().is_empty() && !s.contains('\0') => {
                        ConfigFile::Path(s.clone())
                    }
                    _ => return Err(invalid(key, "a file name, null (find it) or false (none)")),
                };
            }
            "plugins" => {
                out.plugins = value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| invalid(key, "a list of module names"))?;
            }
            other => {
                return Err(ScoreError::InvalidInput(format!(
                    "unknown pytest scorer option `{other}` (known: test_cmd, chunk_size, \
                     timeout_secs, cwd, pytest_args, config_file, plugins)"
                )));
            }
        }
    }
    Ok(out)
}

/// Quotes a word for bash: as is when it is made of safe characters only,
/// else in single quotes (a `'` inside becomes `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b);
    if !word.is_empty() && word.bytes().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How pytest is isolated from what the agent left: its configuration file
/// and the plugins it may load.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation<'a> {
    pub config_file: &'a str,
    pub plugins: &'a [String],
}

/// The pytest command line for `ids`, without any redirection.
pub fn test_command(
    test_cmd: &str,
    isolation: &Isolation,
    no_fold_skipped: bool,
    pytest_args: &str,
    ids: &[String],
) -> String {
    let mut command = format!(
        "{ENVIRONMENT} {test_cmd} {PYTEST_FLAGS} {ISOLATION_FLAGS} -c {}",
        shell_quote(isolation.config_file)
    );
    for plugin in isolation.plugins {
        command.push_str(" -p ");
        command.push_str(&shell_quote(plugin));
    }
    if no_fold_skipped {
        command.push(' ');
        command.push_str(NO_FOLD_SKIPPED);
    }
    if !pytest_args.is_empty() {
        command.push(' ');
        command.push_str(pytest_args);
    }
    for id in ids {
        command.push(' ');
        command.push_str(&shell_quote(id));
    }
    command
}

/// What the agent left for the tests to judge, as far as its trajectory
/// tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the recorded patch is empty (blank), or no patch was recorded
    /// (the task has no repository to diff) and the agent made no tool call.
    /// Graded as SWE-bench's harness grades an empty patch: `empty_patch`,
    /// the tests not run, unresolved.
    Empty,
    /// A patch, or tool calls whose effect no patch records: the tests run.
    Made,
}

impl Change {
    /// From the trajectory's `patch` and whether any assistant message made
    /// a tool call. The patch decides when there is one, whatever the calls:
    /// the same empty patch is graded the same way in every task.
    pub fn of(patch: Option<&str>, has_tool_calls: bool) -> Self {
        let empty = match patch {
            Some(patch) => patch.trim().is_empty(),
            None => !has_tool_calls,
        };
        if empty { Self::Empty } else { Self::Made }
    }
}

/// Scores a task. An [`Change::Empty`] change rewards 0 with both
/// sub-scores 0 and runs nothing.
pub fn score(
    task: &Task,
    config: &Config,
    change: Change,
    sandbox: &dyn Sandbox,
) -> Result<Score, ScoreError> {
    let test_cmd = config
        .test_cmd
        .clone()
        .or_else(|| task.test_cmd.clone())
        .unwrap_or_else(|| DEFAULT_TEST_CMD.to_string());

    let mut all: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for id in task.fail_to_pass.iter().chain(&task.pass_to_pass) {
        if seen.insert(id.as_str()) {
            all.push(id.clone());
        }
    }

    if change == Change::Empty {
        let not_run = |ids: &[String]| -> Map<String, Value> {
            ids.iter()
                .map(|id| (id.clone(), Value::from("not_run")))
                .collect()
        };
        return Ok(Score {
            reward: 0.0,
            sub_scores: vec![("f2p".into(), 0.0), ("p2p".into(), 0.0)],
            details: json!({
                "resolved": false,
                "not_evaluated": "empty_patch",
                "reason": "the agent changed nothing (an empty patch, as SWE-bench's harness \
                           calls it): the tests were not run and the task is unresolved",
                "test_cmd": test_cmd,
                "FAIL_TO_PASS": not_run(&task.fail_to_pass),
                "PASS_TO_PASS": not_run(&task.pass_to_pass),
            }),
        });
    }

    let mut runner = Runner::new(sandbox, config, test_cmd.clone());
    runner.start()?;
    runner.choose_config_file();
    let chunks: Vec<&[String]> = all.chunks(config.chunk_size.max(1)).collect();
    sandbox.log(&format!(
        "running {} test(s) in {} pytest run(s) of up to {}",
        all.len(),
        chunks.len(),
        config.chunk_size
    ));
    let ran = chunks.iter().try_for_each(|chunk| runner.run_ids(chunk));
    runner.finish();
    ran?;

    let results: Vec<(String, TestResult)> = all
        .iter()
        .map(|id| (id.clone(), runner.final_result(id)))
        .collect();
    if results.iter().all(|(_, r)| r.outcome == Outcome::NotFound) {
        return Err(ScoreError::Sandbox(format!(
            "pytest found none of the {} listed tests: is the working directory or the test \
             command wrong? (last output: {})",
            all.len(),
            runner.last_output_tail()
        )));
    }
    let by_id: HashMap<&str, &TestResult> =
        results.iter().map(|(id, r)| (id.as_str(), r)).collect();
    let fraction = |ids: &[String]| {
        if ids.is_empty() {
            1.0
        } else {
            ids.iter()
                .filter(|id| by_id[id.as_str()].outcome.is_pass())
                .count() as f64
                / ids.len() as f64
        }
    };
    let f2p = fraction(&task.fail_to_pass);
    let p2p = fraction(&task.pass_to_pass);
    let passed = results.iter().filter(|(_, r)| r.outcome.is_pass()).count();
    let reward = if passed == results.len() { 1.0 } else { 0.0 };

    let outcomes = |ids: &[String]| -> Map<String, Value> {
        ids.iter()
            .map(|id| (id.clone(), Value::from(by_id[id.as_str()].outcome.as_str())))
            .collect()
    };
    let messages: Map<String, Value> = results
        .iter()
        .filter_map(|(id, r)| {
            r.message
                .as_ref()
                .map(|m| (id.clone(), Value::from(bounded_head(m, MAX_MESSAGE_CHARS))))
        })
        .collect();
    let mut details = json!({
        "test_cmd": test_cmd,
        "config_file": runner.config_file,
        "passed": passed,
        "total": results.len(),
        "FAIL_TO_PASS": outcomes(&task.fail_to_pass),
        "PASS_TO_PASS": outcomes(&task.pass_to_pass),
        "messages": messages,
    });
    let extra = details.as_object_mut().expect("details is an object");
    if !runner.collection_errors.is_empty() {
        extra.insert("collection_errors".into(), json!(runner.collection_errors));
    }
    if !runner.folded_skips.is_empty() {
        extra.insert(
            "unattributed_skips".into(),
            json!(runner.folded_skips.iter().take(50).collect::<Vec<_>>()),
        );
    }
    if !runner.notes.is_empty() {
        extra.insert("notes".into(), json!(runner.notes));
    }
    extra.insert(
        "runs".into(),
        Value::Array(std::mem::take(&mut runner.runs)),
    );
    Ok(Score {
        reward,
        sub_scores: vec![("f2p".into(), f2p), ("p2p".into(), p2p)],
        details,
    })
}

/// Runs chunks of node ids and collects their results.
struct Runner<'a> {
    sandbox: &'a dyn Sandbox,
    config: &'a Config,
    test_cmd: String,
    /// A temp dir in the sandbox for pytest's output; None: read the output
    /// from the exec result (it may be truncated).
    log_dir: Option<String>,
    /// The `-c` file every run gets.
    config_file: String,
    no_fold_skipped: bool,
    results: HashMap<String, TestResult>,
    collection_errors: BTreeMap<String, Option<String>>,
    folded_skips: Vec<String>,
    notes: Vec<String>,
    runs: Vec<Value>,
    last_tail: String,
}

impl<'a> Runner<'a> {
    fn new(sandbox: &'a dyn Sandbox, config: &'a Config, test_cmd: String) -> Self {
        Self {
            sandbox,
            config,
            test_cmd,
            log_dir: None,
            config_file: NO_CONFIG.to_string(),
            no_fold_skipped: true,
            results: HashMap::new(),
            collection_errors: BTreeMap::new(),
            folded_skips: Vec::new(),
            notes: Vec::new(),
            runs: Vec::new(),
            last_tail: String::new(),
        }
    }

    /// Makes a temp dir for pytest's output, so that it is read back whole
    /// rather than through the exec output's size limit.
    fn start(&mut self) -> Result<(), ScoreError> {
        let out = self
            .sandbox
            .exec(
                r#"mktemp -d "${TMPDIR:-/tmp}/plinth-pytest.XXXXXX""#,
                Some(60),
                None,
            )
            .map_err(|e| {
                ScoreError::Sandbox(format!("the sandbox failed before the tests ran: {e}"))
            })?;
        let dir = out.output.trim();
        if out.exit_code == 0 && dir.starts_with('/') && !dir.contains('\n') {
            self.log_dir = Some(dir.to_string());
        } else {
            self.notes.push(format!(
                "mktemp failed (exit code {}), pytest output was read from the command output",
                out.exit_code
            ));
        }
        Ok(())
    }

    /// The configuration file the runs get: the config's, or the first of
    /// the project's [`CONFIG_FILES`] that configures pytest, or none.
    fn choose_config_file(&mut self) {
        let in_test_dir = |name: &str| match &self.config.cwd {
            Some(cwd) => format!("{}/{name}", cwd.trim_end_matches('/')),
            None => name.to_string(),
        };
        self.config_file = match &self.config.config_file {
            ConfigFile::Path(path) => path.clone(),
            ConfigFile::None => NO_CONFIG.to_string(),
            ConfigFile::Auto => CONFIG_FILES
                .iter()
                .find(|(name, section)| {
                    self.sandbox
                        .read_file(&in_test_dir(name))
                        .is_ok_and(|bytes| {
                            section.is_none_or(|s| String::from_utf8_lossy(&bytes).contains(s))
                        })
                })
                .map_or(NO_CONFIG.to_string(), |(name, _)| name.to_string()),
        };
    }

    fn finish(&mut self) {
        if let Some(dir) = self.log_dir.take() {
            let _ = self
                .sandbox
                .exec(&format!("rm -rf -- {}", shell_quote(&dir)), Some(60), None);
        }
    }

    fn record(&mut self, id: &str, result: TestResult) {
        match self.results.get_mut(id) {
            Some(existing) => existing.merge(result),
            None => {
                self.results.insert(id.to_string(), result);
            }
        }
    }

    /// An id's result after every run: what a summary line said, else an
    /// error when its file failed to collect, else missing.
    fn final_result(&self, id: &str) -> TestResult {
        let collection_error = || {
            let file = parse::file_part(id.strip_prefix("./").unwrap_or(id));
            self.collection_errors.iter().find(|(path, _)| {
                file == path.as_str()
                    || file
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        match self.results.get(id) {
            Some(r) if !matches!(r.outcome, Outcome::NotFound | Outcome::Missing) => r.clone(),
            other => match collection_error() {
                Some((path, message)) => TestResult::new(
                    Outcome::Error,
                    Some(match message {
                        Some(m) => format!("{path} failed to collect: {m}"),
                        None => format!("{path} failed to collect"),
                    }),
                ),
                None => other
                    .cloned()
                    .unwrap_or_else(|| TestResult::new(Outcome::Missing, None)),
            },
        }
    }

    fn last_output_tail(&self) -> String {
        self.last_tail.clone()
    }

    /// Runs pytest on `ids` once, returning the exec result and its output.
    fn run_once(&mut self, ids: &[String]) -> Result<(Exec, String), ScoreError> {
        let isolation = Isolation {
            config_file: &self.config_file,
            plugins: &self.config.plugins,
        };
        let pytest = test_command(
            &self.test_cmd,
            &isolation,
            self.no_fold_skipped,
            &self.config.pytest_args,
            ids,
        );
        let log = self
            .log_dir
            .as_ref()
            .map(|dir| format!("{dir}/run-{}.log", self.runs.len() + 1));
        let command = match &log {
            // A group, so the redirection also covers `a && pytest` commands;
            // the newline ends the list even if the args end in a comment.
            Some(log) => format!("{{ {pytest}\n}} > {} 2>&1", shell_quote(log)),
            None => format!("{pytest} 2>&1"),
        };
        let exec = self
            .sandbox
            .exec(
                &command,
                Some(self.config.timeout_secs),
                self.config.cwd.as_deref(),
            )
            .map_err(|e| {
                ScoreError::Sandbox(format!("the sandbox failed while running the tests: {e}"))
            })?;
        let output = match &log {
            Some(log) => match self.sandbox.read_file(log) {
                Ok(bytes) => {
                    let mut text = String::from_utf8_lossy(&bytes).into_owned();
                    if !exec.output.trim().is_empty() {
                        // The shell's own complaints (e.g. a bad cwd).
                        text.push('\n');
                        text.push_str(&exec.output);
                    }
                    text
                }
                Err(e) => {
                    return Err(ScoreError::Sandbox(format!(
                        "cannot read pytest's output back from the sandbox ({e}); the command \
                         exited with {}: {}",
                        exec.exit_code,
                        bounded_tail(&exec.output, MAX_OUTPUT_TAIL_CHARS)
                    )));
                }
            },
            None => exec.output.clone(),
        };
        self.last_tail = bounded_tail(&output, MAX_OUTPUT_TAIL_CHARS);
        self.runs.push(json!({
            "command": bounded_head(&pytest, MAX_COMMAND_CHARS),
            "tests": ids.len(),
            "exit_code": exec.exit_code,
            "timed_out": exec.timed_out,
            "output_tail": self.last_tail,
        }));
        self.sandbox.log(&format!(
            "pytest run {} ({} test(s)) exited with {}{}",
            self.runs.len(),
            ids.len(),
            exec.exit_code,
            if exec.timed_out { " (timed out)" } else { "" }
        ));
        Ok((exec, output))
    }

    /// Runs `ids` (retrying without the ids pytest cannot find) and records
    /// their results.
    fn run_ids(&mut self, ids: &[String]) -> Result<(), ScoreError> {
        let (exec, output, report) = loop {
            let (exec, output) = self.run_once(ids)?;
            let report = parse::parse(&output, ids);
            if exec.exit_code == 4 && report.rejected_no_fold_skipped && self.no_fold_skipped {
                self.no_fold_skipped = false;
                self.notes.push(format!(
                    "pytest does not know {NO_FOLD_SKIPPED} (it needs pytest 8.3): skipped \
                     tests show as missing"
                ));
                continue;
            }
            break (exec, output, report);
        };
        for (path, message) in &report.collection_errors {
            let entry = self.collection_errors.entry(path.clone()).or_default();
            if entry.is_none() {
                *entry = message.clone();
            }
        }
        self.folded_skips
            .extend(report.folded_skips.iter().cloned());

        let tail = || bounded_tail(&output, MAX_OUTPUT_TAIL_CHARS);
        if exec.timed_out {
            for id in ids {
                let result = report.results.get(id).cloned().unwrap_or_else(|| {
                    TestResult::new(
                        Outcome::Timeout,
                        Some(format!(
                            "the test command timed out after {}s",
                            self.config.timeout_secs
                        )),
                    )
                });
                self.record(id, result);
            }
            return Ok(());
        }
        match exec.exit_code {
            // 0 all passed, 1 some failed, 2 interrupted, 5 no tests collected.
            0 | 1 | 2 | 5 => {
                if !report.ran_pytest {
                    return Err(ScoreError::Sandbox(format!(
                        "the test command did not run pytest (exit code {}): {}",
                        exec.exit_code,
                        tail()
                    )));
                }
                if !report.has_summary && exec.exit_code != 5 && !report.no_tests_ran {
                    return Err(ScoreError::Sandbox(format!(
                        "pytest printed no short test summary (exit code {}), so per-test \
                         outcomes cannot be read; does the test command override `-r`? {}",
                        exec.exit_code,
                        tail()
                    )));
                }
            }
            4 if !report.not_found.is_empty() => return self.retry_without_missing(ids, &report),
            4 => {
                return Err(ScoreError::Sandbox(format!(
                    "pytest could not start (exit code 4: usage error or conftest failing to \
                     load): {}",
                    tail()
                )));
            }
            code if !report.has_summary => {
                return Err(ScoreError::Sandbox(format!(
                    "the test command exited with {code} before pytest reported results \
                     (127: command not found, 3: pytest internal error, 128+N: killed by \
                     signal N): {}",
                    tail()
                )));
            }
            // Exited oddly after the summary (e.g. a crash at exit): the
            // summary still holds.
            _ => {}
        }
        if exec.truncated
            && self.log_dir.is_none()
            && ids.iter().any(|id| !report.results.contains_key(id))
        {
            return Err(ScoreError::Sandbox(
                "pytest's output was truncated by the sandbox and some results are missing; \
                 use a smaller chunk_size"
                    .into(),
            ));
        }
        for (id, result) in report.results {
            self.record(&id, result);
        }
        Ok(())
    }

    /// pytest refused the run because some ids do not exist (exit code 4):
    /// mark those it names, and run the others again; when its messages do
    /// not say which ids they are, split the suspects in halves.
    fn retry_without_missing(
        &mut self,
        ids: &[String],
        report: &parse::Report,
    ) -> Result<(), ScoreError> {
        let named: Vec<&String> = ids
            .iter()
            .filter(|id| report.not_found.iter().any(|nf| nf.names(id)))
            .collect();
        if !named.is_empty() {
            for id in &named {
                self.record(id, not_found());
            }
            let rest: Vec<String> = ids
                .iter()
                .filter(|id| !named.contains(id))
                .cloned()
                .collect();
            return if rest.is_empty() {
                Ok(())
            } else {
                self.run_ids(&rest)
            };
        }
        if ids.len() == 1 {
            self.record(&ids[0], not_found());
            return Ok(());
        }
        let suspects: Vec<String> = ids
            .iter()
            .filter(|id| report.not_found.iter().any(|nf| nf.may_name(id)))
            .cloned()
            .collect();
        let suspects = if suspects.is_empty() {
            ids.to_vec()
        } else {
            suspects
        };
        let others: Vec<String> = ids
            .iter()
            .filter(|id| !suspects.contains(id))
            .cloned()
            .collect();
        if !others.is_empty() {
            self.run_ids(&others)?;
        }
        if suspects.len() == 1 {
            // Each message names some id of this run, and only this one fits.
            self.record(&suspects[0], not_found());
            return Ok(());
        }
        let (left, right) = suspects.split_at(suspects.len() / 2);
        self.run_ids(left)?;
        self.run_ids(right)
    }
}

fn not_found() -> TestResult {
    TestResult::new(
        Outcome::NotFound,
        Some("pytest could not find this test".into()),
    )
}

/// The first `max` characters of `s`, with a note of how many were cut.
fn bounded_head(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}… [{} more bytes]", &s[..cut], s.len() - cut),
    }
}

/// The last `max` characters of `s`, with a note of how many were cut.
fn bounded_tail(s: &str, max: usize) -> String {
    let s = s.trim_end();
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    let (start, _) = s.char_indices().nth(count - max).expect("within bounds");
    format!("[{} bytes cut] …{}", start, &s[start..])
}

#[cfg(test)]
mod tests;
