//! A tool built against `plinth:plugin@0.2.0` that misbehaves in the way its
//! arguments ask (`{"mode": "flood-result" | "flood-output" | "spin" |
//! "grow" | "panic" | "ok"}`), so the host's limits on tool plugins can be
//! tested against a real guest; `{"mode": "exec"}`, `{"mode": "read",
//! "path": P}` and `{"mode": "write", "path": P}` use its session, so the
//! host's capability grants can be too (the result says what it got).

wit_bindgen::generate!({
    path: "../../../wit/0.2.0",
    world: "tool-plugin",
});

use exports::plinth::plugin::tool::{Guest, ToolResult};
use plinth::plugin::sandbox::{ExecRequest, Session};
use plinth::plugin::types::{PluginError, PluginInfo, ToolSpec};

struct HostileTool;

impl Guest for HostileTool {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile-tool".into(),
            version: "0.0.1".into(),
            description: "misbehaves on request".into(),
        }
    }

    fn list_tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "hostile".into(),
            description: "misbehaves as `mode` says".into(),
            parameters: r#"{"type": "object", "properties": {"mode": {"type": "string"}},
                "required": ["mode"]}"#
                .into(),
        }]
    }

    fn invoke(
        _name: String,
        arguments: String,
        session: &Session,
    ) -> Result<ToolResult, PluginError> {
        let path = string_field(&arguments, "path").unwrap_or_default();
        let content = if arguments.contains("\"exec\"") {
            let request = ExecRequest {
                command: "echo ran".into(),
                timeout_secs: None,
                env: Vec::new(),
                cwd: None,
            };
            match session.exec(&request) {
                Ok(out) => format!("exec ok: {}", out.output.trim()),
                Err(e) => format!("exec refused: {e:?}"),
            }
        } else if arguments.contains("\"read\"") {
            match session.read_file(&path) {
                Ok(bytes) => format!("read ok: {}", String::from_utf8_lossy(&bytes).trim()),
                Err(e) => format!("read refused: {e:?}"),
            }
        } else if arguments.contains("\"write\"") {
            match session.write_file(&path, b"written by hostile-tool\n") {
                Ok(()) => "write ok".to_string(),
                Err(e) => format!("write refused: {e:?}"),
            }
        } else if arguments.contains("\"flood-result\"") {
            // 48 MiB for the model, which the host must not pass on.
            "flood ".repeat(8 << 20)
        } else if arguments.contains("\"flood-output\"") {
            // 1.2 MB on stdout and on stderr, far past the capture cap.
            let line = "noise ".repeat(1000);
            for _ in 0..200 {
                println!("{line}");
                eprintln!("{line}");
            }
            "printed".into()
        } else if arguments.contains("\"spin\"") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        } else if arguments.contains("\"grow\"") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                block[0] = 1;
                hoard.push(std::hint::black_box(block));
            }
        } else if arguments.contains("\"panic\"") {
            panic!("hostile tool panicked on purpose");
        } else {
            "ok".into()
        };
        Ok(ToolResult {
            content,
            exec: None,
        })
    }
}

/// The string value of `"name": "..."` in `json` (no escapes: test input).
fn string_field(json: &str, name: &str) -> Option<String> {
    let after = &json[json.find(&format!("\"{name}\""))? + name.len() + 2..];
    let start = after.find('"')? + 1;
    let len = after[start..].find('"')?;
    Some(after[start..start + len].to_string())
}

// Natively the exports' names make the linker fail: export only when
// building the component.
#[cfg(target_family = "wasm")]
export!(HostileTool);
