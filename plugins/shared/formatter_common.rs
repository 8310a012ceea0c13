//! Helpers shared by the built-in formatter components (`hermes`, `mswea`,
//! `openai`).
//!
//! Not a crate: each formatter includes this file with
//! `#[path = "../../shared/formatter_common.rs"] mod common;` after its own
//! `wit_bindgen::generate!`, so the paths below resolve to that crate's
//! generated bindings (the three crates generate the same world).

#![allow(dead_code)] // Not every formatter uses every helper.

use crate::plinth::plugin::types::{PluginError, Role, Score, ToolSpec, Trajectory};
use plinth_pyjson::{float_value, loads};
use serde_json::{Map, Value};

/// `invalid-input` with a message.
pub fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// Parses JSON text the trajectory is supposed to hold (`what` names it in
/// the error).
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
    parse_json(&format!("parameters of tool {:?}", spec.name), &spec.parameters)
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
