//! `plinth plugins list|inspect`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use plinth::catalog;
use plinth::plugin::{ApiVersion, Plugin, PluginRuntime};

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
