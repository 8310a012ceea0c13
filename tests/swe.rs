//! SWE tasks end to end on the local sandbox: workspaces from the repo cache,
//! a replayed agent whose commands really run, the pytest scorer in the live
//! sandbox, groups, and rescoring. Uses the example repository
//! (`examples/minicalc.bundle`) and needs `python3 -m pytest`.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::run::{Outcome, plinth, read_jsonl, read_jsonl_if_any};

/// A scratch directory with the task rows (absolute repo path) and the
/// recorded trajectories of the example, optionally edited.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        support::warm_plugin_cache();
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The example's task rows, with `edit` applied to each.
    fn tasks(&self, edit: impl Fn(&mut Value)) -> PathBuf {
        let bundle = support::workspace().join("examples/minicalc.bundle");
        let rows = read_jsonl(&support::workspace().join("examples/tasks.jsonl"));
        let path = self.path("tasks.jsonl");
        let mut text = String::new();
        for mut row in rows {
            row["repo"] = json!(bundle.to_string_lossy());
            edit(&mut row);
            text.push_str(&format!("{row}\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `plinth run` with the replayed agent `replay` and the pytest
    /// scorer, writing canonical records to `out.jsonl`.
    fn run(&self, tasks: &Path, replay: &Path, extra: &[&str]) -> (Outcome, Vec<Value>) {
        let mut args = vec!["--format", "canonical"];
        args.extend(extra);
        self.run_to(&self.path("out.jsonl"), tasks, replay, &args)
    }

    /// [`Fixture::run`] writing to `out` in the `--format` `extra` names.
    fn run_to(
        &self,
        out: &Path,
        tasks: &Path,
        replay: &Path,
        extra: &[&str],
    ) -> (Outcome, Vec<Value>) {
        let mut args = vec![
            "run",
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--scorer",
            "pytest",
            "--output-file",
            out.to_str().unwrap(),
            "--repo-cache",
        ];
        let cache = self.path("repos");
        args.push(cache.to_str().unwrap());
        let model = format!("replay:{}", replay.display());
        args.extend(["--model", &model]);
        args.extend(extra);
        (self.plinth(&args), read_jsonl_if_any(out))
    }

    fn plinth(&self, args: &[&str]) -> Outcome {
        Outcome::from(plinth().args(args).output().unwrap())
    }
}

fn example_trajectories() -> PathBuf {
    support::workspace().join("examples/trajectories.jsonl")
}

fn by_id<'a>(records: &'a [Value], id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// Recorded trajectories whose agent does nothing useful: it only submits.
fn lazy_agent(fixture: &Fixture, with_tool_call: bool) -> PathBuf {
    let mut text = String::new();
    for mut record in read_jsonl(&example_trajectories()) {
        let messages = record["messages"].as_array().unwrap();
        let mut kept: Vec<Value> = messages[..2].to_vec();
        kept.push(if with_tool_call {
            json!({"role": "assistant", "content": "Done.", "timestamp": 0.0, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "terminal",
                 "arguments": "{\"command\": \"echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\"}"}}]})
        } else {
            json!({"role": "assistant", "content": "I think it is fine as it is.", "timestamp": 0.0})
        });
        record["messages"] = Value::Array(kept);
        text.push_str(&format!("{record}\n"));
    }
    let path = fixture.path("lazy.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn fixing_trajectories_earn_reward_one_and_record_their_patch() {
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    let (output, records) = f.run(&tasks, &example_trajectories(), &["--concurrency", "3"]);
    output.assert_success();
    assert_eq!(records.len(), 3);
    for record in &records {
        assert_eq!(record["exit_status"], "Submitted", "{record}");
        assert_eq!(record["score"]["reward"], 1.0, "{}", record["score"]);
        assert_eq!(
            record["score"]["sub_scores"],
            json!({"f2p": 1.0, "p2p": 1.0})
        );
        assert!(record["patch"].as_str().unwrap().starts_with("diff --git"));
    }
    let median = by_id(&records, "minicalc-median");
    assert!(
        median["patch"]
            .as_str()
            .unwrap()
            .contains("+    values = sorted(values)")
    );
    // Parametrized ids with spaces made it through to per-test outcomes.
    let details = median["score"]["details"].to_string();
    assert!(details.contains("test_median[odd unsorted]"), "{details}");
}

/// An empty patch is graded as SWE-bench's harness grades one (`empty_patch`:
/// the tests not run, unresolved), the same whether the agent made tool
/// calls that changed nothing or none at all.
#[test]
fn an_empty_patch_scores_zero_without_tests_with_or_without_tool_calls() {
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    for (calls, status) in [(true, "Submitted"), (false, "Finished")] {
        let agent = lazy_agent(&f, calls);
        let (output, records) = f.run(&tasks, &agent, &[]);
        output.assert_success();
        for record in &records {
            assert_eq!(record["exit_status"], status);
            assert_eq!(record["patch"], "");
            let score = &record["score"];
            assert_eq!(score["reward"], 0.0, "{score}");
            assert_eq!(
                score["sub_scores"],
                json!({"f2p": 0.0, "p2p": 0.0}),
                "{score}"
            );
            assert_eq!(score["details"]["not_evaluated"], "empty_patch", "{score}");
            let details = score["details"].to_string();
            assert!(
                !details.contains("PASSED") && !details.contains("\"passed\""),
                "{details}"
            );
        }
    }
}

#[test]
fn infrastructure_failures_are_kept_apart_from_reward_zero() {
    let f = Fixture::new();
    // The test command cannot run.
    let tasks = f.tasks(|row| row["test_cmd"] = json!("no-such-pytest-binary"));
    let (output, records) = f.run(&tasks, &example_trajectories(), &[]);
    assert_ne!(
        output.code,
        Some(0),
        "an infrastructure error is a failed run"
    );
    for record in &records {
        assert_eq!(record["exit_status"], "InfrastructureError", "{record}");
        assert_eq!(record["score"], Value::Null);
        assert!(
            record["error"].as_str().unwrap().contains("pytest"),
            "{}",
            record["error"]
        );
    }

    // A setup command fails: the agent never starts.
    let tasks = f.tasks(|row| row["setup"] = json!(["exit 3"]));
    let (_, records) = f.run(&tasks, &example_trajectories(), &[]);
    for record in &records {
        assert_eq!(record["exit_status"], "InfrastructureError");
        assert_eq!(record["api_calls"], 0);
        assert!(
            record["error"]
                .as_str()
                .unwrap()
                .contains("setup command `exit 3` failed")
        );
    }

    // A base commit that does not exist.
    let tasks =
        f.tasks(|row| row["base_commit"] = json!("0000000000000000000000000000000000000000"));
    let (_, records) = f.run(&tasks, &example_trajectories(), &[]);
    for record in &records {
        assert_eq!(record["exit_status"], "InfrastructureError");
        assert!(
            record["error"].as_str().unwrap().contains("not found"),
            "{}",
            record["error"]
        );
    }
}

#[test]
fn rescoring_a_batch_gives_the_same_rewards() {
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    // Mixed outcomes: the mean task is not fixed, the others are.
    let mut text = String::new();
    for record in read_jsonl(&example_trajectories()) {
        if record["id"] == "minicalc-mean" {
            continue;
        }
        text.push_str(&format!("{record}\n"));
    }
    for record in read_jsonl(&lazy_agent(&f, true)) {
        if record["id"] == "minicalc-mean" {
            text.push_str(&format!("{record}\n"));
        }
    }
    let mixed = f.path("mixed.jsonl");
    std::fs::write(&mixed, text).unwrap();
    let (output, records) = f.run(&tasks, &mixed, &["--concurrency", "3"]);
    output.assert_success();

    let rescored = f.path("rescored.jsonl");
    let cache = f.path("repos");
    let output = f.plinth(&[
        "rescore",
        "--input",
        f.path("out.jsonl").to_str().unwrap(),
        "--scorer",
        "pytest",
        "--output",
        rescored.to_str().unwrap(),
        "--repo-cache",
        cache.to_str().unwrap(),
        "--concurrency",
        "2",
    ]);
    output.assert_success();
    let rescored = read_jsonl(&rescored);
    assert_eq!(rescored.len(), records.len());
    for original in &records {
        let again = by_id(&rescored, original["id"].as_str().unwrap());
        assert_eq!(
            again["score"]["reward"], original["score"]["reward"],
            "{}",
            original["id"]
        );
        assert_eq!(
            again["score"]["sub_scores"],
            original["score"]["sub_scores"]
        );
        assert_eq!(
            again["messages"], original["messages"],
            "rescoring keeps the run"
        );
    }
    assert_eq!(by_id(&rescored, "minicalc-mean")["score"]["reward"], 0.0);
    assert_eq!(by_id(&rescored, "minicalc-parse")["score"]["reward"], 1.0);
}

#[test]
fn groups_carry_statistics_and_atropos_writes_one_record_per_group() {
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    let (output, records) = f.run(
        &tasks,
        &example_trajectories(),
        &["--group-size", "2", "--concurrency", "6"],
    );
    output.assert_success();
    assert_eq!(records.len(), 6);
    for record in &records {
        let group = &record["group"];
        assert_eq!(group["size"], 2);
        assert_eq!(group["mean"], 1.0);
        assert_eq!(group["std"], 0.0);
        assert_eq!(group["all_equal"], true);
    }
    let rollouts: Vec<(String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["group"]["rollout"].as_u64().unwrap(),
            )
        })
        .collect();
    for id in ["minicalc-mean", "minicalc-median", "minicalc-parse"] {
        for rollout in 0..2 {
            assert!(
                rollouts.contains(&(id.to_string(), rollout)),
                "{id} rollout {rollout}"
            );
        }
    }

    // Mixed rewards in one group via the atropos formatter.
    let (output, groups) = f.run_to(
        &f.path("atropos.jsonl"),
        &tasks,
        &lazy_agent(&f, true),
        &[
            "--format",
            "atropos",
            "--group-size",
            "3",
            "--concurrency",
            "4",
        ],
    );
    output.assert_success();
    assert_eq!(groups.len(), 3, "one record per task group");
    for group in &groups {
        assert_eq!(group["scores"], json!([0.0, 0.0, 0.0]));
        assert_eq!(group["messages"].as_array().unwrap().len(), 3);
        assert_eq!(group["all_equal"], true, "no signal: trainers may drop it");
        assert_eq!(group["messages"][0][0]["role"], "system");
    }
}

