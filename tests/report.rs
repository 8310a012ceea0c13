//! End-to-end tests of `plinth stats` and `plinth report`: the real binary
//! on a hand-written canonical JSONL file, and the report opened in headless
//! Chromium (`/usr/bin/chromium`, or `$PLINTH_CHROMIUM`): it must render
//! without page errors, show its rows, honour a filter given in the URL, and
//! leave screenshots in `$PLINTH_TEST_ARTIFACTS` (default
//! `<target>/test-artifacts`). Without Chromium the browser checks skip
//! loudly, or fail when PLINTH_REQUIRE_CHROMIUM=1 (tests/run.sh sets it once
//! it has installed Chromium).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use support::run::{Outcome, plinth};

/// A canonical record; `extra` replaces or adds keys.
fn record(id: &str, index: u64, status: &str, extra: Value) -> Value {
    let mut record = json!({
        "schema": "plinth-trajectory/0.1", "id": id, "input_index": index,
        "task": {"id": id, "problem_statement": format!("Fix bug {id}")},
        "messages": [], "tools": [{"type": "function", "function": {"name": "terminal"}}],
        "exit_status": status, "submission": "", "error": null, "model": "mock-model",
        "sandbox": "local", "api_calls": 2,
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100}, "cost": 0.5,
        "started_at": "2026-11-21T12:00:00Z", "duration_secs": 10.0,
        "plinth_version": "0.1.0", "patch": null, "score": null,
    });
    for (key, value) in extra.as_object().unwrap() {
        record[key] = value.clone();
    }
    record
}

fn terminal_call(id: &str, command: &str) -> Value {
    json!({"id": id, "type": "function", "function": {
        "name": "terminal", "arguments": json!({"command": command}).to_string()}})
}

fn terminal_result(id: &str, output: &str, exit_code: i64) -> Value {
    let content = json!({"content": {"output": output, "exit_code": exit_code, "error": null}});
    json!({"role": "tool", "tool_call_id": id, "name": "terminal",
           "content": content.to_string(), "timestamp": 1763728002.0})
}

const PATCH: &str = "diff --git a/calc.py b/calc.py\nindex 1..2 100644\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";

/// Five records (four statuses; a patch; scores with per-test outcomes; an
/// error; an old record without usage, cost, patch or score; text that tries
/// to close the page's script) and a torn last line.
fn small_run() -> String {
    let long_output: String = (0..200)
        .map(|i| format!("line {i} of a long output\n"))
        .collect();
    let solved = record(
        "calc-1",
        0,
        "Submitted",
        json!({
            "messages": [
                {"role": "system", "content": "You are a careful engineer.", "timestamp": 1763728000.0},
                {"role": "user", "content": "Fix the add function.", "timestamp": 1763728000.0},
                {"role": "assistant", "content": null, "reasoning": "Look at calc.py first.",
                 "tool_calls": [terminal_call("call_1", "cat calc.py")], "timestamp": 1763728001.0, "cost": 0.25},
                terminal_result("call_1", &long_output, 0),
                {"role": "assistant", "content": null,
                 "tool_calls": [terminal_call("call_2", "sed -i s/-/+/ calc.py && echo MINI_SWE_AGENT_FINAL_OUTPUT")],
                 "timestamp": 1763728003.0, "cost": 0.25},
                terminal_result("call_2", "MINI_SWE_AGENT_FINAL_OUTPUT\n", 0),
            ],
            "patch": PATCH,
            "score": {"reward": 1.0, "sub_scores": {"f2p": 1.0, "p2p": 1.0}, "details": {
                "FAIL_TO_PASS": {"tests/test_calc.py::test_add": "passed"},
                "PASS_TO_PASS": {"tests/test_calc.py::test_sub": "passed", "tests/test_calc.py::test_mul": "passed"},
                "test_cmd": "pytest -q"}},
            "duration_secs": 4.0,
        }),
    );
    let unsolved = record(
        "calc-2",
        1,
        "LimitsExceeded",
        json!({
            "api_calls": 30, "duration_secs": 60.0,
            "messages": [{"role": "assistant", "content": "I give up",
                          "tool_calls": [terminal_call("c", "ls"), terminal_call("d", "pytest")]}],
            "score": {"reward": 0.0, "sub_scores": {"f2p": 0.0, "p2p": 0.5}, "details": {
                "FAIL_TO_PASS": {"tests/test_calc.py::test_add": "failed", "tests/test_calc.py::test_div": "error"},
                "PASS_TO_PASS": {"tests/test_calc.py::test_sub": "passed", "tests/test_calc.py::test_mul": "not_run"}}},
            "grading": {"grade_in": "clean", "filtered_paths": ["conftest.py"]},
        }),
    );
    let model_error = record(
        "calc-3",
        2,
        "ModelError",
        json!({"error": "the model API failed after 3 retries: 503 Service Unavailable", "api_calls": 1}),
    );
    let infra_error = record(
        "calc-4",
        3,
        "InfrastructureError",
        json!({"error": "git worktree add failed", "api_calls": 0, "duration_secs": 1.0}),
    );
    // A record as an older plinth wrote it: no usage, cost, duration,
    // submission, patch, score.
    let mut old = record(
        "calc-5",
        4,
        "Finished",
        json!({"messages": [{"role": "assistant",
            "content": "</script><script>document.title = 'PWNED'</script><!-- done"}]}),
    );
    for key in [
        "usage",
        "cost",
        "duration_secs",
        "submission",
        "patch",
        "score",
        "error",
    ] {
        old.as_object_mut().unwrap().remove(key);
    }
    let lines: Vec<String> = [solved, unsolved, model_error, infra_error, old]
        .iter()
        .map(Value::to_string)
        .collect();
    // A run killed in mid-append leaves a torn last line.
    lines.join("\n") + "\n{\"schema\": \"plinth-trajectory/0.1\", \"id\": \"calc-6\", \"inp"
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("plinth-report-")
        .tempdir()
        .unwrap()
}

