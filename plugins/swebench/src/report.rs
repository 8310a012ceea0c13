//! Grading as `grading.py` grades: `get_eval_tests_report`, `get_resolution_status` and
//! the per-instance `report.json` of `get_eval_report`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::parse::{LogEval, StatusMap};
use crate::spec::harness;

/// `EvalType`: how a test's status counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalType {
    /// PASSED/XFAIL succeed; missing, FAILED or ERROR fail; anything else is neither.
    PassAndFail,
    /// Only FAILED fails (the harness's JavaScript repositories).
    FailOnly,
}

impl EvalType {
    /// The repository's, as `get_eval_report` picks it.
    pub fn of(repo: &str) -> Self {
        if harness().fail_only_repos.iter().any(|r| r == repo) {
            EvalType::FailOnly
        } else {
            EvalType::PassAndFail
        }
    }
}

/// One list's tests, split as the harness splits them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    pub success: Vec<String>,
    pub failure: Vec<String>,
}

/// `tests_status` of `report.json`: FAIL_TO_FAIL and PASS_TO_FAIL are always empty
/// (`calculate_to_fail` is off in `get_eval_report`), but present.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestsStatus {
    #[serde(rename = "FAIL_TO_PASS")]
    pub fail_to_pass: Outcome,
    #[serde(rename = "PASS_TO_PASS")]
    pub pass_to_pass: Outcome,
    #[serde(rename = "FAIL_TO_FAIL")]
    pub fail_to_fail: Outcome,
    #[serde(rename = "PASS_TO_FAIL")]
    pub pass_to_fail: Outcome,
}

/// `ResolvedStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Full,
    Partial,
    No,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Full => "RESOLVED_FULL",
            Resolution::Partial => "RESOLVED_PARTIAL",
            Resolution::No => "RESOLVED_NO",
        }
    }
}

/// `get_eval_tests_report` (without `calculate_to_fail`).
pub fn tests_status(
    status_map: &StatusMap,
    fail_to_pass: &[String],
    pass_to_pass: &[String],
    eval_type: EvalType,
) -> TestsStatus {
    let split = |tests: &[String]| {
        let mut out = Outcome::default();
        for test in tests {
            let status = status_map.get(test);
            match eval_type {
                EvalType::PassAndFail => {
                    if status.is_some_and(|s| s.passes()) {
                        out.success.push(test.clone());
                    } else if status.is_none_or(|s| s.fails()) {
                        out.failure.push(test.clone());
                    }
                }
                EvalType::FailOnly => {
                    if status.is_some_and(|s| *s == crate::parse::TestStatus::Failed) {
                        out.failure.push(test.clone());
                    } else {
                        out.success.push(test.clone());
                    }
                }
            }
        }
        out
    };
    TestsStatus {
        fail_to_pass: split(fail_to_pass),
        pass_to_pass: split(pass_to_pass),
        ..TestsStatus::default()
    }
}

impl Outcome {
    /// `compute_fail_to_pass` / `compute_pass_to_pass`: the share that succeeded, 1 for
    /// no tests (a test neither succeeding nor failing is left out of both).
    pub fn fraction(&self) -> f64 {
        let total = self.success.len() + self.failure.len();
        if total == 0 {
            1.0
        } else {
            self.success.len() as f64 / total as f64
        }
    }
}

impl TestsStatus {
    /// `get_resolution_status`.
    pub fn resolution(&self) -> Resolution {
        let (f2p, p2p) = (self.fail_to_pass.fraction(), self.pass_to_pass.fraction());
        if f2p == 1.0 && p2p == 1.0 {
            Resolution::Full
        } else if f2p > 0.0 && f2p < 1.0 && p2p == 1.0 {
            Resolution::Partial
        } else {
            Resolution::No
        }
    }
}

/// One instance's entry of `report.json` (`get_eval_report`).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceReport {
    pub instance_id: String,
    pub patch_is_none: bool,
    pub patch_exists: bool,
    pub patch_successfully_applied: bool,
    pub resolved: bool,
    pub tests_status: Option<TestsStatus>,
}

impl InstanceReport {
    /// `get_eval_report(..., include_tests_status=True)`: `patch` is the prediction's
    /// `model_patch` (None: the prediction had none), `log` what `get_logs_eval` read.
    pub fn new(
        instance_id: &str,
        repo: &str,
        patch: Option<&str>,
        log: &LogEval,
        fail_to_pass: &[String],
        pass_to_pass: &[String],
    ) -> Self {
        let mut report = Self {
            instance_id: instance_id.to_string(),
            patch_is_none: patch.is_none(),
            patch_exists: patch.is_some(),
            patch_successfully_applied: false,
            resolved: false,
            tests_status: None,
        };
        if patch.is_none() || !log.found {
            return report;
        }
        report.patch_successfully_applied = true;
        let status = tests_status(
            &log.status_map,
            fail_to_pass,
            pass_to_pass,
            EvalType::of(repo),
        );
        report.resolved = status.resolution() == Resolution::Full;
        report.tests_status = Some(status);
        report
    }

    /// `{instance_id: {...}}`, keys in the harness's order.
    pub fn to_value(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("patch_is_None".into(), json!(self.patch_is_none));
        entry.insert("patch_exists".into(), json!(self.patch_exists));
        entry.insert(
            "patch_successfully_applied".into(),
            json!(self.patch_successfully_applied),
        );
        entry.insert("resolved".into(), json!(self.resolved));
        if let Some(status) = &self.tests_status {
            entry.insert(
                "tests_status".into(),
                serde_json::to_value(status).expect("plain strings serialise"),
            );
        }
        let mut top = Map::new();
        top.insert(self.instance_id.clone(), Value::Object(entry));
        Value::Object(top)
    }

    /// The file `run_instance` writes: `json.dumps(report, indent=4)`.
    pub fn to_json(&self) -> String {
        plinth_pyjson::dumps_indent(&self.to_value(), 4, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::TestStatus;

    #[test]
    fn skipped_and_odd_words_count_neither_way() {
        let map: StatusMap = [
            ("a".to_string(), TestStatus::Passed),
            ("b".to_string(), TestStatus::Xfail),
            ("c".to_string(), TestStatus::Skipped),
            ("d".to_string(), TestStatus::Error),
            ("e".to_string(), TestStatus::Other("ERROR:".into())),
        ]
        .into();
        let ids = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let status = tests_status(
            &map,
            &ids(&["a", "c", "e"]),
            &ids(&["b", "d", "z"]),
            EvalType::PassAndFail,
        );
        assert_eq!(status.fail_to_pass.success, ["a"]);
        assert!(status.fail_to_pass.failure.is_empty());
        assert_eq!(status.pass_to_pass.failure, ["d", "z"]);
        assert_eq!(status.resolution(), Resolution::No);
        let status = tests_status(&map, &ids(&["a", "c"]), &ids(&["b"]), EvalType::PassAndFail);
        assert_eq!(status.resolution(), Resolution::Full);
    }

    #[test]
    fn report_json_is_the_harnesses() {
        let log = LogEval {
            status_map: [("t".to_string(), TestStatus::Passed)].into(),
            found: true,
        };
        let r = InstanceReport::new("x__y-1", "x/y", Some("p"), &log, &["t".into()], &[]);
        assert!(r.resolved);
        assert!(
            r.to_json()
                .starts_with("{\n    \"x__y-1\": {\n        \"patch_is_None\": false,")
        );
        let none = InstanceReport::new("x__y-1", "x/y", None, &log, &["t".into()], &[]);
        assert!(none.patch_is_none && !none.resolved && none.tests_status.is_none());
    }
}
