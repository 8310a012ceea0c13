//! Context-length errors and `max_tokens` against the scripted mock server,
//! over real sockets: what is sent, what is retried, what the error says.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::time::Duration;

use plinth_mock_llm::{Attempt, MockConfig, MockServer, Script};
use plinth_model::{Conversation, Endpoint, ModelClient, ModelConfig, ModelError, ToolSchemas};
use plinth_record::defaults;
use serde_json::{Value, json};

async fn serve(steps: Vec<Vec<Attempt>>) -> MockServer {
    let script = Script::new().task("t", steps).default_task("t");
    MockServer::start(MockConfig::scripted(script))
        .await
        .unwrap()
}

fn client(server: &MockServer, change: impl FnOnce(&mut ModelConfig)) -> ModelClient {
    let endpoint = Endpoint {
        base_url: server.base_url(),
        api_key: None,
    };
    let mut config = ModelConfig::new("m", endpoint);
    config.request_timeout = Duration::from_secs(5);
    config.retry_base_delay = Duration::from_millis(10);
    change(&mut config);
    ModelClient::new(config).unwrap()
}

fn conversation() -> Conversation {
    Conversation::from_values(&[json!({"role": "user", "content": "fix the bug"})])
}

fn sent(server: &MockServer) -> Vec<Value> {
    server.requests().iter().map(|r| r.json()).collect()
}

/// llama.cpp's refusal, as the real server sent it (tests/llama/fixtures).
fn llama_overflow() -> String {
    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/llama/fixtures/overflow.json")).unwrap();
    fixture["response"].to_string()
}

#[tokio::test]
async fn max_tokens_goes_with_every_request_unless_told_otherwise() {
    let server = serve(vec![vec![Attempt::text("a")], vec![Attempt::text("b")]]).await;
    client(&server, |_| {})
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap();
    client(&server, |c| c.max_tokens = None)
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap();
    let sent = sent(&server);
    assert_eq!(sent[0]["max_tokens"], defaults::MAX_TOKENS);
    assert!(sent[1].get("max_tokens").is_none(), "{}", sent[1]);
}

#[tokio::test]
async fn an_overflow_is_named_and_never_retried() {
    let server = serve(vec![vec![
        Attempt::http_error(400, None, Some(&llama_overflow())),
        Attempt::text("never asked for"),
    ]])
    .await;
    let error = client(&server, |_| {})
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap_err();
    let ModelError::ContextOverflow {
        prompt_tokens,
        context,
        attempts,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(
        (*prompt_tokens, *context, *attempts),
        (Some(3031), Some(1024), 1)
    );
    let text = error.to_string();
    assert!(
        text.contains("prompt 3031 tokens, context 1024")
            && text.contains("exceed_context_size_error"),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_max_tokens_too_large_for_the_room_left_is_asked_again_smaller() {
    // vLLM refuses a max_tokens that does not fit beside a prompt that does.
    let vllm = r#"{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is 4096 tokens and your request has 1000 input tokens (4096 > 4096 - 1000). None","type":"BadRequestError","param":null,"code":400}}"#;
    let server = serve(vec![vec![
        Attempt::http_error(400, None, Some(vllm)),
        Attempt::text("fits"),
    ]])
    .await;
    let reply = client(&server, |_| {})
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("fits"));
    assert_eq!(reply.attempts, 2);
    let sent = sent(&server);
    assert_eq!(sent[0]["max_tokens"], 4096);
    assert_eq!(sent[1]["max_tokens"], 3096);

    // A max_tokens already within the room is not the problem: no retry.
    let server = serve(vec![vec![
        Attempt::http_error(400, None, Some(vllm)),
        Attempt::text("never asked for"),
    ]])
    .await;
    let error = client(&server, |c| c.max_tokens = Some(100))
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ModelError::ContextOverflow { .. }),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn other_client_errors_stay_status_errors() {
    let server = serve(vec![vec![Attempt::http_error(
        400,
        None,
        Some(r#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#),
    )]])
    .await;
    let error = client(&server, |_| {})
        .chat(&conversation(), &ToolSchemas::new(&[]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ModelError::Status { status: 400, .. }),
        "{error}"
    );
}
