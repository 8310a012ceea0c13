//! The agent loop: model ↔ tool components ↔ sandbox, until the task is
//! submitted, the model stops calling tools, or a limit is reached.
//!
//! Every way a run ends is a named exit status recorded in the trajectory,
//! and the model always gets an observation for its mistakes (unknown tool,
//! malformed arguments, no action) instead of a crash.

pub mod completion;
mod prompts;
pub mod text_actions;
mod toolbox;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use completion::{CompletionMarker, MarkerPlace};
pub use prompts::Prompts;
pub(crate) use prompts::TemplateError;
pub use toolbox::{Toolbox, ToolboxError};

use plinth_model::capture::TokenChain;
use plinth_model::tokenize::ChatTokenizer;
use plinth_model::{ChatModel, Conversation, ModelError, ModelReply, ToolSchemas};
use plinth_plugin::{GuestError, PluginError};
use plinth_record::defaults;
use plinth_record::settings::Shell;
use plinth_record::task::Task;
use plinth_record::tokens::TokenRecord;
use plinth_record::training;
use plinth_record::trajectory::{
    ExitStatus, FunctionCall, Message, Role, ToolCall, Trajectory, now_secs,
};
use plinth_sandbox::Sandbox;
use toolbox::CallProblem;

/// What to do with a reply that has no tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTextReply {
    /// The answer is final (Hermes' behaviour).
    Finish,
    /// Tell the model it must act (mini-swe-agent's behaviour).
    FormatError,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub prompts: Prompts,
    /// Most model calls (0: no limit).
    pub step_limit: u32,
    /// Most dollars (0: no limit); needs a price table to mean anything.
    pub cost_limit: f64,
    /// Wall-clock limit per trajectory.
    pub time_limit: Option<Duration>,
    /// Consecutive format errors that end a run.
    pub max_format_errors: u32,
    pub on_text_reply: OnTextReply,
    /// Also parse actions from plain text (```bash blocks, <tool_call> tags).
    pub text_actions: bool,
    /// The default command timeout, shown to templates.
    pub command_timeout: Duration,
    /// What a command prints to submit, in the order they are tried.
    pub completion_markers: Vec<CompletionMarker>,
    /// Record each call's token ids and logprobs (the model client asks the
    /// server for them) and how they assemble for training.
    pub capture_tokens: bool,
    /// With `capture_tokens`: computes the ids of calls the server returned
    /// none for (`--tokenizer`).
    pub tokenizer: Option<Arc<ChatTokenizer>>,
    /// Whether the agent's commands share one shell session (`--shell`).
    pub shell: Shell,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            prompts: Prompts::default(),
            step_limit: defaults::STEP_LIMIT,
            cost_limit: defaults::COST_LIMIT,
            time_limit: None,
            max_format_errors: defaults::MAX_FORMAT_ERRORS,
            on_text_reply: OnTextReply::Finish,
            text_actions: false,
            command_timeout: defaults::COMMAND_TIMEOUT,
            completion_markers: CompletionMarker::defaults(),
            capture_tokens: false,
            tokenizer: None,
            shell: Shell::default(),
        }
    }
}

/// Persists a trajectory while it runs, so a crash leaves the partial run on
/// disk.
#[async_trait::async_trait]
pub trait Checkpoint: Send {
    async fn save(&mut self, trajectory: &Trajectory);
}

/// Runs trajectories; shared by every task of a batch.
pub struct Agent {
    config: AgentConfig,
    model: Arc<dyn ChatModel>,
    tools: Arc<Toolbox>,
    /// The tools' schemas as every request sends them.
    tool_schemas: ToolSchemas,
    /// Tool that ```bash blocks become in text mode.
    shell_tool: String,
}

/// How a run ended, before it is written into the trajectory.
struct Ending {
    status: ExitStatus,
    submission: String,
    error: Option<String>,
}

impl Ending {
    fn status(status: ExitStatus) -> Self {
        Self {
            status,
            submission: String::new(),
            error: None,
        }
    }

    fn error(status: ExitStatus, error: impl Into<String>) -> Self {
        Self {
            status,
            submission: String::new(),
            error: Some(error.into()),
        }
    }
}

