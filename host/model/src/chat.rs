//! The model as the agent loop sees it.

use super::{Conversation, ModelClient, ModelError, ModelReply, ToolSchemas};

/// Something that answers chat turns: the HTTP client, or a replay of
/// recorded trajectories.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// The model's name, recorded in trajectories.
    fn name(&self) -> &str;
    /// The next assistant turn of task `task_id`'s conversation.
    async fn chat(
        &self,
        task_id: &str,
        conversation: &Conversation,
        tools: &ToolSchemas,
    ) -> Result<ModelReply, ModelError>;
}

#[async_trait::async_trait]
impl ChatModel for ModelClient {
    fn name(&self) -> &str {
        &self.config().model
    }

    async fn chat(
        &self,
        _task_id: &str,
        conversation: &Conversation,
        tools: &ToolSchemas,
    ) -> Result<ModelReply, ModelError> {
        ModelClient::chat(self, conversation, tools).await
    }
}
