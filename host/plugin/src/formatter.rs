//! Formatter plugins: turn canonical records (one trajectory, or a whole
//! group of rollouts) into the text of another format.

use wasmtime::component::InstancePre;

use super::bindings::{v0_1, v0_2};
use super::convert;
use super::state::StoreState;
use super::{ApiVersion, GuestError, PluginError, PluginInfo, PluginMeta, PluginRuntime};
use plinth_record::training;
use plinth_record::trajectory::Trajectory;

/// Formatter self-description, the same whatever API version the formatter
/// was built against.
#[derive(Debug, Clone)]
pub struct FormatterInfo {
    pub file_extension: String,
    pub one_record_per_line: bool,
    /// One record per group of rollouts (`format_group`), not per trajectory.
    /// A 0.1 formatter says so in its info; a 0.2 one exports
    /// `group-formatter`.
    pub per_group: bool,
}

/// A linked formatter component, by the API version it was built against
/// and, from 0.2 on, whether it formats whole groups.
#[derive(Clone)]
enum FormatterPre {
    V0_1(v0_1::formatter::FormatterPluginPre<StoreState>),
    V0_2(v0_2::formatter::FormatterPluginPre<StoreState>),
    V0_2Group(v0_2::group_formatter::GroupFormatterPluginPre<StoreState>),
}

impl FormatterPre {
    fn new(
        api: ApiVersion,
        group_formatter: bool,
        pre: InstancePre<StoreState>,
    ) -> wasmtime::Result<Self> {
        Ok(match (api, group_formatter) {
            (ApiVersion::V0_1, _) => Self::V0_1(v0_1::formatter::FormatterPluginPre::new(pre)?),
            (ApiVersion::V0_2, false) => Self::V0_2(v0_2::formatter::FormatterPluginPre::new(pre)?),
            (ApiVersion::V0_2, true) => {
                Self::V0_2Group(v0_2::group_formatter::GroupFormatterPluginPre::new(pre)?)
            }
        })
    }
}

#[derive(Clone)]
pub struct FormatterPlugin {
    runtime: PluginRuntime,
    pub meta: PluginMeta,
    pre: FormatterPre,
    pub info: FormatterInfo,
}

impl FormatterPlugin {
    /// Links a formatter component (`group_formatter`: it also exports
    /// `group-formatter`) and asks it to describe itself.
    pub(super) async fn load(
        runtime: PluginRuntime,
        mut meta: PluginMeta,
        group_formatter: bool,
        pre: InstancePre<StoreState>,
    ) -> Result<Self, PluginError> {
        let pre = FormatterPre::new(meta.api_version, group_formatter, pre)
            .map_err(|e| meta.link_error(e))?;
        let per_version = per_version!(pre.clone();
        FormatterPre::V0_1 => v0_1, FormatterPre::V0_2 => v0_2, FormatterPre::V0_2Group => v0_2;
        |pre, convert| {
            let info = runtime
                .call(&meta, None, move |store, _| {
                    Box::pin(async move {
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        plugin
                            .plinth_plugin_formatter()
                            .call_info(&mut *store)
                            .await
                    })
                })
                .await?;
            (PluginInfo::from(info.info.clone()), FormatterInfo::from(info))
        });
        let (about, info) = per_version;
        meta.describe(about);
        Ok(Self {
            runtime,
            meta,
            pre,
            info,
        })
    }

    /// Formats one trajectory. `options` is a JSON object; `jsonl` is set in it
    /// to say whether the text becomes one line of a JSONL file.
    pub async fn format(
        &self,
        trajectory: &Trajectory,
        options: &serde_json::Value,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        let training = training::for_formatters(&trajectory.messages);
        let options = guest_options(options, jsonl, training)?;
        let result = per_version!(self.pre.clone();
        FormatterPre::V0_1 => v0_1, FormatterPre::V0_2 => v0_2, FormatterPre::V0_2Group => v0_2;
        |pre, convert| {
            let trajectory = convert::trajectory(trajectory);
            self.runtime
                .call(&self.meta, None, move |store, _| {
                    Box::pin(async move {
                        let plugin = pre.instantiate_async(&mut *store).await?;
                        let result = plugin
                            .plinth_plugin_formatter()
                            .call_format(&mut *store, &trajectory, &options)
                            .await?;
                        Ok(result.map_err(GuestError::from))
                    })
                })
                .await?
        });
        self.checked(result, jsonl)
    }

