//! The `mswea` formatter: mini-swe-agent's trajectory file
//! (`trajectory_format: "mini-swe-agent-1.1"`), which its inspector and
//! SWE-bench tooling read.
//!
//! File mode (`"jsonl": false`): `json.dumps(data, indent=2)`, with
//! `ensure_ascii` on as mini-swe-agent writes it. JSONL mode: one compact line,
//! non-ASCII as UTF-8.
//!
//! The messages follow the shape of the real mini-swe-agent files as far as
//! the canonical record carries the data: key order `content, role,
//! tool_calls, extra` for model replies and `content, extra, tool_call_id,
//! role` for observations, as litellm and mini-swe-agent write them; litellm's
//! `function_call`, `provider_specific_fields` and `extra.response` have no
//! canonical counterpart and are left out.

use plinth_pyjson::{dumps, dumps_indent, loads};
use plinth_sdk::format::{check_trajectory, num, object, opt_string, score_value, string};
use plinth_sdk::{
    ExitStatus, Formatter, Message, Options, PluginError, PluginInfo, Role, Trajectory,
};
use serde_json::{Map, Value};

struct Mswea;

plinth_sdk::export_formatter!(Mswea);

impl Formatter for Mswea {
    const FILE_EXTENSION: &'static str = ".traj.json";
    const ONE_RECORD_PER_LINE: bool = false;

    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "mswea",
            "mini-swe-agent trajectories (mini-swe-agent-1.1): one <id>.traj.json per run, or \
             one object per JSONL line; option \"agent\": the agent config to record under \
             info.config.agent"
        )
    }

    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError> {
        let jsonl = options.bool("jsonl", false)?;
        check_trajectory(&trajectory)?;
        let data = trajectory_file(&trajectory, options)?;
        Ok(if jsonl {
            dumps(&data, false)
        } else {
            dumps_indent(&data, 2, true)
        })
    }
}

fn trajectory_file(t: &Trajectory, options: &Options) -> Result<Value, PluginError> {
    let mut info = Map::new();
    info.insert(
        "model_stats".into(),
        object([
            ("instance_cost", num(t.cost)),
            ("api_calls", Value::from(t.api_calls)),
        ]),
    );
    info.insert(
        "config".into(),
        object([
            (
                "agent",
                options
                    .get("agent")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            ),
            ("agent_type", string("plinth.agent")),
            ("model", object([("model_name", string(&t.model))])),
            ("model_type", string("plinth.model")),
            ("environment", Value::Object(Map::new())),
            ("environment_type", string(&t.sandbox)),
        ]),
    );
    info.insert(
        "mini_version".into(),
        string(&format!("plinth-{}", t.plinth_version)),
    );
    info.insert("exit_status".into(), string(t.exit_status.as_str()));
    info.insert("submission".into(), string(&t.submission));
    // Not mini-swe-agent keys; after its own ones.
    if let Some(patch) = &t.patch {
        info.insert("model_patch".into(), string(patch));
    }
    if let Some(score) = &t.score {
        info.insert("reward".into(), num(score.reward));
        info.insert("score".into(), score_value(score)?);
    }

    let mut messages: Vec<Value> = t.messages.iter().map(message).collect();
    messages.push(exit_message(t));

    Ok(object([
        ("info", Value::Object(info)),
        ("messages", Value::Array(messages)),
        ("trajectory_format", string("mini-swe-agent-1.1")),
        ("instance_id", string(&t.id)),
    ]))
}

fn message(msg: &Message) -> Value {
    let content = opt_string(msg.content.as_deref());
    match msg.role {
        Role::System => object([("role", string("system")), ("content", content)]),
        Role::User => {
            let mut map = Map::new();
            map.insert("role".into(), string("user"));
            map.insert("content".into(), content);
            if let Some(interrupt) = &msg.interrupt {
                // How mini-swe-agent marks a FormatError (and other
                // interruptions) it answered with a user message.
                map.insert(
                    "extra".into(),
                    object([("interrupt_type", string(interrupt))]),
                );
            }
            Value::Object(map)
        }
        Role::Assistant => assistant(msg, content),
        Role::Tool => observation(msg),
    }
}

fn assistant(msg: &Message, content: Value) -> Value {
    let mut map = Map::new();
    map.insert("content".into(), content);
    map.insert("role".into(), string("assistant"));
    if !msg.tool_calls.is_empty() {
        // litellm's key order.
        let calls = msg
            .tool_calls
            .iter()
            .map(|call| {
                object([
                    (
                        "function",
                        object([
                            ("arguments", string(&call.arguments)),
                            ("name", string(&call.name)),
                        ]),
                    ),
                    ("id", string(&call.id)),
                    ("type", string("function")),
                ])
            })
            .collect();
        map.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reasoning) = &msg.reasoning {
        // Where litellm's message puts a reasoning model's thoughts.
        map.insert("reasoning_content".into(), string(reasoning));
    }
    let actions = msg
        .tool_calls
        .iter()
        .map(|call| {
            object([
                ("command", action_command(&call.arguments)),
                ("tool_call_id", string(&call.id)),
            ])
        })
        .collect();
    map.insert(
        "extra".into(),
        object([
            ("actions", Value::Array(actions)),
            // mini-swe-agent counts a reply without a cost as 0.0.
            ("cost", num(msg.cost.unwrap_or(0.0))),
            ("timestamp", num(msg.timestamp)),
        ]),
    );
    Value::Object(map)
}

/// The command an action ran: the `"command"` string of the call's
/// arguments, or the arguments text as the model sent it (other tools,
/// arguments that do not parse).
fn action_command(arguments: &str) -> Value {
    match loads(arguments) {
        Ok(Value::Object(mut args)) => match args.remove("command") {
            Some(Value::String(command)) => Value::String(command),
            _ => string(arguments),
        },
        _ => string(arguments),
    }
}

