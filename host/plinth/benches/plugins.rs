//! Plugin runtime figures (issue 2), timed with `std::time` (no criterion):
//!
//! * cold compile (fresh runtime, empty cache dir) and warm load (fresh
//!   runtime, filled cache dir: a new process in effect) of every built-in;
//! * instantiate + call latency of the `terminal` tool running a trivial
//!   command, against the same command through the local sandbox directly,
//!   and of the tool with no command at all (instantiate + a call the guest
//!   answers by itself);
//! * instantiate + `format` latency of each formatter on a typical
//!   trajectory (the benchmark's 10-step run: 24 messages).
//!
//! `cargo bench -p plinth --bench plugins [-- --quick] [-- --json FILE]`.
//! Human lines go to stderr; the last stdout line is one JSON object
//! (`bench/run.sh` reads it).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth_plugin::builtins::BUILTINS;
use plinth_plugin::{PluginRuntime, PluginSource, RuntimeConfig, ToolPlugin};
use plinth_record::trajectory::{FunctionCall, Message, Role, ToolCall, Trajectory};
use plinth_sandbox::{ExecRequest, LocalSandbox, Sandbox};
use serde_json::{Value, json};

struct Options {
    /// Repetitions of each cold compile.
    cold_reps: usize,
    /// Repetitions of each warm load.
    warm_reps: usize,
    /// Calls per latency series.
    calls: usize,
    json: Option<String>,
    /// Skip the compile figures (for profiling the calls).
    calls_only: bool,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            cold_reps: 3,
            warm_reps: 15,
            calls: 400,
            json: None,
            calls_only: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.cold_reps = 1;
                    options.warm_reps = 5;
                    options.calls = 100;
                }
                "--calls" => {
                    options.calls = args.next().and_then(|v| v.parse().ok()).unwrap_or(400)
                }
                "--json" => options.json = args.next(),
                "--calls-only" => options.calls_only = true,
                // `cargo bench` passes `--bench`; ignore it and anything else.
                _ => {}
            }
        }
        options
    }
}

/// Median, p90, mean, min and max of a series, in milliseconds.
fn stats(samples: &[Duration]) -> Value {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "n": ms.len(),
        "median_ms": round(pick(0.5)),
        "p90_ms": round(pick(0.9)),
        "mean_ms": round(ms.iter().sum::<f64>() / ms.len() as f64),
        "min_ms": round(ms[0]),
        "max_ms": round(ms[ms.len() - 1]),
    })
}

fn show(label: &str, s: &Value) {
    eprintln!(
        "  {label:<44} median {:>9.3} ms   p90 {:>9.3} ms   (n={})",
        s["median_ms"].as_f64().unwrap_or(f64::NAN),
        s["p90_ms"].as_f64().unwrap_or(f64::NAN),
        s["n"]
    );
}

fn runtime(cache: &Path) -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("a plugin runtime")
}

fn source(name: &str, bytes: &'static [u8]) -> PluginSource {
    PluginSource::builtin(name, bytes)
}

fn builtin(name: &str) -> PluginSource {
    let (name, bytes) = BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a built-in");
    source(name, bytes)
}

/// The trajectory of one benchmark task: system + user, ten `echo step N &&
/// ls` steps and the final marker command, as `plinth run` records it.
fn bench_trajectory(terminal: &ToolPlugin) -> Trajectory {
    let tools: Vec<Value> = terminal
        .tools
        .iter()
        .map(|spec| {
            json!({"type": "function", "function": {
                "name": spec.name, "description": spec.description, "parameters": spec.parameters,
            }})
        })
        .collect();
    let mut messages = vec![
        Message::new(Role::System, plinth_agent::Prompts::default().system),
        Message::new(
            Role::User,
            "Benchmark task 1. STEPS=10. Run the commands you are given in the working directory, then finish.",
        ),
    ];
    for step in 1..=11 {
        let (command, output) = if step <= 10 {
            (
                format!("echo step {step} && ls"),
                format!("step {step}\nREADME.md\nmain.py\nsrc\n"),
            )
        } else {
            (
                "echo MINI_SWE_AGENT_FINAL_OUTPUT && echo done".to_string(),
                "MINI_SWE_AGENT_FINAL_OUTPUT\ndone\n".to_string(),
            )
        };
        let id = format!("call_{step}");
        let mut assistant = Message::new(Role::Assistant, "");
        assistant.content = None;
        assistant.tool_calls = vec![ToolCall {
            id: id.clone(),
            kind: "function".into(),
            function: FunctionCall {
                name: "terminal".into(),
                arguments: json!({ "command": command }).to_string(),
            },
        }];
        assistant.cost = Some(0.0);
        messages.push(assistant);
        let mut tool = Message::new(
            Role::Tool,
            json!({"content": {"output": output, "exit_code": 0, "error": null}}).to_string(),
        );
        tool.tool_call_id = Some(id);
        tool.name = Some("terminal".into());
        messages.push(tool);
    }
    serde_json::from_value(json!({
        "schema": plinth_record::trajectory::SCHEMA, "id": "task-0001", "input_index": 0,
        "task": {"id": "task-0001", "prompt": messages[1].content},
        "messages": messages, "tools": tools, "exit_status": "Submitted", "submission": "done",
        "error": null, "model": "mock", "sandbox": "local", "api_calls": 11,
        "usage": {"prompt_tokens": 5500, "completion_tokens": 330}, "cost": 0.0,
        "started_at": "2026-11-21T12:00:00.000Z", "duration_secs": 0.03,
        "plinth_version": env!("CARGO_PKG_VERSION"), "patch": null, "score": null
    }))
    .expect("a valid trajectory")
}

