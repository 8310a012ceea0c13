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

/// What grading did, in the record: a reviewer sees what the agent tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    pub grade_in: GradeIn,
    /// Files the agent changed that grading left out (clean grading).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filtered_paths: Vec<String>,
    /// Files the task's `test_patch` touches: restored to the base commit,
    /// then patched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_patch_files: Vec<String>,
    /// Why grading differs from what the settings asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