    /// Formats a group of rollouts of one task as one record; only for
    /// formatters whose info says `per_group`.
    pub async fn format_group(
        &self,
        group: &[Trajectory],
        options: &serde_json::Value,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        let training: Vec<Option<serde_json::Value>> = group
            .iter()
            .map(|t| training::for_formatters(&t.messages))
            .collect();
        let training = training.iter().any(Option::is_some).then(|| {
            training
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect()
        });
        let options = guest_options(options, jsonl, training)?;
        let result = match self.pre.clone() {
            FormatterPre::V0_1(pre) if self.info.per_group => {
                let group: Vec<_> = group.iter().map(convert::v0_1::trajectory).collect();
                self.runtime
                    .call(&self.meta, None, move |store, _| {
                        Box::pin(async move {
                            let plugin = pre.instantiate_async(&mut *store).await?;
                            let result = plugin
                                .plinth_plugin_formatter()
                                .call_format_group(&mut *store, &group, &options)
                                .await?;
                            Ok(result.map_err(GuestError::from))
                        })
                    })
                    .await?
            }
            FormatterPre::V0_2Group(pre) => {
                let group: Vec<_> = group.iter().map(convert::v0_2::trajectory).collect();
                self.runtime
                    .call(&self.meta, None, move |store, _| {
                        Box::pin(async move {
                            let plugin = pre.instantiate_async(&mut *store).await?;
                            let result = plugin
                                .plinth_plugin_group_formatter()
                                .call_format_group(&mut *store, &group, &options)
                                .await?;
                            Ok(result.map_err(GuestError::from))
                        })
                    })
                    .await?
            }
            FormatterPre::V0_1(_) | FormatterPre::V0_2(_) => {
                return Err(PluginError::NotPerGroup {
                    plugin: self.meta.name.clone(),
                });
            }
        };
        self.checked(result, jsonl)
    }

    /// The formatter's text, refused when it is over the size cap, or, for
    /// JSONL, not one line of valid JSON: nothing half-written reaches the
    /// output.
    fn checked(
        &self,
        result: Result<String, GuestError>,
        jsonl: bool,
    ) -> Result<String, PluginError> {
        let text = result.map_err(|error| self.meta.guest_error(error))?;
        let refuse = |why: String| Err(self.meta.guest_error(GuestError::Failed(why)));
        if text.len() > MAX_RECORD_BYTES {
            return refuse(format!(
                "it returned a record of {} bytes, over the {MAX_RECORD_BYTES}-byte cap",
                text.len()
            ));
        }
        if jsonl {
            if text.contains('\n') {
                return refuse("it returned several lines for one JSONL record".into());
            }
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                return refuse(format!(
                    "it returned a JSONL record that is not JSON ({e}): {:?}",
                    &text[..text.floor_char_boundary(80)]
                ));
            }
        }
        Ok(text)
    }
}

/// Most bytes of one formatted record (or group record).
const MAX_RECORD_BYTES: usize = 64 << 20;

/// The options object the guest receives, with `jsonl` set, and `training`
/// when the records carry token ids: for `format` the trajectory's training
/// data ([`training::for_formatters`]), for `format-group` a list of them,
/// `null` for a rollout without.
fn guest_options(
    options: &serde_json::Value,
    jsonl: bool,
    training: Option<serde_json::Value>,
) -> Result<String, PluginError> {
    let mut options = match options {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            return Err(PluginError::Runtime(format!(
                "formatter options must be a JSON object, got {other}"
            )));
        }
    };
    options.insert("jsonl".into(), jsonl.into());
    if let Some(training) = training {
        options.insert("training".into(), training);
    }
    Ok(serde_json::Value::Object(options).to_string())
}
