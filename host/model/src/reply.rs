//! Reading a chat-completions reply, tolerating the ways servers differ.
//!
//! Providers disagree on details (`reasoning_content` vs `reasoning`, arguments as a
//! string or an object, missing usage or tool-call ids), so everything optional is read
//! leniently; what the agent must judge itself (malformed tool arguments) is passed on
//! untouched.

use serde::Deserialize;
use serde_json::Value;

use plinth_record::trajectory::{ToolCall, Usage};

/// A parsed model reply.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelReply {
    pub content: Option<String>,
    /// `reasoning_content` or `reasoning`, whichever the server uses.
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    /// US dollars, from the configured price (0 without one).
    pub cost: f64,
    /// HTTP attempts it took, retries included.
    pub attempts: u32,
    /// Token ids, when the server returns them for `return_token_ids`: vLLM
    /// puts the prompt's at the top level (`prompt_token_ids`) and the
    /// completion's on the choice (`token_ids`); SGLang puts both on the
    /// choice (`prompt_token_ids`, and `response_token_ids` since 0.5.18,
    /// `token_ids` in 0.5.17), or with its `return_*_ids_in_sglext` flags in
    /// a top-level `sglext` (`input_ids`, `output_ids` per choice).
    /// llama.cpp returns no prompt ids, and the completion's only as the
    /// `id` of each `logprobs.content` entry (when asked for `logprobs`),
    /// which is read when no list of ids came.
    pub prompt_token_ids: Option<Vec<u32>>,
    pub completion_token_ids: Option<Vec<u32>>,
    /// The sampled tokens' logprobs (`choices[].logprobs.content[].logprob`,
    /// the OpenAI shape vLLM follows), when every token has one.
    pub logprobs: Option<Vec<f64>>,
}

/// Why a successful HTTP response did not hold a usable reply.
#[derive(Debug)]
pub enum ReplyProblem {
    /// Not the shape of a chat completion.
    Invalid(String),
    /// An error object in a 200 response (some proxies report upstream failures so),
    /// with the HTTP-like code it carried.
    InBand { code: Option<u16> },
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    prompt_token_ids: Option<Vec<u32>>,
    #[serde(default)]
    sglext: Option<WireSglExt>,
    #[serde(default)]
    error: Option<Value>,
}

/// SGLang's extension block (`return_input_ids_in_sglext`,
/// `return_output_ids_in_sglext`).
#[derive(Deserialize)]
struct WireSglExt {
    #[serde(default)]
    input_ids: Option<Vec<u32>>,
    /// One list per choice.
    #[serde(default)]
    output_ids: Option<Vec<Vec<u32>>>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    token_ids: Option<Vec<u32>>,
    #[serde(default)]
    response_token_ids: Option<Vec<u32>>,
    #[serde(default)]
    prompt_token_ids: Option<Vec<u32>>,
    #[serde(default)]
    logprobs: Option<WireLogprobs>,
}

#[derive(Deserialize)]
struct WireLogprobs {
    #[serde(default)]
    content: Option<Vec<WireTokenLogprob>>,
}

#[derive(Deserialize)]
struct WireTokenLogprob {
    #[serde(default)]
    logprob: Option<f64>,
    /// The sampled token's id (llama.cpp).
    #[serde(default)]
    id: Option<u32>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Value,
    #[serde(default)]
    reasoning_content: Value,
    #[serde(default)]
    reasoning: Value,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Text content: a string, or the text parts of a content-part list.
fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect::<String>(),
        ),
        _ => None,
    }
}

fn arguments(value: Value) -> String {
    match value {
        Value::String(raw) => raw,
        Value::Null => "{}".to_owned(),
        other => other.to_string(),
    }
}

