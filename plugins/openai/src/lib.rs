//! The `openai` formatter: one line per run of
//! `{"id", "messages", "tools", "metadata"}` with the messages in plain OpenAI
//! chat shape, which SFT pipelines and Hugging Face `datasets` load as they
//! are. Written as Python's `json.dumps(record, ensure_ascii=False)`.
//! With `--capture-tokens`, `metadata.training` keeps the ids the server
//! sampled, as the host assembled them (the options' `training`), so the
//! messages stay in plain chat shape.

use plinth_pyjson::dumps;
use plinth_sdk::format::{
    check_trajectory, num, object, openai_message, opt_string, score_value, string, tool_parameters,
};
use plinth_sdk::{Formatter, GroupInfo, Options, PluginError, PluginInfo, Trajectory};
use serde_json::Value;

struct OpenAi;

plinth_sdk::export_formatter!(OpenAi);

impl Formatter for OpenAi {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "openai",
            "OpenAI chat format: {id, messages, tools, metadata} per JSONL line, for SFT \
             pipelines and Hugging Face datasets"
        )
    }

    /// No options of its own (the SDK still refuses options that are not an
    /// object); the host's `training` is kept in the metadata.
    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError> {
        let task = check_trajectory(&trajectory)?;
        let training = options.get("training").filter(|t| !t.is_null());
        Ok(dumps(&record(&trajectory, task, training)?, false))
    }
}

fn record(t: &Trajectory, task: Value, training: Option<&Value>) -> Result<Value, PluginError> {
    let messages = t.messages.iter().map(openai_message).collect();
    let mut tools = Vec::new();
    for spec in &t.tools {
        tools.push(object([
            ("type", string("function")),
            (
                "function",
                object([
                    ("name", string(&spec.name)),
                    ("description", string(&spec.description)),
                    ("parameters", tool_parameters(spec)?),
                ]),
            ),
        ]));
    }
    let score = match &t.score {
        Some(score) => score_value(score)?,
        None => Value::Null,
    };
    let metadata = object([
        ("input_index", Value::from(t.input_index)),
        ("task", task),
        ("exit_status", string(t.exit_status.as_str())),
        ("submission", string(&t.submission)),
        ("error", opt_string(t.error.as_deref())),
        ("model", string(&t.model)),
        ("sandbox", string(&t.sandbox)),
        ("api_calls", Value::from(t.api_calls)),
        (
            "usage",
            object([
                ("prompt_tokens", Value::from(t.usage.prompt_tokens)),
                ("completion_tokens", Value::from(t.usage.completion_tokens)),
            ]),
        ),
        ("cost", num(t.cost)),
        ("started_at", string(&t.started_at)),
        ("duration_secs", num(t.duration_secs)),
        ("plinth_version", string(&t.plinth_version)),
        ("patch", opt_string(t.patch.as_deref())),
        ("score", score),
    ]);
    let mut metadata = metadata;
    if let Some(group) = &t.group {
        metadata
            .as_object_mut()
            .expect("metadata is an object")
            .insert("group".into(), group_value(group));
    }
    if let Some(training) = training {
        metadata
            .as_object_mut()
            .expect("metadata is an object")
            .insert("training".into(), training.clone());
    }
    Ok(object([
        ("id", string(&t.id)),
        ("messages", Value::Array(messages)),
        ("tools", Value::Array(tools)),
        ("metadata", metadata),
    ]))
}

/// A rollout's group statistics as JSON.
fn group_value(g: &GroupInfo) -> Value {
    object([
        ("id", string(&g.id)),
        ("size", Value::from(g.size)),
        ("rollout", Value::from(g.rollout)),
        ("mean", num(g.mean)),
        ("std", num(g.std)),
        ("all_equal", Value::Bool(g.all_equal)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sdk::testing;

    #[test]
    fn info() {
        let info = OpenAi::info();
        assert_eq!(info.name, "openai");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            (OpenAi::FILE_EXTENSION, OpenAi::ONE_RECORD_PER_LINE),
            (".jsonl", true)
        );
    }

    #[test]
    fn formats_valid_input() {
        testing::formats_valid_input::<OpenAi>();
    }

    #[test]
    fn rejects_malformed_input() {
        testing::rejects_malformed_input::<OpenAi>();
    }

    #[test]
    fn survives_odd_input() {
        testing::survives_odd_input::<OpenAi>();
    }

    #[test]
    fn metadata_keeps_everything_else() {
        let text = testing::format::<OpenAi>(testing::trajectory(), r#"{"jsonl": true}"#).unwrap();
        let expected_tail = r#""metadata": {"input_index": 3, "task": {"id": "t1", "prompt": "Say hi"}, "exit_status": "Finished", "submission": "", "error": null, "model": "m", "sandbox": "local", "api_calls": 2, "usage": {"prompt_tokens": 10, "completion_tokens": 5}, "cost": 0.5, "started_at": "2026-11-21T12:00:00Z", "duration_secs": 2.0, "plinth_version": "0.1.0", "patch": "diff --git a/x b/x\n", "score": {"reward": 1.0, "sub_scores": {"tests": 1.0}, "details": {"passed": 1}}}}"#;
        assert!(text.ends_with(expected_tail), "{text}");
    }

    #[test]
    fn captured_ids_are_kept_in_the_metadata() {
        let options = r#"{"jsonl": true, "training": {"assembly": "sequence", "tokens": 2, "trained": 1, "samples": [{"tokens": [7, 8], "masks": [-100, 8], "logprobs": null}]}}"#;
        let text = testing::format::<OpenAi>(testing::trajectory(), options).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            record["metadata"]["training"]["samples"][0]["tokens"],
            serde_json::json!([7, 8])
        );
        assert!(record["messages"][2].get("tokens").is_none());
    }
}
