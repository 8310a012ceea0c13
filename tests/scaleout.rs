//! A batch split into shards and merged back: shards run as plain
//! processes the way a Kubernetes Indexed Job runs them
//! (`JOB_COMPLETION_INDEX`; the example Job manifest is validated offline
//! and its command run as written), and as a job array on a real one-node Slurm
//! cluster (`tests/slurm-setup.sh`; `tests/run.sh` starts it and then sets
//! PLINTH_REQUIRE_SLURM=1, which makes a missing cluster a failure instead
//! of a loud skip).

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plinth_mock_llm::{Attempt, Script};
use plinth_run::shard::Shard;
use serde_json::{Value, json};
use support::mock::{Ctx, MODEL, run_cmd};
use support::run::{Outcome, plinth, read_jsonl, read_jsonl_if_any};

/// A mock whose every task runs `command` then submits.
async fn ctx_running(command: &str) -> Ctx {
    Ctx::new(
        Script::new()
            .task(
                "s",
                vec![
                    vec![run_cmd(command)],
                    vec![run_cmd("echo MINI_SWE_AGENT_FINAL_OUTPUT; echo done")],
                    vec![Attempt::text("not reached")],
                ],
            )
            .default_task("s"),
    )
    .await
}

/// `n` tasks `job-00`...; the task file and the ids.
fn write_tasks(ctx: &Ctx, n: usize) -> (PathBuf, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("job-{i:02}")).collect();
    let rows: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "prompt": "do it"}))
        .collect();
    (ctx.tasks(&rows), ids)
}

/// Each id of `ids` exactly once among `records`.
#[track_caller]
fn assert_each_once(records: &[Value], ids: &[String]) {
    let mut seen = BTreeMap::new();
    for record in records {
        let id = record["id"].as_str().unwrap().to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    let wrong: Vec<_> = ids
        .iter()
        .filter(|id| seen.get(*id) != Some(&1))
        .map(|id| (id, seen.get(id).copied().unwrap_or(0)))
        .collect();
    assert!(wrong.is_empty(), "ids not seen exactly once: {wrong:?}");
    assert_eq!(seen.len(), ids.len(), "records of other ids: {seen:?}");
}

fn merge(dir: &Path, inputs: &[PathBuf], tasks: &Path, output: &str) -> Outcome {
    Outcome::from(
        plinth()
            .arg("merge")
            .args(inputs)
            .arg("--input")
            .arg(tasks)
            .args(["-o", output])
            .current_dir(dir)
            .output()
            .unwrap(),
    )
}

fn shard_output(ctx: &Ctx, index: u32, count: u32) -> PathBuf {
    ctx.path(&format!("out.shard-{index}-of-{count}.jsonl"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_of_an_indexed_job_cover_the_batch_once_and_merge_back() {
    let ctx = ctx_running("echo working").await;
    let (tasks, ids) = write_tasks(&ctx, 12);
    let tasks_arg = tasks.to_str().unwrap();
    for index in 0..3u32 {
        let outcome = Outcome::from(
            ctx.command(&["--prompts-file", tasks_arg, "--shard", "auto"])
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .env("PLINTH_SHARD_COUNT", "3")
                .output()
                .await
                .unwrap(),
        );
        outcome.assert_success();
        assert!(
            outcome.stderr.contains(&format!("shard {index}/3")),
            "{}",
            outcome.describe()
        );
        for record in read_jsonl(&shard_output(&ctx, index, 3)) {
            let id = record["id"].as_str().unwrap();
            assert_eq!(Shard::of(id, 3), index, "{id} ran in shard {index}");
            assert_eq!(record["exit_status"], "Submitted");
        }
    }
    let shards: Vec<PathBuf> = (0..3).map(|i| shard_output(&ctx, i, 3)).collect();
    let all: Vec<Value> = shards.iter().flat_map(|p| read_jsonl(p)).collect();
    assert_each_once(&all, &ids);

    // A shard resumed runs nothing it already ran.
    let again = Outcome::from(
        ctx.command(&["--prompts-file", tasks_arg, "--shard", "1/3", "--resume"])
            .output()
            .await
            .unwrap(),
    );
    again.assert_success();
    assert_eq!(read_jsonl(&shard_output(&ctx, 1, 3)).len(), {
        ids.iter().filter(|id| Shard::of(id, 3) == 1).count()
    });

    // Merged (one shard given twice): every task once, duplicates dropped.
    let mut inputs = shards.clone();
    inputs.push(shards[0].clone());
    let merged = merge(ctx.dir.path(), &inputs, &tasks, "merged.jsonl");
    merged.assert_success();
    assert_each_once(&read_jsonl(&ctx.path("merged.jsonl")), &ids);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.path("merged.merge.json")).unwrap())
            .unwrap();
    assert_eq!(report["records"], 12);
    assert_eq!(
        report["duplicates_dropped"].as_u64().unwrap() as usize,
        read_jsonl(&shards[0]).len()
    );
    assert_eq!(report["stats"]["by_status"]["Submitted"], 12);

    // A shard lost: its tasks are reported, written to a task file, and a
    // run of that file merged in completes the dataset.
    let lost: Vec<String> = read_jsonl(&shards[2])
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let partial = merge(ctx.dir.path(), &shards[..2], &tasks, "partial.jsonl");
    assert_eq!(partial.code, Some(2), "{}", partial.describe());
    assert!(
        partial.stderr.contains("plinth run --prompts-file"),
        "{}",
        partial.describe()
    );
    let rerun = ctx.path("partial.rerun.jsonl");
    let rerun_ids: Vec<String> = read_jsonl(&rerun)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rerun_ids, lost);
    let outcome = Outcome::from(
        ctx.command(&["--prompts-file", rerun.to_str().unwrap()])
            .output()
            .await
            .unwrap(),
    );
    let rerun_out = ctx.output();
    outcome.assert_success();
    let mut complete = shards[..2].to_vec();
    complete.push(rerun_out);
    merge(ctx.dir.path(), &complete, &tasks, "complete.jsonl").assert_success();
    assert_each_once(&read_jsonl(&ctx.path("complete.jsonl")), &ids);
}

// ---------------------------------------------------------------- Kubernetes

/// A venv with `kubernetes-validate` (which bundles the Kubernetes API's
/// schemas, so it checks a manifest with no cluster and no network) and
/// PyYAML. `tests/run.sh` installs it and sets PLINTH_REQUIRE_K8S_TOOLS=1;
/// without it the test is skipped loudly.
fn k8s_tools(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("PLINTH_K8S_VENV").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/plinth/k8s-venv"),
        PathBuf::from,
    );
    if venv.join("bin/kubernetes-validate").is_file() {
        return Some(venv);
    }
    assert!(
        std::env::var("PLINTH_REQUIRE_K8S_TOOLS").as_deref() != Ok("1"),
        "{test}: no kubernetes-validate in {}, and PLINTH_REQUIRE_K8S_TOOLS=1",
        venv.display()
    );
    eprintln!("SKIPPED {test}: no kubernetes-validate (tests/run.sh installs it)");
    None
}

