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
//! * the same round trip from every slot of one pool container at once
//!   against one slot alone: each slot has its own command server, so
//!   commands of different slots share no round trip that batching them
//!   could save (the seed batches them; this measures whether plinth should);
//! * a pool that breathes: containers over time for a bursty workload, with
//!   scale-down (`--pool-idle-timeout`) on and off, and the slot acquire
//!   latency a burst then sees.
//!
//! `cargo bench -p plinth --bench docker [-- --quick] [-- --image NAME]`
//! (`bench/docker.sh` prepares the engine and runs it). Human lines go to
//! stderr; the last stdout line is one JSON object.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::process::Command;
use std::time::{Duration, Instant};

use plinth_record::task::Task;
use plinth_sandbox::docker::{DockerConfig, DockerProvider, Engines, PoolConfig, PoolProvider};
use plinth_sandbox::{ExecRequest, SandboxProvider};
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
    let pool = one_container_pool(&config, slots).await;
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

    let cross_slot = cross_slot_round_trips(&config, &options).await;
    let breathing = json!({
        "scale_down_on": pool_over_time(&config, Some(Duration::from_secs(3))).await,
        "scale_down_off": pool_over_time(&config, None).await,
    });

    println!(
        "{}",
        json!({
            "container_start_ms": {"plinth": start_ours.median, "cli": start_cli.median},
            "exec_round_trip_ms": {"plinth": exec_ours.median, "cli": exec_cli.median, "ratio": exec_ratio},
            "slot_acquire_ms": {"median": acquire.median, "p90": acquire.p90},
            "cross_slot_round_trip_ms": cross_slot,
            "pool_over_time": breathing,
        })
    );
}

/// A warm pool of one container with `slots` slots.
async fn one_container_pool(config: &DockerConfig, slots: usize) -> PoolProvider {
    PoolProvider::start(
        Engines::connect(&[]).await.expect("a docker engine"),
        config.clone(),
        PoolConfig {
            slots_per_container: slots,
            min_containers: 1,
            max_containers: 1,
            ..PoolConfig::default()
        },
    )
    .await
    .expect("a warm pool")
}

/// `true` from one slot of a pool container, then from all its slots at
/// once: if concurrent slots cost no more per command than one alone, there
/// is no shared round trip for batching to save.
async fn cross_slot_round_trips(config: &DockerConfig, options: &Options) -> serde_json::Value {
    let slots = 8;
    let pool = one_container_pool(config, slots).await;
    let mut leases = Vec::new();
    for _ in 0..slots {
        leases.push(pool.create(&task()).await.expect("a slot"));
    }
    // Each slot's command server starts on its first command.
    for lease in &leases {
        lease.exec(ExecRequest::new("true")).await.expect("exec");
    }
    let rounds = options.execs / 4;
    let mut alone = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        leases[0]
            .exec(ExecRequest::new("true"))
            .await
            .expect("exec");
        alone.push(started.elapsed());
    }
    let mut together = Vec::new();
    let started = Instant::now();
    for _ in 0..rounds {
        let calls = leases.iter().map(|lease| async move {
            let started = Instant::now();
            lease.exec(ExecRequest::new("true")).await.expect("exec");
            started.elapsed()
        });
        together.extend(futures_util::future::join_all(calls).await);
    }
    let wall = started.elapsed();
    drop(leases);
    pool.shutdown().await;
    let n_alone = alone.len();
    let alone = stats(&mut alone);
    let n_together = together.len();
    let together = stats(&mut together);
    show("exec round trip: one slot alone", &alone, n_alone);
    show(
        &format!("exec round trip: {slots} slots at once"),
        &together,
        n_together,
    );
    let per_command = wall.as_secs_f64() * 1000.0 / n_together as f64;
    eprintln!(
        "  {slots} slots at once: {per_command:.2} ms of wall per command          (one slot alone: {:.2} ms)",
        alone.median
    );
    json!({
        "slots": slots,
        "alone_median": alone.median,
        "together_median": together.median,
        "together_wall_per_command": per_command,
    })
}

/// A bursty workload on a pool of up to 4 containers of 4 slots: 16
/// trajectories for 2 s, 8 s of nothing, 16 again, 8 s of nothing. The
/// pool's containers are counted every 500 ms (through the engine, by the
/// run's label); the second burst's acquire latency shows what shrinking
/// costs when work comes back.
async fn pool_over_time(
    config: &DockerConfig,
    idle_timeout: Option<Duration>,
) -> serde_json::Value {
    let pool = std::sync::Arc::new(
        PoolProvider::start(
            Engines::connect(&[]).await.expect("a docker engine"),
            config.clone(),
            PoolConfig {
                slots_per_container: 4,
                min_containers: 1,
                max_containers: 4,
                idle_timeout,
                ..PoolConfig::default()
            },
        )
        .await
        .expect("a pool"),
    );
    let label = format!("label=plinth.run={}", pool.run_id());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let counting = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut samples: Vec<(f64, usize)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let label = label.clone();
                let ids = tokio::task::spawn_blocking(move || {
                    docker_cli(&["ps", "-q", "--filter", &label])
                })
                .await
                .expect("counting containers");
                samples.push((started.elapsed().as_secs_f64(), ids.lines().count()));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            samples
        }
    });
    let mut second_burst = Vec::new();
    for burst in 0..2 {
        let trajectories = (0..16).map(|_| {
            let pool = pool.clone();
            async move {
                let asked = Instant::now();
                let lease = pool.create(&task()).await.expect("a slot");
                let waited = asked.elapsed();
                lease.exec(ExecRequest::new("true")).await.expect("exec");
                tokio::time::sleep(Duration::from_secs(2)).await;
                waited
            }
        });
        let waited = futures_util::future::join_all(trajectories).await;
        if burst == 1 {
            second_burst = waited;
        }
        tokio::time::sleep(Duration::from_secs(8)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let samples = counting.await.expect("the counter");
    pool.shutdown().await;

    // Container-seconds: each sample's count held until the next sample.
    let container_seconds: f64 = samples
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * w[0].1 as f64)
        .sum();
    let series: String = samples.iter().map(|(_, n)| n.to_string()).collect();
    let mode = match idle_timeout {
        Some(t) => format!("scale-down after {}s idle", t.as_secs()),
        None => "no scale-down".to_string(),
    };
    let n = second_burst.len();
    let acquire = stats(&mut second_burst);
    eprintln!("  pool over time, {mode}: containers every 0.5 s: {series}");
    eprintln!(
        "    {container_seconds:.1} container-seconds over {:.1} s; peak {}, at the end {}",
        samples.last().map_or(0.0, |s| s.0),
        samples.iter().map(|s| s.1).max().unwrap_or(0),
        samples.last().map_or(0, |s| s.1),
    );
    show("    second burst: slot acquire", &acquire, n);
    json!({
        "idle_timeout_s": idle_timeout.map(|t| t.as_secs()),
        "containers_every_500ms": samples.iter().map(|s| s.1).collect::<Vec<_>>(),
        "container_seconds": container_seconds,
        "second_burst_acquire_ms": {"median": acquire.median, "p90": acquire.p90},
    })
}
