//! plinth: runs LLM software-engineering agents in sandboxes and turns each
//! run into a trajectory and a reward. Tools, scorers and trajectory
//! formatters are WebAssembly components (see `wit/plinth.wit`).
//!
//! One module per concept: [`agent`] (the loop), [`model`] (the chat API
//! client), [`sandbox`] (where commands run), [`plugin`] (the component
//! runtime), [`store`] (trajectory output), [`batch`] (many tasks at once).

pub mod agent;
pub mod atropos;
pub mod batch;
pub mod builtins;
pub mod catalog;
mod causes;
pub mod digest;
pub mod environment;
pub mod fuzz;
pub mod grading;
pub mod merge;
pub mod model;
mod paths;
pub mod plugin;
pub mod report;
pub mod rescore;
pub mod rollout;
pub mod sandbox;
pub mod scaffold;
pub mod scored;
pub mod scoring;
pub mod settings;
pub mod shard;
pub mod stats;
pub mod store;
pub mod swebench;
mod sync;
pub mod task;
pub mod tokenize;
pub mod training;
pub mod trajectory;
pub mod workspace;
