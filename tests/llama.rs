//! End to end against a real model server: llama.cpp's `llama-server`
//! serving SmolLM2-135M-Instruct (`tests/llama-setup.sh` builds and caches
//! both; `eval "$(tests/llama-setup.sh)"` exports `PLINTH_LLAMA_SERVER`,
//! `PLINTH_LLAMA_MODEL` and `PLINTH_LLAMA_TOOL_TEMPLATE`). Skipped loudly
//! without them, unless `PLINTH_REQUIRE_LLAMA=1`.
//!
//! A 135M model is weak: these tests assert what plinth records of a real
//! server's behaviour (statuses, messages, usage, finish reasons, token ids,
//! a context overflow), never that the model solves anything. One server
//! runs at a time (`-t 1`: two shared cores), each on a free port.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::run::{Outcome, plinth, read_jsonl};

/// What a real, finished run of a weak model may end as.
const REAL_ENDINGS: [&str; 4] = [
    "Submitted",
    "Finished",
    "LimitsExceeded",
    "RepeatedFormatError",
];

/// One server at a time: each runs with one thread on a shared machine.
static SERVER: Mutex<()> = Mutex::new(());

/// The server binary, model and tool template, or why they are missing.
struct Setup {
    server: PathBuf,
    model: PathBuf,
    tool_template: PathBuf,
}

