//! A bench-only `terminal` that runs no process: it answers every command
//! with the command's own text as output, exit code 0. With it, a step of
//! `plinth run` costs the model call, the component call and plinth's
//! bookkeeping, and nothing else, so `bench/run.sh` can measure plinth's own
//! CPU per step. Not built into plinth.

use plinth_sdk::{ExecOutput, PluginError, PluginInfo, Session, Tool, ToolResult, ToolSpec};
use serde_json::{Value, json};

struct Noop;

plinth_sdk::export_tool!(Noop);

impl Tool for Noop {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!("bench-noop", "A terminal that runs nothing (bench only)")
    }

    fn list_tools() -> Vec<ToolSpec> {
        let parameters = json!({
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"]
        });
        vec![ToolSpec {
            name: "terminal".into(),
            description: "Echoes the command back; runs nothing.".into(),
            parameters: parameters.to_string(),
        }]
    }

    fn invoke(_name: &str, arguments: &str, _session: &Session) -> Result<ToolResult, PluginError> {
        let command = serde_json::from_str::<Value>(arguments)
            .ok()
            .and_then(|v| v.get("command").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| PluginError::InvalidArguments("`command` must be a string".into()))?;
        let output = format!("{command}\n");
        let content = json!({"content": {"output": output, "exit_code": 0, "error": null}});
        Ok(ToolResult {
            content: content.to_string(),
            exec: Some(ExecOutput {
                exit_code: 0,
                output,
                truncated: false,
                timed_out: false,
            }),
        })
    }
}