impl Agent {
    pub fn new(config: AgentConfig, model: Arc<dyn ChatModel>, tools: Arc<Toolbox>) -> Self {
        let shell_tool = ["terminal", "bash", "shell"]
            .into_iter()
            .find(|name| tools.names().contains(name))
            .unwrap_or("terminal")
            .to_string();
        Self {
            config,
            model,
            tool_schemas: ToolSchemas::new(tools.specs()),
            tools,
            shell_tool,
        }
    }

    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    pub fn tool_specs(&self) -> &[Value] {
        self.tools.specs()
    }

    /// Runs `task` in `sandbox`, recording into `trajectory` (already holding
    /// the run's identity) and checkpointing after every step.
    pub async fn run(
        &self,
        task: &Task,
        sandbox: Arc<dyn Sandbox>,
        trajectory: &mut Trajectory,
        checkpoint: &mut dyn Checkpoint,
    ) {
        let started = Instant::now();
        trajectory.tools = self.tools.specs().to_vec();
        let mut tokens = TokenChain::default();
        let ending = match self.start(task, sandbox.as_ref(), trajectory) {
            Err(e) => Ending::error(
                ExitStatus::InfrastructureError,
                format!("rendering the prompts failed: {e}"),
            ),
            Ok(mut conversation) => {
                checkpoint.save(trajectory).await;
                let sandboxes = ToolSandboxes {
                    shell: plinth_sandbox::shell::for_agent(self.config.shell, sandbox.clone()),
                    plain: sandbox,
                };
                let steps = self.steps(
                    &sandboxes,
                    trajectory,
                    &mut conversation,
                    &mut tokens,
                    checkpoint,
                    started,
                );
                match self.config.time_limit {
                    None => steps.await,
                    Some(limit) => match tokio::time::timeout(limit, steps).await {
                        Ok(ending) => ending,
                        Err(_) => Ending::status(ExitStatus::TimeExceeded),
                    },
                }
            }
        };
        trajectory.exit_status = ending.status;
        trajectory.submission = ending.submission;
        trajectory.error = ending.error;
        trajectory.duration_secs = started.elapsed().as_secs_f64();
        if self.config.capture_tokens {
            trajectory.training = Some(tokens.note(&training::assemble(&trajectory.messages)));
        }
        checkpoint.save(trajectory).await;
    }

    /// Renders the system and task messages.
    fn start(
        &self,
        task: &Task,
        sandbox: &dyn Sandbox,
        trajectory: &mut Trajectory,
    ) -> Result<Conversation, TemplateError> {
        let vars = prompts::Vars {
            task,
            cwd: sandbox.cwd(),
            config: &self.config,
            model: self.model.name(),
            tools: self.tools.names(),
        };
        let (system, user) = self.config.prompts.render(&vars)?;
        trajectory.messages = vec![
            Message::new(Role::System, system),
            Message::new(Role::User, user),
        ];
        let mut conversation = Conversation::default();
        for message in &trajectory.messages {
            conversation.push(message);
        }
        Ok(conversation)
    }

