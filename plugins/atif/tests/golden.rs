//! Golden tests: every record of `tests/golden/*.canonical.jsonl`, formatted
//! natively, must match byte for byte what `tests/golden/make_atif.py` wrote
//! with Harbor's own ATIF models (which validated each document): JSONL mode
//! against `<case>.atif.expected.jsonl`, file mode against
//! `atif-files/<id>.trajectory.json`.
//!
//! The canonical record is turned into the formatter's input as the host
//! does (wit/canonical-trajectory.md; `to_wit` in make_expected.py).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::path::{Path, PathBuf};

use plinth_plugin_atif::Atif;
use plinth_sdk::serde_json::{self, Value};
use plinth_sdk::testing;
use plinth_sdk::{
    ExitStatus, Message, Role, ScoreResult, SubScore, ToolCall, ToolSpec, Trajectory, Usage,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn text(v: &Value) -> String {
    plinth_sdk::pyjson::dumps(v, false)
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn role(name: &str) -> Role {
    match name {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => panic!("role {other}"),
    }
}

fn exit_status(name: &str) -> ExitStatus {
    match name {
        "Running" => ExitStatus::Running,
        "Submitted" => ExitStatus::Submitted,
        "Finished" => ExitStatus::Finished,
        "LimitsExceeded" => ExitStatus::LimitsExceeded,
        "TimeExceeded" => ExitStatus::TimeExceeded,
        "RepeatedFormatError" => ExitStatus::RepeatedFormatError,
        "InfrastructureError" => ExitStatus::InfrastructureError,
        "ModelError" => ExitStatus::ModelError,
        "PluginError" => ExitStatus::PluginError,
        other => panic!("exit status {other}"),
    }
}

/// A canonical record as the host hands it to a formatter.
fn to_wit(rec: &Value) -> Trajectory {
    let messages = rec["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Message {
            role: role(m["role"].as_str().unwrap()),
            content: opt_str(m, "content"),
            reasoning: opt_str(m, "reasoning"),
            tool_calls: m
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| ToolCall {
                    id: c["id"].as_str().unwrap().into(),
                    name: c["function"]["name"].as_str().unwrap().into(),
                    arguments: c["function"]["arguments"].as_str().unwrap().into(),
                })
                .collect(),
            tool_call_id: opt_str(m, "tool_call_id"),
            name: opt_str(m, "name"),
            timestamp: m.get("timestamp").and_then(Value::as_f64).unwrap_or(0.0),
            cost: m.get("cost").and_then(Value::as_f64),
            interrupt: opt_str(m, "interrupt"),
        })
        .collect();
    let tools = rec["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let f = t.get("function").unwrap_or(t);
            ToolSpec {
                name: opt_str(f, "name").unwrap_or_default(),
                description: opt_str(f, "description").unwrap_or_default(),
                parameters: text(
                    f.get("parameters")
                        .unwrap_or(&Value::Object(Default::default())),
                ),
            }
        })
        .collect();
    let score = rec
        .get("score")
        .filter(|s| !s.is_null())
        .map(|s| ScoreResult {
            reward: s["reward"].as_f64().unwrap(),
            sub_scores: s
                .get("sub_scores")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, v)| SubScore {
                    name: name.clone(),
                    value: v.as_f64().unwrap(),
                })
                .collect(),
            details: text(&s["details"]),
        });
    let usage = &rec["usage"];
    Trajectory {
        id: rec["id"].as_str().unwrap().into(),
        input_index: rec["input_index"].as_u64().unwrap(),
        task: text(&rec["task"]),
        messages,
        tools,
        exit_status: exit_status(rec["exit_status"].as_str().unwrap()),
        submission: opt_str(rec, "submission").unwrap_or_default(),
        error: opt_str(rec, "error"),
        model: rec["model"].as_str().unwrap().into(),
        sandbox: rec["sandbox"].as_str().unwrap().into(),
        api_calls: u32::try_from(rec["api_calls"].as_u64().unwrap()).unwrap(),
        usage: Usage {
            prompt_tokens: usage["prompt_tokens"].as_u64().unwrap(),
            completion_tokens: usage["completion_tokens"].as_u64().unwrap(),
        },
        cost: rec.get("cost").and_then(Value::as_f64).unwrap_or(0.0),
        started_at: rec["started_at"].as_str().unwrap().into(),
        duration_secs: rec
            .get("duration_secs")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        plinth_version: rec["plinth_version"].as_str().unwrap().into(),
        patch: opt_str(rec, "patch"),
        score,
        group: None,
    }
}

#[test]
fn golden_records_match_harbors_models() {
    let dir = golden_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".canonical.jsonl"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "golden cases: {cases:?}");
    let mut records = 0;
    for case in cases {
        let name = case
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".canonical.jsonl", "");
        let input = std::fs::read_to_string(&case).unwrap();
        let mut jsonl = String::new();
        for line in input.split('\n').filter(|l| !l.trim().is_empty()) {
            let rec: Value = serde_json::from_str(line).unwrap();
            let t = to_wit(&rec);
            jsonl.push_str(&testing::format::<Atif>(t.clone(), r#"{"jsonl": true}"#).unwrap());
            jsonl.push('\n');
            let file = testing::format::<Atif>(t.clone(), r#"{"jsonl": false}"#).unwrap();
            let expected_file = dir
                .join("atif-files")
                .join(format!("{}.trajectory.json", t.id));
            let expected = std::fs::read_to_string(&expected_file).unwrap();
            assert_eq!(file, expected, "{}", expected_file.display());
            records += 1;
        }
        let expected =
            std::fs::read_to_string(dir.join(format!("{name}.atif.expected.jsonl"))).unwrap();
        assert_eq!(jsonl, expected, "{name}: JSONL mode");
    }
    assert!(records >= 6, "{records} records");
}
