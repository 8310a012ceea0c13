//! The `terminal` tool: runs a bash command in the task's sandbox, as
//! Hermes' mini_swe_runner's `terminal` tool does. The result content is the
//! JSON text `{"content": {"output", "exit_code", "error"}}` that Hermes
//! trajectories carry.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "tool-plugin",
});

use exports::plinth::plugin::tool::{Guest, ToolResult};
use plinth::plugin::sandbox::{ExecRequest, SandboxError, Session};
use plinth::plugin::types::{PluginError, PluginInfo, ToolSpec};
use serde_json::{Value, json};

const NAME: &str = "terminal";

const DESCRIPTION: &str = "Execute bash commands in a sandboxed environment.
**Environment:**
- Isolated execution environment (local, Docker, or a container slot)
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
**Completion:**
- When task is complete, output: echo \"MINI_SWE_AGENT_FINAL_OUTPUT\" followed by your result
";

/// Longest timeout a model may ask for: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

struct Terminal;

impl Guest for Terminal {
    fn info() -> PluginInfo {
        PluginInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Runs bash commands in the task's sandbox".into(),
        }
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

    fn invoke(
        name: String,
        arguments: String,
        session: &Session,
    ) -> Result<ToolResult, PluginError> {
        if name != NAME {
            return Err(PluginError::UnknownTool(name));
        }
        let (command, timeout_secs) = parse_arguments(&arguments)?;
        let request = ExecRequest {
            command,
            timeout_secs,
            env: Vec::new(),
            cwd: None,
        };
        match session.exec(&request) {
            Ok(out) => {
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
            // The command could not run because the sandbox failed: not the
            // model's doing, so it must not look like a command result.
            Err(SandboxError::Dead(m)) | Err(SandboxError::Other(m)) => {
                Err(PluginError::Sandbox(m))
            }
            Err(SandboxError::NotFound(m)) => Err(PluginError::Sandbox(m)),
        }
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

export!(Terminal);
