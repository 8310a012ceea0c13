//! The benchmark script, the same one `shared/bench/mock_llm.py` plays, so runners can
//! be timed against either mock: K work steps `echo step N && ls`, then a final step
//! whose shape follows the stop marker the agent's prompt mentions.

use serde::Deserialize;
use serde_json::Value;

use crate::request::ChatRequest;
use crate::script::Attempt;

const MARK_MSWEA: &str = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
const MARK_HERMES: &str = "MINI_SWE_AGENT_FINAL_OUTPUT";

/// Benchmark-mode settings.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    /// Work steps per task when the prompt has no `STEPS=<n>`.
    pub steps: u32,
    /// Add `reasoning_content` to every reply (some runners drop samples without it).
    pub reasoning: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            steps: 10,
            reasoning: false,
        }
    }
}

/// Whether a reply is one of the K work steps or the final one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Work,
    Final,
}

#[derive(Deserialize)]
struct Tool {
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Value,
}

/// The shell tool: the first tool taking a `command`, else the first tool at all,
/// called with its first required (or first) parameter.
struct ShellTool {
    name: String,
    description: String,
    argument: String,
}

fn shell_tool(request: &ChatRequest<'_>) -> Option<ShellTool> {
    let functions: Vec<Function> = request
        .tools
        .iter()
        .filter_map(|raw| serde_json::from_str::<Tool>(raw.get()).ok()?.function)
        .collect();
    let takes_command = |f: &Function| f.parameters.pointer("/properties/command").is_some();
    let chosen = match functions.iter().position(takes_command) {
        Some(at) => functions.into_iter().nth(at),
        None => functions.into_iter().next(),
    }?;
    let argument = if takes_command(&chosen) {
        "command".to_owned()
    } else {
        let required = chosen
            .parameters
            .pointer("/required/0")
            .and_then(Value::as_str);
        let first_property = chosen
            .parameters
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|props| props.keys().next().map(String::as_str));
        required.or(first_property).unwrap_or("command").to_owned()
    };
    Some(ShellTool {
        name: chosen.name,
        description: chosen.description,
        argument,
    })
}

impl BenchConfig {
    /// The reply for this request's position in the benchmark script.
    pub(crate) fn plan(&self, request: &ChatRequest<'_>) -> (Attempt, Phase) {
        let steps = request.steps_marker().unwrap_or(self.steps);
        let step = request.step;
        let tool = shell_tool(request);
        let (phase, command) = if step <= steps {
            (Phase::Work, Some(format!("echo step {step} && ls")))
        } else {
            let tool_text = tool.as_ref().map_or("", |t| t.description.as_str());
            let mentions = |mark: &str| {
                [&request.system, &request.first_user]
                    .iter()
                    .any(|t| t.contains(mark))
                    || tool_text.contains(mark)
            };
            let command = if mentions(MARK_MSWEA) {
                Some(format!("echo {MARK_MSWEA}"))
            } else if mentions(MARK_HERMES) {
                Some(format!("echo {MARK_HERMES} && echo done"))
            } else {
                None
            };
            (Phase::Final, command)
        };
        let attempt = match (command, tool) {
            (None, _) => Attempt::text(&format!(
                "All {steps} steps are done. The task is complete."
            )),
            (Some(command), Some(tool)) => {
                let arguments = serde_json::json!({ tool.argument: command }).to_string();
                Attempt::tool_call(&tool.name, &arguments)
            }
            (Some(command), None) => {
                let fence = if request.system.contains("mswea_bash_command")
                    || request.first_user.contains("mswea_bash_command")
                {
                    "mswea_bash_command"
                } else {
                    "bash"
                };
                Attempt::text(&format!(
                    "THOUGHT: step {step} of {steps}.\n\n```{fence}\n{command}\n```"
                ))
            }
        };
        let attempt = if !self.reasoning {
            attempt
        } else if phase == Phase::Work {
            attempt.reasoning(&format!(
                "Step {step} of {steps}: deciding the next command."
            ))
        } else {
            attempt.reasoning(&format!("All {steps} steps done: finishing."))
        };
        (attempt, phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Reply;

    fn plan(config: BenchConfig, body: &str) -> (Attempt, Phase) {
        let request = ChatRequest::parse(body.as_bytes()).unwrap();
        config.plan(&request)
    }

    const TOOLS: &str = r#"[{"type":"function","function":{"name":"read","parameters":{"properties":{"path":{}}}}},
        {"type":"function","function":{"name":"terminal","description":"say MINI_SWE_AGENT_FINAL_OUTPUT",
         "parameters":{"properties":{"command":{"type":"string"}}}}}]"#;

    #[test]
    fn work_steps_call_the_shell_tool() {
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":"go STEPS=2"}},{{"role":"assistant"}}],"tools":{TOOLS}}}"#
        );
        let (attempt, phase) = plan(BenchConfig::default(), &body);
        assert_eq!(phase, Phase::Work);
        assert_eq!(
            attempt,
            Attempt::tool_call("terminal", r#"{"command":"echo step 2 && ls"}"#)
        );
    }

    #[test]
    fn final_step_follows_the_marker() {
        let assistants = r#"{"role":"assistant"},{"role":"assistant"}"#;
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":"STEPS=1"}},{assistants}],"tools":{TOOLS}}}"#
        );
        let (attempt, phase) = plan(BenchConfig::default(), &body);
        assert_eq!(phase, Phase::Final);
        assert_eq!(
            attempt,
            Attempt::tool_call(
                "terminal",
                r#"{"command":"echo MINI_SWE_AGENT_FINAL_OUTPUT && echo done"}"#
            )
        );

        let body =
            format!(r#"{{"messages":[{{"role":"user","content":"STEPS=1"}},{assistants}]}}"#);
        let (attempt, _) = plan(
            BenchConfig {
                steps: 1,
                reasoning: true,
            },
            &body,
        );
        assert!(
            matches!(attempt.reply, Reply::Text { ref content } if content.contains("task is complete"))
        );
        assert!(attempt.reasoning.is_some());
    }

    #[test]
    fn text_mode_uses_a_fence() {
        let body = r#"{"messages":[{"role":"system","content":"COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT mswea_bash_command"},
            {"role":"user","content":"STEPS=0"}]}"#;
        let (attempt, phase) = plan(BenchConfig::default(), body);
        assert_eq!(phase, Phase::Final);
        let expected = "THOUGHT: step 1 of 0.\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```";
        assert_eq!(attempt, Attempt::text(expected));
    }
}
