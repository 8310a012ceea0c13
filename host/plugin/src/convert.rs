//! Between the host's own types and each API version's generated WIT types:
//! the canonical record into the WIT `trajectory` formatters and scorers
//! receive, and what plugins return back into host types, so no caller
//! outside the plugin module sees generated bindings.
//!
//! 0.1 and 0.2 spell every shared record alike except the trajectory's exit
//! status (a string in 0.1, an enum in 0.2). One macro body holds the
//! conversions and each version's module instantiates it with its own
//! bindings and exit-status mapping, so the versions cannot drift apart; a
//! version whose records change further gets hand-written conversions.

use serde_json::Value;

use super::{FormatterInfo, GuestError, PluginInfo, ToolResult, ToolSpec};
use plinth_record::trajectory::{ExitStatus, Message, Role, Score, Trajectory};
use plinth_sandbox::ExecOutput;

/// A tool a plugin declared whose parameters are not a JSON Schema document.
#[derive(Debug, thiserror::Error)]
#[error("tool `{tool}` has parameters that are not JSON: {source}")]
pub(crate) struct InvalidToolSpec {
    pub tool: String,
    #[source]
    pub source: serde_json::Error,
}

/// The conversions of one API version. Expects in scope: `wit` (that
/// version's `types`), `wit_tool` (its exported `tool` interface) and
/// `exit_status`, the version's spelling of [`ExitStatus`].
/// Most bytes of scorer details a record keeps: details are for people and
/// reports, and a record must stay small enough to read back.
const MAX_DETAILS_BYTES: usize = 1 << 20;

