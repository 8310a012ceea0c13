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

/// A tool call's `arguments` (the model's JSON text) as `T`, any type that
/// derives `serde::Deserialize`; when they do not fit, an
/// `invalid-arguments` error whose message (serde's, with the line and
/// column) the model is shown, so it can correct the call.
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// struct Grep {
///     pattern: String,
///     #[serde(default)]
///     path: Option<String>,
/// }
///
/// let args: Grep = plinth_sdk::parse_arguments(r#"{"pattern": "TODO"}"#).unwrap();
/// assert_eq!((args.pattern.as_str(), args.path), ("TODO", None));
/// let err = plinth_sdk::parse_arguments::<Grep>(r#"{"path": "src"}"#).unwrap_err();
/// assert!(matches!(err, plinth_sdk::PluginError::InvalidArguments(m) if m.contains("pattern")));
/// ```
pub fn parse_arguments<T: serde::de::DeserializeOwned>(arguments: &str) -> Result<T, PluginError> {
    serde_json::from_str(arguments).map_err(|e| PluginError::InvalidArguments(e.to_string()))
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
