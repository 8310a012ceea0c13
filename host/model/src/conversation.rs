//! A conversation as the chat API is sent it.
//!
//! Every call sends the whole conversation again, and it grows by a reply
//! and a tool result per step; serialising each message anew at every call
//! made a run's JSON work quadratic in its length. So a message is
//! serialised once, when it joins the conversation, and a request copies
//! the serialised messages as they are.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use plinth_record::trajectory::{Message, Role, ToolCall};

/// The messages sent so far, each already serialised.
#[derive(Debug, Default, Clone)]
pub struct Conversation {
    messages: Vec<Box<RawValue>>,
    assistant_turns: usize,
}

/// A canonical message as the chat API wants it: role, content, the
/// assistant's tool calls, the tool result's call id.
#[derive(Serialize)]
struct ApiMessage<'a> {
    role: Role,
    content: &'a Option<String>,
    #[serde(skip_serializing_if = "<[ToolCall]>::is_empty")]
    tool_calls: &'a [ToolCall],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

impl Conversation {
    /// Adds `message` as the API is sent it.
    pub fn push(&mut self, message: &Message) {
        let api = ApiMessage {
            role: message.role,
            content: &message.content,
            tool_calls: &message.tool_calls,
            tool_call_id: message.tool_call_id.as_deref(),
        };
        self.messages
            .push(serde_json::value::to_raw_value(&api).expect("messages serialise"));
        if message.role == Role::Assistant {
            self.assistant_turns += 1;
        }
    }

    /// A conversation of messages already in the API's shape (a caller's
    /// own, or a test's).
    pub fn from_values(messages: &[Value]) -> Self {
        let mut conversation = Self::default();
        for message in messages {
            if message.get("role").and_then(Value::as_str) == Some("assistant") {
                conversation.assistant_turns += 1;
            }
            conversation
                .messages
                .push(serde_json::value::to_raw_value(message).expect("JSON serialises"));
        }
        conversation
    }

    /// The serialised messages, in order.
    pub fn messages(&self) -> &[Box<RawValue>] {
        &self.messages
    }

    /// How many assistant replies it holds.
    pub fn assistant_turns(&self) -> usize {
        self.assistant_turns
    }

    /// The messages parsed back, for the rare reader that needs to look
    /// inside them (recomputing token ids).
    pub fn values(&self) -> Vec<Value> {
        self.messages
            .iter()
            .map(|m| serde_json::from_str(m.get()).expect("serialised JSON parses"))
            .collect()
    }
}

/// Tool schemas as the API is sent them, serialised once for a run.
#[derive(Debug, Clone)]
pub struct ToolSchemas(Box<RawValue>);

impl ToolSchemas {
    pub fn new(specs: &[Value]) -> Self {
        Self(serde_json::value::to_raw_value(specs).expect("JSON serialises"))
    }

    /// The JSON array, or `None` when there are no tools (the request then
    /// has no `tools` field: some servers refuse an empty list).
    pub fn json(&self) -> Option<&RawValue> {
        (self.0.get() != "[]").then_some(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_are_sent_as_the_api_wants_them() {
        let mut conversation = Conversation::default();
        conversation.push(&Message::new(Role::System, "be brief"));
        let mut reply = Message::new(Role::Assistant, "on it");
        reply.reasoning = Some("not sent".into());
        reply.tool_calls = vec![ToolCall::function(
            "c1".into(),
            "terminal".into(),
            r#"{"command":"ls"}"#.into(),
        )];
        conversation.push(&reply);
        let mut result = Message::new(Role::Tool, "a\nb");
        result.tool_call_id = Some("c1".into());
        result.name = Some("terminal".into());
        conversation.push(&result);
        assert_eq!(
            conversation.values(),
            vec![
                json!({"role": "system", "content": "be brief"}),
                json!({"role": "assistant", "content": "on it", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "terminal", "arguments": "{\"command\":\"ls\"}"}}]}),
                json!({"role": "tool", "content": "a\nb", "tool_call_id": "c1"}),
            ]
        );
        assert_eq!(conversation.assistant_turns(), 1);
        let again = Conversation::from_values(&conversation.values());
        assert_eq!(again.values(), conversation.values());
        assert_eq!(again.assistant_turns(), 1);
    }

    #[test]
    fn no_tools_is_no_tools_field() {
        assert!(ToolSchemas::new(&[]).json().is_none());
        let tools = ToolSchemas::new(&[json!({"type": "function"})]);
        assert_eq!(tools.json().unwrap().get(), r#"[{"type":"function"}]"#);
    }
}
