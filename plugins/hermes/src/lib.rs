//! The `hermes` formatter: Hermes-Agent's ShareGPT-style trajectories
//! (`{"conversations": [{"from", "value"}, ...], ...}`), one JSON line per run,
//! byte for byte as Hermes writes them (see `formats.md` in the project
//! notes).
//!
//! Two variants, chosen with the option `"variant"`:
//! - `"mini_swe_runner"` (default): Hermes' `mini_swe_runner.py`, wrapper
//!   `{"conversations", "completed", "api_calls", "metadata": {"model",
//!   "env_type", "timestamp"}}`;
//! - `"batch_runner"`: Hermes' `batch_runner.py` / `AIAgent`, with a
//!   `<think>` block in every `gpt` turn and the wrapper keys in the order
//!   Hermes writes them: `prompt_index`, `conversations`, `metadata`,
//!   `completed`, `partial`, `api_calls`, `toolsets_used`, `tool_stats`,
//!   `tool_error_counts`.
//!
//! A reply whose calls the agent read from its text (`--text-actions`: the
//! ```bash blocks and `<tool_call>` tags it wrote) is one `gpt` turn of that
//! text, as the model wrote it, followed by the `tool` turn of the results:
//! not its text plus a `<tool_call>` block per call, which would show every
//! action twice, once in a form the model never wrote. The record marks such
//! calls no other way; they are told by the text writing exactly those
//! calls (`plinth_text_actions::written_in`, the agent's own parse).

use plinth_pyjson::{dumps, loads, py_rstrip, py_strip};
use plinth_sdk::format::{
    check_trajectory, invalid, num, object, opt_string, score_value, string, tool_parameters,
};
use plinth_sdk::{
    ExitStatus, Formatter, Message, Options, PluginError, PluginInfo, Role, Trajectory,
};
use serde_json::{Map, Value};

struct Hermes;

plinth_sdk::export_formatter!(Hermes);

impl Formatter for Hermes {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "hermes",
            "Hermes-Agent ShareGPT trajectories (conversations of from/value turns with \
             <tool_call>/<tool_response> blocks); option \"variant\": \"mini_swe_runner\" \
             (default) or \"batch_runner\""
        )
    }

    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError> {
        let variant = match options.str("variant")? {
            None | Some("mini_swe_runner") => Variant::MiniSweRunner,
            Some("batch_runner") => Variant::BatchRunner,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown hermes variant {other:?}: expected \"mini_swe_runner\" or \
                     \"batch_runner\""
                )));
            }
        };
        let task = check_trajectory(&trajectory)?;
        let record = match variant {
            Variant::MiniSweRunner => mini_swe_runner(&trajectory, &task)?,
            Variant::BatchRunner => batch_runner(&trajectory, &task)?,
        };
        // Hermes writes `json.dumps(result, ensure_ascii=False)` per line.
        Ok(dumps(&record, false))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    MiniSweRunner,
    BatchRunner,
}

/// The system prompt of every Hermes trajectory, around the tool list.
const SYSTEM_HEAD: &str = "You are a function calling AI model. You are provided with function \
signatures within <tools> </tools> XML tags. You may call one or more functions to assist with \
the user query. If available tools are not relevant in assisting with user query, just respond in \
natural conversational language. Don't make assumptions about what values to plug into functions. \
After calling & executing the functions, you will be provided with function results within \
<tool_response> </tool_response> XML tags. Here are the available tools:\n<tools>\n";

const SYSTEM_TAIL: &str = "\n</tools>\nFor each function call return a JSON object, with the \
following pydantic model json schema for each:\n{'title': 'FunctionCall', 'type': 'object', \
'properties': {'name': {'title': 'Name', 'type': 'string'}, 'arguments': {'title': 'Arguments', \
'type': 'object'}}, 'required': ['name', 'arguments']}\nEach function call should be enclosed \
within <tool_call> </tool_call> XML tags.\nExample:\n<tool_call>\n{'name': <function-name>,\
'arguments': <args-dict>}\n</tool_call>";

/// `completed` in both wrappers: the run ended the way a finished task does.
fn completed(t: &Trajectory) -> bool {
    matches!(t.exit_status, ExitStatus::Submitted | ExitStatus::Finished)
}

/// Hermes writes the failed-before-any-call wrapper when its run raised
/// before the first model reply.
fn failed_before_any_call(t: &Trajectory) -> Option<&str> {
    if t.api_calls == 0 {
        t.error.as_deref()
    } else {
        None
    }
}

