//! Which model to call, where, with which key, and how patiently.

use std::fmt;
use std::time::Duration;

use super::price::Price;
use plinth_record::defaults;

/// Used when neither a flag nor `OPENAI_BASE_URL` names an endpoint.
pub(crate) const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Environment variables searched for an API key, in order (the order Hermes'
/// `mini_swe_runner` uses, so the same environment works for both).
pub const API_KEY_VARS: [&str; 3] = ["OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"];

/// Where requests go and the key they carry.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub base_url: String,
    pub api_key: Option<String>,
}

/// Resolves the endpoint from command-line values, falling back to the environment.
///
/// `env` looks a variable up (pass `|name| std::env::var(name).ok()`); taking it as a
/// parameter keeps this testable without touching the process environment. Empty values
/// count as unset, so an exported-but-empty variable doesn't shadow the next one.
pub fn resolve_endpoint(
    base_url: Option<&str>,
    api_key: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Endpoint {
    let given = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_owned);
    let from_env = |name: &str| env(name).filter(|v| !v.is_empty());
    Endpoint {
        base_url: given(base_url)
            .or_else(|| from_env("OPENAI_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
        api_key: given(api_key).or_else(|| API_KEY_VARS.iter().find_map(|name| from_env(name))),
    }
}

/// Everything [`ModelClient`](super::ModelClient) needs to call one model.
#[derive(Clone)]
pub struct ModelConfig {
    /// Model name as the API knows it, e.g. `anthropic/claude-sonnet-4`.
    pub model: String,
    /// Base URL up to and including `/v1` (`/chat/completions` is appended).
    pub base_url: String,
    pub api_key: Option<String>,
    /// Sent only when set, so the server's default applies otherwise.
    pub temperature: Option<f64>,
    /// Sent as `max_tokens` when set (by default
    /// [`defaults::MAX_TOKENS`]), unless `extra_body` sets `max_tokens` or
    /// `max_completion_tokens` itself, which then wins.
    pub max_tokens: Option<u32>,
    /// Limit for one attempt, from sending the request to the end of the reply body.
    pub request_timeout: Duration,
    /// Retries after the first attempt for transient failures.
    pub max_retries: u32,
    /// First back-off delay; it doubles per retry (with jitter) up to a minute.
    pub retry_base_delay: Duration,
    /// Used to put a cost on each reply; `None` means cost 0.
    pub price: Option<Price>,
    /// Ask the server for the token ids and logprobs it sampled (vLLM's
    /// `return_token_ids` and `logprobs`), so a trainer gets exactly what
    /// the policy produced instead of a re-tokenization of the text.
    pub capture_tokens: bool,
    /// Request fields sent as given (`--extra-body`), over the ones
    /// `capture_tokens` adds; never `model`, `messages`, `tools` or `stream`.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// The run acts through the server's native tool calls (not
    /// `--text-actions`), so a server that drops the tools it is sent is
    /// worth a warning.
    pub native_tool_calls: bool,
}

/// Request fields plinth sets itself, which `--extra-body` may not replace:
/// the conversation and the model are the run's, and a streamed reply is not
/// a chat completion.
pub const RESERVED_REQUEST_FIELDS: [&str; 4] = ["model", "messages", "tools", "stream"];

/// The request fields that bound a reply's length: `max_tokens`, and the
/// newer spelling OpenAI's reasoning models require.
pub(crate) const MAX_TOKENS_FIELDS: [&str; 2] = ["max_tokens", "max_completion_tokens"];

impl ModelConfig {
    /// A config with the [`defaults`]: no temperature, no price, retries from 1 s.
    pub fn new(model: impl Into<String>, endpoint: Endpoint) -> Self {
        Self {
            model: model.into(),
            base_url: endpoint.base_url,
            api_key: endpoint.api_key,
            temperature: None,
            max_tokens: Some(defaults::MAX_TOKENS),
            request_timeout: defaults::REQUEST_TIMEOUT,
            max_retries: defaults::MAX_RETRIES,
            retry_base_delay: defaults::RETRY_DELAY,
            price: None,
            capture_tokens: false,
            extra_body: serde_json::Map::new(),
            native_tool_calls: true,
        }
    }

    /// The `max_tokens` every request carries: none when `extra_body`
    /// bounds the reply itself (with either spelling: OpenAI's reasoning
    /// models refuse `max_tokens` and take only `max_completion_tokens`).
    pub fn sent_max_tokens(&self) -> Option<u32> {
        let bounded = MAX_TOKENS_FIELDS
            .iter()
            .any(|field| self.extra_body.contains_key(*field));
        self.max_tokens.filter(|_| !bounded)
    }

    /// The request fields beyond model, messages, tools and temperature:
    /// `max_tokens`, the token-capture switches, then the extra body over
    /// them.
    pub(crate) fn request_extras(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extras = serde_json::Map::new();
        if let Some(max_tokens) = self.sent_max_tokens() {
            extras.insert("max_tokens".into(), max_tokens.into());
        }
        if self.capture_tokens {
            extras.insert("return_token_ids".into(), true.into());
            extras.insert("logprobs".into(), true.into());
        }
        for (key, value) in &self.extra_body {
            extras.insert(key.clone(), value.clone());
        }
        extras
    }
}

/// Shows whether a key is set, never the key.
fn redacted(key: &Option<String>) -> Option<&'static str> {
    key.as_ref().map(|_| "<redacted>")
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .finish()
    }
}

