//! The canonical trajectory record (see `wit/canonical-trajectory.md`): what
//! the host records, saves while a run is in progress, and hands to
//! formatters and scorers as the WIT `trajectory` record.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plugin::wit;

/// Schema tag of every canonical record; moves with the WIT package version.
pub const SCHEMA: &str = "plinth-trajectory/0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The JSON text exactly as the model sent it.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt: Option<String>,
}

impl Message {
    /// A message of `role` with `content`, stamped now.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            reasoning: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            timestamp: now_secs(),
            cost: None,
            interrupt: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub reward: f64,
    #[serde(default)]
    pub sub_scores: serde_json::Map<String, Value>,
    #[serde(default)]
    pub details: Value,
}

/// A rollout's place in its group (`--group-size`) and the group's rewards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub size: u32,
    pub rollout: u32,
    pub mean: f64,
    pub std: f64,
    pub all_equal: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub schema: String,
    pub id: String,
    pub input_index: u64,
    pub task: Value,
    pub messages: Vec<Message>,
    /// OpenAI tool specs: `{"type": "function", "function": {...}}`.
    pub tools: Vec<Value>,
    pub exit_status: String,
    #[serde(default)]
    pub submission: String,
    #[serde(default)]
    pub error: Option<String>,
    pub model: String,
    pub sandbox: String,
    pub api_calls: u32,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub cost: f64,
    pub started_at: String,
    #[serde(default)]
    pub duration_secs: f64,
    pub plinth_version: String,
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default)]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
}

/// Seconds since the Unix epoch, as message timestamps record them.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Trajectory {
    /// The WIT record formatters and scorers receive.
    pub fn to_wit(&self) -> wit::Trajectory {
        wit::Trajectory {
            id: self.id.clone(),
            input_index: self.input_index,
            task: self.task.to_string(),
            messages: self.messages.iter().map(message_to_wit).collect(),
            tools: self.tools.iter().map(tool_spec_to_wit).collect(),
            exit_status: self.exit_status.clone(),
            submission: self.submission.clone(),
            error: self.error.clone(),
            model: self.model.clone(),
            sandbox: self.sandbox.clone(),
            api_calls: self.api_calls,
            usage: wit::Usage {
                prompt_tokens: self.usage.prompt_tokens,
                completion_tokens: self.usage.completion_tokens,
            },
            cost: self.cost,
            started_at: self.started_at.clone(),
            duration_secs: self.duration_secs,
            plinth_version: self.plinth_version.clone(),
            patch: self.patch.clone(),
            score: self.score.as_ref().map(|s| wit::ScoreResult {
                reward: s.reward,
                sub_scores: s
                    .sub_scores
                    .iter()
                    .map(|(name, value)| wit::SubScore {
                        name: name.clone(),
                        value: value.as_f64().unwrap_or(0.0),
                    })
                    .collect(),
                details: s.details.to_string(),
            }),
            group: self.group.as_ref().map(|g| wit::GroupInfo {
                id: g.id.clone(),
                size: g.size,
                rollout: g.rollout,
                mean: g.mean,
                std: g.std,
                all_equal: g.all_equal,
            }),
        }
    }
}

fn message_to_wit(m: &Message) -> wit::Message {
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

fn tool_spec_to_wit(spec: &Value) -> wit::ToolSpec {
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