/// `"reward"` and `"score"` go last in the wrapper, outside `conversations`
/// (Hermes has no such keys; trainers read them by name).
fn add_score(record: &mut Value, t: &Trajectory) -> Result<(), PluginError> {
    if let (Some(score), Value::Object(map)) = (&t.score, record) {
        map.insert("reward".to_string(), num(score.reward));
        map.insert("score".to_string(), score_value(score)?);
    }
    Ok(())
}

fn mini_swe_runner(t: &Trajectory, task: &Value) -> Result<Value, PluginError> {
    let mut record = if let Some(error) = failed_before_any_call(t) {
        object([
            ("conversations", Value::Array(Vec::new())),
            ("completed", Value::Bool(false)),
            ("api_calls", Value::from(0)),
            ("error", string(error)),
            ("metadata", object([("timestamp", string(&t.started_at))])),
        ])
    } else {
        // A run that failed later keeps the normal wrapper: Hermes records no
        // error there (its loop just stops); `completed` follows the exit status.
        object([
            (
                "conversations",
                conversations(t, task, Variant::MiniSweRunner)?,
            ),
            ("completed", Value::Bool(completed(t))),
            ("api_calls", Value::from(t.api_calls)),
            (
                "metadata",
                object([
                    ("model", string(&t.model)),
                    ("env_type", string(&t.sandbox)),
                    ("timestamp", string(&t.started_at)),
                ]),
            ),
        ])
    };
    add_score(&mut record, t)?;
    Ok(record)
}

fn batch_runner(t: &Trajectory, task: &Value) -> Result<Value, PluginError> {
    let failed = failed_before_any_call(t);
    let completed = failed.is_none() && completed(t);
    let conversations = if failed.is_some() {
        Value::Array(Vec::new())
    } else {
        conversations(t, task, Variant::BatchRunner)?
    };
    let stats = ToolStats::collect(t);
    let mut map = Map::new();
    map.insert("prompt_index".into(), Value::from(t.input_index));
    map.insert("conversations".into(), conversations);
    // Hermes' batch metadata is {batch_num, timestamp, model}; plinth has no
    // batches, so: its keys in its order, then the sandbox kind as in the
    // mini_swe_runner wrapper.
    map.insert(
        "metadata".into(),
        object([
            ("timestamp", string(&t.started_at)),
            ("model", string(&t.model)),
            ("env_type", string(&t.sandbox)),
        ]),
    );
    map.insert("completed".into(), Value::Bool(completed));
    map.insert("partial".into(), Value::Bool(!completed));
    map.insert("api_calls".into(), Value::from(t.api_calls));
    if let Some(error) = failed {
        // Where the mini_swe_runner failure wrapper has it: after api_calls.
        map.insert("error".into(), string(error));
    }
    map.insert("toolsets_used".into(), stats.used());
    map.insert("tool_stats".into(), stats.per_tool());
    map.insert("tool_error_counts".into(), stats.error_counts());
    let mut record = Value::Object(map);
    add_score(&mut record, t)?;
    Ok(record)
}

/// The `conversations` list.
fn conversations(t: &Trajectory, task: &Value, variant: Variant) -> Result<Value, PluginError> {
    let mut turns = Vec::new();
    let mut tools = Vec::new();
    for spec in &t.tools {
        tools.push(object([
            ("name", string(&spec.name)),
            ("description", string(&spec.description)),
            ("parameters", tool_parameters(spec)?),
            ("required", Value::Null),
        ]));
    }
    let system = format!(
        "{SYSTEM_HEAD}{}{SYSTEM_TAIL}",
        dumps(&Value::Array(tools), false)
    );
    turns.push(turn("system", string(&system)));

    // Hermes' message list starts with the task (the first user message) and
    // has no system message; what comes before the task is not part of it.
    let messages = &t.messages;
    let (human, rest) = match messages.iter().position(|m| m.role == Role::User) {
        Some(first) => (content(&messages[first]), &messages[first + 1..]),
        // No user message: the task row's prompt stands in for it.
        None => (
            string(task.get("prompt").and_then(Value::as_str).unwrap_or("")),
            &messages[..],
        ),
    };
    turns.push(turn("human", human));

    let mut i = 0;
    while i < rest.len() {
        let msg = &rest[i];
        match msg.role {
            Role::Assistant if !msg.tool_calls.is_empty() => {
                let value = if written_as_text(msg) {
                    // The model wrote its actions in its text (`--text-actions`):
                    // the turn is what it wrote, as a turn without calls is,
                    // not `<tool_call>` blocks it never wrote.
                    let mut value = think(msg, variant);
                    value.push_str(msg.content.as_deref().unwrap_or(""));
                    value
                } else {
                    native_calls(msg, variant)
                };
                turns.push(turn("gpt", string(&value)));

                // Every tool message that follows, in one `tool` turn; the
                // name is that of the call at the same position.
                let mut responses = Vec::new();
                let mut j = i + 1;
                while j < rest.len() && rest[j].role == Role::Tool {
                    let tool_msg = &rest[j];
                    let name = msg
                        .tool_calls
                        .get(responses.len())
                        .map_or("unknown", |c| c.name.as_str());
                    let response = object([
                        (
                            "tool_call_id",
                            string(tool_msg.tool_call_id.as_deref().unwrap_or("")),
                        ),
                        ("name", string(name)),
                        ("content", tool_content(tool_msg.content.as_deref())),
                    ]);
                    responses.push(format!(
                        "<tool_response>\n{}\n</tool_response>",
                        dumps(&response, false)
                    ));
                    j += 1;
                }
                if !responses.is_empty() {
                    turns.push(turn("tool", string(&responses.join("\n"))));
                }
                i = j;
                continue;
            }
            Role::Assistant => {
                let mut value = think(msg, variant);
                value.push_str(msg.content.as_deref().unwrap_or(""));
                turns.push(turn("gpt", string(&value)));
            }
            Role::User => turns.push(turn("human", content(msg))),
            // System messages, and tool messages that answer no assistant
            // turn, are not part of Hermes' conversations.
            Role::System | Role::Tool => {}
        }
        i += 1;
    }
    Ok(Value::Array(turns))
}