fn plinth_ok(args: &[&str]) -> Outcome {
    let outcome = Outcome::from(plinth().args(args).output().unwrap());
    outcome.assert_success();
    outcome
}

#[test]
fn stats_prints_the_figures_as_text_and_json() {
    let dir = scratch();
    let run = dir.path().join("run.jsonl");
    std::fs::write(&run, small_run()).unwrap();
    let run = run.to_str().unwrap();

    let text = plinth_ok(&["stats", run]);
    // The torn line is a warning naming the file and line, not a failure.
    assert!(
        text.stderr.contains("run.jsonl:6: not JSON"),
        "{}",
        text.describe()
    );
    for expected in [
        "trajectories   5\n",
        "  Submitted                 1   20.0%\n",
        "  ModelError                1   20.0%\n",
        "reward         mean 0.500 over 2 scored (min 0, max 1)",
        "tokens         4000 prompt, 400 completion",
        "cost           $2.0000 (mean $0.4000)",
        // Durations 0 (the old record), 1, 4, 10, 60.
        "duration       p50 4.0s, p90 60.0s, max 60.0s",
        "  terminal       4\n",
        "1 bad line(s) skipped",
    ] {
        assert!(
            text.stdout.contains(expected),
            "no {expected:?} in\n{}",
            text.stdout
        );
    }

    let json: Value = serde_json::from_str(&plinth_ok(&["stats", run, "--json"]).stdout).unwrap();
    assert_eq!(json["trajectories"], 5);
    assert_eq!(
        json["by_status"],
        json!({"Submitted": 1, "Finished": 1, "LimitsExceeded": 1, "InfrastructureError": 1, "ModelError": 1})
    );
    assert_eq!(json["reward"]["scored"], 2);
    assert_eq!(json["reward"]["mean"], 0.5);
    assert_eq!(json["api_calls"], json!({"total": 35, "mean": 7.0}));
    assert_eq!(json["duration_secs"]["p50"], 4.0);
    assert_eq!(json["tools"], json!({"terminal": 4}));

    // A file of nothing but bad lines is not a run.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"conversations\": []}\n").unwrap();
    let outcome = Outcome::from(
        plinth()
            .args(["stats", bad.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_eq!(outcome.code, Some(1), "{}", outcome.describe());
    assert!(
        outcome.stderr.contains("no canonical trajectory records"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn the_report_renders_filters_and_opens_a_trajectory_in_chromium() {
    let dir = scratch();
    let run = dir.path().join("run.jsonl");
    std::fs::write(&run, small_run()).unwrap();
    let html = dir.path().join("report.html");
    let outcome = plinth_ok(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert!(
        outcome.stderr.contains("run.jsonl:6: not JSON"),
        "{}",
        outcome.describe()
    );
    assert!(
        outcome
            .stderr
            .contains("5 trajectories, 1 bad line(s) skipped"),
        "{}",
        outcome.describe()
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("</script><script>document.title"),
        "a record closed its script"
    );
    assert!(!page.contains("\"tools\":[{"), "tool specs are left out");

    let Some(chromium) = chromium() else { return };
    let list = chromium.dump_dom(&html, "", "list");
    assert_eq!(rows(&list), 5, "{list}");
    assert!(list.contains("5 trajectories"), "{list}");
    assert!(
        list.contains("1 line(s) of"),
        "the skipped line is shown: {list}"
    );
    assert!(!list.contains("<title>PWNED"), "{list}");
    assert!(list.contains("ModelError") && list.contains("503 Service Unavailable"));
    assert!(list.contains("<svg"), "charts: {list}");

    // Filters from the URL: by exit status, by text.
    let errors = chromium.dump_dom(&html, "#status=ModelError", "status");
    assert_eq!(rows(&errors), 1, "{errors}");
    assert!(
        errors.contains("calc-3") && !errors.contains(">calc-1<"),
        "{errors}"
    );
    let text = chromium.dump_dom(&html, "#q=worktree", "text");
    assert_eq!(rows(&text), 1, "{text}");
    assert!(text.contains("calc-4"), "{text}");
    let sorted = chromium.dump_dom(&html, "#sort=duration&desc=1", "sorted");
    assert!(
        sorted.find(">calc-2<").unwrap() < sorted.find(">calc-1<").unwrap(),
        "the longest run first: {sorted}"
    );

    // One trajectory: conversation, patch, per-test outcomes.
    let solved = chromium.dump_dom(&html, "#open=0", "detail");
    for expected in [
        "FAIL_TO_PASS: 1 of 1 passed",
        "PASS_TO_PASS: 2 of 2 passed",
        "<span class=\"add\">+    return a + b</span>",
        "<span class=\"del\">-    return a - b</span>",
        "$ cat calc.py",
        "Look at calc.py first.",
        "line 199 of a long output",
        "more lines",
        "test_cmd",
    ] {
        assert!(solved.contains(expected), "no {expected:?} in {solved}");
    }
    let unsolved = chromium.dump_dom(&html, "#open=1", "detail-unsolved");
    assert!(
        unsolved.contains("FAIL_TO_PASS: 0 of 2 passed"),
        "{unsolved}"
    );
    assert!(unsolved.contains("outcome-failed\">error<"), "{unsolved}");
    assert!(unsolved.contains("outcome-other\">not_run<"), "{unsolved}");
    assert!(
        unsolved.contains("left out of grading (the agent changed them): <code>conftest.py</code>"),
        "{unsolved}"
    );
    let failed = chromium.dump_dom(&html, "#open=2", "detail-error");
    assert!(failed.contains("Not scored."), "{failed}");
    assert!(failed.contains("503 Service Unavailable"), "{failed}");
    let old = chromium.dump_dom(&html, "#open=4", "detail-old");
    assert!(
        old.contains("No patch.") && old.contains("Not scored."),
        "{old}"
    );
    assert!(old.contains("&lt;/script&gt;&lt;script&gt;"), "{old}");

    chromium.screenshot(&html, "", "report-list.png");
    chromium.screenshot(&html, "#open=0", "report-trajectory.png");
}

#[test]
fn a_report_of_ten_thousand_trajectories_opens_on_its_first_page() {
    const N: usize = 10_000;
    let dir = scratch();
    let run = dir.path().join("big.jsonl");
    let statuses = ["Submitted", "Finished", "LimitsExceeded", "ModelError"];
    let mut text = String::new();
    for i in 0..N {
        let status = statuses[i % statuses.len()];
        let score = (status != "ModelError").then(|| json!({"reward": (i % 3) as f64 / 2.0}));
        let record = record(
            &format!("task-{i:05}"),
            i as u64,
            status,
            json!({
                "duration_secs": (i % 97) as f64,
                "score": score,
                "patch": PATCH,
                "messages": [
                    {"role": "system", "content": "You are a careful engineer."},
                    {"role": "user", "content": format!("Fix bug {i}")},
                    {"role": "assistant", "content": null, "tool_calls": [terminal_call("c1", "pytest -q")]},
                    terminal_result("c1", &"collected 12 items\n".repeat(20), 1),
                    {"role": "assistant", "content": "Done."},
                ],
            }),
        );
        text += &record.to_string();
        text.push('\n');
    }
    std::fs::write(&run, text).unwrap();
    let html = dir.path().join("big.html");

    let started = Instant::now();
    plinth_ok(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    let written = started.elapsed();
    let size = std::fs::metadata(&html).unwrap().len();
    eprintln!(
        "plinth report: {N} trajectories ({} MB of JSONL) -> {} MB of HTML in {written:.2?}",
        std::fs::metadata(&run).unwrap().len() / 1_000_000,
        size / 1_000_000
    );

    let Some(chromium) = chromium() else { return };
    let started = Instant::now();
    let dom = chromium.dump_dom(&html, "", "big");
    eprintln!("chromium: loaded and rendered in {:.2?}", started.elapsed());
    assert_eq!(rows(&dom), 100, "the first page of rows");
    assert!(dom.contains("10,000 trajectories"));
    assert!(dom.contains("page 1 of 100"));
    let last = chromium.dump_dom(&html, "#open=9999", "big-detail");
    assert!(last.contains("task-09999"), "the last record opens");
    chromium.screenshot(&html, "", "report-10000.png");
}

/// Table rows in a rendered DOM.
fn rows(dom: &str) -> usize {
    dom.matches("<tr class=\"row\"").count()
}

/// Headless Chromium, or `None` (a loud skip) when there is none and
/// PLINTH_REQUIRE_CHROMIUM is not 1.
fn chromium() -> Option<Chromium> {
    let binary = std::env::var_os("PLINTH_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        });
    match binary {
        Some(binary) => Some(Chromium { binary }),
        None => {
            assert!(
                std::env::var("PLINTH_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_CHROMIUM=1 but there is no /usr/bin/chromium (apt-get install chromium)"
            );
            eprintln!(
                "\n*** SKIPPED the browser checks: no Chromium (apt-get install chromium; \
                 PLINTH_REQUIRE_CHROMIUM=1 turns this skip into a failure). ***\n"
            );
            None
        }
    }
}

struct Chromium {
    binary: PathBuf,
}

/// One Chromium at a time: the machine may have two cores.
static BROWSER: Mutex<()> = Mutex::new(());

impl Chromium {
    /// Runs Chromium headless on `page` + `fragment` with `args`; returns
    /// stdout, after checking that the page logged no error.
    fn run(&self, page: &Path, fragment: &str, args: &[&str], what: &str) -> String {
        let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        let profile = scratch();
        let url = format!("file://{}{fragment}", page.display());
        let output = Command::new("timeout")
            .arg("300")
            .arg(&self.binary)
            .args([
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--disable-extensions",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=10000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        std::fs::write(artifacts().join(format!("{what}.chromium.log")), &*stderr).unwrap();
        assert!(
            output.status.success(),
            "chromium failed on {url}: {}\n{stderr}",
            output.status
        );
        let console_errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("Uncaught") || (l.contains(":CONSOLE") && l.contains("Error")))
            .collect();
        assert!(console_errors.is_empty(), "{url}: {console_errors:#?}");
        stdout
    }

    /// What the page's script rendered (the DOM before the data blocks and
    /// the script, which hold every string the page could show); fails on a
    /// page error.
    fn dump_dom(&self, page: &Path, fragment: &str, what: &str) -> String {
        let mut dom = self.run(page, fragment, &["--dump-dom"], what);
        let data = dom
            .find("<script type=\"application/json\"")
            .unwrap_or_else(|| panic!("no data blocks in {dom}"));
        dom.truncate(data);
        assert!(dom.contains("data-view="), "the page did not render: {dom}");
        assert!(
            dom.contains("id=\"page-errors\" class=\"banner error\" hidden"),
            "page errors: {dom}"
        );
        dom
    }

    /// Saves a screenshot of the page as an artifact and checks it is a real
    /// picture.
    fn screenshot(&self, page: &Path, fragment: &str, name: &str) {
        let path = artifacts().join(name);
        let _ = std::fs::remove_file(&path);
        self.run(
            page,
            fragment,
            &[
                &format!("--screenshot={}", path.display()),
                "--window-size=1280,900",
                "--hide-scrollbars",
            ],
            name,
        );
        let png = std::fs::read(&path).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is no PNG",
            path.display()
        );
        assert!(png.len() > 20_000, "{} is nearly empty", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

/// Where screenshots and Chromium's logs go: `$PLINTH_TEST_ARTIFACTS`, else
/// `test-artifacts` in the target directory.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("PLINTH_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .unwrap()
                .join("test-artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
