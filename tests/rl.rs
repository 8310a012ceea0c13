//! End-to-end tests of RL-ready rollouts (README "RL-ready rollouts"): the
//! real binary against the mock chat server, whose toy tokenizer and chat
//! template (`plinth_mock_llm::tokens`) return vLLM-shaped ids and logprobs,
//! with real sandboxes (and atroposlib's real API server where it is used).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use plinth_mock_llm::tokens::{self, IM_END, IM_START, THINK, TOOL_CALL};
use plinth_mock_llm::{Attempt, MockConfig, Script, TokenShape};
use serde_json::{Value, json};
use support::mock::{Ctx, run_cmd, status};
use support::run::read_jsonl;

const MASKED: i64 = -100;

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| u32::try_from(v.as_u64().unwrap()).unwrap())
        .collect()
}

fn masks(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// The scored groups a run wrote beside its output.
fn scored(ctx: &Ctx) -> Vec<Value> {
    read_jsonl(&ctx.output().with_extension("scored.jsonl"))
}

/// The ids a row learns from (mask = id), and the ids it does not.
fn split(tokens: &[u32], masks: &[i64]) -> (Vec<u32>, Vec<u32>) {
    assert_eq!(tokens.len(), masks.len(), "a mask per token");
    let mut trained = Vec::new();
    let mut ignored = Vec::new();
    for (id, mask) in tokens.iter().zip(masks) {
        if *mask == MASKED {
            ignored.push(*id);
        } else {
            assert_eq!(*mask, i64::from(*id), "a learned position's mask is its id");
            trained.push(*id);
        }
    }
    (trained, ignored)
}

fn assistants(record: &Value) -> Vec<&Value> {
    record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect()
}

#[tokio::test]
async fn a_consistent_run_is_one_sequence_masked_on_exactly_the_sampled_spans() {
    let (a, b) = (
        json!({"command": "echo alpha"}).to_string(),
        json!({"command": "echo beta"}).to_string(),
    );
    // A turn with two calls, then a final answer.
    let ctx = Ctx::with_steps(vec![
        vec![Attempt::tool_calls(&[("terminal", &a), ("terminal", &b)])],
        vec![Attempt::text("all done")],
    ])
    .await;
    let record = ctx.run_task(&["--capture-tokens"]).await;
    assert_eq!(status(&record), "Finished");

    for request in ctx.requests() {
        let body = request.json();
        assert_eq!(body["return_token_ids"], true, "{body}");
        assert_eq!(body["logprobs"], true, "{body}");
    }
    let calls = assistants(&record);
    let first = &calls[0]["tokens"];
    let second = &calls[1]["tokens"];
    assert_eq!(first["finish_reason"], "tool_calls");
    assert_eq!(second["finish_reason"], "stop");
    // The second prompt is stored as a reference to the first call's whole
    // sequence plus what came after it (the two tool outputs).
    let first_len = ids(&first["prompt_ids"]).len() + ids(&first["completion_ids"]).len();
    assert_eq!(
        second["prompt_shared"].as_u64().unwrap() as usize,
        first_len
    );
    let suffix = tokens::decode(ids(&second["prompt_ids"]));
    assert!(
        suffix.contains("alpha") && suffix.contains("beta"),
        "{suffix}"
    );
    assert_eq!(
        record["training"]["assembly"], "sequence",
        "{}",
        record["training"]
    );

    let groups = scored(&ctx);
    assert_eq!(groups.len(), 1);
    let group = &groups[0];
    assert_eq!(group["tokens"].as_array().unwrap().len(), 1);
    let row = ids(&group["tokens"][0]);
    let (trained, ignored) = split(&row, &masks(&group["masks"][0]));
    // Learned: exactly both replies as sampled, markers included.
    let mut expected = ids(&first["completion_ids"]);
    expected.extend(ids(&second["completion_ids"]));
    assert_eq!(trained, expected);
    assert_eq!(
        tokens::decode(trained.iter().copied()),
        format!("terminal{a}terminal{b}all done")
    );
    assert_eq!(trained.iter().filter(|id| **id == TOOL_CALL).count(), 2);
    assert_eq!(trained.iter().filter(|id| **id == IM_END).count(), 2);
    assert!(
        !trained.contains(&IM_START),
        "no template turn starts are learned"
    );
    // Not learned: the system prompt, the task and the tool outputs.
    let ignored = tokens::decode(ignored);
    for text in ["Please do the task.", "alpha\\n", "beta\\n"] {
        assert!(ignored.contains(text), "{text} in {ignored}");
    }
    // Logprobs line up with the tokens: sampled ones where learned, 1.0 elsewhere.
    let logprobs = group["inference_logprobs"][0].as_array().unwrap();
    assert_eq!(logprobs.len(), row.len());
    for ((id, mask), logprob) in row.iter().zip(masks(&group["masks"][0])).zip(logprobs) {
        let expected = if mask == MASKED {
            1.0
        } else {
            tokens::logprob(*id)
        };
        assert_eq!(logprob.as_f64().unwrap(), expected);
    }
    assert_eq!(group["scores"], json!([0.0]));
}

/// `--format atropos` records carry the same token rows as the scored
/// groups the host writes: the host hands the ids, assembled, to the
/// formatter component (its options' `training`).
#[tokio::test]
async fn atropos_records_carry_the_token_rows_of_the_scored_groups() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo one")],
        vec![Attempt::text("all done")],
    ])
    .await;
    let tasks = ctx.tasks(&[json!({"id": "t", "prompt": "do it"})]);
    let tasks = tasks.to_str().unwrap();
    // A group of two, with or without capture, in `format`.
    let run_group = |format: &'static str, capture: bool| {
        let mut args = vec![
            "--prompts-file",
            tasks,
            "--group-size",
            "2",
            "--format",
            format,
        ];
        if capture {
            args.push("--capture-tokens");
        }
        let ctx = &ctx;
        async move { ctx.run(&args).await.assert_success() }
    };
    run_group("atropos", true).await;
    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), 1, "one record per group");
    let record = &records[0];
    let groups = scored(&ctx);
    assert_eq!(groups.len(), 1);
    for key in ["tokens", "masks", "inference_logprobs", "scores"] {
        assert_eq!(record[key], groups[0][key], "{key}");
    }
    assert_eq!(record["tokens"].as_array().unwrap().len(), 2);
    assert_eq!(record["messages"].as_array().unwrap().len(), 2);

    // The openai format keeps them in each rollout's metadata.
    run_group("openai", true).await;
    let rows: Vec<Value> = read_jsonl(&ctx.output())
        .iter()
        .map(|r| r["metadata"]["training"]["samples"][0]["tokens"].clone())
        .collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(!row.as_array().unwrap().is_empty(), "{row}");
    }
    assert_eq!(Value::Array(rows), scored(&ctx)[0]["tokens"]);

    // Without capture the record has no token rows, as before.
    run_group("atropos", false).await;
    let record = &read_jsonl(&ctx.output())[0];
    assert!(record.get("tokens").is_none(), "{record}");
    assert!(record.get("tokens_unavailable").is_none(), "{record}");
}

