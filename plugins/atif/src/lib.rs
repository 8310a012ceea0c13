//! The `atif` formatter: a run as an ATIF trajectory (Agent Trajectory
//! Interchange Format, the `trajectory.json` Harbor writes and reads), checked
//! against Harbor's own pydantic models (`harbor.models.trajectories`,
//! harbor 0.26.0) by the golden tests.
//!
//! File mode (`"jsonl": false`, one `.trajectory.json` per run): the bytes of
//! Harbor's `json.dumps(trajectory.to_json_dict(), indent=2)`. JSONL mode:
//! the same document on one line (`json.dumps(..., ensure_ascii=False)`).
//!
//! The mapping, following Harbor's own converter for mini-swe-agent runs
//! (`convert_mini_swe_agent_to_atif`), whose message shape plinth shares:
//!
//! - `schema_version` `ATIF-v1.7`; `session_id` the run's id; `agent` is
//!   `{name: "plinth", version, model_name, tool_definitions}` (the tools in
//!   OpenAI function-calling shape, as ATIF asks).
//! - A system message is a `system` step. User messages before the first
//!   assistant message are `user` steps (the task).
//! - An assistant message is an `agent` step: `message` (its content, `""`
//!   when none), `reasoning_content`, `tool_calls` (`arguments` parsed as
//!   Python's `json.loads` would; arguments that are not a JSON object are
//!   kept as `{"raw": text}`, since ATIF requires an object), `metrics`
//!   (`cost_usd`: plinth records the cost per call, its tokens only per run),
//!   and `llm_call_count` 1.
//! - Tool results, and user messages after the first assistant message (the
//!   observations of text-mode tools, and the host's interrupts), are the
//!   `observation.results` of the agent step before them. A result whose
//!   `tool_call_id` names no call of that step keeps the id and tool name in
//!   its `extra` (Harbor rejects a `source_call_id` it cannot match); an
//!   interrupt's kind is in `extra.interrupt`. A tool result with no agent
//!   step before it becomes a `system` step carrying the observation.
//! - Timestamps are ISO 8601 in UTC as Python's
//!   `datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()` writes them.
//! - `final_metrics`: the run's prompt and completion tokens, cost, and the
//!   number of steps.
//! - What ATIF has no field for (task, exit status, submission, error, patch,
//!   score, group, timings, sandbox, the training data of `--capture-tokens`)
//!   goes in the root `extra`, with the canonical record's names.
//!
//! Non-finite numbers (a NaN timestamp, an infinite cost) are left out:
//! JSON cannot carry them. A run with no messages is refused: ATIF requires
//! at least one step.

use plinth_pyjson::{dumps, dumps_indent, loads};
use plinth_sdk::format::{
    check_trajectory, invalid, num, object, opt_string, score_value, string, tool_parameters,
};
use plinth_sdk::{
    GroupInfo, Message, Options, PluginError, PluginInfo, Role, ToolCall, Trajectory,
};
use serde_json::{Map, Value};

mod time;

/// The ATIF version written: the one Harbor's own mini-swe-agent converter
/// writes, and the first with `llm_call_count` and result-level `extra`.
pub const SCHEMA_VERSION: &str = "ATIF-v1.7";

/// The `agent.name` of every plinth run.
pub const AGENT_NAME: &str = "plinth";

pub struct Atif;

plinth_sdk::export_formatter!(Atif);

impl plinth_sdk::Formatter for Atif {
    const FILE_EXTENSION: &'static str = ".trajectory.json";
    const ONE_RECORD_PER_LINE: bool = false;

    fn info() -> PluginInfo {
        plinth_sdk::plugin_info!(
            "atif",
            "ATIF trajectory (Harbor's trajectory.json, ATIF-v1.7): steps with tool calls, \
             observations and metrics"
        )
    }

    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError> {
        let jsonl = options.bool("jsonl", false)?;
        let training = options.get("training").filter(|t| !t.is_null());
        let document = document(&trajectory, training)?;
        Ok(if jsonl {
            dumps(&document, false)
        } else {
            dumps_indent(&document, 2, true)
        })
    }
}

