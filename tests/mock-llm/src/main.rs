//! `plinth-mock-llm`: serve the mock until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use plinth_mock_llm::{BenchConfig, MockConfig, MockServer, Script};

/// A local OpenAI-compatible chat-completions mock (`/v1/chat/completions`,
/// `/v1/models`, `/stats`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, env = "MOCK_PORT", default_value_t = 0)]
    port: u16,
    /// Sleep before each chat reply, in milliseconds.
    #[arg(long, env = "MOCK_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Work steps per task when the prompt has no `STEPS=<n>`.
    #[arg(long, env = "MOCK_STEPS", default_value_t = 10)]
    steps: u32,
    /// Add `reasoning_content` to bench-mode replies.
    #[arg(long, env = "MOCK_REASONING")]
    reasoning: bool,
    /// JSON script played for prompts containing `SCRIPT=<key>`.
    #[arg(long, env = "MOCK_SCRIPT")]
    script: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let script = match args.script.as_deref().map(Script::load).transpose() {
        Ok(script) => script.unwrap_or_default(),
        Err(error) => {
            eprintln!("plinth-mock-llm: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = MockConfig {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        script,
        bench: BenchConfig {
            steps: args.steps,
            reasoning: args.reasoning,
        },
        ..MockConfig::default()
    };
    let server = match MockServer::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "plinth-mock-llm: cannot listen on port {}: {error}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    // Harnesses wait for this line (stdout is line-buffered, so it goes out at once).
    println!("listening on {}", server.base_url());
    tokio::select! {
        result = server.wait() => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("plinth-mock-llm: {error}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