#[tokio::test]
async fn dropped_reasoning_breaks_the_prefix_and_falls_back_to_one_sample_per_call() {
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd("echo one").reasoning("let me look first")],
        vec![Attempt::text("finished").reasoning("that was it")],
    ])
    .await;
    let record = ctx.run_task(&["--capture-tokens"]).await;
    let training = &record["training"];
    assert_eq!(training["assembly"], "per_turn", "{training}");
    let reason = training["reason"].as_str().unwrap();
    assert!(
        reason.contains("call 2's prompt does not start with call 1's"),
        "{reason}"
    );

    let group = &scored(&ctx)[0];
    assert_eq!(
        group["tokens"].as_array().unwrap().len(),
        2,
        "one row per call"
    );
    let (first, _) = split(&ids(&group["tokens"][0]), &masks(&group["masks"][0]));
    let (second, _) = split(&ids(&group["tokens"][1]), &masks(&group["masks"][1]));
    // Reasoning tokens are sampled tokens: they are learned, in their call.
    assert_eq!(first[0], THINK);
    assert!(tokens::decode(first).starts_with("let me look first"));
    assert_eq!(tokens::decode(second), "that was itfinished");
    // The second row's prompt is the server's, not a rebuild: it lacks the
    // first call's reasoning, as the template rendered it.
    let prompt = tokens::decode(ids(&group["tokens"][1]));
    assert!(!prompt.contains("let me look first"), "{prompt}");
    assert_eq!(group["scores"], json!([0.0, 0.0]));
}

