//! The `swebench-django` scorer: SWE-bench rows graded byte for byte as swebench 4.1.0
//! grades them (its eval script, its `django` log parser, `get_eval_report`), in the sandbox
//! plinth grades in. Task row: a SWE-bench instance. Config: `env_activation`,
//! `repo_dir`, `test_cmd`, `timeout_secs` (see `plinth_swebench::scorer::Config`).
//! Reward 1.0 when resolved; sub-scores `f2p`, `p2p`.

use plinth_sdk::{PluginError, PluginInfo, ScoreResult, Scorer, Session, Trajectory};
use plinth_swebench::Parser;

const PARSER: Parser = Parser::Django;

struct SwebenchDjango;

plinth_sdk::export_scorer!(SwebenchDjango);

impl Scorer for SwebenchDjango {
    fn info() -> PluginInfo {
        PluginInfo {
            description: plinth_swebench::component::description(PARSER),
            ..plinth_sdk::plugin_info!("swebench-django", "")
        }
    }

    fn score(
        task: &str,
        _trajectory: Trajectory,
        config: &str,
        session: &Session,
    ) -> Result<ScoreResult, PluginError> {
        plinth_swebench::component::score(
            task,
            config,
            session,
            PARSER,
            plinth_swebench::parse::django,
        )
    }
}
