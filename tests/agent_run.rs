//! End-to-end tests of `plinth run`: the real binary against the scripted
//! mock chat server over TCP, with real sandboxes and real output files.
//!
//! Each test scripts the model's side of the conversation with
//! `plinth_mock_llm::Script` (a prompt carrying `SCRIPT=<key>` plays that
//! script) and checks what plinth recorded, mostly through the canonical
//! format (`wit/canonical-trajectory.md`), and what the mock was sent.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plinth_mock_llm::{Attempt, Faults, MockConfig, RecordedRequest, Reply, Script, ToolCallSpec};
use serde_json::{Value, json};
use support::mock::{Ctx, MODEL, run_cmd, status};
use support::run::read_jsonl;

/// Polls `condition` until it holds, failing after `limit`.
async fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn messages(trajectory: &Value) -> &[Value] {
    trajectory["messages"].as_array().expect("messages")
}

fn messages_of<'a>(trajectory: &'a Value, role: &str) -> Vec<&'a Value> {
    messages(trajectory)
        .iter()
        .filter(|m| m["role"] == role)
        .collect()
}

fn content(message: &Value) -> &str {
    message["content"].as_str().unwrap_or_default()
}

/// The terminal tool's result in a tool message:
/// `{"content": {"output", "exit_code", "error"}}`.
#[track_caller]
fn terminal_result(message: &Value) -> (String, i64) {
    let result: Value = serde_json::from_str(content(message))
        .unwrap_or_else(|e| panic!("not a terminal result ({e}): {message}"));
    let result = &result["content"];
    (
        result["output"].as_str().expect("output").to_string(),
        result["exit_code"].as_i64().expect("exit_code"),
    )
}

/// Outputs of every terminal call, in order.
fn terminal_outputs(trajectory: &Value) -> Vec<String> {
    messages_of(trajectory, "tool")
        .into_iter()
        .map(|m| terminal_result(m).0)
        .collect()
}

/// Messages of a recorded chat request.
fn sent_messages(request: &RecordedRequest) -> Vec<Value> {
    request.json()["messages"]
        .as_array()
        .expect("request messages")
        .clone()
}

/// Seconds between the task message and the first model reply: the time
/// spent getting the first answer, without plinth's start-up.
fn first_reply_secs(trajectory: &Value) -> f64 {
    let user = messages_of(trajectory, "user")[0]["timestamp"]
        .as_f64()
        .unwrap();
    let reply = messages_of(trajectory, "assistant")[0]["timestamp"]
        .as_f64()
        .unwrap();
    reply - user
}

// ---------------------------------------------------------------- completion

#[tokio::test]
async fn hermes_marker_anywhere_in_the_output_submits() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo looking around")],
        vec![run_cmd(
            "echo 'all checks pass'; echo MINI_SWE_AGENT_FINAL_OUTPUT; echo 'Fixed the bug in parser.py'",
        )],
        vec![Attempt::text("not reached")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "Fixed the bug in parser.py");
    assert_eq!(t["api_calls"], 2);
    assert_eq!(ctx.server.stats().chat_completions, 2);
    let outputs = terminal_outputs(&t);
    assert_eq!(outputs[0], "looking around\n");
    assert!(outputs[1].starts_with("all checks pass\nMINI_SWE_AGENT_FINAL_OUTPUT\n"));
}

#[tokio::test]
async fn mswea_marker_on_the_first_output_line_submits() {
    let ctx = Ctx::with_steps(vec![
        // The marker not on the first line is just output.
        vec![run_cmd(
            "echo 'about to run'; echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
        )],
        vec![run_cmd(
            "printf 'COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\\ndiff --git a/x b/x\\n+fixed\\n'",
        )],
        vec![Attempt::text("not reached")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "diff --git a/x b/x\n+fixed\n");
    assert_eq!(t["api_calls"], 2);
}

#[tokio::test]
async fn own_completion_markers_replace_the_defaults() {
    let ctx = Ctx::with_steps(vec![
        // The default markers mean nothing once the run names its own.
        vec![run_cmd(
            "echo MINI_SWE_AGENT_FINAL_OUTPUT; echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
        )],
        // A first-line marker not on the first line is just output.
        vec![run_cmd("echo checking; echo DONE")],
        vec![run_cmd("echo 'tests pass <<SUBMIT>> fixed it'")],
        vec![Attempt::text("not reached")],
    ])
    .await;
    let t = ctx
        .run_task(&[
            "--completion-marker",
            "DONE",
            "--completion-marker",
            "anywhere:<<SUBMIT>>",
        ])
        .await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "fixed it");
    assert_eq!(t["api_calls"], 3);
    assert_eq!(
        t["settings"]["agent"]["completion_markers"],
        json!(["first-line:DONE", "anywhere:<<SUBMIT>>"])
    );
}

#[tokio::test]
async fn an_observation_template_shapes_what_the_model_sees_of_each_result() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo out; (exit 3)")],
        vec![run_cmd("echo MINI_SWE_AGENT_FINAL_OUTPUT; echo done")],
    ])
    .await;
    let template = ctx.path("observation.j2");
    std::fs::write(
        &template,
        "<returncode>{{ returncode }}</returncode>\n<output>\n{{ output }}</output>",
    )
    .unwrap();
    let t = ctx
        .run_task(&["--observation-template", template.to_str().unwrap()])
        .await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    let tool = messages_of(&t, "tool");
    assert_eq!(
        content(tool[0]),
        "<returncode>3</returncode>\n<output>\nout\n</output>"
    );
    // The model was sent exactly that.
    let sent = sent_messages(&ctx.requests()[1]);
    assert_eq!(sent.last().unwrap()["content"], content(tool[0]));
    let hash = &t["settings"]["templates"]["observation"];
    assert_eq!(hash.as_str().unwrap().len(), 64, "{:#}", t["settings"]);
}