impl fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelConfig")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("price", &self.price)
            .field("capture_tokens", &self.capture_tokens)
            .field("extra_body", &self.extra_body)
            .field("native_tool_calls", &self.native_tool_calls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn flags_win_over_the_environment() {
        let vars = env(&[
            ("OPENAI_BASE_URL", "http://env/v1"),
            ("OPENAI_API_KEY", "env-key"),
        ]);
        let endpoint = resolve_endpoint(Some("http://flag/v1"), Some("flag-key"), &vars);
        assert_eq!(endpoint.base_url, "http://flag/v1");
        assert_eq!(endpoint.api_key.as_deref(), Some("flag-key"));
    }

    #[test]
    fn environment_fallbacks_in_order() {
        let endpoint = resolve_endpoint(None, None, env(&[]));
        assert_eq!(endpoint.base_url, DEFAULT_BASE_URL);
        assert_eq!(endpoint.api_key, None);

        let vars = env(&[
            ("OPENAI_BASE_URL", "http://env/v1"),
            ("OPENROUTER_API_KEY", ""),
            ("ANTHROPIC_API_KEY", "anthropic"),
            ("OPENAI_API_KEY", "openai"),
        ]);
        let endpoint = resolve_endpoint(Some(""), None, vars);
        assert_eq!(endpoint.base_url, "http://env/v1");
        assert_eq!(endpoint.api_key.as_deref(), Some("anthropic"));

        let vars = env(&[
            ("OPENROUTER_API_KEY", "router"),
            ("OPENAI_API_KEY", "openai"),
        ]);
        assert_eq!(
            resolve_endpoint(None, None, vars).api_key.as_deref(),
            Some("router")
        );
    }

    #[test]
    fn max_tokens_is_sent_unless_the_extra_body_bounds_the_reply() {
        let endpoint = resolve_endpoint(None, None, env(&[]));
        let mut config = ModelConfig::new("m", endpoint);
        assert_eq!(
            config.request_extras().get("max_tokens"),
            Some(&serde_json::Value::from(defaults::MAX_TOKENS))
        );
        config.max_tokens = None;
        assert!(config.request_extras().is_empty());
        config.max_tokens = Some(100);
        for field in MAX_TOKENS_FIELDS {
            config.extra_body = serde_json::Map::new();
            config.extra_body.insert(field.into(), 7.into());
            assert_eq!(config.sent_max_tokens(), None, "{field}");
            let extras = config.request_extras();
            assert_eq!(extras.len(), 1, "{extras:?}");
            assert_eq!(extras[field], 7);
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let endpoint = resolve_endpoint(None, Some("sk-secret-123"), env(&[]));
        let config = ModelConfig::new("m", endpoint.clone());
        for shown in [
            format!("{endpoint:?}"),
            format!("{config:?}"),
            format!("{config:#?}"),
        ] {
            assert!(!shown.contains("sk-secret-123"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }
}
