//! Rewards: scorer components run in the task's live sandbox after the agent
//! stops, combined with weights into one reward.
//!
//! `--scorer swebench` names SWE-bench's harness rather than one component:
//! each row is graded by the `swebench-<parser>` component of its
//! repository's log parser (`MAP_REPO_TO_PARSER`), so a dataset of many
//! repositories needs one flag.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::GradingSettings;
use plinth_plugin::catalog::{self, CatalogError};
use plinth_plugin::{GuestError, PluginError, PluginKind, PluginMeta, PluginRuntime, ScorerPlugin};
use plinth_record::task::Task;
use plinth_record::trajectory::{ExitStatus, Score, Trajectory};
use plinth_sandbox::Sandbox;

/// One `--scorer NAME[:WEIGHT]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerSpec {
    /// A scorer's name or a `.wasm` path.
    pub name: String,
    pub weight: f64,
    /// This scorer's own options (a JSON object), merged over the run's
    /// `--scorer-config`.
    pub config: Option<Value>,
}

/// The scorers of a run, the options they all get, and where they grade.
#[derive(Debug, Clone)]
pub struct ScoringSettings {
    pub scorers: Vec<ScorerSpec>,
    /// A JSON object; a task row's `scorer_config` is merged over it.
    pub config: Value,
    pub grading: GradingSettings,
}

/// The scorer name that stands for SWE-bench's harness.
pub const SWEBENCH: &str = "swebench";

