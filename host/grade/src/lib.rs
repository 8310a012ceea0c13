//! Grading: what the scorers see of the agent's work ([`GradingPlan`]),
//! the scorer components that grade it ([`scoring`]), and the rollout that
//! holds a task's sandbox and workspace while it runs and is graded
//! ([`rollout`]).
//!
//! By default ([`GradeIn::Clean`]) a task with a repository is graded in a
//! fresh sandbox: the task's workspace made again at its base commit, the
//! agent's patch applied without the files that decide the grade (see
//! [`protect`]), then the row's SWE-bench `test_patch`, then any evaluation
//! commands. Whatever else the agent did to its own sandbox (files git
//! ignores, installed packages, processes) cannot reach the grader.
//! [`GradeIn::Live`] grades the sandbox the agent left, as the seeds do:
//! faster, and only as trustworthy as the agent. Either way the files a
//! `test_patch` touches are restored to the base commit before it applies,
//! and the record says how it was graded ([`Grading`]).

mod diff;
pub mod protect;
pub mod rollout;
pub mod scoring;

use std::sync::Arc;

use globset::GlobSet;
use serde_json::Value;

use plinth_record::grading::{GradeIn, Grading, GradingProfile};
use plinth_record::task::Task;
pub use protect::BadGlob;
use protect::GradingFiles;

/// How a run grades, resolved once from its settings.
#[derive(Debug, Clone)]
pub struct GradingSettings {
    pub grade_in: GradeIn,
    /// The run's own globs (`--protect`), beside [`protect::BUILT_IN`].
    pub protect: Vec<String>,
    /// Commands run in the graded workspace before the scorers, after the
    /// `test_patch` (`--eval-command`; a row's `eval_commands` follow them).
    pub eval_commands: Vec<String>,
    /// `--grading`; `None`: `swebench` for SWE-bench rows graded by the
    /// harness's scorer (`--scorer swebench`), `strict` for the rest.
    pub profile: Option<GradingProfile>,
    /// Every protected glob, compiled.
    globs: Arc<GlobSet>,
}

impl GradingSettings {
    pub fn new(
        grade_in: GradeIn,
        protect: Vec<String>,
        eval_commands: Vec<String>,
    ) -> Result<Self, BadGlob> {
        let patterns: Vec<String> = protect::BUILT_IN
            .iter()
            .map(|p| p.to_string())
            .chain(protect.iter().cloned())
            .collect();
        Ok(Self {
            grade_in,
            protect,
            eval_commands,
            profile: None,
            globs: Arc::new(protect::glob_set(&patterns)?),
        })
    }
}

impl GradingSettings {
    /// These settings under `profile` (`None`: each row's default).
    pub fn with_profile(self, profile: Option<GradingProfile>) -> Self {
        Self { profile, ..self }
    }
}

impl Default for GradingSettings {
    fn default() -> Self {
        Self::new(GradeIn::default(), Vec::new(), Vec::new())
            .expect("the built-in globs are valid (unit-tested)")
    }
}

/// Whether `task` is a SWE-bench instance the harness's specs know: its
/// repository has a log parser (and so a `swebench-<parser>` scorer).
pub fn is_swebench_row(task: &Task) -> bool {
    task.field("repo")
        .and_then(plinth_swebench::spec::parser_of)
        .is_some()
        && task.field("test_patch").is_some()
}

/// What to do to a workspace before its scorers run.
#[derive(Debug, Clone, PartialEq)]
pub struct GradingPlan {
    /// The agent's patch without the grading files (clean grading) or whole.
    pub patch: String,
    pub test_patch: Option<String>,
    pub eval_commands: Vec<String>,
    pub grading: Grading,
}

/// How a plan's rules apply to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRules {
    pub grade_in: GradeIn,
    pub profile: GradingProfile,
    /// The harness's eval script grades (the `swebench` scorer on a
    /// SWE-bench row): it restores and applies the `test_patch` itself.
    pub harness_eval: bool,
}

impl PlanRules {
    /// plinth's own rules, graded `grade_in`.
    pub fn strict(grade_in: GradeIn) -> Self {
        Self {
            grade_in,
            profile: GradingProfile::Strict,
            harness_eval: false,
        }
    }
}

