//! Scripts: what the mock answers, step by step, for a given task.
//!
//! A test describes a whole conversation up front, including the failures (HTTP errors,
//! slow replies) a client must survive, so the server itself stays stateless apart from
//! counting how often each step has been asked for.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::fault::Fault;

/// Why a script file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("script file {path} is not a valid script: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// Replies keyed by task: a prompt containing `SCRIPT=<key>` plays `tasks[key]`.
///
/// Each task is a list of steps (step N answers a request holding N-1 assistant
/// messages); each step is a list of attempts handed out in order to repeated requests
/// for that step of that conversation, the last one repeating once all are used.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Task played when the prompt names no known key; without it such prompts get
    /// the benchmark script.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub tasks: HashMap<String, Vec<Vec<Attempt>>>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a task; `steps[i]` holds the attempts for step i+1.
    pub fn task(mut self, key: &str, steps: Vec<Vec<Attempt>>) -> Self {
        self.tasks.insert(key.to_owned(), steps);
        self
    }

    /// Plays `key` for prompts that carry no known `SCRIPT=` key.
    pub fn default_task(mut self, key: &str) -> Self {
        self.default = Some(key.to_owned());
        self
    }

    /// Loads a script from JSON: `{"default": "k", "tasks": {"k": [[attempt, ...], ...]}}`.
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ScriptError::Parse {
            path: shown,
            source,
        })
    }

    /// The steps for a prompt's key, falling back to the default task.
    pub(crate) fn steps_for(&self, key: Option<&str>) -> Option<(&str, &[Vec<Attempt>])> {
        let known = key.filter(|k| self.tasks.contains_key(*k));
        let key = known.or(self.default.as_deref())?;
        let (key, steps) = self.tasks.get_key_value(key)?;
        Some((key.as_str(), steps.as_slice()))
    }
}

/// One answer to one HTTP request.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Attempt {
    #[serde(flatten)]
    pub reply: Reply,
    /// Sent as `reasoning_content` next to the message.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Wait this long before answering (to trip client timeouts).
    #[serde(default)]
    pub delay_ms: u64,
    /// Reported token counts; by default estimated from the byte sizes.
    #[serde(default)]
    pub usage: Option<UsageSpec>,
    /// Overrides `finish_reason` (default: `tool_calls` with tool calls, else `stop`).
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Token ids reported the way vLLM does when asked to return them.
    #[serde(default)]
    pub token_ids: Option<TokenIds>,
}

/// What kind of answer an attempt gives. Text fields may hold `{step}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// Native tool calls; `arguments` is sent verbatim so tests can send broken JSON.
    ToolCalls {
        calls: Vec<ToolCallSpec>,
        #[serde(default)]
        content: Option<String>,
    },
    /// A plain assistant message.
    Text { content: String },
    /// A text-mode action: the command in a fenced `bash` block.
    Bash { command: String },
    /// A Hermes-style `<tool_call>{"name": .., "arguments": ..}</tool_call>` in the content.
    XmlToolCall { name: String, arguments: String },
    /// An HTTP error instead of a completion.
    Error {
        status: u16,
        /// Seconds, sent as the `Retry-After` header.
        #[serde(default)]
        retry_after: Option<u64>,
        /// Response body; a JSON error object by default.
        #[serde(default)]
        body: Option<String>,
    },
    /// A failure a client must survive (a cut body, a dropped connection, ...).
    Fault { fault: Fault },
}

/// A tool call with its arguments as the raw text the server sends.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ToolCallSpec {
    pub name: String,
    pub arguments: String,
}

/// Token counts to report instead of the size-based estimate.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub struct UsageSpec {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Prompt and completion token ids (`prompt_token_ids`, `choices[0].token_ids`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TokenIds {
    pub prompt: Vec<u32>,
    pub completion: Vec<u32>,
}

impl Attempt {
    fn of(reply: Reply) -> Self {
        Self {
            reply,
            reasoning: None,
            delay_ms: 0,
            usage: None,
            finish_reason: None,
            token_ids: None,
        }
    }

    /// One tool call with raw `arguments`.
    pub fn tool_call(name: &str, arguments: &str) -> Self {
        Self::tool_calls(&[(name, arguments)])
    }

    /// Several tool calls in one reply, as `(name, raw arguments)`.
    pub fn tool_calls(calls: &[(&str, &str)]) -> Self {
        let calls = calls
            .iter()
            .map(|(name, arguments)| ToolCallSpec {
                name: (*name).to_owned(),
                arguments: (*arguments).to_owned(),
            })
            .collect();
        Self::of(Reply::ToolCalls {
            calls,
            content: None,
        })
    }

    pub fn text(content: &str) -> Self {
        Self::of(Reply::Text {
            content: content.to_owned(),
        })
    }

    pub fn bash(command: &str) -> Self {
        Self::of(Reply::Bash {
            command: command.to_owned(),
        })
    }

    pub fn xml_tool_call(name: &str, arguments: &str) -> Self {
        Self::of(Reply::XmlToolCall {
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        })
    }

    /// An HTTP error; `retry_after` in seconds; `body` defaults to a JSON error object.
    pub fn http_error(status: u16, retry_after: Option<u64>, body: Option<&str>) -> Self {
        Self::of(Reply::Error {
            status,
            retry_after,
            body: body.map(str::to_owned),
        })
    }

    /// A scripted [`Fault`].
    pub fn fault(fault: Fault) -> Self {
        Self::of(Reply::Fault { fault })
    }

    pub fn reasoning(mut self, reasoning: &str) -> Self {
        self.reasoning = Some(reasoning.to_owned());
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self
    }

    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Some(UsageSpec {
            prompt_tokens,
            completion_tokens,
        });
        self
    }

    pub fn finish_reason(mut self, reason: &str) -> Self {
        self.finish_reason = Some(reason.to_owned());
        self
    }

    pub fn token_ids(mut self, prompt: &[u32], completion: &[u32]) -> Self {
        self.token_ids = Some(TokenIds {
            prompt: prompt.to_vec(),
            completion: completion.to_vec(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_builder_agree() {
        let json = r#"{
            "default": "t",
            "tasks": {"t": [
                [{"kind": "error", "status": 429, "retry_after": 1},
                 {"kind": "tool_calls", "calls": [{"name": "bash", "arguments": "{\"command\":\"ls\"}"}],
                  "reasoning": "think", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}],
                [{"kind": "text", "content": "done {step}", "delay_ms": 20}]
            ]}
        }"#;
        let parsed: Script = serde_json::from_str(json).unwrap();
        let built = Script::new().default_task("t").task(
            "t",
            vec![
                vec![
                    Attempt::http_error(429, Some(1), None),
                    Attempt::tool_call("bash", r#"{"command":"ls"}"#)
                        .reasoning("think")
                        .usage(3, 4),
                ],
                vec![Attempt::text("done {step}").delay(Duration::from_millis(20))],
            ],
        );
        assert_eq!(parsed, built);
    }

    #[test]
    fn unknown_key_falls_back_to_default() {
        let script = Script::new()
            .task("a", vec![vec![Attempt::text("a")]])
            .task("b", vec![vec![Attempt::text("b")]])
            .default_task("b");
        assert_eq!(script.steps_for(Some("a")).unwrap().0, "a");
        assert_eq!(script.steps_for(Some("zzz")).unwrap().0, "b");
        assert_eq!(script.steps_for(None).unwrap().0, "b");
        assert!(Script::new().steps_for(Some("a")).is_none());
    }
}
