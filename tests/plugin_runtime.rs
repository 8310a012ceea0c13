//! The plugin runtime against real components: hostile guests are stopped
//! with clear errors, and the same runtime keeps serving healthy plugins.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth_plugin::builtins::BUILTINS;
use plinth_plugin::{
    ApiVersion, Capability, FormatterPlugin, Grants, GuestError, Plugin, PluginError, PluginKind,
    PluginLimits, PluginRuntime, PluginSource, RuntimeConfig, ToolPlugin,
};
use plinth_record::trajectory::{ExitStatus, Trajectory};
use plinth_sandbox::{LocalSandbox, Sandbox};
use serde_json::json;

fn runtime(cache: &std::path::Path) -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        limits: PluginLimits {
            memory_bytes: 64 << 20,
            cpu_budget: Duration::from_millis(500),
            call_timeout: Duration::from_secs(20),
            ..PluginLimits::default()
        },
        cache_dir: Some(cache.to_path_buf()),
        // The scorer that exercises its session may use all of it.
        plugin_grants: [(
            support::guest("sandbox-scorer").display().to_string(),
            Grants::parse(&["exec", "read", "write"]).unwrap(),
        )]
        .into(),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn builtin(name: &str) -> PluginSource {
    let (_, bytes) = BUILTINS.iter().find(|(n, _)| *n == name).unwrap();
    PluginSource::builtin(name, bytes)
}

async fn hostile(rt: &PluginRuntime) -> FormatterPlugin {
    let source = PluginSource::file(&support::guest("hostile")).unwrap();
    rt.load(&source).await.unwrap().into_formatter().unwrap()
}

async fn terminal(rt: &PluginRuntime) -> ToolPlugin {
    rt.load(&builtin("terminal"))
        .await
        .unwrap()
        .into_tool()
        .unwrap()
}

fn sample_trajectory() -> Trajectory {
    serde_json::from_value(json!({
        "schema": "plinth-trajectory/0.1", "id": "t1", "input_index": 0,
        "task": {"prompt": "hi"},
        "messages": [{"role": "user", "content": "hi", "timestamp": 1.0}],
        "tools": [], "exit_status": "Finished", "submission": "", "error": null,
        "model": "m", "sandbox": "local", "api_calls": 1,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "cost": 0.0,
        "started_at": "2026-11-21T12:00:00Z", "duration_secs": 1.0,
        "plinth_version": "0.1.0", "patch": null, "score": null
    }))
    .unwrap()
}

/// Two rollouts of one task, the first submitted, the second finished.
fn sample_group() -> Vec<Trajectory> {
    let mut first = sample_trajectory();
    first.exit_status = ExitStatus::Submitted;
    let mut second = sample_trajectory();
    second.id = "t2".into();
    second.exit_status = ExitStatus::Finished;
    vec![first, second]
}

async fn guest_plugin(rt: &PluginRuntime, name: &str) -> Plugin {
    let source = PluginSource::file(&support::guest(name)).unwrap();
    rt.load(&source).await.unwrap()
}

