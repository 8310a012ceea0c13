//! Docker backend figures (issue 4), timed with `std::time`, each beside the
//! `docker` CLI doing the same on the same engine in the same run:
//!
//! * container start: `DockerProvider::create` (create + start of a hardened
//!   container, image already checked) against `docker run -d`;
//! * slot acquire from a warm pool (`PoolProvider::create` while slots are
//!   free): no CLI equivalent; target ≤ 5 ms;
//! * exec round trip of `true`: `Sandbox::exec` (through the sandbox's
//!   command server, see `sandbox::docker`) against `docker exec`;
//!   target ≤ 0.5× the CLI's.
//!
//! `cargo bench -p plinth --bench docker [-- --quick] [-- --image NAME]`
//! (`bench/docker.sh` prepares the engine and runs it). Human lines go to
//! stderr; the last stdout line is one JSON object.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::process::Command;
use std::time::{Duration, Instant};

use plinth::sandbox::docker::{DockerConfig, DockerProvider, Engines, PoolConfig, PoolProvider};
use plinth::sandbox::{ExecRequest, SandboxProvider};
use plinth::task::Task;
use serde_json::json;

struct Options {
    image: String,
    starts: usize,
    acquire_rounds: usize,
    execs: usize,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            image: "plinth-test-busybox".into(),
            starts: 20,
            acquire_rounds: 25,
            execs: 200,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.starts = 5;
                    options.acquire_rounds = 5;
                    options.execs = 30;
                }
                "--image" => options.image = args.next().unwrap_or(options.image),
                // `cargo bench` passes `--bench`; ignore it and anything else.
                _ => {}
            }
        }
        options
    }
}

/// Milliseconds: median, 90th percentile, mean.
struct Stats {
    median: f64,
    p90: f64,
    mean: f64,
}

fn stats(samples: &mut [Duration]) -> Stats {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Stats {
        median: ms(samples[samples.len() / 2]),
        p90: ms(samples[(samples.len() * 9 / 10).min(samples.len() - 1)]),
        mean: samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64,
    }
}

fn show(what: &str, s: &Stats, n: usize) {
    eprintln!(
        "  {what:<40} median {:>8.2} ms   p90 {:>8.2} ms   mean {:>8.2} ms   (n={n})",
        s.median, s.p90, s.mean
    );
}

/// Starts an idle container with the docker CLI (the baseline plinth's own
/// container start is compared with); returns its id.
fn idle_container_cli(image: &str) -> String {
    docker_cli(&[
        "run",
        "-d",
        "--network",
        "none",
        image,
        "sh",
        "-c",
        "while :; do sleep 86400; done",
    ])
}

fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("running the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn task() -> Task {
    Task::parse_line(0, r#"{"id": "bench", "prompt": "bench"}"#)
        .expect("a task")
        .expect("a task")
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let config = DockerConfig {
        image: Some(options.image.clone()),
        ..DockerConfig::default()
    };
    eprintln!("docker backends (image {}):", options.image);

    // Container start.
    let provider = DockerProvider::new(
        Engines::connect(&[]).await.expect("a docker engine"),
        config.clone(),
    );
    // The first create checks the image; not part of a start.
    drop(provider.create(&task()).await.expect("a container"));
    let mut ours = Vec::new();
    for _ in 0..options.starts {
        let started = Instant::now();
        let sandbox = provider.create(&task()).await.expect("a container");
        ours.push(started.elapsed());
        drop(sandbox);
    }
    let mut cli = Vec::new();
    for _ in 0..options.starts {
        let started = Instant::now();
        let id = idle_container_cli(&options.image);
        cli.push(started.elapsed());
        docker_cli(&["rm", "-f", &id]);
    }
    let start_ours = stats(&mut ours);
    let start_cli = stats(&mut cli);
    show(
        "container start: plinth (create+start)",
        &start_ours,
        ours.len(),
    );
    show("container start: docker run -d", &start_cli, cli.len());

    // Exec round trip, on one container each.
    let sandbox = provider.create(&task()).await.expect("a container");
    let id = idle_container_cli(&options.image);
    let mut ours = Vec::new();
    let mut cli = Vec::new();
    // Interleaved, so both see the same engine load.
    for _ in 0..options.execs {
        let started = Instant::now();
        let out = sandbox.exec(ExecRequest::new("true")).await.expect("exec");
        ours.push(started.elapsed());
        assert_eq!(out.exit_code, 0);
        let started = Instant::now();
        docker_cli(&["exec", &id, "true"]);
        cli.push(started.elapsed());
    }
    docker_cli(&["rm", "-f", &id]);
    drop(sandbox);
    provider.shutdown().await;
    let exec_ours = stats(&mut ours);
    let exec_cli = stats(&mut cli);
    show(
        "exec round trip: plinth (Sandbox::exec)",
        &exec_ours,
        ours.len(),
    );
    show("exec round trip: docker exec", &exec_cli, cli.len());
    let exec_ratio = exec_ours.median / exec_cli.median;
    eprintln!("  exec ratio plinth/CLI (median): {exec_ratio:.2} (target <= 0.5)");

    // Slot acquire from a warm pool: take every slot, give them back, wait
    // for the resets, again.
    let slots = 8;
    let pool = PoolProvider::start(
        Engines::connect(&[]).await.expect("a docker engine"),
        config,
        PoolConfig {
            slots_per_container: slots,
            min_containers: 1,
            max_containers: 1,
            ..PoolConfig::default()
        },
    )
    .await
    .expect("a warm pool");
    let mut acquire = Vec::new();
    for _ in 0..options.acquire_rounds {
        let mut leases = Vec::new();
        for _ in 0..slots {
            let started = Instant::now();
            leases.push(pool.create(&task()).await.expect("a slot"));
            acquire.push(started.elapsed());
        }
        drop(leases);
        // Resets run in the background; the next round must find free
        // slots, not wait for them.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    pool.shutdown().await;
    let acquire = {
        let n = acquire.len();
        let s = stats(&mut acquire);
        show("slot acquire from a warm pool", &s, n);
        s
    };
    eprintln!(
        "  acquire target <= 5 ms (median): {}",
        if acquire.median <= 5.0 {
            "met"
        } else {
            "MISSED"
        }
    );

    println!(
        "{}",
        json!({
            "container_start_ms": {"plinth": start_ours.median, "cli": start_cli.median},
            "exec_round_trip_ms": {"plinth": exec_ours.median, "cli": exec_cli.median, "ratio": exec_ratio},
            "slot_acquire_ms": {"median": acquire.median, "p90": acquire.p90},
        })
    );
}
