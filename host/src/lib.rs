//! plinth: runs LLM software-engineering agents in sandboxes and turns each
//! run into a trajectory and a reward. Tools, scorers and trajectory
//! formatters are WebAssembly components (see `wit/plinth.wit`).

pub mod builtins;
pub mod catalog;
pub mod plugin;
pub mod sandbox;
pub mod trajectory;
