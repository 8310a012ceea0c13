//! The HTTP server: routes, the choice of reply, and the server's lifetime.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bench::{BenchConfig, Phase};
use crate::fault::{Fault, Faults};
use crate::record::{RecordedRequest, RequestLog};
use crate::request::ChatRequest;
use crate::response::{self, Capture, Context, Rendered};
use crate::script::{Attempt, Script};
use crate::stats::{Answer, Stats, StatsSnapshot};

/// Deep enough for a benchmark opening all its connections at once.
const LISTEN_BACKLOG: u32 = 4096;

const MODELS: &str = r#"{"object":"list","data":[{"id":"mock","object":"model","created":1700000000,"owned_by":"mock","context_length":131072}]}"#;

/// How the mock behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Added before every chat reply, like a model's think time.
    pub latency: Duration,
    /// Scripted tasks; prompts naming none of them get the benchmark script.
    pub script: Script,
    pub bench: BenchConfig,
    /// How many of the latest chat requests to keep for [`MockServer::requests`].
    pub record_limit: usize,
    /// Faults answered, at their rate, instead of replies.
    pub faults: Faults,
    /// Answer `return_token_ids` / `logprobs`; off, the mock ignores them
    /// like a server that cannot.
    pub token_ids: bool,
    /// Where the ids go in the reply: vLLM's fields or SGLang's.
    pub token_shape: TokenShape,
}

/// The reply fields a server puts token ids in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenShape {
    /// Top-level `prompt_token_ids`, per-choice `token_ids`.
    #[default]
    Vllm,
    /// SGLang 0.5.18 and later: per-choice `prompt_token_ids` and
    /// `response_token_ids`.
    Sglang,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            port: 0,
            latency: Duration::ZERO,
            script: Script::default(),
            bench: BenchConfig::default(),
            record_limit: 1000,
            faults: Faults::default(),
            token_ids: true,
            token_shape: TokenShape::default(),
        }
    }
}

impl MockConfig {
    /// A config that plays `script` (set its default task to catch every prompt).
    pub fn scripted(script: Script) -> Self {
        Self {
            script,
            ..Self::default()
        }
    }
}

struct App {
    config: MockConfig,
    stats: Stats,
    log: RequestLog,
    /// Attempts used so far per (first user message, step).
    attempts_used: Mutex<HashMap<(String, u32), usize>>,
}

/// A running mock; stops serving when dropped.
pub struct MockServer {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl MockServer {
    /// Binds 127.0.0.1 and serves in the background on the current tokio runtime.
    pub async fn start(config: MockConfig) -> io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App {
            log: RequestLog::new(config.record_limit),
            config,
            stats: Stats::default(),
            attempts_used: Mutex::new(HashMap::new()),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .route("/models", get(models))
            .route("/stats", get(stats))
            .fallback(not_found)
            .with_state(Arc::clone(&app));
        // Replies are small and sent whole: don't let Nagle hold them back.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            addr,
            app,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The latest chat requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.log.snapshot()
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.app.stats.snapshot()
    }

    /// Serves until the server fails (it is otherwise stopped by dropping it).
    pub async fn wait(mut self) -> io::Result<()> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

fn error_body(message: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}}).to_string()
}

impl App {
    /// The scripted attempt for this request, or the benchmark reply when no script applies.
    fn choose(
        &self,
        request: &ChatRequest<'_>,
    ) -> Result<(Cow<'_, Attempt>, Option<Phase>), String> {
        let Some((key, steps)) = self.config.script.steps_for(request.script_key()) else {
            let (attempt, phase) = self.config.bench.plan(request);
            return Ok((Cow::Owned(attempt), Some(phase)));
        };
        let index = usize::try_from(request.step - 1).unwrap_or(usize::MAX);
        let attempts = steps
            .get(index)
            .or(steps.last())
            .filter(|attempts| !attempts.is_empty())
            .ok_or_else(|| format!("script {key:?} has no attempts for step {}", request.step))?;
        let used = {
            let mut used = self.attempts_used.lock().unwrap_or_else(|e| e.into_inner());
            let count = used
                .entry((request.first_user.clone(), request.step))
                .or_insert(0);
            *count += 1;
            *count - 1
        };
        Ok((Cow::Borrowed(&attempts[used.min(attempts.len() - 1)]), None))
    }
}

