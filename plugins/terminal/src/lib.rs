//! The `terminal` tool: runs a bash command in the task's sandbox, as
//! Hermes' mini_swe_runner's `terminal` tool does. The result content is the
//! JSON text `{"content": {"output", "exit_code", "error"}}` that Hermes
//! trajectories carry.

use plinth_sdk::{ExecRequest, PluginError, PluginInfo, Session, Tool, ToolResult, ToolSpec};
use serde_json::{Value, json};

const NAME: &str = "terminal";

/// Hermes' description, but honest for every sandbox (the local one is a
/// directory on the host, not isolation) and naming no completion marker:
/// the run's markers are configurable and the tool cannot know them; the
/// system prompt names the one to use.
const DESCRIPTION: &str = "Execute bash commands in the task's environment.
**Environment:**
- Commands run in your own working directory for this task: a directory on the host, or a container, depending on how the run was started
- Filesystem persists between tool calls within the same task
**Command Execution:**
- Provide the command to execute via the 'command' parameter
- Optional 'timeout' parameter in seconds (default: 60)
**Examples:**
- Run command: `{\"command\": \"ls -la\"}`
- With timeout: `{\"command\": \"long_task.sh\", \"timeout\": 300}`
**Best Practices:**
- Use non-interactive commands (avoid vim, nano, interactive python)
- Pipe to cat if output might be large
";

/// Longest timeout a model may ask for: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

struct Terminal;

plinth_sdk::export_tool!(Terminal);

impl Tool for Terminal {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(NAME, "Runs bash commands in the task's sandbox")
    }

    fn list_tools() -> Vec<ToolSpec> {
        let parameters = json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The bash command to execute"},
                "timeout": {"type": "integer", "description": "Command timeout in seconds (default: 60)"}
            },
            "required": ["command"]
        });
        vec![ToolSpec {
            name: NAME.into(),
            description: DESCRIPTION.into(),
            parameters: parameters.to_string(),
        }]
    }

    /// Only ever called with [`NAME`], the one tool listed.
    fn invoke(_name: &str, arguments: &str, session: &Session) -> Result<ToolResult, PluginError> {
        let (command, timeout_secs) = parse_arguments(arguments)?;
        let request = ExecRequest {
            timeout_secs,
            ..ExecRequest::new(command)
        };
        // A sandbox that fails is a `sandbox` error (the SDK's conversion):
        // not the model's doing, so it must not look like a command result.
        let out = session.exec(&request)?;
        let content = json!({"content": {
            "output": out.output,
            "exit_code": out.exit_code,
            "error": if out.timed_out { Value::from("command timed out") } else { Value::Null },
        }});
        Ok(ToolResult {
            content: content.to_string(),
            exec: Some(out),
        })
    }
}

/// `{"command": str, "timeout"?: int}`; anything else is the model's mistake
/// and is answered with a message saying what was wrong.
fn parse_arguments(arguments: &str) -> Result<(String, Option<u32>), PluginError> {
    let value: Value = serde_json::from_str(arguments)
        .map_err(|e| PluginError::InvalidArguments(format!("arguments are not valid JSON: {e}")))?;
    let Value::Object(args) = value else {
        return Err(PluginError::InvalidArguments(
            "arguments must be a JSON object".into(),
        ));
    };
    let command = match args.get("command") {
        Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
        Some(Value::String(_)) => {
            return Err(PluginError::InvalidArguments("`command` is empty".into()));
        }
        Some(_) => {
            return Err(PluginError::InvalidArguments(
                "`command` must be a string".into(),
            ));
        }
        None => {
            return Err(PluginError::InvalidArguments(
                "missing required argument `command`".into(),
            ));
        }
    };
    let timeout = match args.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
        {
            Some(secs) if secs > 0 => Some(secs.min(MAX_TIMEOUT_SECS) as u32),
            _ => {
                return Err(PluginError::InvalidArguments(
                    "`timeout` must be a positive number of seconds".into(),
                ));
            }
        },
    };
    Ok((command, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(arguments: &str) -> String {
        match parse_arguments(arguments) {
            Err(PluginError::InvalidArguments(message)) => message,
            other => panic!("{arguments}: expected invalid-arguments, got {other:?}"),
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse_arguments(r#"{"command": "ls"}"#),
            Ok(("ls".to_string(), None))
        );
        assert_eq!(
            parse_arguments(r#"{"command": "ls", "timeout": 2.5}"#),
            Ok(("ls".to_string(), Some(3)))
        );
        assert_eq!(
            parse_arguments(r#"{"command": "ls", "timeout": 1e9}"#),
            Ok(("ls".to_string(), Some(MAX_TIMEOUT_SECS as u32)))
        );
        assert!(refused("ls").contains("not valid JSON"));
        assert!(refused(r#"["ls"]"#).contains("JSON object"));
        assert!(refused("{}").contains("missing"));
        assert!(refused(r#"{"command": "  "}"#).contains("empty"));
        assert!(refused(r#"{"command": 1}"#).contains("string"));
        assert!(refused(r#"{"command": "ls", "timeout": 0}"#).contains("timeout"));
        assert!(refused(r#"{"command": "ls", "timeout": "5"}"#).contains("timeout"));
    }

    #[test]
    fn one_tool_named_terminal() {
        let tools = Terminal::list_tools();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, NAME);
        assert!(serde_json::from_str::<Value>(&tools[0].parameters).is_ok());
        assert_eq!(Terminal::info().name, NAME);
    }

    /// The model is told neither that a local sandbox isolates it nor a
    /// completion marker the run may not use.
    #[test]
    fn the_description_promises_no_isolation_and_names_no_marker() {
        let description = Terminal::list_tools().remove(0).description;
        for word in ["isolat", "sandboxed", "final_output"] {
            assert!(
                !description.to_lowercase().contains(word),
                "{word}: {description}"
            );
        }
        assert!(description.contains("your own working directory"));
    }
}