macro_rules! record_conversions {
    () => {
        /// The WIT record formatters and scorers receive.
        pub fn trajectory(record: &Trajectory) -> wit::Trajectory {
            wit::Trajectory {
                id: record.id.clone(),
                input_index: record.input_index,
                task: record.task.to_string(),
                messages: record.messages.iter().map(message).collect(),
                tools: record.tools.iter().map(tool_spec).collect(),
                exit_status: exit_status(record.exit_status),
                submission: record.submission.clone(),
                error: record.error.clone(),
                model: record.model.clone(),
                sandbox: record.sandbox.clone(),
                api_calls: record.api_calls,
                usage: wit::Usage {
                    prompt_tokens: record.usage.prompt_tokens,
                    completion_tokens: record.usage.completion_tokens,
                },
                cost: record.cost,
                started_at: record.started_at.clone(),
                duration_secs: record.duration_secs,
                plinth_version: record.plinth_version.clone(),
                patch: record.patch.clone(),
                score: record.score.as_ref().map(recorded_score),
                group: record.group.as_ref().map(|g| wit::GroupInfo {
                    id: g.id.clone(),
                    size: g.size,
                    rollout: g.rollout,
                    mean: g.mean,
                    std: g.std,
                    all_equal: g.all_equal,
                }),
            }
        }

        fn message(m: &Message) -> wit::Message {
            wit::Message {
                role: match m.role {
                    Role::System => wit::Role::System,
                    Role::User => wit::Role::User,
                    Role::Assistant => wit::Role::Assistant,
                    Role::Tool => wit::Role::Tool,
                },
                content: m.content.clone(),
                reasoning: m.reasoning.clone(),
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| wit::ToolCall {
                        id: c.id.clone(),
                        name: c.function.name.clone(),
                        arguments: c.function.arguments.clone(),
                    })
                    .collect(),
                tool_call_id: m.tool_call_id.clone(),
                name: m.name.clone(),
                timestamp: m.timestamp,
                cost: m.cost,
                interrupt: m.interrupt.clone(),
            }
        }

        /// A record's OpenAI tool spec (`{"type": "function", "function":
        /// {...}}`, or the bare function object) as WIT spells it.
        fn tool_spec(spec: &Value) -> wit::ToolSpec {
            let function = spec.get("function").unwrap_or(spec);
            let text = |key: &str| {
                function
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            wit::ToolSpec {
                name: text("name"),
                description: text("description"),
                parameters: function
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}))
                    .to_string(),
            }
        }

        fn recorded_score(score: &Score) -> wit::ScoreResult {
            wit::ScoreResult {
                reward: score.reward,
                sub_scores: score
                    .sub_scores
                    .iter()
                    .map(|(name, value)| wit::SubScore {
                        name: name.clone(),
                        value: value.as_f64().unwrap_or(0.0),
                    })
                    .collect(),
                details: score.details.to_string(),
            }
        }

        /// A scorer's result as the record keeps it: sub-scores by name, and
        /// details parsed as JSON (kept as text, with a warning, when they
        /// are not JSON). A reward or sub-score that is not a finite number
        /// (NaN, infinity) is the scorer's failure: JSON cannot hold it, and
        /// a trainer must never read it as a reward.
        pub fn score(result: wit::ScoreResult, scorer: &str) -> Result<Score, GuestError> {
            if !result.reward.is_finite() {
                return Err(GuestError::Failed(format!(
                    "it returned a reward of {}, not a finite number",
                    result.reward
                )));
            }
            if let Some(sub) = result.sub_scores.iter().find(|s| !s.value.is_finite()) {
                return Err(GuestError::Failed(format!(
                    "it returned sub-score `{}` = {}, not a finite number",
                    sub.name, sub.value
                )));
            }
            let details = if result.details.len() > super::MAX_DETAILS_BYTES {
                tracing::warn!(
                    "scorer `{scorer}` returned {} bytes of details, over the {}-byte cap; \
                     only their head is kept",
                    result.details.len(),
                    super::MAX_DETAILS_BYTES
                );
                serde_json::json!({
                    "truncated_bytes": result.details.len(),
                    "head": &result.details[..result.details.floor_char_boundary(4096)],
                })
            } else {
                serde_json::from_str(&result.details).unwrap_or_else(|_| {
                    tracing::warn!(
                        "scorer `{scorer}` returned details that are not JSON; kept as text"
                    );
                    Value::String(result.details)
                })
            };
            Ok(Score {
                reward: result.reward,
                sub_scores: result
                    .sub_scores
                    .into_iter()
                    .map(|s| (s.name, serde_json::json!(s.value)))
                    .collect(),
                details,
            })
        }

        /// A tool as a plugin declares it, its parameters parsed.
        pub(crate) fn declared_tool(spec: wit::ToolSpec) -> Result<ToolSpec, InvalidToolSpec> {
            match serde_json::from_str(&spec.parameters) {
                Ok(parameters) => Ok(ToolSpec {
                    name: spec.name,
                    description: spec.description,
                    parameters,
                }),
                Err(source) => Err(InvalidToolSpec {
                    tool: spec.name,
                    source,
                }),
            }
        }

        impl From<wit::PluginError> for GuestError {
            fn from(e: wit::PluginError) -> Self {
                match e {
                    wit::PluginError::InvalidArguments(m) => Self::InvalidArguments(m),
                    wit::PluginError::UnknownTool(m) => Self::UnknownTool(m),
                    wit::PluginError::InvalidInput(m) => Self::InvalidInput(m),
                    wit::PluginError::Sandbox(m) => Self::Sandbox(m),
                    wit::PluginError::Failed(m) => Self::Failed(m),
                }
            }
        }

        impl From<wit::PluginInfo> for PluginInfo {
            fn from(info: wit::PluginInfo) -> Self {
                Self {
                    name: info.name,
                    version: info.version,
                    description: info.description,
                }
            }
        }

        impl From<wit_tool::ToolResult> for ToolResult {
            fn from(result: wit_tool::ToolResult) -> Self {
                Self {
                    content: result.content,
                    exec: result.exec.map(ExecOutput::from),
                }
            }
        }

        impl From<wit::ExecOutput> for ExecOutput {
            fn from(out: wit::ExecOutput) -> Self {
                Self {
                    exit_code: out.exit_code,
                    output: out.output,
                    truncated: out.truncated,
                    timed_out: out.timed_out,
                }
            }
        }

        impl From<ExecOutput> for wit::ExecOutput {
            fn from(out: ExecOutput) -> Self {
                Self {
                    exit_code: out.exit_code,
                    output: out.output,
                    truncated: out.truncated,
                    timed_out: out.timed_out,
                }
            }
        }
    };
}

