//! `plinth swebench eval` against SWE-bench's own harness: the conformance set's real
//! rows (tests/swebench/conformance), graded by the real binary in the environments
//! `tests/swebench/conformance/setup.sh` builds, with the gold patch, the empty patch and
//! the test patch alone as predictions; every verdict and every `tests_status` must be
//! the harness's (`expected.json`, written by the harness's own eval script and grading
//! in `oracle.py`).
//!
//! Which instances: `PLINTH_SWEBENCH_EVAL_INSTANCES` (`all`, or ids separated by commas);
//! by default a quick set with django, sympy, pytest and flask. Instances whose
//! environment is not built are skipped loudly; `PLINTH_REQUIRE_SWEBENCH_CONFORMANCE=1`
//! makes them required.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use support::run::{Outcome, plinth};

/// The default instances: one or more of each of four repositories, ~3 minutes in all
/// on two cores.
const QUICK: [&str; 4] = [
    "django__django-15781",
    "sympy__sympy-24661",
    "pallets__flask-5014",
    "pytest-dev__pytest-11143",
];

fn conformance() -> PathBuf {
    support::workspace().join("tests/swebench/conformance")
}

fn cache() -> PathBuf {
    std::env::var_os("PLINTH_SWEBENCH_CONFORMANCE_CACHE").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap()).join(".cache/plinth/swebench-conformance"),
        PathBuf::from,
    )
}

fn required() -> bool {
    std::env::var("PLINTH_REQUIRE_SWEBENCH_CONFORMANCE").as_deref() == Ok("1")
}

fn rows() -> Vec<Value> {
    std::fs::read_to_string(conformance().join("instances.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn expected() -> BTreeMap<String, Value> {
    serde_json::from_str(&std::fs::read_to_string(conformance().join("expected.json")).unwrap())
        .unwrap()
}

/// The instances to grade whose environment is built (`None`: skipped).
fn instances(expected: &BTreeMap<String, Value>) -> Option<Vec<String>> {
    let wanted: Vec<String> = match std::env::var("PLINTH_SWEBENCH_EVAL_INSTANCES") {
        Ok(list) if list == "all" => expected.keys().cloned().collect(),
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|s| s.trim().to_string()).collect()
        }
        _ => QUICK.iter().map(|s| s.to_string()).collect(),
    };
    for id in &wanted {
        assert!(
            expected.contains_key(id),
            "{id} is not in tests/swebench/conformance/expected.json"
        );
    }
    let (built, missing): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|id| {
        let dir = cache().join(id);
        dir.join("repo/.git").exists() && dir.join("venv/bin/activate").is_file()
    });
    if !missing.is_empty() {
        assert!(
            !required(),
            "PLINTH_REQUIRE_SWEBENCH_CONFORMANCE=1 but these environments are not built in {}: \
             {} (run tests/swebench/conformance/setup.sh)",
            cache().display(),
            missing.join(", ")
        );
        eprintln!(
            "\n*** SKIPPED in swebench_eval: {} (no environment in {}; \
             tests/swebench/conformance/setup.sh builds them; \
             PLINTH_REQUIRE_SWEBENCH_CONFORMANCE=1 turns this into a failure) ***\n",
            missing.join(", "),
            cache().display()
        );
    }
    (!built.is_empty()).then_some(built)
}

/// `plinth swebench eval` on the local environments of the conformance set.
fn eval(dir: &Path, dataset: &Path, predictions: &Path, extra: &[&str]) -> Outcome {
    let cache = cache();
    let mut command = plinth();
    command.current_dir(dir).args([
        "swebench",
        "eval",
        "--dataset",
        dataset.to_str().unwrap(),
        "--predictions",
        predictions.to_str().unwrap(),
        "--sandbox",
        "local",
        "--repo",
        &format!("{}/{{instance_id}}/repo", cache.display()),
        "--activate",
        &format!(
            "source {}/{{instance_id}}/venv/bin/activate",
            cache.display()
        ),
        "--run-id",
        "conformance",
    ]);
    command.args(extra);
    command.output().unwrap().into()
}

