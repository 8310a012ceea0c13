//! `plinth swebench`: a run's `preds.json` and SWE-bench-shaped report, from
//! its canonical records (`plinth run` writes them itself beside a canonical
//! JSONL output); `plinth swebench eval`: predictions graded as SWE-bench's
//! harness grades them, without a model.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use plinth_plugin::PluginRuntime;
use plinth_record::settings::SandboxKind;
use plinth_run::settings::{GrantOptions, SandboxOptions, SandboxSettings, grant};
use plinth_run::store::Layout;
use plinth_run::swebench_eval::{
    DEFAULT_IMAGE, DEFAULT_TIMEOUT_SECS, Environment, EvalOptions, Outcome, Plan, Template, Verdict,
};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweBenchArgs {
    #[command(subcommand)]
    command: Option<SweBenchCommand>,
    #[command(flatten)]
    files: FilesArgs,
}

#[derive(Subcommand)]
enum SweBenchCommand {
    /// Grade SWE-bench predictions as the harness grades them, without a model.
    ///
    /// Predictions: `preds.json`, a JSON list or a JSONL of them. As
    /// swebench 4.1.0 does: the model patch applied as `run_instance` applies
    /// it, the row's eval script, the row's log parser (a scorer component),
    /// `report.json` per instance and the run report `<model>.<run_id>.json`.
    Eval(Box<EvalArgs>),
}

#[derive(Args)]
struct FilesArgs {
    /// Canonical trajectories (`--format canonical` output, or a checkpoint
    /// journal). Bad lines are skipped with a warning.
    #[arg(required = true)]
    input: Option<PathBuf>,
    /// Where `preds.json` goes [default: <stem>.preds.json beside the input].
    #[arg(long)]
    preds: Option<PathBuf>,
    /// Where the run report goes [default: <stem>.swebench.json beside the
    /// input].
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Where instances are graded.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvalSandbox {
    /// The official image of each instance (`--image`), a fresh container
    /// per prediction.
    Docker,
    /// An environment on this machine: `--repo` and `--activate`.
    Local,
}

#[derive(Args)]
struct EvalArgs {
    /// The SWE-bench rows (JSONL, or a JSON list), as published.
    #[arg(long)]
    dataset: PathBuf,
    /// The predictions: the harness's / mini-swe-agent's `preds.json`
    /// (`{instance_id: {instance_id, model_name_or_path, model_patch}}`), a
    /// JSON list of predictions, or a JSONL of them. Every prediction must
    /// have a row; rows without one are listed as incomplete.
    #[arg(long)]
    predictions: PathBuf,
    /// Where instances are graded.
    #[arg(long, value_enum, default_value = "docker")]
    sandbox: EvalSandbox,
    /// The image of a row (docker). Placeholders: {instance_id},
    /// {docker_id} (lower case, `__` as `_1776_`, as the official images
    /// spell it), {repo}, {version}. The repository is in /testbed, the
    /// environment conda's `testbed`.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    image: String,
    /// The repository of a row, with its environment installed (local), e.g.
    /// `~/.cache/plinth/swebench-conformance/{instance_id}/repo`. Graded in
    /// place, one prediction at a time per repository, reset to HEAD (`git
    /// reset --hard`, `git clean -fd`, ignored files the grading made
    /// removed) before and after; one with changes plinth did not make is
    /// refused. (Placeholders as for --image.)
    #[arg(long, required_if_eq("sandbox", "local"))]
    repo: Option<String>,
    /// Shell text that activates a row's environment (local), in place of
    /// the images' `conda activate testbed`, e.g. `source
    /// ~/.cache/plinth/swebench-conformance/{instance_id}/venv/bin/activate`.
    #[arg(long, required_if_eq("sandbox", "local"))]
    activate: Option<String>,
    /// The scorer component that parses every row's log: a name or a `.wasm`
    /// file [default: the row's repository's parser, `swebench-<parser>`]. It
    /// gets the swebench scorers' config (env_activation, repo_dir,
    /// timeout_secs).
    #[arg(long, value_name = "NAME_OR_WASM")]
    parser: Option<String>,
    /// The run's name: files go to logs/run_evaluation/<run_id>/, the run
    /// report to <model>.<run_id>.json. A prediction whose report.json is
    /// already there is not graded again (as in the harness).
    #[arg(long)]
    run_id: Option<String>,
    /// Where each prediction's files go, as <DIR>/<model>/<instance_id>/
    /// (report.json, test_output.txt, patch.diff, eval.sh, run_instance.log)
    /// [default: logs/run_evaluation/<run_id>].
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Where the run report goes [default: <model>.<run_id>.json, the first
    /// prediction's model, `/` as `__`].
    #[arg(long)]
    report: Option<PathBuf>,
    /// Predictions graded at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds the eval script may run (the harness's --timeout).
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECS)]
    timeout: u32,
    /// Docker engine(s) (docker), as for `plinth run`.
    #[arg(long = "docker-host")]
    docker_host: Vec<String>,
    /// Docker network of the containers (docker): the harness's have the
    /// default one (`none`: no network).
    #[arg(long, default_value = "bridge")]
    network: String,
    /// Memory per container (docker), e.g. 8g.
    #[arg(long)]
    memory: Option<String>,
    /// CPUs per container (docker).
    #[arg(long)]
    cpus: Option<f64>,
    #[command(flatten)]
    grants: GrantOptions,
}

