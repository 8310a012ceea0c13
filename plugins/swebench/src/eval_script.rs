//! The harness's eval script (`make_eval_script_list_py`, `TestSpec.eval_script`): reset
//! the test patch's files, apply it, run the spec's test command on its test files between
//! the markers, reset the files again.

use crate::directives::{modified_files, test_directives};
use crate::instance::Instance;
use crate::spec::{Spec, TestCmd, UnknownSpec, harness};

/// The harness's heredoc delimiter for the test patch.
const HEREDOC_DELIMITER: &str = "EOF_114329324912";
/// The official images' conda environment, activated twice in the script.
pub const DEFAULT_ACTIVATION: [&str; 2] = [
    "source /opt/miniconda3/bin/activate",
    "conda activate testbed",
];

/// Where the script runs: the defaults are the official images'.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The repository's directory (`/testbed`).
    pub repo_dir: String,
    /// The commands that activate the test environment, each one line of the script,
    /// where the harness has `source /opt/miniconda3/bin/activate` and
    /// `conda activate testbed` (e.g. one `source /venv/bin/activate` for a local venv).
    pub activation: Vec<String>,
    /// Replaces the spec's `test_cmd` (the directives are still appended).
    pub test_cmd: Option<String>,
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            repo_dir: harness().docker_workdir.clone(),
            activation: DEFAULT_ACTIVATION.iter().map(|s| s.to_string()).collect(),
            test_cmd: None,
        }
    }
}

/// Why no script can be written for a row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error(transparent)]
    UnknownSpec(#[from] UnknownSpec),
    #[error(
        "the spec of `{repo}` {version} has no single `test_cmd` (the harness's Python eval \
         script needs one); give one in the scorer config"
    )]
    NoTestCommand { repo: String, version: String },
}

/// The script's lines, as `make_eval_script_list_py` returns them (a line may hold a
/// heredoc). `index_of` says where the test-patch and test-command lines are.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalScript {
    pub lines: Vec<String>,
    /// Index in `lines` of `git apply -v - <<'EOF…'` (the test patch).
    pub apply_test_patch: usize,
    /// Index in `lines` of the test command.
    pub test_command: usize,
}

impl EvalScript {
    /// The lines for an instance in an environment.
    pub fn of(instance: &Instance, env: &Environment) -> Result<Self, ScriptError> {
        let spec = match Spec::of(&instance.repo, &instance.version) {
            Ok(spec) => Some(spec),
            // A repository the harness does not know grades with a given command alone.
            Err(UnknownSpec::Repo { .. }) if env.test_cmd.is_some() => None,
            Err(e) => return Err(e.into()),
        };
        let test_cmd = match (&env.test_cmd, spec.and_then(|s| s.test_cmd.as_ref())) {
            (Some(cmd), _) => cmd.clone(),
            (None, Some(TestCmd::One(cmd))) => cmd.clone(),
            (None, _) => {
                return Err(ScriptError::NoTestCommand {
                    repo: instance.repo.clone(),
                    version: instance.version.clone(),
                });
            }
        };
        let dir = &env.repo_dir;
        let base = &instance.base_commit;
        let reset = format!(
            "git checkout {base} {}",
            modified_files(&instance.test_patch).join(" ")
        );
        let mut test_command = vec![test_cmd];
        test_command.extend(test_directives(&instance.repo, &instance.test_patch));

        let mut lines: Vec<String> = env.activation.clone();
        lines.push(format!("cd {dir}"));
        if let Some(commands) = spec.and_then(|s| s.eval_commands.as_ref()) {
            lines.extend(commands.iter().cloned());
        }
        lines.extend([
            format!("git config --global --add safe.directory {dir}"),
            format!("cd {dir}"),
            "git status".into(),
            "git show".into(),
            format!("git -c core.fileMode=false diff {base}"),
        ]);
        lines.extend(env.activation.iter().cloned());
        if let Some(install) = spec.and_then(|s| s.install.as_ref()) {
            lines.push(install.clone());
        }
        lines.push(reset.clone());
        let apply_test_patch = lines.len();
        lines.push(format!(
            "git apply -v - <<'{HEREDOC_DELIMITER}'\n{}\n{HEREDOC_DELIMITER}",
            instance.test_patch
        ));
        let markers = &harness().markers;
        lines.push(format!(": '{}'", markers.start_test_output));
        let test_command_at = lines.len();
        lines.push(test_command.join(" "));
        lines.push(format!(": '{}'", markers.end_test_output));
        lines.push(reset);
        Ok(Self {
            lines,
            apply_test_patch,
            test_command: test_command_at,
        })
    }

