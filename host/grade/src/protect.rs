//! The files that decide a grade. Clean grading leaves the agent's changes to
//! them out: the test files the task's tests live in, the files the
//! `test_patch` touches, pytest's configuration and hooks, and modules that
//! would shadow the test runner itself. Each rule names a reward hack seen
//! in practice: a root `conftest.py` that marks every report passed, a test
//! file rewritten so its asserts check nothing, a `pytest.ini` whose
//! `addopts` loads a local plugin, a `pytest.py` beside the tests.

use std::collections::BTreeSet;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// Paths no agent change to may reach the grader, whatever the task (globs
/// over paths relative to the repository root; `**/` matches any depth,
/// the root included).
pub(crate) const BUILT_IN: &[&str] = &[
    // Hooks and configuration pytest finds by itself.
    "**/conftest.py",
    "**/pytest.ini",
    "**/.pytest.ini",
    "**/tox.ini",
    "**/setup.cfg",
    "**/pyproject.toml",
    // Code Python runs at start-up.
    "**/sitecustomize.py",
    "**/usercustomize.py",
    "**/*.pth",
    // Modules that `python -m pytest` would import from the repository
    // root instead of the installed test runner.
    "pytest.py",
    "pytest/**",
    "_pytest/**",
    "py.py",
    "pluggy/**",
];

/// A glob that is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{pattern}` is not a valid glob: {reason}")]
pub struct BadGlob {
    pub pattern: String,
    pub reason: String,
}

/// Compiles path globs the way grading reads them: `*` stays within one
/// path component, `**` crosses them.
pub(crate) fn glob_set(patterns: &[String]) -> Result<GlobSet, BadGlob> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(glob(pattern)?);
    }
    set.build().map_err(|e| BadGlob {
        pattern: patterns.join(", "),
        reason: e.to_string(),
    })
}

fn glob(pattern: &str) -> Result<Glob, BadGlob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| BadGlob {
            pattern: pattern.to_string(),
            reason: e.kind().to_string(),
        })
}

/// The files of one task that the agent may not change for grading.
pub(crate) struct GradingFiles<'a> {
    /// Files named outright: the tests' files and the `test_patch`'s.
    named: BTreeSet<String>,
    /// The built-in globs and the run's own (`--protect`).
    globs: &'a GlobSet,
}

impl<'a> GradingFiles<'a> {
    /// The task's grading files: those its test ids name (`path::test`),
    /// those `test_patch_files` lists, and any path `globs` matches.
    pub fn new<'t>(
        test_ids: impl IntoIterator<Item = &'t str>,
        test_patch_files: &[String],
        globs: &'a GlobSet,
    ) -> Self {
        let mut named: BTreeSet<String> = test_ids.into_iter().filter_map(test_file).collect();
        named.extend(test_patch_files.iter().map(|p| normalise(p).to_string()));
        Self { named, globs }
    }

    /// Whether changes to `path` (relative to the repository root) stay out
    /// of grading.
    pub fn contains(&self, path: &str) -> bool {
        let path = normalise(path);
        self.named.contains(path) || self.globs.is_match(path)
    }
}

/// The file of a pytest node id (`tests/test_x.py::TestA::test_b[1]` →
/// `tests/test_x.py`). Ids that name no file (Django's `test_b
/// (module.TestA)`, bare function names) give none.
fn test_file(id: &str) -> Option<String> {
    let file = id.split("::").next()?;
    let file = normalise(file);
    (file.ends_with(".py") && !file.contains(' ')).then(|| file.to_string())
}

fn normalise(path: &str) -> &str {
    path.trim_start_matches("./")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_in() -> GlobSet {
        let patterns: Vec<String> = BUILT_IN.iter().map(|p| p.to_string()).collect();
        glob_set(&patterns).unwrap()
    }

    #[test]
    fn the_hacks_are_caught_and_ordinary_fixes_are_not() {
        let globs = built_in();
        let files = GradingFiles::new(
            [
                "tests/test_stats.py::test_mean[values0-2]",
                "./tests/test_parse.py::test_plain",
                "test_foo (app.tests.FooTest)",
                "test_bare_name",
            ],
            &["tests/test_new.py".to_string()],
            &globs,
        );
        for caught in [
            "conftest.py",
            "tests/conftest.py",
            "pytest.ini",
            "sub/dir/setup.cfg",
            "pyproject.toml",
            "tox.ini",
            "tests/test_stats.py",
            "tests/test_parse.py",
            "tests/test_new.py",
            "pytest.py",
            "_pytest/hooks.py",
            "lib/site.pth",
            "sitecustomize.py",
        ] {
            assert!(files.contains(caught), "{caught} should be protected");
        }
        for free in [
            "minicalc/stats.py",
            "tests/helpers.py",
            "src/pytest_plugin.py",
            "lib/pytest.py",
            "README.md",
            "conftest.py.bak",
        ] {
            assert!(!files.contains(free), "{free} should be graded");
        }
    }

    #[test]
    fn globs_of_the_run_add_to_the_rules() {
        let globs = glob_set(&["tests/**".to_string(), "*.cfg".to_string()]).unwrap();
        let files = GradingFiles::new([], &[], &globs);
        assert!(files.contains("tests/a/b.py"));
        assert!(files.contains("x.cfg"));
        assert!(!files.contains("sub/x.cfg"), "* stays within one component");
        let err = glob_set(&["a[".to_string()]).unwrap_err();
        assert!(err.to_string().contains("`a[`"), "{err}");
    }
}
