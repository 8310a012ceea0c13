//! Plugins written in Python and JavaScript, built by the real toolchains
//! (componentize-py, componentize-js) with their one documented command, and
//! run by plinth: the example `search` tool (JavaScript) and `command` scorer
//! (Python) in `examples/plugins/`, alone and together in a real run.
//!
//! Skipped loudly without the toolchains, unless
//! PLINTH_REQUIRE_GUEST_TOOLCHAINS=1 (tests/run.sh installs them and sets it).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_plugin::{
    Grants, GuestError, Plugin, PluginError, PluginRuntime, PluginSource, RuntimeConfig,
    ScorerPlugin, ToolPlugin,
};
use plinth_record::trajectory::Trajectory;
use plinth_sandbox::{LocalSandbox, Sandbox};
use serde_json::{Value, json};
use support::run::{Outcome, plinth, read_jsonl_if_any};
use support::toolchains::{Lang, example};

fn js_tool(test: &str) -> Option<PathBuf> {
    example(test, "search-tool", Lang::Js)
}

fn python_scorer(test: &str) -> Option<PathBuf> {
    example(test, "command-scorer", Lang::Python)
}

fn runtime() -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(support::plugin_cache_dir()),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// Loads `file` in a runtime that lets it use its whole session, as a
/// bundle granting it `exec`, `read` and `write` would.
async fn load_granted(file: &Path) -> Plugin {
    let rt = PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(support::plugin_cache_dir()),
        plugin_grants: [(
            file.display().to_string(),
            Grants::parse(&["exec", "read", "write"]).unwrap(),
        )]
        .into(),
        ..RuntimeConfig::default()
    })
    .unwrap();
    rt.load(&PluginSource::file(file).unwrap()).await.unwrap()
}

async fn load_tool(file: &Path) -> ToolPlugin {
    load_granted(file).await.into_tool().unwrap()
}

async fn load_scorer(file: &Path) -> ScorerPlugin {
    load_granted(file).await.into_scorer().unwrap()
}

fn sandbox_in(dir: &Path) -> Arc<dyn Sandbox> {
    Arc::new(LocalSandbox::new(Some(dir), Default::default()).unwrap())
}