async fn compile_figures(options: &Options) -> Value {
    eprintln!("compile and load of the built-ins (fresh runtime each time):");
    let mut per_plugin = serde_json::Map::new();
    let (mut cold_total, mut warm_total) = (0.0, 0.0);
    for (name, bytes) in BUILTINS {
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        for _ in 0..options.cold_reps {
            let dir = tempfile::tempdir().expect("a temp dir");
            let rt = runtime(dir.path());
            let started = Instant::now();
            rt.load(&source(name, bytes)).await.expect("loads");
            cold.push(started.elapsed());
            drop(rt);
            // The filled cache, loaded by fresh runtimes (new processes, in effect).
            for _ in 0..options.warm_reps.div_ceil(options.cold_reps) {
                let rt = runtime(dir.path());
                let started = Instant::now();
                rt.load(&source(name, bytes)).await.expect("loads");
                warm.push(started.elapsed());
            }
        }
        let (cold, warm) = (stats(&cold), stats(&warm));
        show(&format!("{name}: cold compile + describe"), &cold);
        show(&format!("{name}: warm (cached) load + describe"), &warm);
        cold_total += cold["median_ms"].as_f64().unwrap_or(0.0);
        warm_total += warm["median_ms"].as_f64().unwrap_or(0.0);
        per_plugin.insert(
            name.to_string(),
            json!({"component_bytes": bytes.len(), "cold": cold, "warm": warm}),
        );
    }

    // All of them in one runtime, one after another.
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime(dir.path());
    let started = Instant::now();
    for (name, bytes) in BUILTINS {
        rt.load(&source(name, bytes)).await.expect("loads");
    }
    let cold_all = started.elapsed();
    drop(rt);
    let mut warm_all = Vec::new();
    for _ in 0..options.warm_reps {
        let rt = runtime(dir.path());
        let started = Instant::now();
        for (name, bytes) in BUILTINS {
            rt.load(&source(name, bytes)).await.expect("loads");
        }
        warm_all.push(started.elapsed());
    }
    let mut new_runtime = Vec::new();
    for _ in 0..options.warm_reps {
        let started = Instant::now();
        let rt = runtime(dir.path());
        new_runtime.push(started.elapsed());
        drop(rt);
    }
    let cold_all_ms = cold_all.as_secs_f64() * 1e3;
    let n = BUILTINS.len();
    eprintln!(
        "  all {n}, one runtime: cold {cold_all_ms:.1} ms (sum of medians {cold_total:.1} ms)"
    );
    let warm_all = stats(&warm_all);
    show(&format!("all {n}, one runtime: warm"), &warm_all);
    let new_runtime = stats(&new_runtime);
    show(
        "PluginRuntime::new (engine, pooling, linkers)",
        &new_runtime,
    );
    json!({
        "per_plugin": per_plugin,
        "builtins": n,
        "cold_all_ms": (cold_all_ms * 10.0).round() / 10.0,
        "cold_sum_of_medians_ms": (cold_total * 10.0).round() / 10.0,
        "warm_all": warm_all,
        "warm_sum_of_medians_ms": (warm_total * 1000.0).round() / 1000.0,
        "runtime_new": new_runtime,
    })
}

/// CPU time (user + sys) of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The benchmark's per-step command run with plain blocking `std::process`:
/// its wall time and its own CPU (bash + ls), which `plinth run` pays per step
/// whatever the host does.
fn bash_command(dir: &Path, command: &str, calls: usize) -> Value {
    let run = || {
        let out = std::process::Command::new("bash")
            .args(["-c", command])
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bash runs");
        assert!(out.status.success());
    };
    for _ in 0..20 {
        run();
    }
    let cpu_before = children_cpu();
    let mut wall = Vec::new();
    for _ in 0..calls {
        let started = Instant::now();
        run();
        wall.push(started.elapsed());
    }
    let cpu_ms = (children_cpu() - cpu_before).as_secs_f64() * 1e3 / calls as f64;
    let wall = stats(&wall);
    show(&format!("`{command}` via std::process (blocking)"), &wall);
    eprintln!("  its own CPU (getrusage of the children): {cpu_ms:.3} ms per command");
    json!({
        "command": command,
        "wall": wall,
        "children_cpu_ms_mean": (cpu_ms * 1000.0).round() / 1000.0,
    })
}

