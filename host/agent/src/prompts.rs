//! The messages plinth writes to the model, as minijinja templates.
//!
//! Defaults follow Hermes' mini_swe_runner. Templates see: `task` (the
//! prompt), `cwd`, `step_limit`/`max_iterations`, `cost_limit`,
//! `time_limit`, `command_timeout`, `model`, `tools`, `completion_marker`
//! (the text of the first completion marker: the one the completion rules
//! check first, so the one to name), `row` (the whole task row) and every
//! field of the row at the top level too.
//!
//! The defaults name one marker, the one the run's rules accept first, and
//! say nothing of isolation: the templates do not know the sandbox, and the
//! local one is a directory on the host, not isolation.

use minijinja::{Environment, UndefinedBehavior, Value};

use super::AgentConfig;
use plinth_record::task::Task;
use plinth_sandbox::ExecOutput;

pub(crate) const DEFAULT_SYSTEM: &str = "You are an AI agent that can execute bash commands to complete tasks.
When you need to run commands, use the 'terminal' tool with your bash command.
**Important:**
- When you have completed the task successfully, run `echo {{ completion_marker }}` as a command of its own: it ends your work
- Be concise and efficient in your approach
- Install any needed tools with apt-get or pip
- Avoid interactive commands (no vim, nano, less, etc.)
Complete the user's task step by step.";

pub(crate) const DEFAULT_INSTANCE: &str = "{{ task }}";

/// It sends the model back to the first message for how to finish (as
/// mini-swe-agent's does): it is rendered without the run's settings, so it
/// cannot name the run's completion marker.
pub(crate) const DEFAULT_FORMAT_ERROR: &str = "Your reply did not call a tool. Every reply must call one of the tools ({{ tools | join(\", \") }}) to act. If the task is complete, finish as the first message says.";