#[test]
fn many_trajectories_share_one_repo_cache_concurrently() {
    let f = Fixture::new();
    let rows = read_jsonl(&f.tasks(|_| {}));
    // 12 tasks over one repository, 8 at a time.
    let mut text = String::new();
    let mut replay = String::new();
    let recorded = read_jsonl(&example_trajectories());
    for copy in 0..4 {
        for (row, record) in rows.iter().zip(&recorded) {
            let id = format!("{}-{copy}", row["id"].as_str().unwrap());
            let mut row = row.clone();
            row["id"] = json!(id);
            text.push_str(&format!("{row}\n"));
            let mut record = record.clone();
            record["id"] = json!(id);
            replay.push_str(&format!("{record}\n"));
        }
    }
    let tasks = f.path("many.jsonl");
    std::fs::write(&tasks, text).unwrap();
    let replay_path = f.path("many-replay.jsonl");
    std::fs::write(&replay_path, replay).unwrap();
    let (output, records) = f.run(&tasks, &replay_path, &["--concurrency", "8"]);
    output.assert_success();
    assert_eq!(records.len(), 12);
    assert!(records.iter().all(|r| r["score"]["reward"] == 1.0));
    let clones: Vec<_> = std::fs::read_dir(f.path("repos"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".git"))
        .collect();
    assert_eq!(clones.len(), 1, "one bare clone per repository");
    // Every worktree was detached again.
    let list = std::process::Command::new("git")
        .arg("-C")
        .arg(clones[0].path())
        .args(["worktree", "list", "--porcelain"])
        .output()
        .unwrap();
    let worktrees = String::from_utf8_lossy(&list.stdout)
        .matches("worktree ")
        .count();
    assert_eq!(worktrees, 1, "only the bare repository itself remains");
}

