//! Context-length errors, as the servers plinth meets spell them.
//!
//! A prompt longer than the model's context window is refused with a client
//! error, and retrying the same prompt can only fail again: the run must end
//! under its own name (or, when only the requested `max_tokens` does not
//! fit, ask again for fewer). Every server words it differently, so the
//! body is read for each known shape:
//!
//! - llama.cpp: `{"error": {"type": "exceed_context_size_error",
//!   "n_prompt_tokens": N, "n_ctx": C, ...}}`;
//! - vLLM (`BadRequestError`): "This model's maximum context length is C
//!   tokens. However, your request has N input tokens." (or, from older
//!   versions, "you requested T tokens (N in the messages, M in the
//!   completion)"), and "'max_tokens' or 'max_completion_tokens' is too
//!   large: M. This model's maximum context length is C tokens and your
//!   request has N input tokens";
//! - OpenAI: `"code": "context_length_exceeded"`, with or without "your
//!   messages resulted in N tokens";
//! - Anthropic (directly or wrapped by OpenRouter in `metadata.raw`):
//!   "prompt is too long: N tokens > C maximum", and "input length and
//!   `max_tokens` exceed context limit: N + M > C";
//! - OpenRouter: "This endpoint's maximum context length is C tokens.
//!   However, you requested about T tokens (N of text input, ...)".

use serde_json::Value;

/// A context-length error: what the server said of the sizes involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Tokens of the prompt, when the server said.
    pub prompt_tokens: Option<u64>,
    /// The context length, when the server said.
    pub context: Option<u64>,
}

impl Overflow {
    /// Tokens left for the reply when the prompt itself fits: the request
    /// failed only because it asked for more (`max_tokens`) than that.
    pub fn room(&self) -> Option<u64> {
        match (self.prompt_tokens, self.context) {
            (Some(prompt), Some(context)) if prompt < context => Some(context - prompt),
            _ => None,
        }
    }
}

/// The context-length error in an error `body`, if it is one.
pub fn detect(body: &[u8]) -> Option<Overflow> {
    let text = String::from_utf8_lossy(body);
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().map(|v| v.get("error").unwrap_or(v));
    if let Some(error) = error
        && error.get("type").and_then(Value::as_str) == Some("exceed_context_size_error")
    {
        return Some(Overflow {
            prompt_tokens: error.get("n_prompt_tokens").and_then(Value::as_u64),
            context: error.get("n_ctx").and_then(Value::as_u64),
        });
    }
    let coded = error.and_then(|e| e.get("code")).and_then(Value::as_str)
        == Some("context_length_exceeded");
    // Anthropic's wordings give both numbers in one phrase.
    for (pattern, prompt, context) in [
        ("prompt is too long: {} tokens > {} maximum", 0, 1),
        ("exceed context limit: {} + {} > {}", 0, 2),
        (
            "request ({} tokens) exceeds the available context size ({} tokens)",
            0,
            1,
        ),
    ] {
        if let Some(numbers) = scan(&text, pattern) {
            return Some(Overflow {
                prompt_tokens: Some(numbers[prompt]),
                context: Some(numbers[context]),
            });
        }
    }
    let context = scan(&text, "maximum context length is {} tokens").map(|n| n[0]);
    if context.is_none() && !coded {
        return None;
    }
    let prompt_tokens = [
        "your request has {} input tokens",
        "tokens ({} in the messages",
        "you requested {} tokens in the messages",
        "resulted in {} tokens",
        "tokens ({} of text input",
    ]
    .iter()
    .find_map(|pattern| scan(&text, pattern))
    .map(|n| n[0]);
    Some(Overflow {
        prompt_tokens,
        context,
    })
}

/// The numbers at the `{}`s of the first place `text` reads as `pattern`
/// (literal text and `{}` for a run of digits), ASCII case ignored.
fn scan(text: &str, pattern: &str) -> Option<Vec<u64>> {
    let pieces: Vec<&str> = pattern.split("{}").collect();
    let lower = text.to_ascii_lowercase();
    let first = pieces[0];
    let mut from = 0;
    while let Some(found) = lower[from..].find(first) {
        let start = from + found;
        if let Some(numbers) = scan_at(&lower[start + first.len()..], &pieces[1..]) {
            return Some(numbers);
        }
        from = start + first.len().max(1);
    }
    None
}