#[tokio::test]
async fn a_reply_without_tool_calls_finishes() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo 41")],
        vec![Attempt::text("The answer is 42.")],
        vec![run_cmd("echo not reached")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(t["api_calls"], 2);
    let last = messages(&t).last().unwrap();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["content"], "The answer is 42.");
    assert!(last.get("tool_calls").is_none(), "{last}");
    assert_eq!(ctx.server.stats().chat_completions, 2);
}

#[tokio::test]
async fn require_tool_calls_answers_a_text_reply_with_a_format_error() {
    let ctx = Ctx::with_steps(vec![
        vec![Attempt::text("I think it is done.")],
        vec![run_cmd("echo MINI_SWE_AGENT_FINAL_OUTPUT; echo checked")],
    ])
    .await;
    let t = ctx.run_task(&["--require-tool-calls"]).await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "checked");

    // system, task, the text reply, then the host's format-error message.
    let error = &messages(&t)[3];
    assert_eq!(error["role"], "user", "{t:#}");
    assert_eq!(error["interrupt"], "FormatError");
    let text = content(error);
    assert!(text.contains("did not call a tool"), "{text}");
    assert!(text.contains("terminal"), "{text}");

    // The model was told: its second request ends with that message.
    let requests = ctx.requests();
    assert_eq!(requests.len(), 2);
    let sent = sent_messages(&requests[1]);
    let last = sent.last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"], text);
}

// -------------------------------------------------------------------- limits

#[tokio::test]
async fn max_iterations_ends_with_limits_exceeded() {
    let ctx = Ctx::with_steps(vec![vec![run_cmd("echo step")]]).await;
    let t = ctx.run_task(&["--max-iterations", "3"]).await;
    assert_eq!(status(&t), "LimitsExceeded", "{t:#}");
    assert_eq!(t["api_calls"], 3);
    assert_eq!(ctx.server.stats().chat_completions, 3);
    assert_eq!(terminal_outputs(&t), vec!["step\n"; 3]);
}

#[tokio::test]
async fn cost_limit_ends_with_limits_exceeded() {
    // $1 per million input tokens and $2 per million output tokens: each
    // reply below costs 0.4 + 0.1 = $0.50.
    let ctx = Ctx::with_steps(vec![vec![run_cmd("echo spend").usage(400_000, 50_000)]]).await;
    let prices = ctx.path("prices.toml");
    std::fs::write(
        &prices,
        format!("[\"{MODEL}\"]\ninput_per_million = 1.0\noutput_per_million = 2.0\n"),
    )
    .unwrap();
    let t = ctx
        .run_task(&[
            "--price-table",
            prices.to_str().unwrap(),
            "--cost-limit",
            "1.2",
            "--max-iterations",
            "50",
        ])
        .await;
    assert_eq!(status(&t), "LimitsExceeded", "{t:#}");
    // $1.00 after two calls is under the limit; $1.50 after three is not.
    assert_eq!(t["api_calls"], 3);
    assert!(
        (t["cost"].as_f64().unwrap() - 1.5).abs() < 1e-9,
        "{}",
        t["cost"]
    );
    assert_eq!(
        t["usage"],
        json!({"prompt_tokens": 1_200_000, "completion_tokens": 150_000})
    );
    for reply in messages_of(&t, "assistant") {
        assert!(
            (reply["cost"].as_f64().unwrap() - 0.5).abs() < 1e-9,
            "{reply}"
        );
    }
    assert_eq!(ctx.server.stats().chat_completions, 3);
}

#[tokio::test]
async fn time_limit_ends_with_time_exceeded_and_kills_the_command() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd(
            "echo $$ > shell.pid; sleep 30; echo finished > late.txt",
        )],
        vec![Attempt::text("not reached")],
    ])
    .await;
    let work = ctx.path("work");
    let started = Instant::now();
    let t = ctx
        .run_task(&["--time-limit", "1", "--cwd", work.to_str().unwrap()])
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status(&t), "TimeExceeded", "{t:#}");
    let duration = t["duration_secs"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&duration), "{duration}");
    assert_eq!(t["api_calls"], 1);

    // The command's whole process group is gone, the `sleep` included.
    let pid: i32 = std::fs::read_to_string(work.join("shell.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for(
        "the command's process group to be killed",
        Duration::from_secs(5),
        || {
            // SAFETY: signal 0 only checks whether the group exists.
            unsafe { libc::kill(-pid, 0) != 0 }
        },
    )
    .await;
    assert!(!work.join("late.txt").exists());
}

// ------------------------------------------------------------- format errors