async fn chat(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    app.stats.request();
    let in_flight = app.stats.chat_started();
    app.log.push(RecordedRequest {
        headers,
        body: body.clone(),
    });
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(error) => {
            app.stats.bad_request();
            return json_response(
                StatusCode::BAD_REQUEST,
                error_body(&format!("bad json: {error}")),
            );
        }
    };
    let capture = if app.config.token_ids && request.return_token_ids {
        match ChatRequest::prompt_ids(&body) {
            Ok(prompt) => Some(Capture {
                prompt,
                logprobs: request.logprobs,
                shape: app.config.token_shape,
            }),
            Err(error) => {
                app.stats.bad_request();
                return json_response(
                    StatusCode::BAD_REQUEST,
                    error_body(&format!("bad json: {error}")),
                );
            }
        }
    } else {
        None
    };
    let cx = Context {
        model: &request.model,
        step: request.step,
        conversation: fnv1a(request.first_user.as_bytes()),
        request_bytes: body.len(),
        serial: in_flight.serial,
        capture,
    };
    // Before the script, so an injected fault uses up no scripted attempt.
    if let Some(fault) = app.config.faults.pick(cx.serial) {
        app.stats.fault();
        return fault_response(fault, &cx);
    }
    let (attempt, phase) = match app.choose(&request) {
        Ok(choice) => choice,
        Err(message) => {
            return json_response(StatusCode::INTERNAL_SERVER_ERROR, error_body(&message));
        }
    };
    let delay = app.config.latency + Duration::from_millis(attempt.delay_ms);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let is_final = phase == Some(Phase::Final);
    match response::render(&attempt, &cx) {
        Rendered::Fault(fault) => {
            app.stats.fault();
            fault_response(fault, &cx)
        }
        Rendered::Error {
            status,
            retry_after,
            body,
        } => {
            app.stats.answered(Answer::Error, is_final, (0, 0));
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = json_response(status, body);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Rendered::Completion {
            body,
            has_tool_calls,
            prompt_tokens,
            completion_tokens,
        } => {
            let answer = if has_tool_calls {
                Answer::ToolCalls
            } else {
                Answer::Text
            };
            app.stats
                .answered(answer, is_final, (prompt_tokens, completion_tokens));
            json_response(StatusCode::OK, body)
        }
    }
}

/// The answer a fault gives in place of a reply.
fn fault_response(fault: Fault, cx: &Context<'_>) -> Response {
    let injected = |status: StatusCode| {
        json_response(
            status,
            r#"{"error":{"message":"injected fault","type":"mock_fault"}}"#,
        )
    };
    let completion = || match response::render(&Attempt::text("a reply cut short"), cx) {
        Rendered::Completion { body, .. } => body,
        _ => unreachable!("a text attempt renders as a completion"),
    };
    match fault {
        Fault::RateLimited => {
            let mut response = injected(StatusCode::TOO_MANY_REQUESTS);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            response
        }
        Fault::ServerError => injected(StatusCode::INTERNAL_SERVER_ERROR),
        Fault::Unavailable => injected(StatusCode::SERVICE_UNAVAILABLE),
        Fault::ErrorObject => injected(StatusCode::OK),
        Fault::Truncated => {
            let mut body = completion();
            body.truncate(body.len() / 2);
            json_response(StatusCode::OK, body)
        }
        Fault::EmptyChoices => {
            let body = serde_json::json!({
                "id": format!("chatcmpl-mock-{}", cx.serial),
                "object": "chat.completion",
                "model": cx.model,
                "choices": [],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            });
            json_response(StatusCode::OK, body.to_string())
        }
        // A body that fails makes hyper abort the connection: at once, before the
        // buffered head is sent; after a pause, once the head and half a body are out.
        Fault::Dropped => json_response(
            StatusCode::OK,
            axum::body::Body::from_stream(futures_util::stream::iter([Err::<Bytes, _>(
                io::Error::new(io::ErrorKind::ConnectionReset, "injected drop"),
            )])),
        ),
        Fault::DroppedMidReply => {
            let mut half = completion();
            half.truncate(half.len() / 2);
            let chunks = futures_util::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(half) => Some((Ok(Bytes::from(half)), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let drop = io::Error::new(io::ErrorKind::ConnectionReset, "injected drop");
                        Some((Err(drop), None))
                    }
                }
            });
            json_response(StatusCode::OK, axum::body::Body::from_stream(chunks))
        }
    }
}

async fn models(State(app): State<Arc<App>>) -> Response {
    app.stats.request();
    app.stats.models_request();
    json_response(StatusCode::OK, MODELS)
}

/// Not counted in `requests_total`: a harness polling it would skew the figures.
async fn stats(State(app): State<Arc<App>>) -> Response {
    let snapshot = serde_json::to_vec(&app.stats.snapshot()).expect("stats serialise");
    json_response(StatusCode::OK, snapshot)
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    app.stats.request();
    app.stats.not_found();
    json_response(StatusCode::NOT_FOUND, error_body("mock: no such route"))
}

/// FNV-1a: a hash that, unlike std's `DefaultHasher`, is the same in every
/// Rust release, so tool-call ids (and golden files holding them) are stable.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