fn write_jsonl(path: &Path, values: &[Value]) {
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn prediction(row: &Value, model: &str, patch: Value) -> Value {
    json!({
        "instance_id": row["instance_id"],
        "model_name_or_path": model,
        "model_patch": patch,
    })
}

/// Seconds from an instance's `run_instance.log` ("Grading took N s").
fn grading_seconds(dir: &Path) -> f64 {
    let log = std::fs::read_to_string(dir.join("run_instance.log")).unwrap();
    log.lines()
        .find_map(|l| l.strip_prefix("Grading took "))
        .and_then(|l| l.trim_end_matches(" s").parse().ok())
        .unwrap()
}

#[test]
fn predictions_graded_as_the_harness_grades_them() {
    let expected = expected();
    let Some(ids) = instances(&expected) else {
        return;
    };
    support::warm_plugin_cache();
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<Value> = rows()
        .into_iter()
        .filter(|r| ids.iter().any(|id| r["instance_id"] == json!(id)))
        .collect();
    assert_eq!(rows.len(), ids.len());
    let dataset = tmp.path().join("rows.jsonl");
    write_jsonl(&dataset, &rows);

    // Each case in one of the shapes predictions come in: the harness's preds.json, a
    // JSON list, a JSONL.
    let gold = tmp.path().join("gold.preds.json");
    let by_id: serde_json::Map<String, Value> = rows
        .iter()
        .map(|r| {
            let id = r["instance_id"].as_str().unwrap().to_string();
            (id, prediction(r, "oracle/gold", r["patch"].clone()))
        })
        .collect();
    std::fs::write(&gold, serde_json::to_string_pretty(&by_id).unwrap()).unwrap();
    let empty = tmp.path().join("empty.json");
    let empties: Vec<Value> = rows
        .iter()
        .enumerate()
        // `""` and `null` are both the harness's empty patch.
        .map(|(i, r)| {
            prediction(
                r,
                "oracle-empty",
                if i % 2 == 0 { json!("") } else { json!(null) },
            )
        })
        .collect();
    std::fs::write(&empty, Value::Array(empties).to_string()).unwrap();
    let test_patch = tmp.path().join("test_patch.jsonl");
    let tests_only: Vec<Value> = rows
        .iter()
        .map(|r| prediction(r, "oracle-test_patch", r["test_patch"].clone()))
        .collect();
    write_jsonl(&test_patch, &tests_only);

    let mut table = Vec::new();
    let mut disagreements = Vec::new();
    for (case, predictions, model_dir) in [
        ("gold", &gold, "oracle__gold"),
        ("empty", &empty, "oracle-empty"),
        ("test_patch", &test_patch, "oracle-test_patch"),
    ] {
        let out = eval(tmp.path(), &dataset, predictions, &["--concurrency", "2"]);
        out.assert_success();
        let report_file = tmp.path().join(format!("{model_dir}.conformance.json"));
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
        assert_eq!(report["total_instances"], json!(ids.len()), "{report}");
        assert_eq!(report["submitted_instances"], json!(ids.len()));
        assert_eq!(report["error_instances"], json!(0), "{}", out.describe());
        assert_eq!(report["schema_version"], json!(2));
        for id in &ids {
            let want = &expected[id][case];
            let in_list = |list: &str| report[list].as_array().unwrap().contains(&json!(id));
            let instance_dir = tmp
                .path()
                .join("logs/run_evaluation/conformance")
                .join(model_dir)
                .join(id);
            if case == "empty" {
                // The harness does not evaluate an empty patch: listed, not run.
                assert_eq!(want["harness_evaluates"], json!(false));
                assert!(
                    in_list("empty_patch_ids") && !in_list("completed_ids"),
                    "{report}"
                );
                assert!(!instance_dir.exists());
                table.push((
                    id.clone(),
                    case,
                    false,
                    want["resolved"].as_bool().unwrap(),
                    None,
                    None,
                ));
                continue;
            }
            let got: Value = serde_json::from_str(
                &std::fs::read_to_string(instance_dir.join("report.json")).unwrap(),
            )
            .unwrap();
            let got = &got[id];
            let resolved = got["resolved"].as_bool().unwrap();
            assert_eq!(in_list("resolved_ids"), resolved, "{report}");
            assert_eq!(in_list("unresolved_ids"), !resolved, "{report}");
            for file in [
                "test_output.txt",
                "patch.diff",
                "eval.sh",
                "run_instance.log",
            ] {
                assert!(instance_dir.join(file).is_file(), "{id} {case}: no {file}");
            }
            if got["resolved"] != want["resolved"]
                || got["tests_status"] != want["tests_status"]
                || got["patch_successfully_applied"] != want["patch_successfully_applied"]
            {
                disagreements.push(format!(
                    "{id} {case}: plinth {got}\nharness {want}",
                    want =
                        json!({"resolved": want["resolved"], "tests_status": want["tests_status"]})
                ));
            }
            table.push((
                id.clone(),
                case,
                resolved,
                want["resolved"].as_bool().unwrap(),
                Some(grading_seconds(&instance_dir)),
                want["grading_seconds"].as_f64(),
            ));
        }
    }
    eprintln!(
        "\ninstance                          case        plinth      harness     plinth s  harness s"
    );
    for (id, case, got, want, secs, oracle_secs) in &table {
        let fmt = |s: &Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.1}"));
        let verdict = |r: bool| if r { "resolved" } else { "unresolved" };
        eprintln!(
            "{id:<33} {case:<11} {:<11} {:<11} {:>8}  {:>9}",
            verdict(*got),
            verdict(*want),
            fmt(secs),
            fmt(oracle_secs)
        );
    }
    assert!(
        disagreements.is_empty(),
        "plinth and the harness disagree:\n{}",
        disagreements.join("\n\n")
    );
    for id in &ids {
        assert_eq!(
            expected[id]["gold"]["resolved"],
            json!(true),
            "{id}: the set's gold patches resolve"
        );
    }
}