#[tokio::test]
async fn repeated_format_errors_end_the_run_and_each_is_explained() {
    let ctx = Ctx::with_steps(vec![
        vec![Attempt::tool_call("terminal", r#"{"command": "ls -la"#)],
        vec![Attempt::tool_call("run_python", r#"{"code": "print(1)"}"#)],
        vec![Attempt::tool_call("terminal", r#"{"cmd": "ls"}"#)],
        vec![run_cmd("echo not reached")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "RepeatedFormatError", "{t:#}");
    assert_eq!(t["api_calls"], 3);
    assert!(
        t["error"].as_str().unwrap().contains("3 consecutive"),
        "{}",
        t["error"]
    );

    let observations: Vec<&str> = messages_of(&t, "tool").into_iter().map(content).collect();
    assert_eq!(observations.len(), 3, "{t:#}");
    let expectations: [&[&str]; 3] = [
        &["invalid arguments for `terminal`", "not valid JSON"],
        &["unknown tool `run_python`", "Available tools: terminal"],
        &[
            "invalid arguments for `terminal`",
            "\"command\" is a required property",
        ],
    ];
    for (observation, needles) in observations.iter().zip(expectations) {
        for needle in needles {
            assert!(
                observation.contains(needle),
                "{needle:?} not in {observation:?}"
            );
        }
    }
    // Each tool message answers its call.
    for (reply, tool) in messages_of(&t, "assistant")
        .iter()
        .zip(messages_of(&t, "tool"))
    {
        assert_eq!(reply["tool_calls"][0]["id"], tool["tool_call_id"]);
    }

    // The model saw the first two observations (the third ended the run).
    let requests = ctx.requests();
    assert_eq!(requests.len(), 3);
    for (request, observation) in requests[1..].iter().zip(&observations) {
        let sent = sent_messages(request);
        let last = sent.last().unwrap();
        assert_eq!(last["role"], "tool");
        assert_eq!(last["content"], *observation);
    }
}

#[tokio::test]
async fn format_errors_must_be_consecutive_to_end_the_run() {
    let bad = || Attempt::tool_call("terminal", "not json");
    let ctx = Ctx::with_steps(vec![
        vec![bad()],
        vec![bad()],
        vec![run_cmd("echo recovered")],
        vec![bad()],
        vec![bad()],
        vec![run_cmd("echo MINI_SWE_AGENT_FINAL_OUTPUT done")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "done");
    assert_eq!(t["api_calls"], 6);
}

// ------------------------------------------------------------------- retries

#[tokio::test]
async fn retries_a_429_after_its_retry_after() {
    // The first back-off is 1-2 s with jitter, so only a client that honours
    // Retry-After waits the full 2 s.
    let ctx = Ctx::with_steps(vec![vec![
        Attempt::http_error(429, Some(2), None),
        Attempt::text("made it"),
    ]])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(t["submission"], "made it");
    assert_eq!(t["api_calls"], 1);
    let waited = first_reply_secs(&t);
    assert!(waited >= 2.0, "answered after {waited}s");
    let stats = ctx.server.stats();
    assert_eq!((stats.chat_completions, stats.error_responses), (2, 1));
}

#[tokio::test]
async fn retries_server_errors() {
    let ctx = Ctx::with_steps(vec![vec![
        Attempt::http_error(500, None, None),
        Attempt::http_error(503, None, Some("upstream overloaded")),
        Attempt::text("third time lucky"),
    ]])
    .await;
    let t = ctx.run_task(&[]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(t["submission"], "third time lucky");
    assert_eq!(t["api_calls"], 1);
    let stats = ctx.server.stats();
    assert_eq!((stats.chat_completions, stats.error_responses), (3, 2));
}

#[tokio::test]
async fn retries_a_reply_slower_than_the_request_timeout() {
    let ctx = Ctx::with_steps(vec![vec![
        Attempt::text("too late").delay(Duration::from_secs(10)),
        Attempt::text("in time"),
    ]])
    .await;
    let t = ctx.run_task(&["--request-timeout", "0.5"]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(t["submission"], "in time");
    assert_eq!(ctx.server.stats().chat_completions, 2);
    // It gave up on the slow reply rather than waiting it out.
    let waited = first_reply_secs(&t);
    assert!((0.5..8.0).contains(&waited), "answered after {waited}s");
}

#[tokio::test]
async fn a_failed_model_call_ends_with_a_model_error() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::http_error(
        400,
        None,
        Some(r#"{"error": {"message": "context length exceeded"}}"#),
    )]])
    .await;
    let outcome = ctx.run(&["--task", "Please do the task."]).await;
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());
    let records = read_jsonl(&ctx.output());
    let t = &records[0];
    assert_eq!(status(t), "ModelError", "{t:#}");
    let error = t["error"].as_str().unwrap();
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("context length exceeded"), "{error}");
    // A client error is not retried.
    assert_eq!(ctx.server.stats().chat_completions, 1);
}

// ------------------------------------------------------------ what is recorded

#[tokio::test]
async fn reasoning_is_recorded() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo hi").reasoning("First, look at the files.")],
        vec![Attempt::text("Done.").reasoning("Nothing left to do.")],
    ])
    .await;
    let t = ctx.run_task(&[]).await;
    let replies = messages_of(&t, "assistant");
    assert_eq!(replies[0]["reasoning"], "First, look at the files.");
    assert_eq!(replies[1]["reasoning"], "Nothing left to do.");
    assert!(messages_of(&t, "tool")[0].get("reasoning").is_none());
}

#[tokio::test]
async fn text_actions_run_bash_blocks_and_tool_call_tags() {
    let script = Script::new().default_task("t").task(
        "t",
        vec![
            vec![Attempt::bash("echo from-a-bash-block > a.txt")],
            vec![Attempt::xml_tool_call(
                "terminal",
                r#"{"command": "cat a.txt; echo MINI_SWE_AGENT_FINAL_OUTPUT; echo tagged"}"#,
            )],
            vec![Attempt::text("not reached")],
        ],
    );
    let ctx = Ctx::new(script).await;
    let work = ctx.path("work");
    let t = ctx
        .run_task(&["--text-actions", "--cwd", work.to_str().unwrap()])
        .await;
    assert_eq!(status(&t), "Submitted", "{t:#}");
    assert_eq!(t["submission"], "tagged");
    assert_eq!(
        std::fs::read_to_string(work.join("a.txt")).unwrap(),
        "from-a-bash-block\n"
    );
    let replies = messages_of(&t, "assistant");
    assert_eq!(
        replies[0]["tool_calls"][0]["function"],
        json!({"name": "terminal", "arguments": r#"{"command":"echo from-a-bash-block > a.txt"}"#})
    );
    assert_eq!(replies[1]["tool_calls"][0]["function"]["name"], "terminal");
    let outputs = terminal_outputs(&t);
    assert_eq!(outputs[0], "");
    assert!(
        outputs[1].starts_with("from-a-bash-block\n"),
        "{}",
        outputs[1]
    );

    // Without the flag the same bash block is a final answer.
    std::fs::remove_file(work.join("a.txt")).unwrap();
    let t = ctx.run_task(&["--cwd", work.to_str().unwrap()]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert!(!work.join("a.txt").exists());
}

#[tokio::test]
async fn commands_really_run_in_the_working_directory() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd(
            "mkdir -p src/pkg && printf 'made by the agent\\n' > src/pkg/made.txt && pwd",
        )],
        vec![Attempt::tool_calls(&[
            ("terminal", r#"{"command": "cat src/pkg/made.txt"}"#),
            (
                "terminal",
                r#"{"command": "echo to-stderr >&2; ls no-such-file"}"#,
            ),
            (
                "terminal",
                r#"{"command": "printf '\\033[1;31mred\\033[0m plain\\n'"}"#,
            ),
        ])],
        vec![Attempt::text("Files written.")],
    ])
    .await;
    let work = ctx.path("work");
    let t = ctx.run_task(&["--cwd", work.to_str().unwrap()]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(
        std::fs::read_to_string(work.join("src/pkg/made.txt")).unwrap(),
        "made by the agent\n"
    );
    let tools = messages_of(&t, "tool");
    let (pwd, code) = terminal_result(tools[0]);
    assert_eq!(
        Path::new(pwd.trim()).canonicalize().unwrap(),
        work.canonicalize().unwrap()
    );
    assert_eq!(code, 0);
    assert_eq!(
        terminal_result(tools[1]),
        ("made by the agent\n".to_string(), 0)
    );
    let (output, code) = terminal_result(tools[2]);
    assert!(output.starts_with("to-stderr\n"), "{output}");
    assert!(output.contains("no-such-file"), "{output}");
    assert_ne!(code, 0);
    // Colour escapes are stripped.
    assert_eq!(terminal_result(tools[3]), ("red plain\n".to_string(), 0));
}

#[tokio::test]
async fn long_output_is_cut_in_the_middle_with_a_marker() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("seq 1 5000")],
        vec![Attempt::text("Seen.")],
    ])
    .await;
    let t = ctx.run_task(&["--max-output-bytes", "1000"]).await;
    let output = &terminal_outputs(&t)[0];
    let total: usize = (1..=5000).map(|i: u32| i.to_string().len() + 1).sum();
    // 500 bytes of head and 500 of tail are kept.
    let marker = format!(
        "\n[... {} bytes of output cut; showing the first and last 500 bytes ...]\n",
        total - 1000
    );
    let (head, tail) = output
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {output:?}"));
    let full: String = (1..=5000).map(|i| format!("{i}\n")).collect();
    assert_eq!(head, &full[..500]);
    assert_eq!(tail, &full[full.len() - 500..]);
    assert!(tail.ends_with("4999\n5000\n"));
}

// ------------------------------------------------------------------- batches

/// Writes `n` task rows with ids `job-000`..., each naming `script`;
/// returns the file and the ids.
fn write_tasks(ctx: &Ctx, script: &str, n: usize) -> (PathBuf, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("job-{i:03}")).collect();
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "prompt": format!("SCRIPT={script} task number {i}")}))
        .collect();
    (ctx.tasks(&rows), ids)
}

