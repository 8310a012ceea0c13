//! Tool plugins: the tools a model may call, run in the task's sandbox.

use std::sync::Arc;

use wasmtime::component::InstancePre;

use super::bindings::{v0_1, v0_2};
use super::convert::InvalidToolSpec;
use super::state::StoreState;
use super::{ApiVersion, GuestError, PluginError, PluginInfo, PluginMeta, PluginRuntime};
use plinth_sandbox::{ExecOutput, Sandbox};

/// A tool the model may call, as a plugin declares it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// What a tool call returned.
#[derive(Debug, Clone)]
pub struct ToolResult {
    pub content: String,
    pub exec: Option<ExecOutput>,
}

/// A linked tool component, by the API version it was built against.
#[derive(Clone)]
enum ToolPre {
    V0_1(v0_1::tool::ToolPluginPre<StoreState>),
    V0_2(v0_2::tool::ToolPluginPre<StoreState>),
}

impl ToolPre {
    fn new(api: ApiVersion, pre: InstancePre<StoreState>) -> wasmtime::Result<Self> {
        Ok(match api {
            ApiVersion::V0_1 => Self::V0_1(v0_1::tool::ToolPluginPre::new(pre)?),
            ApiVersion::V0_2 => Self::V0_2(v0_2::tool::ToolPluginPre::new(pre)?),
        })
    }
}

#[derive(Clone)]
pub struct ToolPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: ToolPre,
    /// The tools it offers, read once at load time.
    pub tools: Vec<ToolSpec>,
}

impl ToolPlugin {
    /// Links a tool component and reads what it offers.
    pub(super) async fn load(
        runtime: PluginRuntime,
        mut meta: PluginMeta,
        pre: InstancePre<StoreState>,
    ) -> Result<Self, PluginError> {
        let pre = ToolPre::new(meta.api_version, pre).map_err(|e| meta.link_error(e))?;
        let (info, tools) = per_version!(pre.clone(); ToolPre::V0_1 => v0_1, ToolPre::V0_2 => v0_2;
        |pre, convert| {
            let (info, specs) = runtime
                .call(&meta, None, move |store, _| {
                    Box::pin(async move {
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        let tool = plugin.plinth_plugin_tool();
                        let info = tool.call_info(&mut *store).await?;
                        let specs = tool.call_list_tools(&mut *store).await?;
                        Ok((info, specs))
                    })
                })
                .await?;
            let tools: Result<Vec<_>, _> =
                specs.into_iter().map(convert::declared_tool).collect();
            (PluginInfo::from(info), tools)
        });
        let tools = tools.map_err(|e: InvalidToolSpec| PluginError::InvalidComponent {
            plugin: meta.source.clone(),
            reason: e.to_string(),
        })?;
        meta.describe(info);
        Ok(Self {
            runtime,
            meta,
            pre,
            tools,
        })
    }

    /// Runs tool `name` with the model's `arguments` in the task's sandbox.
    pub async fn invoke(
        &self,
        name: &str,
        arguments: &str,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<ToolResult, PluginError> {
        let (name, arguments) = (name.to_string(), arguments.to_string());
        let result = per_version!(self.pre.clone(); ToolPre::V0_1 => v0_1, ToolPre::V0_2 => v0_2;
        |pre, convert| {
            self.runtime
                .call(&self.meta, Some(sandbox), move |store, session| {
                    Box::pin(async move {
                        let session = session.expect("a session is lent for tool calls");
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        let result = plugin
                            .plinth_plugin_tool()
                            .call_invoke(&mut *store, &name, &arguments, session)
                            .await?;
                        Ok(result.map(ToolResult::from).map_err(GuestError::from))
                    })
                })
                .await?
        });
        result.map_err(|error| self.meta.guest_error(error))
    }
}
