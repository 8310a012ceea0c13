//! Every real log under `tests/logs/` through plinth's parsers and grading, compared with
//! what swebench 4.1.0 itself returned (`tests/golden/`, written by `make_goldens.py`),
//! and every spec's eval script compared byte for byte with the harness's.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::collections::BTreeMap;
use std::path::Path;

use plinth_swebench::eval_script::{Environment, EvalScript};
use plinth_swebench::parse::{Parser, log_eval};
use plinth_swebench::report::InstanceReport;
use plinth_swebench::{Instance, StatusMap};
use serde_json::Value;

fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn parser(name: &str) -> Parser {
    *Parser::ALL.iter().find(|p| p.name() == name).unwrap()
}

/// The log file as Python's `open(path).read()` gives it to the harness: UTF-8.
fn read_log(name: &str) -> String {
    std::fs::read_to_string(here().join("tests/logs").join(name)).unwrap()
}

#[test]
fn every_log_parses_and_grades_as_the_harness() {
    let golden: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(here().join("tests/golden/logs.json")).unwrap(),
    )
    .unwrap();
    assert!(golden.len() >= 50, "only {} logs", golden.len());
    let mut per_parser: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reports = 0;
    for (name, entry) in &golden {
        let log = read_log(name);
        for (parser_name, expected) in entry["parsers"].as_object().unwrap() {
            let got = log_eval(&log, parser(parser_name).function());
            match (expected.get("error"), got) {
                (Some(_), Err(_)) => {}
                (None, Ok(eval)) => {
                    let want: StatusMap =
                        serde_json::from_value(expected["status_map"].clone()).unwrap();
                    assert_eq!(eval.found, expected["found"], "{name} {parser_name}");
                    if eval.status_map != want {
                        let diff: Vec<_> = want
                            .iter()
                            .filter(|(k, v)| eval.status_map.get(*k) != Some(v))
                            .chain(
                                eval.status_map
                                    .iter()
                                    .filter(|(k, _)| !want.contains_key(*k)),
                            )
                            .take(5)
                            .collect();
                        panic!("{name} {parser_name}: status maps differ, e.g. {diff:?}");
                    }
                }
                (want, got) => panic!("{name} {parser_name}: want {want:?}, got {got:?}"),
            }
            *per_parser.entry(parser_name.as_str()).or_default() += 1;
        }
        if let Some(report) = entry.get("report") {
            let ids =
                |key: &str| -> Vec<String> { serde_json::from_value(report[key].clone()).unwrap() };
            let eval =
                log_eval(&log, parser(report["parser"].as_str().unwrap()).function()).unwrap();
            let ours = InstanceReport::new(
                "golden__log",
                "any/repo",
                Some("x"),
                &eval,
                &ids("FAIL_TO_PASS"),
                &ids("PASS_TO_PASS"),
            );
            assert_eq!(
                ours.to_json(),
                report["report_json"].as_str().unwrap(),
                "{name}"
            );
            reports += 1;
        }
    }
    eprintln!(
        "logs: {}, per parser: {per_parser:?}, reports: {reports}",
        golden.len()
    );
}

#[test]
fn every_specs_eval_script_is_the_harnesses_byte_for_byte() {
    let rows: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(here().join("tests/golden/eval_scripts.json")).unwrap(),
    )
    .unwrap();
    assert!(rows.len() >= 250, "only {} rows", rows.len());
    for row in &rows {
        let instance = Instance::from_row(row["instance"].as_object().unwrap()).unwrap();
        let script = EvalScript::of(&instance, &Environment::default())
            .unwrap()
            .script();
        assert_eq!(
            script,
            row["eval_script"].as_str().unwrap(),
            "{}",
            instance.instance_id
        );
    }
    eprintln!("eval scripts: {} equal", rows.len());
}
