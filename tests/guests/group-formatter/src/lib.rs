//! A per-group formatter built against `plinth:plugin@0.2.0`: it says so by
//! exporting `group-formatter`, and sees the exit status as the typed enum.

wit_bindgen::generate!({
    path: "../../../wit/0.2.0",
    world: "group-formatter-plugin",
});

use exports::plinth::plugin::formatter::{FormatterInfo, Guest as Formatter};
use exports::plinth::plugin::group_formatter::Guest as GroupFormatter;
use plinth::plugin::types::{ExitStatus, PluginError, PluginInfo, Trajectory};

struct Grouped;

/// A spelling of the enum case that the 0.1 string could not produce, so a
/// test can tell which one the guest received.
fn status(status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Running => "enum:running",
        ExitStatus::Submitted => "enum:submitted",
        ExitStatus::Finished => "enum:finished",
        ExitStatus::LimitsExceeded => "enum:limits-exceeded",
        ExitStatus::TimeExceeded => "enum:time-exceeded",
        ExitStatus::RepeatedFormatError => "enum:repeated-format-error",
        ExitStatus::InfrastructureError => "enum:infrastructure-error",
        ExitStatus::ModelError => "enum:model-error",
        ExitStatus::PluginError => "enum:plugin-error",
    }
}

impl Formatter for Grouped {
    fn info() -> FormatterInfo {
        FormatterInfo {
            info: PluginInfo {
                name: "group-formatter".into(),
                version: "0.0.1".into(),
                description: "formats whole groups with the 0.2 API".into(),
            },
            file_extension: ".txt".into(),
            one_record_per_line: true,
        }
    }

    fn format(trajectory: Trajectory, _options: String) -> Result<String, PluginError> {
        Ok(format!(
            "one {} {}",
            trajectory.id,
            status(trajectory.exit_status)
        ))
    }
}

impl GroupFormatter for Grouped {
    fn format_group(group: Vec<Trajectory>, _options: String) -> Result<String, PluginError> {
        let rollouts: Vec<String> = group
            .iter()
            .map(|t| format!("{}={}", t.id, status(t.exit_status)))
            .collect();
        Ok(format!("group of {}: {}", group.len(), rollouts.join(",")))
    }
}

// Natively (a workspace `cargo build`) the exports' names, such as
// `plinth:plugin/formatter@0.1.0#format`, make the linker fail: export only
// when building the component.
#[cfg(target_family = "wasm")]
export!(Grouped);