/// A 0.1 formatter says in its info whether it formats whole groups.
impl From<crate::bindings::v0_1::formatter::exports::plinth::plugin::formatter::FormatterInfo>
    for FormatterInfo
{
    fn from(
        info: crate::bindings::v0_1::formatter::exports::plinth::plugin::formatter::FormatterInfo,
    ) -> Self {
        Self {
            file_extension: info.file_extension,
            one_record_per_line: info.one_record_per_line,
            per_group: info.per_group,
        }
    }
}

/// From 0.2 on, a formatter formats whole groups when it exports
/// `group-formatter`: this one does not.
impl From<crate::bindings::v0_2::formatter::exports::plinth::plugin::formatter::FormatterInfo>
    for FormatterInfo
{
    fn from(
        info: crate::bindings::v0_2::formatter::exports::plinth::plugin::formatter::FormatterInfo,
    ) -> Self {
        Self {
            file_extension: info.file_extension,
            one_record_per_line: info.one_record_per_line,
            per_group: false,
        }
    }
}

/// A 0.2 formatter that exports `group-formatter`: per group.
impl From<crate::bindings::v0_2::group_formatter::exports::plinth::plugin::formatter::FormatterInfo>
    for FormatterInfo
{
    fn from(
        info: crate::bindings::v0_2::group_formatter::exports::plinth::plugin::formatter::FormatterInfo,
    ) -> Self {
        Self {
            file_extension: info.file_extension,
            one_record_per_line: info.one_record_per_line,
            per_group: true,
        }
    }
}

/// `plinth:plugin@0.1.0`.
pub mod v0_1 {
    use super::*;
    use crate::bindings::v0_1::tool::exports::plinth::plugin::tool as wit_tool;
    use crate::bindings::v0_1::types as wit;

    /// 0.1 passes the exit status as the name records use.
    fn exit_status(status: ExitStatus) -> String {
        status.as_str().to_string()
    }

    record_conversions!();
}

/// `plinth:plugin@0.2.0`.
pub mod v0_2 {
    use super::*;
    use crate::bindings::v0_2::tool::exports::plinth::plugin::tool as wit_tool;
    use crate::bindings::v0_2::types as wit;

    fn exit_status(status: ExitStatus) -> wit::ExitStatus {
        match status {
            ExitStatus::Running => wit::ExitStatus::Running,
            ExitStatus::Submitted => wit::ExitStatus::Submitted,
            ExitStatus::Finished => wit::ExitStatus::Finished,
            ExitStatus::LimitsExceeded => wit::ExitStatus::LimitsExceeded,
            ExitStatus::TimeExceeded => wit::ExitStatus::TimeExceeded,
            ExitStatus::RepeatedFormatError => wit::ExitStatus::RepeatedFormatError,
            // 0.2's `exit-status` is frozen and has no case for it: a run
            // that outgrew the context stopped on a limit of the model's,
            // the nearest case (and, like it, not an error, and scored).
            // The record's `error` (which plugins get) says it was the
            // context.
            ExitStatus::ContextExceeded => wit::ExitStatus::LimitsExceeded,
            ExitStatus::InfrastructureError => wit::ExitStatus::InfrastructureError,
            ExitStatus::ModelError => wit::ExitStatus::ModelError,
            ExitStatus::PluginError => wit::ExitStatus::PluginError,
        }
    }

