//! Running the `plinth` binary, and reading what it leaves behind.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{plinth_bin, plugin_cache_dir};

/// Environment variables that would change what plinth does if the test
/// runner happened to have them set.
pub const CLEARED_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "PLINTH_PLUGIN_PATH",
    "PLINTH_LOG",
];

/// The `plinth` binary with the test build's component cache
/// ([`plugin_cache_dir`]) and none of [`CLEARED_ENV`] set.
/// `tokio::process::Command::from` turns it into an async command.
pub fn plinth() -> Command {
    let mut command = Command::new(plinth_bin());
    command.env("PLINTH_CACHE_DIR", plugin_cache_dir());
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    command
}

/// What a finished `plinth` process left behind.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Outcome {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "{}", self.describe());
    }

    /// The machine-readable summary plinth prints as its last stdout line.
    pub fn summary(&self) -> Value {
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("no summary line ({e}):\n{}", self.describe()))
    }
}

/// A JSONL file: every line complete (newline-terminated) and valid JSON.
#[track_caller]
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends with a torn line: {:?}",
        path.display(),
        &text[text.len().saturating_sub(200)..]
    );
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| {
                panic!(
                    "{} line {} is not JSON ({e}): {line}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// [`read_jsonl`] of an output file a failed run may not have written: no
/// records when it does not exist, so that the caller's own assertion (with
/// the run's [`Outcome::describe`]) reports the failure.
#[track_caller]
pub fn read_jsonl_if_any(path: &Path) -> Vec<Value> {
    if path.exists() {
        read_jsonl(path)
    } else {
        Vec::new()
    }
}