/// The ATIF document of one run, keys in the order of Harbor's models.
pub fn document(t: &Trajectory, training: Option<&Value>) -> Result<Value, PluginError> {
    let task = check_trajectory(t)?;
    let steps = steps(&t.messages);
    if steps.is_empty() {
        return Err(invalid(
            "the run has no messages: an ATIF trajectory needs at least one step",
        ));
    }
    let mut agent = Map::new();
    agent.insert("name".into(), string(AGENT_NAME));
    agent.insert("version".into(), string(&t.plinth_version));
    agent.insert("model_name".into(), string(&t.model));
    if !t.tools.is_empty() {
        let mut tools = Vec::with_capacity(t.tools.len());
        for spec in &t.tools {
            tools.push(object([
                ("type", string("function")),
                (
                    "function",
                    object([
                        ("name", string(&spec.name)),
                        ("description", string(&spec.description)),
                        ("parameters", tool_parameters(spec)?),
                    ]),
                ),
            ]));
        }
        agent.insert("tool_definitions".into(), Value::Array(tools));
    }

    let mut final_metrics = Map::new();
    final_metrics.insert(
        "total_prompt_tokens".into(),
        Value::from(t.usage.prompt_tokens),
    );
    final_metrics.insert(
        "total_completion_tokens".into(),
        Value::from(t.usage.completion_tokens),
    );
    if t.cost.is_finite() {
        final_metrics.insert("total_cost_usd".into(), num(t.cost));
    }
    final_metrics.insert("total_steps".into(), Value::from(steps.len()));

    let mut extra = Map::new();
    extra.insert("input_index".into(), Value::from(t.input_index));
    extra.insert("task".into(), task);
    extra.insert("exit_status".into(), string(t.exit_status.as_str()));
    extra.insert("submission".into(), string(&t.submission));
    extra.insert("error".into(), opt_string(t.error.as_deref()));
    extra.insert("sandbox".into(), string(&t.sandbox));
    extra.insert("api_calls".into(), Value::from(t.api_calls));
    extra.insert("started_at".into(), string(&t.started_at));
    extra.insert("duration_secs".into(), num(t.duration_secs));
    extra.insert("patch".into(), opt_string(t.patch.as_deref()));
    let score = match &t.score {
        Some(score) => score_value(score)?,
        None => Value::Null,
    };
    extra.insert("score".into(), score);
    if let Some(group) = &t.group {
        extra.insert("group".into(), group_value(group));
    }
    if let Some(training) = training {
        extra.insert("training".into(), training.clone());
    }

    let mut doc = Map::new();
    doc.insert("schema_version".into(), string(SCHEMA_VERSION));
    doc.insert("session_id".into(), string(&t.id));
    doc.insert("agent".into(), Value::Object(agent));
    doc.insert(
        "steps".into(),
        Value::Array(
            steps
                .into_iter()
                .enumerate()
                .map(|(i, step)| step.into_value(i))
                .collect(),
        ),
    );
    doc.insert("final_metrics".into(), Value::Object(final_metrics));
    doc.insert("extra".into(), Value::Object(extra));
    Ok(Value::Object(doc))
}

/// The step's originator (ATIF's `source`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    System,
    User,
    Agent,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::System => "system",
            Source::User => "user",
            Source::Agent => "agent",
        }
    }
}

/// One ATIF step being built.
struct Step {
    timestamp: Option<String>,
    source: Source,
    message: String,
    reasoning: Option<String>,
    /// Each call's id and its JSON.
    tool_calls: Vec<(String, Value)>,
    results: Vec<Value>,
    cost: Option<f64>,
}

impl Step {
    fn new(source: Source, msg: &Message) -> Step {
        Step {
            timestamp: time::iso_utc(msg.timestamp),
            source,
            message: msg.content.clone().unwrap_or_default(),
            reasoning: None,
            tool_calls: Vec::new(),
            results: Vec::new(),
            cost: None,
        }
    }

