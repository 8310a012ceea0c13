//! The `atropos` formatter: one ScoredDataGroup-shaped record per group of
//! rollouts of a task (`--group-size`), as Atropos RL trainers read them:
//! `{"messages": [[...], ...], "scores": [...], ...}` with the group's
//! statistics, so groups without signal (all rewards equal) can be dropped.
//! A rollout that ended in an error (infrastructure, model, plugin) has no
//! reward: it is left out of `messages` and `scores` (its exit status stays
//! in `exit_statuses`), so a broken sandbox never teaches the policy a 0.
//!
//! With `--capture-tokens` the record also carries the token rows a trainer
//! learns from, from the ids the server sampled (the host assembles them and
//! passes them in the options' `training`): `tokens`, `masks` and
//! `inference_logprobs` (when every call had logprobs), one row per valid
//! rollout, or per model call of a rollout whose calls do not extend one
//! another; `scores` and `messages` then have one entry per row (a per-call
//! row's messages end at that call's reply). A group where a valid rollout
//! has no ids gets no token rows and says why in `tokens_unavailable`.
//! Rows whose ids `--tokenizer` recomputed from the text (the server
//! returned none) are flagged: `token_source` is `recomputed`, or `mixed`
//! when some ids are the server's (omitted when all are).
//!
//! Option: `messages` (default true): false leaves them out, as trainers
//! that read only token rows prefer.

use plinth_pyjson::dumps;
use plinth_sdk::format::{check_trajectory, invalid, num, openai_message, string};
use plinth_sdk::{Formatter, GroupFormatter, Options, PluginError, PluginInfo, Role, Trajectory};
use serde_json::{Map, Value};

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
    /// Options: `messages` (default true), and the host's `training`.
    fn format_group(group: Vec<Trajectory>, options: &Options) -> Result<String, PluginError> {
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
        let with_messages = options.bool("messages", true)?;
        let valid: Vec<usize> = (0..group.len())
            .filter(|i| !group[*i].exit_status.is_error())
            .collect();
        let rows = token_rows(&group, &valid, options)?;
        Ok(dumps(&record(&group, &valid, with_messages, &rows), false))
    }
}

/// One training row: the rollout it comes from, how many of its messages
/// it covers, and the row itself (borrowed from the options).
struct Row<'a> {
    rollout: usize,
    messages: usize,
    tokens: &'a Value,
    masks: &'a Value,
    logprobs: &'a Value,
    /// The view's `source`: `recomputed`, `mixed`, or absent (the server's).
    source: Option<&'a str>,
}

/// What the options' `training` gives a group.
enum TokenRows<'a> {
    /// The run captured no ids.
    NotCaptured,
    Rows(Vec<Row<'a>>),
    /// A valid rollout has none: why.
    Unavailable(String),
}

/// The group's token rows from the options' `training`.
fn token_rows<'a>(
    group: &[Trajectory],
    valid: &[usize],
    options: &'a Options,
) -> Result<TokenRows<'a>, PluginError> {
    let training: Vec<&Value> = match options.get("training") {
        None | Some(Value::Null) => return Ok(TokenRows::NotCaptured),
        // `format` of a lone trajectory: its own training data.
        Some(one @ Value::Object(_)) if group.len() == 1 => vec![one],
        Some(Value::Array(list)) if list.len() == group.len() => list.iter().collect(),
        Some(_) => return Err(invalid("option \"training\" does not match the group")),
    };
    let mut rows = Vec::new();
    for &i in valid {
        let view = training[i];
        let samples = view.get("samples").and_then(Value::as_array);
        let Some(samples) = samples.filter(|s| !s.is_empty()) else {
            let reason = view
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("no token ids");
            return Ok(TokenRows::Unavailable(format!("rollout {i}: {reason}")));
        };
        let per_call = view.get("assembly").and_then(Value::as_str) == Some("per_turn");
        // The index after each assistant message: where a per-call row's
        // messages end.
        let ends: Vec<usize> = group[i]
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.role == Role::Assistant)
            .map(|(n, _)| n + 1)
            .collect();
        for (n, sample) in samples.iter().enumerate() {
            let field = |key: &str| sample.get(key).unwrap_or(&Value::Null);
            rows.push(Row {
                rollout: i,
                messages: if per_call {
                    ends.get(n).copied().unwrap_or(group[i].messages.len())
                } else {
                    group[i].messages.len()
                },
                tokens: field("tokens"),
                masks: field("masks"),
                logprobs: field("logprobs"),
                source: view.get("source").and_then(Value::as_str),
            });
        }
    }
    Ok(TokenRows::Rows(rows))
}

