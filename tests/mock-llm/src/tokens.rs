//! A toy tokenizer and chat template, so the mock can answer vLLM's
//! `return_token_ids` and `logprobs` with ids that behave like a real
//! server's: the prompt is the template rendered over the request's
//! messages, the completion is the reply as the template renders an
//! assistant turn, so a client that sends a reply back unchanged sees the
//! next prompt extend the previous prompt + completion (prefix consistency).
//!
//! Like real chat templates (Qwen3's, DeepSeek-R1's), an earlier assistant
//! turn is rendered with its reasoning only when the request carries it
//! (`reasoning_content` or `reasoning`); a client that drops it breaks the
//! prefix, which is what tests of the fallback need.
//!
//! Text is one id per byte (0..=255), so tests can [`decode`] any span;
//! markers are ids from [`IM_START`] up.

use serde_json::Value;

/// Starts a message; followed by its role's marker.
pub const IM_START: u32 = 100_000;
/// Ends a message (an assistant turn's last sampled id, like `<|im_end|>`).
pub const IM_END: u32 = 100_001;
pub const SYSTEM: u32 = 100_002;
pub const USER: u32 = 100_003;
pub const ASSISTANT: u32 = 100_004;
pub const TOOL: u32 = 100_005;
pub const THINK: u32 = 100_006;
pub const END_THINK: u32 = 100_007;
/// Starts one tool call (its name, then its arguments) in an assistant turn.
pub const TOOL_CALL: u32 = 100_008;

fn role_marker(role: &str) -> u32 {
    match role {
        "system" | "developer" => SYSTEM,
        "assistant" => ASSISTANT,
        "tool" => TOOL,
        _ => USER,
    }
}

fn text(out: &mut Vec<u32>, text: &str) {
    out.extend(text.bytes().map(u32::from));
}

/// What an assistant turn says, as the template renders it after its role.
pub(crate) fn assistant_body(
    reasoning: Option<&str>,
    content: Option<&str>,
    calls: &[(&str, &str)],
) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(reasoning) = reasoning {
        out.push(THINK);
        text(&mut out, reasoning);
        out.push(END_THINK);
    }
    text(&mut out, content.unwrap_or_default());
    for (name, arguments) in calls {
        out.push(TOOL_CALL);
        text(&mut out, name);
        text(&mut out, arguments);
    }
    out.push(IM_END);
    out
}

fn string_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The prompt ids of a request's `messages`, ending with the generation
/// prompt (the start of an assistant turn).
pub(crate) fn prompt_ids(messages: &[Value]) -> Vec<u32> {
    let mut out = Vec::new();
    for message in messages {
        let role = string_at(message, "role").unwrap_or("user");
        out.extend([IM_START, role_marker(role)]);
        let content = match message.get("content") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => Some(
                parts
                    .iter()
                    .filter_map(|p| string_at(p, "text"))
                    .collect::<String>(),
            ),
            _ => None,
        };
        if role == "assistant" {
            let calls: Vec<(&str, &str)> = message
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| {
                            let f = c.get("function").unwrap_or(&Value::Null);
                            (
                                string_at(f, "name").unwrap_or_default(),
                                string_at(f, "arguments").unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let reasoning =
                string_at(message, "reasoning_content").or_else(|| string_at(message, "reasoning"));
            out.extend(assistant_body(reasoning, content.as_deref(), &calls));
        } else {
            text(&mut out, content.as_deref().unwrap_or_default());
            out.push(IM_END);
        }
    }
    out.extend([IM_START, ASSISTANT]);
    out
}

/// The logprob the mock reports for sampling `id`: made up, fixed per id.
pub fn logprob(id: u32) -> f64 {
    -f64::from(id % 7 + 1) / 8.0
}

/// The text of the byte ids in `ids` (markers skipped), for tests that check
/// which spans a mask covers.
pub fn decode(ids: impl IntoIterator<Item = u32>) -> String {
    let bytes: Vec<u8> = ids
        .into_iter()
        .filter_map(|id| u8::try_from(id).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reply_sent_back_extends_the_prompt() {
        let first = vec![json!({"role": "user", "content": "hi"})];
        let prompt = prompt_ids(&first);
        let completion = assistant_body(None, None, &[("bash", "{\"c\":1}")]);
        let mut second = first.clone();
        second.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "x", "type": "function", "function": {"name": "bash", "arguments": "{\"c\":1}"}}]}));
        second.push(json!({"role": "tool", "tool_call_id": "x", "content": "out"}));
        let next = prompt_ids(&second);
        let mut full = prompt.clone();
        full.extend(&completion);
        assert!(next.starts_with(&full));
        assert_eq!(decode(next[full.len()..].iter().copied()), "out");
        // Reasoning not sent back: the prefix breaks.
        let with_thought = assistant_body(Some("hm"), None, &[("bash", "{\"c\":1}")]);
        let mut full = prompt;
        full.extend(&with_thought);
        assert!(!next.starts_with(&full));
    }
}
