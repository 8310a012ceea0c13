//! Which versions of the plugin API the host speaks, and what a component is:
//! its kind and API version, read from its imports and exports before it is
//! linked, so a mismatch is a clear error rather than a link failure.

use std::fmt;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::{PluginError, PluginKind};

/// The WIT package every plugin is built against.
pub const API_PACKAGE: &str = "plinth:plugin";

/// A version of [`API_PACKAGE`] the host has bindings for. Components built
/// against a semver-compatible version (same major; for 0.x the same minor)
/// use those bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// The exit status is a string; formatters say in their info whether they
    /// format whole groups.
    V0_1,
    /// The exit status is an enum; a per-group formatter exports
    /// `group-formatter`.
    V0_2,
}

impl ApiVersion {
    /// Every version this host loads plugins of, oldest first.
    pub(crate) const SUPPORTED: [Self; 2] = [Self::V0_1, Self::V0_2];
    /// The version new plugins should target.
    pub const LATEST: Self = Self::SUPPORTED[Self::SUPPORTED.len() - 1];

    /// The package version of the WIT the host's bindings were generated from.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
        }
    }

    /// The supported version a component built against `found` can use:
    /// same major version, and for 0.x the same minor (semver's rule for 0.x).
    pub fn matching(found: &str) -> Option<Self> {
        let (major, minor) = major_minor(found)?;
        Self::SUPPORTED.into_iter().find(|supported| {
            let (smajor, sminor) = major_minor(supported.as_str()).unwrap_or_default();
            major == smajor && (major != 0 || minor == sminor)
        })
    }

    /// The supported versions as the version error shows them.
    pub fn supported_list() -> String {
        Self::SUPPORTED
            .iter()
            .map(|v| format!("{API_PACKAGE}@{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// What a component is, from its imports and exports.
#[derive(Debug)]
pub(crate) struct ComponentShape {
    pub kind: PluginKind,
    pub api_version: ApiVersion,
    /// It exports `group-formatter` besides `formatter` (0.2 and later).
    pub group_formatter: bool,
    /// Every import and export name, for `plugins inspect`.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// The interface a 0.2 formatter exports to format whole groups.
const GROUP_FORMATTER: &str = "group-formatter";

/// Reads the component's imports and exports: which plugin kind it is, and
/// which supported `plinth:plugin` version it was built against.
pub fn inspect(
    engine: &Engine,
    component: &Component,
    label: &str,
) -> Result<ComponentShape, PluginError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let invalid = |reason: String| PluginError::InvalidComponent {
        plugin: label.to_string(),
        reason,
    };
    let prefix = format!("{API_PACKAGE}/");
    // (interface, version) of every plinth:plugin name it uses.
    let api_names = |names: &[String]| -> Vec<(String, String)> {
        names
            .iter()
            .filter_map(|name| name.strip_prefix(&prefix))
            .map(|rest| match rest.split_once('@') {
                Some((interface, version)) => (interface.to_string(), version.to_string()),
                None => (rest.to_string(), "unversioned".to_string()),
            })
            .collect()
    };
    let (api_imports, api_exports) = (api_names(&imports), api_names(&exports));

    let mut api_version = None;
    for (_, found) in api_imports.iter().chain(&api_exports) {
        let Some(version) = ApiVersion::matching(found) else {
            return Err(PluginError::IncompatibleApi {
                plugin: label.to_string(),
                found: format!("{API_PACKAGE}@{found}"),
                supported: ApiVersion::supported_list(),
            });
        };
        match api_version {
            None => api_version = Some(version),
            Some(first) if first != version => {
                return Err(invalid(format!(
                    "it mixes {API_PACKAGE}@{first} and @{version}; build it against one version"
                )));
            }
            Some(_) => {}
        }
    }

    let exports_interface = |interface: &str| api_exports.iter().any(|(i, _)| i == interface);
    let kinds: Vec<PluginKind> = [PluginKind::Tool, PluginKind::Scorer, PluginKind::Formatter]
        .into_iter()
        .filter(|kind| exports_interface(kind.interface()))
        .collect();
    let group_formatter = exports_interface(GROUP_FORMATTER);
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            return Err(invalid(format!(
                "it exports none of {API_PACKAGE}/tool, /scorer or /formatter (exports: {})",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            )));
        }
        _ => {
            return Err(invalid(
                "it exports more than one plugin interface; build one world per component".into(),
            ));
        }
    };
    if group_formatter && kind != PluginKind::Formatter {
        return Err(invalid(format!(
            "it exports {GROUP_FORMATTER} without formatter; a group formatter exports both"
        )));
    }
    // A plugin interface was exported, so a version was found.
    let api_version =
        api_version.ok_or_else(|| invalid("it uses no plinth:plugin version".into()))?;
    if group_formatter && api_version == ApiVersion::V0_1 {
        return Err(invalid(format!(
            "{API_PACKAGE}@{api_version} has no {GROUP_FORMATTER} interface; \
             a 0.1 formatter says `per-group` in its info"
        )));
    }
    Ok(ComponentShape {
        kind,
        api_version,
        group_formatter,
        imports,
        exports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_by_semver_for_0x() {
        assert_eq!(ApiVersion::matching("0.1.0"), Some(ApiVersion::V0_1));
        assert_eq!(ApiVersion::matching("0.1.7"), Some(ApiVersion::V0_1));
        assert_eq!(ApiVersion::matching("0.2.0"), Some(ApiVersion::V0_2));
        assert_eq!(ApiVersion::matching("0.3.0"), None);
        assert_eq!(ApiVersion::matching("1.0.0"), None);
        assert_eq!(ApiVersion::matching("unversioned"), None);
    }

    #[test]
    fn the_latest_version_is_the_newest_supported() {
        assert_eq!(ApiVersion::LATEST, ApiVersion::V0_2);
        assert!(ApiVersion::SUPPORTED.is_sorted());
        assert_eq!(
            ApiVersion::supported_list(),
            "plinth:plugin@0.1.0, plinth:plugin@0.2.0"
        );
    }
}
