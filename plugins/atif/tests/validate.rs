//! Whatever the formatter writes is ATIF that Harbor accepts: odd runs (a
//! tool result whose call is gone, results before any agent step, interrupts,
//! arguments that are not a JSON object, a NaN timestamp, an infinite cost,
//! non-ASCII text) are formatted and handed to Harbor's own
//! `Trajectory.model_validate_json` (the venv of `tests/harbor-setup.sh`, its
//! python in `PLINTH_HARBOR_PYTHON`), which must accept every one.
//! Skipped, loudly, without the venv; `PLINTH_REQUIRE_HARBOR=1` makes it required.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::io::Write;
use std::process::{Command, Stdio};

use plinth_plugin_atif::Atif;
use plinth_sdk::testing;
use plinth_sdk::{Role, Trajectory};

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
                "\n*** SKIPPED: validating ATIF with Harbor's models needs \
                 PLINTH_HARBOR_PYTHON=$(tests/harbor-setup.sh) ***\n"
            );
            None
        }
    }
}

/// Odd but legal runs.
fn odd_runs() -> Vec<Trajectory> {
    let mut runs = vec![testing::trajectory()];

    let mut t = testing::trajectory();
    t.messages.retain(|m| m.role != Role::User);
    t.messages[1].tool_calls[0].arguments = "\u{0}{[".into();
    t.messages[1].timestamp = f64::NAN;
    t.messages[1].reasoning = Some(String::new());
    t.messages[2].content = None;
    t.messages[2].tool_call_id = None;
    t.cost = f64::INFINITY;
    t.error = Some("boom".into());
    runs.push(t);

    let mut t = testing::trajectory();
    let mut orphan = t.messages[3].clone();
    orphan.tool_call_id = Some("call_gone".into());
    t.messages.insert(1, orphan.clone());
    t.messages.push(orphan);
    let mut nudge = t.messages[2].clone();
    nudge.content = Some("Ω Use the tool. 🚀".into());
    nudge.interrupt = Some("FormatError".into());
    t.messages.push(nudge);
    t.messages[3].tool_calls[0].arguments = "[1, 2]".into();
    t.messages[3].timestamp = -1.5;
    t.tools.clear();
    runs.push(t);

    // Only a system message: one step.
    let mut t = testing::trajectory();
    t.messages.truncate(1);
    t.score = None;
    runs.push(t);
    runs
}

#[test]
fn harbor_accepts_every_document() {
    let Some(python) = python() else { return };
    let mut documents = Vec::new();
    for t in odd_runs() {
        for options in [r#"{"jsonl": true}"#, r#"{"jsonl": false}"#] {
            documents.push(testing::format::<Atif>(t.clone(), options).unwrap());
        }
    }
    let script = "import json, sys\n\
        from harbor.models.trajectories import Trajectory\n\
        docs = json.load(sys.stdin)\n\
        for d in docs:\n    Trajectory.model_validate_json(d)\n\
        print(len(docs))\n";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = plinth_sdk::serde_json::to_string(&documents).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Harbor refused a document:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        documents.len().to_string()
    );
}