/// `examples/kubernetes/job.yaml` is a valid Job for the Kubernetes API
/// (strict: no unknown fields), an Indexed one whose shard count matches
/// its completions, and its pods' plinth command, run as written with only
/// the cluster's values swapped for the test's (paths, model endpoint, the
/// sandbox engine), covers the batch once when merged as its comment says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_job_manifest_validates_offline_and_its_command_runs() {
    let test = "the_kubernetes_job_manifest_validates_offline_and_its_command_runs";
    let Some(venv) = k8s_tools(test) else { return };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kubernetes/job.yaml");
    let validated = Outcome::from(
        Command::new(venv.join("bin/kubernetes-validate"))
            .arg("--strict")
            .arg(&manifest)
            .output()
            .unwrap(),
    );
    validated.assert_success();
    let broken = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        broken.path(),
        text.replace("restartPolicy:", "restartPolicyy:"),
    )
    .unwrap();
    let refused = Command::new(venv.join("bin/kubernetes-validate"))
        .arg("--strict")
        .arg(broken.path())
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "the validator accepts an unknown field"
    );

    let json = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let job: Value = serde_json::from_slice(&json.stdout).unwrap();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    let container = &spec["template"]["spec"]["containers"][0];
    let env: BTreeMap<&str, &Value> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), &e["value"]))
        .collect();
    assert_eq!(env["PLINTH_SHARD_COUNT"], &json!(completions.to_string()));
    let command: Vec<&str> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(command[..2], ["plinth", "run"]);

    let ctx = ctx_running("echo working").await;
    let (tasks, ids) = write_tasks(&ctx, 10);
    let out = ctx.path("run.jsonl");
    let base_url = ctx.server.base_url();
    let mut args: Vec<String> = Vec::new();
    let mut given = command[1..].iter();
    while let Some(arg) = given.next() {
        args.push(match *arg {
            "/data/tasks.jsonl" => tasks.to_str().unwrap().to_string(),
            "/data/out/run.jsonl" => out.to_str().unwrap().to_string(),
            other => other.to_string(),
        });
        // The cluster's model server and Docker engine are the test's mock
        // and the local sandbox.
        let swapped = match *arg {
            "--base-url" => Some(base_url.as_str()),
            "--model" => Some(MODEL),
            "--sandbox" => Some("local"),
            _ => None,
        };
        if let Some(value) = swapped {
            given.next();
            args.push(value.to_string());
        }
    }
    for index in 0..completions {
        let ran = Outcome::from(
            plinth()
                .args(&args)
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .env("PLINTH_SHARD_COUNT", completions.to_string())
                .env("OPENAI_API_KEY", "test-key")
                .current_dir(ctx.dir.path())
                .output()
                .unwrap(),
        );
        ran.assert_success();
    }
    let shards: Vec<PathBuf> = (0..completions)
        .map(|i| ctx.path(&format!("run.shard-{i}-of-{completions}.jsonl")))
        .collect();
    merge(ctx.dir.path(), &shards, &tasks, "run.jsonl").assert_success();
    assert_each_once(&read_jsonl(&out), &ids);
}

