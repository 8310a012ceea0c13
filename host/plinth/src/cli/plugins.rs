//! `plinth plugins list|inspect|check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use plinth_plugin::catalog;
use plinth_plugin::{ApiVersion, CallStats, Plugin, PluginRuntime, measured};
use plinth_record::trajectory::Trajectory;
use plinth_run::settings::{PluginLimitOptions, plugin_runtime};

pub async fn list(runtime: &PluginRuntime, extra: &[PathBuf]) -> Result<ExitCode> {
    let mut rows = vec![[
        "NAME".to_string(),
        "KIND".into(),
        "VERSION".into(),
        "API".into(),
        "SOURCE".into(),
    ]];
    let mut failed = false;
    for source in catalog::sources(extra) {
        match source.load(runtime).await {
            Ok(plugin) => {
                let m = plugin.meta();
                rows.push([
                    m.name.clone(),
                    m.kind.to_string(),
                    m.version.clone(),
                    m.api_version.to_string(),
                    m.source.clone(),
                ]);
            }
            Err(e) => {
                failed = true;
                eprintln!("cannot load {}: {e}", source.label());
            }
        }
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn inspect(runtime: &PluginRuntime, file: &Path) -> Result<ExitCode> {
    let plugin = match catalog::Source::File(file.to_path_buf())
        .load(runtime)
        .await
    {
        Ok(plugin) => plugin,
        Err(e) => {
            println!("{}: cannot be loaded", file.display());
            println!("reason: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let m = plugin.meta();
    println!("file:        {}", file.display());
    println!("name:        {}", m.name);
    println!("version:     {}", m.version);
    println!("description: {}", m.description);
    println!("kind:        {}", m.kind);
    println!("world:       {}", plugin.world());
    if m.api_version == ApiVersion::LATEST {
        println!("api:         {}", m.api_version);
    } else {
        println!(
            "api:         {} (supported; new plugins target {})",
            m.api_version,
            ApiVersion::LATEST
        );
    }
    println!("imports:");
    for name in &m.imports {
        println!("  {name}");
    }
    println!("exports:");
    for name in &m.exports {
        println!("  {name}");
    }
    match &plugin {
        Plugin::Tool(tool) => {
            println!("tools:");
            for spec in &tool.tools {
                println!("  {}: {}", spec.name, first_line(&spec.description));
                println!("    parameters: {}", spec.parameters);
            }
        }
        Plugin::Formatter(formatter) => {
            println!("file extension:      {}", formatter.info.file_extension);
            println!(
                "one record per line: {}",
                formatter.info.one_record_per_line
            );
            println!("per group:           {}", formatter.info.per_group);
        }
        Plugin::Scorer(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `plinth plugins check`: loads the component under the given limits and
/// exercises it as a run would, reporting what it found and what each call
/// cost. Fails when anything would fail in a run.
pub async fn check(file: &Path, limits: &PluginLimitOptions) -> Result<ExitCode> {
    let config = plugin_runtime(limits, 1)?;
    println!("limits:      {}", config.limits);
    println!(
        "grants:      none: a run lends a tool or scorer that is not built in only what it \
         grants (--grant PLUGIN=exec,read,write:PREFIX, or the bundle's `grants`)"
    );
    let runtime = PluginRuntime::new(config)?;
    let started = std::time::Instant::now();
    let (loaded, calls) = measured(catalog::Source::File(file.to_path_buf()).load(&runtime)).await;
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(e) => {
            println!("FAIL  load: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let m = plugin.meta();
    println!(
        "ok    load: {} ms (compile or cache, link, info)",
        started.elapsed().as_millis()
    );
    println!("ok    world: {}", plugin.world());
    println!("ok    info: {} {}: {}", m.name, m.version, m.description);
    print_calls("info", &calls);
    let mut failed = false;
    match &plugin {
        Plugin::Tool(tool) => {
            for spec in &tool.tools {
                match jsonschema::meta::validate(&spec.parameters) {
                    Ok(()) => println!(
                        "ok    tool `{}`: parameters are valid JSON Schema",
                        spec.name
                    ),
                    Err(e) => {
                        failed = true;
                        println!(
                            "FAIL  tool `{}`: parameters are not valid JSON Schema: {e}",
                            spec.name
                        );
                    }
                }
            }
            if tool.tools.is_empty() {
                failed = true;
                println!("FAIL  tools: it offers no tool");
            }
        }
        Plugin::Scorer(_) => {
            println!(
                "      score: needs a task and a sandbox; try it in a run (`plinth run --scorer FILE`)"
            );
        }
        Plugin::Formatter(formatter) => {
            let sample = sample_trajectory()?;
            let options = serde_json::Value::Object(Default::default());
            let (text, calls) = measured(formatter.format(&sample, &options, true)).await;
            match text {
                Ok(text) => println!("ok    format: one JSONL record of {} bytes", text.len()),
                Err(e) => {
                    failed = true;
                    println!("FAIL  format: {e}");
                }
            }
            print_calls("format", &calls);
            if formatter.info.per_group {
                let group = [sample.clone(), sample];
                let (text, calls) = measured(formatter.format_group(&group, &options, true)).await;
                match text {
                    Ok(text) => println!(
                        "ok    format-group: one JSONL record of {} bytes",
                        text.len()
                    ),
                    Err(e) => {
                        failed = true;
                        println!("FAIL  format-group: {e}");
                    }
                }
                print_calls("format-group", &calls);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_calls(what: &str, calls: &[CallStats]) {
    for call in calls {
        println!(
            "      {what} call: {:.2} ms wall, {:.2} ms in the guest, peak memory {:.1} MiB",
            call.wall.as_secs_f64() * 1e3,
            call.guest.as_secs_f64() * 1e3,
            call.peak_memory as f64 / f64::from(1 << 20)
        );
    }
}

/// A small finished trajectory for trying formatters on: a tool call, its
/// observation, a submission and a score.
fn sample_trajectory() -> Result<Trajectory> {
    Ok(serde_json::from_value(serde_json::json!({
        "schema": plinth_record::trajectory::SCHEMA, "id": "sample-1", "input_index": 0,
        "task": {"prompt": "Fix the failing test."},
        "messages": [
            {"role": "system", "content": "You are a careful engineer.", "timestamp": 1.0},
            {"role": "user", "content": "Fix the failing test.", "timestamp": 1.0},
            {"role": "assistant", "content": "Let me look.", "timestamp": 2.0, "tool_calls": [
                {"id": "call-1", "type": "function",
                 "function": {"name": "terminal", "arguments": "{\"command\": \"pytest -q\"}"}}]},
            {"role": "tool", "content": "1 failed", "tool_call_id": "call-1", "timestamp": 3.0},
            {"role": "assistant", "content": "Done.", "timestamp": 4.0}
        ],
        "tools": [], "exit_status": "Submitted", "submission": "fixed", "error": null,
        "model": "sample-model", "sandbox": "local", "api_calls": 2,
        "usage": {"prompt_tokens": 100, "completion_tokens": 20}, "cost": 0.001,
        "started_at": "2026-11-26T12:00:00Z", "duration_secs": 4.0,
        "plinth_version": env!("CARGO_PKG_VERSION"), "patch": "",
        "score": {"reward": 1.0, "sub_scores": {"f2p": 1.0}, "details": {}}
    }))?)
}