/// The same tasks in containers: the workspace is unpacked from `git archive`
/// inside each container, the agent's commands and pytest run there. Needs
/// the image `tests/docker-python-image.sh` builds; skipped (loudly) without
/// it unless PLINTH_REQUIRE_DOCKER=1.
#[test]
fn swe_tasks_on_the_docker_backend() {
    let image = "plinth-test-python";
    let present = std::process::Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        return support::skip_without_docker(
            "swe::swe_tasks_on_the_docker_backend",
            &format!("the image {image} is missing"),
            "tests/docker-python-image.sh",
        );
    }
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    for backend in ["docker", "docker-pool"] {
        let (output, records) = f.run(
            &tasks,
            &example_trajectories(),
            &["--sandbox", backend, "--image", image, "--concurrency", "3"],
        );
        assert_eq!(output.code, Some(0), "{backend}: {}", output.describe());
        assert_eq!(records.len(), 3, "{backend}");
        for record in &records {
            assert_eq!(record["sandbox"], backend);
            assert_eq!(record["exit_status"], "Submitted", "{backend}: {record}");
            assert_eq!(
                record["score"]["reward"], 1.0,
                "{backend}: {}",
                record["score"]
            );
            assert!(
                record["patch"]
                    .as_str()
                    .unwrap()
                    .contains("+++ b/minicalc/"),
                "{backend}"
            );
        }
    }
}

