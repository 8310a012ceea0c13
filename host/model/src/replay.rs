//! `--model replay:FILE`: answers with the assistant turns of recorded
//! trajectories instead of calling an API, for tests, demos and reproducing a
//! run. The tools still run for real, so a replay re-executes the recorded
//! commands in a fresh sandbox.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::{ChatModel, Conversation, ModelError, ModelReply, ToolSchemas};
use plinth_record::trajectory::Usage;
use plinth_record::trajectory::{Message, Role, Trajectory};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a canonical trajectory: {reason}")]
    Record {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

pub struct ReplayModel {
    name: String,
    /// Assistant turns of each recorded task, in order.
    turns: HashMap<String, Vec<Message>>,
}

impl ReplayModel {
    /// Reads canonical trajectories (JSONL); the first record of a task id wins.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let io = |source| ReplayError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut turns = HashMap::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Trajectory =
                serde_json::from_str(&line).map_err(|e| ReplayError::Record {
                    path: path.to_path_buf(),
                    line: n + 1,
                    reason: e.to_string(),
                })?;
            let assistant = record
                .messages
                .into_iter()
                .filter(|m| m.role == Role::Assistant)
                .collect();
            turns.entry(record.id).or_insert(assistant);
        }
        Ok(Self {
            name: format!("replay:{}", path.display()),
            turns,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for ReplayModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(
        &self,
        task_id: &str,
        conversation: &Conversation,
        _tools: &ToolSchemas,
    ) -> Result<ModelReply, ModelError> {
        let turns = self.turns.get(task_id).ok_or_else(|| {
            ModelError::Replay(format!("no recorded trajectory for task `{task_id}`"))
        })?;
        let step = conversation.assistant_turns();
        let turn = turns.get(step).ok_or_else(|| {
            ModelError::Replay(format!(
                "task `{task_id}` has {} recorded turn(s); turn {} was asked for",
                turns.len(),
                step + 1
            ))
        })?;
        Ok(ModelReply {
            content: turn.content.clone(),
            reasoning: turn.reasoning.clone(),
            tool_calls: turn.tool_calls.clone(),
            finish_reason: Some(
                if turn.tool_calls.is_empty() {
                    "stop"
                } else {
                    "tool_calls"
                }
                .into(),
            ),
            usage: Usage::default(),
            cost: 0.0,
            attempts: 1,
            prompt_token_ids: None,
            completion_token_ids: None,
            logprobs: None,
        })
    }
}
