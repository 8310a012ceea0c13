//! The scoring procedure (what `run_instance` does once the model patch is applied),
//! against a small [`Sandbox`] trait so it runs natively in tests and inside a component:
//! the harness's eval script in one exec, its output read back whole, the log section
//! parsed with the format's parser, graded as `get_eval_report` grades.

use serde_json::{Map, Value, json};

use crate::eval_script::{DEFAULT_ACTIVATION, Environment, EvalScript, quote};
use crate::instance::Instance;
use crate::parse::{ParseFn, Parser, log_eval, universal_newlines};
use crate::report::InstanceReport;
use crate::spec::{harness, parser_of};

/// The eval script's timeout when the config names none (the harness's default).
pub const DEFAULT_TIMEOUT_SECS: u32 = 1800;
/// Characters of the log's end kept in the details.
const LOG_TAIL_CHARS: usize = 4_000;
/// Exit codes of a command bash could not run (126: not executable, 127: not found).
const CANNOT_RUN: [i32; 2] = [126, 127];

/// A command's result, as the sandbox reports it.
#[derive(Debug, Clone)]
pub struct Exec {
    pub exit_code: i32,
    pub output: String,
    pub timed_out: bool,
}

/// The part of the sandbox session the scorer uses. Errors are the sandbox failing (not a
/// command failing), already described as text.
pub trait Sandbox {
    fn exec(&self, command: &str, timeout_secs: Option<u32>) -> Result<Exec, String>;
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String>;
    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String>;
    fn log(&self, _message: &str) {}
}

/// Why scoring produced no reward.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The task row or the config is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// The tests could not be run: an infrastructure failure, never reward 0.
    #[error("{0}")]
    Sandbox(String),
}

/// The scorer's options (`--scorer-config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub environment: Environment,
    pub timeout_secs: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            environment: Environment::default(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }
}

impl Config {
    /// Reads the config: a JSON object (or empty text / `null`) with `env_activation` (a
    /// command, or a list of them, one script line each), `repo_dir`, `timeout_secs` and
    /// `test_cmd`.
    pub fn from_json(text: &str) -> Result<Self, ScoreError> {
        let mut config = Self::default();
        if text.trim().is_empty() {
            return Ok(config);
        }
        let map = match serde_json::from_str(text) {
            Ok(Value::Null) => return Ok(config),
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(invalid("the swebench scorer config must be a JSON object")),
            Err(e) => {
                return Err(invalid(&format!(
                    "the swebench scorer config is not valid JSON: {e}"
                )));
            }
        };
        let bad = |key: &str, what: &str| {
            invalid(&format!("swebench scorer option `{key}` must be {what}"))
        };
        let line = |v: &Value| {
            v.as_str()
                .filter(|s| !s.trim().is_empty() && !s.contains('\n'))
                .map(str::to_string)
        };
        for (key, value) in &map {
            let env = &mut config.environment;
            match key.as_str() {
                "env_activation" => {
                    env.activation = match value {
                        Value::Null => DEFAULT_ACTIVATION.iter().map(|s| s.to_string()).collect(),
                        Value::Array(items) => items
                            .iter()
                            .map(line)
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                            bad(key, "a command or a list of one-line commands")
                        })?,
                        v => vec![line(v).ok_or_else(|| bad(key, "a one-line command"))?],
                    }
                }
                "repo_dir" => {
                    env.repo_dir = line(value)
                        .filter(|d| d.starts_with('/'))
                        .ok_or_else(|| bad(key, "an absolute directory"))?;
                }
                "test_cmd" => {
                    env.test_cmd = match value {
                        Value::Null => None,
                        v => Some(line(v).ok_or_else(|| bad(key, "a one-line command"))?),
                    }
                }
                "timeout_secs" => {
                    config.timeout_secs = value
                        .as_u64()
                        .filter(|n| *n > 0 && *n <= u64::from(u32::MAX))
                        .ok_or_else(|| bad(key, "a positive number of seconds"))?
                        as u32;
                }
                other => {
                    return Err(invalid(&format!(
                        "unknown swebench scorer option `{other}` (known: env_activation, \
                         repo_dir, test_cmd, timeout_secs)"
                    )));
                }
            }
        }
        Ok(config)
    }
}

fn invalid(message: &str) -> ScoreError {
    ScoreError::InvalidInput(message.to_string())
}

/// The reward, named sub-scores and details JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub reward: f64,
    pub sub_scores: Vec<(String, f64)>,
    pub details: Value,
}

/// Grades an instance whose model patch the sandbox's repository already holds, reading
/// the log with `parse`, the function of `parser` (the component's format; passed on its
/// own so that a component links only its own parser).
pub fn score(
    instance: &Instance,
    config: &Config,
    parser: Parser,
    parse: ParseFn,
    sandbox: &dyn Sandbox,
) -> Result<Score, ScoreError> {
    if let Some(expected) = parser_of(&instance.repo)
        && expected != parser
    {
        return Err(invalid(&format!(
            "the harness grades `{}` with its {} parser, not {}: use the swebench-{} scorer",
            instance.repo,
            expected.name(),
            parser.name(),
            expected.name().replace('_', "-")
        )));
    }
    let script =
        EvalScript::of(instance, &config.environment).map_err(|e| invalid(&e.to_string()))?;
    let env = &config.environment;
    let preflight = format!(
        "{} && cd {} && git rev-parse --git-dir",
        env.activation.join(" && "),
        quote(&env.repo_dir)
    );
    let out = run(sandbox, &preflight, 600)?;
    if out.exit_code != 0 {
        return Err(ScoreError::Sandbox(format!(
            "the test environment is not usable (activation, or `cd {}` to a git \
             repository, exited with {}): {}",
            env.repo_dir,
            out.exit_code,
            tail(&out.output, 1_000)
        )));
    }
    let out = run(
        sandbox,
        r#"mktemp -d "${TMPDIR:-/tmp}/plinth-swebench.XXXXXX""#,
        60,
    )?;
    let dir = out.output.trim().to_string();
    if out.exit_code != 0 || !dir.starts_with('/') || dir.contains('\n') {
        return Err(ScoreError::Sandbox(format!(
            "mktemp failed in the sandbox (exit code {}): {}",
            out.exit_code,
            tail(&out.output, 500)
        )));
    }
    let result = score_in(instance, config, parse, sandbox, &script, &dir);
    let _ = sandbox.exec(&format!("rm -rf -- {}", quote(&dir)), Some(60));
    result
}