/// SGLang answers `return_token_ids` on the choice (`prompt_token_ids`,
/// `response_token_ids`): the same records and training rows as from vLLM.
#[tokio::test]
async fn an_sglang_shaped_server_gives_the_same_training_rows() {
    let script = || {
        Script::new()
            .task(
                "t",
                vec![vec![run_cmd("echo one")], vec![Attempt::text("done")]],
            )
            .default_task("t")
    };
    let mut rows = Vec::new();
    for shape in [TokenShape::Vllm, TokenShape::Sglang] {
        let ctx = Ctx::with_config(MockConfig {
            token_shape: shape,
            ..MockConfig::scripted(script())
        })
        .await;
        let record = ctx.run_task(&["--capture-tokens"]).await;
        assert_eq!(record["training"]["assembly"], "sequence", "{shape:?}");
        let body = &ctx.requests()[0].json();
        assert_eq!(body["return_token_ids"], true);
        rows.push(scored(&ctx)[0]["tokens"].clone());
    }
    assert_eq!(rows[0], rows[1]);
    assert!(!rows[0][0].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_without_ids_is_recorded_as_such() {
    let ctx = Ctx::with_config(MockConfig {
        token_ids: false,
        ..MockConfig::scripted(
            Script::new()
                .task("t", vec![vec![Attempt::text("hi")]])
                .default_task("t"),
        )
    })
    .await;
    let outcome = ctx
        .run(&["--task", "Please do the task.", "--capture-tokens"])
        .await;
    outcome.assert_success();
    let record = &read_jsonl(&ctx.output())[0];
    assert!(assistants(record)[0].get("tokens").is_none());
    assert_eq!(
        record["training"],
        json!({"assembly": "unavailable", "reason": "call 1: the server returned no token ids"})
    );
    assert!(
        scored(&ctx).is_empty(),
        "nothing re-tokenized in their place"
    );
    assert_eq!(outcome.summary()["unscored_groups"], 1);
}

#[tokio::test]
async fn extra_body_fields_pass_through_and_win() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("hi")]]).await;
    ctx.run_task(&[
        "--capture-tokens",
        "--extra-body",
        r#"{"top_k": 20, "logprobs": false, "chat_template_kwargs": {"enable_thinking": false}}"#,
    ])
    .await;
    let body = ctx.requests()[0].json();
    assert_eq!(body["top_k"], 20);
    assert_eq!(body["logprobs"], false, "the user's value wins");
    assert_eq!(body["return_token_ids"], true);
    assert_eq!(body["chat_template_kwargs"]["enable_thinking"], false);
    let record = &read_jsonl(&ctx.output())[0];
    assert_eq!(record["settings"]["model"]["capture_tokens"], true);
    assert_eq!(record["settings"]["model"]["extra_body"]["top_k"], 20);
    // Without logprobs the rows still train, without inference_logprobs.
    let group = &scored(&ctx)[0];
    assert!(group.get("inference_logprobs").is_none(), "{group}");

    let refused = ctx
        .run(&["--task", "x", "--extra-body", r#"{"messages": []}"#])
        .await;
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("`messages`"),
        "{}",
        refused.describe()
    );
}

/// A `--setup` command that fails on the listed calls (1-based, counted in
/// `counter` across every sandbox of the run) and succeeds on the others.
fn setup_failing_on(counter: &std::path::Path, calls: &[u32]) -> String {
    let counter = counter.display();
    let cases: Vec<String> = calls.iter().map(u32::to_string).collect();
    format!(
        "n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; \
         case $n in {}) echo broken sandbox >&2; exit 1;; esac",
        cases.join("|")
    )
}

