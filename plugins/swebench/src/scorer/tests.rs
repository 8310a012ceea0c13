//! The scorer against real bash in a real git repository.

use std::cell::RefCell;
use std::process::Command;

use super::*;

/// The local machine as the sandbox.
struct Local {
    logs: RefCell<Vec<String>>,
}

impl Sandbox for Local {
    fn exec(&self, command: &str, _timeout_secs: Option<u32>) -> Result<Exec, String> {
        let out = Command::new("bash")
            .arg("-c")
            .arg(command)
            .output()
            .map_err(|e| e.to_string())?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(Exec {
            exit_code: out.status.code().unwrap_or(-1),
            output,
            timed_out: false,
        })
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| e.to_string())
    }
    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String> {
        std::fs::write(path, contents).map_err(|e| e.to_string())
    }
    fn log(&self, message: &str) {
        self.logs.borrow_mut().push(message.to_string());
    }
}

/// A git repository with one test file at its base commit, and a row whose test patch
/// adds a test; `test_cmd` is a fake runner printing pytest's summary lines.
fn fixture(runner: &str) -> (tempfile::TempDir, Instance, Config) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(args)
            .current_dir(repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("test_a.py"), "old\n").unwrap();
    std::fs::write(repo.join("run.sh"), runner).unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    let base = git(&["rev-parse", "HEAD"]).trim().to_string();
    let test_patch = "diff --git a/test_a.py b/test_a.py\n--- a/test_a.py\n+++ b/test_a.py\n@@ -1 +1 @@\n-old\n+new\n";
    let instance = Instance {
        instance_id: "me__mine-1".into(),
        repo: "me/mine".into(),
        version: "1".into(),
        base_commit: base,
        test_patch: test_patch.into(),
        fail_to_pass: vec!["test_a.py::test_new".into()],
        pass_to_pass: vec!["test_a.py::test_old".into()],
    };
    let config = Config {
        environment: Environment {
            repo_dir: repo.to_str().unwrap().into(),
            activation: vec!["true".into()],
            test_cmd: Some("bash run.sh".into()),
        },
        timeout_secs: 60,
    };
    (dir, instance, config)
}

fn local() -> Local {
    Local {
        logs: RefCell::new(Vec::new()),
    }
}

#[test]
fn a_passing_run_resolves_and_the_test_patch_is_reset() {
    let runner = "grep -q new test_a.py && echo 'PASSED test_a.py::test_new'\necho 'PASSED test_a.py::test_old'\n";
    let (dir, instance, config) = fixture(runner);
    let score = score(
        &instance,
        &config,
        Parser::Pytest,
        crate::parse::pytest,
        &local(),
    )
    .unwrap();
    assert_eq!(score.reward, 1.0, "{:#}", score.details);
    assert_eq!(score.details["test_patch_exit_code"], 0);
    assert_eq!(score.details["report"]["me__mine-1"]["resolved"], true);
    assert_eq!(score.details["status_map"]["test_a.py::test_new"], "PASSED");
    // The harness resets the test files after the run.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("test_a.py")).unwrap(),
        "old\n"
    );
}

#[test]
fn a_failing_test_is_reward_zero_with_fractions() {
    let runner =
        "echo 'FAILED test_a.py::test_new - boom'\necho 'PASSED test_a.py::test_old'\nexit 1\n";
    let (_dir, instance, config) = fixture(runner);
    let score = score(
        &instance,
        &config,
        Parser::Pytest,
        crate::parse::pytest,
        &local(),
    )
    .unwrap();
    assert_eq!(score.reward, 0.0);
    assert_eq!(
        score.sub_scores,
        [("f2p".to_string(), 0.0), ("p2p".to_string(), 1.0)]
    );
    assert_eq!(
        score.details["report"]["me__mine-1"]["tests_status"]["FAIL_TO_PASS"]["failure"][0],
        "test_a.py::test_new"
    );
}

#[test]
fn a_test_command_that_cannot_run_is_an_infrastructure_error() {
    let (_dir, instance, mut config) = fixture("");
    config.environment.test_cmd = Some("no-such-test-runner-anywhere".into());
    let err = score(
        &instance,
        &config,
        Parser::Pytest,
        crate::parse::pytest,
        &local(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ScoreError::Sandbox(ref m) if m.contains("127")),
        "{err:?}"
    );
    config.environment.test_cmd = Some("true".into());
    config.environment.activation = vec!["source /no/such/venv/bin/activate".into()];
    let err = score(
        &instance,
        &config,
        Parser::Pytest,
        crate::parse::pytest,
        &local(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ScoreError::Sandbox(ref m) if m.contains("not usable")),
        "{err:?}"
    );
}

#[test]
fn the_wrong_format_for_a_known_repository_is_refused() {
    let (_dir, mut instance, config) = fixture("");
    instance.repo = "django/django".into();
    let err = score(
        &instance,
        &config,
        Parser::Pytest,
        crate::parse::pytest,
        &local(),
    )
    .unwrap_err();
    assert!(matches!(err, ScoreError::InvalidInput(ref m) if m.contains("swebench-django")));
}

#[test]
fn config_is_checked() {
    let c = Config::from_json(
        r#"{"env_activation": "source /v/bin/activate", "repo_dir": "/r", "timeout_secs": 5}"#,
    )
    .unwrap();
    assert_eq!(c.environment.activation, ["source /v/bin/activate"]);
    assert_eq!(c.environment.repo_dir, "/r");
    assert!(Config::from_json(r#"{"repo": 1}"#).is_err());
    assert!(Config::from_json(r#"{"repo_dir": "rel"}"#).is_err());
    assert_eq!(Config::from_json("").unwrap(), Config::default());
}
