//! The Docker backends against a real engine: the real `plinth` binary with
//! the scripted mock model, and the sandbox API directly.
//!
//! `tests/docker-setup.sh` prepares what these need: dockerd on the default
//! socket (or `DOCKER_HOST`), a second engine in its own network namespace
//! (`PLINTH_TEST_DOCKER_HOST2`, default `unix:///var/run/plinth-docker2.sock`),
//! the image `plinth-test-busybox` on both, and `plinth-test-no-tar` (a shell,
//! no `tar`) on the first. Without an engine each test
//! says loudly that it is skipped and passes, unless PLINTH_REQUIRE_DOCKER=1
//! (as `tests/run.sh` sets after a successful setup): then it fails.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{KillContainerOptions, ListContainersOptions, TopOptions};
use plinth_mock_llm::{Attempt, Script};
use plinth_record::task::Task;
use plinth_sandbox::docker::{
    CreateRate, DockerConfig, DockerProvider, Engines, PoolConfig, PoolProvider,
};
use plinth_sandbox::{
    ExecRequest, LocalConfig, LocalSandbox, OutputPolicy, Sandbox, SandboxError, SandboxProvider,
};
use serde_json::{Value, json};
use support::mock::{Ctx, finish, run_cmd, status};
use support::run::{Outcome, plinth};

const IMAGE: &str = "plinth-test-busybox";
/// `dash`, `sleep`, `rm` and `mkdir`, and no `tar`.
const NO_TAR_IMAGE: &str = "plinth-test-no-tar";
/// The busybox image with `bash`, for persistent shell sessions.
const BASH_IMAGE: &str = "plinth-test-bash";
const SECOND_HOST: &str = "unix:///var/run/plinth-docker2.sock";

// ------------------------------------------------------------------ engines

/// Passes a test that cannot run, loudly, or fails it when Docker is
/// required.
#[track_caller]
fn skip(test: &str, problem: &str) {
    support::skip_without_docker(&format!("docker::{test}"), problem, "tests/docker-setup.sh");
}

/// A client of the engine at `host` (`None`: DOCKER_HOST or the local
/// socket), if it answers and has the test image.
async fn connect(host: Option<&str>) -> Result<Docker, String> {
    let docker = match host {
        Some(url) => Docker::connect_with_unix(url, 60, bollard::API_DEFAULT_VERSION),
        None => Docker::connect_with_defaults(),
    }
    .map_err(|e| {
        format!(
            "no docker engine at {}: {e}",
            host.unwrap_or("$DOCKER_HOST or the default socket")
        )
    })?;
    let docker = docker.negotiate_version().await.map_err(|e| {
        format!(
            "no docker engine answers at {}: {e}",
            host.unwrap_or("$DOCKER_HOST or the default socket")
        )
    })?;
    docker
        .inspect_image(IMAGE)
        .await
        .map_err(|e| format!("the image {IMAGE} is missing: {e}"))?;
    Ok(docker)
}

/// The default engine, or `None` when the test is skipped.
async fn engine(test: &str) -> Option<Docker> {
    match connect(None).await {
        Ok(docker) => Some(docker),
        Err(problem) => {
            skip(test, &problem);
            None
        }
    }
}

fn second_host() -> String {
    std::env::var("PLINTH_TEST_DOCKER_HOST2").unwrap_or_else(|_| SECOND_HOST.into())
}

/// Containers on `docker` labelled by the plinth process `pid`.
async fn containers_of(docker: &Docker, pid: u32) -> Vec<String> {
    containers_labelled(docker, &format!("plinth.pid={pid}")).await
}

/// Containers on `docker` of the run `run_id`: in this test process, other
/// tests' containers carry the same `plinth.pid`.
async fn containers_of_run(docker: &Docker, run_id: &str) -> Vec<String> {
    containers_labelled(docker, &format!("plinth.run={run_id}")).await
}

async fn containers_labelled(docker: &Docker, label: &str) -> Vec<String> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![label.to_string()],
        )])),
        ..ListContainersOptions::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .expect("listing containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Polls until `check` returns `Some`, failing after `limit`.
async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------ plinth runs

fn run_cmd_timeout(command: &str, timeout: u64) -> Attempt {
    Attempt::tool_call(
        "terminal",
        &json!({ "command": command, "timeout": timeout }).to_string(),
    )
}

fn submit() -> Attempt {
    run_cmd("echo MINI_SWE_AGENT_FINAL_OUTPUT; echo done")
}

/// A model whose first command sleeps for two minutes.
fn sleeping() -> Vec<Vec<Attempt>> {
    vec![vec![run_cmd_timeout("sleep 120", 300)], vec![submit()]]
}

/// `n` task rows with ids `t00`, `t01`..., all with `prompt`.
fn copies(n: usize, prompt: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("t{i:02}"), "prompt": prompt}))
        .collect()
}

/// Flags of the `docker-pool` backend on [`IMAGE`].
fn pool<'a>(slots: &'a str, min: &'a str, max: &'a str) -> Vec<&'a str> {
    vec![
        "--sandbox",
        "docker-pool",
        "--image",
        IMAGE,
        "--slots-per-container",
        slots,
        "--min-containers",
        min,
        "--max-containers",
        max,
    ]
}