    /// Keys in the order of Harbor's `Step` model; absent ones left out, as
    /// `to_json_dict()` (`exclude_none`) leaves them out.
    fn into_value(self, index: usize) -> Value {
        let mut map = Map::new();
        map.insert("step_id".into(), Value::from(index + 1));
        if let Some(ts) = self.timestamp {
            map.insert("timestamp".into(), Value::String(ts));
        }
        map.insert("source".into(), string(self.source.as_str()));
        map.insert("message".into(), Value::String(self.message));
        if let Some(reasoning) = self.reasoning {
            map.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if !self.tool_calls.is_empty() {
            map.insert(
                "tool_calls".into(),
                Value::Array(self.tool_calls.into_iter().map(|(_, v)| v).collect()),
            );
        }
        if !self.results.is_empty() {
            map.insert(
                "observation".into(),
                object([("results", Value::Array(self.results))]),
            );
        }
        if self.source == Source::Agent {
            if let Some(cost) = self.cost {
                map.insert("metrics".into(), object([("cost_usd", num(cost))]));
            }
            map.insert("llm_call_count".into(), Value::from(1));
        }
        Value::Object(map)
    }
}

fn steps(messages: &[Message]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut seen_agent = false;
    for msg in messages {
        match msg.role {
            Role::System => steps.push(Step::new(Source::System, msg)),
            Role::User if !seen_agent => steps.push(Step::new(Source::User, msg)),
            Role::User => {
                let mut result = Map::new();
                if let Some(content) = &msg.content {
                    result.insert("content".into(), string(content));
                }
                if let Some(kind) = &msg.interrupt {
                    result.insert("extra".into(), object([("interrupt", string(kind))]));
                }
                observe(&mut steps, msg, Value::Object(result));
            }
            Role::Assistant => {
                seen_agent = true;
                let mut step = Step::new(Source::Agent, msg);
                step.reasoning.clone_from(&msg.reasoning);
                step.tool_calls = msg.tool_calls.iter().map(tool_call).collect();
                step.cost = msg.cost.filter(|c| c.is_finite());
                steps.push(step);
            }
            Role::Tool => {
                let id = msg.tool_call_id.as_deref();
                let matched = id.is_some_and(|id| {
                    steps.last().is_some_and(|s| {
                        s.source == Source::Agent && s.tool_calls.iter().any(|(c, _)| c == id)
                    })
                });
                let mut result = Map::new();
                if matched {
                    result.insert("source_call_id".into(), opt_string(id));
                }
                if let Some(content) = &msg.content {
                    result.insert("content".into(), string(content));
                }
                if !matched {
                    let mut extra = Map::new();
                    extra.insert("tool_call_id".into(), opt_string(id));
                    extra.insert("name".into(), opt_string(msg.name.as_deref()));
                    result.insert("extra".into(), Value::Object(extra));
                }
                observe(&mut steps, msg, Value::Object(result));
            }
        }
    }
    steps
}

/// Adds an observation to the last agent step, or, when the last step is not
/// an agent's, to a new step: a `user` step for a user message, a `system`
/// step for a tool result.
fn observe(steps: &mut Vec<Step>, msg: &Message, result: Value) {
    if let Some(step) = steps.last_mut().filter(|s| s.source == Source::Agent) {
        step.results.push(result);
        return;
    }
    let source = if msg.role == Role::User {
        Source::User
    } else {
        Source::System
    };
    let mut step = Step::new(source, msg);
    if source == Source::System {
        step.message = String::new();
        step.results.push(result);
    }
    steps.push(step);
}

/// An ATIF `ToolCall`: arguments as the object they encode, else
/// `{"raw": text}`.
fn tool_call(call: &ToolCall) -> (String, Value) {
    let arguments = match loads(&call.arguments) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => object([("raw", string(&call.arguments))]),
    };
    (
        call.id.clone(),
        object([
            ("tool_call_id", string(&call.id)),
            ("function_name", string(&call.name)),
            ("arguments", arguments),
        ]),
    )
}