async fn call_figures(options: &Options) -> Value {
    let cache = tempfile::tempdir().expect("a temp dir");
    let rt = runtime(cache.path());
    let terminal = rt
        .load(&builtin("terminal"))
        .await
        .expect("loads")
        .into_tool()
        .expect("a tool");
    // The benchmark's work dir: `ls` prints three names.
    let work = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(work.path().join("src")).expect("mkdir");
    for (file, text) in [
        ("README.md", "hello\n"),
        ("main.py", "print(1)\n"),
        ("src/lib.py", ""),
    ] {
        std::fs::write(work.path().join(file), text).expect("a file");
    }
    let bench_command = "echo step 5 && ls";
    let bash = bash_command(work.path(), bench_command, options.calls);
    let bash_trivial = bash_command(work.path(), "echo hi", options.calls);
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(work.path()), Default::default()).expect("a sandbox"));
    let command = "echo hi";
    let arguments = json!({ "command": command }).to_string();

    eprintln!("terminal tool (`{command}`) vs the local sandbox directly, interleaved:");
    for _ in 0..20 {
        terminal
            .invoke("terminal", &arguments, sandbox.clone())
            .await
            .expect("runs");
        sandbox.exec(ExecRequest::new(command)).await.expect("runs");
    }
    let (mut via_tool, mut direct, mut no_exec) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.calls {
        let started = Instant::now();
        let result = terminal
            .invoke("terminal", &arguments, sandbox.clone())
            .await
            .expect("runs");
        via_tool.push(started.elapsed());
        assert!(result.content.contains("hi"), "{}", result.content);

        let started = Instant::now();
        let out = sandbox.exec(ExecRequest::new(command)).await.expect("runs");
        direct.push(started.elapsed());
        assert_eq!(out.output, "hi\n");

        // Instantiate + a call the guest answers itself (a missing argument):
        // the component's cost without any process.
        let started = Instant::now();
        let err = terminal.invoke("terminal", "{}", sandbox.clone()).await;
        no_exec.push(started.elapsed());
        assert!(err.is_err());
    }
    let mut direct_bench = Vec::new();
    for _ in 0..options.calls {
        let started = Instant::now();
        sandbox
            .exec(ExecRequest::new(bench_command))
            .await
            .expect("runs");
        direct_bench.push(started.elapsed());
    }
    let direct_bench = stats(&direct_bench);
    show(
        &format!("LocalSandbox::exec `{bench_command}`"),
        &direct_bench,
    );
    let (via_tool, direct, no_exec) = (stats(&via_tool), stats(&direct), stats(&no_exec));
    show("terminal tool invoke (instantiate + call)", &via_tool);
    show("LocalSandbox::exec directly", &direct);
    show("terminal tool, no command (instantiate+call)", &no_exec);
    let overhead =
        via_tool["median_ms"].as_f64().unwrap_or(0.0) - direct["median_ms"].as_f64().unwrap_or(0.0);
    eprintln!("  plugin overhead per tool call (median difference): {overhead:.3} ms");

    let trajectory = bench_trajectory(&terminal);
    let mut formatters = serde_json::Map::new();
    eprintln!(
        "formatters on a typical trajectory ({} messages), convert + instantiate + format:",
        trajectory.messages.len()
    );
    for name in ["hermes", "mswea", "openai"] {
        let formatter = rt
            .load(&builtin(name))
            .await
            .expect("loads")
            .into_formatter()
            .expect("a formatter");
        let options_json = json!({});
        let mut samples = Vec::new();
        let mut bytes = 0;
        for i in 0..options.calls + 20 {
            let started = Instant::now();
            let text = formatter
                .format(&trajectory, &options_json, true)
                .await
                .expect("formats");
            if i >= 20 {
                samples.push(started.elapsed());
            }
            bytes = text.len();
        }
        let s = stats(&samples);
        show(&format!("{name} format ({bytes} bytes out)"), &s);
        let mut entry = s;
        entry["output_bytes"] = bytes.into();
        formatters.insert(name.to_string(), entry);
    }
    json!({
        "bash_command": bash,
        "bash_trivial_command": bash_trivial,
        "sandbox_exec_bench_command": direct_bench,
        "command": command,
        "terminal_invoke": via_tool,
        "sandbox_exec_direct": direct,
        "terminal_invoke_no_exec": no_exec,
        "tool_overhead_median_ms": (overhead * 1000.0).round() / 1000.0,
        "trajectory_messages": trajectory.messages.len(),
        "formatters": formatters,
    })
}

fn main() {
    let options = Options::parse();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let doc = tokio.block_on(async {
        let compile = if options.calls_only {
            Value::Null
        } else {
            compile_figures(&options).await
        };
        let calls = call_figures(&options).await;
        json!({ "compile": compile, "calls": calls })
    });
    let text = doc.to_string();
    if let Some(path) = &options.json {
        std::fs::write(path, &text).expect("writing the JSON");
    }
    println!("{text}");
}
