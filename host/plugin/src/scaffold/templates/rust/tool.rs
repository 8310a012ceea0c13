//! `{{name}}`: a plinth tool. The model calls `{{name}}` with a file path and
//! gets its line, word and byte counts. Replace it with your own.

use plinth_sdk::serde_json::{self, Value};
use plinth_sdk::{ExecRequest, PluginError, PluginInfo, Session, Tool, ToolResult, ToolSpec};

struct Plugin;
plinth_sdk::export_tool!(Plugin);

impl Tool for Plugin {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!("{{name}}", "Counts the lines, words and bytes of a file")
    }

    fn list_tools() -> Vec<ToolSpec> {
        let parameters = r#"{"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}"#;
        vec![ToolSpec {
            name: "{{name}}".into(),
            description: "Line, word and byte counts of a file.".into(),
            parameters: parameters.into(),
        }]
    }

    fn invoke(_name: &str, arguments: &str, session: &Session) -> Result<ToolResult, PluginError> {
        // The model's mistakes are `invalid-arguments`: it is told and may retry.
        let arguments: Value = serde_json::from_str(arguments)
            .map_err(|e| PluginError::InvalidArguments(format!("not valid JSON: {e}")))?;
        let path = arguments["path"]
            .as_str()
            .ok_or_else(|| PluginError::InvalidArguments("`path` must be a string".into()))?;
        let quoted = format!("'{}'", path.replace('\'', r"'\''"));
        // A sandbox failure becomes a `sandbox` error through `?`.
        let out = session.exec(&ExecRequest::new(format!("wc -l -w -c -- {quoted}")))?;
        Ok(ToolResult { content: out.output.clone(), exec: Some(out) })
    }
}