/// Every task exactly once, each at its input index.
#[track_caller]
fn assert_each_task_once(records: &[Value], ids: &[String]) {
    let mut seen = BTreeMap::new();
    for record in records {
        let id = record["id"].as_str().expect("id").to_string();
        let index = record["input_index"].as_u64().expect("input_index");
        assert_eq!(ids[index as usize], id, "{id} at input index {index}");
        assert!(seen.insert(id.clone(), index).is_none(), "{id} twice");
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "missing records: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_200_tasks_at_concurrency_32() {
    let script = Script::new().task(
        "batch",
        vec![
            vec![run_cmd("touch mine && pwd && ls").delay(Duration::from_millis(100))],
            vec![Attempt::text("done")],
        ],
    );
    let ctx = Ctx::new(script).await;
    let (tasks, ids) = write_tasks(&ctx, "batch", 200);
    let started = Instant::now();
    let outcome = ctx
        .run(&[
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--concurrency",
            "32",
        ])
        .await;
    let wall = started.elapsed();
    outcome.assert_success();
    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), 200);
    assert_each_task_once(&records, &ids);
    // Each task ran in a fresh directory of its own, removed afterwards.
    let mut dirs = BTreeSet::new();
    for record in &records {
        assert_eq!(status(record), "Finished", "{record:#}");
        let output = &terminal_outputs(record)[0];
        let (dir, listing) = output.split_once('\n').unwrap();
        assert_eq!(listing, "mine\n", "{output}");
        assert!(!Path::new(dir).exists(), "{dir} was left behind");
        dirs.insert(dir.to_string());
    }
    assert_eq!(dirs.len(), 200);
    let summary = outcome.summary();
    assert_eq!(summary["tasks"], 200);
    assert_eq!(summary["api_calls"]["total"], 400);
    assert_eq!(summary["by_status"], json!({"Finished": 200}));
    // The same summary is saved beside the output.
    let saved = ctx.output().with_extension("summary.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(saved, summary);
    let stats = ctx.server.stats();
    assert_eq!(stats.chat_completions, 400);
    // Up to 32 at once, and really more than one.
    assert!(
        (8..=32).contains(&stats.max_in_flight),
        "max in flight: {}",
        stats.max_in_flight
    );
    // Serially, the 100 ms first replies alone would take 20 s.
    assert!(wall < Duration::from_secs(15), "{wall:?}");
}

