//! The built-in `editor` plugin: one tool, `str_replace_editor`, that views,
//! creates and edits files in the task's sandbox, in the shape SWE-agent and
//! Anthropic's text editor tool made common (`command`: `view`, `create`,
//! `str_replace`, `insert`, `undo_edit`).
//!
//! - Paths are relative to the session's working directory (the workspace),
//!   or absolute inside it. Paths outside it (`..` escapes included) are
//!   refused. Symbolic links are followed when they resolve inside the
//!   workspace (the target is what is viewed and edited, and its undo history
//!   is the target's) and refused when they resolve outside it.
//! - Results are plain text. Malformed arguments (bad JSON, an unknown
//!   command, a missing or mistyped field) are `invalid-arguments` errors;
//!   anything else the model can fix (a missing file, an `old_str` that does
//!   not occur or occurs several times, a path outside the workspace, a file
//!   that is not UTF-8 or too big) is a result starting with `Error:`, so the
//!   model reads it and tries again without it counting as a format error.
//! - Files keep their bytes apart from the edit: tabs, CRLF line endings (a
//!   file in CRLF throughout is edited as LF and written back as CRLF), and
//!   the presence or absence of a final newline.
//! - `undo_edit` history lives in the sandbox (every call runs in a fresh
//!   plugin instance), where it never becomes part of the run's patch
//!   (`git add -A && git diff` of the workspace): under the git directory
//!   (`<git dir>/plinth-editor/undo/`) when the workspace is in a git
//!   repository, since git never tracks its own directory; else in
//!   `<workspace>/.plinth-editor/undo/`, a hidden directory with a
//!   `.gitignore` of `*`, so that it stays out of a diff even if the
//!   workspace becomes a repository later (once made, it stays in use). Each edit keeps the file's
//!   previous bytes; the last [`editor::MAX_UNDO_LEVELS`] edits of each file
//!   can be undone, most recent first; undoing a `create` deletes the file.

mod editor;

use plinth_sdk::{
    ExecRequest, PluginError, PluginInfo, SandboxError, Session, Tool, ToolResult, ToolSpec,
};
use serde_json::json;

/// The plugin's name (`--tool editor`).
const PLUGIN: &str = "editor";
/// The tool's name: the one models know from SWE-agent and Anthropic's
/// text editor tool.
const TOOL: &str = "str_replace_editor";

const DESCRIPTION: &str = "View, create and edit files in the workspace.
* `view`: a file, with line numbers (`view_range: [start, end]` for part of it, end -1 for \
the rest); a directory: its files and directories two levels deep, hidden ones skipped. Long \
output is cut, with a note saying how to see the rest.
* `create`: a new file with `file_text` (missing directories are made). It never overwrites \
an existing file.
* `str_replace`: replace `old_str` with `new_str` (default: empty, which deletes). `old_str` \
must match exactly one place in the file, character for character (whitespace and \
indentation included): include enough surrounding lines to make it unique.
* `insert`: insert `new_str` as lines after line `insert_line` (0: at the top).
* `undo_edit`: revert the last edit this tool made to `path` (repeat to go further back).
Paths are relative to the working directory, or absolute inside it. Files keep their tabs, \
line endings and final newline. Files that are not UTF-8 text, or over 4 MiB, cannot be \
edited with this tool: use the terminal for those.";

struct Editor;

plinth_sdk::export_tool!(Editor);

impl Tool for Editor {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            PLUGIN,
            "Views, creates and edits files in the task's sandbox (str_replace_editor)"
        )
    }

    fn list_tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: TOOL.into(),
            description: DESCRIPTION.into(),
            parameters: parameters().to_string(),
        }]
    }

    /// Only ever called with [`TOOL`], the one tool listed.
    fn invoke(_name: &str, arguments: &str, session: &Session) -> Result<ToolResult, PluginError> {
        match editor::run(arguments, &HostSandbox(session)) {
            Ok(content) => Ok(ToolResult {
                content,
                exec: None,
            }),
            Err(editor::Failure::InvalidArguments(why)) => Err(PluginError::InvalidArguments(why)),
            Err(editor::Failure::Sandbox(why)) => Err(PluginError::Sandbox(why)),
        }
    }
}

fn parameters() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "command": {
                "type": "string",
                "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
                "description": "The command to run."
            },
            "path": {
                "type": "string",
                "description": "A file or directory: relative to the working directory, or absolute inside it."
            },
            "file_text": {
                "type": "string",
                "description": "`create`: the content of the new file."
            },
            "old_str": {
                "type": "string",
                "description": "`str_replace`: the exact text to replace; it must occur exactly once."
            },
            "new_str": {
                "type": "string",
                "description": "`str_replace`: the replacement (default: empty). `insert`: the lines to insert."
            },
            "insert_line": {
                "type": "integer",
                "minimum": 0,
                "description": "`insert`: the line after which to insert (0: at the top)."
            },
            "view_range": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 2,
                "maxItems": 2,
                "description": "`view` of a file: [first line, last line], 1-based; -1 as the last line means the end."
            }
        },
        "required": ["command", "path"]
    })
}

/// The host's sandbox session behind the editor's [`editor::Sandbox`] trait.
struct HostSandbox<'a>(&'a Session);

impl editor::Sandbox for HostSandbox<'_> {
    fn exec(&self, command: &str) -> Result<editor::Exec, String> {
        self.0
            .exec(&ExecRequest::new(command))
            .map(|out| editor::Exec {
                exit_code: out.exit_code,
                output: out.output,
            })
            .map_err(SandboxError::describe)
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.read_file(path).map_err(SandboxError::describe)
    }

    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String> {
        self.0
            .write_file(path, contents)
            .map_err(SandboxError::describe)
    }

    fn cwd(&self) -> String {
        self.0.cwd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tool_named_str_replace_editor() {
        let tools = Editor::list_tools();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, TOOL);
        let schema: serde_json::Value = serde_json::from_str(&tools[0].parameters).unwrap();
        assert_eq!(schema["required"], json!(["command", "path"]));
        assert_eq!(Editor::info().name, PLUGIN);
    }
}
