//! What SWE-bench users expect from a run, made from its canonical records:
//! `preds.json`, the predictions SWE-bench's harness and mini-swe-agent read
//! (`{instance_id: {instance_id, model_name_or_path, model_patch}}`), and a
//! run report in the shape of the harness's (resolved / unresolved / empty
//! patch / error ids), with each instance's FAIL_TO_PASS and PASS_TO_PASS
//! success and failure lists as the harness's per-instance `report.json`
//! has them. plinth graded the patches itself; these files let the numbers
//! be compared with, or re-checked by, SWE-bench's own tools.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::stats::{RunFileError, each_record};
use crate::store::{StoreError, save_json};
use plinth_record::trajectory::Trajectory;

/// Bumps when the report's shape changes (SWE-bench's own report is at 2).
const SCHEMA_VERSION: u32 = 2;

/// The outcomes the pytest scorer records that count as a pass, as pytest
/// and SWE-bench count them.
const PASSING: [&str; 3] = ["passed", "xfailed", "xpassed"];

/// One instance's result, as the harness's per-instance report has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceReport {
    #[serde(rename = "patch_is_None")]
    pub patch_is_none: bool,
    pub patch_exists: bool,
    /// The patch was graded (applied in the graded workspace).
    pub patch_successfully_applied: bool,
    pub resolved: bool,
    pub tests_status: BTreeMap<&'static str, TestLists>,
}

/// The tests of one list that passed and failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestLists {
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

/// The run report; `instances` holds the per-instance reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub total_instances: usize,
    pub submitted_instances: usize,
    pub completed_instances: usize,
    pub resolved_instances: usize,
    pub unresolved_instances: usize,
    pub empty_patch_instances: usize,
    pub error_instances: usize,
    pub completed_ids: Vec<String>,
    pub incomplete_ids: Vec<String>,
    pub empty_patch_ids: Vec<String>,
    pub submitted_ids: Vec<String>,
    pub resolved_ids: Vec<String>,
    pub unresolved_ids: Vec<String>,
    pub error_ids: Vec<String>,
    pub schema_version: u32,
    /// plinth's own: each instance's report (`plinth swebench eval` writes them in
    /// the instances' directories instead, as the harness does, and leaves this out).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, InstanceReport>,
}

/// Both files, built one record at a time. A task run as a group
/// (`--group-size`) counts by its first rollout, as SWE-bench takes one
/// prediction per instance.
#[derive(Debug, Default)]
pub struct SweBench {
    predictions: Map<String, Value>,
    report: RunReport,
}

/// What became of one instance.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    EmptyPatch,
    Error,
    Resolved,
    Unresolved,
}

impl SweBench {
    /// Whether the record is a SWE task's (it has a patch field).
    pub fn is_swe(trajectory: &Trajectory) -> bool {
        trajectory.patch.is_some()
    }

