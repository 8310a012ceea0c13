//! The model client against the scripted mock server, over real sockets.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::time::{Duration, Instant};

use plinth_mock_llm::{Attempt, Fault, MockConfig, MockServer, Script};
use plinth_model::{
    Conversation, Endpoint, ModelClient, ModelConfig, ModelError, Price, ToolSchemas,
};
use serde_json::{Value, json};

const KEY: &str = "sk-test-very-secret-0123456789";

/// A server playing `steps` for every prompt.
async fn serve(steps: Vec<Vec<Attempt>>) -> MockServer {
    let script = Script::new().task("t", steps).default_task("t");
    MockServer::start(MockConfig::scripted(script))
        .await
        .unwrap()
}

fn config(server: &MockServer) -> ModelConfig {
    let endpoint = Endpoint {
        base_url: server.base_url(),
        api_key: Some(KEY.to_owned()),
    };
    let mut config = ModelConfig::new("test-model", endpoint);
    config.request_timeout = Duration::from_secs(5);
    config.retry_base_delay = Duration::from_millis(10);
    config
}

fn client(config: ModelConfig) -> ModelClient {
    ModelClient::new(config).unwrap()
}

fn message_values() -> Vec<Value> {
    vec![
        json!({"role": "system", "content": "You are a test."}),
        json!({"role": "user", "content": "fix the bug"}),
    ]
}

fn messages() -> Conversation {
    Conversation::from_values(&message_values())
}

