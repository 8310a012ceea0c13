//! `plinth swebench eval`: predictions graded as SWE-bench's harness (swebench 4.1.0)
//! grades them, without a model. Each prediction's model patch is applied as
//! `run_instance` applies it (`git apply --verbose`, then `--reject`, then `patch
//! --fuzz=5`), the row's eval script runs, and the row's log parser, a scorer component
//! (`swebench-<parser>`, or `--parser`), grades the log as `get_eval_report` does. The
//! harness's files come out where it writes them: `<log dir>/<model>/<instance_id>/`
//! (`report.json`, `test_output.txt`, `patch.diff`, `eval.sh`, `run_instance.log`) and
//! the run report `<model>.<run_id>.json`.
//!
//! Where plinth differs from the harness, on purpose: a patch that does not apply is
//! counted unresolved with a `report.json` saying `patch_successfully_applied: false`
//! (the harness writes no report and lists it under `error_ids`; the resolved count is
//! the same), and an instance predicted twice is an error (the harness keeps the last).
//! `error_ids` are left for what is not the model's doing: the sandbox, the scorer, a
//! timeout.

mod environment;
mod grade;
mod inputs;
mod local_repo;
mod tap;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use plinth_plugin::catalog::{self, CatalogError};
use plinth_plugin::{PluginError, PluginKind, PluginRuntime};
use plinth_sandbox::{LocalConfig, SandboxProvider};
use plinth_swebench::eval_script::{EvalScript, ScriptError};
use plinth_swebench::spec::{harness, parser_of};

pub use environment::{DEFAULT_IMAGE, Environment, Template, TemplateError};
pub use grade::{
    EVAL_SCRIPT_FILE, LOG_FILE, Outcome, PATCH_FILE, REPORT_FILE, TEST_OUTPUT_FILE, Verdict,
};
pub use inputs::{InputError, Place, Prediction, Row, read_predictions, read_rows};
pub use local_repo::RepoError;
pub use plinth_swebench::scorer::DEFAULT_TIMEOUT_SECS;

use crate::swebench::RunReport;
use grade::{Grader, Job};
use local_repo::LocalRepos;

/// The run report's schema (the harness's `make_run_report`).
const SCHEMA_VERSION: u32 = 2;

/// What to grade, where, and where the files go.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The rows: JSONL, or a JSON list.
    pub dataset: PathBuf,
    /// `preds.json`, a JSON list of predictions, or a JSONL of them.
    pub predictions: PathBuf,
    pub environment: Environment,
    /// The scorer component that parses every row's log (a name or a `.wasm`), instead
    /// of the row's repository's `swebench-<parser>`.
    pub parser: Option<String>,
    pub run_id: String,
    /// Where `<model>/<instance_id>/` go [default: `logs/run_evaluation/<run_id>`].
    pub output_dir: Option<PathBuf>,
    /// The run report [default: `<model>.<run_id>.json`, the first prediction's model].
    pub report: Option<PathBuf>,
    /// The eval script's time limit.
    pub timeout_secs: u32,
}

/// Why nothing (or not everything) could be graded: bad input is found before anything
/// runs, and named.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(
        "{predictions}: {} prediction(s) for instances {dataset} does not have: {}",
        ids.len(),
        ids.join(", ")
    )]
    UnknownInstances {
        predictions: PathBuf,
        dataset: PathBuf,
        ids: Vec<String>,
    },
    #[error(
        "instance `{instance_id}`: SWE-bench {} has no log parser for `{repo}`; give \
         --parser NAME_OR_WASM",
        harness().swebench_version
    )]
    NoParser { instance_id: String, repo: String },
    #[error("instance `{instance_id}`: {source}")]
    Script {
        instance_id: String,
        #[source]
        source: ScriptError,
    },
    #[error("cannot load scorer `{name}`: {source}")]
    Catalog {
        name: String,
        #[source]
        source: CatalogError,
    },
    #[error("`{name}` is not a scorer: {source}")]
    NotAScorer {
        name: String,
        #[source]
        source: PluginError,
    },
    #[error("--sandbox docker needs a container backend")]
    NoContainers,
    #[error("a grading task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("cannot write the run report {path}: {source}")]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything checked and worked out before anything runs.
