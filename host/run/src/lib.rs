//! A plinth run: settings resolved once ([`settings`], from flags, a config
//! file and an environment bundle, [`settings::environment`]), many rollouts in flight
//! ([`batch`]), every record safe on disk ([`store`]), scored groups for RL
//! ([`scored`], [`atropos`]), and what reads runs back ([`stats`],
//! [`report`], [`merge`], [`swebench`]) or grades them again ([`rescore`];
//! [`swebench_eval`]: SWE-bench predictions graded as the harness grades them).
//!
//! The layers below are crates of their own: `plinth-record` (the records),
//! `plinth-sandbox`, `plinth-plugin`, `plinth-model`, then `plinth-grade` and
//! `plinth-agent`; this crate puts them together, and the `plinth` binary is
//! its command line.

pub mod atropos;
pub mod batch;
pub mod fuzz;
pub mod merge;
pub mod report;
pub mod rescore;
pub mod scored;
pub mod settings;
pub mod shard;
pub mod stats;
pub mod store;
pub mod swebench;
pub mod swebench_eval;