/// A third of the model's replies are faults of every kind the mock knows
/// (429, 5xx, cut bodies, error objects and empty choices in a 200, dropped
/// connections): with retries enough, every task ends as it would without
/// them, once, and each fault cost exactly one extra request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_survives_a_third_of_replies_faulted() {
    const TASKS: usize = 50;
    let script = Script::new().task(
        "faulty",
        vec![vec![run_cmd("echo step one")], vec![Attempt::text("done")]],
    );
    let ctx = Ctx::with_config(MockConfig {
        faults: Faults::at_rate(0.35),
        ..MockConfig::scripted(script)
    })
    .await;
    let (tasks, ids) = write_tasks(&ctx, "faulty", TASKS);
    let started = Instant::now();
    let outcome = ctx
        .run(&[
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--concurrency",
            "8",
            "--max-retries",
            "15",
            "--retry-delay",
            "0.01",
        ])
        .await;
    outcome.assert_success();
    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), TASKS, "{}", outcome.describe());
    assert_each_task_once(&records, &ids);
    for record in &records {
        assert_eq!(status(record), "Finished", "{record:#}");
        assert_eq!(record["api_calls"], 2, "{record:#}");
    }
    assert_eq!(outcome.summary()["by_status"], json!({"Finished": TASKS}));
    let stats = ctx.server.stats();
    assert!(
        stats.faults_injected >= TASKS as u64 / 2,
        "only {} faults",
        stats.faults_injected
    );
    assert_eq!(
        stats.chat_completions,
        2 * TASKS as u64 + stats.faults_injected
    );
    // Short back-off: only the 429s' one-second Retry-After adds up.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

/// Complete lines of a file (0 when it does not exist).
fn complete_lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Starts `plinth run args`, kills it with SIGKILL once its done file lists
/// at least `stored` records, and appends half a record to the output, as a
/// kill in the middle of a write leaves it. Returns the records the done file
/// lists.
async fn run_and_kill(ctx: &Ctx, args: &[&str], stored: usize, log: &str) -> usize {
    run_and_kill_when(ctx, args, log, |lines| lines >= stored).await
}

/// [`run_and_kill`] once `ready` holds for the done file's line count.
async fn run_and_kill_when(
    ctx: &Ctx,
    args: &[&str],
    log: &str,
    mut ready: impl FnMut(usize) -> bool,
) -> usize {
    let done_file = ctx.path("out.jsonl.done");
    let log = std::fs::File::create(ctx.path(log)).unwrap();
    let mut child = ctx
        .command(args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_for("the moment to kill", Duration::from_secs(30), || {
        ready(complete_lines(&done_file))
    })
    .await;
    child.kill().await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let mut output = std::fs::OpenOptions::new()
        .append(true)
        .open(ctx.output())
        .unwrap();
    std::io::Write::write_all(
        &mut output,
        br#"{"schema": "plinth-trajectory/0.1", "id": "jo"#,
    )
    .unwrap();
    complete_lines(&done_file)
}

/// Runs cut short leave their checkpoint journals, which `plinth format`
/// reads back as in-progress canonical records.
fn assert_checkpoints_read_back(dir: &Path) {
    let journals: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert!(!journals.is_empty(), "no checkpoint in {}", dir.display());
    for journal in journals {
        let output = support::run::plinth()
            .args(["format", "--format", "openai", "--input"])
            .arg(&journal)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.lines().count() == 1,
            "{}: {text}{}",
            journal.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_sigkill_runs_every_task_exactly_once() {
    const TASKS: usize = 40;
    let script = Script::new().task(
        "slow",
        vec![
            vec![run_cmd("echo step one").delay(Duration::from_millis(150))],
            vec![Attempt::text("done").delay(Duration::from_millis(150))],
        ],
    );
    let ctx = Ctx::new(script).await;
    let (tasks, ids) = write_tasks(&ctx, "slow", TASKS);
    let args = [
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--concurrency",
        "4",
    ];
    let mut resume = args.to_vec();
    resume.push("--resume");

    // Killed mid-batch, then killed again mid-way through resuming.
    let first = run_and_kill(&ctx, &args, 8, "first.log").await;
    assert!(first < TASKS, "the first run finished before it was killed");
    assert_checkpoints_read_back(&ctx.path("out.jsonl.partial"));
    let second = run_and_kill(&ctx, &resume, first + 8, "second.log").await;
    assert!(
        second < TASKS,
        "the second run finished before it was killed"
    );
    let requests_before = ctx.requests().len();

    let outcome = ctx.run(&resume).await;
    outcome.assert_success();
    let summary = outcome.summary();
    assert_eq!(summary["skipped"], second, "{}", outcome.describe());
    assert_eq!(summary["tasks"], TASKS - second);

    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), TASKS);
    assert_each_task_once(&records, &ids);
    assert!(records.iter().all(|r| status(r) == "Finished"));
    assert_eq!(complete_lines(&ctx.path("out.jsonl.done")), TASKS);
    let left: Vec<_> = std::fs::read_dir(ctx.path("out.jsonl.partial"))
        .into_iter()
        .flatten()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "checkpoints left behind: {left:?}");

    // Tasks stored before the last run were not asked again.
    let stored: BTreeSet<String> = records[..second]
        .iter()
        .map(|r| r["input_index"].to_string())
        .collect();
    for request in &ctx.requests()[requests_before..] {
        let task = sent_messages(request)
            .iter()
            .find(|m| m["role"] == "user")
            .map(|m| content(m).to_string())
            .unwrap();
        let number = task.rsplit_once("task number ").unwrap().1;
        assert!(!stored.contains(number), "{task} ran again");
    }
}

