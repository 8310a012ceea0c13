//! `plinth-mock-llm`: serve the mock until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use plinth_mock_llm::{BenchConfig, Fault, Faults, MockConfig, MockServer, Script};

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
    /// Share of chat requests (0-1) answered with a fault instead of a reply.
    #[arg(long, env = "MOCK_FAULT_RATE", default_value_t = 0.0)]
    fault_rate: f64,
    /// A kind of fault to inject (repeatable) [default: every kind].
    #[arg(long = "fault", value_enum)]
    faults: Vec<Fault>,
    /// Seed of the fault choice, so runs repeat.
    #[arg(long, env = "MOCK_SEED", default_value_t = 7)]
    seed: u64,
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
        faults: Faults {
            rate: args.fault_rate,
            kinds: if args.faults.is_empty() {
                Fault::ALL.to_vec()
            } else {
                args.faults
            },
            seed: args.seed,
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