impl Setup {
    /// `None` (after saying so loudly) when the setup script has not run;
    /// a failure when `PLINTH_REQUIRE_LLAMA=1`.
    fn get(test: &str) -> Option<Self> {
        let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
        let (Some(server), Some(model), Some(tool_template)) = (
            var("PLINTH_LLAMA_SERVER"),
            var("PLINTH_LLAMA_MODEL"),
            var("PLINTH_LLAMA_TOOL_TEMPLATE"),
        ) else {
            let problem = "PLINTH_LLAMA_SERVER, PLINTH_LLAMA_MODEL and \
                           PLINTH_LLAMA_TOOL_TEMPLATE are not all set";
            assert!(
                std::env::var("PLINTH_REQUIRE_LLAMA").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_LLAMA=1 but {problem} (eval \"$(tests/llama-setup.sh)\")"
            );
            eprintln!(
                "\n*** SKIPPED {test}: {problem}. eval \"$(tests/llama-setup.sh)\" prepares \
                 them; PLINTH_REQUIRE_LLAMA=1 turns this skip into a failure. ***\n"
            );
            return None;
        };
        for path in [&server, &model, &tool_template] {
            assert!(path.exists(), "{} does not exist", path.display());
        }
        Some(Self {
            server,
            model,
            tool_template,
        })
    }
}

/// A running `llama-server`, stopped on drop.
struct Llama {
    child: Child,
    root: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Llama {
    /// Starts the server with `-t 1 --jinja` and `args`, and waits until it
    /// has loaded the model.
    fn start(setup: &Setup, args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("llama-server.log");
        let child = Command::new(&setup.server)
            .arg("-m")
            .arg(&setup.model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-t", "1", "--jinja"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting llama-server");
        let mut server = Self {
            child,
            root: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    fn base_url(&self) -> String {
        format!("{}/v1", self.root)
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "llama-server exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(response) = blocking_get(&format!("{}/health", self.root))
                && response["status"] == "ok"
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "llama-server was not ready within 120 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server's `/tokenize` of `text`.
    fn tokenize(&self, text: &str) -> Vec<u32> {
        let response = blocking_post(
            &format!("{}/tokenize", self.root),
            &json!({"content": text}),
        );
        serde_json::from_value(response["tokens"].clone()).unwrap()
    }
}

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn blocking_get(url: &str) -> Result<Value, reqwest::Error> {
    runtime().block_on(async {
        reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .json()
            .await
    })
}

fn blocking_post(url: &str, body: &Value) -> Value {
    runtime()
        .block_on(async {
            reqwest::Client::new()
                .post(url)
                .json(body)
                .timeout(Duration::from_secs(30))
                .send()
                .await?
                .json::<Value>()
                .await
        })
        .unwrap()
}

/// `plinth run` of one task against `server` (greedy, seeded), in `dir`,
/// writing canonical records to `dir/out.jsonl`.
fn run(server: &Llama, dir: &Path, task: &str, args: &[&str]) -> (Outcome, f64) {
    let started = Instant::now();
    let output = plinth()
        .arg("run")
        .args(["--base-url", &server.base_url(), "--model", "smollm2"])
        .args([
            "--task",
            task,
            "--format",
            "canonical",
            "--sandbox",
            "local",
        ])
        .arg("--output-file")
        .arg(dir.join("out.jsonl"))
        .arg("--cwd")
        .arg(dir.join("work"))
        .args(["--temperature", "0", "--request-timeout", "120"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running plinth");
    (Outcome::from(output), started.elapsed().as_secs_f64())
}

fn the_record(dir: &Path, outcome: &Outcome) -> Value {
    let records = read_jsonl(&dir.join("out.jsonl"));
    assert_eq!(records.len(), 1, "{}", outcome.describe());
    records.into_iter().next().unwrap()
}

fn assistants(record: &Value) -> Vec<&Value> {
    record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect()
}

/// What every record of a finished run holds, whatever the model did: the
/// system and task messages, one assistant message per call with the
/// server's finish reason, usage the server counted.
#[track_caller]
fn assert_intact(record: &Value, outcome: &Outcome) {
    let messages = record["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system", "{}", outcome.describe());
    assert_eq!(messages[1]["role"], "user");
    let calls = record["api_calls"].as_u64().unwrap();
    let replies = assistants(record);
    assert_eq!(replies.len() as u64, calls, "{record:#}");
    for reply in &replies {
        let reason = reply["finish_reason"].as_str().unwrap_or_default();
        assert!(
            ["stop", "length", "tool_calls"].contains(&reason),
            "finish_reason {reason:?}: {reply:#}"
        );
    }
    if calls > 0 {
        assert!(record["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        assert!(record["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    }
    assert_eq!(record["settings"]["model"]["name"], "smollm2");
}

/// Generated tokens per second of wall time over the run's calls.
fn figures(name: &str, record: &Value, secs: f64) {
    let generated = record["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    eprintln!(
        "llama {name}: {} after {} call(s), {} prompt + {generated} generated tokens in {secs:.1} s \
         ({:.1} generated tokens/s of the run's wall time)",
        record["exit_status"],
        record["api_calls"],
        record["usage"]["prompt_tokens"],
        generated as f64 / secs
    );
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    dir
}

#[test]
fn text_actions_against_the_real_server() {
    let Some(setup) = Setup::get("text_actions_against_the_real_server") else {
        return;
    };
    let _one = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Llama::start(&setup, &["-c", "2048", "-np", "2"]);
    let dir = workdir();
    let (outcome, secs) = run(
        &server,
        dir.path(),
        "Print the word hello with echo.",
        &[
            "--text-actions",
            "--max-iterations",
            "3",
            "--max-tokens",
            "96",
        ],
    );
    outcome.assert_success();
    let record = the_record(dir.path(), &outcome);
    figures("text actions", &record, secs);
    let status = record["exit_status"].as_str().unwrap();
    assert!(REAL_ENDINGS.contains(&status), "{record:#}");
    assert_intact(&record, &outcome);
    assert!(record["api_calls"].as_u64().unwrap() >= 1);
    assert_eq!(record["settings"]["model"]["max_tokens"], 96);
    assert_eq!(record["settings"]["agent"]["text_actions"], true);
    // Text mode does not rely on the server's tools: no warning that they
    // are dropped, though SmolLM2's own template drops them.
    assert!(
        !outcome.stderr.contains("cannot take tools"),
        "{}",
        outcome.describe()
    );
    // A reply the bound cut short is recorded as such and warned about.
    let cut = assistants(&record)
        .iter()
        .any(|m| m["finish_reason"] == "length");
    assert_eq!(
        cut,
        outcome.stderr.contains("cut short"),
        "{}",
        outcome.describe()
    );
}

#[test]
fn native_tool_calls_with_a_tool_template() {
    let Some(setup) = Setup::get("native_tool_calls_with_a_tool_template") else {
        return;
    };
    let _one = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let template = setup.tool_template.to_str().unwrap().to_owned();
    let server = Llama::start(
        &setup,
        &["-c", "2048", "-np", "1", "--chat-template-file", &template],
    );
    let props = blocking_get(&format!("{}/props", server.root)).unwrap();
    assert_eq!(props["chat_template_caps"]["supports_tools"], true);
    let dir = workdir();
    let (outcome, secs) = run(
        &server,
        dir.path(),
        "List the files in the current directory.",
        &[
            "--max-iterations",
            "2",
            "--max-tokens",
            "64",
            "--extra-body",
            r#"{"tool_choice": "required", "parallel_tool_calls": false, "seed": 1}"#,
        ],
    );
    outcome.assert_success();
    let record = the_record(dir.path(), &outcome);
    figures("native tools", &record, secs);
    let status = record["exit_status"].as_str().unwrap();
    assert!(REAL_ENDINGS.contains(&status), "{record:#}");
    assert_intact(&record, &outcome);
    assert!(!outcome.stderr.contains("cannot take tools"));
    // What this model does: `tool_choice: "required"` only forbids ending
    // without a call (llama.cpp's grammar lets prose come first), and
    // without an assistant prefix (which plinth never sends) SmolLM2 writes
    // prose until max_tokens. Each reply is either a real call the terminal
    // answered, or a reply cut by the bound, recorded as such.
    for (n, reply) in assistants(&record).iter().enumerate() {
        let calls = reply["tool_calls"].as_array().map_or(0, Vec::len);
        let reason = &reply["finish_reason"];
        eprintln!("llama native tools: reply {n}: {reason}, {calls} tool call(s)");
        assert!(
            calls > 0 || *reason == "length" || *reason == "stop",
            "{reply:#}"
        );
    }
}

#[test]
fn a_context_overflow_ends_the_run_named_and_intact() {
    let Some(setup) = Setup::get("a_context_overflow_ends_the_run_named_and_intact") else {
        return;
    };
    let _one = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Llama::start(&setup, &["-c", "256", "-np", "1"]);
    let dir = workdir();
    // A task of some 400 tokens: more than the 256 the server holds.
    let task = format!("Count these words: {}", "word ".repeat(400));
    let (outcome, _) = run(&server, dir.path(), &task, &["--max-iterations", "3"]);
    // Not an error of plinth's side: the run succeeds, its task ended so.
    outcome.assert_success();
    let record = the_record(dir.path(), &outcome);
    assert_eq!(record["exit_status"], "ContextExceeded", "{record:#}");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("does not fit the model's context")
            && error.contains("context 256")
            && error.contains("exceed_context_size_error"),
        "{error}"
    );
    assert_eq!(record["api_calls"], 0);
    let messages = record["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "the system prompt and the task, kept");
    // Without --text-actions the run relies on native tools, which
    // SmolLM2's own template drops: said once, with the fixes.
    assert_eq!(
        outcome.stderr.matches("cannot take tools").count(),
        1,
        "{}",
        outcome.describe()
    );
    assert!(outcome.stderr.contains("--text-actions"));

    // --resume does not run it again into the same wall.
    let (again, _) = run(
        &server,
        dir.path(),
        &task,
        &["--max-iterations", "3", "--resume"],
    );
    again.assert_success();
    let records = read_jsonl(&dir.path().join("out.jsonl"));
    assert_eq!(records, [record], "{}", again.describe());
}

#[test]
fn captured_completion_ids_are_the_servers_tokens() {
    let Some(setup) = Setup::get("captured_completion_ids_are_the_servers_tokens") else {
        return;
    };
    let _one = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Llama::start(&setup, &["-c", "2048", "-np", "2"]);
    let dir = workdir();
    let (outcome, secs) = run(
        &server,
        dir.path(),
        "Say hello.",
        &[
            "--text-actions",
            "--capture-tokens",
            "--max-iterations",
            "1",
            "--max-tokens",
            "24",
        ],
    );
    outcome.assert_success();
    let record = the_record(dir.path(), &outcome);
    figures("token capture", &record, secs);
    assert_intact(&record, &outcome);
    let reply = assistants(&record)[0];
    let tokens = &reply["tokens"];
    assert_eq!(tokens["source"], "completion_only", "{reply:#}");
    assert_eq!(tokens["prompt_ids"], json!([]));
    let ids: Vec<u32> = serde_json::from_value(tokens["completion_ids"].clone()).unwrap();
    let logprobs = tokens["logprobs"].as_array().unwrap();
    assert_eq!(logprobs.len(), ids.len());
    assert_eq!(
        ids.len() as u64,
        record["usage"]["completion_tokens"].as_u64().unwrap(),
        "{reply:#}"
    );
    // The ids the server sampled are its own tokenization of the text,
    // and, when the model ended its turn, the end-of-turn token it sampled
    // (which the text does not show).
    let text = reply["content"].as_str().unwrap();
    let tokenized = server.tokenize(text);
    assert_eq!(ids[..tokenized.len()], tokenized, "{text:?}");
    let ended = usize::from(reply["finish_reason"] == "stop");
    assert_eq!(ids.len(), tokenized.len() + ended, "{reply:#}");
    if ended == 1 {
        let props = blocking_get(&format!("{}/props", server.root)).unwrap();
        let eos = props["eos_token"].as_str().unwrap();
        let special = blocking_post(
            &format!("{}/tokenize", server.root),
            &json!({"content": eos, "parse_special": true}),
        );
        assert_eq!(special["tokens"], json!([ids[ids.len() - 1]]), "{eos}");
    }
    // Without the prompt's ids there is nothing to train on, and the
    // record says why.
    assert_eq!(record["training"]["assembly"], "unavailable");
    assert!(
        record["training"]["reason"]
            .as_str()
            .unwrap()
            .contains("not the prompt's"),
        "{}",
        record["training"]
    );
}