    pub fn add(&mut self, t: &Trajectory) {
        if t.group.as_ref().is_some_and(|g| g.rollout != 0)
            || self.report.instances.contains_key(&t.id)
        {
            return;
        }
        let id = t.id.clone();
        let patch = t.patch.clone().unwrap_or_default();
        let mut prediction = Map::new();
        prediction.insert("instance_id".into(), id.clone().into());
        prediction.insert("model_name_or_path".into(), t.model.clone().into());
        prediction.insert("model_patch".into(), patch.clone().into());
        self.predictions
            .insert(id.clone(), Value::Object(prediction));

        let tests = TestOutcomes::of(t);
        let verdict = if patch.trim().is_empty() {
            Verdict::EmptyPatch
        } else if t.exit_status.is_error() || t.score.is_none() {
            Verdict::Error
        } else if tests.as_ref().map_or_else(
            || t.score.as_ref().is_some_and(|s| s.reward >= 1.0),
            TestOutcomes::all_pass,
        ) {
            Verdict::Resolved
        } else {
            Verdict::Unresolved
        };
        let r = &mut self.report;
        r.total_instances += 1;
        r.submitted_instances += 1;
        r.submitted_ids.push(id.clone());
        let graded = matches!(verdict, Verdict::Resolved | Verdict::Unresolved);
        let resolved = verdict == Verdict::Resolved;
        match verdict {
            Verdict::EmptyPatch => r.empty_patch_ids.push(id.clone()),
            Verdict::Error => r.error_ids.push(id.clone()),
            Verdict::Resolved => r.resolved_ids.push(id.clone()),
            Verdict::Unresolved => r.unresolved_ids.push(id.clone()),
        }
        if graded {
            r.completed_ids.push(id.clone());
        } else {
            r.incomplete_ids.push(id.clone());
        }
        let mut tests_status = BTreeMap::new();
        let lists = tests.unwrap_or_default();
        tests_status.insert("FAIL_TO_PASS", lists.fail_to_pass);
        tests_status.insert("PASS_TO_PASS", lists.pass_to_pass);
        // The harness also tracks tests expected to keep failing; plinth's
        // rows do not list them.
        tests_status.insert("FAIL_TO_FAIL", TestLists::default());
        tests_status.insert("PASS_TO_FAIL", TestLists::default());
        r.instances.insert(
            id,
            InstanceReport {
                patch_is_none: t.patch.is_none(),
                patch_exists: !patch.trim().is_empty(),
                patch_successfully_applied: graded,
                resolved,
                tests_status,
            },
        );
    }

    /// `preds.json`.
    pub fn predictions(&self) -> Value {
        Value::Object(self.predictions.clone())
    }

    /// The run report, counts filled in.
    pub fn report(&self) -> RunReport {
        let mut r = self.report.clone();
        r.completed_instances = r.completed_ids.len();
        r.resolved_instances = r.resolved_ids.len();
        r.unresolved_instances = r.unresolved_ids.len();
        r.empty_patch_instances = r.empty_patch_ids.len();
        r.error_instances = r.error_ids.len();
        r.schema_version = SCHEMA_VERSION;
        r
    }
}