/// The group's record: one entry of `messages` and `scores` per token row
/// when there are rows, else per valid rollout. A valid rollout without a
/// score (no scorer ran) scores 0; an errored one is not scored at all.
fn record(
    group: &[Trajectory],
    valid: &[usize],
    with_messages: bool,
    token_rows: &TokenRows,
) -> Value {
    let first = &group[0];
    let reward = |i: usize| num(group[i].score.as_ref().map_or(0.0, |s| s.reward));
    let messages_of = |i: usize, end: usize| {
        Value::Array(
            group[i].messages[..end]
                .iter()
                .map(openai_message)
                .collect(),
        )
    };
    let rows = match token_rows {
        TokenRows::Rows(rows) if !rows.is_empty() => rows.as_slice(),
        _ => &[],
    };
    let (messages, scores): (Vec<Value>, Vec<Value>) = if rows.is_empty() {
        valid
            .iter()
            .map(|&i| (messages_of(i, group[i].messages.len()), reward(i)))
            .unzip()
    } else {
        rows.iter()
            .map(|r| (messages_of(r.rollout, r.messages), reward(r.rollout)))
            .unzip()
    };
    let mut record = Map::new();
    record.insert("id".into(), string(&first.id));
    if !rows.is_empty() {
        let column = |pick: &dyn Fn(&Row) -> Value| Value::Array(rows.iter().map(pick).collect());
        record.insert("tokens".into(), column(&|r| r.tokens.clone()));
        record.insert("masks".into(), column(&|r| r.masks.clone()));
        if rows.iter().all(|r| !r.logprobs.is_null()) {
            record.insert("inference_logprobs".into(), column(&|r| r.logprobs.clone()));
        }
        if let Some(source) = token_source(rows) {
            record.insert("token_source".into(), string(source));
        }
    }
    if with_messages {
        record.insert("messages".into(), Value::Array(messages));
    }
    record.insert("scores".into(), Value::Array(scores));
    let statuses = group
        .iter()
        .map(|t| string(t.exit_status.as_str()))
        .collect();
    record.insert("exit_statuses".into(), Value::Array(statuses));
    record.insert("group_size".into(), Value::from(group.len()));
    let stats = first.group.as_ref();
    record.insert("mean".into(), stats.map_or(Value::Null, |g| num(g.mean)));
    record.insert("std".into(), stats.map_or(Value::Null, |g| num(g.std)));
    record.insert(
        "all_equal".into(),
        stats.map_or(Value::Null, |g| Value::Bool(g.all_equal)),
    );
    if let TokenRows::Unavailable(why) = token_rows {
        record.insert("tokens_unavailable".into(), Value::String(why.clone()));
    }
    Value::Object(record)
}

