//! The HTTP side: one pooled connection set per client, per-attempt timeouts, and
//! retries with exponential back-off for failures that may pass.
//!
//! Retries use `backon` rather than a hand-rolled loop; a `Retry-After` from the server
//! lengthens the computed delay (it is a floor, capped so a hostile value can't stall a
//! run).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::config::{MAX_TOKENS_FIELDS, ModelConfig};
use super::conversation::{Conversation, ToolSchemas};
use super::error::ModelError;
use super::overflow::{self, Overflow};
use super::props;
use super::reply::{self, ModelReply, ReplyProblem};
use plinth_record::causes;

/// Back-off never waits longer than this between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Connecting gets at most this long even under a long request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an error body is kept in an error message.
const BODY_SNIPPET_CHARS: usize = 500;

/// Calls one model. Cloning is cheap and clones share the connection pool, so one
/// client can serve every concurrent trajectory.
#[derive(Clone)]
pub struct ModelClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ModelConfig,
    url: String,
    /// [`ModelConfig::request_extras`], built once.
    extras: Map<String, Value>,
    /// Whether the server was asked if it takes tools ([`props`]).
    props_asked: AtomicBool,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Box<RawValue>],
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(flatten)]
    extras: &'a Map<String, Value>,
}

/// Why one attempt failed; decides whether another is worth making.
enum Failure {
    Transport(reqwest::Error),
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: String,
    },
    Invalid {
        reason: String,
        body: String,
    },
    /// The prompt, or the prompt and `max_tokens`, exceed the context.
    Overflow {
        overflow: Overflow,
        body: String,
    },
}

