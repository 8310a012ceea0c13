//! Figures for plugins written in Rust, Python and JavaScript: the same
//! `plinth new tool` project (a `wc` tool) built in each language, so the
//! numbers compare the toolchains and not the plugins' work.
//!
//! For each component: its size; the first load (compiling it with
//! Cranelift into an empty cache); a cached load (a fresh runtime on the
//! filled cache: a new `plinth` process in effect); and the median latency
//! of instantiate + call, for a call the guest answers by itself (bad
//! arguments) and for one that runs `wc` in the local sandbox.
//!
//! `bench/guests.sh` builds the components and runs
//! `cargo bench -p plinth --bench guests -- LANG=FILE.wasm ...`.
//! Human lines go to stderr; the last stdout line is one JSON object.

#![allow(clippy::unwrap_used)] // In a benchmark, an unwrap is an assertion.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use plinth_plugin::{PluginRuntime, PluginSource, RuntimeConfig, ToolPlugin};
use plinth_sandbox::{LocalSandbox, Sandbox};
use serde_json::{Value, json};

const COLD_REPS: usize = 2;
const WARM_REPS: usize = 7;
const CALLS: usize = 60;

fn runtime(cache: &Path) -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(cache.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

async fn load(cache: &Path, file: &Path) -> (ToolPlugin, Duration) {
    let rt = runtime(cache);
    let source = PluginSource::file(file).unwrap();
    let start = Instant::now();
    let plugin = rt.load(&source).await.unwrap().into_tool().unwrap();
    (plugin, start.elapsed())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

async fn calls(tool: &ToolPlugin, arguments: &str, sandbox: &Arc<dyn Sandbox>) -> Duration {
    let name = tool.tools[0].name.clone();
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        let _ = tool.invoke(&name, arguments, sandbox.clone()).await;
        samples.push(start.elapsed());
    }
    median(samples)
}

async fn measure(lang: &str, file: &Path, sandbox: &Arc<dyn Sandbox>) -> Value {
    let size = std::fs::metadata(file).unwrap().len();
    let mut cold = Vec::new();
    let cache = tempfile::tempdir().unwrap();
    for _ in 0..COLD_REPS {
        let empty = tempfile::tempdir().unwrap();
        cold.push(load(empty.path(), file).await.1);
    }
    load(cache.path(), file).await;
    let mut warm = Vec::new();
    for _ in 0..WARM_REPS {
        warm.push(load(cache.path(), file).await.1);
    }
    let (tool, _) = load(cache.path(), file).await;
    let no_command = calls(&tool, "{}", sandbox).await;
    let with_command = calls(&tool, r#"{"path": "poem.txt"}"#, sandbox).await;
    let figures = json!({
        "lang": lang,
        "size_bytes": size,
        "first_load_ms": ms(median(cold)),
        "cached_load_ms": ms(median(warm)),
        "call_no_command_ms": ms(no_command),
        "call_with_command_ms": ms(with_command),
    });
    eprintln!(
        "{lang:<7} {:>7.1} MB  first load {:>9.1} ms  cached load {:>7.1} ms  call {:>6.2} ms  call+wc {:>6.2} ms",
        size as f64 / 1e6,
        figures["first_load_ms"].as_f64().unwrap(),
        figures["cached_load_ms"].as_f64().unwrap(),
        figures["call_no_command_ms"].as_f64().unwrap(),
        figures["call_with_command_ms"].as_f64().unwrap(),
    );
    figures
}

#[tokio::main]
async fn main() {
    let components: Vec<(String, PathBuf)> = std::env::args()
        .skip(1)
        .filter_map(|arg| {
            let (lang, file) = arg.split_once('=')?;
            Some((lang.to_string(), PathBuf::from(file)))
        })
        .collect();
    assert!(
        !components.is_empty(),
        "usage: cargo bench -p plinth --bench guests -- LANG=FILE.wasm ... (bench/guests.sh)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("poem.txt"), "one two\nthree\n").unwrap();
    let sandbox: Arc<dyn Sandbox> =
        Arc::new(LocalSandbox::new(Some(dir.path()), Default::default()).unwrap());
    let mut figures = Vec::new();
    for (lang, file) in &components {
        figures.push(measure(lang, file, &sandbox).await);
    }
    println!(
        "{}",
        json!({"guests": figures, "calls": CALLS, "profile": profile()})
    );
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    }
}
