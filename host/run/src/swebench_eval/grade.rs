//! One prediction graded as the harness's `run_instance` grades it: a fresh environment,
//! the model patch through `GIT_APPLY_CMDS`, the eval script and the log parser (the
//! row's scorer component), and the harness's files in the instance's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use plinth_plugin::{PluginError, ScorerPlugin};
use plinth_record::task::Task;
use plinth_record::trajectory::Trajectory;
use plinth_sandbox::{
    ExecRequest, LocalConfig, LocalSandbox, Sandbox, SandboxError, SandboxProvider,
};
use plinth_swebench::StatusMap;
use plinth_swebench::eval_script::Environment as ScriptEnvironment;
use plinth_swebench::parse::LogEval;
use plinth_swebench::report::InstanceReport;
use plinth_swebench::spec::harness;

use super::environment::Environment;
use super::inputs::{Prediction, Row};
use super::local_repo::{LocalRepos, RepoError};
use super::tap::Tap;

/// The harness's file names in an instance's directory.
pub const REPORT_FILE: &str = "report.json";
pub const TEST_OUTPUT_FILE: &str = "test_output.txt";
pub const PATCH_FILE: &str = "patch.diff";
pub const EVAL_SCRIPT_FILE: &str = "eval.sh";
pub const LOG_FILE: &str = "run_instance.log";

/// How long one `git apply` / `patch` of the model patch may take.
const APPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// One prediction to grade, with everything worked out before the run starts.
#[derive(Debug, Clone)]
pub struct Job {
    /// The row's position in the dataset.
    pub index: u64,
    pub row: Row,
    pub prediction: Prediction,
    /// The scorer component that parses the row's log.
    pub scorer: String,
    pub environment: ScriptEnvironment,
    /// The harness's eval script for the row in its environment.
    pub eval_script: String,
}

/// What became of a graded prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Resolved,
    Unresolved,
    /// No report: the harness counts it in `error_ids`.
    Error,
}

/// One prediction's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub instance_id: String,
    pub verdict: Verdict,
    /// Why it is an error, or a note on an unresolved one (the patch did not apply).
    pub note: Option<String>,
    /// The instance's directory.
    pub dir: PathBuf,
    /// Grading time: applying the patch, the eval script, parsing; `None` when a
    /// report from an earlier run of the same run id was kept.
    pub seconds: Option<f64>,
}

/// Why a prediction could not be graded: never the model's doing.
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("the sandbox failed: {0}")]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("scorer `{scorer}` could not grade: {source}")]
    Scoring {
        scorer: String,
        #[source]
        source: PluginError,
    },
    #[error("the eval script timed out after {0} seconds (the harness reports no result)")]
    TimedOut(u32),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What every prediction of a run is graded with.
pub struct Grader {
    pub environment: Environment,
    /// The container backend (`docker`); `None` for `local`.
    pub sandboxes: Option<Arc<dyn SandboxProvider>>,
    pub repos: LocalRepos,
    /// The local sandbox's settings (the environment commands get).
    pub local: LocalConfig,
    /// Where each instance's `git config --global` goes on this machine (the eval
    /// script adds a `safe.directory`; the user's own configuration is left alone).
    pub git_config_dir: PathBuf,
    pub scorers: BTreeMap<String, ScorerPlugin>,
    pub timeout_secs: u32,
    /// `<log dir>/<model>/<instance_id>/` holds each prediction's files.
    pub log_dir: PathBuf,
}

/// The instance's results before they are written.
struct Graded {
    report: Value,
    resolved: bool,
    note: Option<String>,
}

impl Grader {
    /// The instance's directory.
    pub fn dir(&self, job: &Job) -> PathBuf {
        self.log_dir
            .join(job.prediction.model_dir())
            .join(&job.prediction.instance_id)
    }

