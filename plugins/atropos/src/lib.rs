//! The `atropos` formatter: one ScoredDataGroup-shaped record per group of
//! rollouts of a task (`--group-size`), as Atropos RL trainers read them:
//! `{"messages": [[...], ...], "scores": [...], ...}` with the group's
//! statistics, so groups without signal (all rewards equal) can be dropped.
//! Token ids and masks are written only when every rollout carries them;
//! plinth does not record token ids yet, so they are omitted.

use plinth_pyjson::dumps;
use serde_json::Value;

wit_bindgen::generate!({ path: "../../wit/0.1.0", world: "formatter-plugin" });

#[path = "../../shared/formatter_common.rs"]
mod common;

use common::{check_trajectory, invalid, num, object, openai_message, parse_options, string};
use exports::plinth::plugin::formatter::{FormatterInfo, Guest};
use plinth::plugin::types::{PluginError, PluginInfo, Trajectory};

struct Atropos;

export!(Atropos);

impl Guest for Atropos {
    fn info() -> FormatterInfo {
        FormatterInfo {
            info: PluginInfo {
                name: "atropos".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                description: "Atropos ScoredDataGroup: one record per group of rollouts"
                    .to_string(),
            },
            file_extension: ".jsonl".to_string(),
            one_record_per_line: true,
            per_group: true,
        }
    }

    /// A single trajectory is a group of one.
    fn format(trajectory: Trajectory, options: String) -> Result<String, PluginError> {
        Self::format_group(vec![trajectory], options)
    }

    fn format_group(group: Vec<Trajectory>, options: String) -> Result<String, PluginError> {
        parse_options(&options)?;
        let first = group.first().ok_or_else(|| invalid("an empty group"))?;
        for t in &group {
            check_trajectory(t)?;
            if t.id != first.id {
                return Err(invalid(format!(
                    "a group holds one task's rollouts, got `{}` and `{}`",
                    first.id, t.id
                )));
            }
        }
        let messages = group
            .iter()
            .map(|t| Value::Array(t.messages.iter().map(openai_message).collect()))
            .collect();
        // A rollout without a score (its scorer could not run) has no reward;
        // it scores 0 here, and its exit status tells why.
        let scores: Vec<f64> = group
            .iter()
            .map(|t| t.score.as_ref().map_or(0.0, |s| s.reward))
            .collect();
        let stats = first.group.as_ref();
        let record = object([
            ("id", string(&first.id)),
            ("messages", Value::Array(messages)),
            (
                "scores",
                Value::Array(scores.iter().map(|s| num(*s)).collect()),
            ),
            (
                "exit_statuses",
                Value::Array(group.iter().map(|t| string(&t.exit_status)).collect()),
            ),
            ("group_size", Value::from(group.len())),
            ("mean", stats.map_or(Value::Null, |g| num(g.mean))),
            ("std", stats.map_or(Value::Null, |g| num(g.std))),
            (
                "all_equal",
                stats.map_or(Value::Null, |g| Value::Bool(g.all_equal)),
            ),
        ]);
        Ok(dumps(&record, false))
    }
}
