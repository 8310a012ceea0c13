//! plinth-harbor against Harbor itself: `tests/harbor/expected.json` is what
//! Harbor 0.26.0's own code makes of the fixtures in `tests/harbor/`
//! (`configs/*.toml`, the task directories of `tasks/`, `rewards/<case>/`),
//! written by `tests/harbor/make_expected.py`. Every outcome must agree:
//! the same values where Harbor accepts, an error where Harbor refuses.
//! Multi-step and Windows tasks, which Harbor runs and plinth does not yet,
//! must be refused by name.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::PathBuf;

use plinth_harbor::{ConfigError, Dataset, Reward, RewardError, Task, TaskConfig, TaskError};
use serde_json::{Value, json};

use support::{config_summary, fixtures, task_summary};

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn configs_agree_with_harbor() {
    let expected = expected();
    let cases = expected["configs"].as_object().unwrap();
    assert!(cases.len() >= 40, "{} config cases", cases.len());
    let mut failures = Vec::new();
    for (name, want) in cases {
        let path = fixtures().join("configs").join(format!("{name}.toml"));
        let got = TaskConfig::parse(&std::fs::read_to_string(&path).unwrap());
        match (want.get("error"), got) {
            (Some(_), Err(_)) => {}
            (Some(_), Ok(c)) => failures.push(format!(
                "{name}: Harbor refuses it ({}), plinth accepts: {}",
                want["harbor_says"],
                config_summary(&c)
            )),
            (None, Err(e)) => failures.push(format!("{name}: Harbor accepts it, plinth says {e}")),
            (None, Ok(c)) => {
                let got = config_summary(&c);
                if &got != want {
                    failures.push(format!("{name}:\n  harbor {want}\n  plinth {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_name_the_key() {
    let err = TaskConfig::parse("[environment]\ncpus = \"two\"\n").unwrap_err();
    assert_eq!(
        err,
        ConfigError::Invalid {
            key: "environment.cpus".into(),
            message: "expected a number, found the string \"two\"".into()
        }
    );
    let err = TaskConfig::parse("[agent\n").unwrap_err();
    assert!(matches!(err, ConfigError::Toml(_)), "{err:?}");
    let c = TaskConfig::parse("frobnicate = 1\n[agent]\ncolour = 2\n[extra]\n").unwrap();
    assert_eq!(c.ignored_keys, ["extra", "frobnicate", "agent.colour"]);
}

#[test]
fn tasks_agree_with_harbor() {
    let expected = expected();
    let cases = expected["tasks"].as_object().unwrap();
    let mut failures = Vec::new();
    for (name, want) in cases {
        let dir = fixtures().join("tasks").join(name);
        let got = Task::load(&dir);
        let steps = want
            .get("steps")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty());
        match (want.get("error"), got) {
            (None, Err(TaskError::MultiStep { steps: got, .. })) if steps.is_some() => {
                assert_eq!(json!(got), Value::Array(steps.unwrap().clone()));
            }
            (Some(_), Err(_)) => {}
            (Some(_), Ok(_)) => {
                failures.push(format!("{name}: Harbor refuses it, plinth loads it"))
            }
            (None, Err(e)) => failures.push(format!("{name}: Harbor loads it, plinth says {e}")),
            (None, Ok(task)) => {
                let got = task_summary(&task);
                if &got != want {
                    failures.push(format!("{name}:\n  harbor {want}\n  plinth {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dataset_agrees_with_harbor() {
    let expected = expected();
    let dataset = Dataset::load(&fixtures().join("tasks")).unwrap();
    let mut got: Vec<String> = dataset
        .tasks
        .iter()
        .map(|t| t.dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // Harbor keeps the multi-step task; plinth lists it among the refused, saying why.
    for e in &dataset.invalid {
        if let TaskError::MultiStep { dir, .. } = e {
            got.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    got.sort();
    assert_eq!(json!(got), expected["dataset"]);
    // Every broken task is reported, none silently dropped: 6 refused + the multi-step one.
    assert_eq!(dataset.invalid.len(), 7, "{:#?}", dataset.invalid);
}

#[test]
fn rewards_agree_with_harbor() {
    let expected = expected();
    let cases = expected["rewards"].as_object().unwrap();
    assert!(cases.len() >= 35);
    let mut failures = Vec::new();
    for (name, want) in cases {
        let dir: PathBuf = fixtures().join("rewards").join(name);
        let got = match Reward::read(&dir) {
            Ok(r) => {
                let map: serde_json::Map<String, Value> = r
                    .rewards
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap()))
                    .collect();
                json!({"rewards": map})
            }
            Err(RewardError::Missing { .. }) => json!({"error": "missing"}),
            Err(RewardError::Empty(_)) => json!({"error": "empty"}),
            Err(RewardError::Garbage { .. }) => json!({"error": "garbage"}),
            Err(e @ RewardError::Io { .. }) => json!({"error": e.to_string()}),
        };
        if &got != want {
            failures.push(format!("{name}: harbor {want}, plinth {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reward_errors_name_the_file() {
    let dir = fixtures().join("rewards");
    let e = Reward::read(&dir.join("txt-garbage")).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("txt-garbage/reward.txt is not a reward: \"passed\\n\" is not a number"),
        "{e}"
    );
    let e = Reward::read(&dir.join("json-empty")).unwrap_err();
    assert!(
        e.to_string().ends_with("json-empty/reward.json is empty"),
        "{e}"
    );
    let e = Reward::read(&dir.join("missing")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("no reward file: the verifier wrote neither "),
        "{e}"
    );
    let r = Reward::read(&dir.join("txt-one")).unwrap();
    assert_eq!(r.main().map(|v| v.as_f64()), Some(1.0));
    let r = Reward::read(&dir.join("json-named")).unwrap();
    assert_eq!(r.main(), None);
}

#[test]
fn container_commands_are_harbors() {
    use plinth_harbor::container;
    let expected = expected();
    let want = &expected["commands"];
    assert_eq!(container::verifier_command(), want["verifier"]);
    assert_eq!(container::oracle_command(), want["oracle"]);
    assert_eq!(container::REWARD_TXT_PATH, want["reward_txt"]);
    assert_eq!(container::REWARD_JSON_PATH, want["reward_json"]);
}

#[test]
fn timeouts_as_durations() {
    use std::time::Duration;
    let c = TaskConfig::parse("[agent]\ntimeout_sec = 90.5\n").unwrap();
    assert_eq!(c.agent_timeout(), Some(Duration::from_millis(90_500)));
    assert_eq!(c.verifier_timeout(), Some(Duration::from_secs(600)));
    assert_eq!(c.build_timeout(), Some(Duration::from_secs(600)));
    let c = TaskConfig::parse("[verifier]\ntimeout_sec = -1\n").unwrap();
    assert_eq!((c.agent_timeout(), c.verifier_timeout()), (None, None));
}

/// Refusals Harbor has no equivalent of, and unreadable text: each its own error.
#[test]
fn refusals_name_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let task = |name: &str, toml: &str| {
        let dir = root.path().join(name);
        std::fs::create_dir_all(dir.join("environment")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(dir.join("task.toml"), toml).unwrap();
        std::fs::write(dir.join("instruction.md"), "Do it.").unwrap();
        std::fs::write(
            dir.join("environment/Dockerfile"),
            "FROM plinth-test-python\n",
        )
        .unwrap();
        std::fs::write(dir.join("tests/test.sh"), "#!/bin/bash\n").unwrap();
        dir
    };
    let windows = task("windows", "[environment]\nos = \"Windows\"\n");
    assert!(matches!(Task::load(&windows), Err(TaskError::Windows(_))));
    let separate = task("separate", "[verifier]\nenvironment_mode = \"separate\"\n");
    let e = Task::load(&separate).unwrap_err();
    assert!(matches!(e, TaskError::SeparateVerifier(_)), "{e}");
    assert!(e.to_string().contains("tests/Dockerfile"), "{e}");
    let latin1 = task("latin1", "");
    std::fs::write(latin1.join("instruction.md"), b"caf\xe9").unwrap();
    let e = Task::load(&latin1).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("latin1/instruction.md: not UTF-8 text"),
        "{e}"
    );
    let plain = task("plain", "");
    let t = Task::load(&plain).unwrap();
    assert_eq!(
        (t.name.as_str(), t.short_name(), t.solve_script.as_ref()),
        ("plain", "plain", None)
    );
    assert_eq!(
        t.environment.main_image(false),
        Some(plinth_harbor::MainImage::Build(
            plain.join("environment/Dockerfile")
        ))
    );
}

#[test]
fn prebuilt_images_unless_forced() {
    use plinth_harbor::MainImage;
    let t = Task::load(&fixtures().join("tasks/tb2-shaped")).unwrap();
    assert_eq!(
        t.environment.main_image(false),
        Some(MainImage::Prebuilt(
            "plinth-fixtures/tb2-shaped:20251031".into()
        ))
    );
    assert_eq!(
        t.environment.main_image(true),
        Some(MainImage::Build(t.environment_dir().join("Dockerfile")))
    );
    assert_eq!(t.short_name(), "tb2-shaped");
    let c = Task::load(&fixtures().join("tasks/compose-sidecar")).unwrap();
    assert_eq!(
        c.environment.compose,
        Some(c.environment_dir().join("docker-compose.yaml"))
    );
}