    async fn steps(
        &self,
        sandboxes: &ToolSandboxes,
        trajectory: &mut Trajectory,
        conversation: &mut Conversation,
        tokens: &mut TokenChain,
        checkpoint: &mut dyn Checkpoint,
        started: Instant,
    ) -> Ending {
        let config = &self.config;
        let mut format_errors = 0u32;
        loop {
            if config.step_limit > 0 && trajectory.api_calls >= config.step_limit {
                return Ending::status(ExitStatus::LimitsExceeded);
            }
            if config.cost_limit > 0.0 && trajectory.cost >= config.cost_limit {
                return Ending::status(ExitStatus::LimitsExceeded);
            }
            let reply = match self
                .model
                .chat(&trajectory.id, conversation, &self.tool_schemas)
                .await
            {
                Ok(reply) => reply,
                // The record stays as it is: every turn up to the call
                // that no longer fits.
                Err(e @ ModelError::ContextOverflow { .. }) => {
                    return Ending::error(ExitStatus::ContextExceeded, e.to_string());
                }
                Err(e) => return Ending::error(ExitStatus::ModelError, e.to_string()),
            };
            if reply.finish_reason.as_deref() == Some("length") {
                tracing::warn!(
                    task = %trajectory.id,
                    call = trajectory.api_calls + 1,
                    "the reply was cut short (finish_reason `length`): it reached --max-tokens \
                     or the end of the model's context"
                );
            }
            trajectory.api_calls += 1;
            trajectory.usage += reply.usage;
            trajectory.cost += reply.cost;

            let calls = self.calls_of(&reply, trajectory.api_calls);
            let mut assistant = Message {
                role: Role::Assistant,
                content: reply.content.clone(),
                reasoning: reply.reasoning.clone(),
                tool_calls: calls.clone(),
                tool_call_id: None,
                name: None,
                timestamp: now_secs(),
                cost: Some(reply.cost),
                interrupt: None,
                finish_reason: reply.finish_reason.clone(),
                tokens: None,
            };
            conversation.push(&assistant);
            if config.capture_tokens {
                assistant.tokens = match (tokens.record(&reply), &config.tokenizer) {
                    (Some(record), _) => Some(record),
                    (None, None) => tokens.completion_only(&reply),
                    (None, Some(tokenizer)) => {
                        self.recompute(tokenizer, tokens, conversation, &reply)
                            .await
                    }
                };
            }
            trajectory.messages.push(assistant);

            if calls.is_empty() {
                match config.on_text_reply {
                    OnTextReply::Finish => {
                        return Ending {
                            status: ExitStatus::Finished,
                            submission: reply.content.unwrap_or_default(),
                            error: None,
                        };
                    }
                    OnTextReply::FormatError => {
                        let text = config.prompts.format_error(&self.tools.names());
                        let mut message = Message::new(Role::User, text);
                        message.interrupt = Some("FormatError".into());
                        conversation.push(&message);
                        trajectory.messages.push(message);
                        format_errors += 1;
                    }
                }
            } else {
                let mut turn_had_format_error = false;
                for call in &calls {
                    let outcome = self.run_call(call, sandboxes, trajectory.api_calls).await;
                    let message = Message {
                        role: Role::Tool,
                        content: Some(outcome.content),
                        reasoning: None,
                        tool_calls: Vec::new(),
                        tool_call_id: Some(call.id.clone()),
                        name: Some(call.function.name.clone()),
                        timestamp: now_secs(),
                        cost: None,
                        interrupt: None,
                        finish_reason: None,
                        tokens: None,
                    };
                    conversation.push(&message);
                    trajectory.messages.push(message);
                    turn_had_format_error |= outcome.format_error;
                    if let Some(ending) = outcome.ending {
                        return ending;
                    }
                }
                if turn_had_format_error {
                    format_errors += 1;
                } else {
                    format_errors = 0;
                }
            }
            if format_errors >= config.max_format_errors.max(1) {
                return Ending::error(
                    ExitStatus::RepeatedFormatError,
                    format!("{format_errors} consecutive format errors"),
                );
            }
            trajectory.duration_secs = started.elapsed().as_secs_f64();
            checkpoint.save(trajectory).await;
        }
    }

    /// The record of a call the server returned no ids for, from ids
    /// `tokenizer` computes: the conversation as it was sent, answered by
    /// the reply (its last message) as it is sent back, with the reasoning
    /// the model produced, which it sampled even though the client does not
    /// send it back. Tokenizing a long conversation takes a while: off the
    /// async workers.
    async fn recompute(
        &self,
        tokenizer: &Arc<ChatTokenizer>,
        tokens: &mut TokenChain,
        conversation: &Conversation,
        reply: &ModelReply,
    ) -> Option<TokenRecord> {
        let mut sent = conversation.values();
        let mut answer = sent.pop().expect("the reply was just added");
        if let Some(reasoning) = &reply.reasoning {
            answer["reasoning_content"] = reasoning.clone().into();
        }
        let (tokenizer, tools) = (tokenizer.clone(), self.tools.specs().to_vec());
        let computed =
            tokio::task::spawn_blocking(move || tokenizer.call_ids(&sent, &tools, &answer)).await;
        match computed {
            Ok(Ok(ids)) => Some(tokens.recomputed(ids, reply)),
            Ok(Err(e)) => {
                tracing::warn!("recomputing a call's token ids failed: {e}");
                tokens.not_recomputed(&e.to_string());
                None
            }
            Err(e) => {
                tokens.not_recomputed(&format!("the tokenizer task failed: {e}"));
                None
            }
        }
    }

