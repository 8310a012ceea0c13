//! `{{name}}`: a plinth scorer. Reward 1.0 when the configured command
//! (`--scorer-config '{"command": "make test"}'`) exits 0 in the graded
//! sandbox, else 0.0. Replace it with your own.

use plinth_sdk::serde_json::{self, Value, json};
use plinth_sdk::{ExecRequest, PluginError, PluginInfo, ScoreResult, Scorer, Session, SubScore, Trajectory};

struct Plugin;
plinth_sdk::export_scorer!(Plugin);

impl Scorer for Plugin {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!("{{name}}", "Reward 1.0 when the configured command exits 0")
    }

    fn score(_task: &str, _trajectory: Trajectory, config: &str, session: &Session) -> Result<ScoreResult, PluginError> {
        // A bad config is `invalid-input`: the run gets no reward, not a wrong 0.
        let config: Value = serde_json::from_str(config)
            .map_err(|e| PluginError::InvalidInput(format!("config is not JSON: {e}")))?;
        let command = config["command"]
            .as_str()
            .ok_or_else(|| PluginError::InvalidInput("config needs `command` (a string)".into()))?;
        let out = session.exec(&ExecRequest::new(command))?;
        let passed = if out.exit_code == 0 { 1.0 } else { 0.0 };
        Ok(ScoreResult {
            reward: passed,
            sub_scores: vec![SubScore { name: "passed".into(), value: passed }],
            details: json!({"exit_code": out.exit_code, "output": out.output}).to_string(),
        })
    }
}