/// The runtime still works after a failure: a healthy guest call succeeds.
async fn assert_still_healthy(rt: &PluginRuntime) {
    let hostile = hostile(rt).await;
    let text = hostile
        .format(&sample_trajectory(), &json!({"mode": "ok"}), true)
        .await
        .unwrap();
    assert_eq!(text, r#"{"ok": "t1"}"#);
    let terminal = terminal(rt).await;
    let sandbox: Arc<dyn Sandbox> = Arc::new(LocalSandbox::new(None, Default::default()).unwrap());
    let result = terminal
        .invoke("terminal", r#"{"command": "echo healthy"}"#, sandbox)
        .await
        .unwrap();
    assert!(result.content.contains("healthy"), "{}", result.content);
}

/// Runs the hostile guest in `mode` in a fresh runtime, which must fail;
/// returns the runtime (to check it still works) and the error.
async fn hostile_failure(cache: &std::path::Path, mode: &str) -> (PluginRuntime, PluginError) {
    let rt = runtime(cache);
    let plugin = hostile(&rt).await;
    let err = plugin
        .format(&sample_trajectory(), &json!({"mode": mode}), true)
        .await
        .unwrap_err();
    (rt, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_guest_is_stopped_at_its_cpu_budget() {
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (rt, err) = hostile_failure(cache.path(), "spin").await;
    assert!(matches!(err, PluginError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("hostile"), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_growing_past_the_cap_gets_a_memory_error() {
    let cache = tempfile::tempdir().unwrap();
    let (rt, err) = hostile_failure(cache.path(), "grow").await;
    assert!(matches!(err, PluginError::MemoryLimit { .. }), "{err}");
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_given_its_own_limits_runs_under_them_and_only_it() {
    let cache = tempfile::tempdir().unwrap();
    let path = support::guest("hostile");
    let spec = path.to_string_lossy().into_owned();
    let own = PluginLimits {
        memory_bytes: 128 << 20,
        ..PluginLimits::default()
    };
    let rt = PluginRuntime::new(RuntimeConfig {
        limits: PluginLimits {
            memory_bytes: 64 << 20,
            ..PluginLimits::default()
        },
        plugin_limits: [(spec.clone(), own.clone())].into(),
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let grow = json!({"mode": "grow"});
    // Selected by the path it was given its limits under: 128 MiB, more
    // than the run-wide cap (the pooled slots are sized for the largest).
    let limited = plinth_plugin::catalog::find(&rt, &spec, PluginKind::Formatter, &[])
        .await
        .unwrap()
        .into_formatter()
        .unwrap();
    assert_eq!(limited.meta.limits, own);
    let err = limited
        .format(&sample_trajectory(), &grow, true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("memory limit of 128 MiB"), "{err}");
    // The same bytes selected by another path get the run-wide limits.
    let mut elsewhere = PluginSource::file(&path).unwrap();
    elsewhere.label = "elsewhere/hostile.wasm".into();
    let plain = rt.load(&elsewhere).await.unwrap().into_formatter().unwrap();
    let err = plain
        .format(&sample_trajectory(), &grow, true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_guest_is_a_trap_with_its_message() {
    let cache = tempfile::tempdir().unwrap();
    let (rt, err) = hostile_failure(cache.path(), "panic").await;
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("hostile guest panicked on purpose"),
        "{err}"
    );
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_built_for_another_major_api_is_refused_by_version() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let source = PluginSource::file(&support::guest("future-api")).unwrap();
    let err = rt.load(&source).await.err().expect("must not load");
    match &err {
        PluginError::IncompatibleApi {
            found, supported, ..
        } => {
            assert_eq!(found, "plinth:plugin@1.0.0");
            assert_eq!(supported, "plinth:plugin@0.1.0, plinth:plugin@0.2.0");
        }
        other => panic!("expected a version error, got {other}"),
    }
    assert!(
        err.to_string().contains(
            "built for plinth plugin API plinth:plugin@1.0.0, \
             this host supports plinth:plugin@0.1.0, plinth:plugin@0.2.0"
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("future_api"),
        "names the plugin: {err}"
    );
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_component_and_wrong_kind_are_clear_errors() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let junk = PluginSource {
        label: "junk.wasm".into(),
        builtin: false,
        bytes: b"not a component".to_vec().into(),
    };
    let err = rt.load(&junk).await.err().expect("must not load");
    assert!(matches!(err, PluginError::InvalidComponent { .. }), "{err}");
    assert!(err.to_string().contains("junk.wasm"), "{err}");

    let err = hostile(&rt).await;
    let err = plinth_plugin::Plugin::Formatter(err)
        .into_tool()
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::WrongKind { .. }), "{err}");
    assert_still_healthy(&rt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_tool_runs_commands_in_the_sandbox() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let terminal = terminal(&rt).await;
    assert_eq!(terminal.meta.name, "terminal");
    assert_eq!(terminal.tools.len(), 1);
    assert_eq!(terminal.tools[0].parameters["required"], json!(["command"]));

    let dir = tempfile::tempdir().unwrap();
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(dir.path()), Default::default()).unwrap());
    let result = terminal
        .invoke(
            "terminal",
            r#"{"command": "echo created > made.txt && cat made.txt && exit 3"}"#,
            sandbox.clone(),
        )
        .await
        .unwrap();
    assert!(dir.path().join("made.txt").is_file());
    let content: serde_json::Value = serde_json::from_str(&result.content).unwrap();
    assert_eq!(
        content,
        json!({"content": {"output": "created\n", "exit_code": 3, "error": null}})
    );
    let exec = result.exec.unwrap();
    assert_eq!((exec.exit_code, exec.output.as_str()), (3, "created\n"));

    let err = terminal
        .invoke("terminal", r#"{"command": "#, sandbox.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Guest { error: GuestError::InvalidArguments(m), .. } if m.contains("not valid JSON")),
        "{err}"
    );
    let err = terminal
        .invoke("terminal", r#"{"timeout": 3}"#, sandbox.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("missing required argument `command`"),
        "{err}"
    );
    let err = terminal.invoke("nope", "{}", sandbox).await.unwrap_err();
    assert!(
        matches!(
            &err,
            PluginError::Guest {
                error: GuestError::UnknownTool(_),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    rt.load(&builtin("terminal")).await.unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path().join("components"))
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1);
    // A second runtime (a new process, in effect) loads from the cache.
    let rt2 = runtime(cache.path());
    let terminal = rt2.load(&builtin("terminal")).await.unwrap();
    assert_eq!(terminal.meta().name, "terminal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_0_1_formatter_sees_the_exit_status_string_and_formats_groups_by_its_info() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let plugin = guest_plugin(&rt, "legacy-formatter").await;
    assert_eq!(plugin.meta().api_version, ApiVersion::V0_1);
    assert_eq!(plugin.world(), "plinth:plugin/formatter-plugin@0.1.0");
    let formatter = plugin.into_formatter().unwrap();
    assert_eq!(formatter.meta.name, "legacy-formatter");
    assert!(formatter.info.per_group, "its 0.1 info says per-group");

    let group = sample_group();
    let text = formatter
        .format(&group[0], &json!({}), false)
        .await
        .unwrap();
    assert_eq!(text, "legacy t1 Submitted");
    let text = formatter
        .format_group(&group, &json!({}), false)
        .await
        .unwrap();
    assert_eq!(text, "legacy group t1=Submitted,t2=Finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_0_2_group_formatter_is_one_per_group_formatter_that_sees_the_enum() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let plugin = guest_plugin(&rt, "group-formatter").await;
    let meta = plugin.meta();
    assert_eq!(meta.kind, PluginKind::Formatter);
    assert_eq!(meta.api_version, ApiVersion::V0_2);
    for interface in ["formatter", "group-formatter"] {
        let export = format!("plinth:plugin/{interface}@0.2.0");
        assert!(meta.exports.contains(&export), "{:?}", meta.exports);
    }
    assert_eq!(plugin.world(), "plinth:plugin/group-formatter-plugin@0.2.0");
    let formatter = plugin.into_formatter().unwrap();
    assert!(formatter.info.per_group, "it exports group-formatter");

    let group = sample_group();
    let text = formatter
        .format(&group[0], &json!({}), false)
        .await
        .unwrap();
    assert_eq!(text, "one t1 enum:submitted");
    let text = formatter
        .format_group(&group, &json!({}), false)
        .await
        .unwrap();
    assert_eq!(text, "group of 2: t1=enum:submitted,t2=enum:finished");

    // A formatter of single trajectories is not given a group.
    let err = hostile(&rt)
        .await
        .format_group(&group, &json!({}), true)
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::NotPerGroup { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_0_2_scorer_uses_the_sandbox_it_is_lent() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let scorer = guest_plugin(&rt, "sandbox-scorer")
        .await
        .into_scorer()
        .unwrap();
    assert_eq!(scorer.meta.api_version, ApiVersion::V0_2);
    assert_eq!(scorer.meta.name, "sandbox-scorer");

    let dir = tempfile::tempdir().unwrap();
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(dir.path()), Default::default()).unwrap());
    let group = sample_group();
    let score = scorer
        .score("{}", &group[0], "{}", sandbox.clone())
        .await
        .unwrap();
    assert_eq!(score.reward, 1.0);
    assert_eq!(score.sub_scores["exit_code"], json!(0.0));
    assert_eq!(
        score.details,
        json!({"output": "t1", "read": 2, "cwd_set": true})
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("scored.txt")).unwrap(),
        "t1"
    );
    let score = scorer
        .score("{}", &group[1], "{}", sandbox.clone())
        .await
        .unwrap();
    assert_eq!(score.reward, 0.0, "a finished run is not submitted");

    // A reward that is no number is the scorer's failure, never a record's
    // `"reward": null`.
    let error = scorer
        .score("{}", &group[0], r#"{"reward": "nan"}"#, sandbox)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PluginError::Guest { .. }) && error.to_string().contains("NaN"),
        "{error}"
    );
}

#[test]
fn plugins_inspect_reports_each_api_version() {
    let inspect = |guest: &str| {
        let output = support::run::plinth()
            .args(["plugins", "inspect"])
            .arg(support::guest(guest))
            .output()
            .unwrap();
        let outcome = support::run::Outcome::from(output);
        outcome.assert_success();
        outcome.stdout
    };
    let legacy = inspect("legacy-formatter");
    assert!(
        legacy.contains("world:       plinth:plugin/formatter-plugin@0.1.0"),
        "{legacy}"
    );
    assert!(
        legacy.contains("api:         0.1.0 (supported; new plugins target 0.2.0)"),
        "{legacy}"
    );
    assert!(legacy.contains("per group:           true"), "{legacy}");
    let grouped = inspect("group-formatter");
    assert!(
        grouped.contains("world:       plinth:plugin/group-formatter-plugin@0.2.0"),
        "{grouped}"
    );
    assert!(grouped.contains("api:         0.2.0\n"), "{grouped}");
    let scorer = inspect("sandbox-scorer");
    assert!(
        scorer.contains("world:       plinth:plugin/scorer-plugin@0.2.0"),
        "{scorer}"
    );
}

/// The hostile formatter or tool in `mode`, in a fresh runtime: the result.
async fn hostile_tool(rt: &PluginRuntime, mode: &str) -> Result<String, PluginError> {
    let tool = guest_plugin(rt, "hostile-tool").await.into_tool().unwrap();
    let sandbox: Arc<dyn Sandbox> = Arc::new(LocalSandbox::new(None, Default::default()).unwrap());
    tool.invoke("hostile", &json!({ "mode": mode }).to_string(), sandbox)
        .await
        .map(|result| result.content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tools_meet_the_same_limits_as_formatters() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let err = hostile_tool(&rt, "spin").await.unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err}");
    let err = hostile_tool(&rt, "grow").await.unwrap_err();
    assert!(matches!(err, PluginError::MemoryLimit { .. }), "{err}");
    let err = hostile_tool(&rt, "panic").await.unwrap_err();
    assert!(
        err.to_string().contains("hostile tool panicked on purpose"),
        "{err}"
    );
    assert!(err.to_string().contains("hostile-tool"), "{err}");
    assert_still_healthy(&rt).await;
}

/// A plugin that prints far past its capture cap keeps running: the rest of
/// its output is dropped (and logged), the call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_past_the_output_cap_is_not_a_failure() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    assert_eq!(hostile_tool(&rt, "flood-output").await.unwrap(), "printed");
    let text = hostile(&rt)
        .await
        .format(&sample_trajectory(), &json!({"mode": "flood-output"}), true)
        .await
        .unwrap();
    assert_eq!(text, r#"{"ok": "t1"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonl_record_that_is_not_json_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let formatter = hostile(&rt).await;
    let options = json!({"mode": "not-json"});
    let err = formatter
        .format(&sample_trajectory(), &options, true)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("hostile"), "{text}");
    assert!(text.contains("not JSON"), "{text}");
    assert!(text.contains("ok t1"), "{text}");
    // Outside JSONL any text is a record.
    let text = formatter
        .format(&sample_trajectory(), &options, false)
        .await
        .unwrap();
    assert_eq!(text, "ok t1");
}

/// A tool plugin returning 48 MiB: the model is sent the output cap's worth,
/// head and tail with a marker, as for a command; the run goes on.
#[test]
fn a_flooding_tool_result_reaches_the_model_cut_to_the_output_cap() {
    let dir = tempfile::tempdir().unwrap();
    let call = |id: &str, name: &str, arguments: serde_json::Value| {
        json!({"role": "assistant", "content": "", "timestamp": 0.0, "tool_calls": [
            {"id": id, "type": "function",
             "function": {"name": name, "arguments": arguments.to_string()}}]})
    };
    let mut record = serde_json::to_value(sample_trajectory()).unwrap();
    record["id"] = json!("task-0");
    record["messages"] = json!([
        {"role": "user", "content": "flood", "timestamp": 0.0},
        call("c1", "hostile", json!({"mode": "flood-result"})),
        call("c2", "terminal", json!({"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})),
    ]);
    let replay = dir.path().join("replay.jsonl");
    std::fs::write(&replay, format!("{record}\n")).unwrap();
    let out = dir.path().join("out.jsonl");
    let model = format!("replay:{}", replay.display());
    let tool = support::guest("hostile-tool");
    let outcome = support::run::Outcome::from(
        support::run::plinth()
            .args(["run", "--task", "flood", "--format", "canonical"])
            .args(["--model", &model, "--max-output-bytes", "1000"])
            .arg("--tool")
            .arg(&tool)
            .arg("--output-file")
            .arg(&out)
            .output()
            .unwrap(),
    );
    outcome.assert_success();
    let record: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(record["exit_status"], "Submitted", "{}", record["error"]);
    let result = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tool_call_id"] == "c1")
        .unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(
        result.len() < 1200,
        "{} bytes reached the model",
        result.len()
    );
    assert!(result.contains("bytes of output cut"), "{result}");
    assert!(result.starts_with("flood flood"), "{result}");
}

/// `plinth plugins check` tries a component as a run would and reports what
/// each call cost; anything a run would refuse fails it.
#[test]
fn plugins_check_exercises_a_component_and_reports_its_costs() {
    let check = |guest: &str| {
        support::run::Outcome::from(
            support::run::plinth()
                .args(["plugins", "check", "--plugin-memory", "64m"])
                .arg(support::guest(guest))
                .output()
                .unwrap(),
        )
    };
    let formatter = check("hostile");
    formatter.assert_success();
    assert!(
        formatter.stdout.contains("limits:      memory 64 MiB"),
        "{}",
        formatter.stdout
    );
    assert!(
        formatter.stdout.contains("ok    format: one JSONL record"),
        "{}",
        formatter.stdout
    );
    assert!(
        formatter.stdout.contains("format call: "),
        "{}",
        formatter.stdout
    );
    assert!(
        formatter.stdout.contains("peak memory"),
        "{}",
        formatter.stdout
    );

    let tool = check("hostile-tool");
    tool.assert_success();
    assert!(
        tool.stdout
            .contains("ok    tool `hostile`: parameters are valid JSON Schema"),
        "{}",
        tool.stdout
    );

    // Its records are not JSON: a JSONL run would refuse them.
    let grouped = check("group-formatter");
    assert_eq!(grouped.code, Some(1), "{}", grouped.describe());
    assert!(
        grouped.stdout.contains("FAIL  format: "),
        "{}",
        grouped.stdout
    );
    assert!(grouped.stdout.contains("not JSON"), "{}", grouped.stdout);

    let refused = check("future-api");
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(
        refused.stdout.contains("FAIL  load: "),
        "{}",
        refused.stdout
    );
}

/// The built-in editor, loaded by the host and run in a real local sandbox:
/// create, replace, a refused ambiguous replace, view, undo, and an escape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_editor_edits_files_in_the_sandbox() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let editor = rt
        .load(&builtin("editor"))
        .await
        .unwrap()
        .into_tool()
        .unwrap();
    assert_eq!(editor.tools[0].name, "str_replace_editor");
    let sandbox: Arc<dyn Sandbox> = Arc::new(LocalSandbox::new(None, Default::default()).unwrap());
    let call = |arguments: serde_json::Value| {
        let (editor, sandbox) = (editor.clone(), sandbox.clone());
        async move {
            editor
                .invoke("str_replace_editor", &arguments.to_string(), sandbox)
                .await
                .unwrap()
                .content
        }
    };
    let dir = sandbox.host_path().unwrap().to_path_buf();
    call(json!({"command": "create", "path": "a.py", "file_text": "x = 1\ny = 1\n"})).await;
    assert_eq!(
        std::fs::read_to_string(dir.join("a.py")).unwrap(),
        "x = 1\ny = 1\n"
    );
    let ambiguous =
        call(json!({"command": "str_replace", "path": "a.py", "old_str": "= 1", "new_str": "= 2"}))
            .await;
    assert!(ambiguous.starts_with("Error:"), "{ambiguous}");
    call(json!({"command": "str_replace", "path": "a.py", "old_str": "y = 1", "new_str": "y = 2"}))
        .await;
    assert_eq!(
        std::fs::read_to_string(dir.join("a.py")).unwrap(),
        "x = 1\ny = 2\n"
    );
    let view = call(json!({"command": "view", "path": "a.py"})).await;
    assert!(view.contains("y = 2"), "{view}");
    call(json!({"command": "undo_edit", "path": "a.py"})).await;
    assert_eq!(
        std::fs::read_to_string(dir.join("a.py")).unwrap(),
        "x = 1\ny = 1\n"
    );
    let outside = call(json!({"command": "view", "path": "/etc/passwd"})).await;
    assert!(outside.starts_with("Error:"), "{outside}");
}

/// A scorer meets the same limits as tools and formatters, and its details
/// are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scorers_meet_the_same_limits() {
    let cache = tempfile::tempdir().unwrap();
    let rt = runtime(cache.path());
    let scorer = guest_plugin(&rt, "sandbox-scorer")
        .await
        .into_scorer()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(dir.path()), Default::default()).unwrap());
    let trajectory = sample_trajectory();
    let score = |mode: &str| {
        let config = json!({ "mode": mode }).to_string();
        let (scorer, sandbox, trajectory) = (scorer.clone(), sandbox.clone(), trajectory.clone());
        async move { scorer.score("{}", &trajectory, &config, sandbox).await }
    };
    let err = score("spin").await.unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err}");
    let err = score("grow").await.unwrap_err();
    assert!(matches!(err, PluginError::MemoryLimit { .. }), "{err}");
    let err = score("panic").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("hostile scorer panicked on purpose"),
        "{err}"
    );
    let flooded = score("flood-details").await.unwrap();
    assert_eq!(flooded.details["truncated_bytes"], json!((8 << 20) + 2));
    assert_eq!(flooded.details["head"].as_str().unwrap().len(), 4096);
    assert_still_healthy(&rt).await;
}

/// The hostile tool, loaded as the run selects it (by its path) in a
/// runtime that grants it `grants` (none: nothing), and a workspace.
async fn tool_granted(cache: &std::path::Path, grants: &[&str]) -> (ToolPlugin, tempfile::TempDir) {
    let path = support::guest("hostile-tool");
    let spec = path.display().to_string();
    let mut config = RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    };
    if !grants.is_empty() {
        config
            .plugin_grants
            .insert(spec.clone(), Grants::parse(grants).unwrap());
    }
    let rt = PluginRuntime::new(config).unwrap();
    let tool = plinth_plugin::catalog::find(&rt, &spec, PluginKind::Tool, &[])
        .await
        .unwrap()
        .into_tool()
        .unwrap();
    (tool, tempfile::tempdir().unwrap())
}

/// Invokes the hostile tool in `mode` on `path` in `dir`.
async fn try_capability(
    tool: &ToolPlugin,
    dir: &std::path::Path,
    mode: &str,
    path: &str,
) -> Result<String, PluginError> {
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(dir), Default::default()).unwrap());
    tool.invoke(
        "hostile",
        &json!({"mode": mode, "path": path}).to_string(),
        sandbox,
    )
    .await
    .map(|result| result.content)
}

#[track_caller]
fn assert_denied(result: Result<String, PluginError>, capability: Capability) {
    match result {
        Err(PluginError::CapabilityDenied { plugin, denied }) => {
            assert_eq!(plugin, "hostile-tool");
            assert_eq!(denied.capability, capability, "{denied}");
        }
        other => panic!("expected `{capability}` to be denied, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_not_built_in_may_use_no_capability_it_was_not_granted() {
    let cache = tempfile::tempdir().unwrap();
    let (tool, dir) = tool_granted(cache.path(), &[]).await;
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    assert_denied(
        try_capability(&tool, dir.path(), "exec", "").await,
        Capability::Exec,
    );
    assert_denied(
        try_capability(&tool, dir.path(), "read", "secret.txt").await,
        Capability::Read,
    );
    assert_denied(
        try_capability(&tool, dir.path(), "write", "made.txt").await,
        Capability::Write,
    );
    assert!(!dir.path().join("made.txt").exists());
    let err = try_capability(&tool, dir.path(), "exec", "")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `hostile-tool` used its sandbox beyond its grants: `exec` was not granted"
    );
    // Granted, the same calls go through.
    let (tool, dir) = tool_granted(cache.path(), &["exec", "read", "write"]).await;
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let ran = try_capability(&tool, dir.path(), "exec", "").await.unwrap();
    assert_eq!(ran, "exec ok: ran");
    let read = try_capability(&tool, dir.path(), "read", "notes.txt").await;
    assert_eq!(read.unwrap(), "read ok: hello");
    let wrote = try_capability(&tool, dir.path(), "write", "made.txt").await;
    assert_eq!(wrote.unwrap(), "write ok");
    assert!(dir.path().join("made.txt").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_path_prefixes_hold_against_dotdot_and_symbolic_links() {
    let cache = tempfile::tempdir().unwrap();
    let (tool, dir) = tool_granted(cache.path(), &["read:notes", "write:out"]).await;
    let outside = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::create_dir_all(w.join("notes")).unwrap();
    std::fs::create_dir_all(w.join("out")).unwrap();
    std::fs::write(w.join("notes/a.txt"), "note a").unwrap();
    std::fs::write(w.join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink("../secret.txt", w.join("notes/link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), w.join("out/escape")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("new"), w.join("out/dangling")).unwrap();

    let read = |path: &'static str| try_capability(&tool, w, "read", path);
    assert_eq!(read("notes/a.txt").await.unwrap(), "read ok: note a");
    let absolute = w.join("notes/a.txt").display().to_string();
    let ok = try_capability(&tool, w, "read", &absolute).await;
    assert_eq!(ok.unwrap(), "read ok: note a");
    for path in [
        "secret.txt",
        "notes/../secret.txt",
        "notes/link",
        "/etc/hostname",
    ] {
        assert_denied(read(path).await, Capability::Read);
    }
    let write = |path: &'static str| try_capability(&tool, w, "write", path);
    assert_eq!(write("out/new.txt").await.unwrap(), "write ok");
    assert!(w.join("out/new.txt").is_file());
    assert_eq!(write("out/deeper/new.txt").await.unwrap(), "write ok");
    for path in [
        "out/escape/x.txt",
        "out/dangling",
        "out/../notes/a.txt",
        "notes/b.txt",
    ] {
        assert_denied(write(path).await, Capability::Write);
    }
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    assert_eq!(
        std::fs::read_to_string(w.join("notes/a.txt")).unwrap(),
        "note a"
    );
    assert_denied(try_capability(&tool, w, "exec", "").await, Capability::Exec);
    let err = read("notes/link").await.unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
}
