//! The few facts the mock needs from a chat request.
//!
//! Requests late in a trajectory carry the whole history, so the body is parsed with
//! borrowed raw values: only the first user and system messages are decoded, and the
//! rest of the history is skipped without allocating.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<WireMessage<'a>>>,
    #[serde(borrow, default)]
    tools: Option<Vec<&'a RawValue>>,
    /// vLLM's switch for `prompt_token_ids` and per-choice `token_ids`.
    #[serde(default)]
    return_token_ids: bool,
    #[serde(default)]
    logprobs: bool,
}

/// The messages again, decoded in full: only for rendering the prompt's ids.
#[derive(Deserialize)]
struct FullMessages {
    #[serde(default)]
    messages: Vec<Value>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

/// What a chat request says about where the conversation stands.
pub(crate) struct ChatRequest<'a> {
    pub model: Cow<'a, str>,
    /// Text of the first `user` message: holds the `SCRIPT=`/`STEPS=` markers and
    /// identifies the conversation.
    pub first_user: String,
    /// Text of the first `system` (or `developer`) message.
    pub system: String,
    /// 1 + the number of assistant messages: the position in the script.
    pub step: u32,
    pub tools: Vec<&'a RawValue>,
    /// The client asked for token ids (`return_token_ids`).
    pub return_token_ids: bool,
    /// The client asked for logprobs (`logprobs`).
    pub logprobs: bool,
}

impl<'a> ChatRequest<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        let wire: Wire<'a> = serde_json::from_slice(body)?;
        let mut first_user = None;
        let mut system = None;
        let mut assistants = 0u32;
        for message in wire.messages.unwrap_or_default() {
            match message.role.as_deref() {
                Some("assistant") => assistants += 1,
                Some("user") if first_user.is_none() => first_user = Some(text_of(message.content)),
                Some("system" | "developer") if system.is_none() => {
                    system = Some(text_of(message.content));
                }
                _ => {}
            }
        }
        Ok(Self {
            model: wire.model.unwrap_or(Cow::Borrowed("mock")),
            first_user: first_user.unwrap_or_default(),
            system: system.unwrap_or_default(),
            step: assistants.saturating_add(1),
            tools: wire.tools.unwrap_or_default(),
            return_token_ids: wire.return_token_ids,
            logprobs: wire.logprobs,
        })
    }

    /// The prompt's ids under the mock's template (see `tokens`); decodes the
    /// whole history, so only called when ids were asked for.
    pub fn prompt_ids(body: &[u8]) -> Result<Vec<u32>, serde_json::Error> {
        let full: FullMessages = serde_json::from_slice(body)?;
        Ok(crate::tokens::prompt_ids(&full.messages))
    }

    /// The task key: the text after `SCRIPT=` in the first user message, up to whitespace.
    pub fn script_key(&self) -> Option<&str> {
        let start = self.first_user.find("SCRIPT=")? + "SCRIPT=".len();
        let rest = &self.first_user[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(&rest[..end]).filter(|key| !key.is_empty())
    }

    /// `STEPS=<n>` or `STEPS: <n>` in the first user message.
    pub fn steps_marker(&self) -> Option<u32> {
        self.first_user.match_indices("STEPS").find_map(|(at, _)| {
            let rest = self.first_user[at + "STEPS".len()..].trim_start();
            let rest = rest.strip_prefix(['=', ':'])?.trim_start();
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
    }
}

/// Message content as text: a string, or the `text` parts of a content-part list.
fn text_of(content: Option<&RawValue>) -> String {
    let Some(raw) = content else {
        return String::new();
    };
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(text)) => text,
        Ok(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ChatRequest<'_> {
        ChatRequest::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn finds_markers_and_step() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"sys"},
            {"role":"user","content":[{"type":"text","text":"fix SCRIPT=retry-429 now STEPS: 3"}]},
            {"role":"assistant","content":null,"tool_calls":[]},
            {"role":"tool","content":"out"},
            {"role":"user","content":"SCRIPT=other"}]}"#;
        let request = parse(body);
        assert_eq!(request.model, "m");
        assert_eq!(request.system, "sys");
        assert_eq!(request.step, 2);
        assert_eq!(request.script_key(), Some("retry-429"));
        assert_eq!(request.steps_marker(), Some(3));
    }

    #[test]
    fn tolerates_missing_fields() {
        let request = parse(r#"{"messages":null,"tools":null}"#);
        assert_eq!(request.model, "mock");
        assert_eq!(request.step, 1);
        assert_eq!(request.script_key(), None);
        assert_eq!(request.steps_marker(), None);
        assert!(request.tools.is_empty());
        assert_eq!(
            parse(r#"{"messages":[{"role":"user","content":"STEPS=x STEPS=7"}]}"#).steps_marker(),
            Some(7)
        );
    }
}
