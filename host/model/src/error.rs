//! How a model call can fail, as the agent loop sees it.
//!
//! Messages name the URL, the HTTP status and the start of the response body, which is
//! what it takes to tell a wrong model name from a dead server. They never carry
//! request headers, so the API key cannot leak through an error.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("cannot reach {url} ({attempts} attempt(s)): {message}")]
    Transport {
        url: String,
        attempts: u32,
        message: String,
    },
    #[error("no complete reply from {url} within {timeout:?} ({attempts} attempt(s))")]
    Timeout {
        url: String,
        timeout: Duration,
        attempts: u32,
    },
    #[error("{url} answered HTTP {status} ({attempts} attempt(s)): {body}")]
    Status {
        url: String,
        status: u16,
        /// The start of the response body, for the server's own explanation.
        body: String,
        attempts: u32,
    },
    /// The prompt does not fit the model's context window (never retried:
    /// the same prompt fails again).
    #[error(
        "{url}: the conversation does not fit the model's context ({}; {} attempt(s)): {body}",
        sizes(*prompt_tokens, *context),
        attempts
    )]
    ContextOverflow {
        url: String,
        /// Tokens of the prompt, when the server said.
        prompt_tokens: Option<u64>,
        /// The context length, when the server said.
        context: Option<u64>,
        /// The start of the response body.
        body: String,
        attempts: u32,
    },
    /// A replayed run has no recorded reply for this point.
    #[error("replay: {0}")]
    Replay(String),
    #[error("unusable reply from {url} ({attempts} attempt(s)): {reason}; body starts: {body}")]
    InvalidReply {
        url: String,
        reason: String,
        body: String,
        attempts: u32,
    },
}

/// "prompt N tokens, context C", with what the server left out unsaid.
fn sizes(prompt_tokens: Option<u64>, context: Option<u64>) -> String {
    let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    format!(
        "prompt {} tokens, context {}",
        count(prompt_tokens),
        count(context)
    )
}