#[derive(Debug, Clone)]
pub struct Prompts {
    pub system: String,
    pub instance: String,
    pub format_error: String,
    /// Wraps every tool result the model sees; none: the result as the tool
    /// returned it (after the output policy). Sees `content` (that result),
    /// `output` (the output of the command the tool ran, else `content`),
    /// `returncode` (none when it ran none), `timed_out`, `tool` and `step`.
    pub observation: Option<String>,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            system: DEFAULT_SYSTEM.into(),
            instance: DEFAULT_INSTANCE.into(),
            format_error: DEFAULT_FORMAT_ERROR.into(),
            observation: None,
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
pub struct TemplateError {
    /// Which template: `system template`, `instance template`, ...
    pub template: &'static str,
    #[source]
    pub source: minijinja::Error,
}

impl Prompts {
    /// Checks that every template parses, so a broken file fails at start-up
    /// rather than on every task.
    pub fn validate(&self) -> Result<(), TemplateError> {
        let env = environment();
        for (name, source) in [
            ("system template", &self.system),
            ("instance template", &self.instance),
            ("format-error template", &self.format_error),
        ]
        .into_iter()
        .chain(
            self.observation
                .as_ref()
                .map(|o| ("observation template", o)),
        ) {
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
            (
                "completion_marker",
                config
                    .completion_markers
                    .first()
                    .map_or("", |m| m.text.as_str())
                    .into(),
            ),
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
    pub fn render_sample(
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
        if let Some(template) = &self.observation {
            let sample = ExecOutput {
                exit_code: 0,
                output: "sample output\n".into(),
                truncated: false,
                timed_out: false,
            };
            for exec in [Some(&sample), None] {
                render_observation(template, "sample output\n", "terminal", exec, 1).map_err(
                    |source| TemplateError {
                        template: "observation template",
                        source,
                    },
                )?;
            }
        }
        Ok(rendered)
    }

    /// What the model sees of a tool's result `content`: the observation
    /// template rendered, or the result itself when there is none. A
    /// template that fails on one result (checked at start-up, so rare)
    /// shows the result with the error rather than losing it.
    pub(crate) fn observation(
        &self,
        content: String,
        tool: &str,
        exec: Option<&ExecOutput>,
        step: u32,
    ) -> String {
        let Some(template) = &self.observation else {
            return content;
        };
        render_observation(template, &content, tool, exec, step)
            .unwrap_or_else(|e| format!("{content}\n(the observation template failed: {e})"))
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

/// Renders the observation `template` for one tool result.
fn render_observation(
    template: &str,
    content: &str,
    tool: &str,
    exec: Option<&ExecOutput>,
    step: u32,
) -> Result<String, minijinja::Error> {
    environment().render_str(
        template,
        minijinja::context! {
            content => content,
            output => exec.map_or(content, |e| e.output.as_str()),
            tool => tool,
            step => step,
            returncode => exec.map(|e| e.exit_code),
            timed_out => exec.is_some_and(|e| e.timed_out),
        },
    )
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
            ..Prompts::default()
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

    /// The default prompts name one marker, the one the completion rules
    /// check first (the run's own when it names markers), and never call
    /// the sandbox isolated.
    #[test]
    fn the_default_prompts_name_the_marker_the_rules_accept_first() {
        use crate::completion::{CompletionMarker, submission_in};
        let task = Task::single("x");
        let render = |config: &AgentConfig| {
            Prompts::default()
                .render(&Vars {
                    task: &task,
                    cwd: "/w",
                    config,
                    model: "m",
                    tools: vec!["terminal"],
                })
                .unwrap()
                .0
        };
        let config = AgentConfig::default();
        let system = render(&config);
        let first = &config.completion_markers[0].text;
        assert!(system.contains(&format!("`echo {first}`")), "{system}");
        let named = |text: &str| {
            [
                "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
                "MINI_SWE_AGENT_FINAL_OUTPUT",
            ]
            .into_iter()
            .filter(|m| text.contains(m))
            .count()
        };
        assert_eq!(named(&system), 1, "{system}");
        // What the prompt says to run is accepted, by the first rule.
        assert_eq!(
            submission_in(&config.completion_markers[..1], &format!("{first}\n")),
            Some(String::new())
        );
        let format_error = Prompts::default().format_error(&["terminal"]);
        assert_eq!(named(&format_error), 0, "{format_error}");
        for text in [&system, &format_error] {
            assert!(!text.to_lowercase().contains("isolat"), "{text}");
        }
        let own = AgentConfig {
            completion_markers: vec!["anywhere:ALL_DONE".parse::<CompletionMarker>().unwrap()],
            ..AgentConfig::default()
        };
        let system = render(&own);
        assert!(system.contains("`echo ALL_DONE`"), "{system}");
        assert_eq!(named(&system), 0, "{system}");
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

    #[test]
    fn an_observation_template_wraps_tool_results() {
        let plain = Prompts::default();
        assert_eq!(plain.observation("as is".into(), "t", None, 1), "as is");
        let prompts = Prompts {
            observation: Some(
                "<returncode>{{ returncode }}</returncode>\n<output>{{ output }}</output> \
                 {{ tool }}@{{ step }}{% if timed_out %} (timed out){% endif %}"
                    .into(),
            ),
            ..Prompts::default()
        };
        prompts.validate().unwrap();
        let task = Task::single("x");
        prompts.render_sample(&task, vec!["terminal"]).unwrap();
        let exec = ExecOutput {
            exit_code: 2,
            output: "boom\n".into(),
            truncated: false,
            timed_out: true,
        };
        assert_eq!(
            prompts.observation("{\"json\": 1}".into(), "terminal", Some(&exec), 3),
            "<returncode>2</returncode>\n<output>boom\n</output> terminal@3 (timed out)"
        );
        // A tool that ran no command: its result is the output (and none
        // prints as Jinja2 prints it).
        assert_eq!(
            prompts.observation("found".into(), "search", None, 4),
            "<returncode>None</returncode>\n<output>found</output> search@4"
        );
        let broken = Prompts {
            observation: Some("{{ nope }}".into()),
            ..Prompts::default()
        };
        let err = broken.render_sample(&task, vec![]).unwrap_err();
        assert!(err.to_string().contains("observation template"), "{err}");
    }
}