impl GradingPlan {
    /// The plan for `task` whose agent produced `patch`, graded by `rules`.
    pub fn new(
        settings: &GradingSettings,
        rules: PlanRules,
        task: &Task,
        patch: Option<&str>,
    ) -> Self {
        let PlanRules {
            grade_in,
            profile,
            harness_eval,
        } = rules;
        let test_patch = task
            .field("test_patch")
            .filter(|p| !p.trim().is_empty())
            .map(str::to_string);
        let test_patch_files: Vec<String> = test_patch
            .as_deref()
            .map(|p| diff::split(p).into_iter().flat_map(|f| f.paths).collect())
            .unwrap_or_default();
        let patch = patch.unwrap_or_default();
        let grading_files = || {
            let ids = test_ids(task);
            let files = GradingFiles::new(
                ids.iter().map(String::as_str),
                &test_patch_files,
                &settings.globs,
            );
            filter(patch, &files)
        };
        let (patch, filtered_paths, flagged_paths) = match (grade_in, profile) {
            (GradeIn::Live, _) => (patch.to_string(), Vec::new(), Vec::new()),
            (GradeIn::Clean, GradingProfile::Strict) => {
                let (kept, filtered) = grading_files();
                (kept, filtered, Vec::new())
            }
            // The harness applies the whole patch: what strict would leave
            // out is named, not removed.
            (GradeIn::Clean, GradingProfile::Swebench) => {
                (patch.to_string(), Vec::new(), grading_files().1)
            }
        };
        // The harness's eval script resets the test_patch's files and
        // applies it itself, as the harness does.
        let test_patch = test_patch.filter(|_| !harness_eval);
        let mut eval_commands = settings.eval_commands.clone();
        eval_commands.extend(task.commands("eval_commands"));
        Self {
            patch,
            test_patch,
            eval_commands,
            grading: Grading {
                grade_in,
                profile: Some(profile),
                filtered_paths,
                test_patch_files,
                flagged_paths,
                patch_applied: None,
                note: None,
            },
        }
    }
}

/// `patch` without the files in `files`, and the paths left out.
fn filter(patch: &str, files: &GradingFiles) -> (String, Vec<String>) {
    let mut kept = String::with_capacity(patch.len());
    let mut filtered = Vec::new();
    for file in diff::split(patch) {
        if file.paths.iter().any(|p| files.contains(p)) {
            filtered.extend(file.paths);
        } else {
            kept.push_str(file.text);
        }
    }
    filtered.dedup();
    (kept, filtered)
}

