//! Helpers for formats written as JSON: building records key by key (in
//! order, as Python's `json.dumps` of a dict writes them; serialize them with
//! `plinth_pyjson`), the canonical `score` object, OpenAI chat messages, and
//! the checks that make malformed input fail the same way in every format.

use plinth_pyjson::{float_value, loads};
use serde_json::{Map, Value};

use crate::{Message, PluginError, Role, ScoreResult, ToolSpec, Trajectory};

/// An `invalid-input` error: the trajectory or the options are malformed.
pub fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// Parses JSON text the input is supposed to hold (`what` names it in the
/// error).
pub(crate) fn parse_json(what: &str, text: &str) -> Result<Value, PluginError> {
    loads(text).map_err(|e| invalid(format!("{what} is not valid JSON: {e}")))
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

/// A string as JSON.
pub fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

/// An optional string: the string or `null`.
pub fn opt_string(s: Option<&str>) -> Value {
    s.map_or(Value::Null, string)
}

/// The canonical `score` object: `{"reward", "sub_scores": {name: value},
/// "details"}`.
pub fn score_value(score: &ScoreResult) -> Result<Value, PluginError> {
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

/// Checks the JSON text fields of a trajectory (task, tool parameters, score
/// details), so that malformed input fails the same way whatever the format
/// and however little of it a format shows, and returns the parsed task.
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

/// The role as the OpenAI chat API spells it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}