fn run(sandbox: &dyn Sandbox, command: &str, timeout: u32) -> Result<Exec, ScoreError> {
    sandbox
        .exec(command, Some(timeout))
        .map_err(|e| ScoreError::Sandbox(format!("the sandbox failed: {e}")))
}

fn score_in(
    instance: &Instance,
    config: &Config,
    parse: ParseFn,
    sandbox: &dyn Sandbox,
    script: &EvalScript,
    dir: &str,
) -> Result<Score, ScoreError> {
    let (script_path, log_path) = (format!("{dir}/eval.sh"), format!("{dir}/test_output.txt"));
    let (apply_rc, test_rc) = (
        format!("{dir}/test_patch_exit_code"),
        format!("{dir}/test_exit_code"),
    );
    sandbox
        .write_file(
            &script_path,
            script.instrumented(&apply_rc, &test_rc).as_bytes(),
        )
        .map_err(|e| ScoreError::Sandbox(format!("cannot write the eval script: {e}")))?;
    let exec = run(
        sandbox,
        &format!(
            "/bin/bash {} > {} 2>&1",
            quote(&script_path),
            quote(&log_path)
        ),
        config.timeout_secs,
    )?;
    let bytes = sandbox.read_file(&log_path).map_err(|e| {
        ScoreError::Sandbox(format!("cannot read the eval script's output back: {e}"))
    })?;
    let mut log = String::from_utf8_lossy(&bytes).into_owned();
    let exit_code = |path: &str| -> Option<i32> {
        let text = sandbox.read_file(path).ok()?;
        String::from_utf8_lossy(&text).trim().parse().ok()
    };
    let (apply_exit, test_exit) = (exit_code(&apply_rc), exit_code(&test_rc));
    sandbox.log(&format!(
        "{}: eval script exited with {}{}; test command exit code {:?}",
        instance.instance_id,
        exec.exit_code,
        if exec.timed_out { " (timed out)" } else { "" },
        test_exit
    ));

    let mut details = Map::new();
    details.insert("instance_id".into(), json!(instance.instance_id));
    details.insert("test_patch_exit_code".into(), json!(apply_exit));
    details.insert("test_exit_code".into(), json!(test_exit));
    if exec.timed_out {
        // `run_instance` appends this and raises: no report, so unresolved.
        log.push_str(&format!(
            "\n\nTimeout error: {} seconds exceeded.",
            config.timeout_secs
        ));
        details.insert(
            "error".into(),
            json!("the eval script timed out; the harness reports no result (unresolved)"),
        );
        details.insert(
            "log_tail".into(),
            json!(tail(&universal_newlines(&log), LOG_TAIL_CHARS)),
        );
        return Ok(unresolved(details));
    }
    match test_exit {
        None => {
            return Err(ScoreError::Sandbox(format!(
                "the eval script ended before its test command (exit code {}): {}",
                exec.exit_code,
                tail(&log, 2_000)
            )));
        }
        Some(code) if CANNOT_RUN.contains(&code) => {
            return Err(ScoreError::Sandbox(format!(
                "the test command could not run (exit code {code}): {}",
                tail(&log, 2_000)
            )));
        }
        Some(_) => {}
    }
    details.insert(
        "log_tail".into(),
        json!(tail(&universal_newlines(&log), LOG_TAIL_CHARS)),
    );
    let eval = match log_eval(&log, parse) {
        Ok(eval) => eval,
        Err(e) => {
            details.insert(
                "error".into(),
                json!(format!("{e}; the harness reports no result (unresolved)")),
            );
            return Ok(unresolved(details));
        }
    };
    let report = InstanceReport::new(
        &instance.instance_id,
        &instance.repo,
        Some(""),
        &eval,
        &instance.fail_to_pass,
        &instance.pass_to_pass,
    );
    let (f2p, p2p) = report.tests_status.as_ref().map_or((0.0, 0.0), |s| {
        (s.fail_to_pass.fraction(), s.pass_to_pass.fraction())
    });
    details.insert(
        "resolution".into(),
        json!(
            report
                .tests_status
                .as_ref()
                .map(|s| s.resolution().as_str())
        ),
    );
    details.insert("report".into(), report.to_value());
    details.insert(
        "status_map".into(),
        serde_json::to_value(&eval.status_map).expect("strings serialise"),
    );
    details.insert("swebench".into(), json!(harness().swebench_version));
    Ok(Score {
        reward: if report.resolved { 1.0 } else { 0.0 },
        sub_scores: vec![("f2p".into(), f2p), ("p2p".into(), p2p)],
        details: Value::Object(details),
    })
}

fn unresolved(details: Map<String, Value>) -> Score {
    Score {
        reward: 0.0,
        sub_scores: vec![("f2p".into(), 0.0), ("p2p".into(), 0.0)],
        details: Value::Object(details),
    }
}

/// The last `max` characters of `s`, with how much was cut.
fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    let (start, _) = s.char_indices().nth(count - max).expect("within bounds");
    format!("[{start} bytes cut] …{}", &s[start..])
}

#[cfg(test)]
mod tests;
