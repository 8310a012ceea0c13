//! The tools offered to the model: every tool of every loaded tool component,
//! by name, with its compiled JSON Schema.

use std::collections::HashMap;

use serde_json::{Value, json};

use plinth_plugin::ToolPlugin;

/// Two components offering a tool of the same name: the model could not tell
/// them apart, so this is refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ToolboxError {
    #[error("tool `{tool}` is offered by both `{first}` and `{second}`; remove one of them")]
    Duplicate {
        tool: String,
        first: String,
        second: String,
    },
    #[error("tool `{tool}` of `{plugin}` has an invalid parameters schema: {reason}")]
    BadSchema {
        tool: String,
        plugin: String,
        reason: String,
    },
}

struct Entry {
    plugin: usize,
    schema: jsonschema::Validator,
}

pub struct Toolbox {
    plugins: Vec<ToolPlugin>,
    tools: HashMap<String, Entry>,
    /// OpenAI `tools` array, built once and sent with every request.
    specs: Vec<Value>,
}

/// Why a call cannot run: the model's mistake, reported back to it.
#[derive(Debug)]
pub(crate) enum CallProblem {
    UnknownTool,
    InvalidArguments(String),
}

impl Toolbox {
    pub fn new(plugins: Vec<ToolPlugin>) -> Result<Self, ToolboxError> {
        let mut tools: HashMap<String, Entry> = HashMap::new();
        let mut specs = Vec::new();
        for (index, plugin) in plugins.iter().enumerate() {
            for spec in &plugin.tools {
                if let Some(existing) = tools.get(&spec.name) {
                    return Err(ToolboxError::Duplicate {
                        tool: spec.name.clone(),
                        first: plugins[existing.plugin].meta.source.clone(),
                        second: plugin.meta.source.clone(),
                    });
                }
                let schema = jsonschema::validator_for(&spec.parameters).map_err(|e| {
                    ToolboxError::BadSchema {
                        tool: spec.name.clone(),
                        plugin: plugin.meta.source.clone(),
                        reason: e.to_string(),
                    }
                })?;
                tools.insert(
                    spec.name.clone(),
                    Entry {
                        plugin: index,
                        schema,
                    },
                );
                specs.push(json!({
                    "type": "function",
                    "function": {
                        "name": spec.name,
                        "description": spec.description,
                        "parameters": spec.parameters,
                    }
                }));
            }
        }
        Ok(Self {
            plugins,
            tools,
            specs,
        })
    }

    pub(crate) fn specs(&self) -> &[Value] {
        &self.specs
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tools.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The component that runs `name`, after checking the model's arguments
    /// parse and fit the tool's schema.
    pub(crate) fn resolve(&self, name: &str, arguments: &str) -> Result<&ToolPlugin, CallProblem> {
        let entry = self.tools.get(name).ok_or(CallProblem::UnknownTool)?;
        let args: Value = serde_json::from_str(arguments).map_err(|e| {
            CallProblem::InvalidArguments(format!("arguments are not valid JSON: {e}"))
        })?;
        let problems: Vec<String> = entry
            .schema
            .iter_errors(&args)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(CallProblem::InvalidArguments(problems.join("; ")));
        }
        Ok(&self.plugins[entry.plugin])
    }
}
