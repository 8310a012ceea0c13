//! Turns an [`Attempt`] into the bytes of an OpenAI-style chat completion (or an error).

use serde::Serialize;

use crate::fault::Fault;
use crate::script::{Attempt, Reply, TokenIds};
use crate::server::TokenShape;
use crate::tokens;

/// `created` is fixed so replies are byte-for-byte reproducible.
const CREATED: u64 = 1_700_000_000;

/// Where the reply is going: the parts of the request the rendering depends on.
pub(crate) struct Context<'a> {
    pub model: &'a str,
    pub step: u32,
    /// Hash of the first user message, so tool-call ids differ between conversations.
    pub conversation: u64,
    pub request_bytes: usize,
    /// Serial number of the completion, for the response id.
    pub serial: u64,
    /// Token ids were asked for (and the mock answers them).
    pub capture: Option<Capture>,
}

/// What a request asked to get back of the sampling.
pub(crate) struct Capture {
    /// The request's prompt under the mock's template.
    pub prompt: Vec<u32>,
    /// Also the sampled tokens' logprobs.
    pub logprobs: bool,
    /// Which server's fields carry the ids.
    pub shape: TokenShape,
}

pub(crate) enum Rendered {
    /// A scripted fault, which the server plays out (it may need the connection).
    Fault(Fault),
    Error {
        status: u16,
        retry_after: Option<u64>,
        body: String,
    },
    Completion {
        body: Vec<u8>,
        has_tool_calls: bool,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
}

#[derive(Serialize)]
struct Completion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_token_ids: Option<&'a [u32]>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message,
    logprobs: Option<Logprobs>,
    finish_reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_ids: Option<&'a [u32]>,
    /// SGLang's places for the ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_token_ids: Option<&'a [u32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_token_ids: Option<&'a [u32]>,
}

/// OpenAI's (and vLLM's) `choices[].logprobs`.
#[derive(Serialize)]
struct Logprobs {
    content: Vec<TokenLogprob>,
}

#[derive(Serialize)]
struct TokenLogprob {
    token: String,
    logprob: f64,
    bytes: Vec<u8>,
    top_logprobs: [(); 0],
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

#[derive(Serialize)]
struct ToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function,
}

#[derive(Serialize)]
struct Function {
    name: String,
    arguments: String,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

pub(crate) fn render(attempt: &Attempt, cx: &Context<'_>) -> Rendered {
    let fill = |text: &str| {
        if text.contains("{step}") {
            text.replace("{step}", &cx.step.to_string())
        } else {
            text.to_owned()
        }
    };
    let (content, tool_calls) = match &attempt.reply {
        Reply::Error {
            status,
            retry_after,
            body,
        } => {
            let body = body.as_deref().map(fill).unwrap_or_else(|| {
                serde_json::json!({"error": {
                    "message": format!("mock error {status}"),
                    "type": "mock_error",
                    "code": status,
                }})
                .to_string()
            });
            return Rendered::Error {
                status: *status,
                retry_after: *retry_after,
                body,
            };
        }
        Reply::Fault { fault } => return Rendered::Fault(*fault),
        Reply::ToolCalls { calls, content } => {
            let calls = calls
                .iter()
                .enumerate()
                .map(|(i, call)| ToolCall {
                    id: format!("call_{:08x}_{}_{i}", cx.conversation as u32, cx.step),
                    kind: "function",
                    function: Function {
                        name: call.name.clone(),
                        arguments: fill(&call.arguments),
                    },
                })
                .collect();
            (content.as_deref().map(fill), calls)
        }
        Reply::Text { content } => (Some(fill(content)), Vec::new()),
        Reply::Bash { command } => (Some(format!("```bash\n{}\n```", fill(command))), Vec::new()),
        Reply::XmlToolCall { name, arguments } => {
            let name = serde_json::Value::from(name.as_str());
            let content = format!(
                "<tool_call>{{\"name\": {name}, \"arguments\": {}}}</tool_call>",
                fill(arguments)
            );
            (Some(content), Vec::new())
        }
    };
    let has_tool_calls = !tool_calls.is_empty();
    let usage = match attempt.usage {
        Some(spec) => Usage {
            prompt_tokens: spec.prompt_tokens,
            completion_tokens: spec.completion_tokens,
            total_tokens: spec.prompt_tokens + spec.completion_tokens,
        },
        None => {
            let out_bytes = content.as_ref().map_or(0, String::len)
                + tool_calls
                    .iter()
                    .map(|c| c.function.arguments.len())
                    .sum::<usize>();
            let prompt_tokens = (cx.request_bytes as u64 / 4).max(1);
            let completion_tokens = (out_bytes as u64 / 4).max(1);
            Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
            }
        }
    };
    let (prompt_tokens, completion_tokens) = (usage.prompt_tokens, usage.completion_tokens);
    let finish_reason = attempt
        .finish_reason
        .as_deref()
        .unwrap_or(if has_tool_calls { "tool_calls" } else { "stop" });
    let reasoning = attempt.reasoning.as_deref().map(fill);
    // Scripted ids win; else, when asked, the ids of the reply as rendered.
    let sampled = match (&attempt.token_ids, &cx.capture) {
        (Some(ids), _) => Some(ids.clone()),
        (None, Some(capture)) => {
            let calls: Vec<(&str, &str)> = tool_calls
                .iter()
                .map(|c| (c.function.name.as_str(), c.function.arguments.as_str()))
                .collect();
            Some(TokenIds {
                prompt: capture.prompt.clone(),
                completion: tokens::assistant_body(
                    reasoning.as_deref(),
                    content.as_deref(),
                    &calls,
                ),
            })
        }
        (None, None) => None,
    };
    let logprobs = match (&sampled, &cx.capture) {
        (Some(ids), Some(capture)) if capture.logprobs => Some(Logprobs {
            content: ids
                .completion
                .iter()
                .map(|id| {
                    let bytes = u8::try_from(*id).map(|b| vec![b]).unwrap_or_default();
                    TokenLogprob {
                        token: String::from_utf8_lossy(&bytes).into_owned(),
                        logprob: tokens::logprob(*id),
                        bytes,
                        top_logprobs: [],
                    }
                })
                .collect(),
        }),
        _ => None,
    };
    let token_ids = sampled.as_ref();
    let sglang = cx
        .capture
        .as_ref()
        .is_some_and(|c| c.shape == TokenShape::Sglang);
    let (vllm_ids, sglang_ids) = if sglang {
        (None, token_ids)
    } else {
        (token_ids, None)
    };
    let completion = Completion {
        id: format!("chatcmpl-mock-{}", cx.serial),
        object: "chat.completion",
        created: CREATED,
        model: cx.model,
        system_fingerprint: "mock",
        choices: [Choice {
            index: 0,
            message: Message {
                role: "assistant",
                content,
                tool_calls,
                reasoning_content: reasoning,
            },
            logprobs,
            finish_reason,
            token_ids: vllm_ids.map(|ids: &TokenIds| ids.completion.as_slice()),
            prompt_token_ids: sglang_ids.map(|ids| ids.prompt.as_slice()),
            response_token_ids: sglang_ids.map(|ids| ids.completion.as_slice()),
        }],
        usage,
        prompt_token_ids: vllm_ids.map(|ids| ids.prompt.as_slice()),
    };
    Rendered::Completion {
        body: serde_json::to_vec(&completion).expect("completion serialises"),
        has_tool_calls,
        prompt_tokens,
        completion_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn cx() -> Context<'static> {
        Context {
            model: "m",
            step: 3,
            conversation: 0xabcd,
            request_bytes: 400,
            serial: 9,
            capture: None,
        }
    }

