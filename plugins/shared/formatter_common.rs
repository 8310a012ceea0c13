//! Helpers shared by the built-in formatter components (`hermes`, `mswea`,
//! `openai`).
//!
//! Not a crate: each formatter includes this file with
//! `#[path = "../../shared/formatter_common.rs"] mod common;` after its own
//! `wit_bindgen::generate!`, so the paths below resolve to that crate's
//! generated bindings (the three crates generate the same world).

#![allow(dead_code)] // Not every formatter uses every helper.

use crate::plinth::plugin::types::{
    GroupInfo, Message, PluginError, Role, ScoreResult as Score, ToolSpec, Trajectory,
};
use plinth_pyjson::{float_value, loads};
use serde_json::{Map, Value};

/// `invalid-input` with a message.
pub fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// Parses JSON text the trajectory is supposed to hold (`what` names it in
/// the error).
/// The answer of a per-trajectory formatter asked for a group record.
pub fn not_per_group(formatter: &str) -> PluginError {
    invalid(format!(
        "the {formatter} format has one record per trajectory, not per group"
    ))
}

pub fn parse_json(what: &str, text: &str) -> Result<Value, PluginError> {
    loads(text).map_err(|e| invalid(format!("{what} is not valid JSON: {e}")))
}

/// The formatter options: a JSON object (the host always sets `"jsonl"`).
pub fn parse_options(options: &str) -> Result<Map<String, Value>, PluginError> {
    match parse_json("options", options)? {
        Value::Object(map) => Ok(map),
        other => Err(invalid(format!(
            "options must be a JSON object, got {}",
            plinth_pyjson::dumps(&other, false)
        ))),
    }
}

/// A boolean option; `default` when absent, an error when not a boolean.
pub fn bool_option(
    options: &Map<String, Value>,
    key: &str,
    default: bool,
) -> Result<bool, PluginError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(invalid(format!(
            "option {key:?} must be true or false, got {}",
            plinth_pyjson::dumps(other, false)
        ))),
    }
}

/// A string option; `None` when absent, an error when not a string.
pub fn str_option<'a>(
    options: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, PluginError> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "option {key:?} must be a string, got {}",
            plinth_pyjson::dumps(other, false)
        ))),
    }
}

/// Builds a JSON object from key/value pairs, in order.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        map.insert(key.to_string(), value);
    }
    Value::Object(map)
}

/// A float as JSON (non-finite values, which JSON cannot carry, as `null`).
pub fn num(x: f64) -> Value {
    float_value(x)
}

pub fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

