//! `{{name}}`: a plinth formatter. One JSON line per trajectory: its id,
//! exit status, reward and number of messages. Replace it with your own.

use plinth_sdk::serde_json::json;
use plinth_sdk::{Formatter, Options, PluginError, PluginInfo, Trajectory};

struct Plugin;
plinth_sdk::export_formatter!(Plugin);

impl Formatter for Plugin {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!("{{name}}", "Id, exit status, reward and message count, one line each")
    }

    fn format(t: Trajectory, _options: &Options) -> Result<String, PluginError> {
        let record = json!({
            "id": t.id,
            "exit_status": t.exit_status.as_str(),
            "reward": t.score.as_ref().map(|s| s.reward),
            "messages": t.messages.len(),
        });
        Ok(record.to_string())
    }
}