    fn json(attempt: &Attempt) -> Value {
        match render(attempt, &cx()) {
            Rendered::Completion { body, .. } => serde_json::from_slice(&body).unwrap(),
            Rendered::Error { .. } | Rendered::Fault(_) => panic!("expected a completion"),
        }
    }

    #[test]
    fn tool_call_reply_has_the_openai_shape() {
        let reply = json(&Attempt::tool_call("bash", "{broken {step}").reasoning("r"));
        assert_eq!(reply["object"], "chat.completion");
        assert_eq!(reply["id"], "chatcmpl-mock-9");
        let choice = &reply["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(choice["message"]["reasoning_content"], "r");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_0000abcd_3_0");
        assert_eq!(call["function"]["arguments"], "{broken 3");
        assert_eq!(reply["usage"]["prompt_tokens"], 100);
        assert_eq!(reply["usage"]["total_tokens"], 102);
    }

    #[test]
    fn text_kinds_render_into_content() {
        let content = |a: &Attempt| json(a)["choices"][0]["message"]["content"].clone();
        assert_eq!(content(&Attempt::bash("ls")), "```bash\nls\n```");
        assert_eq!(
            content(&Attempt::xml_tool_call("t", r#"{"command":"ls"}"#)),
            r#"<tool_call>{"name": "t", "arguments": {"command":"ls"}}</tool_call>"#
        );
        let reply = json(
            &Attempt::text("x")
                .usage(7, 8)
                .finish_reason("length")
                .token_ids(&[1], &[2, 3]),
        );
        assert_eq!(reply["choices"][0]["finish_reason"], "length");
        assert_eq!(reply["usage"]["total_tokens"], 15);
        assert_eq!(reply["prompt_token_ids"], serde_json::json!([1]));
        assert_eq!(reply["choices"][0]["token_ids"], serde_json::json!([2, 3]));
    }

    #[test]
    fn asked_for_ids_it_answers_them_as_vllm_does() {
        let cx = Context {
            capture: Some(Capture {
                prompt: vec![tokens::IM_START, tokens::ASSISTANT],
                logprobs: true,
                shape: TokenShape::Vllm,
            }),
            ..cx()
        };
        let Rendered::Completion { body, .. } = render(&Attempt::text("ok"), &cx) else {
            panic!("expected a completion")
        };
        let reply: Value = serde_json::from_slice(&body).unwrap();
        let ids = [u32::from(b'o'), u32::from(b'k'), tokens::IM_END];
        assert_eq!(
            reply["prompt_token_ids"],
            serde_json::json!(cx.capture.unwrap().prompt)
        );
        assert_eq!(reply["choices"][0]["token_ids"], serde_json::json!(ids));
        let logprobs = &reply["choices"][0]["logprobs"]["content"];
        assert_eq!(logprobs[1]["token"], "k");
        assert_eq!(logprobs[2]["logprob"], tokens::logprob(tokens::IM_END));
    }

    #[test]
    fn errors_default_to_a_json_body() {
        let Rendered::Error {
            status,
            retry_after,
            body,
        } = render(&Attempt::http_error(429, Some(2), None), &cx())
        else {
            panic!("expected an error");
        };
        assert_eq!((status, retry_after), (429, Some(2)));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], 429);
    }
}
