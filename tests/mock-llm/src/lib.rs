//! A local OpenAI-compatible chat-completions server for tests and benchmarks.
//!
//! Tests script every reply, failures included, to exercise a client against a real
//! socket; benchmarks run it in bench mode, where it plays the same fixed script as
//! `shared/bench/mock_llm.py` at a tiny CPU cost per request so the runner under test
//! is what gets measured.
//!
//! The step a request is at is derived from the number of assistant messages in it, so
//! concurrency and restarts of the client don't change what it answers; the only state
//! kept is how many attempts of each scripted step a conversation has used up.
//!
//! A script file for the binary's `--script` (a prompt containing `SCRIPT=flaky` plays
//! it; `default` catches prompts naming no known task):
//!
//! ```json
//! {"default": "flaky", "tasks": {"flaky": [
//!   [{"kind": "error", "status": 429, "retry_after": 1},
//!    {"kind": "tool_calls", "calls": [{"name": "bash", "arguments": "{\"command\": \"ls\"}"}],
//!     "reasoning": "look first"}],
//!   [{"kind": "text", "content": "step {step}: done", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}]
//! ]}}
//! ```
//!
//! Attempt kinds: `tool_calls`, `text`, `bash` (a fenced block), `xml_tool_call`,
//! `error`, `fault` (`{"kind": "fault", "fault": "dropped"}`, any [`Fault`]); any attempt may add `reasoning`, `delay_ms`, `usage`, `finish_reason` and
//! `token_ids`.
//!
//! A request with vLLM's `return_token_ids: true` gets `prompt_token_ids` and
//! per-choice `token_ids` from a toy tokenizer and chat template ([`tokens`]),
//! and with `logprobs: true` `choices[].logprobs.content[].logprob`, unless
//! [`MockConfig::token_ids`] is off (a server that does not return them).
//! With [`TokenShape::Sglang`] the ids go where SGLang puts them (per-choice
//! `prompt_token_ids` and `response_token_ids`).
//!
//! [`MockConfig::faults`] (the binary's `--fault-rate`, `--fault`, `--seed`) answers that
//! share of chat requests with a [`Fault`] instead, before the script is consulted.

mod bench;
mod fault;
mod record;
mod request;
mod response;
mod script;
mod server;
mod stats;
pub mod tokens;

pub use bench::BenchConfig;
pub use fault::{Fault, Faults};
pub use record::RecordedRequest;
pub use script::{Attempt, Reply, Script, ScriptError, TokenIds, ToolCallSpec, UsageSpec};
pub use server::{MockConfig, MockServer, TokenShape};
pub use stats::StatsSnapshot;
