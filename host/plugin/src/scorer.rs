//! Scorer plugins: judge a finished trajectory in the task's live sandbox.

use std::sync::Arc;

use wasmtime::component::InstancePre;

use super::bindings::{v0_1, v0_2};
use super::state::StoreState;
use super::{ApiVersion, GuestError, PluginError, PluginInfo, PluginMeta, PluginRuntime};
use plinth_record::trajectory::{Score, Trajectory};
use plinth_sandbox::Sandbox;

/// A linked scorer component, by the API version it was built against.
#[derive(Clone)]
enum ScorerPre {
    V0_1(v0_1::scorer::ScorerPluginPre<StoreState>),
    V0_2(v0_2::scorer::ScorerPluginPre<StoreState>),
}

impl ScorerPre {
    fn new(api: ApiVersion, pre: InstancePre<StoreState>) -> wasmtime::Result<Self> {
        Ok(match api {
            ApiVersion::V0_1 => Self::V0_1(v0_1::scorer::ScorerPluginPre::new(pre)?),
            ApiVersion::V0_2 => Self::V0_2(v0_2::scorer::ScorerPluginPre::new(pre)?),
        })
    }
}

#[derive(Clone)]
pub struct ScorerPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: ScorerPre,
}

impl ScorerPlugin {
    /// Links a scorer component and asks who it is.
    pub(super) async fn load(
        runtime: PluginRuntime,
        mut meta: PluginMeta,
        pre: InstancePre<StoreState>,
    ) -> Result<Self, PluginError> {
        let pre = ScorerPre::new(meta.api_version, pre).map_err(|e| meta.link_error(e))?;
        let info = per_version!(pre.clone(); ScorerPre::V0_1 => v0_1, ScorerPre::V0_2 => v0_2;
        |pre, convert| {
            runtime
                .call(&meta, None, move |store, _| {
                    Box::pin(async move {
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        let info = plugin.plinth_plugin_scorer().call_info(&mut *store).await?;
                        Ok(PluginInfo::from(info))
                    })
                })
                .await?
        });
        meta.describe(info);
        Ok(Self { runtime, meta, pre })
    }

    /// Scores a finished trajectory in the task's (still live) sandbox.
    /// `task` is the task row as JSON, `config` the scorer's JSON options.
    pub async fn score(
        &self,
        task: &str,
        trajectory: &Trajectory,
        config: &str,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<Score, PluginError> {
        let (task, config) = (task.to_string(), config.to_string());
        let scorer = self.meta.name.clone();
        let result = per_version!(self.pre.clone(); ScorerPre::V0_1 => v0_1, ScorerPre::V0_2 => v0_2;
        |pre, convert| {
            let trajectory = convert::trajectory(trajectory);
            self.runtime
                .call(&self.meta, Some(sandbox), move |store, session| {
                    Box::pin(async move {
                        let session = session.expect("a session is lent for scorer calls");
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        let result = plugin
                            .plinth_plugin_scorer()
                            .call_score(&mut *store, &task, &trajectory, &config, session)
                            .await?;
                        Ok(result
                            .map_err(GuestError::from)
                            .and_then(|r| convert::score(r, &scorer)))
                    })
                })
                .await?
        });
        result.map_err(|error| self.meta.guest_error(error))
    }
}
