//! Tools: functions the model calls, run against the task's sandbox.

use std::marker::PhantomData;

use crate::bindings::tool::exports::plinth::plugin::tool::Guest;
use crate::{PluginError, PluginInfo, Session, ToolResult, ToolSpec};

/// A tool plugin (world `tool-plugin`); export it with [`crate::export_tool!`].
///
/// One plugin may offer several tools. There is no `self`: the host runs
/// every call in a fresh instance, so nothing survives from one call to the
/// next.
pub trait Tool {
    /// Who the plugin is (see [`crate::plugin_info!`]).
    fn info() -> PluginInfo;

    /// The tools offered to the model: name, description and the JSON Schema
    /// of the arguments object.
    fn list_tools() -> Vec<ToolSpec>;

    /// Runs tool `name`, always one of [`Tool::list_tools`] (the SDK answers
    /// `unknown-tool` for any other name), with `arguments`, the JSON text
    /// exactly as the model sent it: it may not parse, and saying so is an
    /// `invalid-arguments` error the model is shown. `session` is the task's
    /// sandbox, lent for this call only.
    fn invoke(name: &str, arguments: &str, session: &Session) -> Result<ToolResult, PluginError>;
}

/// The generated `tool` export, implemented for any [`Tool`].
#[doc(hidden)]
pub struct ToolExport<T>(PhantomData<T>);

impl<T: Tool> Guest for ToolExport<T> {
    fn info() -> PluginInfo {
        T::info()
    }

    fn list_tools() -> Vec<ToolSpec> {
        T::list_tools()
    }

    fn invoke(
        name: String,
        arguments: String,
        session: &Session,
    ) -> Result<ToolResult, PluginError> {
        if !T::list_tools().iter().any(|spec| spec.name == name) {
            return Err(PluginError::UnknownTool(name));
        }
        T::invoke(&name, &arguments, session)
    }
}
