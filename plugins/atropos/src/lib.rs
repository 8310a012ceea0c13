//! The `atropos` formatter: one ScoredDataGroup-shaped record per group of
//! rollouts of a task (`--group-size`), as Atropos RL trainers read them:
//! `{"messages": [[...], ...], "scores": [...], ...}` with the group's
//! statistics, so groups without signal (all rewards equal) can be dropped.
//! Token ids and masks are written only when every rollout carries them;
//! plinth does not record token ids yet, so they are omitted.

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
