//! Tasks made by Harbor itself: `harbor tasks init` (the venv of
//! `tests/harbor-setup.sh`, its python in `PLINTH_HARBOR_PYTHON`) writes task
//! directories in every shape its template has (pytest or not, a solution or
//! not, canary strings, a separate verifier, several steps), and
//! `tests/harbor/make_expected.py --tasks` says what Harbor's own `Task`
//! makes of them; plinth-harbor must agree on each.
//! Skipped, loudly, without the venv; `PLINTH_REQUIRE_HARBOR=1` makes it required.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::Path;
use std::process::Command;

use plinth_harbor::{Dataset, Task, TaskError};
use serde_json::{Value, json};

use support::{fixtures, task_summary};

fn python() -> Option<String> {
    match std::env::var("PLINTH_HARBOR_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("PLINTH_REQUIRE_HARBOR").as_deref() == Ok("1") => {
            panic!(
                "PLINTH_REQUIRE_HARBOR=1 but PLINTH_HARBOR_PYTHON is not set: run tests/harbor-setup.sh"
            )
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: the comparison with tasks Harbor makes needs \
                 PLINTH_HARBOR_PYTHON=$(tests/harbor-setup.sh) ***\n"
            );
            None
        }
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tasks_harbor_makes() {
    let Some(python) = python() else { return };
    let harbor = Path::new(&python).with_file_name("harbor");
    let root = tempfile::tempdir().unwrap();
    let variants: &[(&str, &[&str])] = &[
        ("plain", &[]),
        ("canary", &["--include-canary-strings"]),
        ("no-pytest", &["--no-pytest"]),
        ("no-solution", &["--no-solution"]),
        ("shared", &["--verifier-mode", "shared"]),
        ("separate", &["--verifier-mode", "separate"]),
        ("no-package", &["--no-package"]),
        (
            "authors",
            &[
                "--author",
                "Ada <ada@example.com>",
                "--description",
                "Two words.",
            ],
        ),
        ("steps", &["--steps", "2"]),
        (
            "shared-canary",
            &["--verifier-mode", "shared", "--include-canary-strings"],
        ),
        (
            "shared-no-pytest",
            &["--verifier-mode", "shared", "--no-pytest"],
        ),
        (
            "shared-no-solution",
            &["--verifier-mode", "shared", "--no-solution"],
        ),
        (
            "shared-no-package",
            &["--verifier-mode", "shared", "--no-package"],
        ),
        (
            "shared-authors",
            &[
                "--verifier-mode",
                "shared",
                "--author",
                "Bo <bo@example.com>",
                "--org",
                "acme",
            ],
        ),
    ];
    for (name, flags) in variants {
        run(Command::new(&harbor)
            .args(["tasks", "init", &format!("plinth-live/{name}"), "-p"])
            .arg(root.path())
            .args(*flags));
    }
    let reference: Value = serde_json::from_str(&run(Command::new(&python)
        .arg(fixtures().join("make_expected.py"))
        .arg("--tasks")
        .arg(root.path())))
    .unwrap();
    let cases = reference["tasks"].as_object().unwrap();
    assert_eq!(cases.len(), variants.len(), "{reference}");
    let (mut loaded, mut separate) = (0, 0);
    for (name, want) in cases {
        let got = Task::load(&root.path().join(name));
        match (want.get("error"), got) {
            (None, Ok(task)) => {
                assert_eq!(task_summary(&task), *want, "{name}");
                loaded += 1;
            }
            (None, Err(TaskError::MultiStep { steps, .. })) => {
                assert_eq!(json!(steps), want["steps"], "{name}");
            }
            (None, Err(TaskError::SeparateVerifier(_))) => {
                assert_eq!(
                    want["config"]["verifier"]["environment_mode"], "separate",
                    "{name}"
                );
                separate += 1;
            }
            (Some(_), Err(_)) => {}
            (want, got) => panic!("{name}: harbor {want:?}, plinth {got:?}"),
        }
    }
    // `harbor tasks init` makes a separate verifier unless told otherwise.
    assert!(
        loaded >= 1 && separate >= 6,
        "{loaded} tasks loaded, {separate} separate"
    );
    let dataset = Dataset::load(root.path()).unwrap();
    assert_eq!(
        dataset.tasks.len() + dataset.invalid.len(),
        reference["dataset"].as_array().unwrap().len()
    );
}