fn tool_values() -> Vec<Value> {
    vec![
        json!({"type": "function", "function": {"name": "bash", "description": "run",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}),
    ]
}

fn tools() -> ToolSchemas {
    ToolSchemas::new(&tool_values())
}

fn no_tools() -> ToolSchemas {
    ToolSchemas::new(&[])
}

#[tokio::test]
async fn parses_tool_calls() {
    let server = serve(vec![vec![Attempt::tool_calls(&[
        ("bash", r#"{"command":"ls"}"#),
        ("read", r#"{"path":"a.txt"}"#),
    ])]])
    .await;
    let reply = client(config(&server))
        .chat(&messages(), &tools())
        .await
        .unwrap();
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(reply.tool_calls[0].function.name, "bash");
    assert_eq!(
        reply.tool_calls[0].function.arguments,
        r#"{"command":"ls"}"#
    );
    assert_eq!(reply.tool_calls[1].function.name, "read");
    assert_ne!(reply.tool_calls[0].id, reply.tool_calls[1].id);
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(reply.content, None);
    assert_eq!(reply.attempts, 1);
}

#[tokio::test]
async fn reads_reasoning_content_and_text() {
    let server = serve(vec![vec![
        Attempt::text("all done").reasoning("thinking hard"),
    ]])
    .await;
    let reply = client(config(&server))
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("all done"));
    assert_eq!(reply.reasoning.as_deref(), Some("thinking hard"));
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn keeps_malformed_arguments_raw() {
    let broken = r#"{"command": "ls -la"#;
    let server = serve(vec![vec![Attempt::tool_call("bash", broken)]]).await;
    let reply = client(config(&server))
        .chat(&messages(), &tools())
        .await
        .unwrap();
    assert_eq!(reply.tool_calls[0].function.arguments, broken);
}

#[tokio::test]
async fn waits_for_retry_after_on_429() {
    let server = serve(vec![vec![
        Attempt::http_error(429, Some(1), None),
        Attempt::text("ok"),
    ]])
    .await;
    let started = Instant::now();
    let reply = client(config(&server))
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.content.as_deref(), Some("ok"));
    assert_eq!(reply.attempts, 2);
    assert_eq!(server.stats().chat_completions, 2);
}

#[tokio::test]
async fn retries_server_errors() {
    let server = serve(vec![vec![
        Attempt::http_error(500, None, None),
        Attempt::http_error(503, None, Some("overloaded")),
        Attempt::text("ok"),
    ]])
    .await;
    let reply = client(config(&server))
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("ok"));
    assert_eq!(reply.attempts, 3);
}

/// Proxies and gateways sometimes answer 200 with a body cut short, or with
/// no choices: such a reply is retried like a 5xx, not the end of the task.
#[tokio::test]
async fn retries_replies_that_cannot_be_used() {
    let server = serve(vec![vec![
        Attempt::http_error(
            200,
            None,
            Some(r#"{"id": "x", "choices": [{"message": {"rol"#),
        ),
        Attempt::http_error(200, None, Some(r#"{"id": "x", "choices": []}"#)),
        Attempt::text("ok"),
    ]])
    .await;
    let reply = client(config(&server))
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    assert_eq!(reply.content.as_deref(), Some("ok"));
    assert_eq!(reply.attempts, 3);

    // When they go on, the error says what was wrong and how often it was tried.
    let server = serve(vec![vec![Attempt::http_error(200, None, Some("{\"choi"))]]).await;
    let mut config = config(&server);
    config.max_retries = 2;
    let error = client(config)
        .chat(&messages(), &no_tools())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ModelError::InvalidReply { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("{\"choi"), "{error}");
}

/// Every fault the mock injects (`plinth_mock_llm::Fault`: 429, 5xx, a cut
/// body, an error object or no choices in a 200, a connection dropped before
/// or during the reply) is retried, one after the other, until the reply.
#[tokio::test]
async fn retries_every_kind_of_fault() {
    let mut attempts: Vec<Attempt> = Fault::ALL.into_iter().map(Attempt::fault).collect();
    attempts.push(Attempt::text("ok"));
    let server = serve(vec![attempts]).await;
    let mut config = config(&server);
    config.max_retries = Fault::ALL.len() as u32;
    config.retry_base_delay = Duration::from_millis(1);
    let reply = client(config).chat(&messages(), &no_tools()).await.unwrap();
    assert_eq!(reply.content.as_deref(), Some("ok"));
    assert_eq!(reply.attempts, Fault::ALL.len() as u32 + 1);
    assert_eq!(server.stats().faults_injected, Fault::ALL.len() as u64);
}

#[tokio::test]
async fn gives_up_when_server_errors_persist() {
    let server = serve(vec![vec![Attempt::http_error(
        502,
        None,
        Some("bad gateway"),
    )]])
    .await;
    let mut config = config(&server);
    config.max_retries = 2;
    let error = client(config)
        .chat(&messages(), &no_tools())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ModelError::Status {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("bad gateway"), "{error}");
    assert_eq!(server.stats().chat_completions, 3);
}

#[tokio::test]
async fn retries_a_reply_slower_than_the_timeout() {
    let server = serve(vec![vec![
        Attempt::text("too late").delay(Duration::from_secs(2)),
        Attempt::text("in time"),
    ]])
    .await;
    let mut config = config(&server);
    config.request_timeout = Duration::from_millis(300);
    let reply = client(config).chat(&messages(), &no_tools()).await.unwrap();
    assert_eq!(reply.content.as_deref(), Some("in time"));
    assert_eq!(reply.attempts, 2);
}

#[tokio::test]
async fn times_out_when_retries_run_out() {
    let server = serve(vec![vec![
        Attempt::text("too late").delay(Duration::from_secs(2)),
    ]])
    .await;
    let mut config = config(&server);
    config.request_timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let started = Instant::now();
    let error = client(config)
        .chat(&messages(), &no_tools())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ModelError::Timeout { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn does_not_retry_client_errors() {
    let body = r#"{"error":{"message":"model not found: test-model"}}"#;
    let server = serve(vec![vec![
        Attempt::http_error(400, None, Some(body)),
        Attempt::text("never"),
    ]])
    .await;
    let error = client(config(&server))
        .chat(&messages(), &no_tools())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ModelError::Status {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("400") && shown.contains("model not found"),
        "{shown}"
    );
    assert_eq!(server.stats().chat_completions, 1);
}

#[tokio::test]
async fn reports_usage_cost_and_token_ids() {
    let server = serve(vec![vec![
        Attempt::text("ok")
            .usage(1_000, 500)
            .token_ids(&[1, 2, 3], &[7, 8]),
    ]])
    .await;
    let mut config = config(&server);
    config.price = Some(Price {
        input_per_million: 3.0,
        output_per_million: 15.0,
    });
    let reply = client(config.clone())
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (1_000, 500)
    );
    assert!((reply.cost - 0.0105).abs() < 1e-12, "{}", reply.cost);
    assert_eq!(reply.prompt_token_ids, Some(vec![1, 2, 3]));
    assert_eq!(reply.completion_token_ids, Some(vec![7, 8]));

    config.price = None;
    let reply = client(config).chat(&messages(), &no_tools()).await.unwrap();
    assert_eq!(reply.cost, 0.0);
}

#[tokio::test]
async fn sends_only_what_is_set() {
    let server = serve(vec![vec![Attempt::text("ok")]]).await;
    let mut config = config(&server);
    client(config.clone())
        .chat(&messages(), &no_tools())
        .await
        .unwrap();
    config.temperature = Some(0.25);
    config.api_key = None;
    client(config).chat(&messages(), &tools()).await.unwrap();

    let requests = server.requests();
    let (plain, full) = (&requests[0], &requests[1]);
    assert_eq!(
        plain.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = plain.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"], json!(message_values()));
    assert!(body.get("temperature").is_none(), "{body}");
    assert!(body.get("tools").is_none(), "{body}");

    assert_eq!(full.header("authorization"), None);
    let body = full.json();
    assert_eq!(body["temperature"], 0.25);
    assert_eq!(body["tools"], json!(tool_values()));
}

#[tokio::test]
async fn api_key_never_shows() {
    // A server that echoes the key back in its error body.
    let echo = format!(r#"{{"error":"bad key {KEY}"}}"#);
    let server = serve(vec![vec![Attempt::http_error(401, None, Some(&echo))]]).await;
    let mut config = config(&server);
    config.max_retries = 1;
    let client_ = client(config.clone());
    let status_error = client_.chat(&messages(), &no_tools()).await.unwrap_err();

    // Nothing listens on this port once the server is gone.
    let addr = server.addr();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    config.base_url = format!("http://{addr}/v1");
    let transport_error = client(config)
        .chat(&messages(), &no_tools())
        .await
        .unwrap_err();
    assert!(
        matches!(transport_error, ModelError::Transport { attempts: 2, .. }),
        "{transport_error:?}"
    );

    for shown in [
        status_error.to_string(),
        format!("{status_error:?}"),
        transport_error.to_string(),
        format!("{transport_error:?}"),
        format!("{client_:?}"),
    ] {
        assert!(!shown.contains(KEY), "key leaked: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_serves_many_concurrent_calls() {
    let server = serve(vec![vec![
        Attempt::text("ok").delay(Duration::from_millis(100)),
    ]])
    .await;
    let client = client(config(&server));
    let calls = (0..200).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let messages = [json!({"role": "user", "content": format!("task {i}")})];
            client
                .chat(&Conversation::from_values(&messages), &no_tools())
                .await
                .unwrap()
        })
    });
    let started = Instant::now();
    for call in calls.collect::<Vec<_>>() {
        assert_eq!(call.await.unwrap().content.as_deref(), Some("ok"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.stats().chat_completions, 200);
}