#[track_caller]
fn invalid_arguments(result: Result<impl std::fmt::Debug, PluginError>) -> String {
    invalid_arguments_of(result, "search")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_search_tool_finds_text_and_files_and_explains_bad_arguments() {
    let Some(file) = js_tool("the_javascript_search_tool_finds_text_and_files") else {
        return;
    };
    let tool = load_tool(&file).await;
    assert_eq!(tool.meta.name, "search");
    let names: Vec<&str> = tool.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["search", "find_files"]);
    assert_eq!(tool.tools[0].parameters["required"], json!(["pattern"]));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/.git")).unwrap();
    std::fs::write(
        dir.path().join("src/calc.py"),
        "def median(xs):\n    return xs[0]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("src/notes.md"), "median is wrong\n").unwrap();
    std::fs::write(dir.path().join("src/.git/HEAD"), "median\n").unwrap();
    for i in 0..30 {
        std::fs::write(dir.path().join(format!("many-{i}.txt")), "hit\n").unwrap();
    }
    let sandbox = sandbox_in(dir.path());
    let search = |arguments: Value| {
        let (tool, sandbox) = (&tool, sandbox.clone());
        async move {
            tool.invoke("search", &arguments.to_string(), sandbox)
                .await
                .map(|r| r.content)
        }
    };

    let found = search(json!({"pattern": "def \\w+\\(", "path": "src"}))
        .await
        .unwrap();
    assert_eq!(found, "1 matches:\nsrc/calc.py:1:def median(xs):");
    let found = search(json!({"pattern": "MEDIAN", "ignore_case": true}))
        .await
        .unwrap();
    assert!(found.starts_with("2 matches:"), "{found}");
    assert!(!found.contains(".git"), ".git is skipped: {found}");
    let found = search(json!({"pattern": "median", "glob": "*.md"}))
        .await
        .unwrap();
    assert_eq!(found, "1 matches:\n./src/notes.md:1:median is wrong");
    let found = search(json!({"pattern": "xs[0]", "fixed_strings": true}))
        .await
        .unwrap();
    assert!(found.contains("calc.py:2:"), "{found}");
    let found = search(json!({"pattern": "hit", "max_matches": 5}))
        .await
        .unwrap();
    assert!(
        found.starts_with("More than 5 matches; the first 5"),
        "{found}"
    );
    assert_eq!(found.lines().count(), 6, "{found}");
    let found = search(json!({"pattern": "absent"})).await.unwrap();
    assert_eq!(found, "No matches for \"absent\" in ..");

    // Quoting: the pattern and path reach grep as words, never as shell.
    let found =
        search(json!({"pattern": "'; touch pwned; echo '", "path": "$(touch pwned2)"})).await;
    assert!(invalid_arguments(found).contains("no such file or directory"));
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());

    assert!(invalid_arguments(search(json!({"pattern": "("})).await).contains("grep failed"));
    assert!(
        invalid_arguments(search(json!({"path": "src"})).await).contains("`pattern` is required")
    );
    assert!(invalid_arguments(search(json!({"pattern": "a\nb"})).await).contains("one line"));
    let not_json = tool.invoke("search", "{", sandbox.clone()).await;
    assert!(invalid_arguments(not_json).contains("not valid JSON"));

    let files = tool
        .invoke("find_files", r#"{"name": "*.py"}"#, sandbox.clone())
        .await
        .unwrap();
    assert_eq!(files.content, "1 files:\n./src/calc.py");
    assert!(files.exec.is_none());
    let files = tool
        .invoke("find_files", r#"{"name": "*.rs"}"#, sandbox.clone())
        .await
        .unwrap();
    assert_eq!(files.content, "No files named \"*.rs\" under ..");
    let unknown = tool
        .invoke("grep", "{}", sandbox.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, PluginError::Guest { error: GuestError::UnknownTool(n), .. } if n == "grep"),
        "{unknown}"
    );

    // The workspace is gone: the sandbox failed, not the tool nor the model.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let gone = search(json!({"pattern": "median"})).await.unwrap_err();
    assert_sandbox_error(&gone, "search");
}

/// A `sandbox` error from `plugin` saying which directory is missing.
#[track_caller]
fn assert_sandbox_error(error: &PluginError, name: &str) {
    assert!(
        matches!(error, PluginError::Guest { plugin, error: GuestError::Sandbox(m) }
            if plugin == name && m.contains("does not exist")),
        "{error:?}"
    );
}

fn trajectory(id: &str) -> Trajectory {
    serde_json::from_value(json!({
        "schema": "plinth-trajectory/0.1", "id": id, "input_index": 0,
        "task": {"prompt": "hi"},
        "messages": [{"role": "user", "content": "hi", "timestamp": 1.0}],
        "tools": [], "exit_status": "Submitted", "submission": "", "error": null,
        "model": "m", "sandbox": "local", "api_calls": 1,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "cost": 0.0,
        "started_at": "2026-11-21T12:00:00Z", "duration_secs": 1.0,
        "plinth_version": "0.1.0", "patch": null, "score": null
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_command_scorer_weighs_checks_and_refuses_bad_configs() {
    let Some(file) = python_scorer("the_python_command_scorer_weighs_checks") else {
        return;
    };
    let scorer = load_scorer(&file).await;
    assert_eq!(scorer.meta.name, "command");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("answer.txt"), "42\n").unwrap();
    let sandbox = sandbox_in(dir.path());
    let score = |task: Value, config: Value| {
        let (scorer, sandbox) = (&scorer, sandbox.clone());
        async move {
            scorer
                .score(
                    &task.to_string(),
                    &trajectory("t1"),
                    &config.to_string(),
                    sandbox,
                )
                .await
        }
    };

    let config = json!({"checks": [
        {"name": "answer", "cmd": "cat answer.txt", "expect_output_regex": "^42$", "weight": 2},
        {"name": "exit-three", "cmd": "exit 3", "expect_exit": 3},
        {"name": "any-exit", "cmd": "false", "expect_exit": null},
        {"cmd": "cat missing.txt"},
        {"name": "slow", "cmd": "sleep 5", "timeout_secs": 1},
    ]});
    let result = score(json!({}), config).await.unwrap();
    assert_eq!(result.reward, 4.0 / 6.0);
    assert_eq!(
        Value::Object(result.sub_scores.clone()),
        json!({"answer": 1.0, "exit-three": 1.0, "any-exit": 1.0, "check-3": 0.0, "slow": 0.0})
    );
    let checks = result.details["checks"].as_array().unwrap();
    assert_eq!(checks[3]["reason"], "exit code 1, expected 0");
    assert!(
        checks[3]["output_tail"]
            .as_str()
            .unwrap()
            .contains("missing.txt")
    );
    assert_eq!(checks[4]["timed_out"], true);

    // The task row's checks, when the config has none.
    let task = json!({"checks": [{"cmd": "test -f answer.txt"}]});
    assert_eq!(score(task, json!({})).await.unwrap().reward, 1.0);

    for (config, why) in [
        (json!({}), "no checks"),
        (json!({"checks": []}), "non-empty list"),
        (json!({"checks": [{"cmd": ""}]}), "checks[0].cmd"),
        (json!({"checks": [{"cmd": "true", "weight": -1}]}), "weight"),
        (
            json!({"checks": [{"cmd": "true", "weight": 0}]}),
            "add up to 0",
        ),
        (
            json!({"checks": [{"cmd": "true", "expect_output_regex": "("}]}),
            "does not compile",
        ),
        (
            json!({"checks": [{"cmd": "true", "expect": 0}]}),
            "unknown field(s): expect",
        ),
        (
            json!({"checks": [{"cmd": "a"}, {"cmd": "b", "name": "check-0"}]}),
            "unique",
        ),
        (json!([1]), "must be a JSON object"),
    ] {
        match score(json!({}), config.clone()).await {
            Err(PluginError::Guest {
                plugin,
                error: GuestError::InvalidInput(message),
            }) => {
                assert_eq!(plugin, "command");
                assert!(message.contains(why), "{config}: {message}");
            }
            other => panic!("{config}: expected invalid-input, got {other:?}"),
        }
    }

    // The sandbox fails under the checks: a `sandbox` error, never reward 0.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let gone = score(json!({}), json!({"checks": [{"cmd": "true"}]})).await;
    assert_sandbox_error(&gone.unwrap_err(), "command");
}

/// A replayed agent that writes a file with the terminal, looks for it with
/// the JavaScript `search` tool, then submits.
fn replay(dir: &Path, task_id: &str) -> PathBuf {
    let call = |id: &str, name: &str, arguments: Value| {
        json!({"role": "assistant", "content": "", "timestamp": 0.0, "tool_calls": [
            {"id": id, "type": "function",
             "function": {"name": name, "arguments": arguments.to_string()}}]})
    };
    let mut record = serde_json::to_value(trajectory(task_id)).unwrap();
    record["messages"] = json!([
        {"role": "user", "content": "find the answer", "timestamp": 0.0},
        call("c1", "terminal", json!({"command": "printf 'answer = 42\\n' > notes.txt"})),
        call("c2", "search", json!({"pattern": "answer = [0-9]+"})),
        call("c3", "terminal", json!({"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})),
    ]);
    let path = dir.join("replay.jsonl");
    std::fs::write(&path, format!("{record}\n")).unwrap();
    path
}

/// `plinth run` of the replayed agent with the JavaScript tool and the
/// Python scorer graded live with `config`, each granted `exec` on the local
/// backend; the run and its one record.
fn run_with(tool: &Path, scorer: &Path, config: &Value) -> (Outcome, Option<Value>) {
    let grants = [
        format!("--grant={}=exec", tool.display()),
        format!("--grant={}=exec", scorer.display()),
        "--allow-local-exec".to_string(),
    ];
    run_granting(tool, scorer, config, &grants)
}

fn run_granting(
    tool: &Path,
    scorer: &Path,
    config: &Value,
    grants: &[String],
) -> (Outcome, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let replay = replay(dir.path(), "task-0");
    let out = dir.path().join("out.jsonl");
    let outcome = Outcome::from(
        plinth()
            .args(["run", "--task", "find the answer", "--format", "canonical"])
            .arg("--model")
            .arg(format!("replay:{}", replay.display()))
            .arg("--tool")
            .arg(tool)
            .arg("--scorer")
            .arg(scorer)
            .args(["--scorer-config", &config.to_string(), "--grade-in", "live"])
            .args(grants)
            .arg("--output-file")
            .arg(&out)
            .output()
            .unwrap(),
    );
    let record = read_jsonl_if_any(&out).into_iter().next();
    (outcome, record)
}

#[test]
fn a_run_uses_the_javascript_tool_and_is_graded_by_the_python_scorer() {
    let test = "a_run_uses_the_javascript_tool_and_is_graded_by_the_python_scorer";
    let (Some(tool), Some(scorer)) = (js_tool(test), python_scorer(test)) else {
        return;
    };
    let config = json!({"checks": [
        {"name": "notes", "cmd": "cat notes.txt", "expect_output_regex": "^answer = 42$", "weight": 3},
        {"name": "tests", "cmd": "test -f test_answer.py"},
    ]});
    let (outcome, record) = run_with(&tool, &scorer, &config);
    outcome.assert_success();
    let record = record.unwrap_or_else(|| panic!("no record: {}", outcome.describe()));
    assert_eq!(record["exit_status"], "Submitted", "{}", record["error"]);
    assert!(
        record["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "search"),
        "{}",
        record["tools"]
    );
    let found = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tool_call_id"] == "c2")
        .unwrap();
    assert_eq!(found["name"], "search");
    assert_eq!(found["content"], "1 matches:\n./notes.txt:1:answer = 42");
    assert_eq!(record["score"]["reward"], 0.75, "{}", record["score"]);
    assert_eq!(
        record["score"]["sub_scores"],
        json!({"notes": 1.0, "tests": 0.0})
    );
    let checks = &record["score"]["details"]["checks"];
    assert_eq!(checks[1]["reason"], "exit code 1, expected 0");
}

#[test]
fn third_party_plugins_need_their_grants_and_local_commands_an_opt_in() {
    let test = "third_party_plugins_need_their_grants_and_local_commands_an_opt_in";
    let (Some(tool), Some(scorer)) = (js_tool(test), python_scorer(test)) else {
        return;
    };
    let config = json!({"checks": [{"name": "notes", "cmd": "true"}]});
    // Granted `exec`, but on the local backend without the user's opt-in:
    // refused before anything runs, saying why.
    let grants = [format!("--grant={}=exec", tool.display())];
    let (outcome, record) = run_granting(&tool, &scorer, &config, &grants);
    assert_ne!(outcome.code, Some(0), "{}", outcome.describe());
    assert!(record.is_none());
    assert!(
        outcome.stderr.contains("--allow-local-exec")
            && outcome.stderr.contains(&tool.display().to_string()),
        "{}",
        outcome.describe()
    );
    // Not granted at all: the tool's first command fails the run as a
    // plugin error naming the tool and the capability.
    let (outcome, record) = run_granting(&tool, &scorer, &config, &[]);
    // (2: the run finished, and a trajectory ended in an error.)
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());
    let record = record.unwrap_or_else(|| panic!("no record: {}", outcome.describe()));
    assert_eq!(record["exit_status"], "PluginError", "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("search") && error.contains("`exec` was not granted"),
        "{error}"
    );
}

#[test]
fn a_wrong_scorer_config_ends_the_run_as_a_plugin_error_naming_the_scorer() {
    let test = "a_wrong_scorer_config_ends_the_run_as_a_plugin_error_naming_the_scorer";
    let (Some(tool), Some(scorer)) = (js_tool(test), python_scorer(test)) else {
        return;
    };
    let (outcome, record) = run_with(&tool, &scorer, &json!({"checks": "cat notes.txt"}));
    let record = record.unwrap_or_else(|| panic!("no record: {}", outcome.describe()));
    assert_eq!(record["exit_status"], "PluginError", "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("`command`"), "{error}");
    assert!(
        error.contains("`checks` must be a non-empty list"),
        "{error}"
    );
    assert!(record["score"].is_null(), "{}", record["score"]);
}

/// `plinth new KIND NAME --lang LANG` in a scratch directory, built by the
/// project's own `build.sh`, inspected; the component.
fn scaffolded(test: &str, kind: &str, lang: Lang, scratch: &Path) -> Option<PathBuf> {
    let version = lang.available(test)?;
    let flag = match lang {
        Lang::Rust => "rust",
        Lang::Python => "python",
        Lang::Js => "js",
    };
    let name = format!("my-{flag}-{kind}");
    let dir = scratch.join(&name);
    let outcome = Outcome::from(
        plinth()
            .args(["new", kind, &name, "--lang", flag, "--dir"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    outcome.assert_success();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("plinth plugins inspect {name}.wasm")),
        "{readme}"
    );
    let wasm = support::toolchains::build_cached(&name, lang, &version, &dir, &["./build.sh"]);
    let inspected = support::toolchains::inspect(&wasm);
    assert!(
        inspected.contains(&format!("name:        {name}")),
        "{inspected}"
    );
    assert!(
        inspected.contains(&format!("kind:        {kind}")),
        "{inspected}"
    );
    Some(wasm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaffolded_plugins_build_with_one_command_and_run() {
    let test = "scaffolded_plugins_build_with_one_command_and_run";
    let scratch = tempfile::tempdir().unwrap();
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("poem.txt"), "one two\nthree\n").unwrap();
    let sandbox = sandbox_in(dir.path());

    if let Some(file) = scaffolded(test, "tool", Lang::Js, scratch.path()) {
        let tool = load_tool(&file).await;
        let result = tool
            .invoke("my-js-tool", r#"{"path": "poem.txt"}"#, sandbox.clone())
            .await
            .unwrap();
        assert_eq!(
            result.content.split_whitespace().collect::<Vec<_>>(),
            ["2", "3", "14", "poem.txt"]
        );
        assert_eq!(result.exec.unwrap().exit_code, 0);
        let err = tool.invoke("my-js-tool", "{}", sandbox.clone()).await;
        assert!(invalid_arguments_of(err, "my-js-tool").contains("path"));
    }
    if let Some(file) = scaffolded(test, "scorer", Lang::Python, scratch.path()) {
        let scorer = load_scorer(&file).await;
        let score = |config: &'static str| {
            let (scorer, sandbox) = (&scorer, sandbox.clone());
            async move { scorer.score("{}", &trajectory("t1"), config, sandbox).await }
        };
        let passed = score(r#"{"command": "grep -q three poem.txt"}"#)
            .await
            .unwrap();
        assert_eq!(
            (passed.reward, &passed.details["exit_code"]),
            (1.0, &json!(0))
        );
        assert_eq!(score(r#"{"command": "false"}"#).await.unwrap().reward, 0.0);
        let err = score("{}").await.unwrap_err();
        assert!(
            matches!(
                &err,
                PluginError::Guest {
                    error: GuestError::InvalidInput(_),
                    ..
                }
            ),
            "{err}"
        );
    }
    if let Some(file) = scaffolded(test, "formatter", Lang::Rust, scratch.path()) {
        let formatter = rt
            .load(&PluginSource::file(&file).unwrap())
            .await
            .unwrap()
            .into_formatter()
            .unwrap();
        let text = formatter
            .format(&trajectory("t1"), &json!({}), true)
            .await
            .unwrap();
        assert_eq!(
            text,
            r#"{"id":"t1","exit_status":"Submitted","reward":null,"messages":1}"#
        );
    }
}

#[track_caller]
fn invalid_arguments_of(result: Result<impl std::fmt::Debug, PluginError>, name: &str) -> String {
    match result {
        Err(PluginError::Guest {
            plugin,
            error: GuestError::InvalidArguments(why),
        }) if plugin == name => why,
        other => panic!("expected invalid-arguments from {name}, got {other:?}"),
    }
}

/// An environment bundle whose tool is JavaScript, whose scorer is Python and
/// whose formatter is a Rust guest built on the SDK (a `plinth new`
/// project): each passes `plinth plugins check`, the bundle passes `plinth
/// env check`, and a batch run from it is graded by the Python scorer and
/// written by the Rust formatter.
#[test]
fn a_bundle_of_three_languages_checks_and_runs() {
    let test = "a_bundle_of_three_languages_checks_and_runs";
    let scratch = tempfile::tempdir().unwrap();
    let (Some(tool), Some(scorer), Some(formatter)) = (
        js_tool(test),
        python_scorer(test),
        scaffolded(test, "formatter", Lang::Rust, scratch.path()),
    ) else {
        return;
    };
    for wasm in [&tool, &scorer, &formatter] {
        let checked = Outcome::from(
            plinth()
                .args(["plugins", "check"])
                .arg(wasm)
                .output()
                .unwrap(),
        );
        checked.assert_success();
        assert!(checked.stdout.contains("peak memory"), "{}", checked.stdout);
    }
    let bundle = scratch.path().join("bundle");
    std::fs::create_dir_all(bundle.join("plugins")).unwrap();
    for (wasm, name) in [
        (&tool, "search.wasm"),
        (&scorer, "command.wasm"),
        (&formatter, "fmt.wasm"),
    ] {
        std::fs::copy(wasm, bundle.join("plugins").join(name)).unwrap();
    }
    std::fs::write(
        bundle.join("plinth-env.toml"),
        r#"manifest_version = 1
[environment]
name = "three-languages"
version = "1.0.0"
api = "0.2.0"
[tools]
plugins = [{ plugin = "plugins/search.wasm", grants = ["exec"] }]
[[scorers]]
plugin = "plugins/command.wasm"
grants = ["exec"]
config = { checks = [
    { name = "notes", cmd = "cat notes.txt", expect_output_regex = "^answer = 42$", weight = 3 },
    { name = "tests", cmd = "test -f test_answer.py" },
] }
[output]
format = "plugins/fmt.wasm"
[grading]
grade_in = "live"
"#,
    )
    .unwrap();
    let checked = Outcome::from(
        plinth()
            .args(["env", "check"])
            .arg(&bundle)
            .output()
            .unwrap(),
    );
    checked.assert_success();
    assert!(
        checked.stdout.contains("all 8 checks passed"),
        "{}",
        checked.stdout
    );

    let replay = replay(scratch.path(), "task-0");
    let out = scratch.path().join("out.jsonl");
    let outcome = Outcome::from(
        plinth()
            .args([
                "run",
                "--allow-local-exec",
                "--task",
                "find the answer",
                "--environment",
            ])
            .arg(&bundle)
            .arg("--model")
            .arg(format!("replay:{}", replay.display()))
            .arg("--output-file")
            .arg(&out)
            .output()
            .unwrap(),
    );
    outcome.assert_success();
    let records = read_jsonl_if_any(&out);
    assert_eq!(
        records,
        [json!({"id": "task-0", "exit_status": "Submitted", "reward": 0.75, "messages": 8})],
        "the Rust formatter's record, with the Python scorer's reward"
    );
}

/// The example bundle `examples/plugins` (the JavaScript tool and the Python
/// scorer, built by their build.sh): it checks, and a replayed agent that
/// searches and answers earns the reward from the scorer's checks.
#[test]
fn the_example_bundle_of_python_and_javascript_plugins_runs() {
    let test = "the_example_bundle_of_python_and_javascript_plugins_runs";
    let (Some(tool), Some(scorer)) = (js_tool(test), python_scorer(test)) else {
        return;
    };
    // The bundle as shipped, with its plugins built where it names them.
    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("plugins");
    let shipped = support::workspace().join("examples/plugins");
    for name in ["plinth-env.toml", "tasks.jsonl"] {
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::copy(shipped.join(name), bundle.join(name)).unwrap();
    }
    for (wasm, path) in [
        (&tool, "search-tool/search.wasm"),
        (&scorer, "command-scorer/command.wasm"),
    ] {
        std::fs::create_dir_all(bundle.join(path).parent().unwrap()).unwrap();
        std::fs::copy(wasm, bundle.join(path)).unwrap();
    }
    let checked = Outcome::from(
        plinth()
            .args(["env", "check"])
            .arg(&bundle)
            .output()
            .unwrap(),
    );
    checked.assert_success();
    assert!(
        checked.stdout.contains("limits: memory 384 MiB"),
        "the scorer's own limits: {}",
        checked.describe()
    );

    let call = |id: &str, name: &str, arguments: Value| {
        json!({"role": "assistant", "content": "", "timestamp": 0.0, "tool_calls": [
            {"id": id, "type": "function",
             "function": {"name": name, "arguments": arguments.to_string()}}]})
    };
    let mut record = serde_json::to_value(trajectory("find-answer")).unwrap();
    record["messages"] = json!([
        {"role": "user", "content": "find it", "timestamp": 0.0},
        call("c1", "search", json!({"pattern": "answer = [0-9]+", "path": "notes"})),
        call("c2", "terminal", json!({"command": "echo 42 > answer.txt"})),
        call("c3", "terminal", json!({"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})),
    ]);
    let replay = scratch.path().join("replay.jsonl");
    std::fs::write(&replay, format!("{record}\n")).unwrap();
    let out = scratch.path().join("out.jsonl");
    let outcome = Outcome::from(
        plinth()
            .args(["run", "--allow-local-exec", "--environment"])
            .arg(&bundle)
            .arg("--model")
            .arg(format!("replay:{}", replay.display()))
            .arg("--output-file")
            .arg(&out)
            .output()
            .unwrap(),
    );
    outcome.assert_success();
    let records = read_jsonl_if_any(&out);
    assert_eq!(records.len(), 1, "{}", outcome.describe());
    let record = &records[0];
    assert_eq!(record["exit_status"], "Submitted", "{}", record["error"]);
    let found = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tool_call_id"] == "c1")
        .unwrap();
    assert!(
        found["content"]
            .as_str()
            .unwrap()
            .contains("notes/week1.txt:2:the answer = 42"),
        "{}",
        found["content"]
    );
    assert_eq!(record["score"]["reward"], 1.0, "{}", record["score"]);
    assert_eq!(record["settings"]["environment"]["name"], "notes-search");
    let scorer_limits = &record["settings"]["plugin_limits"]["per_plugin"]
        [bundle.join("command-scorer/command.wasm").to_str().unwrap()];
    assert_eq!(scorer_limits["memory_bytes"], 384 << 20, "{record}");
}