/// Outputs of every terminal call of a trajectory, in order.
fn outputs(trajectory: &Value) -> Vec<String> {
    trajectory["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            let result: Value =
                serde_json::from_str(m["content"].as_str().unwrap_or_default()).unwrap_or_default();
            result["content"]["output"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn statuses(records: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for t in records.values() {
        *counts.entry(status(t).to_string()).or_default() += 1;
    }
    counts
}

fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill only sends a signal to the plinth child this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill {pid}");
}

// ------------------------------------------------------------ sandbox API

/// A configuration of the per-task backend on [`IMAGE`].
fn on_image() -> DockerConfig {
    DockerConfig {
        image: Some(IMAGE.into()),
        ..DockerConfig::default()
    }
}

/// A per-task provider on the default engine.
async fn per_task_provider(config: DockerConfig) -> DockerProvider {
    DockerProvider::new(Engines::connect(&[]).await.expect("engine"), config)
}

fn task(id: &str) -> Task {
    Task::parse_line(0, &format!(r#"{{"id": "{id}", "prompt": "x"}}"#))
        .unwrap()
        .unwrap()
}

/// A tar with `x.txt` and `sub/y.txt`.
fn small_archive() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in [("x.txt", "ex\n"), ("sub/y.txt", "why\n")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// Directories with a quote and spaces in their names, none there yet.
const AWKWARD_DIR: &str = "it's a dir/with spaces";

/// Unpacks [`small_archive`] into [`AWKWARD_DIR`] (relative to the working
/// directory), into an absolute directory that does not exist yet, and into
/// the working directory itself, as a workspace is made; reads every file
/// back through the archive API, so no command has to work in the image.
async fn unpacks_archives(sandbox: &dyn Sandbox) {
    let absolute = format!("{}/'new' dir/deeper", sandbox.cwd());
    for dir in [AWKWARD_DIR, &absolute, sandbox.cwd()] {
        sandbox
            .write_archive(dir, &small_archive())
            .await
            .unwrap_or_else(|e| panic!("unpacking into {dir}: {e}"));
        for (file, contents) in [("x.txt", "ex\n"), ("sub/y.txt", "why\n")] {
            let path = format!("{dir}/{file}");
            let read = sandbox.read_file(&path).await;
            assert_eq!(read.as_deref().ok(), Some(contents.as_bytes()), "{path}");
        }
    }
}

/// Links lead where the kernel would go, resolved in the sandbox itself:
/// what capability grants check a plugin's paths against.
async fn resolves_paths_through_links(sandbox: &dyn Sandbox) {
    let made = sandbox
        .exec(ExecRequest::new(
            "mkdir -p notes out && echo hi > notes/a.txt && ln -s /etc notes/etc \
             && ln -s ../notes out/back && ln -s /nowhere/x out/dangling",
        ))
        .await
        .unwrap();
    assert_eq!(made.exit_code, 0, "{}", made.output);
    let cwd = sandbox.cwd().to_string();
    let root = sandbox.real_path(&cwd).await.unwrap();
    let real = |p: &str| {
        let path = format!("{cwd}/{p}");
        async move { sandbox.real_path(&path).await }
    };
    assert_eq!(
        real("notes/a.txt").await.unwrap(),
        format!("{root}/notes/a.txt")
    );
    assert_eq!(real("notes/etc/passwd").await.unwrap(), "/etc/passwd");
    assert_eq!(
        real("out/back/a.txt").await.unwrap(),
        format!("{root}/notes/a.txt")
    );
    assert_eq!(
        real("new/dir/f.txt").await.unwrap(),
        format!("{root}/new/dir/f.txt")
    );
    // A dangling link is refused or resolved to where it points, never
    // taken for a new file in the workspace.
    if let Ok(path) = real("out/dangling").await {
        assert!(!path.starts_with(&root), "{path}");
    }
}

// ------------------------------------------------------------------- tests

#[tokio::test]
async fn a_scripted_task_runs_in_a_hardened_container_and_its_files_are_there() {
    let Some(docker) =
        engine("a_scripted_task_runs_in_a_hardened_container_and_its_files_are_there").await
    else {
        return;
    };
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd(
            "pwd; echo hello > made.txt; mkdir -p sub && echo deep > sub/x.txt; echo one; echo two >&2; echo three",
        )],
        vec![run_cmd(
            "cat made.txt sub/x.txt; test -f /.dockerenv && echo in-docker; \
             grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; ls /sys/class/net",
        )],
        vec![submit()],
    ])
    .await;
    // The row's image and cwd win over the flags.
    let tasks = ctx
        .tasks(&[json!({"id": "a", "prompt": "make files", "image": IMAGE, "cwd": "/work/here"})]);
    let (pid, run) = ctx
        .run_with_pid(&[
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--sandbox",
            "docker",
            "--image",
            "no-such-image-for-plinth",
            "--memory",
            "256m",
            "--pids-limit",
            "128",
        ])
        .await;
    run.assert_success();
    assert!(
        containers_of(&docker, pid).await.is_empty(),
        "the container is gone"
    );
    let records = ctx.records();
    let t = &records["a"];
    assert_eq!(status(t), "Submitted", "{t:#}");
    assert_eq!(t["sandbox"], "docker");
    let out = outputs(t);
    assert_eq!(out[0], "/work/here\none\ntwo\nthree\n");
    assert!(out[1].starts_with("hello\ndeep\nin-docker\n"), "{}", out[1]);
    // Only the documented capabilities (CHOWN DAC_OVERRIDE FOWNER KILL
    // SETGID SETUID = 0xeb), no new privileges, and no network but lo.
    assert!(out[1].contains("CapEff:\t00000000000000eb"), "{}", out[1]);
    assert!(out[1].contains("NoNewPrivs:\t1"), "{}", out[1]);
    assert!(out[1].ends_with("lo\n"), "{}", out[1]);
}

/// The sandbox API directly: exec (order, exit codes, truncation identical
/// to the local sandbox), files through the archive API, a missing working
/// directory, a read-only root, and removal on drop.
#[tokio::test]
async fn the_sandbox_api_behaves_like_the_local_one() {
    let Some(docker) = engine("the_sandbox_api_behaves_like_the_local_one").await else {
        return;
    };
    let output = OutputPolicy {
        max_bytes: 1000,
        secrets: vec!["sk-secret-value".into()],
    };
    let provider = per_task_provider(DockerConfig {
        output: output.clone(),
        ..on_image()
    })
    .await;
    let task = task("api");
    let sandbox = provider.create(&task).await.expect("a container");
    assert_eq!(sandbox.cwd(), "/workspace");
    let local = LocalSandbox::new(
        None,
        LocalConfig {
            output,
            ..LocalConfig::default()
        },
    )
    .unwrap();

    // The same commands give the same observations in both backends.
    for command in [
        "echo one; echo two >&2; echo three; exit 3",
        "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done",
        "printf '\\033[31mred\\033[0m and sk-secret-value\\n'",
        "printf 'no newline'",
        "sleep 20 & echo started",
    ] {
        let started = Instant::now();
        let in_docker = sandbox.exec(ExecRequest::new(command)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{command} took {:?}",
            started.elapsed()
        );
        let on_host = local.exec(ExecRequest::new(command)).await.unwrap();
        assert_eq!(in_docker, on_host, "{command}");
    }

    // Output of a background process that outlives its command does not
    // leak into the next command's.
    let out = sandbox
        .exec(ExecRequest::new("(sleep 0.3; echo late) & echo now"))
        .await
        .unwrap();
    assert_eq!(out.output, "now\n");
    let out = sandbox
        .exec(ExecRequest::new("sleep 0.6; echo next"))
        .await
        .unwrap();
    assert_eq!(out.output, "next\n");
    // Commands that do not go through the sandbox's command server (a
    // newline in the environment; a second command while one runs) behave
    // the same.
    let multi = ExecRequest {
        env: vec![("MULTI".into(), "a\nb".into())],
        ..ExecRequest::new("printf '%s|' \"$MULTI\"; echo $TERM; exit 4")
    };
    let out = sandbox.exec(multi.clone()).await.unwrap();
    assert_eq!((out.output.as_str(), out.exit_code), ("a\nb|dumb\n", 4));
    let out = sandbox
        .exec(ExecRequest {
            timeout: Some(Duration::from_millis(500)),
            command: "printf '%s|' \"$MULTI\"; sleep 30".into(),
            ..multi
        })
        .await
        .unwrap();
    assert!(out.timed_out && out.exit_code == 124, "{out:?}");
    assert!(
        out.output.starts_with("a\nb|\n[command timed out"),
        "{out:?}"
    );
    let (slow, quick) = tokio::join!(
        sandbox.exec(ExecRequest::new("sleep 1; echo slow")),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sandbox.exec(ExecRequest::new("echo quick")).await
        }
    );
    assert_eq!(slow.unwrap().output, "slow\n");
    assert_eq!(quick.unwrap().output, "quick\n");

    // Files through the archive API, seen by commands and back.
    sandbox.write_file("a/b/c.txt", b"hello\n").await.unwrap();
    sandbox.write_file("/tmp/abs.txt", b"abs").await.unwrap();
    let out = sandbox
        .exec(ExecRequest::new(
            "cat a/b/c.txt /tmp/abs.txt; echo x > made.txt",
        ))
        .await
        .unwrap();
    assert_eq!(out.output, "hello\nabs");
    assert_eq!(sandbox.read_file("made.txt").await.unwrap(), b"x\n");
    assert_eq!(
        sandbox.read_file("/workspace/a/b/c.txt").await.unwrap(),
        b"hello\n"
    );
    assert!(matches!(
        sandbox.read_file("missing.txt").await,
        Err(SandboxError::NotFound(_))
    ));
    assert!(matches!(
        sandbox.read_file("a").await,
        Err(SandboxError::Other(_))
    ));
    // Commands may run elsewhere; a missing directory is not found.
    let out = sandbox
        .exec(ExecRequest {
            cwd: Some("a/b".into()),
            env: vec![("GREETING".into(), "hi there".into())],
            ..ExecRequest::new("echo \"$GREETING\" from $(pwd)")
        })
        .await
        .unwrap();
    assert_eq!(out.output, "hi there from /workspace/a/b\n");
    assert!(matches!(
        sandbox
            .exec(ExecRequest {
                cwd: Some("nowhere".into()),
                ..ExecRequest::new("true")
            })
            .await,
        Err(SandboxError::NotFound(_))
    ));

    // Dropping the sandbox removes its container.
    let run = provider.run_id().to_string();
    assert_eq!(containers_of_run(&docker, &run).await.len(), 1);
    drop(sandbox);
    wait_until(
        "the container's removal",
        Duration::from_secs(20),
        || async {
            containers_of_run(&docker, &run)
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await;

    // A read-only root: the workspace (a volume) and /tmp stay writable.
    let provider = per_task_provider(DockerConfig {
        read_only: true,
        ..on_image()
    })
    .await;
    let sandbox = provider.create(&task).await.expect("a container");
    sandbox.write_file("w.txt", b"written").await.unwrap();
    let out = sandbox
        .exec(ExecRequest::new(
            "cat w.txt; echo t > /tmp/t && echo tmp-ok; touch /etc/nope 2>/dev/null || echo root-ro",
        ))
        .await
        .unwrap();
    assert_eq!(out.output, "writtentmp-ok\nroot-ro\n");
    provider.shutdown().await;
    assert!(
        containers_of_run(&docker, provider.run_id())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn paths_resolve_through_links_in_the_container_as_on_the_host() {
    let test = "paths_resolve_through_links_in_the_container_as_on_the_host";
    let Some(_docker) = engine(test).await else {
        return;
    };
    let provider = per_task_provider(on_image()).await;
    let sandbox = provider.create(&task("links")).await.expect("a container");
    resolves_paths_through_links(sandbox.as_ref()).await;
    let local = LocalSandbox::new(None, LocalConfig::default()).unwrap();
    resolves_paths_through_links(&local).await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_are_created_no_faster_than_the_create_rate() {
    let test = "containers_are_created_no_faster_than_the_create_rate";
    let Some(_docker) = engine(test).await else {
        return;
    };
    let rate = 5.0;
    let provider = Arc::new(
        per_task_provider(DockerConfig {
            create_rate: CreateRate::per_second(rate),
            ..on_image()
        })
        .await,
    );
    let started = Instant::now();
    let mut creations = Vec::new();
    for i in 0..6 {
        let provider = provider.clone();
        creations.push(tokio::spawn(async move {
            provider.create(&task(&format!("rate-{i}"))).await.map(drop)
        }));
    }
    for creation in creations {
        creation.await.unwrap().expect("a container");
    }
    // Six creations at 5/s: the last waits at least five intervals.
    let took = started.elapsed().as_secs_f64();
    assert!(
        took >= 5.0 / rate * 0.95,
        "6 containers at {rate}/s in {took} s"
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn a_command_past_its_timeout_is_stopped_inside_the_container() {
    if engine("a_command_past_its_timeout_is_stopped_inside_the_container")
        .await
        .is_none()
    {
        return;
    }
    let provider = per_task_provider(on_image()).await;
    let sandbox = provider
        .create(&task("timeout"))
        .await
        .expect("a container");
    let started = Instant::now();
    let out = sandbox
        .exec(ExecRequest {
            timeout: Some(Duration::from_secs(1)),
            ..ExecRequest::new("echo before; sleep 3071 & sleep 3072; echo never")
        })
        .await
        .unwrap();
    assert!(out.timed_out, "{out:?}");
    assert_eq!(out.exit_code, 124);
    assert!(out.output.starts_with("before\n"), "{}", out.output);
    assert!(out.output.contains("timed out after 1s"), "{}", out.output);
    assert!(!out.output.contains("never"));
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing of it is left running in the container, the background
    // process included.
    let ps = sandbox.exec(ExecRequest::new("ps")).await.unwrap();
    assert!(!ps.output.contains("sleep 307"), "{}", ps.output);
    provider.shutdown().await;
}

#[tokio::test]
async fn containers_are_gone_after_the_run_and_after_errors() {
    let Some(docker) = engine("containers_are_gone_after_the_run_and_after_errors").await else {
        return;
    };
    let script = Script::new()
        .task("ok", vec![vec![run_cmd("echo hi")], vec![submit()]])
        // A model that fails for good mid-run.
        .task(
            "model-error",
            vec![
                vec![run_cmd("echo hi")],
                vec![Attempt::http_error(400, None, None)],
            ],
        )
        // A container that dies under the command: the trajectory is an
        // infrastructure error, not the model's failure.
        .task(
            "dies",
            // (PID 1, the init, ignores signals from inside: kill the
            // container's main process, its child.)
            vec![
                vec![run_cmd(
                    "for p in /proc/[0-9]*; do set -- $(cat $p/stat 2>/dev/null); \
                     [ \"$4\" = 1 ] && kill -9 \"$1\"; done; sleep 5",
                )],
                vec![submit()],
            ],
        );
    let ctx = Ctx::new(script).await;
    let tasks = ctx.tasks(&[
        json!({"id": "ok", "prompt": "SCRIPT=ok"}),
        json!({"id": "model-error", "prompt": "SCRIPT=model-error"}),
        json!({"id": "dies", "prompt": "SCRIPT=dies"}),
        json!({"id": "no-image", "prompt": "SCRIPT=ok", "image": "plinth-no-such-image:1"}),
    ]);
    let (pid, run) = ctx
        .run_with_pid(&[
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--sandbox",
            "docker",
            "--image",
            IMAGE,
            "--concurrency",
            "4",
        ])
        .await;
    let records = ctx.records();
    assert_eq!(records.len(), 4, "{}", run.describe());
    assert_eq!(status(&records["ok"]), "Submitted");
    assert_eq!(status(&records["model-error"]), "ModelError");
    assert_eq!(
        status(&records["dies"]),
        "InfrastructureError",
        "{:#}",
        records["dies"]
    );
    let error = records["dies"]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("sandbox failed: container"), "{error}");
    assert_eq!(status(&records["no-image"]), "InfrastructureError");
    let error = records["no-image"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("image `plinth-no-such-image:1` is missing locally"),
        "{error}"
    );
    assert_eq!(
        run.code,
        Some(2),
        "errors make the run fail: {}",
        run.describe()
    );
    assert!(
        containers_of(&docker, pid).await.is_empty(),
        "containers left: {}",
        run.describe()
    );
}

#[tokio::test]
async fn sigint_and_sigterm_remove_every_container_of_the_run() {
    let Some(docker) = engine("sigint_and_sigterm_remove_every_container_of_the_run").await else {
        return;
    };
    let ctx = Ctx::with_steps(sleeping()).await;
    let tasks = ctx.tasks(&[
        json!({"id": "a", "prompt": "wait"}),
        json!({"id": "b", "prompt": "wait"}),
        json!({"id": "c", "prompt": "wait"}),
    ]);
    let tasks = tasks.to_str().unwrap();
    let per_task = vec!["--sandbox", "docker", "--image", IMAGE];
    // (signal, its name, backend flags, containers the run makes)
    for (signal, name, backend, want) in [
        (libc::SIGINT, "SIGINT", per_task, 3),
        (libc::SIGTERM, "SIGTERM", pool("2", "1", "2"), 2),
    ] {
        let mut args = vec!["--prompts-file", tasks, "--concurrency", "3"];
        args.extend(backend);
        let (child, pid) = ctx.start(&args);
        wait_until("the run's containers", Duration::from_secs(60), || async {
            (containers_of(&docker, pid).await.len() >= want).then_some(())
        })
        .await;
        // Let the commands start.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sent = Instant::now();
        send_signal(pid, signal);
        let run = tokio::time::timeout(Duration::from_secs(60), finish(child))
            .await
            .expect("plinth stops soon after the signal");
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "took {:?}",
            sent.elapsed()
        );
        assert_eq!(run.code, Some(2), "{}", run.describe());
        assert_eq!(run.summary()["interrupted"], name, "{}", run.describe());
        assert!(
            containers_of(&docker, pid).await.is_empty(),
            "{name} left containers: {}",
            run.describe()
        );
    }
}

#[tokio::test]
async fn reap_removes_the_containers_of_a_killed_run() {
    let Some(docker) = engine("reap_removes_the_containers_of_a_killed_run").await else {
        return;
    };
    let ctx = Ctx::with_steps(sleeping()).await;
    let (mut child, pid) = ctx.start(&["--task", "wait", "--sandbox", "docker", "--image", IMAGE]);
    wait_until("the run's container", Duration::from_secs(60), || async {
        (!containers_of(&docker, pid).await.is_empty()).then_some(())
    })
    .await;
    // A run killed outright cannot clean up.
    send_signal(pid, libc::SIGKILL);
    child.wait().await.expect("plinth ends");
    assert_eq!(containers_of(&docker, pid).await.len(), 1);

    // Too young for --older-than: kept.
    let reap = |older_than: &'static str| async move {
        Outcome::from(
            tokio::process::Command::from(plinth())
                .args(["sandbox", "reap", "--older-than", older_than])
                .output()
                .await
                .expect("running plinth sandbox reap"),
        )
    };
    let kept = reap("1h").await;
    assert_eq!(kept.code, Some(0), "{}", kept.describe());
    assert_eq!(containers_of(&docker, pid).await.len(), 1);
    let reaped = reap("0s").await;
    assert_eq!(reaped.code, Some(0), "{}", reaped.describe());
    assert!(
        reaped.stdout.contains("removed plinth-"),
        "{}",
        reaped.describe()
    );
    assert!(containers_of(&docker, pid).await.is_empty());
}

#[tokio::test]
async fn a_pool_of_2x4_serves_16_trajectories_without_slots_seeing_each_other() {
    let Some(docker) =
        engine("a_pool_of_2x4_serves_16_trajectories_without_slots_seeing_each_other").await
    else {
        return;
    };
    // Each trajectory checks that its slot starts clean (no files, none of
    // the processes a previous holder left behind, in or out of its process
    // group), then leaves files and processes behind for the next one.
    let look = "ls -A; echo procs=$(ps | grep -c '[s]leep [12]000'\"$PLINTH_SLOT\"); \
                echo \"$HOME|$TMPDIR|$(pwd)|$PLINTH_SLOT\"; hostname";
    let leave = "echo mine > mine-$$.txt; sleep 1000$PLINTH_SLOT & setsid sleep 2000$PLINTH_SLOT & \
                 sleep 1; ls -A";
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd(look)],
        vec![run_cmd(leave)],
        vec![submit()],
    ])
    .await;
    let tasks = ctx.tasks(&copies(16, "share"));
    let mut args = vec![
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--concurrency",
        "16",
    ];
    args.extend(pool("4", "2", "2"));
    let (pid, run) = ctx.run_with_pid(&args).await;
    run.assert_success();
    let records = ctx.records();
    assert_eq!(
        statuses(&records),
        BTreeMap::from([("Submitted".into(), 16)])
    );
    let mut hosts = BTreeSet::new();
    for (id, t) in &records {
        let out = outputs(t);
        let lines: Vec<&str> = out[0].lines().collect();
        assert_eq!(lines[0], ".tmp", "{id} found a used slot: {}", out[0]);
        assert_eq!(lines[1], "procs=0", "{id} found processes left: {}", out[0]);
        let slot = lines[2].rsplit('|').next().unwrap();
        let dir = format!("/workspace/slot-{slot}");
        assert_eq!(lines[2], format!("{dir}|{dir}/.tmp|{dir}|{slot}"), "{id}");
        hosts.insert(lines[3].to_string());
        let files: Vec<&str> = out[1].lines().collect();
        assert_eq!(files.len(), 2, "{id} sees others' files: {}", out[1]);
        assert!(
            files[0] == ".tmp" && files[1].starts_with("mine-"),
            "{id}: {}",
            out[1]
        );
    }
    assert_eq!(hosts.len(), 2, "two containers served them all: {hosts:?}");
    assert!(containers_of(&docker, pid).await.is_empty());
}

#[tokio::test]
async fn killing_a_pool_container_fails_its_slots_and_replaces_it() {
    let Some(docker) = engine("killing_a_pool_container_fails_its_slots_and_replaces_it").await
    else {
        return;
    };
    let ctx = Ctx::with_steps(vec![
        vec![run_cmd_timeout("hostname; sleep 6", 60)],
        vec![submit()],
    ])
    .await;
    let tasks = ctx.tasks(&copies(16, "work"));
    // Without reruns (--retry-infra 0), so the killed slots' failures are
    // what the run records.
    let mut args = vec![
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--concurrency",
        "8",
        "--retry-infra",
        "0",
    ];
    args.extend(pool("4", "2", "2"));
    let (child, pid) = ctx.start(&args);
    // Wait for a container running four commands, then kill it.
    let victim = wait_until(
        "a pool container with 4 busy slots",
        Duration::from_secs(60),
        || async {
            for id in containers_of(&docker, pid).await {
                let Ok(top) = docker.top_processes(&id, None::<TopOptions>).await else {
                    continue;
                };
                let sleeping = top
                    .processes
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| p.last().is_some_and(|cmd| cmd.trim() == "sleep 6"))
                    .count();
                if sleeping == 4 {
                    return Some(id);
                }
            }
            None
        },
    )
    .await;
    docker
        .kill_container(&victim, None::<KillContainerOptions>)
        .await
        .expect("killing the container");
    let run = finish(child).await;
    let records = ctx.records();
    assert_eq!(records.len(), 16, "{}", run.describe());
    assert_eq!(
        statuses(&records),
        BTreeMap::from([("InfrastructureError".into(), 4), ("Submitted".into(), 12)]),
        "{}",
        run.describe()
    );
    let victim_host = &victim[..12];
    for t in records.values() {
        let out = outputs(t);
        if status(t) == "Submitted" {
            assert_ne!(
                out[0].trim(),
                victim_host,
                "a slot of the dead container succeeded"
            );
        } else {
            let error = t["error"].as_str().unwrap_or_default();
            assert!(error.contains("sandbox"), "{error}");
        }
    }
    // A replacement started: three containers in all.
    assert_eq!(
        run.stderr.matches("slots) started on").count(),
        3,
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("is lost"), "{}", run.describe());
    assert!(containers_of(&docker, pid).await.is_empty());
}

#[tokio::test]
async fn two_engines_share_one_pool() {
    let Some(first) = engine("two_engines_share_one_pool").await else {
        return;
    };
    let host2 = second_host();
    let second = match connect(Some(&host2)).await {
        Ok(docker) => docker,
        Err(problem) => return skip("two_engines_share_one_pool", &problem),
    };
    let ctx = Ctx::with_steps(vec![vec![run_cmd("hostname; sleep 1")], vec![submit()]]).await;
    let tasks = ctx.tasks(&copies(8, "spread"));
    let host1 = "unix:///var/run/docker.sock".to_string();
    let host1 = std::env::var("DOCKER_HOST").unwrap_or(host1);
    let mut args = vec![
        "--prompts-file",
        tasks.to_str().unwrap(),
        "--docker-host",
        &host1,
        "--docker-host",
        &host2,
        "--concurrency",
        "4",
    ];
    args.extend(pool("2", "2", "2"));
    let (child, pid) = ctx.start(&args);
    // While it runs, each engine holds one of the pool's containers.
    wait_until(
        "a pool container on each engine",
        Duration::from_secs(60),
        || async {
            let on_first = containers_of(&first, pid).await.len();
            let on_second = containers_of(&second, pid).await.len();
            (on_first == 1 && on_second == 1).then_some(())
        },
    )
    .await;
    let run = finish(child).await;
    run.assert_success();
    assert_eq!(
        statuses(&ctx.records()),
        BTreeMap::from([("Submitted".into(), 8)])
    );
    let hosts: BTreeSet<String> = ctx
        .records()
        .values()
        .map(|t| outputs(t)[0].trim().to_string())
        .collect();
    assert_eq!(hosts.len(), 2, "both containers served: {hosts:?}");
    assert!(
        run.stderr.contains(&format!("started on {host1}")),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(&format!("started on {host2}")),
        "{}",
        run.describe()
    );
    assert!(containers_of(&first, pid).await.is_empty());
    assert!(containers_of(&second, pid).await.is_empty());
}

/// The slot pool's own API: acquiring from a warm pool is fast, and a full
/// pool at its maximum makes the next trajectory wait for a release.
#[tokio::test]
async fn a_full_pool_waits_for_a_release() {
    if engine("a_full_pool_waits_for_a_release").await.is_none() {
        return;
    }
    use plinth_sandbox::docker::{PoolConfig, PoolProvider};
    let provider = Arc::new(
        PoolProvider::start(
            Engines::connect(&[]).await.expect("engine"),
            on_image(),
            PoolConfig {
                slots_per_container: 2,
                min_containers: 1,
                max_containers: 1,
                ..PoolConfig::default()
            },
        )
        .await
        .expect("a warm pool"),
    );
    let task = task("p");
    let started = Instant::now();
    let first = provider.create(&task).await.unwrap();
    let second = provider.create(&task).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert_ne!(first.cwd(), second.cwd());
    let waiting = {
        let provider = provider.clone();
        let task = task.clone();
        tokio::spawn(async move { provider.create(&task).await.map(|s| s.cwd().to_string()) })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the third trajectory waits");
    let freed = first.cwd().to_string();
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("a slot is released")
        .unwrap()
        .unwrap();
    assert_eq!(third, freed);
    drop(second);

    // Past --slot-timeout, a trajectory still waiting gets an error (an
    // infrastructure error for its record), not an endless wait.
    let impatient = PoolProvider::start(
        Engines::connect(&[]).await.expect("engine"),
        on_image(),
        PoolConfig {
            slots_per_container: 1,
            min_containers: 1,
            max_containers: 1,
            slot_timeout: Duration::from_millis(700),
            ..PoolConfig::default()
        },
    )
    .await
    .expect("a warm pool");
    let held = impatient.create(&task).await.unwrap();
    let started = Instant::now();
    let refused = match impatient.create(&task).await {
        Ok(_) => panic!("a second slot in a one-slot pool"),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("--slot-timeout"), "{refused}");
    assert!(started.elapsed() >= Duration::from_millis(650));
    drop(held);
    impatient.shutdown().await;
    provider.shutdown().await;
}

/// The pool breathes: it grows under load, shrinks back to its minimum once
/// containers sit idle past --pool-idle-timeout, and replaces a container
/// that has served --pool-max-uses trajectories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_shrinks_when_idle_and_recycles_worn_containers() {
    let Some(docker) = engine("a_pool_shrinks_when_idle_and_recycles_worn_containers").await else {
        return;
    };
    use plinth_sandbox::docker::{PoolConfig, PoolProvider};
    let provider = Arc::new(
        PoolProvider::start(
            Engines::connect(&[]).await.expect("engine"),
            on_image(),
            PoolConfig {
                slots_per_container: 1,
                min_containers: 1,
                max_containers: 3,
                idle_timeout: Some(Duration::from_secs(1)),
                max_uses: Some(2),
                ..PoolConfig::default()
            },
        )
        .await
        .expect("a warm pool"),
    );
    let run = provider.run_id().to_string();
    let task = task("breathe");
    let held = futures_util::future::join_all((0..3).map(|_| provider.create(&task))).await;
    let held: Vec<_> = held.into_iter().map(|s| s.expect("a slot")).collect();
    assert_eq!(containers_of_run(&docker, &run).await.len(), 3);
    drop(held);
    let one = wait_until(
        "the pool to shrink to its minimum",
        Duration::from_secs(20),
        || async {
            let left = containers_of_run(&docker, &run).await;
            (left.len() == 1).then_some(left)
        },
    )
    .await;
    // The last container served one trajectory; its second use wears it out.
    for _ in 0..2 {
        drop(provider.create(&task).await.expect("a slot"));
    }
    let replaced = wait_until(
        "the worn container to be replaced",
        Duration::from_secs(20),
        || async {
            let now = containers_of_run(&docker, &run).await;
            (now.len() == 1 && now != one).then_some(now)
        },
    )
    .await;
    assert_ne!(replaced, one);
    provider.shutdown().await;
}

/// A Docker engine that greets like one (it answers `/version`, so plinth
/// connects to it at start) and then hangs up on every other request: an
/// engine that went down after the run started. Serves until dropped.
struct EngineGoneDown {
    url: String,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl EngineGoneDown {
    fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    loop {
                        match stream.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                        if !head.ends_with(b"\r\n\r\n") {
                            continue;
                        }
                        let request = String::from_utf8_lossy(&head).to_string();
                        head.clear();
                        let target = request.split_whitespace().nth(1).unwrap_or_default();
                        if !target.ends_with("/version") {
                            return; // hang up
                        }
                        let body =
                            r#"{"ApiVersion":"1.41","MinAPIVersion":"1.12","Version":"20.10.0"}"#;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url: format!("unix://{}", path.display()),
            server,
            _dir: dir,
        }
    }
}

impl Drop for EngineGoneDown {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An engine that stops answering mid-run gets no new containers: the
/// trajectories that would have gone there start on the engine that still
/// answers, per task and in a pool alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_went_down_is_passed_over() {
    let Some(docker) = engine("an_engine_that_went_down_is_passed_over").await else {
        return;
    };
    let gone = EngineGoneDown::start();
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    for pooled in [false, true] {
        let ctx = Ctx::with_steps(vec![vec![run_cmd("echo hi")], vec![submit()]]).await;
        let tasks = ctx.tasks(&copies(6, "spread"));
        let mut args = vec![
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--docker-host",
            &gone.url,
            "--docker-host",
            &host,
            "--concurrency",
            "3",
        ];
        if pooled {
            args.extend(pool("2", "2", "3"));
        } else {
            args.extend(["--sandbox", "docker", "--image", IMAGE]);
        }
        let (pid, run) = ctx.run_with_pid(&args).await;
        run.assert_success();
        assert_eq!(
            statuses(&ctx.records()),
            BTreeMap::from([("Submitted".into(), 6)]),
            "pooled: {pooled}: {}",
            run.describe()
        );
        assert!(
            run.stderr
                .contains(&format!("docker engine {} does not answer", gone.url)),
            "pooled: {pooled}: {}",
            run.describe()
        );
        assert!(containers_of(&docker, pid).await.is_empty());
    }
}

/// A TLS endpoint in front of the local engine, like `dockerd --tlsverify`
/// serves: it takes only clients with a certificate from its CA. The CA and
/// a client certificate and key are in `certs`, laid out as
/// `DOCKER_CERT_PATH` wants them.
struct TlsEngine {
    url: String,
    certs: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl TlsEngine {
    async fn start() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |name: &str, usage| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
            params.extended_key_usages = vec![usage];
            (params.signed_by(&key, &issuer).unwrap(), key)
        };
        let (server_cert, server_key) = leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf("plinth", ExtendedKeyUsagePurpose::ClientAuth);
        let certs = tempfile::tempdir().unwrap();
        std::fs::write(certs.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(certs.path().join("cert.pem"), client_cert.pem()).unwrap();
        std::fs::write(certs.path().join("key.pem"), client_key.serialize_pem()).unwrap();

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let clients = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der());
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(clients)
            .with_single_cert(vec![server_cert.der().clone()], key.into())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|host| host.strip_prefix("unix://").map(String::from))
            .unwrap_or_else(|| "/var/run/docker.sock".into());
        let server = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, socket) = (acceptor.clone(), socket.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut engine) = tokio::net::UnixStream::connect(&socket).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
                });
            }
        });
        Self {
            url: format!("https://127.0.0.1:{port}"),
            certs,
            server,
        }
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A TLS engine (`https://`, or `tcp://` with DOCKER_TLS_VERIFY) is reached
/// with the client certificate in DOCKER_CERT_PATH; without one, the run
/// stops at its start and says what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_engine_is_reached_with_the_client_certificate() {
    let Some(docker) = engine("a_tls_engine_is_reached_with_the_client_certificate").await else {
        return;
    };
    let tls = TlsEngine::start().await;
    let tcp_url = tls.url.replacen("https://", "tcp://", 1);
    for (url, verify) in [(&tls.url, ""), (&tcp_url, "1")] {
        let ctx = Ctx::with_steps(vec![vec![run_cmd("echo over tls")], vec![submit()]]).await;
        let tasks = ctx.tasks(&copies(2, "tls"));
        let args = [
            "--prompts-file",
            tasks.to_str().unwrap(),
            "--sandbox",
            "docker",
            "--image",
            IMAGE,
            "--docker-host",
            url,
        ];
        let mut command = ctx.command(&args);
        command
            .env("DOCKER_CERT_PATH", tls.certs.path())
            .env("DOCKER_TLS_VERIFY", verify);
        let child = command.spawn().unwrap();
        let pid = child.id().unwrap();
        let run = finish(child).await;
        run.assert_success();
        let records = ctx.records();
        assert_eq!(
            statuses(&records),
            BTreeMap::from([("Submitted".into(), 2)]),
            "{url}: {}",
            run.describe()
        );
        assert!(outputs(&records["t00"])[0].contains("over tls"));
        assert!(containers_of(&docker, pid).await.is_empty());
    }

    // No client certificate: a clear error before any task runs.
    let ctx = Ctx::with_steps(vec![vec![submit()]]).await;
    let empty = tempfile::tempdir().unwrap();
    let mut command = ctx.command(&["--task", "x", "--sandbox", "docker", "--image", IMAGE]);
    command
        .args(["--docker-host", &tls.url])
        .env("DOCKER_CERT_PATH", empty.path());
    let run = Outcome::from(command.output().await.unwrap());
    assert_ne!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stderr.contains("ca.pem") && run.stderr.contains("DOCKER_CERT_PATH"),
        "{}",
        run.describe()
    );
}