/// Writes `n` task rows, even ones playing `even` and odd ones `odd`;
/// returns the file and the ids.
fn write_mixed_tasks(ctx: &Ctx, even: &str, odd: &str, n: usize) -> (PathBuf, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("job-{i:03}")).collect();
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let script = if i % 2 == 0 { even } else { odd };
            json!({"id": id, "prompt": format!("SCRIPT={script} task number {i}")})
        })
        .collect();
    (ctx.tasks(&rows), ids)
}

/// Odd tasks' first model call fails (a 500, no retries): they end in
/// `ModelError`. A later call answers.
fn half_failing_script(later: Attempt) -> Script {
    Script::new()
        .task("good", vec![vec![Attempt::text("done")]])
        .task(
            "flaky",
            vec![vec![Attempt::http_error(500, None, None), later]],
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_runs_errored_tasks_again_unless_told_to_keep_them() {
    const TASKS: usize = 12;
    let ctx = Ctx::new(half_failing_script(Attempt::text("done"))).await;
    let (tasks, ids) = write_mixed_tasks(&ctx, "good", "flaky", TASKS);
    let args = [
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--concurrency",
        "4",
        "--max-retries",
        "0",
    ];
    let outcome = ctx.run(&args).await;
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());
    let first = read_jsonl(&ctx.output());
    assert_each_task_once(&first, &ids);
    let errored = |records: &[Value]| records.iter().filter(|r| status(r) == "ModelError").count();
    assert_eq!(errored(&first), TASKS / 2);

    // Kept: nothing runs, the output stays as it was.
    let before = std::fs::read(ctx.output()).unwrap();
    let requests = ctx.server.stats().chat_completions;
    let mut keep = args.to_vec();
    keep.extend(["--resume", "--resume-keep-errors"]);
    let outcome = ctx.run(&keep).await;
    outcome.assert_success();
    assert_eq!(outcome.summary()["tasks"], 0, "{}", outcome.describe());
    assert_eq!(outcome.summary()["skipped"], TASKS);
    assert_eq!(std::fs::read(ctx.output()).unwrap(), before);
    assert_eq!(ctx.server.stats().chat_completions, requests);

    // Retried: exactly the errored tasks run, and replace their records.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let outcome = ctx.run(&resume).await;
    outcome.assert_success();
    let summary = outcome.summary();
    assert_eq!(summary["tasks"], TASKS / 2, "{}", outcome.describe());
    assert_eq!(summary["skipped"], TASKS / 2);
    assert_eq!(summary["by_status"], json!({"Finished": TASKS / 2}));
    assert_eq!(
        ctx.server.stats().chat_completions,
        requests + TASKS as u64 / 2
    );
    let records = read_jsonl(&ctx.output());
    assert_each_task_once(&records, &ids);
    assert!(records.iter().all(|r| status(r) == "Finished"));
    // The good records are the same bytes as before, first.
    let good: Vec<&Value> = first.iter().filter(|r| status(r) == "Finished").collect();
    assert_eq!(records[..TASKS / 2].iter().collect::<Vec<_>>(), good);
    assert_eq!(complete_lines(&ctx.path("out.jsonl.done")), TASKS);
    assert!(!ctx.path("out.jsonl.compact").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_retries_errors_survives_sigkill() {
    const TASKS: usize = 20;
    let later = Attempt::text("done").delay(Duration::from_millis(200));
    let ctx = Ctx::new(half_failing_script(later)).await;
    let (tasks, ids) = write_mixed_tasks(&ctx, "good", "flaky", TASKS);
    let args = [
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--concurrency",
        "2",
        "--max-retries",
        "0",
    ];
    let outcome = ctx.run(&args).await;
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());
    let mut resume = args.to_vec();
    resume.push("--resume");

    // The errored records go (the done file shrinks to the good ones), two
    // tasks are run again, then a kill -9 (and half a record appended, as a
    // kill mid-write leaves it).
    let mut compacted = false;
    let stored = run_and_kill_when(&ctx, &resume, "resume.log", |lines| {
        compacted |= lines == TASKS / 2;
        compacted && lines >= TASKS / 2 + 2
    })
    .await;
    assert!(stored < TASKS, "the resume finished before it was killed");

    let outcome = ctx.run(&resume).await;
    outcome.assert_success();
    assert_eq!(
        outcome.summary()["skipped"],
        stored,
        "{}",
        outcome.describe()
    );
    let records = read_jsonl(&ctx.output());
    assert_each_task_once(&records, &ids);
    assert!(records.iter().all(|r| status(r) == "Finished"));
    assert_eq!(complete_lines(&ctx.path("out.jsonl.done")), TASKS);
}

#[tokio::test]
async fn bad_input_lines_are_reported_and_the_others_run() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("done")]]).await;
    let tasks = ctx.path("tasks.jsonl");
    std::fs::write(
        &tasks,
        [
            b"{\"id\": \"good-1\", \"prompt\": \"first\"}\n".as_slice(),
            b"{\"id\": \"broken\", \"prompt\": \"unterminated\n",
            b"{\"id\": \"no-prompt\", \"repo\": \"x\"}\n",
            b"{\"id\": \"empty\", \"prompt\": \"   \"}\n",
            b"{\"id\": \"latin-1\", \"prompt\": \"caf\xe9\"}\n",
            b"{\"id\": \"good-2\", \"task\": \"second\"}\n",
        ]
        .concat(),
    )
    .unwrap();
    let outcome = ctx.run(&["--prompts-file", tasks.to_str().unwrap()]).await;
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());
    for (line, reason) in [
        (2, "invalid JSON"),
        (3, "no `prompt`"),
        (4, "empty"),
        (5, "not valid UTF-8"),
    ] {
        let needle = format!("line {line}: ");
        assert!(
            outcome
                .stderr
                .lines()
                .any(|l| l.contains(&needle) && l.contains(reason)),
            "no report of line {line} ({reason}):\n{}",
            outcome.stderr
        );
    }
    let records = read_jsonl(&ctx.output());
    let mut ran: Vec<(String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["input_index"].as_u64().unwrap(),
            )
        })
        .collect();
    ran.sort();
    assert_eq!(
        ran,
        vec![("good-1".to_string(), 0), ("good-2".to_string(), 5)]
    );
    assert!(records.iter().all(|r| status(r) == "Finished"));
    assert_eq!(outcome.summary()["bad_lines"], 4);
}

