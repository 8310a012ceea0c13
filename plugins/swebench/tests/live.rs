//! The live differential test: swebench 4.1.0 itself (the venv `tests/swebench-setup.sh`
//! makes, its python in `PLINTH_SWEBENCH_PYTHON`) parses the real logs and mutated
//! variants of them (`live_diff.py`), and plinth's parsers must agree on every one.
//! Skipped, loudly, without the venv; `PLINTH_REQUIRE_SWEBENCH=1` makes the venv required.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::path::Path;
use std::process::Command;

use plinth_swebench::parse::{Parser, StatusMap, log_eval};
use serde_json::Value;

fn python() -> Option<String> {
    match std::env::var("PLINTH_SWEBENCH_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("PLINTH_REQUIRE_SWEBENCH").as_deref() == Ok("1") => {
            panic!(
                "PLINTH_REQUIRE_SWEBENCH=1 but PLINTH_SWEBENCH_PYTHON is not set: run tests/swebench-setup.sh"
            )
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: the live differential test against swebench 4.1.0 needs \
                 PLINTH_SWEBENCH_PYTHON=$(tests/swebench-setup.sh) ***\n"
            );
            None
        }
    }
}

fn compare(name: &str, parser: &str, want: &Value, got: Result<(StatusMap, Option<bool>), String>) {
    match (want.get("error"), got) {
        (Some(_), Err(_)) => {}
        (None, Ok((map, found))) => {
            let want_map: StatusMap = serde_json::from_value(want["status_map"].clone()).unwrap();
            if let Some(found) = found {
                assert_eq!(want["found"], found, "{name} {parser}: found");
            }
            if map != want_map {
                let diff: Vec<_> = want_map
                    .iter()
                    .filter(|(k, v)| map.get(*k) != Some(v))
                    .map(|(k, v)| format!("{k:?}: want {v}, got {:?}", map.get(k)))
                    .chain(
                        map.keys()
                            .filter(|k| !want_map.contains_key(*k))
                            .map(|k| format!("{k:?}: extra")),
                    )
                    .take(5)
                    .collect();
                panic!("{name} {parser}: {diff:#?}");
            }
        }
        (want, got) => panic!("{name} {parser}: want {want:?}, got {got:?}"),
    }
}

#[test]
fn plinths_parsers_agree_with_swebench_on_real_and_mutated_logs() {
    let Some(python) = python() else { return };
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let out = tempfile::tempdir().unwrap();
    let cases_path = out.path().join("cases.json");
    let status = Command::new(&python)
        .arg(here.join("live_diff.py"))
        .arg(here.join("logs"))
        .arg(&cases_path)
        .status()
        .expect("run the swebench venv's python");
    assert!(status.success(), "live_diff.py failed: {status}");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&cases_path).unwrap()).unwrap();
    let mut compared = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let text = case["text"].as_str().unwrap();
        for parser in Parser::ALL {
            let direct = parser.function()(text)
                .map(|m| (m, None))
                .map_err(|e| e.to_string());
            compare(name, parser.name(), &case["direct"][parser.name()], direct);
            let eval = log_eval(text, parser.function())
                .map(|e| (e.status_map, Some(e.found)))
                .map_err(|e| e.to_string());
            compare(name, parser.name(), &case["log_eval"][parser.name()], eval);
            compared += 2;
        }
    }
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    eprintln!(
        "{} variants, {compared} parser results equal to swebench 4.1.0's",
        cases.len()
    );
}