pub struct Plan {
    options: EvalOptions,
    /// The dataset's ids, in its order.
    dataset_ids: Vec<String>,
    /// Every prediction, by instance id.
    predictions: BTreeMap<String, Prediction>,
    jobs: Vec<Job>,
    log_dir: PathBuf,
    report_path: PathBuf,
}

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    pub report: RunReport,
    pub report_path: PathBuf,
    /// One per graded prediction, in the dataset's order.
    pub outcomes: Vec<Outcome>,
}

impl Plan {
    /// Reads the dataset and the predictions and works out each prediction's eval
    /// script and scorer: any bad entry, a prediction of an instance the dataset does
    /// not have, or a row no parser grades is an error here, before anything runs.
    pub fn new(options: EvalOptions) -> Result<Self, EvalError> {
        let rows = read_rows(&options.dataset)?;
        let predicted = read_predictions(&options.predictions)?;
        let dataset_ids: Vec<String> = rows
            .iter()
            .map(|r| r.instance.instance_id.clone())
            .collect();
        let known: BTreeSet<&str> = dataset_ids.iter().map(String::as_str).collect();
        let unknown: Vec<String> = predicted
            .iter()
            .filter(|p| !known.contains(p.instance_id.as_str()))
            .map(|p| p.instance_id.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(EvalError::UnknownInstances {
                predictions: options.predictions.clone(),
                dataset: options.dataset.clone(),
                ids: unknown,
            });
        }
        let model_dir = predicted[0].model_dir();
        let predictions: BTreeMap<String, Prediction> = predicted
            .into_iter()
            .map(|p| (p.instance_id.clone(), p))
            .collect();
        let mut jobs = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let id = &row.instance.instance_id;
            let Some(prediction) = predictions.get(id).filter(|p| !p.is_empty()) else {
                continue;
            };
            let scorer = match (&options.parser, parser_of(&row.instance.repo)) {
                (Some(name), _) => name.clone(),
                (None, Some(parser)) => format!("swebench-{}", parser.name().replace('_', "-")),
                (None, None) => {
                    return Err(EvalError::NoParser {
                        instance_id: id.clone(),
                        repo: row.instance.repo.clone(),
                    });
                }
            };
            let environment = options.environment.script_environment(&row);
            let eval_script = EvalScript::of(&row.instance, &environment)
                .map_err(|source| EvalError::Script {
                    instance_id: id.clone(),
                    source,
                })?
                .script();
            jobs.push(Job {
                index: index as u64,
                prediction: prediction.clone(),
                row,
                scorer,
                environment,
                eval_script,
            });
        }
        let log_dir = options.output_dir.clone().unwrap_or_else(|| {
            Path::new("logs")
                .join("run_evaluation")
                .join(&options.run_id)
        });
        let report_path = options
            .report
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{model_dir}.{}.json", options.run_id)));
        Ok(Self {
            options,
            dataset_ids,
            predictions,
            jobs,
            log_dir,
            report_path,
        })
    }

    /// Predictions to grade (empty patches are not graded, as in the harness).
    pub fn jobs(&self) -> usize {
        self.jobs.len()
    }

    /// Rows with no prediction (the harness's `incomplete_ids`).
    pub fn unpredicted(&self) -> Vec<&str> {
        self.dataset_ids
            .iter()
            .filter(|id| !self.predictions.contains_key(*id))
            .map(String::as_str)
            .collect()
    }

    /// Where the instances' directories go.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Grades every prediction, `concurrency` at a time (on `local`, one at a time per
    /// repository), and writes the run report. `sandboxes` is the container backend
    /// for `--sandbox docker`; `on_done` hears of each prediction as it is graded.
    pub async fn run(
        self,
        runtime: &PluginRuntime,
        extra_plugins: &[PathBuf],
        sandboxes: Option<Arc<dyn SandboxProvider>>,
        concurrency: usize,
        on_done: impl Fn(&Outcome),
    ) -> Result<Summary, EvalError> {
        if matches!(self.options.environment, Environment::Docker { .. }) && sandboxes.is_none() {
            return Err(EvalError::NoContainers);
        }
        let mut scorers = BTreeMap::new();
        for name in self.jobs.iter().map(|j| &j.scorer).collect::<BTreeSet<_>>() {
            let plugin = catalog::find(runtime, name, PluginKind::Scorer, extra_plugins)
                .await
                .map_err(|source| EvalError::Catalog {
                    name: name.clone(),
                    source,
                })?
                .into_scorer()
                .map_err(|source| EvalError::NotAScorer {
                    name: name.clone(),
                    source,
                })?;
            scorers.insert(name.clone(), plugin);
        }
        let state_dir = plinth_record::paths::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("swebench-eval");
        let grader = Arc::new(Grader {
            environment: self.options.environment.clone(),
            sandboxes,
            repos: LocalRepos::default(),
            local: LocalConfig {
                hidden_env: plinth_model::API_KEY_VARS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                ..LocalConfig::default()
            },
            git_config_dir: state_dir.join("git"),
            scorers,
            timeout_secs: self.options.timeout_secs,
            log_dir: self.log_dir.clone(),
        });
        if let Err(source) = std::fs::create_dir_all(&grader.git_config_dir) {
            tracing::warn!("{}: {source}", grader.git_config_dir.display());
        }

        let slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut running = JoinSet::new();
        for (n, job) in self.jobs.iter().cloned().enumerate() {
            let (grader, slots) = (grader.clone(), slots.clone());
            running.spawn(async move {
                let _permit = slots
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                (n, grader.grade(&job).await)
            });
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; self.jobs.len()];
        while let Some(joined) = running.join_next().await {
            let (n, outcome) = joined?;
            on_done(&outcome);
            outcomes[n] = Some(outcome);
        }
        let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
        let report = self.run_report(&outcomes);
        let text = plinth_pyjson::dumps_indent(
            &serde_json::to_value(&report).expect("the report is plain data"),
            4,
            true,
        );
        std::fs::write(&self.report_path, format!("{text}\n")).map_err(|source| {
            EvalError::Report {
                path: self.report_path.clone(),
                source,
            }
        })?;
        Ok(Summary {
            report,
            report_path: self.report_path,
            outcomes,
        })
    }

    /// `make_run_report`: every list sorted, `submitted_*` counting every prediction.
    fn run_report(&self, outcomes: &[Outcome]) -> RunReport {
        let mut r = RunReport {
            total_instances: self.dataset_ids.len(),
            submitted_instances: self.predictions.len(),
            submitted_ids: self.predictions.keys().cloned().collect(),
            schema_version: SCHEMA_VERSION,
            ..RunReport::default()
        };
        for id in &self.dataset_ids {
            match self.predictions.get(id) {
                None => r.incomplete_ids.push(id.clone()),
                Some(p) if p.is_empty() => r.empty_patch_ids.push(id.clone()),
                Some(_) => {}
            }
        }
        for outcome in outcomes {
            let id = outcome.instance_id.clone();
            match outcome.verdict {
                Verdict::Resolved => {
                    r.completed_ids.push(id.clone());
                    r.resolved_ids.push(id);
                }
                Verdict::Unresolved => {
                    r.completed_ids.push(id.clone());
                    r.unresolved_ids.push(id);
                }
                Verdict::Error => r.error_ids.push(id),
            }
        }
        for ids in [
            &mut r.completed_ids,
            &mut r.incomplete_ids,
            &mut r.empty_patch_ids,
            &mut r.resolved_ids,
            &mut r.unresolved_ids,
            &mut r.error_ids,
        ] {
            ids.sort();
        }
        r.completed_instances = r.completed_ids.len();
        r.resolved_instances = r.resolved_ids.len();
        r.unresolved_instances = r.unresolved_ids.len();
        r.empty_patch_instances = r.empty_patch_ids.len();
        r.error_instances = r.error_ids.len();
        r
    }
}