/// The row's FAIL_TO_PASS and PASS_TO_PASS ids (lists, or JSON text of
/// lists as SWE-bench publishes them); what cannot be read gives none here,
/// the scorer reports it.
fn test_ids(task: &Task) -> Vec<String> {
    ["FAIL_TO_PASS", "PASS_TO_PASS"]
        .iter()
        .filter_map(|key| task.row.get(*key))
        .flat_map(|value| match value {
            Value::String(text) => serde_json::from_str::<Vec<String>>(text).unwrap_or_default(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(row: Value) -> Task {
        Task::parse_line(0, &row.to_string()).unwrap().unwrap()
    }

    fn file_diff(path: &str) -> String {
        format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n")
    }

    #[test]
    fn clean_plans_drop_the_grading_files_and_name_them() {
        let settings =
            GradingSettings::new(GradeIn::Clean, vec!["docs/**".into()], vec!["make".into()])
                .unwrap();
        let row = json!({
            "prompt": "fix it",
            "FAIL_TO_PASS": "[\"tests/test_a.py::test_x\"]",
            "PASS_TO_PASS": ["tests/test_b.py::test_y"],
            "test_patch": file_diff("tests/test_c.py"),
            "eval_commands": "pip install -e .",
        });
        let patch = [
            "src/a.py",
            "tests/test_a.py",
            "tests/test_b.py",
            "tests/test_c.py",
            "conftest.py",
            "docs/x.md",
            "src/b.py",
        ]
        .map(file_diff)
        .concat();
        let plan = GradingPlan::new(
            &settings,
            PlanRules::strict(GradeIn::Clean),
            &task(row),
            Some(&patch),
        );
        assert_eq!(plan.patch, file_diff("src/a.py") + &file_diff("src/b.py"));
        assert_eq!(
            plan.grading.filtered_paths,
            [
                "tests/test_a.py",
                "tests/test_b.py",
                "tests/test_c.py",
                "conftest.py",
                "docs/x.md"
            ]
        );
        assert_eq!(plan.grading.test_patch_files, ["tests/test_c.py"]);
        assert_eq!(plan.eval_commands, ["make", "pip install -e ."]);
        assert!(plan.test_patch.unwrap().contains("tests/test_c.py"));

        let live = GradingPlan::new(
            &settings,
            PlanRules::strict(GradeIn::Live),
            &task(json!({"prompt": "p"})),
            Some(&patch),
        );
        assert_eq!(live.patch, patch, "live grading keeps the whole patch");
        assert!(live.grading.filtered_paths.is_empty());
        assert_eq!(live.test_patch, None);
    }

    #[test]
    fn swebench_plans_keep_the_whole_patch_and_flag_what_strict_drops() {
        let settings = GradingSettings::default();
        let row = json!({
            "instance_id": "pytest-dev__pytest-5227",
            "problem_statement": "Improve default logging format",
            "repo": "pytest-dev/pytest",
            "version": "4.4",
            "FAIL_TO_PASS": ["testing/test_logging.py::test_x"],
            "PASS_TO_PASS": [],
            "test_patch": file_diff("testing/test_logging.py"),
        });
        let task = task(row);
        assert!(is_swebench_row(&task));
        // A reward hack: a root conftest.py beside the fix.
        let patch = file_diff("src/_pytest/logging.py") + &file_diff("conftest.py");
        let rules = PlanRules {
            grade_in: GradeIn::Clean,
            profile: GradingProfile::Swebench,
            harness_eval: true,
        };
        let plan = GradingPlan::new(&settings, rules, &task, Some(&patch));
        assert_eq!(plan.patch, patch, "the harness applies the whole patch");
        assert!(plan.grading.filtered_paths.is_empty());
        assert_eq!(plan.grading.flagged_paths, ["conftest.py"]);
        assert_eq!(plan.grading.profile, Some(GradingProfile::Swebench));
        assert_eq!(
            plan.test_patch, None,
            "the harness's eval script applies the test patch itself"
        );
        assert_eq!(plan.grading.test_patch_files, ["testing/test_logging.py"]);

        // Strict on the same row: the hook is removed, the test patch applied.
        let strict = GradingPlan::new(
            &settings,
            PlanRules::strict(GradeIn::Clean),
            &task,
            Some(&patch),
        );
        assert_eq!(strict.patch, file_diff("src/_pytest/logging.py"));
        assert_eq!(strict.grading.filtered_paths, ["conftest.py"]);
        assert!(strict.test_patch.is_some());

        assert!(!is_swebench_row(&super::tests::task(
            json!({"prompt": "p", "repo": "a/b"})
        )));
    }

    /// Strict grading must still resolve gold patches: on real published
    /// SWE-bench rows (the conformance set, or any rows file named by
    /// `PLINTH_SWEBENCH_GOLD_ROWS`), the files strict leaves out of each gold
    /// patch are listed; on the conformance set there must be none.
    #[test]
    fn strict_keeps_real_gold_patches_whole() {
        let conformance = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/swebench/conformance/instances.jsonl"
        );
        let given = std::env::var("PLINTH_SWEBENCH_GOLD_ROWS").ok();
        let path = given.as_deref().unwrap_or(conformance);
        let text = std::fs::read_to_string(path).unwrap();
        let settings = GradingSettings::default();
        let (mut rows, mut altered) = (0, Vec::new());
        for (n, line) in text.lines().enumerate() {
            let Some(task) = Task::parse_line(n as u64, line).unwrap() else {
                continue;
            };
            rows += 1;
            let gold = task.field("patch").unwrap_or_default().to_string();
            let plan = GradingPlan::new(
                &settings,
                PlanRules::strict(GradeIn::Clean),
                &task,
                Some(&gold),
            );
            if !plan.grading.filtered_paths.is_empty() {
                altered.push(format!("{}: {:?}", task.id, plan.grading.filtered_paths));
            }
        }
        println!(
            "{path}: strict alters {} of {rows} gold patches{}",
            altered.len(),
            altered
                .iter()
                .map(|a| format!("\n  {a}"))
                .collect::<String>()
        );
        assert!(rows >= 10, "{path} holds {rows} rows");
        if given.is_none() {
            assert!(
                altered.is_empty(),
                "strict changes gold patches: {altered:?}"
            );
        }
    }

    #[test]
    fn grading_records_read_back() {
        let grading = Grading {
            grade_in: GradeIn::Clean,
            profile: None,
            filtered_paths: vec!["conftest.py".into()],
            test_patch_files: Vec::new(),
            flagged_paths: Vec::new(),
            patch_applied: None,
            note: None,
        };
        let text = serde_json::to_string(&grading).unwrap();
        assert_eq!(
            text,
            r#"{"grade_in":"clean","filtered_paths":["conftest.py"]}"#
        );
        assert_eq!(serde_json::from_str::<Grading>(&text).unwrap(), grading);
    }
}