// ------------------------------------------------------------------- secrets

#[tokio::test]
async fn api_keys_stay_out_of_outputs_checkpoints_and_logs() {
    const KEY: &str = "sk-plinth-test-4f9d2c7e1b8a";
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd(
            "echo \"env=[$OPENAI_API_KEY]\"; echo \"file=[$(cat key.txt)]\"; \
             echo \"argv=[$(tr '\\0' ' ' < /proc/$PPID/cmdline)]\"",
        )],
        // Slow, so the checkpoint after step one can be read meanwhile.
        vec![Attempt::text("done").delay(Duration::from_millis(1500))],
    ])
    .await;
    let work = ctx.path("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("key.txt"), KEY).unwrap();
    let log = ctx.path("plinth.log");
    let mut child = ctx
        .command(&[
            "--task",
            "Please do the task.",
            "--api-key",
            KEY,
            "--cwd",
            work.to_str().unwrap(),
            "--verbose",
        ])
        .env("OPENAI_API_KEY", KEY)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(ctx.path("plinth.err")).unwrap())
        .spawn()
        .unwrap();

    let checkpoint = ctx.path("out.jsonl.partial/0.jsonl");
    let mut saved = String::new();
    wait_for(
        "the checkpoint after step one",
        Duration::from_secs(20),
        || {
            saved = std::fs::read_to_string(&checkpoint).unwrap_or_default();
            saved.contains("env=[")
        },
    )
    .await;
    assert!(!saved.contains(KEY), "checkpoint holds the key: {saved}");
    assert!(child.wait().await.unwrap().success());

    let records = read_jsonl(&ctx.output());
    // The run's settings are in the record (and so checked for the key below).
    let settings = &records[0]["settings"];
    assert_eq!(settings["model"]["name"], MODEL, "{settings:#}");
    assert_eq!(settings["model"]["base_url"], ctx.server.base_url());
    assert_eq!(settings["limits"]["steps"], 15);
    assert_eq!(settings["sandbox"]["kind"], "local");
    assert_eq!(settings["tools"], json!(["terminal"]));
    assert_eq!(settings["templates"]["system"].as_str().unwrap().len(), 64);
    assert_eq!(settings["plinth_version"], records[0]["plinth_version"]);
    let output = &terminal_outputs(&records[0])[0];
    assert!(output.contains("env=[]\n"), "{output}");
    assert!(output.contains("file=[[REDACTED]]\n"), "{output}");
    assert!(output.contains("--api-key [REDACTED]"), "{output}");
    for path in [
        ctx.output(),
        ctx.path("out.jsonl.done"),
        log,
        ctx.path("plinth.err"),
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(KEY), "{} holds the key", path.display());
    }
    // Checkpoints of finished runs are removed; any left must be clean too.
    for entry in std::fs::read_dir(ctx.path("out.jsonl.partial"))
        .into_iter()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(KEY), "a checkpoint holds the key");
    }

    // The key went where it belongs, and only there.
    let requests = ctx.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let expected = format!("Bearer {KEY}");
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        let body = String::from_utf8_lossy(&request.body);
        assert!(!body.contains(KEY), "the model was shown the key: {body}");
    }
}

// ------------------------------------------------------------------ start-up