/// A number, then each piece's literal text then a number, the last
/// piece's text ending the match.
fn scan_at(mut rest: &str, pieces: &[&str]) -> Option<Vec<u64>> {
    let mut numbers = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        numbers.push(rest[..digits].parse().ok()?);
        rest = rest[digits..].strip_prefix(piece)?;
    }
    Some(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(body: &str) -> Option<(Option<u64>, Option<u64>)> {
        detect(body.as_bytes()).map(|o| (o.prompt_tokens, o.context))
    }

    #[test]
    fn llama_cpps_overflow_as_the_real_server_sent_it() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../../tests/llama/fixtures/overflow.json"))
                .unwrap();
        assert_eq!(fixture["status"], 400);
        let body = fixture["response"].to_string();
        let overflow = detect(body.as_bytes()).unwrap();
        assert_eq!(
            (overflow.prompt_tokens, overflow.context),
            (Some(3031), Some(1024))
        );
        assert_eq!(overflow.room(), None);
        // The streamed request's refusal is the same plain JSON.
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../tests/llama/fixtures/overflow_stream.json"
        ))
        .unwrap();
        assert!(detect(fixture["response"].to_string().as_bytes()).is_some());
    }

    #[test]
    fn every_known_wording_is_recognised() {
        // vLLM, a prompt over the window.
        assert_eq!(
            sizes(
                r#"{"object":"error","message":"This model's maximum context length is 1536 tokens. However, your request has 4176 input tokens. Please reduce the length of the input messages.","type":"BadRequestError","param":null,"code":400}"#
            ),
            Some((Some(4176), Some(1536)))
        );
        // vLLM, a max_tokens that does not fit beside a prompt that does.
        let too_large = detect(
            br#"{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None","type":"BadRequestError","param":null,"code":400}}"#,
        )
        .unwrap();
        assert_eq!(too_large.room(), Some(4096 - 2778));
        // Older vLLM.
        assert_eq!(
            sizes(
                r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 4596 tokens (500 in the messages, 4096 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","code":400}"#
            ),
            Some((Some(500), Some(4096)))
        );
        assert_eq!(
            sizes(
                r#"{"message":"This model's maximum context length is 2048 tokens. However, you requested 3000 tokens in the messages, Please reduce the length of the messages."}"#
            ),
            Some((Some(3000), Some(2048)))
        );
        // OpenAI, with and without numbers.
        assert_eq!(
            sizes(
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#
            ),
            Some((Some(130412), Some(128000)))
        );
        assert_eq!(
            sizes(
                r#"{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}"#
            ),
            Some((None, None))
        );
        // Anthropic through OpenRouter: the provider's error as a string.
        assert_eq!(
            sizes(
                r#"{"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 208310 tokens > 200000 maximum\"}}","provider_name":"Anthropic"}}}"#
            ),
            Some((Some(208310), Some(200000)))
        );
        let anthropic = detect(
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again"}}"#,
        )
        .unwrap();
        assert_eq!(anthropic.room(), Some(200000 - 188240));
        // OpenRouter's own.
        assert_eq!(
            sizes(
                r#"{"error":{"message":"This endpoint's maximum context length is 200000 tokens. However, you requested about 250123 tokens (249000 of text input, 1123 in the output). Please reduce the length of either one, or use the \"middle-out\" transform to compress your prompt automatically.","code":400}}"#
            ),
            Some((Some(249000), Some(200000)))
        );
    }

    #[test]
    fn other_client_errors_are_not_overflows() {
        for body in [
            r#"{"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","code":"model_not_found"}}"#,
            r#"{"error":{"code":400,"message":"logprobs is not supported with tools + stream","type":"invalid_request_error"}}"#,
            "<html>Bad Request</html>",
            "",
            "maximum context length is many tokens",
        ] {
            assert_eq!(detect(body.as_bytes()), None, "{body}");
        }
    }
}