#[tokio::test]
async fn an_infrastructure_failure_is_retried_then_excluded_from_its_group() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("done")]]).await;
    // One at a time, so the setup calls come in order: rollout 0 fails once
    // and is retried; rollout 1 fails twice (its retry too) and is excluded;
    // rollout 2 is fine.
    let setup = setup_failing_on(&ctx.path("setup-calls"), &[1, 3, 4]);
    let args = [
        "--task",
        "Please do the task.",
        "--group-size",
        "3",
        "--concurrency",
        "1",
        "--setup",
        &setup,
        "--capture-tokens",
    ];
    let outcome = ctx
        .run(&[&args[..], &["--retry-infra", "1"]].concat())
        .await;
    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), 3, "{}", outcome.describe());
    let by_rollout = |n: u64| {
        records
            .iter()
            .find(|r| r["group"]["rollout"] == n)
            .unwrap_or_else(|| panic!("rollout {n}"))
    };
    let (retried, failed, fine) = (by_rollout(0), by_rollout(1), by_rollout(2));
    assert_eq!(status(retried), "Finished");
    assert_eq!(retried["infra_retries"], 1);
    assert_eq!(status(failed), "InfrastructureError");
    assert_eq!(failed["infra_retries"], 1);
    assert!(
        failed["error"].as_str().unwrap().contains("setup"),
        "{}",
        failed["error"]
    );
    assert!(fine.get("infra_retries").is_none(), "no retries: no key");
    assert_eq!(failed["group"]["excluded"], true);
    assert!(retried["group"].get("excluded").is_none());
    for record in &records {
        assert_eq!(
            record["group"]["valid"], 2,
            "statistics over the two valid rollouts"
        );
    }
    // The scored group holds the valid rollouts only: no 0 for the broken one.
    let group = &scored(&ctx)[0];
    assert_eq!(group["scores"], json!([0.0, 0.0]));
    assert_eq!(group["group_overrides"]["plinth_rollouts"], json!([0, 2]));
    // The run reports the error (its record is re-run on --resume).
    assert_eq!(outcome.code, Some(2), "{}", outcome.describe());

    // Resumed, the broken rollout runs again (setup call 5 succeeds) and its
    // record is replaced; the group's scored line stays the one written
    // first (a trainer may have taken it): no second line with the same
    // rollouts.
    let resumed = ctx.run(&[&args[..], &["--resume"]].concat()).await;
    resumed.assert_success();
    let records = read_jsonl(&ctx.output());
    assert_eq!(records.len(), 3, "{}", resumed.describe());
    assert!(
        records.iter().all(|r| status(r) == "Finished"),
        "{records:?}"
    );
    let groups = scored(&ctx);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        groups[0]["group_overrides"]["plinth_rollouts"],
        json!([0, 2])
    );
}

#[tokio::test]
async fn a_group_with_too_few_valid_rollouts_or_no_signal_is_dropped_from_group_outputs() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("done")]]).await;
    let tasks = ctx.tasks(&[
        json!({"id": "broken", "prompt": "one"}),
        json!({"id": "fine", "prompt": "two"}),
    ]);
    let tasks = tasks.to_str().unwrap();
    // One at a time: both rollouts of `broken` (setup calls 1 and 2) fail.
    let run = |counter: &str, extra: &[&str]| {
        let setup = setup_failing_on(&ctx.path(counter), &[1, 2]);
        let mut args: Vec<String> = [
            "--prompts-file",
            tasks,
            "--group-size",
            "2",
            "--concurrency",
            "1",
            "--retry-infra",
            "0",
            "--format",
            "atropos",
            "--setup",
            &setup,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        args
    };
    let args = run(
        "calls-1",
        &["--min-valid-rollouts", "1", "--capture-tokens"],
    );
    let outcome = ctx
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    // `broken` has no valid rollout: no atropos record, no scored group.
    let groups = read_jsonl(&ctx.output());
    assert_eq!(groups.len(), 1, "{}", outcome.describe());
    assert_eq!(groups[0]["id"], "fine");
    assert_eq!(scored(&ctx).len(), 1);
    let summary = outcome.summary();
    assert_eq!(summary["dropped_too_few_valid"], 1, "{summary}");

    // Every reward is 0 (no scorer): no signal, dropped too when asked.
    let args = run("calls-2", &["--drop-all-equal"]);
    let outcome = ctx
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(
        read_jsonl(&ctx.output()).is_empty(),
        "{}",
        outcome.describe()
    );
    let summary = outcome.summary();
    assert_eq!(summary["dropped_too_few_valid"], 1, "{summary}");
    assert_eq!(summary["dropped_all_equal"], 1, "{summary}");
}