    /// The reply's tool calls; in text mode, the actions written in its
    /// content when it made no native call. Missing call ids are made up
    /// (some servers omit them), so every tool message can answer its call.
    fn calls_of(&self, reply: &ModelReply, step: u32) -> Vec<ToolCall> {
        let mut calls = reply.tool_calls.clone();
        if calls.is_empty()
            && self.config.text_actions
            && let Some(content) = &reply.content
        {
            calls = text_actions::parse(content, &self.shell_tool)
                .into_iter()
                .map(|c| ToolCall::function(String::new(), c.name, c.arguments))
                .collect();
        }
        for (i, call) in calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("call_{step}_{i}");
            }
        }
        calls
    }

    /// Runs one call of the model's `step`th reply.
    async fn run_call(&self, call: &ToolCall, sandboxes: &ToolSandboxes, step: u32) -> CallOutcome {
        let FunctionCall { name, arguments } = &call.function;
        let sandbox = if *name == self.shell_tool {
            &sandboxes.shell
        } else {
            &sandboxes.plain
        };
        let plugin = match self.tools.resolve(name, arguments) {
            Ok(plugin) => plugin,
            Err(CallProblem::UnknownTool) => {
                return CallOutcome::format_error(format!(
                    "Error: unknown tool `{name}`. Available tools: {}.",
                    self.tools.names().join(", ")
                ));
            }
            Err(CallProblem::InvalidArguments(why)) => {
                return CallOutcome::format_error(format!(
                    "Error: invalid arguments for `{name}`: {why}. Send a JSON object that matches the tool's parameters."
                ));
            }
        };
        match plugin.invoke(name, arguments, sandbox.clone()).await {
            Ok(result) => {
                let markers = &self.config.completion_markers;
                let submission = result
                    .exec
                    .as_ref()
                    .and_then(|e| completion::submission_in(markers, &e.output));
                let content = sandbox.output_policy().tool_result(result.content);
                CallOutcome {
                    content: self.config.prompts.observation(
                        content,
                        name,
                        result.exec.as_ref(),
                        step,
                    ),
                    format_error: false,
                    ending: submission.map(|submission| Ending {
                        status: ExitStatus::Submitted,
                        submission,
                        error: None,
                    }),
                }
            }
            Err(PluginError::Guest { error, .. }) => match error {
                GuestError::InvalidArguments(why) => CallOutcome::format_error(format!(
                    "Error: invalid arguments for `{name}`: {why}"
                )),
                GuestError::UnknownTool(_) => CallOutcome::format_error(format!(
                    "Error: unknown tool `{name}`. Available tools: {}.",
                    self.tools.names().join(", ")
                )),
                GuestError::Sandbox(why) => CallOutcome::fatal(
                    format!("Error: the sandbox failed: {why}"),
                    Ending::error(
                        ExitStatus::InfrastructureError,
                        format!("sandbox failed: {why}"),
                    ),
                ),
                other => CallOutcome::fatal(
                    format!("Error: tool `{name}` failed: {other}"),
                    Ending::error(
                        ExitStatus::PluginError,
                        format!("tool `{name}` failed: {other}"),
                    ),
                ),
            },
            Err(e) => CallOutcome::fatal(
                format!("Error: tool `{name}` failed: {e}"),
                Ending::error(ExitStatus::PluginError, e.to_string()),
            ),
        }
    }
}

/// What the tools of one run are lent: the model's shell tool gets the
/// sandbox whose commands run in the trajectory's shell session (with
/// `--shell persistent`); every other tool gets the plain one, so a tool's
/// own scripted commands neither see nor change the model's shell state.
struct ToolSandboxes {
    shell: Arc<dyn Sandbox>,
    plain: Arc<dyn Sandbox>,
}

/// The observation of one call and whether it ends the run.
struct CallOutcome {
    content: String,
    format_error: bool,
    ending: Option<Ending>,
}

impl CallOutcome {
    fn format_error(content: String) -> Self {
        Self {
            content,
            format_error: true,
            ending: None,
        }
    }

    fn fatal(content: String, ending: Ending) -> Self {
        Self {
            content,
            format_error: false,
            ending: Some(ending),
        }
    }
}