/// A `gpt` turn of native tool calls: the reasoning, the text, then one
/// `<tool_call>` block per call, right-stripped (Hermes' rendering).
fn native_calls(msg: &Message, variant: Variant) -> String {
    let mut value = think(msg, variant);
    if let Some(text) = msg.content.as_deref().filter(|c| !c.is_empty()) {
        value.push_str(text);
        value.push('\n');
    }
    for call in &msg.tool_calls {
        // Hermes keeps whatever `json.loads` returns, and `{}` when the
        // model's text does not parse.
        let arguments = loads(&call.arguments).unwrap_or_else(|_| Value::Object(Map::new()));
        let call_json = object([("name", string(&call.name)), ("arguments", arguments)]);
        value.push_str("<tool_call>\n");
        value.push_str(&dumps(&call_json, false));
        value.push_str("\n</tool_call>\n");
    }
    py_rstrip(&value).to_string()
}

/// Whether the message's calls are the actions its text writes: the agent
/// parsed them from the reply in text mode (the record has no other mark,
/// and the agent reads a reply's text for actions only when it made no
/// native call).
fn written_as_text(msg: &Message) -> bool {
    let Some(content) = msg.content.as_deref() else {
        return false;
    };
    let calls: Vec<(&str, &str)> = msg
        .tool_calls
        .iter()
        .map(|c| (c.name.as_str(), c.arguments.as_str()))
        .collect();
    plinth_text_actions::written_in(content, &calls)
}

fn turn(from: &str, value: Value) -> Value {
    object([("from", string(from)), ("value", value)])
}

/// A message's content, `null` when it has none.
fn content(msg: &Message) -> Value {
    opt_string(msg.content.as_deref())
}

/// The reasoning block that opens a `gpt` turn.
fn think(msg: &Message, variant: Variant) -> String {
    let reasoning = msg.reasoning.as_deref().filter(|r| !r.is_empty());
    match (variant, reasoning) {
        (Variant::MiniSweRunner, Some(r)) => format!("<think>{r}</think>"),
        (Variant::MiniSweRunner, None) => String::new(),
        (Variant::BatchRunner, Some(r)) => format!("<think>\n{r}\n</think>\n"),
        (Variant::BatchRunner, None) => "<think>\n</think>\n".to_string(),
    }
}

/// A tool message's content inside `<tool_response>`: the parsed JSON when,
/// stripped, it starts with `{` or `[` and parses; else the text as is.
fn tool_content(text: Option<&str>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    if py_strip(text).starts_with(['{', '['])
        && let Ok(parsed) = loads(text)
    {
        return parsed;
    }
    string(text)
}

/// Whether a tool message reports a failure: its content is a JSON object
/// with a non-null `"error"`, at the top level or inside a `"content"`
/// object (the terminal tool's `{"content": {"output", "exit_code",
/// "error"}}`).
fn tool_failed(text: Option<&str>) -> bool {
    let Some(Ok(Value::Object(map))) = text.map(loads) else {
        return false;
    };
    let has_error = |m: &Map<String, Value>| m.get("error").is_some_and(|e| !e.is_null());
    has_error(&map) || matches!(map.get("content"), Some(Value::Object(inner)) if has_error(inner))
}

