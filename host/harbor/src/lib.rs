//! Harbor tasks as Harbor itself reads them.
//!
//! [Harbor](https://github.com/harbor-framework/harbor) (the harness of
//! Terminal-Bench 2.0) packages an agent task as a directory: `task.toml`
//! (timeouts, resources, network), `instruction.md`, `environment/`
//! (a Dockerfile, optionally a compose file), `tests/test.sh` (the verifier,
//! uploaded after the agent stops, writing `/logs/verifier/reward.txt` or
//! `reward.json`) and `solution/solve.sh` (the oracle). This crate reads such
//! directories and their rewards following Harbor's own source (PyPI
//! `harbor` 0.26.0, the reference for every rule here; where a rule is
//! ported, the module says from where), so a task set written for Harbor
//! runs unchanged:
//!
//! - [`Task::load`] / [`Dataset::load`]: a task directory or a directory of them;
//! - [`TaskConfig::parse`]: `task.toml`, with Harbor's defaults and coercions;
//! - [`Reward::read`]: the verifier's reward, with a typed error for every way
//!   it can be missing or wrong;
//! - [`environment_hash`]: the build context's content hash, to cache images;
//! - [`container`]: the paths and commands Harbor uses inside the container.
//!
//! It runs nothing: building images, running containers and agents is the
//! caller's.

pub mod config;
pub mod container;
mod hash;
pub mod reward;
pub mod task;

pub use config::{ConfigError, TaskConfig};
pub use hash::{HashError, environment_hash};
pub use reward::{Reward, RewardError, RewardSource, RewardValue};
pub use task::{Dataset, EnvironmentDefinition, MainImage, Task, TaskError, strip_canary};