/// `write_archive` goes through the Engine's archive API in a per-task
/// container and in a pool slot: it makes the directories that are missing
/// (leaving those that exist as they were), takes names a shell would trip
/// on, works on a read-only root (into the workspace volume), and needs no
/// `tar` in the image.
#[tokio::test]
async fn archives_unpack_into_new_awkward_directories_without_tar_in_the_image() {
    const TEST: &str = "archives_unpack_into_new_awkward_directories_without_tar_in_the_image";
    let Some(docker) = engine(TEST).await else {
        return;
    };
    if let Err(e) = docker.inspect_image(NO_TAR_IMAGE).await {
        skip(TEST, &format!("the image {NO_TAR_IMAGE} is missing: {e}"));
        return;
    }
    use plinth_sandbox::docker::{PoolConfig, PoolProvider};
    let task = task("archives");
    let no_tar = || DockerConfig {
        image: Some(NO_TAR_IMAGE.into()),
        ..DockerConfig::default()
    };

    // Per-task containers: the busybox image, where commands can look at
    // the result, a read-only root, and the image without tar.
    let provider = per_task_provider(on_image()).await;
    let sandbox = provider.create(&task).await.expect("a container");
    unpacks_archives(sandbox.as_ref()).await;
    sandbox
        .write_archive("/tmp/it's new", &small_archive())
        .await
        .unwrap();
    let out = sandbox
        .exec(ExecRequest::new(
            "cat \"it's a dir/with spaces/sub/y.txt\"; stat -c '%a %n' \"it's a dir\" /tmp",
        ))
        .await
        .unwrap();
    // The new directory is made as `mkdir -p` would; `/tmp`, which was there,
    // keeps its sticky bit.
    assert_eq!(out.output, "why\n755 it's a dir\n1777 /tmp\n");
    drop(sandbox);
    provider.shutdown().await;
    for config in [
        DockerConfig {
            read_only: true,
            ..on_image()
        },
        no_tar(),
    ] {
        let provider = per_task_provider(config).await;
        let sandbox = provider.create(&task).await.expect("a container");
        unpacks_archives(sandbox.as_ref()).await;
        provider.shutdown().await;
    }

    // Pool slots: relative directories are in the slot's own directory.
    for config in [on_image(), no_tar()] {
        let provider = PoolProvider::start(
            Engines::connect(&[]).await.expect("engine"),
            config,
            PoolConfig {
                slots_per_container: 2,
                min_containers: 1,
                max_containers: 1,
                ..PoolConfig::default()
            },
        )
        .await
        .expect("a warm pool");
        let (first, second) = (
            provider.create(&task).await.unwrap(),
            provider.create(&task).await.unwrap(),
        );
        unpacks_archives(second.as_ref()).await;
        let path = format!("{}/{AWKWARD_DIR}/x.txt", second.cwd());
        assert!(path.starts_with("/workspace/slot-"), "{path}");
        assert_eq!(second.read_file(&path).await.unwrap(), b"ex\n");
        assert!(matches!(
            first.read_file(&format!("{AWKWARD_DIR}/x.txt")).await,
            Err(SandboxError::NotFound(_))
        ));
        drop((first, second));
        provider.shutdown().await;
    }

    // The image really has a shell but no tar.
    let provider = per_task_provider(no_tar()).await;
    let sandbox = provider.create(&task).await.expect("a container");
    let out = sandbox
        .exec(ExecRequest::new("command -v tar || echo no tar here"))
        .await
        .unwrap();
    assert_eq!(out.output, "no tar here\n");
    provider.shutdown().await;
}