/// Adds one to `slot` (0 count, 1 success, 2 failure) of tool `name`, when
/// it is one of the offered tools.
fn bump(known: &mut [(String, [u64; 3])], name: &str, slot: usize) {
    if let Some((_, counts)) = known.iter_mut().find(|(n, _)| n == name) {
        counts[slot] += 1;
    }
}

/// Per-tool call counts for the batch_runner wrapper.
struct ToolStats {
    /// Every tool offered to the model, in the order of `trajectory.tools`,
    /// with (count, success, failure).
    known: Vec<(String, [u64; 3])>,
    /// Names of the tools the model called, sorted, without repeats (tools
    /// it was not offered included).
    used: Vec<String>,
}

impl ToolStats {
    /// `count` is the number of calls; a call's outcome is decided by the
    /// tool message answering it (matched by `tool_call_id`, else by the
    /// message's `name`), so a call nothing answered counts in neither
    /// `success` nor `failure`.
    fn collect(t: &Trajectory) -> Self {
        let mut known: Vec<(String, [u64; 3])> = Vec::new();
        for spec in &t.tools {
            if !known.iter().any(|(name, _)| *name == spec.name) {
                known.push((spec.name.clone(), [0; 3]));
            }
        }
        let mut used: Vec<String> = Vec::new();
        let mut call_names: Vec<(&str, &str)> = Vec::new();
        for msg in &t.messages {
            match msg.role {
                Role::Assistant => {
                    for call in &msg.tool_calls {
                        bump(&mut known, &call.name, 0);
                        call_names.push((&call.id, &call.name));
                        if !used.contains(&call.name) {
                            used.push(call.name.clone());
                        }
                    }
                }
                Role::Tool => {
                    // The latest call with this id answers it.
                    let by_id = msg.tool_call_id.as_deref().and_then(|id| {
                        call_names
                            .iter()
                            .rev()
                            .find(|(call_id, _)| *call_id == id)
                            .map(|(_, name)| *name)
                    });
                    if let Some(name) = by_id.or(msg.name.as_deref()) {
                        let slot = if tool_failed(msg.content.as_deref()) {
                            2
                        } else {
                            1
                        };
                        bump(&mut known, name, slot);
                    }
                }
                Role::System | Role::User => {}
            }
        }
        used.sort();
        ToolStats { known, used }
    }

    fn used(&self) -> Value {
        Value::Array(self.used.iter().map(|n| string(n)).collect())
    }

    fn per_tool(&self) -> Value {
        let mut map = Map::new();
        for (name, [count, success, failure]) in &self.known {
            map.insert(
                name.clone(),
                object([
                    ("count", Value::from(*count)),
                    ("success", Value::from(*success)),
                    ("failure", Value::from(*failure)),
                ]),
            );
        }
        Value::Object(map)
    }

    fn error_counts(&self) -> Value {
        let mut map = Map::new();
        for (name, [_, _, failure]) in &self.known {
            map.insert(name.clone(), Value::from(*failure));
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sdk::testing;

    #[test]
    fn info() {
        let info = Hermes::info();
        assert_eq!(info.name, "hermes");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            (Hermes::FILE_EXTENSION, Hermes::ONE_RECORD_PER_LINE),
            (".jsonl", true)
        );
    }

    #[test]
    fn formats_valid_input() {
        testing::formats_valid_input::<Hermes>();
        let options = r#"{"jsonl": true, "variant": "batch_runner"}"#;
        testing::format::<Hermes>(testing::trajectory(), options).unwrap();
    }

    #[test]
    fn rejects_malformed_input() {
        testing::rejects_malformed_input::<Hermes>();
        for variant in [r#""mini""#, "1"] {
            let options = format!(r#"{{"jsonl": true, "variant": {variant}}}"#);
            assert!(matches!(
                testing::format::<Hermes>(testing::trajectory(), &options),
                Err(PluginError::InvalidInput(_))
            ));
        }
    }

    #[test]
    fn survives_odd_input() {
        testing::survives_odd_input::<Hermes>();
    }
    #[test]
    fn tool_failures() {
        assert!(tool_failed(Some(r#"{"error": "x"}"#)));
        assert!(tool_failed(Some(r#"{"content": {"error": "x"}}"#)));
        assert!(!tool_failed(Some(
            r#"{"error": null, "content": {"error": null}}"#
        )));
        assert!(!tool_failed(Some(r#"{"content": "error"}"#)));
        assert!(!tool_failed(Some(r#"["error"]"#)));
        assert!(!tool_failed(Some("error: not JSON")));
        assert!(!tool_failed(None));
    }
}