/// Why the SWE-bench files could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SweBenchError {
    #[error(transparent)]
    Read(#[from] RunFileError),
    #[error(transparent)]
    Write(#[from] StoreError),
}

/// Reads the canonical records at `input` and writes `preds.json` to
/// `preds` and the run report to `report`; the number of instances, and
/// nothing written when no record is a SWE task's.
pub fn write(input: &Path, preds: &Path, report: &Path) -> Result<usize, SweBenchError> {
    let mut swebench = SweBench::default();
    each_record::<SweBenchError>(input, |t| {
        if SweBench::is_swe(&t) {
            swebench.add(&t);
        }
        Ok(())
    })?;
    let report_value = swebench.report();
    if report_value.total_instances > 0 {
        save_json(preds, &swebench.predictions())?;
        save_json(report, &report_value)?;
    }
    Ok(report_value.total_instances)
}

/// An instance's per-test outcomes, from the scorer's details (the pytest
/// scorer's `FAIL_TO_PASS` / `PASS_TO_PASS` maps of id → outcome; under the
/// scorer's name when several scorers ran).
#[derive(Default)]
struct TestOutcomes {
    fail_to_pass: TestLists,
    pass_to_pass: TestLists,
}

impl TestOutcomes {
    fn of(t: &Trajectory) -> Option<Self> {
        let details = &t.score.as_ref()?.details;
        let holder = if details.get("FAIL_TO_PASS").is_some() {
            details
        } else {
            details
                .as_object()?
                .values()
                .find(|v| v.get("FAIL_TO_PASS").is_some())?
        };
        let lists = |key: &str| {
            let mut lists = TestLists::default();
            if let Some(Value::Object(outcomes)) = holder.get(key) {
                for (id, outcome) in outcomes {
                    let passed = outcome.as_str().is_some_and(|o| PASSING.contains(&o));
                    if passed {
                        lists.success.push(id.clone());
                    } else {
                        lists.failure.push(id.clone());
                    }
                }
            }
            lists
        };
        Some(Self {
            fail_to_pass: lists("FAIL_TO_PASS"),
            pass_to_pass: lists("PASS_TO_PASS"),
        })
    }

    fn all_pass(&self) -> bool {
        self.fail_to_pass.failure.is_empty() && self.pass_to_pass.failure.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_record::task::Task;
    use plinth_record::trajectory::{ExitStatus, Score};
    use serde_json::json;

    fn record(
        id: &str,
        patch: Option<&str>,
        status: ExitStatus,
        score: Option<Value>,
    ) -> Trajectory {
        let task = Task::single("p");
        let mut t = Trajectory::start(&task, "gpt-x", "local");
        t.id = id.into();
        t.exit_status = status;
        t.patch = patch.map(str::to_string);
        t.score = score.map(|details| Score {
            reward: 0.0,
            sub_scores: Map::new(),
            details,
        });
        t
    }

    #[test]
    fn hand_checked_predictions_and_report() {
        let mut s = SweBench::default();
        let outcomes = |f2p: &str| {
            json!({"FAIL_TO_PASS": {"t.py::a": f2p, "t.py::b": "xfailed"},
                   "PASS_TO_PASS": {"t.py::c": "passed"}})
        };
        s.add(&record(
            "r-1",
            Some("diff a"),
            ExitStatus::Submitted,
            Some(outcomes("passed")),
        ));
        s.add(&record(
            "u-2",
            Some("diff b"),
            ExitStatus::LimitsExceeded,
            Some(outcomes("failed")),
        ));
        s.add(&record(
            "e-3",
            Some(""),
            ExitStatus::Submitted,
            Some(outcomes("failed")),
        ));
        s.add(&record(
            "x-4",
            Some("diff d"),
            ExitStatus::InfrastructureError,
            None,
        ));
        // Several scorers: the pytest details sit under the scorer's name.
        s.add(&record(
            "m-5",
            Some("diff e"),
            ExitStatus::Submitted,
            Some(json!({"pytest": outcomes("passed"), "other": {}})),
        ));
        // A later rollout of a group and a repeated id do not count again.
        s.add(&record("r-1", Some("diff z"), ExitStatus::Submitted, None));

        let preds = s.predictions();
        assert_eq!(
            preds["r-1"],
            json!({"instance_id": "r-1", "model_name_or_path": "gpt-x", "model_patch": "diff a"})
        );
        assert_eq!(preds.as_object().unwrap().len(), 5);

        let r = s.report();
        assert_eq!(
            (
                r.total_instances,
                r.submitted_instances,
                r.completed_instances
            ),
            (5, 5, 3)
        );
        assert_eq!(r.resolved_ids, ["r-1", "m-5"]);
        assert_eq!(r.unresolved_ids, ["u-2"]);
        assert_eq!(r.empty_patch_ids, ["e-3"]);
        assert_eq!(r.error_ids, ["x-4"]);
        assert_eq!(r.incomplete_ids, ["e-3", "x-4"]);
        assert_eq!(
            (
                r.resolved_instances,
                r.unresolved_instances,
                r.empty_patch_instances,
                r.error_instances
            ),
            (2, 1, 1, 1)
        );
        let u = &r.instances["u-2"];
        assert!(!u.resolved && u.patch_exists && u.patch_successfully_applied);
        assert_eq!(u.tests_status["FAIL_TO_PASS"].success, ["t.py::b"]);
        assert_eq!(u.tests_status["FAIL_TO_PASS"].failure, ["t.py::a"]);
        assert_eq!(u.tests_status["PASS_TO_PASS"].success, ["t.py::c"]);
        assert!(r.instances["r-1"].resolved);
        assert!(!r.instances["x-4"].patch_successfully_applied);
        let text = serde_json::to_value(&r).unwrap();
        assert_eq!(text["schema_version"], 2);
        assert_eq!(text["instances"]["e-3"]["patch_is_None"], false);
        assert_eq!(text["instances"]["e-3"]["patch_exists"], false);
    }
}