/// An optional string: the string or `null`.
pub fn opt_string(s: Option<&str>) -> Value {
    s.map_or(Value::Null, string)
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The canonical `score` object: `{"reward", "sub_scores": {name: value},
/// "details"}`.
pub fn score_value(score: &Score) -> Result<Value, PluginError> {
    let mut sub_scores = Map::new();
    for sub in &score.sub_scores {
        sub_scores.insert(sub.name.clone(), num(sub.value));
    }
    Ok(object([
        ("reward", num(score.reward)),
        ("sub_scores", Value::Object(sub_scores)),
        ("details", parse_json("score.details", &score.details)?),
    ]))
}

/// The parsed JSON Schema of a tool's arguments.
pub fn tool_parameters(spec: &ToolSpec) -> Result<Value, PluginError> {
    parse_json(
        &format!("parameters of tool {:?}", spec.name),
        &spec.parameters,
    )
}

/// Checks the JSON text fields every formatter relies on, so malformed input
/// fails the same way whatever the format, and returns the parsed task.
pub fn check_trajectory(t: &Trajectory) -> Result<Value, PluginError> {
    let task = parse_json("trajectory.task", &t.task)?;
    for spec in &t.tools {
        tool_parameters(spec)?;
    }
    if let Some(score) = &t.score {
        score_value(score)?;
    }
    Ok(task)
}

/// A message as the OpenAI chat API has it: `role`, `content` (`null` when
/// none), then only the keys that apply. plinth's own fields (`timestamp`,
/// `cost`, `interrupt`) are not part of that shape and are left out.
pub fn openai_message(msg: &Message) -> Value {
    let mut map = Map::new();
    map.insert("role".into(), string(role_name(msg.role)));
    map.insert("content".into(), opt_string(msg.content.as_deref()));
    if let Some(reasoning) = &msg.reasoning {
        map.insert("reasoning_content".into(), string(reasoning));
    }
    if !msg.tool_calls.is_empty() {
        let calls = msg
            .tool_calls
            .iter()
            .map(|call| {
                object([
                    ("id", string(&call.id)),
                    ("type", string("function")),
                    (
                        "function",
                        object([
                            ("name", string(&call.name)),
                            ("arguments", string(&call.arguments)),
                        ]),
                    ),
                ])
            })
            .collect();
        map.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &msg.tool_call_id {
        map.insert("tool_call_id".into(), string(id));
    }
    if let Some(name) = &msg.name {
        map.insert("name".into(), string(name));
    }
    Value::Object(map)
}

/// A rollout's group statistics as JSON.
pub fn group_value(g: &GroupInfo) -> Value {
    object([
        ("id", string(&g.id)),
        ("size", Value::from(g.size)),
        ("rollout", Value::from(g.rollout)),
        ("mean", num(g.mean)),
        ("std", num(g.std)),
        ("all_equal", Value::Bool(g.all_equal)),
    ])
}

/// Checks every formatter runs (natively: `cargo test -p plinth-plugin-<name>`).
#[cfg(test)]
pub mod testing {
    use crate::exports::plinth::plugin::formatter::Guest;
    use crate::plinth::plugin::types::{
        Message, PluginError, Role, ScoreResult, SubScore, ToolCall, ToolSpec, Trajectory, Usage,
    };

    fn message(role: Role, content: Option<&str>) -> Message {
        Message {
            role,
            content: content.map(str::to_string),
            reasoning: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            timestamp: 1763728000.5,
            cost: None,
            interrupt: None,
        }
    }

    /// A small valid run with a tool call, a score and a patch.
    pub fn trajectory() -> Trajectory {
        let mut assistant = message(Role::Assistant, None);
        assistant.tool_calls.push(ToolCall {
            id: "call_1".into(),
            name: "terminal".into(),
            arguments: r#"{"command": "echo hi"}"#.into(),
        });
        assistant.cost = Some(0.25);
        let mut tool = message(
            Role::Tool,
            Some(r#"{"content": {"output": "hi\n", "exit_code": 0, "error": null}}"#),
        );
        tool.tool_call_id = Some("call_1".into());
        tool.name = Some("terminal".into());
        Trajectory {
            id: "t1".into(),
            input_index: 3,
            task: r#"{"id": "t1", "prompt": "Say hi"}"#.into(),
            messages: vec![
                message(Role::System, Some("You are an agent.")),
                message(Role::User, Some("Say hi")),
                assistant,
                tool,
                message(Role::Assistant, Some("Done.")),
            ],
            tools: vec![ToolSpec {
                name: "terminal".into(),
                description: "Run a command.".into(),
                parameters: r#"{"type": "object"}"#.into(),
            }],
            exit_status: "Finished".into(),
            submission: String::new(),
            error: None,
            model: "m".into(),
            sandbox: "local".into(),
            api_calls: 2,
            usage: Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
            },
            cost: 0.5,
            started_at: "2026-11-21T12:00:00Z".into(),
            duration_secs: 2.0,
            plinth_version: "0.1.0".into(),
            patch: Some("diff --git a/x b/x\n".into()),
            score: Some(ScoreResult {
                reward: 1.0,
                sub_scores: vec![SubScore {
                    name: "tests".into(),
                    value: 1.0,
                }],
                details: r#"{"passed": 1}"#.into(),
            }),
            group: None,
        }
    }

    fn expect_invalid(result: Result<String, PluginError>, needle: &str) {
        match result {
            Err(PluginError::InvalidInput(message)) => assert!(
                message.contains(needle),
                "message {message:?} does not mention {needle:?}"
            ),
            other => panic!("expected invalid-input mentioning {needle:?}, got {other:?}"),
        }
    }

    /// Formats a valid run in both modes; the text never ends in a newline
    /// and a JSONL record is one line.
    pub fn formats_valid_input<G: Guest>() {
        for jsonl in [true, false] {
            let text = G::format(trajectory(), format!(r#"{{"jsonl": {jsonl}}}"#))
                .unwrap_or_else(|e| panic!("jsonl={jsonl}: {e:?}"));
            assert!(!text.ends_with('\n'), "trailing newline");
            assert!(plinth_pyjson::loads(&text).is_ok(), "not JSON: {text}");
            if jsonl {
                assert!(!text.contains('\n'), "a JSONL record spans lines: {text}");
            }
        }
    }

    /// Malformed records and options are `invalid-input` errors, not panics.
    pub fn rejects_malformed_input<G: Guest>() {
        let mut t = trajectory();
        t.task = "{not json".into();
        expect_invalid(G::format(t, r#"{"jsonl": true}"#.into()), "trajectory.task");

        let mut t = trajectory();
        t.tools[0].parameters = "{\"type\": ".into();
        expect_invalid(G::format(t, r#"{"jsonl": true}"#.into()), "terminal");

        let mut t = trajectory();
        t.score.as_mut().unwrap().details = "passed".into();
        expect_invalid(G::format(t, r#"{"jsonl": true}"#.into()), "score.details");

        expect_invalid(G::format(trajectory(), "[]".into()), "options");
        expect_invalid(G::format(trajectory(), "jsonl".into()), "options");
    }

    /// Odd but legal data formats without a panic.
    pub fn survives_odd_input<G: Guest>() {
        let mut t = trajectory();
        t.messages.retain(|m| m.role != Role::User);
        t.messages[1].tool_calls[0].arguments = "\u{0}{[".into();
        t.messages[1].timestamp = f64::NAN;
        t.messages[1].reasoning = Some(String::new());
        t.messages[2].content = None;
        t.messages[2].tool_call_id = None;
        t.messages.push(message(Role::Tool, Some("[1, 2")));
        t.messages
            .push(message(Role::Tool, Some(&"[".repeat(100_000))));
        t.cost = f64::INFINITY;
        t.error = Some("boom".into());
        t.api_calls = 0;
        for options in [r#"{"jsonl": true}"#, r#"{"jsonl": false}"#] {
            G::format(t.clone(), options.into()).expect("formats");
        }
        let mut t = trajectory();
        t.messages.clear();
        t.tools.clear();
        t.score = None;
        G::format(t, r#"{"jsonl": true}"#.into()).expect("formats an empty run");
    }
}