/// Where the rows' ids came from, when not all from the server.
fn token_source<'a>(rows: &[Row<'a>]) -> Option<&'a str> {
    let first = rows.first()?.source;
    let source = if rows.iter().all(|r| r.source == first) {
        first?
    } else {
        "mixed"
    };
    Some(source)
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

    /// The options the host passes with `--capture-tokens`: one training
    /// view per rollout.
    fn with_training(training: serde_json::Value, extra: &str) -> String {
        format!(r#"{{"jsonl": true, "training": {training}{extra}}}"#)
    }

    fn sequence(tokens: &[u32], logprobs: bool) -> serde_json::Value {
        let masks: Vec<i64> = tokens.iter().map(|t| i64::from(*t)).collect();
        let lp = logprobs.then(|| vec![-0.5; tokens.len()]);
        serde_json::json!({"assembly": "sequence", "tokens": tokens.len(), "trained": tokens.len(),
            "samples": [{"tokens": tokens, "masks": masks, "logprobs": lp}]})
    }

    #[test]
    fn captured_tokens_become_one_row_per_rollout() {
        let mut second = testing::trajectory();
        second.score = None;
        let options = with_training(
            serde_json::json!([sequence(&[1, 2], true), sequence(&[3], true)]),
            "",
        );
        let text = testing::format_group::<Atropos>(vec![testing::trajectory(), second], &options)
            .unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["tokens"], serde_json::json!([[1, 2], [3]]));
        assert_eq!(record["masks"], serde_json::json!([[1, 2], [3]]));
        assert_eq!(
            record["inference_logprobs"],
            serde_json::json!([[-0.5, -0.5], [-0.5]])
        );
        assert_eq!(record["scores"], serde_json::json!([1.0, 0.0]));
        assert_eq!(record["messages"].as_array().unwrap().len(), 2);
        // Trainers that read only token rows can leave the messages out.
        let lean = with_training(
            serde_json::json!([sequence(&[1, 2], true), sequence(&[3], true)]),
            r#", "messages": false"#,
        );
        let text = testing::format_group::<Atropos>(
            vec![testing::trajectory(), testing::trajectory()],
            &lean,
        )
        .unwrap();
        assert!(!text.contains("\"messages\""), "{text}");
    }

    #[test]
    fn a_rollout_assembled_per_call_gives_a_row_per_call() {
        let per_turn = serde_json::json!({"assembly": "per_turn", "reason": "call 2 parts",
            "samples": [{"tokens": [1], "masks": [1], "logprobs": [-1.0]},
                        {"tokens": [5, 6], "masks": [-100, 6], "logprobs": null}]});
        let mut other = testing::trajectory();
        other.score = None;
        let options = with_training(serde_json::json!([per_turn, sequence(&[9], true)]), "");
        let text =
            testing::format_group::<Atropos>(vec![testing::trajectory(), other], &options).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["tokens"], serde_json::json!([[1], [5, 6], [9]]));
        assert_eq!(record["scores"], serde_json::json!([1.0, 1.0, 0.0]));
        // The first call's row ends at its reply (system, user, assistant).
        let lengths: Vec<usize> = record["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_array().unwrap().len())
            .collect();
        assert_eq!(lengths, [3, 5, 5]);
        // A row without logprobs: no inference_logprobs rather than ragged ones.
        assert!(record.get("inference_logprobs").is_none(), "{text}");
        assert!(record.get("token_source").is_none(), "{text}");
    }

    #[test]
    fn recomputed_rows_are_flagged() {
        let mut recomputed = sequence(&[4], false);
        recomputed["source"] = "recomputed".into();
        let options = with_training(serde_json::json!([recomputed.clone(), recomputed]), "");
        let group = || vec![testing::trajectory(), testing::trajectory()];
        let text = testing::format_group::<Atropos>(group(), &options).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["token_source"], "recomputed");
        let mut recomputed = sequence(&[4], false);
        recomputed["source"] = "recomputed".into();
        let options = with_training(serde_json::json!([sequence(&[1], true), recomputed]), "");
        let text = testing::format_group::<Atropos>(group(), &options).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["token_source"], "mixed");
    }

    #[test]
    fn errored_rollouts_have_no_rows_and_missing_ids_are_said() {
        let mut broken = testing::trajectory();
        broken.exit_status = ExitStatus::InfrastructureError;
        let options = with_training(serde_json::json!([sequence(&[1], true), null]), "");
        let text =
            testing::format_group::<Atropos>(vec![testing::trajectory(), broken.clone()], &options)
                .unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["tokens"], serde_json::json!([[1]]));
        assert_eq!(record["scores"], serde_json::json!([1.0]));

        let unavailable = serde_json::json!({"assembly": "unavailable",
            "reason": "call 1: the server returned no token ids", "samples": []});
        let options = with_training(serde_json::json!([sequence(&[1], true), unavailable]), "");
        let text = testing::format_group::<Atropos>(
            vec![testing::trajectory(), testing::trajectory()],
            &options,
        )
        .unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        assert!(record.get("tokens").is_none(), "{text}");
        assert_eq!(
            record["tokens_unavailable"],
            "rollout 1: call 1: the server returned no token ids"
        );
        assert_eq!(record["scores"], serde_json::json!([1.0, 1.0]));
    }
}
