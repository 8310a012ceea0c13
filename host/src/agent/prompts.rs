//! The messages plinth writes to the model, as minijinja templates.
//!
//! Defaults follow Hermes' mini_swe_runner. Templates see: `task` (the
//! prompt), `cwd`, `step_limit`/`max_iterations`, `cost_limit`,
//! `time_limit`, `command_timeout`, `model`, `tools`, `row` (the whole task
//! row) and every field of the row at the top level too.

use minijinja::{Environment, UndefinedBehavior, Value};

use super::AgentConfig;
use crate::task::Task;

pub(crate) const DEFAULT_SYSTEM: &str = "You are an AI agent that can execute bash commands to complete tasks.
When you need to run commands, use the 'terminal' tool with your bash command.
**Important:**
- When you have completed the task successfully, run: echo \"MINI_SWE_AGENT_FINAL_OUTPUT\" followed by a summary
- Be concise and efficient in your approach
- Install any needed tools with apt-get or pip
- Avoid interactive commands (no vim, nano, less, etc.)
Complete the user's task step by step.";

pub(crate) const DEFAULT_INSTANCE: &str = "{{ task }}";

pub(crate) const DEFAULT_FORMAT_ERROR: &str = "Your reply did not call a tool. Every reply must call one of the tools ({{ tools | join(\", \") }}) to act. When the task is complete, run `echo MINI_SWE_AGENT_FINAL_OUTPUT` followed by a summary.";

#[derive(Debug, Clone)]
pub struct Prompts {
    pub system: String,
    pub instance: String,
    pub format_error: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            system: DEFAULT_SYSTEM.into(),
            instance: DEFAULT_INSTANCE.into(),
            format_error: DEFAULT_FORMAT_ERROR.into(),
        }
    }
}

/// What templates can refer to.
pub(crate) struct Vars<'a> {
    pub task: &'a Task,
    pub cwd: &'a str,
    pub config: &'a AgentConfig,
    pub model: &'a str,
    pub tools: Vec<&'a str>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A typo in a template is an error, not silently empty text.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env
}

/// A template that does not parse or render, named.
#[derive(Debug, thiserror::Error)]
#[error("{template}: {source}")]
pub(crate) struct TemplateError {
    /// Which template: `system template`, `instance template`, ...
    pub template: &'static str,
    #[source]
    pub source: minijinja::Error,
}

impl Prompts {
    /// Checks that every template parses, so a broken file fails at start-up
    /// rather than on every task.
    pub(crate) fn validate(&self) -> Result<(), TemplateError> {
        let env = environment();
        for (name, source) in [
            ("system template", &self.system),
            ("instance template", &self.instance),
            ("format-error template", &self.format_error),
        ] {
            env.template_from_str(source)
                .map_err(|source| TemplateError {
                    template: name,
                    source,
                })?;
        }
        Ok(())
    }

    /// The system and first user message.
    pub(crate) fn render(&self, vars: &Vars<'_>) -> Result<(String, String), TemplateError> {
        let env = environment();
        let mut ctx = serde_json::Map::new();
        for (k, v) in &vars.task.row {
            ctx.insert(k.clone(), v.clone());
        }
        let config = vars.config;
        let time_limit = config.time_limit.map(|d| d.as_secs());
        for (k, v) in [
            ("task", serde_json::json!(vars.task.prompt)),
            ("id", vars.task.id.clone().into()),
            ("row", serde_json::Value::Object(vars.task.row.clone())),
            ("cwd", vars.cwd.into()),
            ("step_limit", config.step_limit.into()),
            ("max_iterations", config.step_limit.into()),
            ("cost_limit", config.cost_limit.into()),
            ("time_limit", time_limit.into()),
            ("command_timeout", config.command_timeout.as_secs().into()),
            ("model", vars.model.into()),
            ("tools", serde_json::json!(vars.tools)),
            ("n_model_calls", 0.into()),
        ] {
            ctx.insert(k.into(), v);
        }
        let ctx = Value::from_serialize(&ctx);
        let render = |name: &'static str, source: &str| {
            env.render_str(source, ctx.clone())
                .map_err(|source| TemplateError {
                    template: name,
                    source,
                })
        };
        Ok((
            render("system template", &self.system)?,
            render("instance template", &self.instance)?,
        ))
    }

    /// Renders every template for `task` as a run would (with the default
    /// agent settings and `tools`), to check them before any run: the
    /// system and first user message, or the first template that fails.
    pub(crate) fn render_sample(
        &self,
        task: &Task,
        tools: Vec<&str>,
    ) -> Result<(String, String), TemplateError> {
        let config = AgentConfig {
            prompts: self.clone(),
            ..AgentConfig::default()
        };
        let rendered = self.render(&Vars {
            task,
            cwd: "/workspace",
            config: &config,
            model: "model",
            tools: tools.clone(),
        })?;
        environment()
            .render_str(&self.format_error, minijinja::context! { tools => tools })
            .map_err(|source| TemplateError {
                template: "format-error template",
                source,
            })?;
        Ok(rendered)
    }

    /// The message sent back when a reply has no action.
    pub(crate) fn format_error(&self, tools: &[&str]) -> String {
        environment()
            .render_str(
                &self.format_error,
                minijinja::context! { tools => tools.to_vec() },
            )
            .unwrap_or_else(|e| format!("Your reply did not call a tool ({e})."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_fields_and_limits_reach_templates() {
        let task = Task::parse_line(0, r#"{"id": "t", "prompt": "fix", "repo": "demo"}"#)
            .unwrap()
            .unwrap();
        let prompts = Prompts {
            system: "cwd={{ cwd }} steps={{ step_limit }}".into(),
            instance: "{{ task }} in {{ repo }} ({{ row.id }})".into(),
            format_error: DEFAULT_FORMAT_ERROR.into(),
        };
        prompts.validate().unwrap();
        let config = AgentConfig::default();
        let (system, user) = prompts
            .render(&Vars {
                task: &task,
                cwd: "/w",
                config: &config,
                model: "m",
                tools: vec!["terminal"],
            })
            .unwrap();
        assert_eq!(system, "cwd=/w steps=15");
        assert_eq!(user, "fix in demo (t)");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let task = Task::single("x");
        let prompts = Prompts {
            instance: "{{ nope }}".into(),
            ..Prompts::default()
        };
        let config = AgentConfig::default();
        let err = prompts
            .render(&Vars {
                task: &task,
                cwd: "/w",
                config: &config,
                model: "m",
                tools: vec![],
            })
            .unwrap_err();
        assert!(err.to_string().contains("instance template"), "{err}");
    }
}