/// What grades a row for one `--scorer`.
#[derive(Clone)]
enum ScorerChoice {
    /// The same component for every row (boxed: the other variant is a
    /// list, and a plugin handle is large).
    One(Box<ScorerPlugin>),
    /// `swebench`: the component of the row's log parser, by parser name.
    Swebench(Vec<(&'static str, ScorerPlugin)>),
}

/// One configured scorer.
#[derive(Clone)]
pub(crate) struct WeightedScorer {
    choice: ScorerChoice,
    pub weight: f64,
    /// Its JSON options (the run's, with its own over them); the task row's
    /// `scorer_config` is merged over them.
    pub config: Value,
}

/// Why there is no reward: the scorer could not judge (an infrastructure or
/// plugin failure), which must never be mistaken for reward 0.
#[derive(Debug, thiserror::Error)]
#[error("scorer `{scorer}` could not score: {source}")]
pub struct ScoringError {
    pub scorer: String,
    #[source]
    pub source: PluginError,
}

impl ScoringError {
    /// The status of a run whose scorer failed: a failure of the sandbox or
    /// the test command is the infrastructure's, anything else the plugin's.
    pub fn exit_status(&self) -> ExitStatus {
        match self.source {
            PluginError::Guest {
                error: GuestError::Sandbox(_),
                ..
            } => ExitStatus::InfrastructureError,
            _ => ExitStatus::PluginError,
        }
    }
}

#[derive(Clone, Default)]
pub struct Scorers {
    scorers: Vec<WeightedScorer>,
}

impl WeightedScorer {
    /// The component that grades `task`.
    fn plugin_for(&self, task: &Task) -> Result<&ScorerPlugin, ScoringError> {
        match &self.choice {
            ScorerChoice::One(plugin) => Ok(plugin),
            ScorerChoice::Swebench(parsers) => {
                let repo = task.field("repo").unwrap_or_default();
                let parser =
                    plinth_swebench::spec::parser_of(repo).ok_or_else(|| ScoringError {
                        scorer: SWEBENCH.to_string(),
                        source: PluginError::Guest {
                            plugin: SWEBENCH.to_string(),
                            error: GuestError::InvalidInput(format!(
                                "the task's repository `{repo}` has no SWE-bench log parser \
                             (known: the repositories of swebench 4.1.0's specs)"
                            )),
                        },
                    })?;
                Ok(parsers
                    .iter()
                    .find(|(name, _)| *name == parser.name())
                    .map(|(_, plugin)| plugin)
                    .expect("every parser's component is loaded"))
            }
        }
    }
}

impl Scorers {
    /// Loads the scorers `settings` name, each with the shared options.
    pub async fn load(
        runtime: &PluginRuntime,
        settings: &ScoringSettings,
        extra_plugins: &[PathBuf],
    ) -> Result<Self, CatalogError> {
        let mut scorers = Vec::with_capacity(settings.scorers.len());
        for spec in &settings.scorers {
            let choice = if spec.name == SWEBENCH {
                let mut parsers = Vec::new();
                for parser in plinth_swebench::Parser::ALL {
                    let name = format!("swebench-{}", parser.name().replace('_', "-"));
                    let plugin = catalog::find(runtime, &name, PluginKind::Scorer, extra_plugins)
                        .await?
                        .into_scorer()?;
                    parsers.push((parser.name(), plugin));
                }
                ScorerChoice::Swebench(parsers)
            } else {
                ScorerChoice::One(Box::new(
                    catalog::find(runtime, &spec.name, PluginKind::Scorer, extra_plugins)
                        .await?
                        .into_scorer()?,
                ))
            };
            let mut config = settings.config.clone();
            if let (Value::Object(base), Some(Value::Object(own))) = (&mut config, &spec.config) {
                base.extend(own.clone());
            }
            scorers.push(WeightedScorer {
                choice,
                weight: spec.weight,
                config,
            });
        }
        Ok(Self { scorers })
    }

    pub fn is_empty(&self) -> bool {
        self.scorers.is_empty()
    }

    /// The scorer components, for the record of what a run ran with.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginMeta> {
        self.scorers.iter().flat_map(|s| match &s.choice {
            ScorerChoice::One(plugin) => vec![&plugin.meta],
            ScorerChoice::Swebench(parsers) => parsers.iter().map(|(_, p)| &p.meta).collect(),
        })
    }

    /// Whether SWE-bench's harness (`--scorer swebench`) grades `task`: the
    /// run asks for it and the row is an instance its specs know.
    pub fn harness_grades(&self, task: &Task) -> bool {
        crate::is_swebench_row(task)
            && self
                .scorers
                .iter()
                .any(|s| matches!(s.choice, ScorerChoice::Swebench(_)))
    }

    /// Runs every scorer and combines them: the reward is the weighted mean;
    /// with several scorers, sub-scores are prefixed by scorer name and each
    /// scorer's reward is a sub-score too.
    pub async fn score(
        &self,
        task: &Task,
        trajectory: &Trajectory,
        sandbox: &Arc<dyn Sandbox>,
    ) -> Result<Score, ScoringError> {
        let task_json = Value::Object(task.row.clone()).to_string();
        let mut results = Vec::with_capacity(self.scorers.len());
        for scorer in &self.scorers {
            let mut config = scorer.config.clone();
            if let (Value::Object(base), Some(Value::Object(row))) =
                (&mut config, task.row.get("scorer_config"))
            {
                base.extend(row.clone());
            }
            let plugin = scorer.plugin_for(task)?;
            if matches!(scorer.choice, ScorerChoice::Swebench(_))
                && let Value::Object(config) = &mut config
            {
                // The workspace is the repository the eval script works in,
                // wherever the sandbox keeps it (the images' /testbed too).
                config
                    .entry("repo_dir")
                    .or_insert_with(|| Value::from(sandbox.cwd()));
            }
            let score = plugin
                .score(&task_json, trajectory, &config.to_string(), sandbox.clone())
                .await
                .map_err(|source| ScoringError {
                    scorer: plugin.meta.name.clone(),
                    source,
                })?;
            results.push((scorer, score));
        }
        if results.len() == 1
            && let Some((_, score)) = results.pop()
        {
            return Ok(score);
        }
        let total_weight: f64 = results.iter().map(|(s, _)| s.weight).sum();
        let mut reward = 0.0;
        let mut sub_scores = Map::new();
        let mut details = Map::new();
        for (scorer, score) in results {
            let name = &scorer.plugin_for(task)?.meta.name;
            if total_weight > 0.0 {
                reward += scorer.weight * score.reward / total_weight;
            }
            sub_scores.insert(name.clone(), json!(score.reward));
            for (sub, value) in score.sub_scores {
                sub_scores.insert(format!("{name}.{sub}"), value);
            }
            details.insert(name.clone(), score.details);
        }
        Ok(Score {
            reward,
            sub_scores,
            details: Value::Object(details),
        })
    }
}