/// atroposlib's `run-api` (PyPI `atroposlib`): $PLINTH_ATROPOS_RUN_API (what
/// tests/run.sh installs), else on the PATH; `None` after a loud skip. With
/// PLINTH_REQUIRE_ATROPOS=1 a missing one fails the test.
fn run_api() -> Option<std::path::PathBuf> {
    let found = match std::env::var_os("PLINTH_ATROPOS_RUN_API") {
        Some(path) => Some(std::path::PathBuf::from(path)),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("run-api"))
                .find(|path| path.is_file())
        }),
    };
    if found.is_none() {
        assert!(
            std::env::var("PLINTH_REQUIRE_ATROPOS").as_deref() != Ok("1"),
            "PLINTH_REQUIRE_ATROPOS=1 but atroposlib's run-api is not installed"
        );
        eprintln!(
            "\n*** SKIPPED: atroposlib's run-api is not installed (tests/run.sh installs it; \
             or set PLINTH_ATROPOS_RUN_API). PLINTH_REQUIRE_ATROPOS=1 turns this skip into a \
             failure. ***\n"
        );
    }
    found
}

/// The real API server on `port`, answering.
async fn start_api(run_api: &std::path::Path, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(run_api)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting run-api");
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    while http
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed().as_secs() < 60, "run-api did not answer");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child
}

/// A trainer as atroposlib's example trainer talks to the server: it
/// registers, then pulls `/batch`, registering again when the server forgot
/// it (a restart).
struct Trainer {
    http: reqwest::Client,
    url: String,
    groups: Vec<Value>,
}

impl Trainer {
    async fn register(&self) {
        let body = json!({"wandb_group": "g", "wandb_project": "p", "batch_size": 2,
            "max_token_len": 4096, "checkpoint_dir": "ckpt", "save_checkpoint_interval": 100,
            "starting_step": 0, "num_steps": 1000});
        let response = self
            .http
            .post(format!("{}/register", self.url))
            .json(&body)
            .send()
            .await;
        assert!(response.unwrap().status().is_success());
    }

    /// One pull; the groups of a batch are kept. False when the server is down.
    async fn pull(&mut self) -> bool {
        let Ok(response) = self.http.get(format!("{}/batch", self.url)).send().await else {
            return false;
        };
        let Ok(body) = response.json::<Value>().await else {
            return false;
        };
        if body["status"] == "error" {
            self.register().await;
        } else if let Some(batch) = body["batch"].as_array() {
            self.groups.extend(batch.iter().cloned());
        }
        true
    }