/// What a tool message holds, as mini-swe-agent's observation needs it.
struct Outcome {
    output: String,
    returncode: i64,
    exception_info: String,
}

/// The terminal tool's content is `{"content": {"output": str, "exit_code":
/// int, "error": str or null}}`; any tool message of that shape is read as a
/// command's result. Anything else is its text as the output, return code 0.
fn outcome(content: Option<&str>) -> Outcome {
    let text = content.unwrap_or("");
    if let Ok(Value::Object(outer)) = loads(text)
        && let Some(Value::Object(inner)) = outer.get("content")
        && let (Some(Value::String(output)), Some(Value::Number(code))) =
            (inner.get("output"), inner.get("exit_code"))
        && let Some(returncode) = code.as_i64()
    {
        let exception_info = match inner.get("error") {
            Some(Value::String(e)) => e.clone(),
            _ => String::new(),
        };
        return Outcome {
            output: output.clone(),
            returncode,
            exception_info,
        };
    }
    Outcome {
        output: text.to_string(),
        returncode: 0,
        exception_info: String::new(),
    }
}

fn observation(msg: &Message) -> Value {
    let outcome = outcome(msg.content.as_deref());
    let mut map = Map::new();
    map.insert(
        "content".into(),
        string(&format!(
            "<returncode>{}</returncode>\n<output>\n{}</output>",
            outcome.returncode, outcome.output
        )),
    );
    map.insert(
        "extra".into(),
        object([
            ("raw_output", string(&outcome.output)),
            ("returncode", Value::from(outcome.returncode)),
            ("timestamp", num(msg.timestamp)),
            ("exception_info", string(&outcome.exception_info)),
        ]),
    );
    if let Some(id) = &msg.tool_call_id {
        map.insert("tool_call_id".into(), string(id));
    }
    map.insert("role".into(), string("tool"));
    Value::Object(map)
}

/// mini-swe-agent ends every trajectory with an `exit` message. Its content
/// is the submission for `Submitted` (as mini-swe-agent writes it), the
/// error's text when the run failed (its uncaught-exception message, which
/// also carries `exception_str`), and the exit status otherwise (as its
/// `LimitsExceeded`).
fn exit_message(t: &Trajectory) -> Value {
    let content = match (&t.error, t.exit_status) {
        (Some(error), _) => error.as_str(),
        (None, ExitStatus::Submitted) => t.submission.as_str(),
        (None, status) => status.as_str(),
    };
    let mut extra = Map::new();
    extra.insert("exit_status".into(), string(t.exit_status.as_str()));
    extra.insert("submission".into(), string(&t.submission));
    if let Some(error) = &t.error {
        extra.insert("exception_str".into(), string(error));
    }
    object([
        ("role", string("exit")),
        ("content", string(content)),
        ("extra", Value::Object(extra)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sdk::testing;

    #[test]
    fn info() {
        let info = Mswea::info();
        assert_eq!(info.name, "mswea");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            (Mswea::FILE_EXTENSION, Mswea::ONE_RECORD_PER_LINE),
            (".traj.json", false)
        );
    }

    #[test]
    fn formats_valid_input() {
        testing::formats_valid_input::<Mswea>();
    }

    #[test]
    fn rejects_malformed_input() {
        testing::rejects_malformed_input::<Mswea>();
        assert!(matches!(
            testing::format::<Mswea>(testing::trajectory(), r#"{"jsonl": "yes"}"#),
            Err(PluginError::InvalidInput(_))
        ));
    }

    #[test]
    fn survives_odd_input() {
        testing::survives_odd_input::<Mswea>();
    }

    #[test]
    fn agent_option_is_recorded() {
        let options = r#"{"jsonl": true, "agent": {"step_limit": 16, "cost_limit": 0.0}}"#;
        let text = testing::format::<Mswea>(testing::trajectory(), options).unwrap();
        assert!(
            text.contains(r#""config": {"agent": {"step_limit": 16, "cost_limit": 0.0}, "agent_type": "plinth.agent""#),
            "{text}"
        );
    }

    #[test]
    fn file_mode_is_indented_ascii() {
        let mut t = testing::trajectory();
        t.submission = "é".into();
        let text = testing::format::<Mswea>(t, r#"{"jsonl": false}"#).unwrap();
        assert!(
            text.starts_with("{\n  \"info\": {\n    \"model_stats\": {\n"),
            "{text}"
        );
        assert!(text.contains(r#""submission": "\u00e9""#), "{text}");
        assert!(text.ends_with("\n  \"instance_id\": \"t1\"\n}"), "{text}");
    }

    #[test]
    fn observations() {
        let o = outcome(Some(
            r#"{"content": {"output": "x", "exit_code": -1, "error": "gone"}}"#,
        ));
        assert_eq!(
            (o.output.as_str(), o.returncode, o.exception_info.as_str()),
            ("x", -1, "gone")
        );
        // Not the terminal's shape: the text itself, return code 0.
        for text in [
            r#"{"content": {"output": "x", "exit_code": 1.0}}"#,
            r#"{"output": "x"}"#,
            "plain",
        ] {
            let o = outcome(Some(text));
            assert_eq!((o.output.as_str(), o.returncode), (text, 0));
        }
        assert_eq!(action_command(r#"{"command": "ls"}"#), json_str("ls"));
        assert_eq!(
            action_command(r#"{"command": 1}"#),
            json_str(r#"{"command": 1}"#)
        );
        assert_eq!(
            action_command(r#"{"path": "a"}"#),
            json_str(r#"{"path": "a"}"#)
        );
        assert_eq!(action_command("{oops"), json_str("{oops"));
    }

    fn json_str(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