pub async fn run(args: SweBenchArgs, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    match args.command {
        Some(SweBenchCommand::Eval(eval)) => evaluate(*eval, extra_plugins).await,
        None => write_files(args.files),
    }
}

fn write_files(args: FilesArgs) -> Result<ExitCode> {
    let input = args.input.context("give the canonical records to read")?;
    let beside = Layout::Jsonl(input.clone());
    let preds = args.preds.unwrap_or_else(|| beside.beside(PREDS));
    let report = args.report.unwrap_or_else(|| beside.beside(REPORT));
    let instances = plinth_run::swebench::write(&input, &preds, &report)?;
    if instances == 0 {
        bail!(
            "{}: no record of a SWE task (a task with a repository, whose record has a patch)",
            input.display()
        );
    }
    eprintln!(
        "{instances} instance(s)\n  predictions: {}\n  report: {}",
        preds.display(),
        report.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn evaluate(args: EvalArgs, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    let environment = match args.sandbox {
        EvalSandbox::Docker => Environment::Docker {
            image: Template::parse("--image", &args.image)?,
        },
        EvalSandbox::Local => Environment::Local {
            repo: Template::parse("--repo", args.repo.as_deref().unwrap_or_default())?,
            activate: Template::parse("--activate", args.activate.as_deref().unwrap_or_default())?,
        },
    };
    let run_id = args.run_id.unwrap_or_else(|| {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        format!("plinth-{}", now.replace(':', "").trim_end_matches('Z'))
    });
    let plan = Plan::new(EvalOptions {
        dataset: args.dataset,
        predictions: args.predictions,
        environment,
        parser: args.parser,
        run_id: run_id.clone(),
        output_dir: args.output_dir,
        report: args.report,
        timeout_secs: args.timeout,
    })?;
    let unpredicted = plan.unpredicted();
    if !unpredicted.is_empty() {
        eprintln!(
            "plinth swebench eval: {} row(s) have no prediction (listed as incomplete): {}",
            unpredicted.len(),
            unpredicted.join(", ")
        );
    }
    let concurrency = args.concurrency.max(1);
    let kind = match args.sandbox {
        EvalSandbox::Docker => SandboxKind::Docker,
        EvalSandbox::Local => SandboxKind::Local,
    };
    let sandboxes = match args.sandbox {
        EvalSandbox::Local => None,
        EvalSandbox::Docker => {
            let options = SandboxOptions {
                sandbox: Some("docker".into()),
                docker_host: args.docker_host,
                network: Some(args.network),
                memory: args.memory,
                cpus: args.cpus,
                ..SandboxOptions::default()
            };
            let settings = SandboxSettings::resolve(&options, None)?;
            Some(settings.provider(concurrency).await?)
        }
    };
    let mut plugins = plinth_plugin::RuntimeConfig::for_runs(concurrency);
    // A call of the scorer lasts as long as the eval script, and then some.
    plugins.limits.call_timeout = std::time::Duration::from_secs(u64::from(args.timeout) + 600);
    grant(&mut plugins, &args.grants, kind)?;
    let runtime = PluginRuntime::new(plugins)?;
    eprintln!(
        "plinth swebench eval: {} prediction(s) to grade (run {run_id}), files in {}",
        plan.jobs(),
        plan.log_dir().display()
    );
    let summary = plan
        .run(
            &runtime,
            extra_plugins,
            sandboxes.clone(),
            concurrency,
            print_outcome,
        )
        .await;
    if let Some(sandboxes) = sandboxes {
        sandboxes.shutdown().await;
    }
    let summary = summary?;
    let r = &summary.report;
    eprintln!(
        "Total instances: {}\nInstances submitted: {}\nInstances completed: {}\n\
         Instances incomplete: {}\nInstances resolved: {}\nInstances unresolved: {}\n\
         Instances with empty patches: {}\nInstances with errors: {}\nReport written to {}",
        r.total_instances,
        r.submitted_instances,
        r.completed_instances,
        r.incomplete_ids.len(),
        r.resolved_instances,
        r.unresolved_instances,
        r.empty_patch_instances,
        r.error_instances,
        summary.report_path.display()
    );
    Ok(if r.error_instances == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_outcome(o: &Outcome) {
    let verdict = match o.verdict {
        Verdict::Resolved => "resolved",
        Verdict::Unresolved => "unresolved",
        Verdict::Error => "error",
    };
    let time = o
        .seconds
        .map_or_else(String::new, |s| format!(" in {s:.1} s"));
    let note = o
        .note
        .as_deref()
        .map_or_else(String::new, |n| format!(": {n}"));
    eprintln!("{}: {verdict}{time}{note}", o.instance_id);
}

/// The names `plinth run` and `plinth swebench` give the files beside a run.
pub const PREDS: &str = "preds.json";
pub const REPORT: &str = "swebench.json";
