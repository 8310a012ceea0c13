//! Write plinth plugins in plain Rust.
//!
//! A plugin is a WebAssembly component built against `plinth:plugin@0.2.0`
//! (`wit/0.2.0/plinth.wit`). This crate holds the generated bindings, so a
//! plugin implements one trait and invokes one export macro:
//!
//! | kind | trait | export |
//! | --- | --- | --- |
//! | tool (functions the model calls) | [`Tool`] | [`export_tool!`] |
//! | scorer (grades a run) | [`Scorer`] | [`export_scorer!`] |
//! | formatter (a trajectory as text) | [`Formatter`] | [`export_formatter!`] |
//! | per-group formatter | [`Formatter`] + [`GroupFormatter`] | [`export_group_formatter!`] |
//!
//! The plugin crate is a `cdylib`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! plinth-sdk = { git = "https://github.com/<org>/plinth" }
//! ```
//!
//! and is built with `cargo build --release --target wasm32-wasip2`, which
//! writes the component to `target/wasm32-wasip2/release/<crate>.wasm`.
//! Natively the export macros emit nothing, so `cargo test` runs the
//! plugin's unit tests against its trait impl.
//!
//! Trait methods take no `self`: the host runs each call in a fresh
//! instance, so a plugin keeps no state from one call to the next.
//!
//! # A tool
//!
//! ```
//! use plinth_sdk::{ExecRequest, PluginError, PluginInfo, Session, Tool, ToolResult, ToolSpec};
//!
//! struct Uptime;
//!
//! impl Tool for Uptime {
//!     fn info() -> PluginInfo {
//!         plinth_sdk::plugin_info!("uptime", "Tells how long the sandbox has been up")
//!     }
//!
//!     fn list_tools() -> Vec<ToolSpec> {
//!         vec![ToolSpec {
//!             name: "uptime".into(),
//!             description: "How long the machine has been up.".into(),
//!             parameters: r#"{"type": "object", "properties": {}}"#.into(),
//!         }]
//!     }
//!
//!     fn invoke(_name: &str, _arguments: &str, session: &Session) -> Result<ToolResult, PluginError> {
//!         // A sandbox failure becomes a `sandbox` error through `?`.
//!         let out = session.exec(&ExecRequest::new("uptime"))?;
//!         Ok(ToolResult { content: out.output.clone(), exec: Some(out) })
//!     }
//! }
//!
//! plinth_sdk::export_tool!(Uptime);
//! ```
//!
//! # A scorer
//!
//! ```
//! use plinth_sdk::{ExecRequest, PluginError, PluginInfo, ScoreResult, Scorer, Session, Trajectory};
//!
//! struct MakeTest;
//!
//! impl Scorer for MakeTest {
//!     fn info() -> PluginInfo {
//!         plinth_sdk::plugin_info!("make-test", "Reward 1.0 when `make test` passes")
//!     }
//!
//!     fn score(
//!         _task: &str,
//!         _trajectory: Trajectory,
//!         _config: &str,
//!         session: &Session,
//!     ) -> Result<ScoreResult, PluginError> {
//!         let out = session.exec(&ExecRequest {
//!             timeout_secs: Some(600),
//!             ..ExecRequest::new("make test")
//!         })?;
//!         Ok(ScoreResult {
//!             reward: if out.exit_code == 0 { 1.0 } else { 0.0 },
//!             sub_scores: Vec::new(),
//!             details: format!(r#"{{"exit_code": {}}}"#, out.exit_code),
//!         })
//!     }
//! }
//!
//! plinth_sdk::export_scorer!(MakeTest);
//! ```
//!
//! # A formatter
//!
//! [`format`](mod@format) has helpers for JSON formats, written byte for byte as
//! Python's `json.dumps` would with [`pyjson`].
//!
//! ```
//! use plinth_sdk::format::{check_trajectory, object, openai_message, string};
//! use plinth_sdk::serde_json::Value;
//! use plinth_sdk::{Formatter, Options, PluginError, PluginInfo, Trajectory};
//!
//! struct Chat;
//!
//! impl Formatter for Chat {
//!     // The defaults: `.jsonl`, one record per line.
//!
//!     fn info() -> PluginInfo {
//!         plinth_sdk::plugin_info!("chat", "Messages in OpenAI chat shape and the exit status")
//!     }
//!
//!     fn format(t: Trajectory, _options: &Options) -> Result<String, PluginError> {
//!         check_trajectory(&t)?;
//!         let record = object([
//!             ("id", string(&t.id)),
//!             ("exit_status", string(t.exit_status.as_str())),
//!             ("messages", Value::Array(t.messages.iter().map(openai_message).collect())),
//!         ]);
//!         Ok(plinth_sdk::pyjson::dumps(&record, false))
//!     }
//! }
//!
//! plinth_sdk::export_formatter!(Chat);
//! ```
//!
//! # A per-group formatter
//!
//! ```
//! use plinth_sdk::format::{invalid, num};
//! use plinth_sdk::serde_json::Value;
//! use plinth_sdk::{Formatter, GroupFormatter, Options, PluginError, PluginInfo, Trajectory};
//!
//! struct Rewards;
//!
//! impl Formatter for Rewards {
//!     fn info() -> PluginInfo {
//!         plinth_sdk::plugin_info!("rewards", "One line of rewards per group of rollouts")
//!     }
//!
//!     /// A lone trajectory is a group of one.
//!     fn format(t: Trajectory, options: &Options) -> Result<String, PluginError> {
//!         Self::format_group(vec![t], options)
//!     }
//! }
//!
//! impl GroupFormatter for Rewards {
//!     fn format_group(group: Vec<Trajectory>, _options: &Options) -> Result<String, PluginError> {
//!         if group.is_empty() {
//!             return Err(invalid("an empty group"));
//!         }
//!         let rewards = group.iter().map(|t| num(t.score.as_ref().map_or(0.0, |s| s.reward)));
//!         Ok(plinth_sdk::pyjson::dumps(&Value::Array(rewards.collect()), false))
//!     }
//! }
//!
//! plinth_sdk::export_group_formatter!(Rewards);
//! ```

mod bindings;
mod export;
pub mod format;
mod formatter;
mod options;
mod scorer;
#[cfg(feature = "testing")]
pub mod testing;
mod tool;
mod types;

pub use bindings::tool::exports::plinth::plugin::tool::ToolResult;
pub use bindings::tool::plinth::plugin::host::{LogLevel, log};
pub use bindings::tool::plinth::plugin::sandbox::{ExecRequest, SandboxError, Session};
pub use bindings::tool::plinth::plugin::types::{
    ExecOutput, ExitStatus, GroupInfo, Message, PluginError, PluginInfo, Role, ScoreResult,
    SubScore, ToolCall, ToolSpec, Trajectory, Usage,
};
pub use formatter::{Formatter, GroupFormatter};
pub use options::Options;
/// JSON text exactly as CPython's `json.dumps` writes it.
pub use plinth_pyjson as pyjson;
pub use scorer::Scorer;
/// The JSON values of [`Options`] and of the [`format`](mod@format) helpers.
pub use serde_json;
pub use tool::{Tool, parse_arguments};

/// What the export macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::{formatter, group_formatter, scorer, tool};
    pub use crate::formatter::{FormatterExport, GroupFormatterExport};
    pub use crate::scorer::ScorerExport;
    pub use crate::tool::ToolExport;
}