/// Parses a 2xx body. Cost and attempts are left at 0 for the caller to fill in.
pub fn parse(body: &[u8]) -> Result<ModelReply, ReplyProblem> {
    let wire: Wire = serde_json::from_slice(body)
        .map_err(|e| ReplyProblem::Invalid(format!("not a chat completion: {e}")))?;
    let (sglext_input, sglext_output) = match wire.sglext {
        Some(ext) => (
            ext.input_ids,
            ext.output_ids.and_then(|ids| ids.into_iter().next()),
        ),
        None => (None, None),
    };
    let Some(choice) = wire.choices.into_iter().next() else {
        return Err(match wire.error {
            Some(error) => {
                let code = error.get("code").and_then(Value::as_u64);
                ReplyProblem::InBand {
                    code: code.and_then(|c| u16::try_from(c).ok()),
                }
            }
            None => ReplyProblem::Invalid("no choices in the reply".to_owned()),
        });
    };
    let message = choice
        .message
        .ok_or_else(|| ReplyProblem::Invalid("the first choice has no message".to_owned()))?;
    let tool_calls = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, call)| {
            let function = call.function.unwrap_or(WireFunction {
                name: String::new(),
                arguments: Value::Null,
            });
            // The id is the server's, or `call_<index>` when it sent none; the
            // arguments are exactly as sent (an object is serialised, absent is
            // `{}`): the agent decides what to do with malformed JSON.
            ToolCall::function(
                call.id
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("call_{index}")),
                function.name,
                arguments(function.arguments),
            )
        })
        .collect();
    let sampled = choice.logprobs.and_then(|l| l.content);
    // Each list only when every token has its entry, so it lines up with
    // the completion.
    let logprob_ids: Option<Vec<u32>> = sampled
        .as_ref()
        .and_then(|tokens| tokens.iter().map(|t| t.id).collect());
    let logprobs: Option<Vec<f64>> =
        sampled.and_then(|tokens| tokens.into_iter().map(|t| t.logprob).collect());
    let usage = wire.usage.map_or_else(Usage::default, |u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    });
    Ok(ModelReply {
        content: text(message.content),
        reasoning: text(message.reasoning_content).or_else(|| text(message.reasoning)),
        tool_calls,
        finish_reason: choice.finish_reason,
        usage,
        cost: 0.0,
        attempts: 0,
        prompt_token_ids: wire
            .prompt_token_ids
            .or(choice.prompt_token_ids)
            .or(sglext_input),
        completion_token_ids: choice
            .token_ids
            .or(choice.response_token_ids)
            .or(sglext_output)
            .or(logprob_ids),
        logprobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> ModelReply {
        parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn reads_the_variants_servers_send() {
        let reply = ok(r#"{"choices":[{"message":{"content":null,"reasoning":"hm",
            "tool_calls":[{"function":{"name":"bash","arguments":{"command":"ls"}}},
                          {"id":"x","function":{"name":"read"}}]},"finish_reason":"tool_calls"}]}"#);
        assert_eq!(reply.content, None);
        assert_eq!(reply.reasoning.as_deref(), Some("hm"));
        assert_eq!(reply.tool_calls[0].id, "call_0");
        assert_eq!(
            reply.tool_calls[0].function.arguments,
            r#"{"command":"ls"}"#
        );
        assert_eq!(reply.tool_calls[1].function.arguments, "{}");
        assert_eq!(reply.usage, Usage::default());

        let reply = ok(
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
            "reasoning_content":"rc","reasoning":"r"},"finish_reason":"stop","token_ids":[5],
            "logprobs":{"content":[{"token":"a","logprob":-0.25,"bytes":[97],"top_logprobs":[]}]}}],
            "usage":{"prompt_tokens":3,"completion_tokens":null},"prompt_token_ids":[1,2]}"#,
        );
        assert_eq!(reply.content.as_deref(), Some("ab"));
        assert_eq!(reply.reasoning.as_deref(), Some("rc"));
        assert_eq!(
            reply.usage,
            Usage {
                prompt_tokens: 3,
                completion_tokens: 0
            }
        );
        assert_eq!(reply.prompt_token_ids, Some(vec![1, 2]));
        assert_eq!(reply.completion_token_ids, Some(vec![5]));
        assert_eq!(reply.logprobs, Some(vec![-0.25]));

        // OpenAI's shape: logprobs without ids; a token without a logprob
        // leaves the list out rather than misaligned.
        let reply = ok(r#"{"choices":[{"message":{"content":"a"},
            "logprobs":{"content":[{"token":"a","logprob":-1.5}]}}]}"#);
        assert_eq!(
            (reply.prompt_token_ids, reply.logprobs),
            (None, Some(vec![-1.5]))
        );
        let reply = ok(r#"{"choices":[{"message":{"content":"a"},
            "logprobs":{"content":[{"token":"a","logprob":-1.5},{"token":"b"}]}}]}"#);
        assert_eq!(reply.logprobs, None);
    }

    #[test]
    fn token_ids_in_sglangs_shapes() {
        // 0.5.18 and later: both on the choice.
        let reply = ok(
            r#"{"choices":[{"message":{"content":"a"},"finish_reason":"stop",
            "prompt_token_ids":[1,2],"response_token_ids":[3],"matched_stop":3}]}"#,
        );
        assert_eq!(reply.prompt_token_ids, Some(vec![1, 2]));
        assert_eq!(reply.completion_token_ids, Some(vec![3]));
        // 0.5.17: the completion's as `token_ids`.
        let reply = ok(r#"{"choices":[{"message":{"content":"a"},
            "prompt_token_ids":[1],"token_ids":[4]}]}"#);
        assert_eq!(reply.completion_token_ids, Some(vec![4]));
        // The sglext block (0.5.20 and later).
        let reply = ok(r#"{"choices":[{"message":{"content":"a"}}],
            "sglext":{"input_ids":[1,2,5],"output_ids":[[6,7]]}}"#);
        assert_eq!(reply.prompt_token_ids, Some(vec![1, 2, 5]));
        assert_eq!(reply.completion_token_ids, Some(vec![6, 7]));
    }

    #[test]
    fn llama_cpps_completion_ids_are_its_logprob_ids() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../../tests/llama/fixtures/logprobs.json"))
                .unwrap();
        let reply = ok(&fixture["response"].to_string());
        let tokenized: Value =
            serde_json::from_str(include_str!("../../../tests/llama/fixtures/tokenize.json"))
                .unwrap();
        // The server's /tokenize of the reply's text gives the same ids.
        assert_eq!(
            tokenized["request"]["body"]["content"].as_str(),
            reply.content.as_deref()
        );
        let ids: Vec<u32> =
            serde_json::from_value(tokenized["response"]["tokens"].clone()).unwrap();
        assert_eq!(reply.completion_token_ids, Some(ids));
        assert_eq!(reply.prompt_token_ids, None);
        assert_eq!(reply.logprobs.as_ref().map(Vec::len), Some(8));
        assert_eq!(reply.finish_reason.as_deref(), Some("length"));
        // A list of ids, where one is sent, wins over the logprobs' ids.
        let reply = ok(r#"{"choices":[{"message":{"content":"a"},"token_ids":[5],
            "logprobs":{"content":[{"id":9,"token":"a","logprob":-0.5}]}}]}"#);
        assert_eq!(reply.completion_token_ids, Some(vec![5]));
    }

    #[test]
    fn problems_are_told_apart() {
        assert!(matches!(parse(b"<html>"), Err(ReplyProblem::Invalid(_))));
        assert!(matches!(
            parse(br#"{"choices":[]}"#),
            Err(ReplyProblem::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"error":{"message":"upstream","code":502}}"#),
            Err(ReplyProblem::InBand { code: Some(502) })
        ));
    }
}
