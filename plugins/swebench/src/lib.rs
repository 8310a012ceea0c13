//! SWE-bench graded as its own harness grades it (PyPI `swebench==4.1.0`, the last release
//! with the repository specs in code), as a library that also compiles for
//! `wasm32-wasip2`, so the scorer components (`plugins/swebench-<format>`) are thin.
//!
//! | module | the harness's |
//! | --- | --- |
//! | [`spec`] | `MAP_REPO_VERSION_TO_SPECS`, `MAP_REPO_TO_PARSER`, markers, `NON_TEST_EXTS`, `GIT_APPLY_CMDS`: data read out of the package by `make_data.py` |
//! | [`instance`] | a task row (`SWEbenchInstance`) |
//! | [`directives`] | `get_test_directives` and `get_modified_files` |
//! | [`eval_script`] | `make_eval_script_list_py` / `TestSpec.eval_script` |
//! | [`parse`] | the Python log parsers and `get_logs_eval` |
//! | [`report`] | `get_eval_tests_report`, `get_resolution_status`, `get_eval_report` (`report.json`) |
//! | [`scorer`] | the whole of `run_instance` after the model patch is applied, over a small [`scorer::Sandbox`] |
//!
//! Quirks are kept on purpose: grading must agree with the leaderboard's, including where
//! the harness is odd (ids cut at the first space, Django's docstring names, a status that
//! is neither passing nor failing).

#[cfg(feature = "sdk")]
pub mod component;
pub mod directives;
pub mod eval_script;
pub mod instance;
pub mod parse;
mod pychar;
pub mod report;
pub mod scorer;
pub mod spec;

pub use instance::Instance;
pub use parse::{Parser, StatusMap, TestStatus};
pub use spec::{Spec, UnknownSpec};
