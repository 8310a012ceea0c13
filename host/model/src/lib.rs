//! Talking to the model: one client for any OpenAI-compatible chat-completions API.
//!
//! The agent loop hands over messages and tool schemas and gets back a parsed reply
//! with token usage and cost. Everything between — connection reuse, timeouts, retries
//! with back-off, `Retry-After`, keeping API keys out of errors and logs — lives here so
//! the loop never has to think about it. Token ids for training are recorded
//! per call ([`capture`]), from the server or, with `--tokenizer`, from the
//! chat template ([`tokenize`]).

pub mod capture;
mod chat;
mod client;
mod config;
mod conversation;
mod error;
pub mod overflow;
mod price;
mod props;
mod replay;
mod reply;
pub mod tokenize;

pub use chat::ChatModel;
pub use client::ModelClient;
pub use config::{API_KEY_VARS, RESERVED_REQUEST_FIELDS, resolve_endpoint};
pub use config::{Endpoint, ModelConfig};
pub use conversation::{Conversation, ToolSchemas};
pub use error::ModelError;
pub use price::PriceTable;
pub use price::{Price, PriceError};
pub use replay::{ReplayError, ReplayModel};
pub use reply::ModelReply;
pub use reply::parse as parse_reply;