/// A rollout's group statistics, as the canonical record has them.
fn group_value(g: &GroupInfo) -> Value {
    object([
        ("id", string(&g.id)),
        ("size", Value::from(g.size)),
        ("rollout", Value::from(g.rollout)),
        ("mean", num(g.mean)),
        ("std", num(g.std)),
        ("all_equal", Value::Bool(g.all_equal)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_sdk::Formatter;
    use plinth_sdk::testing;

    #[test]
    fn info() {
        let info = Atif::info();
        assert_eq!(info.name, "atif");
        assert_eq!(
            (Atif::FILE_EXTENSION, Atif::ONE_RECORD_PER_LINE),
            (".trajectory.json", false)
        );
    }

    #[test]
    fn formats_valid_input() {
        testing::formats_valid_input::<Atif>();
    }

    #[test]
    fn rejects_malformed_input() {
        testing::rejects_malformed_input::<Atif>();
    }

    /// The SDK's odd inputs, except the run without messages, which has no
    /// ATIF form (a trajectory needs a step) and is refused by name.
    #[test]
    fn odd_input() {
        let mut t = testing::trajectory();
        t.messages.retain(|m| m.role != Role::User);
        t.messages[1].tool_calls[0].arguments = "\u{0}{[".into();
        t.messages[1].timestamp = f64::NAN;
        t.messages[1].reasoning = Some(String::new());
        t.messages[2].content = None;
        t.messages[2].tool_call_id = None;
        t.cost = f64::INFINITY;
        let text = testing::format::<Atif>(t, r#"{"jsonl": true}"#).unwrap();
        let doc = loads(&text).unwrap();
        let step = &doc["steps"][1];
        assert!(step.get("timestamp").is_none(), "{step}");
        assert_eq!(step["tool_calls"][0]["arguments"]["raw"], "\u{0}{[");
        assert_eq!(step["reasoning_content"], "");
        // The result whose call id is gone keeps its place, with no source_call_id.
        let result = &step["observation"]["results"][0];
        assert!(result.get("source_call_id").is_none(), "{result}");
        assert!(doc["final_metrics"].get("total_cost_usd").is_none());

        let mut t = testing::trajectory();
        t.messages.clear();
        match testing::format::<Atif>(t, r#"{"jsonl": true}"#) {
            Err(PluginError::InvalidInput(m)) => assert!(m.contains("at least one step"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// A user message after the agent's first turn is an observation of the
    /// turn before it, its interrupt kept; a tool result before any agent
    /// step is a system step.
    #[test]
    fn observations_and_interrupts() {
        let mut t = testing::trajectory();
        let mut nudge = t.messages[2].clone();
        nudge.role = Role::User;
        nudge.tool_call_id = None;
        nudge.content = Some("Format error".into());
        nudge.interrupt = Some("FormatError".into());
        t.messages.push(nudge);
        let mut orphan = t.messages[3].clone();
        orphan.role = Role::Tool;
        t.messages.insert(1, orphan);
        let doc = loads(&testing::format::<Atif>(t, r#"{"jsonl": true}"#).unwrap()).unwrap();
        let steps = doc["steps"].as_array().unwrap();
        assert_eq!(steps[1]["source"], "system");
        assert_eq!(
            steps[1]["observation"]["results"][0]["extra"]["tool_call_id"],
            "call_1"
        );
        // system, orphan, user, the call, the final answer.
        assert_eq!(
            steps[3]["observation"]["results"][0]["source_call_id"],
            "call_1"
        );
        let last = steps.last().unwrap();
        assert_eq!(last["source"], "agent");
        let results = last["observation"]["results"].as_array().unwrap();
        assert_eq!(results[0]["content"], "Format error");
        assert_eq!(results[0]["extra"]["interrupt"], "FormatError");
        assert_eq!(doc["final_metrics"]["total_steps"], steps.len());
    }
}