    record_conversions!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: ExitStatus) -> Trajectory {
        let mut record: Trajectory = serde_json::from_value(serde_json::json!({
            "schema": plinth_record::trajectory::SCHEMA, "id": "t", "input_index": 3,
            "task": {"prompt": "p"},
            "messages": [{"role": "assistant", "content": null, "timestamp": 2.0,
                "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "terminal", "arguments": "{\"command\": \"ls\"}"}}]}],
            "tools": [{"type": "function", "function": {"name": "terminal",
                "description": "d", "parameters": {"type": "object"}}}],
            "exit_status": "Running", "model": "m", "sandbox": "local",
            "api_calls": 1, "started_at": "2026-11-21T00:00:00Z", "plinth_version": "0",
            "score": {"reward": 0.5, "sub_scores": {"f2p": 1.0}, "details": {"k": 1}}
        }))
        .unwrap();
        record.exit_status = status;
        record
    }

    #[test]
    fn v0_1_spells_the_exit_status_as_records_do() {
        for status in ExitStatus::ALL {
            let wit = v0_1::trajectory(&record(status));
            assert_eq!(wit.exit_status, status.as_str());
        }
        let wit = v0_1::trajectory(&record(ExitStatus::Submitted));
        assert_eq!(wit.input_index, 3);
        assert_eq!(wit.messages[0].tool_calls[0].name, "terminal");
        assert_eq!(wit.tools[0].name, "terminal");
        assert_eq!(wit.tools[0].parameters, r#"{"type":"object"}"#);
        let score = wit.score.unwrap();
        assert_eq!(
            (score.sub_scores[0].name.as_str(), score.sub_scores[0].value),
            ("f2p", 1.0)
        );
        assert_eq!(score.details, r#"{"k":1}"#);
    }

    #[test]
    fn v0_2_maps_every_exit_status_to_its_enum_case() {
        use crate::bindings::v0_2::types::ExitStatus as Wit;
        let expected = [
            Wit::Running,
            Wit::Submitted,
            Wit::Finished,
            Wit::LimitsExceeded,
            Wit::TimeExceeded,
            Wit::RepeatedFormatError,
            Wit::LimitsExceeded,
            Wit::InfrastructureError,
            Wit::ModelError,
            Wit::PluginError,
        ];
        for (status, wit) in ExitStatus::ALL.into_iter().zip(expected) {
            assert_eq!(v0_2::trajectory(&record(status)).exit_status, wit);
        }
    }

    #[test]
    fn scores_keep_sub_scores_by_name_and_details_as_json_when_they_are() {
        use crate::bindings::v0_2::types as wit;
        let result = |details: &str| wit::ScoreResult {
            reward: 1.0,
            sub_scores: vec![wit::SubScore {
                name: "p2p".into(),
                value: 0.5,
            }],
            details: details.into(),
        };
        let score = v0_2::score(result(r#"{"tests": 2}"#), "s").unwrap();
        assert_eq!(score.sub_scores["p2p"], 0.5);
        assert_eq!(score.details, serde_json::json!({"tests": 2}));
        let score = v0_2::score(result("not json"), "s").unwrap();
        assert_eq!(score.details, "not json");
    }

    #[test]
    fn a_reward_that_is_not_a_finite_number_is_the_scorers_failure() {
        use crate::bindings::v0_2::types as wit;
        for (reward, sub) in [
            (f64::NAN, 0.0),
            (f64::INFINITY, 0.0),
            (1.0, f64::NEG_INFINITY),
        ] {
            let result = wit::ScoreResult {
                reward,
                sub_scores: vec![wit::SubScore {
                    name: "f2p".into(),
                    value: sub,
                }],
                details: "{}".into(),
            };
            let error = v0_2::score(result, "s").unwrap_err().to_string();
            assert!(error.contains("not a finite number"), "{error}");
        }
    }
}