/// A patch that does not apply is the model's: unresolved, `patch_successfully_applied`
/// false, never an error; the repository is left as it was. Run on one conformance
/// environment (no test runs: the patch is refused first).
#[test]
fn a_patch_that_does_not_apply_is_unresolved() {
    let expected = expected();
    let Some(ids) = instances(&expected) else {
        return;
    };
    support::warm_plugin_cache();
    let id = &ids[0];
    let tmp = tempfile::tempdir().unwrap();
    let row = rows()
        .into_iter()
        .find(|r| r["instance_id"] == json!(id))
        .unwrap();
    let dataset = tmp.path().join("rows.jsonl");
    write_jsonl(&dataset, std::slice::from_ref(&row));
    let bad = "diff --git a/no/such/file.py b/no/such/file.py\n--- a/no/such/file.py\n\
               +++ b/no/such/file.py\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n";
    let preds = tmp.path().join("preds.jsonl");
    write_jsonl(&preds, &[prediction(&row, "m", json!(bad))]);
    let out = eval(tmp.path(), &dataset, &preds, &[]);
    out.assert_success();
    let dir = tmp
        .path()
        .join("logs/run_evaluation/conformance/m")
        .join(id);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report,
        json!({id.as_str(): {"patch_is_None": false, "patch_exists": true,
            "patch_successfully_applied": false, "resolved": false}})
    );
    let log = std::fs::read_to_string(dir.join("run_instance.log")).unwrap();
    for command in [
        "git apply --verbose",
        "git apply --verbose --reject",
        "patch --batch --fuzz=5 -p1 -i",
    ] {
        assert!(log.contains(&format!("{command} ")), "{log}");
    }
    let run: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("m.conformance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(run["unresolved_ids"], json!([id]));
    assert_eq!(run["error_ids"], json!([]));
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(cache().join(id).join("repo"))
        .output()
        .unwrap();
    assert!(status.stdout.is_empty(), "the repository was left changed");
    // The same run id again keeps the report, as the harness does.
    let again = eval(tmp.path(), &dataset, &preds, &[]);
    again.assert_success();
    assert!(
        again.stderr.contains("kept the report of an earlier run"),
        "{}",
        again.describe()
    );
}

/// Bad input is refused before anything runs, named by file and place.
#[test]
fn bad_input_is_named_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let row = rows().remove(0);
    let id = row["instance_id"].as_str().unwrap().to_string();
    let dataset = tmp.path().join("rows.jsonl");
    write_jsonl(&dataset, std::slice::from_ref(&row));
    let run = |preds: &Path| -> Outcome {
        plinth()
            .current_dir(tmp.path())
            .args(["swebench", "eval", "--dataset"])
            .arg(&dataset)
            .arg("--predictions")
            .arg(preds)
            .args([
                "--sandbox",
                "local",
                "--repo",
                "/nonexistent/{instance_id}",
                "--activate",
                "true",
            ])
            .args(["--run-id", "t"])
            .output()
            .unwrap()
            .into()
    };
    let cases: [(&str, String, &str); 4] = [
        (
            "unknown.jsonl",
            format!(
                "{}\n",
                json!({"instance_id": "nobody__nothing-1", "model_patch": "x"})
            ),
            "1 prediction(s) for instances",
        ),
        (
            "broken.jsonl",
            format!(
                "{}\n{{not json\n",
                json!({"instance_id": id, "model_patch": "x"})
            ),
            "line 2: not JSON",
        ),
        (
            "twice.jsonl",
            format!(
                "{}\n{}\n",
                json!({"instance_id": id, "model_patch": "x"}),
                json!({"instance_id": id, "model_patch": "y"})
            ),
            "appears twice (line 1 and line 2)",
        ),
        (
            "nopatch.json",
            json!([{"instance_id": id}]).to_string(),
            "item 1: prediction for",
        ),
    ];
    for (name, text, says) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = run(&path);
        assert_eq!(out.code, Some(1), "{name}: {}", out.describe());
        assert!(
            out.stderr.contains(says) && out.stderr.contains(name),
            "{name}: {}",
            out.describe()
        );
    }
    // A row without a prediction is listed as incomplete, as in the harness; nothing
    // to grade then is not an error.
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(
        &empty,
        format!("{}\n", json!({"instance_id": id, "model_patch": ""})),
    )
    .unwrap();
    let out = run(&empty);
    out.assert_success();
    // No model named: the harness's "None"; the run id given.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("None.t.json")).unwrap())
            .unwrap();
    assert_eq!(report["empty_patch_ids"], json!([id]));
    assert_eq!(report["completed_instances"], json!(0));
    // A template with an unknown placeholder is named.
    let out: Outcome = plinth()
        .current_dir(tmp.path())
        .args(["swebench", "eval", "--dataset"])
        .arg(&dataset)
        .arg("--predictions")
        .arg(&empty)
        .args(["--sandbox", "docker", "--image", "x/{id}"])
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("--image `x/{id}`: unknown placeholder `{id}`"),
        "{}",
        out.describe()
    );
}
