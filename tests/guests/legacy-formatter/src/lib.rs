//! A formatter built against `plinth:plugin@0.1.0`, the frozen first API
//! version: the host must keep loading it, pass the exit status as the
//! string records use, and call its `format-group` because its info says
//! `per-group`.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "formatter-plugin",
});

use exports::plinth::plugin::formatter::{FormatterInfo, Guest};
use plinth::plugin::types::{PluginError, PluginInfo, Trajectory};

struct Legacy;

impl Guest for Legacy {
    fn info() -> FormatterInfo {
        FormatterInfo {
            info: PluginInfo {
                name: "legacy-formatter".into(),
                version: "0.0.1".into(),
                description: "formats with the 0.1 API".into(),
            },
            file_extension: ".txt".into(),
            one_record_per_line: true,
            per_group: true,
        }
    }

    fn format(trajectory: Trajectory, _options: String) -> Result<String, PluginError> {
        Ok(format!(
            "legacy {} {}",
            trajectory.id, trajectory.exit_status
        ))
    }

    fn format_group(group: Vec<Trajectory>, _options: String) -> Result<String, PluginError> {
        let rollouts: Vec<String> = group
            .iter()
            .map(|t| format!("{}={}", t.id, t.exit_status))
            .collect();
        Ok(format!("legacy group {}", rollouts.join(",")))
    }
}

// Natively (a workspace `cargo build`) the exports' names, such as
// `plinth:plugin/formatter@0.1.0#format`, make the linker fail: export only
// when building the component.
#[cfg(target_family = "wasm")]
export!(Legacy);