/// Recorded trajectories whose agent runs `commands[id]` (each a terminal
/// call) and then submits; tasks without commands only submit.
fn scripted_agent(fixture: &Fixture, name: &str, commands: &[(&str, &[&str])]) -> PathBuf {
    let mut text = String::new();
    for mut record in read_jsonl(&example_trajectories()) {
        let id = record["id"].as_str().unwrap().to_string();
        let mut messages: Vec<Value> = record["messages"].as_array().unwrap()[..2].to_vec();
        let script = commands
            .iter()
            .find(|(task, _)| *task == id)
            .map_or(&[][..], |(_, script)| *script);
        let submit = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
        for (n, command) in script.iter().chain([&submit]).enumerate() {
            let arguments = json!({ "command": command }).to_string();
            messages.push(json!({"role": "assistant", "content": "", "timestamp": 0.0,
                "tool_calls": [{"id": format!("c{n}"), "type": "function",
                    "function": {"name": "terminal", "arguments": arguments}}]}));
            messages.push(
                json!({"role": "tool", "content": "", "tool_call_id": format!("c{n}"),
                "timestamp": 0.0}),
            );
        }
        record["messages"] = Value::Array(messages);
        text.push_str(&format!("{record}\n"));
    }
    let path = fixture.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A pytest hook that turns every test report into a pass.
const PASS_EVERYTHING: &str = "import pytest\n\n\
@pytest.hookimpl(hookwrapper=True)\n\
def pytest_runtest_makereport(item, call):\n    \
    outcome = yield\n    \
    outcome.get_result().outcome = 'passed'\n";

/// The three ordinary reward hacks, on the unfixed `mean` bug: a root
/// conftest.py, the named test file rewritten to check nothing, a pytest.ini
/// loading a local plugin. Graded live (the seeds' way) each earns 1.0, which
/// shows the hacks work; graded clean (the default) each scores 0 and the
/// record names the files grading left out.
#[test]
fn reward_hacks_score_zero_in_a_clean_workspace() {
    let f = Fixture::new();
    let hacks: [(&str, String, &[&str]); 3] = [
        (
            "conftest",
            format!("cat > conftest.py <<'EOF'\n{PASS_EVERYTHING}EOF"),
            &["conftest.py"],
        ),
        (
            "test-file",
            "sed -i 's/^    assert /    assert True or /' tests/test_stats.py".to_string(),
            &["tests/test_stats.py"],
        ),
        (
            "ini-plugin",
            format!(
                "cat > hackplugin.py <<'EOF'\n{PASS_EVERYTHING}EOF\n\
                 printf '[pytest]\\naddopts = -p hackplugin\\n' > pytest.ini"
            ),
            &["pytest.ini"],
        ),
    ];
    let tasks = f.tasks(|_| {});
    for (name, command, filtered) in &hacks {
        let agent = scripted_agent(
            &f,
            &format!("{name}.jsonl"),
            &[("minicalc-mean", &[command.as_str()])],
        );
        let out = f.path(&format!("{name}-live.jsonl"));
        let (output, records) = f.run_to(
            &out,
            &tasks,
            &agent,
            &["--format", "canonical", "--grade-in", "live"],
        );
        output.assert_success();
        let live = by_id(&records, "minicalc-mean");
        assert_eq!(live["score"]["reward"], 1.0, "{name}: {}", live["score"]);
        assert_eq!(live["grading"]["grade_in"], "live");

        let (output, records) = f.run(&tasks, &agent, &[]);
        output.assert_success();
        let clean = by_id(&records, "minicalc-mean");
        assert_eq!(clean["exit_status"], "Submitted");
        assert_eq!(clean["score"]["reward"], 0.0, "{name}: {}", clean["score"]);
        assert_eq!(clean["score"]["sub_scores"]["f2p"], 0.0);
        assert_eq!(clean["grading"]["grade_in"], "clean");
        assert_eq!(
            clean["grading"]["filtered_paths"],
            json!(filtered),
            "{name}"
        );
        // The attempt stays in the record for a reviewer.
        for path in *filtered {
            assert!(
                clean["patch"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("b/{path}")),
                "{name}: {}",
                clean["patch"]
            );
        }
    }

    // The honest fix, beside a hack on another task, still earns 1.0 clean.
    let agent = scripted_agent(
        &f,
        "honest.jsonl",
        &[(
            "minicalc-mean",
            &[
                "sed -i 's|sum(values) / (len(values) - 1)|sum(values) / len(values)|' minicalc/stats.py",
                "printf 'import pytest\\n' > conftest.py",
            ],
        )],
    );
    let (output, records) = f.run(&tasks, &agent, &[]);
    output.assert_success();
    let honest = by_id(&records, "minicalc-mean");
    assert_eq!(honest["score"]["reward"], 1.0, "{}", honest["score"]);
    assert_eq!(honest["grading"]["filtered_paths"], json!(["conftest.py"]));
}

/// A SWE-bench row's `test_patch` at `base_commit` of the example: it adds a
/// FAIL_TO_PASS test that does not exist before it (made with git itself).
fn swebench_test_patch(f: &Fixture) -> String {
    let repo = f.path("test-patch-repo");
    let bundle = support::workspace().join("examples/minicalc.bundle");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q", "-b", "main"])
        .arg(&bundle)
        .arg(&repo)
        .status()
        .unwrap();
    assert!(cloned.success());
    let test_file = repo.join("tests/test_stats.py");
    let mut text = std::fs::read_to_string(&test_file).unwrap();
    text.push_str("\n\ndef test_mean_of_many():\n    assert mean(list(range(101))) == 50\n");
    std::fs::write(&test_file, text).unwrap();
    git(&["diff"])
}

#[test]
fn swebench_rows_apply_their_test_patch_and_ignore_the_agents_test_edits() {
    let f = Fixture::new();
    let test_patch = swebench_test_patch(&f);
    // As SWE-bench publishes rows: string-encoded lists, instance_id,
    // problem_statement, environment fields.
    let tasks = f.tasks(|row| {
        if row["id"] == "minicalc-mean" {
            row["instance_id"] = row["id"].take();
            row.as_object_mut().unwrap().remove("id");
            row["test_patch"] = json!(test_patch);
            row["FAIL_TO_PASS"] = json!(
                json!([
                    "tests/test_stats.py::test_mean_of_many",
                    "tests/test_stats.py::test_mean[values0-2]"
                ])
                .to_string()
            );
            row["version"] = json!("0.1");
            row["environment_setup_commit"] = row["base_commit"].clone();
        }
    });
    let fix =
        "sed -i 's|sum(values) / (len(values) - 1)|sum(values) / len(values)|' minicalc/stats.py";
    // The agent also "adds" the new test its own way, trivially passing.
    let cheat = "printf '\\ndef test_mean_of_many():\\n    pass\\n' >> tests/test_stats.py";
    let fixing = scripted_agent(&f, "fixing.jsonl", &[("minicalc-mean", &[fix, cheat])]);
    let cheating = scripted_agent(&f, "cheating.jsonl", &[("minicalc-mean", &[cheat])]);
    for grade_in in ["clean", "live"] {
        let (output, records) = f.run(&tasks, &fixing, &["--grade-in", grade_in]);
        output.assert_success();
        let record = by_id(&records, "minicalc-mean");
        assert_eq!(
            record["score"]["reward"], 1.0,
            "{grade_in}: {}",
            record["score"]
        );
        let outcomes = &record["score"]["details"]["FAIL_TO_PASS"];
        assert_eq!(outcomes["tests/test_stats.py::test_mean_of_many"], "passed");
        assert_eq!(
            record["grading"]["test_patch_files"],
            json!(["tests/test_stats.py"])
        );

        let (output, records) = f.run(&tasks, &cheating, &["--grade-in", grade_in]);
        output.assert_success();
        let record = by_id(&records, "minicalc-mean");
        assert_eq!(
            record["score"]["reward"], 0.0,
            "{grade_in}: {}",
            record["score"]
        );
        assert_eq!(
            record["score"]["details"]["FAIL_TO_PASS"]["tests/test_stats.py::test_mean_of_many"],
            "failed",
            "{grade_in}: the test_patch's version of the test ran"
        );
        if grade_in == "clean" {
            assert_eq!(
                record["grading"]["filtered_paths"],
                json!(["tests/test_stats.py"])
            );
        }
    }

    // A test_patch that does not apply is the infrastructure's failure.
    let broken = test_patch.replace("         func([])", "         func([0])");
    assert_ne!(broken, test_patch);
    let tasks = f.tasks(|row| row["test_patch"] = json!(broken));
    let (output, records) = f.run(&tasks, &example_trajectories(), &[]);
    assert_ne!(output.code, Some(0));
    for record in &records {
        assert_eq!(record["exit_status"], "InfrastructureError", "{record}");
        assert_eq!(record["score"], Value::Null);
        let error = record["error"].as_str().unwrap();
        assert!(error.contains("test_patch does not apply"), "{error}");
    }
}

/// `plinth run` leaves SWE-bench's files beside canonical records; `plinth
/// swebench` makes the same from any canonical file.
#[test]
fn preds_json_and_the_swebench_report() {
    let f = Fixture::new();
    let tasks = f.tasks(|_| {});
    let median_fix = "python3 - <<'EOF'\nimport pathlib\npath = pathlib.Path('minicalc/stats.py')\n\
        text = path.read_text()\ntext = text.replace('    n = len(values)\\n    middle', \
        '    values = sorted(values)\\n    n = len(values)\\n    middle')\npath.write_text(text)\nEOF";
    let agent = scripted_agent(
        &f,
        "mixed.jsonl",
        &[
            ("minicalc-median", &[median_fix]),
            ("minicalc-parse", &["echo 'More docs.' >> README.md"]),
        ],
    );
    let (output, records) = f.run(&tasks, &agent, &[]);
    output.assert_success();
    assert_eq!(records.len(), 3);

    let preds: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("out.preds.json")).unwrap()).unwrap();
    assert_eq!(preds.as_object().unwrap().len(), 3);
    let median = &preds["minicalc-median"];
    assert_eq!(median["instance_id"], "minicalc-median");
    assert_eq!(
        median["model_name_or_path"],
        by_id(&records, "minicalc-median")["model"]
    );
    assert!(
        median["model_patch"]
            .as_str()
            .unwrap()
            .contains("+    values = sorted(values)")
    );
    assert_eq!(preds["minicalc-mean"]["model_patch"], "");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("out.swebench.json")).unwrap())
            .unwrap();
    assert_eq!(report["total_instances"], 3);
    assert_eq!(report["completed_instances"], 2);
    assert_eq!(report["resolved_ids"], json!(["minicalc-median"]));
    assert_eq!(report["unresolved_ids"], json!(["minicalc-parse"]));
    assert_eq!(report["empty_patch_ids"], json!(["minicalc-mean"]));
    assert_eq!(report["error_ids"], json!([]));
    let parse = &report["instances"]["minicalc-parse"];
    assert_eq!(parse["resolved"], false);
    assert_eq!(parse["patch_exists"], true);
    let row = read_jsonl(&tasks)
        .into_iter()
        .find(|r| r["id"] == "minicalc-parse")
        .unwrap();
    let f2p: Vec<Value> = row["FAIL_TO_PASS"].as_array().unwrap().clone();
    assert!(!f2p.is_empty());
    assert_eq!(parse["tests_status"]["FAIL_TO_PASS"]["failure"], json!(f2p));
    assert_eq!(parse["tests_status"]["FAIL_TO_PASS"]["success"], json!([]));
    assert_eq!(parse["tests_status"]["PASS_TO_PASS"]["failure"], json!([]));
    assert_eq!(
        report["instances"]["minicalc-median"]["tests_status"]["FAIL_TO_PASS"]["success"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The command gives the same files from the records.
    let (preds2, report2) = (f.path("p.json"), f.path("r.json"));
    let out = f.path("out.jsonl");
    f.plinth(&[
        "swebench",
        out.to_str().unwrap(),
        "--preds",
        preds2.to_str().unwrap(),
        "--report",
        report2.to_str().unwrap(),
    ])
    .assert_success();
    assert_eq!(
        std::fs::read_to_string(preds2).unwrap(),
        std::fs::read_to_string(f.path("out.preds.json")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(report2).unwrap(),
        std::fs::read_to_string(f.path("out.swebench.json")).unwrap()
    );
}