    /// Grades one prediction and writes its files. A report already in the instance's
    /// directory (the same run id graded it) is kept, as the harness keeps it.
    pub async fn grade(&self, job: &Job) -> Outcome {
        let dir = self.dir(job);
        let id = job.prediction.instance_id.clone();
        let outcome = |verdict, note, seconds| Outcome {
            instance_id: id.clone(),
            verdict,
            note,
            dir: dir.clone(),
            seconds,
        };
        if let Some(resolved) = earlier_report(&dir.join(REPORT_FILE), &id) {
            let verdict = if resolved {
                Verdict::Resolved
            } else {
                Verdict::Unresolved
            };
            return outcome(
                verdict,
                Some("kept the report of an earlier run".into()),
                None,
            );
        }
        let mut log = String::new();
        let started = Instant::now();
        let result = self.grade_in_dir(job, &dir, &mut log).await;
        let seconds = started.elapsed().as_secs_f64();
        let (verdict, note) = match result {
            Ok(graded) => {
                let verdict = if graded.resolved {
                    Verdict::Resolved
                } else {
                    Verdict::Unresolved
                };
                (verdict, graded.note)
            }
            Err(e) => {
                log.push_str(&format!("Error: {e}\n"));
                (Verdict::Error, Some(e.to_string()))
            }
        };
        log.push_str(&format!("Grading took {seconds:.1} s\n"));
        if let Err(e) = write(&dir.join(LOG_FILE), log.as_bytes()) {
            tracing::warn!("{id}: {e}");
        }
        outcome(verdict, note, Some(seconds))
    }