impl Failure {
    fn is_transient(&self) -> bool {
        match self {
            // `is_decode`: reading the body (`bytes()`) reports a connection
            // dropped mid-reply as a decode error; the body is never decoded by
            // reqwest here (`reply::parse` does that), so it means nothing else.
            Failure::Transport(e) => {
                e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()
            }
            Failure::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            // A 200 whose body is cut off or garbled (proxies and gateways
            // send such replies under load) is as passing as a 502.
            Failure::Invalid { .. } => true,
            Failure::Overflow { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// For retry logs: status or cause, never headers.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Transport(e) => f.write_str(&causes::chain(e)),
            Failure::Status { status, .. } => write!(f, "HTTP {status}"),
            Failure::Invalid { reason, .. } => f.write_str(reason),
            Failure::Overflow { .. } => f.write_str("context length exceeded"),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and is ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds).min(MAX_RETRY_AFTER))
}

impl ModelClient {
    pub fn new(config: ModelConfig) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.request_timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(ModelError::Client)?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let extras = config.request_extras();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                url,
                extras,
                props_asked: AtomicBool::new(false),
            }),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.inner.config
    }

    /// Asks the model for the next message, retrying transient failures.
    ///
    /// `tools` is omitted from the request when empty (text-mode agents). A
    /// context-length error is never retried as it was; when the server
    /// says the prompt fits and only the reply's `max_tokens` does not, the
    /// call is made once more asking for what room is left.
    pub async fn chat(
        &self,
        conversation: &Conversation,
        tools: &ToolSchemas,
    ) -> Result<ModelReply, ModelError> {
        let config = &self.inner.config;
        if config.native_tool_calls
            && tools.json().is_some()
            && !self.inner.props_asked.swap(true, Relaxed)
        {
            self.warn_if_tools_are_dropped().await;
        }
        let request = ChatRequest {
            model: &config.model,
            messages: conversation.messages(),
            tools: tools.json(),
            temperature: config.temperature,
            extras: &self.inner.extras,
        };
        let (mut result, mut attempts) = self.send(&request).await;
        if let Err(Failure::Overflow { overflow, .. }) = &result
            && let Some(extras) = shrunk(&self.inner.extras, *overflow)
        {
            tracing::warn!(
                model = %config.model,
                prompt_tokens = ?overflow.prompt_tokens,
                context = ?overflow.context,
                "the reply's max_tokens does not fit beside the prompt; asking for the room left"
            );
            let request = ChatRequest {
                extras: &extras,
                ..request
            };
            let (again, more) = self.send(&request).await;
            (result, attempts) = (again, attempts + more);
        }
        match result {
            Ok(mut reply) => {
                reply.attempts = attempts;
                reply.cost = config.price.map_or(0.0, |price| price.cost(&reply.usage));
                Ok(reply)
            }
            Err(failure) => Err(self.error(failure, attempts)),
        }
    }

    /// Warns once when the server (llama.cpp) says its chat template drops
    /// the tools plinth sends. Best effort: any failure to ask says nothing.
    async fn warn_if_tools_are_dropped(&self) {
        let inner = &self.inner;
        let mut request = inner
            .http
            .get(props::url(&inner.config.base_url))
            .timeout(props::TIMEOUT);
        if let Some(key) = &inner.config.api_key {
            request = request.bearer_auth(key);
        }
        let props = match request.send().await {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.ok(),
            _ => None,
        };
        if props.as_ref().is_some_and(props::drops_tools) {
            tracing::warn!(model = %inner.config.model, "{}", props::DROPS_TOOLS);
        }
    }

    /// One request with its retries: the outcome and the attempts made.
    async fn send(&self, request: &ChatRequest<'_>) -> (Result<ModelReply, Failure>, u32) {
        let config = &self.inner.config;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.retry_base_delay)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(usize::try_from(config.max_retries).unwrap_or(usize::MAX))
            .with_jitter();
        let attempts = AtomicU32::new(0);
        let (attempts_ref, request_ref) = (&attempts, request);
        let result = (move || async move {
            attempts_ref.fetch_add(1, Relaxed);
            self.attempt(request_ref).await
        })
        .retry(backoff)
        .when(Failure::is_transient)
        .adjust(|failure, delay| {
            delay.map(|d| failure.retry_after().map_or(d, |floor| d.max(floor)))
        })
        .notify(|failure, delay| {
            tracing::warn!(model = %config.model, %failure, ?delay, "model call failed; retrying");
        })
        .await;
        (result, attempts.load(Relaxed))
    }

    async fn attempt(&self, request: &ChatRequest<'_>) -> Result<ModelReply, Failure> {
        let inner = &self.inner;
        let mut builder = inner
            .http
            .post(&inner.url)
            .timeout(inner.config.request_timeout)
            .json(request);
        if let Some(key) = &inner.config.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = builder.send().await.map_err(Failure::Transport)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(Failure::Transport)?;
        if !status.is_success() {
            // A 429 is a rate limit, whatever its body says of tokens.
            let overflow = (status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS)
                .then(|| overflow::detect(&body))
                .flatten();
            return Err(match overflow {
                Some(overflow) => Failure::Overflow {
                    overflow,
                    body: self.snippet(&body),
                },
                None => Failure::Status {
                    status,
                    retry_after,
                    body: self.snippet(&body),
                },
            });
        }
        reply::parse(&body).map_err(|problem| match problem {
            ReplyProblem::Invalid(reason) => Failure::Invalid {
                reason,
                body: self.snippet(&body),
            },
            // Gateways report an upstream's refusal in a 200, too.
            ReplyProblem::InBand { code } => match overflow::detect(&body) {
                Some(overflow) => Failure::Overflow {
                    overflow,
                    body: self.snippet(&body),
                },
                None => Failure::Status {
                    status: code
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .filter(|s| s.is_client_error() || s.is_server_error())
                        .unwrap_or(StatusCode::BAD_GATEWAY),
                    retry_after,
                    body: self.snippet(&body),
                },
            },
        })
    }

    /// The start of a body for an error message, with the API key blanked out in case a
    /// server echoes the request back.
    fn snippet(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
        if text.chars().nth(BODY_SNIPPET_CHARS).is_some() {
            snippet.push('…');
        }
        match self.inner.config.api_key.as_deref() {
            Some(key) if !key.is_empty() => snippet.replace(key, "<redacted>"),
            _ => snippet,
        }
    }

    fn error(&self, failure: Failure, attempts: u32) -> ModelError {
        let url = self.inner.url.clone();
        match failure {
            Failure::Transport(e) if e.is_timeout() => ModelError::Timeout {
                url,
                timeout: self.inner.config.request_timeout,
                attempts,
            },
            Failure::Transport(e) => ModelError::Transport {
                url,
                attempts,
                message: causes::chain(&e),
            },
            Failure::Status { status, body, .. } => ModelError::Status {
                url,
                status: status.as_u16(),
                body,
                attempts,
            },
            Failure::Invalid { reason, body } => ModelError::InvalidReply {
                url,
                reason,
                body,
                attempts,
            },
            Failure::Overflow { overflow, body } => ModelError::ContextOverflow {
                url,
                prompt_tokens: overflow.prompt_tokens,
                context: overflow.context,
                body,
                attempts,
            },
        }
    }
}

/// `extras` with the reply's bound lowered to the room `overflow` leaves
/// beside the prompt, when that is what failed: the prompt fits and the
/// bound asked for more than the room.
fn shrunk(extras: &Map<String, Value>, overflow: Overflow) -> Option<Map<String, Value>> {
    let room = overflow.room()?;
    let field = MAX_TOKENS_FIELDS
        .into_iter()
        .find(|field| extras.get(*field).and_then(Value::as_u64) > Some(room))?;
    let mut extras = extras.clone();
    extras.insert(field.into(), room.into());
    Some(extras)
}

impl fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelClient")
            .field("url", &self.inner.url)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let headers = |value: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(RETRY_AFTER, HeaderValue::from_static(value));
            map
        };
        assert_eq!(retry_after(&headers("2")), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(&headers("0.5")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_after(&headers("99999")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(&headers("-1")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