    /// `TestSpec.eval_script`: the file the harness runs with `/bin/bash`.
    pub fn script(&self) -> String {
        script_of(self.lines.iter().map(String::as_str))
    }

    /// The script with the exit codes of the test-patch `git apply` and of the test
    /// command written to files, by lines `set -x` does not trace: the log is byte for
    /// byte the harness's.
    pub fn instrumented(&self, apply_exit_file: &str, test_exit_file: &str) -> String {
        let record = |file: &str| {
            format!(
                "{{ plinth_rc=$?; set +x; }} 2>/dev/null; echo \"$plinth_rc\" > {}; set -x",
                quote(file)
            )
        };
        let apply = record(apply_exit_file);
        let test = record(test_exit_file);
        let mut lines: Vec<&str> = Vec::with_capacity(self.lines.len() + 2);
        for (i, line) in self.lines.iter().enumerate() {
            lines.push(line);
            if i == self.apply_test_patch {
                lines.push(&apply);
            } else if i == self.test_command {
                lines.push(&test);
            }
        }
        script_of(lines.into_iter())
    }
}

fn script_of<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("#!/bin/bash\nset -uxo pipefail");
    for line in lines {
        out.push('\n');
        out.push_str(line);
    }
    out.push('\n');
    out
}

/// A word for bash, single-quoted unless it is plainly safe.
pub(crate) fn quote(word: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b);
    if !word.is_empty() && word.bytes().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Instance {
        Instance {
            instance_id: "django__django-11099".into(),
            repo: "django/django".into(),
            version: "3.0".into(),
            base_commit: "d26b2424437dabeeca94d7900b37d2df4410da0c".into(),
            test_patch: "diff --git a/tests/auth_tests/test_validators.py b/tests/auth_tests/test_validators.py\n--- a/tests/auth_tests/test_validators.py\n+++ b/tests/auth_tests/test_validators.py\n@@ -1 +1 @@\n-a\n+b\n".into(),
            fail_to_pass: vec![],
            pass_to_pass: vec![],
        }
    }

    #[test]
    fn the_test_command_runs_the_directives_between_the_markers() {
        let s = EvalScript::of(&row(), &Environment::default()).unwrap();
        assert_eq!(
            s.lines[s.test_command],
            "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 auth_tests.test_validators"
        );
        assert_eq!(s.lines[s.test_command - 1], ": '>>>>> Start Test Output'");
        assert!(s.lines[s.apply_test_patch].starts_with("git apply -v - <<'EOF_114329324912'\n"));
        let script = s.script();
        assert!(
            script.starts_with(
                "#!/bin/bash\nset -uxo pipefail\nsource /opt/miniconda3/bin/activate\n"
            )
        );
        let instrumented = s.instrumented("/tmp/a", "/tmp/t");
        assert_eq!(instrumented.lines().count(), script.lines().count() + 2);
    }

    #[test]
    fn an_unknown_repository_needs_a_test_command() {
        let mut r = row();
        r.repo = "me/mine".into();
        assert!(matches!(
            EvalScript::of(&r, &Environment::default()),
            Err(ScriptError::UnknownSpec(UnknownSpec::Repo { .. }))
        ));
        let env = Environment {
            test_cmd: Some("pytest -rA".into()),
            ..Environment::default()
        };
        let s = EvalScript::of(&r, &env).unwrap();
        assert_eq!(
            s.lines[s.test_command],
            "pytest -rA tests/auth_tests/test_validators.py"
        );
    }
}