#[tokio::test]
async fn two_tools_with_the_same_name_are_a_start_up_error() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("done")]]).await;
    let outcome = ctx
        .run(&["--task", "Please do the task.", "--tool", "terminal"])
        .await;
    assert_eq!(outcome.code, Some(1), "{}", outcome.describe());
    assert!(
        outcome
            .stderr
            .contains("error: tool `terminal` is offered by both"),
        "{}",
        outcome.describe()
    );
    assert_eq!(ctx.server.stats().chat_completions, 0);
    assert!(!ctx.output().exists());
}

#[tokio::test]
async fn unusable_durations_are_start_up_errors() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("done")]]).await;
    for (flag, value) in [("--request-timeout", "nan"), ("--time-limit", "1e300")] {
        let outcome = ctx
            .run(&["--task", "Please do the task.", flag, value])
            .await;
        assert_eq!(outcome.code, Some(1), "{}", outcome.describe());
        assert!(
            outcome.stderr.contains(&format!("error: {flag}")),
            "{}",
            outcome.describe()
        );
    }
    assert_eq!(ctx.server.stats().chat_completions, 0);
}

// ------------------------------------------------------------------- golden

/// The `metadata.timestamp` of a Hermes record (the run's start time, the
/// only part that changes between runs) replaced by the golden file's.
fn normalise_hermes_timestamp(line: &str) -> String {
    const GOLDEN_TIMESTAMP: &str = "2026-01-01T00:00:00.000Z";
    let record: Value = serde_json::from_str(line).expect("a Hermes record is JSON");
    let actual = record["metadata"]["timestamp"]
        .as_str()
        .expect("metadata.timestamp");
    assert!(
        humantime::parse_rfc3339(actual).is_ok(),
        "not an RFC 3339 timestamp: {actual}"
    );
    let field = |t: &str| format!("\"timestamp\": \"{t}\"}}");
    assert_eq!(line.matches(&field(actual)).count(), 1, "{line}");
    line.replace(&field(actual), &field(GOLDEN_TIMESTAMP))
}

#[tokio::test]
async fn hermes_output_of_a_scripted_run_matches_the_golden_file() {
    let with_content = Attempt {
        reply: Reply::ToolCalls {
            calls: vec![
                ToolCallSpec {
                    name: "terminal".into(),
                    arguments: r#"{"command": "cat notes.txt"}"#.into(),
                },
                ToolCallSpec {
                    name: "search".into(),
                    arguments: r#"{"query": "notes"}"#.into(),
                },
            ],
            content: Some("Now reading them back — ünïcode ✓".into()),
        },
        ..Attempt::text("")
    };
    let script = Script::new().task(
        "golden",
        vec![
            vec![
                run_cmd("printf 'alpha\\nbeta\\n' > notes.txt && wc -l < notes.txt")
                    .reasoning("I should write the notes first."),
            ],
            vec![with_content],
            vec![Attempt::text("Done: notes.txt has 2 lines.").reasoning("Both lines are there.")],
        ],
    );
    let ctx = Ctx::new(script).await;
    let outcome = ctx
        .run(&[
            "--task",
            "SCRIPT=golden Write two lines to notes.txt and count them.",
            "--format",
            "hermes",
        ])
        .await;
    outcome.assert_success();
    let actual = std::fs::read_to_string(ctx.output()).unwrap();
    let lines: Vec<&str> = actual.lines().collect();
    assert_eq!(lines.len(), 1, "{actual}");
    let actual = format!("{}\n", normalise_hermes_timestamp(lines[0]));
    let golden = support::workspace().join("tests/golden/agent_run.hermes.expected.jsonl");
    let expected = std::fs::read_to_string(&golden).unwrap();
    if actual != expected {
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent_run.hermes.actual.jsonl");
        std::fs::write(&kept, &actual).unwrap();
        panic!(
            "Hermes output differs from {}; actual output kept in {}",
            golden.display(),
            kept.display()
        );
    }
}

#[tokio::test]
async fn the_shell_flag_decides_whether_the_shell_state_carries_over() {
    // The editor's own scripts (which set `root` and `p`) run between two
    // terminal commands: they must not see or change the model's shell.
    let steps = || {
        vec![
            vec![run_cmd(
                "cd / && export V=1 && f() { echo fn; } && root=mine p=mine",
            )],
            vec![Attempt::tool_call(
                "str_replace_editor",
                &json!({"command": "create", "path": "note.txt", "file_text": "hi\n"}).to_string(),
            )],
            vec![run_cmd(
                "pwd; echo \"[$V]\"; type f >/dev/null 2>&1 && echo has-f; echo \"$root $p\"",
            )],
            vec![Attempt::text("done")],
        ]
    };
    let shell_outputs = |t: &Value| -> Vec<String> {
        messages_of(t, "tool")
            .into_iter()
            .filter(|m| m["name"] == "terminal")
            .map(|m| terminal_result(m).0)
            .collect()
    };
    let ctx = Ctx::with_steps(steps()).await;
    let t = ctx.run_task(&["--tool", "editor"]).await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    assert_eq!(shell_outputs(&t)[1], "/\n[1]\nhas-f\nmine mine\n", "{t:#}");
    assert_eq!(t["settings"]["sandbox"]["shell"], "persistent");

    let ctx = Ctx::with_steps(steps()).await;
    let t = ctx
        .run_task(&["--tool", "editor", "--shell", "fresh"])
        .await;
    assert_eq!(status(&t), "Finished", "{t:#}");
    let third = &shell_outputs(&t)[1];
    assert!(third.ends_with("\n[]\n \n"), "{third}");
    assert!(!third.starts_with("/\n"), "{third}");
    assert_eq!(t["settings"]["sandbox"]["shell"], "fresh");
}