    async fn grade_in_dir(
        &self,
        job: &Job,
        dir: &Path,
        log: &mut String,
    ) -> Result<Graded, GradeError> {
        std::fs::create_dir_all(dir).map_err(|source| GradeError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let patch = job.prediction.patch.clone().unwrap_or_default();
        write(&dir.join(PATCH_FILE), patch.as_bytes())?;
        write(&dir.join(EVAL_SCRIPT_FILE), job.eval_script.as_bytes())?;
        let graded = match &self.environment {
            Environment::Local { .. } => {
                let repo = PathBuf::from(&job.environment.repo_dir);
                let patch_file = std::fs::canonicalize(dir.join(PATCH_FILE))
                    .map_err(|source| GradeError::Write {
                        path: dir.join(PATCH_FILE),
                        source,
                    })?
                    .to_string_lossy()
                    .into_owned();
                let lease = self.repos.acquire(&repo).await?;
                let mut config = self.local.clone();
                let git_config = self
                    .git_config_dir
                    .join(format!("{}.gitconfig", job.prediction.instance_id));
                config.env.push((
                    "GIT_CONFIG_GLOBAL".into(),
                    git_config.to_string_lossy().into_owned(),
                ));
                let graded = match LocalSandbox::new(Some(&lease.path), config) {
                    Ok(sandbox) => {
                        self.grade_in(Arc::new(sandbox), job, &patch_file, dir, log)
                            .await
                    }
                    Err(e) => Err(e.into()),
                };
                // Put back whatever happened; an error there is the run's to report
                // only when grading itself went well.
                let released = lease.release().await;
                let graded = graded?;
                released?;
                graded
            }
            Environment::Docker { .. } => {
                let sandboxes = self
                    .sandboxes
                    .as_ref()
                    .expect("a docker environment comes with its provider");
                let image = self
                    .environment
                    .image(&job.row)
                    .expect("a docker environment names an image");
                log.push_str(&format!("Container of {image}\n"));
                let task = container_task(job, &image, &job.environment.repo_dir);
                let sandbox = sandboxes.create(&task).await?;
                let patch_file = &harness().docker_patch;
                sandbox.write_file(patch_file, patch.as_bytes()).await?;
                self.grade_in(sandbox, job, patch_file, dir, log).await?
            }
        };
        write(
            &dir.join(REPORT_FILE),
            plinth_pyjson::dumps_indent(&graded.report, 4, true).as_bytes(),
        )?;
        Ok(graded)
    }

    /// In a fresh sandbox whose working directory is the repository: the patch applied
    /// as the harness applies it, then the scorer.
    async fn grade_in(
        &self,
        sandbox: Arc<dyn Sandbox>,
        job: &Job,
        patch_file: &str,
        dir: &Path,
        log: &mut String,
    ) -> Result<Graded, GradeError> {
        let id = &job.prediction.instance_id;
        let patch = job.prediction.patch.as_deref().unwrap_or_default();
        let mut applied = false;
        for command in &harness().git_apply_cmds {
            let out = sandbox
                .exec(ExecRequest {
                    timeout: Some(APPLY_TIMEOUT),
                    ..ExecRequest::new(format!("{command} {}", quote(patch_file)))
                })
                .await?;
            log.push_str(&format!(
                "{command} {patch_file}: exit code {}\n{}\n",
                out.exit_code, out.output
            ));
            if out.exit_code == 0 {
                applied = true;
                break;
            }
        }
        let instance = &job.row.instance;
        if !applied {
            // `run_instance` raises before any test runs; what `get_eval_report`
            // says of such a log: not applied, not resolved (the model wrote it).
            let report = InstanceReport::new(
                id,
                &instance.repo,
                Some(patch),
                &LogEval {
                    status_map: StatusMap::new(),
                    found: false,
                },
                &instance.fail_to_pass,
                &instance.pass_to_pass,
            );
            return Ok(Graded {
                report: report.to_value(),
                resolved: false,
                note: Some("the patch did not apply".into()),
            });
        }

        let scorer = self
            .scorers
            .get(&job.scorer)
            .expect("every job's scorer is loaded before the run");
        let tap = Arc::new(Tap::new(sandbox.clone()));
        let task = Task {
            index: job.index,
            id: id.clone(),
            rollout: 0,
            prompt: String::new(),
            row: job.row.raw.clone(),
        };
        let mut trajectory = Trajectory::start(&task, &job.prediction.model, sandbox.kind());
        trajectory.patch = job.prediction.patch.clone();
        let config = json!({
            "env_activation": job.environment.activation,
            "repo_dir": job.environment.repo_dir,
            "timeout_secs": self.timeout_secs,
        });
        let started = Instant::now();
        let scored = scorer
            .score(
                &Value::Object(job.row.raw.clone()).to_string(),
                &trajectory,
                &config.to_string(),
                tap.clone(),
            )
            .await;
        log.push_str(&format!(
            "Test runtime: {:.2} seconds\n",
            started.elapsed().as_secs_f64()
        ));
        if let Some(mut output) = tap.log() {
            if tap.timed_out() {
                output.extend_from_slice(
                    format!("\n\nTimeout error: {} seconds exceeded.", self.timeout_secs)
                        .as_bytes(),
                );
            }
            write(&dir.join(TEST_OUTPUT_FILE), &output)?;
        }
        let score = scored.map_err(|source| GradeError::Scoring {
            scorer: job.scorer.clone(),
            source,
        })?;
        if tap.timed_out() {
            return Err(GradeError::TimedOut(self.timeout_secs));
        }
        // The log is in test_output.txt: its tail is left out here.
        let mut details = score.details.clone();
        if let Value::Object(map) = &mut details {
            map.remove("log_tail");
        }
        log.push_str(&format!(
            "Scorer {}: reward {}; details: {details}\n",
            job.scorer, score.reward
        ));
        match score.details.get("report") {
            Some(report @ Value::Object(_)) => {
                let resolved = report
                    .get(id)
                    .and_then(|r| r.get("resolved"))
                    .and_then(Value::as_bool)
                    .unwrap_or(score.reward >= 1.0);
                Ok(Graded {
                    report: report.clone(),
                    resolved,
                    note: None,
                })
            }
            // The log had no test output the harness reads (the test patch did not
            // apply, a marker is missing): `get_eval_report`'s answer is "not applied".
            _ => {
                let report = InstanceReport::new(
                    id,
                    &instance.repo,
                    Some(patch),
                    &LogEval {
                        status_map: StatusMap::new(),
                        found: false,
                    },
                    &instance.fail_to_pass,
                    &instance.pass_to_pass,
                );
                let why = score
                    .details
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("the log holds no test results the harness reads");
                Ok(Graded {
                    report: report.to_value(),
                    resolved: false,
                    note: Some(why.to_string()),
                })
            }
        }
    }
}

/// What the container backend needs of a row: its image and working directory.
fn container_task(job: &Job, image: &str, workdir: &str) -> Task {
    let mut row = serde_json::Map::new();
    row.insert("image".into(), image.into());
    row.insert("cwd".into(), workdir.into());
    Task {
        index: job.index,
        id: job.prediction.instance_id.clone(),
        rollout: 0,
        prompt: String::new(),
        row,
    }
}

/// `resolved` of a `report.json` an earlier run wrote, if there is a readable one.
fn earlier_report(path: &Path, id: &str) -> Option<bool> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value.get(id)?.get("resolved")?.as_bool()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), GradeError> {
    std::fs::write(path, bytes).map_err(|source| GradeError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A word for the sandbox's shell.
fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
}