#[tokio::test]
async fn persistent_sessions_keep_their_contract_in_containers_pool_slots_and_locally() {
    let test = "persistent_sessions_keep_their_contract_in_containers_pool_slots_and_locally";
    let Some(docker) = engine(test).await else {
        return;
    };
    if docker.inspect_image(BASH_IMAGE).await.is_err() {
        skip(test, &format!("the image {BASH_IMAGE} is missing"));
        return;
    }
    let local = LocalSandbox::new(None, LocalConfig::default()).unwrap();
    support::session::contract(&local).await;

    let config = DockerConfig {
        image: Some(BASH_IMAGE.into()),
        ..DockerConfig::default()
    };
    let provider = per_task_provider(config.clone()).await;
    let container = provider
        .create(&task("session"))
        .await
        .expect("a container");
    support::session::contract(container.as_ref()).await;
    drop(container);
    provider.shutdown().await;

    let shape = PoolConfig {
        slots_per_container: 2,
        min_containers: 1,
        max_containers: 1,
        ..PoolConfig::default()
    };
    let engines = Engines::connect(&[]).await.expect("engine");
    let pool = PoolProvider::start(engines, config, shape)
        .await
        .expect("a pool");
    let slot = pool.create(&task("slot")).await.expect("a slot");
    let neighbour = pool.create(&task("neighbour")).await.expect("a slot");
    // A slot's session has the slot's directory and environment, and
    // sessions of two slots share nothing.
    let out = slot
        .exec_in_session("echo \"$PLINTH_SLOT $(pwd)\"; X=mine", None)
        .await
        .unwrap();
    let (slot_var, dir) = out.output.trim_end().split_once(' ').unwrap();
    assert!(!slot_var.is_empty(), "{}", out.output);
    assert_eq!(dir, slot.cwd());
    let out = neighbour
        .exec_in_session("echo \"[$X]\"", None)
        .await
        .unwrap();
    assert_eq!(out.output, "[]\n");
    drop(neighbour);
    support::session::contract(slot.as_ref()).await;
    drop(slot);
    pool.shutdown().await;
}

#[tokio::test]
async fn without_bash_in_the_image_session_commands_run_fresh() {
    let Some(_docker) = engine("without_bash_in_the_image_session_commands_run_fresh").await else {
        return;
    };
    let provider = per_task_provider(on_image()).await;
    let sandbox = provider
        .create(&task("no-bash"))
        .await
        .expect("a container");
    let out = sandbox
        .exec_in_session("cd /tmp; X=1; echo \"$X\"", None)
        .await
        .unwrap();
    assert_eq!((out.output.as_str(), out.exit_code), ("1\n", 0));
    let out = sandbox
        .exec_in_session("pwd; echo \"[$X]\"", None)
        .await
        .unwrap();
    assert_eq!(out.output, "/workspace\n[]\n");
    drop(sandbox);
    provider.shutdown().await;
}
