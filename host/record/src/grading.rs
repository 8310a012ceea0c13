//! How a record was graded: where its scorers ran ([`GradeIn`]) and what
//! grading did to the agent's work ([`Grading`]). The grading itself is
//! `plinth-grade`'s.

use serde::{Deserialize, Serialize};

/// Where the scorers run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum GradeIn {
    /// A fresh workspace with the agent's patch, minus the grading files.
    #[default]
    Clean,
    /// The agent's own sandbox, as it left it.
    Live,
}

impl GradeIn {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Live => "live",
        }
    }
}

/// Whose rules grade a record (`--grading`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum GradingProfile {
    /// plinth's hardened grading: the agent's patch applies without the
    /// files that decide the grade (test files, `conftest.py`, test
    /// configuration), then the row's `test_patch`, then the scorers.
    Strict,
    /// SWE-bench's harness byte for byte: the whole patch applied as the
    /// harness applies it (`git apply`, then `--reject`, then `patch
    /// --fuzz=5`; one that does not apply is unresolved), then the row's own
    /// eval script and log parser. What strict would have left out is
    /// flagged in the record, not removed.
    Swebench,
}

impl GradingProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Swebench => "swebench",
        }
    }
}

/// What grading did, in the record: a reviewer sees what the agent tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    pub grade_in: GradeIn,
    /// Whose rules graded (absent in records from before profiles: strict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<GradingProfile>,
    /// Files the agent changed that grading left out (clean grading).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filtered_paths: Vec<String>,
    /// Files the task's `test_patch` touches: restored to the base commit,
    /// then patched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_patch_files: Vec<String>,
    /// Files the patch changed that strict grading would have left out, but
    /// the `swebench` profile applied as the harness does: where the two
    /// profiles may disagree on this record (e.g. a root `conftest.py`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flagged_paths: Vec<String>,
    /// `false` when the patch did not apply (the `swebench` profile grades
    /// that unresolved, as the harness does); absent when it applied or no
    /// profile says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_applied: Option<bool>,
    /// Why grading differs from what the settings asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