    fn tasks(&self) -> std::collections::BTreeSet<String> {
        self.groups
            .iter()
            .map(|g| {
                g["group_overrides"]["plinth_task"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

#[tokio::test]
async fn a_live_atropos_environment_survives_the_api_server_restarting() {
    let Some(run_api) = run_api() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut api = start_api(&run_api, port).await;
    let url = format!("http://127.0.0.1:{port}");
    let mut trainer = Trainer {
        http: reqwest::Client::new(),
        url: url.clone(),
        groups: Vec::new(),
    };
    trainer.register().await;
    assert!(trainer.pull().await, "the first pull starts the trainer");

    let ctx = Ctx::with_config(MockConfig {
        latency: std::time::Duration::from_millis(150),
        ..MockConfig::scripted(
            Script::new()
                .task(
                    "t",
                    vec![vec![run_cmd("echo hi")], vec![Attempt::text("done")]],
                )
                .default_task("t"),
        )
    })
    .await;
    let task_ids: Vec<String> = (0..8).map(|i| format!("task-{i}")).collect();
    let rows: Vec<Value> = task_ids
        .iter()
        .map(|id| json!({"id": id, "prompt": id}))
        .collect();
    let tasks = ctx.tasks(&rows);
    let (child, _) = ctx.start(&[
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--group-size",
        "2",
        "--concurrency",
        "2",
        "--capture-tokens",
        "--atropos-url",
        &url,
    ]);
    let plinth = tokio::spawn(support::mock::finish(child));

    // Pull until some groups arrived, then restart the server mid-run.
    let started = std::time::Instant::now();
    while trainer.groups.len() < 2 {
        assert!(
            started.elapsed().as_secs() < 120,
            "no groups before the restart"
        );
        trainer.pull().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let before_restart = trainer.tasks();
    api.kill().await.unwrap();
    api.wait().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _api = start_api(&run_api, port).await;
    trainer.register().await;

    // Every group reaches the trainer, tokens and masks row for row.
    let expected: std::collections::BTreeSet<String> = task_ids.iter().cloned().collect();
    while trainer.tasks() != expected {
        assert!(
            started.elapsed().as_secs() < 240,
            "the trainer got {:?} of {expected:?}",
            trainer.tasks()
        );
        trainer.pull().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let outcome = plinth.await.unwrap();
    outcome.assert_success();
    assert!(
        before_restart.len() < task_ids.len(),
        "the restart came mid-run"
    );
    for group in &trainer.groups {
        let token_rows = group["tokens"].as_array().unwrap();
        let mask_rows = group["masks"].as_array().unwrap();
        assert_eq!(token_rows.len(), 2, "a group of two rollouts");
        for (row, mask) in token_rows.iter().zip(mask_rows) {
            let (trained, _) = split(&ids(row), &masks(mask));
            assert_eq!(tokens::decode(trained).matches("done").count(), 1);
        }
        assert_eq!(group["scores"], json!([0.0, 0.0]));
    }
    let summary = outcome.summary();
    assert_eq!(summary["atropos"]["posted"], 8, "{summary}");
    assert_eq!(summary["atropos"]["unposted"], 0, "{summary}");
}

/// The toy tokenizer.json and chat template equal to the mock's
/// (`tests/golden/tokenizer/make_tokenizers.py`).
fn toy_tokenizer() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden/tokenizer/toy/tokenizer.json");
    path.to_str().unwrap().to_string()
}

/// With `--tokenizer`, a server that returns no ids gives the same training
/// rows (tokens and masks) as one that does, flagged as recomputed and
/// without logprobs: for a consistent run (one sequence) and for one whose
/// dropped reasoning breaks the prefix (one row per call).
#[tokio::test]
async fn recomputed_ids_equal_the_servers_and_say_so() {
    let cases = [
        (
            vec![
                vec![run_cmd("echo one")],
                vec![Attempt::tool_calls(&[
                    ("terminal", &json!({"command": "echo zwei"}).to_string()),
                    ("terminal", &json!({"command": "echo drei"}).to_string()),
                ])],
                vec![Attempt::text("all done ✓")],
            ],
            "sequence",
        ),
        (
            vec![
                vec![run_cmd("echo one").reasoning("let me look first")],
                vec![Attempt::text("finished").reasoning("that was it")],
            ],
            "per_turn",
        ),
    ];
    // One working directory for both runs: the system prompt names it.
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path().to_str().unwrap();
    let tokenizer = toy_tokenizer();
    for (steps, assembly) in cases {
        let script = || Script::new().task("t", steps.clone()).default_task("t");
        let server = Ctx::new(script()).await;
        let served = server.run_task(&["--capture-tokens", "--cwd", cwd]).await;
        let without = Ctx::with_config(MockConfig {
            token_ids: false,
            ..MockConfig::scripted(script())
        })
        .await;
        let recomputed = without
            .run_task(&["--capture-tokens", "--cwd", cwd, "--tokenizer", &tokenizer])
            .await;
        assert!(
            without
                .requests()
                .iter()
                .all(|r| r.json()["return_token_ids"] == true),
            "ids are still asked for"
        );

        // Each call's record: the server's ids, flagged, without logprobs.
        let (served_calls, recomputed_calls) = (assistants(&served), assistants(&recomputed));
        assert_eq!(served_calls.len(), recomputed_calls.len());
        for (s, r) in served_calls.iter().zip(&recomputed_calls) {
            let (s, r) = (&s["tokens"], &r["tokens"]);
            assert!(s.get("source").is_none(), "server ids are not flagged: {s}");
            assert_eq!(r["source"], "recomputed", "{r}");
            assert!(r.get("logprobs").is_none(), "{r}");
            for key in [
                "prompt_shared",
                "prompt_ids",
                "completion_ids",
                "finish_reason",
            ] {
                assert_eq!(s.get(key), r.get(key), "{assembly}: {key}");
            }
        }
        assert_eq!(served["training"]["assembly"], assembly);
        assert!(served["training"].get("source").is_none());
        let mut expected = served["training"].clone();
        expected["source"] = "recomputed".into();
        assert_eq!(recomputed["training"], expected);
        assert!(
            recomputed["settings"]["model"]["tokenizer"]["sha256"]
                .as_str()
                .is_some_and(|h| h.len() == 64),
            "{}",
            recomputed["settings"]["model"]
        );

        // The scored groups: the same rows, flagged, no logprobs.
        let (served, recomputed) = (&scored(&server)[0], &scored(&without)[0]);
        assert_eq!(served["tokens"], recomputed["tokens"], "{assembly}");
        assert_eq!(served["masks"], recomputed["masks"], "{assembly}");
        assert!(served.get("inference_logprobs").is_some());
        assert!(recomputed.get("inference_logprobs").is_none());
        assert!(
            served["group_overrides"]
                .get("plinth_token_source")
                .is_none()
        );
        assert_eq!(
            recomputed["group_overrides"]["plinth_token_source"],
            "recomputed"
        );

        // The atropos formatter gets the flag in its `training` and says so.
        let rows = recomputed["tokens"].clone();
        let formatted = without
            .run_task(&[
                "--capture-tokens",
                "--cwd",
                cwd,
                "--tokenizer",
                &tokenizer,
                "--format",
                "atropos",
            ])
            .await;
        assert_eq!(formatted["tokens"], rows, "{assembly}");
        assert_eq!(formatted["token_source"], "recomputed", "{assembly}");
    }
}

/// A tokenizer or chat template that cannot work fails the run at start,
/// naming the file and what is wrong, before any model call.
#[tokio::test]
async fn a_broken_tokenizer_or_template_fails_at_start() {
    let ctx = Ctx::with_steps(vec![vec![Attempt::text("hi")]]).await;
    let toy = std::path::PathBuf::from(toy_tokenizer());
    let broken = ctx.path("broken");
    std::fs::create_dir(&broken).unwrap();
    let tokenizer = broken.join("tokenizer.json");
    std::fs::write(&tokenizer, r#"{"model": {"type": "Nope"}}"#).unwrap();
    let template = ctx.path("raises.jinja");
    std::fs::write(&template, "{{ raise_exception('roles must alternate') }}").unwrap();
    let toy_arg = toy.to_str().unwrap();
    let not_a_tokenizer = toy.parent().unwrap().join("cases.jsonl");
    let cases: [(Vec<&str>, &[&str]); 4] = [
        (
            vec!["--tokenizer", tokenizer.to_str().unwrap()],
            &[
                "--tokenizer",
                "broken/tokenizer.json",
                "not a Hugging Face tokenizer.json",
            ],
        ),
        (
            vec![
                "--tokenizer",
                toy_arg,
                "--chat-template",
                template.to_str().unwrap(),
            ],
            &["raises.jinja", "message 0", "roles must alternate"],
        ),
        (
            vec![
                "--tokenizer",
                toy_arg,
                "--chat-template",
                "/nonexistent/t.jinja",
            ],
            &["/nonexistent/t.jinja"],
        ),
        (
            vec!["--tokenizer", not_a_tokenizer.to_str().unwrap()],
            &["cases.jsonl", "not a Hugging Face tokenizer.json"],
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["--task", "x", "--capture-tokens"];
        args.extend(flags);
        let outcome = ctx.run(&args).await;
        assert_ne!(outcome.code, Some(0), "{}", outcome.describe());
        for text in expected {
            assert!(
                outcome.stderr.contains(text),
                "{text}: {}",
                outcome.describe()
            );
        }
    }
    let without_capture = ctx.run(&["--task", "x", "--tokenizer", toy_arg]).await;
    assert!(
        without_capture.stderr.contains("needs --capture-tokens"),
        "{}",
        without_capture.describe()
    );
    assert!(ctx.requests().is_empty(), "no model call was made");
    assert!(!ctx.output().exists(), "no run was made");
}