// --------------------------------------------------------------------- Slurm

/// Is the one-node cluster up? Without it the test is skipped loudly,
/// unless PLINTH_REQUIRE_SLURM=1.
fn slurm_is_up(test: &str) -> bool {
    let up = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|s| ["idle", "mixed", "allocated"].contains(&s.trim()))
        });
    if !up {
        assert!(
            std::env::var("PLINTH_REQUIRE_SLURM").as_deref() != Ok("1"),
            "{test}: no Slurm cluster answers, and PLINTH_REQUIRE_SLURM=1"
        );
        eprintln!("SKIPPED {test}: no Slurm cluster (run tests/slurm-setup.sh)");
    }
    up
}

/// `sbatch --parsable [extra] script` in `dir`: the job id.
fn sbatch(dir: &Path, script: &Path, extra: &[&str]) -> String {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .current_dir(dir)
        .env("PLINTH_CACHE_DIR", support::plugin_cache_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits until no task of job `job` is queued or running.
async fn wait_for_job(job: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job, "-o", "%i"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(started.elapsed() < limit, "job {job} still in the queue");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_job_array_runs_each_task_once_and_a_killed_shard_resubmitted_completes() {
    let test = "a_slurm_job_array_runs_each_task_once_and_a_killed_shard_resubmitted_completes";
    if !slurm_is_up(test) {
        return;
    }
    support::warm_plugin_cache();
    // Each task takes about a second, so shard 1 is killed mid-run.
    let ctx = ctx_running("sleep 1").await;
    let (tasks, ids) = write_tasks(&ctx, 12);
    let logs = ctx.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let script = Outcome::from(
        plinth()
            .args([
                "slurm",
                "script",
                "--shards",
                "3",
                "--job-name",
                "plinth-test",
            ])
            .arg("--logs")
            .arg(&logs)
            .args(["--plinth", support::plinth_bin(), "--"])
            .args(["--base-url", &ctx.server.base_url(), "--model", MODEL])
            .arg("--prompts-file")
            .arg(&tasks)
            .arg("--output-file")
            .arg(ctx.output())
            .args(["--format", "canonical"])
            .output()
            .unwrap(),
    );
    script.assert_success();
    assert!(
        script.stdout.contains("#SBATCH --array=0-2"),
        "{}",
        script.stdout
    );
    let script_path = ctx.path("batch.sbatch");
    std::fs::write(&script_path, &script.stdout).unwrap();

    let job = sbatch(ctx.dir.path(), &script_path, &[]);
    // Kill array task 1 once it has written its first record.
    let shard1 = shard_output(&ctx, 1, 3);
    let started = Instant::now();
    while read_jsonl_if_any(&shard1).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "shard 1 never wrote a record"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancel = Command::new("scancel")
        .arg(format!("{job}_1"))
        .output()
        .unwrap();
    assert!(cancel.status.success());
    wait_for_job(&job, Duration::from_secs(180)).await;

    let shards: Vec<PathBuf> = (0..3).map(|i| shard_output(&ctx, i, 3)).collect();
    let in_shard1 = ids.iter().filter(|id| Shard::of(id, 3) == 1).count();
    let partial = merge(ctx.dir.path(), &shards, &tasks, "merged.jsonl");
    let done_in_1 = read_jsonl_if_any(&shard1).len();
    assert!(
        done_in_1 < in_shard1,
        "shard 1 finished before it was killed"
    );
    assert_eq!(partial.code, Some(2), "{}", partial.describe());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ctx.path("merged.merge.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["missing"].as_array().unwrap().len(),
        in_shard1 - done_in_1,
        "{report:#}"
    );

    // Re-submitted alone, the killed shard resumes where it stopped.
    let again = sbatch(ctx.dir.path(), &script_path, &["--array=1"]);
    wait_for_job(&again, Duration::from_secs(180)).await;
    merge(ctx.dir.path(), &shards, &tasks, "merged.jsonl").assert_success();
    let merged = read_jsonl(&ctx.path("merged.jsonl"));
    assert_each_once(&merged, &ids);
    assert!(merged.iter().all(|r| r["exit_status"] == "Submitted"));
}
