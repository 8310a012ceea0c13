//! Subcommands of the `plinth` binary: argument parsing and wiring of the
//! library's parts. Errors here are `anyhow`: this is the binary's edge.

pub mod env;
pub mod format;
pub mod merge;
pub mod new;
pub mod plugins;
pub mod report;
pub mod rescore;
pub mod run;
pub mod sandbox;
pub mod slurm;
pub mod stats;
pub mod swebench;
