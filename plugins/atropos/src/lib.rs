//! The `atropos` formatter: one ScoredDataGroup-shaped record per group of
//! rollouts of a task (`--group-size`), as Atropos RL trainers read them:
//! `{"messages": [[...], ...], "scores": [...], ...}` with the group's
//! statistics, so groups without signal (all rewards equal) can be dropped.
//! A rollout that ended in an error (infrastructure, model, plugin) has no
//! reward: it is left out of `messages` and `scores` (its exit status stays
//! in `exit_statuses`), so a broken sandbox never teaches the policy a 0.
//! Token rows (`tokens`, `masks`, `inference_logprobs`) are not in this
//! record: WIT 0.2 does not carry token ids to formatters; with
//! `--capture-tokens` the host writes them as `<output>.scored.jsonl`.

use plinth_pyjson::dumps;
use plinth_sdk::format::{check_trajectory, invalid, num, object, openai_message, string};
use plinth_sdk::{Formatter, GroupFormatter, Options, PluginError, PluginInfo, Trajectory};
use serde_json::Value;

struct Atropos;

plinth_sdk::export_group_formatter!(Atropos);

impl Formatter for Atropos {
    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "atropos",
            "Atropos ScoredDataGroup: one record per group of rollouts"
        )
    }

    /// A single trajectory is a group of one.
    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError> {
        Self::format_group(vec![trajectory], options)
    }
}

impl GroupFormatter for Atropos {
    /// No options of its own (the SDK still refuses options that are not an
    /// object).
    fn format_group(group: Vec<Trajectory>, _options: &Options) -> Result<String, PluginError> {
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
        let valid = || group.iter().filter(|t| !t.exit_status.is_error());
        let messages = valid()
            .map(|t| Value::Array(t.messages.iter().map(openai_message).collect()))
            .collect();
        // A valid rollout without a score (no scorer ran) scores 0; an
        // errored one is not scored at all.
        let scores: Vec<f64> = valid()
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
                Value::Array(
                    group
                        .iter()
                        .map(|t| string(t.exit_status.as_str()))
                        .collect(),
                ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sdk::testing;
    use plinth_sdk::{ExitStatus, GroupInfo};

    const JSONL: &str = r#"{"jsonl": true}"#;

    #[test]
    fn info() {
        let info = Atropos::info();
        assert_eq!(info.name, "atropos");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            (Atropos::FILE_EXTENSION, Atropos::ONE_RECORD_PER_LINE),
            (".jsonl", true)
        );
    }

    #[test]
    fn formats_valid_input() {
        testing::formats_valid_input::<Atropos>();
    }

    #[test]
    fn rejects_malformed_input() {
        testing::rejects_malformed_input::<Atropos>();
    }

    #[test]
    fn survives_odd_input() {
        testing::survives_odd_input::<Atropos>();
    }

    #[test]
    fn a_lone_trajectory_is_a_group_of_one() {
        let lone = testing::format::<Atropos>(testing::trajectory(), JSONL).unwrap();
        let group = testing::format_group::<Atropos>(vec![testing::trajectory()], JSONL).unwrap();
        assert_eq!(lone, group);
        assert!(lone.contains(r#""group_size": 1"#), "{lone}");
    }

    #[test]
    fn a_group_record() {
        let stats = GroupInfo {
            id: "t1".into(),
            size: 2,
            rollout: 0,
            mean: 0.5,
            std: 0.5,
            all_equal: false,
        };
        let mut first = testing::trajectory();
        first.group = Some(stats.clone());
        let mut second = testing::trajectory();
        second.group = Some(GroupInfo {
            rollout: 1,
            ..stats
        });
        second.score = None;
        second.exit_status = ExitStatus::LimitsExceeded;
        let text = testing::format_group::<Atropos>(vec![first, second], JSONL).unwrap();
        assert!(
            text.ends_with(
                r#""scores": [1.0, 0.0], "exit_statuses": ["Finished", "LimitsExceeded"], "group_size": 2, "mean": 0.5, "std": 0.5, "all_equal": false}"#
            ),
            "{text}"
        );
    }

    #[test]
    fn errored_rollouts_are_not_scored() {
        let mut broken = testing::trajectory();
        broken.exit_status = ExitStatus::InfrastructureError;
        broken.score = None;
        let text =
            testing::format_group::<Atropos>(vec![testing::trajectory(), broken], JSONL).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["scores"], serde_json::json!([1.0]));
        assert_eq!(record["messages"].as_array().unwrap().len(), 1);
        assert_eq!(
            record["exit_statuses"],
            serde_json::json!(["Finished", "InfrastructureError"])
        );
    }

    #[test]
    fn refuses_empty_and_mixed_groups() {
        assert!(matches!(
            testing::format_group::<Atropos>(Vec::new(), JSONL),
            Err(PluginError::InvalidInput(_))
        ));
        let mut other = testing::trajectory();
        other.id = "t2".into();
        assert!(matches!(
            testing::format_group::<Atropos>(vec![testing::trajectory(), other], JSONL),
            Err(PluginError::InvalidInput(_))
        ));
    }
}
