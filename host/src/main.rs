//! The `plinth` command line.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use plinth::catalog;
use plinth::plugin::{Plugin, PluginKind, PluginRuntime, RuntimeConfig};
use plinth::trajectory::Trajectory;

#[derive(Parser)]
#[command(name = "plinth", version, about = "Run LLM software-engineering agents in sandboxes; tools, scorers and formatters are WebAssembly components")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// Load an extra plugin component (repeatable). Directories in
    /// PLINTH_PLUGIN_PATH are searched too.
    #[arg(long = "plugin", global = true, value_name = "FILE.wasm")]
    plugins: Vec<PathBuf>,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// List and inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Turn canonical trajectories (JSONL) into another format.
    Format(FormatArgs),
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Built-in and discovered plugins: name, kind, version, API version, source.
    List,
    /// A component's world, imports, exports and tools, or why it cannot load.
    Inspect {
        /// The component file.
        file: PathBuf,
    },
}

#[derive(Args)]
struct FormatArgs {
    /// A formatter's name (hermes, mswea, openai, ...) or a .wasm file.
    #[arg(long)]
    format: String,
    /// Canonical trajectories, one JSON record per line.
    #[arg(long)]
    input: PathBuf,
    /// Formatter options as a JSON object, e.g. '{"variant": "batch_runner"}'.
    #[arg(long, default_value = "{}")]
    options: String,
    /// Write JSONL here instead of stdout.
    #[arg(long, conflicts_with = "output_dir")]
    output: Option<PathBuf>,
    /// Write one file per trajectory here, named `<id><extension>`.
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,plinth=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Plugins { command } => {
            let runtime = PluginRuntime::new(RuntimeConfig::default())?;
            match command {
                PluginsCommand::List => list_plugins(&runtime, &cli.global.plugins).await,
                PluginsCommand::Inspect { file } => inspect_plugin(&runtime, &file).await,
            }
        }
        Command::Format(args) => format(args, &cli.global.plugins).await,
    }
}

async fn list_plugins(runtime: &PluginRuntime, extra: &[PathBuf]) -> Result<std::process::ExitCode> {
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
                    m.api_version.clone(),
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
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

async fn inspect_plugin(runtime: &PluginRuntime, file: &std::path::Path) -> Result<std::process::ExitCode> {
    let plugin = match catalog::Source::File(file.to_path_buf()).load(runtime).await {
        Ok(plugin) => plugin,
        Err(e) => {
            println!("{}: cannot be loaded", file.display());
            println!("reason: {e}");
            return Ok(std::process::ExitCode::FAILURE);
        }
    };
    let m = plugin.meta();
    println!("file:        {}", file.display());
    println!("name:        {}", m.name);
    println!("version:     {}", m.version);
    println!("description: {}", m.description);
    println!("kind:        {}", m.kind);
    println!("world:       plinth:plugin/{}-plugin@{}", m.kind, m.api_version);
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
            println!("one record per line: {}", formatter.info.one_record_per_line);
        }
        Plugin::Scorer(_) => {}
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

async fn format(args: FormatArgs, extra: &[PathBuf]) -> Result<std::process::ExitCode> {
    let options: serde_json::Value =
        serde_json::from_str(&args.options).context("--options is not valid JSON")?;
    if !options.is_object() {
        bail!("--options must be a JSON object");
    }
    let runtime = PluginRuntime::new(RuntimeConfig::default())?;
    let formatter = catalog::find(&runtime, &args.format, PluginKind::Formatter, extra)
        .await?
        .into_formatter()?;
    let input = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut failures = 0usize;
    for (index, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line_no = index + 1;
        let line = line.with_context(|| format!("reading {}", args.input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let trajectory: Trajectory = match serde_json::from_str(&line) {
            Ok(t) => t,
            Err(e) => {
                failures += 1;
                eprintln!("{}:{line_no}: not a canonical trajectory: {e}", args.input.display());
                continue;
            }
        };
        let jsonl = args.output_dir.is_none();
        match formatter.format(&trajectory.to_wit(), &options, jsonl).await {
            Ok(text) => match &args.output_dir {
                Some(dir) => {
                    let path = dir.join(format!("{}{}", trajectory.id, formatter.info.file_extension));
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => writeln!(out, "{text}")?,
            },
            Err(e) => {
                failures += 1;
                eprintln!("{}:{line_no} (id {}): {e}", args.input.display(), trajectory.id);
            }
        }
    }
    out.flush()?;
    Ok(if failures > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}
