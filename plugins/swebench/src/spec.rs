//! The harness's facts, as data: `data/specs.json`, written by `make_data.py` from the
//! swebench package itself, embedded and parsed once.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::parse::Parser;

const DATA: &str = include_str!("../data/specs.json");

/// Everything `make_data.py` read out of the package.
#[derive(Debug, Deserialize)]
pub struct Harness {
    /// The swebench release the data is of.
    pub swebench_version: String,
    /// `MAP_REPO_VERSION_TO_SPECS` of the Python repositories: repo -> version -> spec.
    pub specs: BTreeMap<String, BTreeMap<String, Spec>>,
    /// `MAP_REPO_TO_PARSER`: repo -> the log parser it is graded with.
    pub parsers: BTreeMap<String, Parser>,
    /// `NON_TEST_EXTS`: suffixes `get_test_directives` drops (one, `csv`, has no dot).
    pub non_test_exts: Vec<String>,
    pub markers: Markers,
    /// `GIT_APPLY_CMDS`: how `run_instance` applies the model patch, in order, each
    /// followed by the patch file's path.
    pub git_apply_cmds: Vec<String>,
    /// `FAIL_ONLY_REPOS`: graded with `EvalType.FAIL_ONLY`.
    pub fail_only_repos: Vec<String>,
    /// `DOCKER_WORKDIR`: where the repository is in the official images.
    pub docker_workdir: String,
    /// `DOCKER_PATCH`: where `run_instance` copies the model patch.
    pub docker_patch: String,
}

/// The log lines the harness writes and looks for.
#[derive(Debug, Deserialize)]
pub struct Markers {
    pub start_test_output: String,
    pub end_test_output: String,
    pub apply_patch_fail: String,
    pub apply_patch_pass: String,
    pub reset_failed: String,
    pub tests_error: String,
    pub tests_timeout: String,
}

/// One repository version's spec, every field as the package has it. The fields plinth
/// reads are typed; any other stays in `other`, so the data round-trips verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Conda packages, or `requirements.txt` / `environment.yml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_install: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_packages: Option<Vec<String>>,
    /// Run before the tests, in the eval script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_commands: Option<Vec<String>>,
    /// Absent for a few repositories the Python map lists without grading them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_cmd: Option<TestCmd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_use_env: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute_test_as_nonroot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A spec's `test_cmd`: one command (every Python spec of 4.1.0), or a list (other
/// languages' specs, where `get_logs_eval` looks at the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TestCmd {
    One(String),
    Many(Vec<String>),
}

/// No spec for a repository or version.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnknownSpec {
    #[error(
        "SWE-bench {swebench} has no spec for repository `{repo}` (it knows: {known})",
        swebench = harness().swebench_version
    )]
    Repo { repo: String, known: String },
    #[error(
        "SWE-bench {swebench} has no spec for `{repo}` version `{version}` (it knows: {known})",
        swebench = harness().swebench_version
    )]
    Version {
        repo: String,
        version: String,
        known: String,
    },
}

/// The embedded data, parsed on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        serde_json::from_str(DATA).expect("data/specs.json is embedded and checked by the tests")
    })
}

impl Spec {
    /// `MAP_REPO_VERSION_TO_SPECS[repo][version]`.
    pub fn of(repo: &str, version: &str) -> Result<&'static Spec, UnknownSpec> {
        let specs = &harness().specs;
        let versions = specs.get(repo).ok_or_else(|| UnknownSpec::Repo {
            repo: repo.to_string(),
            known: join(specs.keys()),
        })?;
        versions.get(version).ok_or_else(|| UnknownSpec::Version {
            repo: repo.to_string(),
            version: version.to_string(),
            known: join(versions.keys()),
        })
    }
}

/// `MAP_REPO_TO_PARSER[repo]`, when the harness grades the repository.
pub fn parser_of(repo: &str) -> Option<Parser> {
    harness().parsers.get(repo).copied()
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_round_trips_verbatim() {
        let raw: Value = serde_json::from_str(DATA).unwrap();
        let typed = serde_json::to_value(&harness().specs).unwrap();
        assert_eq!(raw["specs"], typed);
        assert_eq!(harness().swebench_version, "4.1.0");
    }

    #[test]
    fn every_graded_repository_has_a_parser_and_every_spec_a_command() {
        for (repo, versions) in &harness().specs {
            let Some(_) = parser_of(repo) else { continue };
            for (version, spec) in versions {
                assert!(spec.test_cmd.is_some(), "{repo} {version}");
            }
        }
        assert_eq!(parser_of("django/django"), Some(Parser::Django));
        assert_eq!(parser_of("sympy/sympy"), Some(Parser::Sympy));
        assert_eq!(parser_of("astropy/astropy"), Some(Parser::PytestV2));
        assert_eq!(parser_of("psf/requests"), Some(Parser::PytestOptions));
    }

    #[test]
    fn lookups_name_what_is_missing() {
        let spec = Spec::of("django/django", "3.0").unwrap();
        assert_eq!(
            spec.test_cmd,
            Some(TestCmd::One(
                "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1".into()
            ))
        );
        let err = Spec::of("django/django", "0.1").unwrap_err().to_string();
        assert!(
            err.contains("version `0.1`") && err.contains("3.0"),
            "{err}"
        );
        let err = Spec::of("nobody/nothing", "1").unwrap_err().to_string();
        assert!(err.contains("`nobody/nothing`"), "{err}");
    }
}
