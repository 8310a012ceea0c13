//! Which plugins a run can use: the built-ins, files given with `--plugin`,
//! and every `.wasm` in the directories of `PLINTH_PLUGIN_PATH`.
//!
//! Plugins are named by what they say they are (`info().name`), never by
//! their file name; a name or a path to a `.wasm` file selects one.

use std::path::{Path, PathBuf};

use crate::builtins::BUILTINS;
use crate::{Plugin, PluginError, PluginKind, PluginRuntime, PluginSource};

/// Plugin sources in lookup order: built-ins first, then explicit files, then
/// `PLINTH_PLUGIN_PATH`.
pub fn sources(extra: &[PathBuf]) -> Vec<Source> {
    let mut out: Vec<Source> = BUILTINS
        .iter()
        .map(|(name, bytes)| Source::Builtin(name, bytes))
        .collect();
    out.extend(extra.iter().cloned().map(Source::File));
    if let Some(path) = std::env::var_os("PLINTH_PLUGIN_PATH") {
        for dir in std::env::split_paths(&path) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                tracing::warn!(
                    "PLINTH_PLUGIN_PATH entry {} is not a readable directory",
                    dir.display()
                );
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
                .collect();
            files.sort();
            out.extend(files.into_iter().map(Source::File));
        }
    }
    out
}

/// Where a plugin comes from, before it is loaded.
#[derive(Debug, Clone)]
pub enum Source {
    Builtin(&'static str, &'static [u8]),
    File(PathBuf),
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Self::Builtin(name, _) => format!("builtin:{name}"),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// Loads it as the run gave its label (path) limits and grants.
    pub async fn load(&self, runtime: &PluginRuntime) -> Result<Plugin, PluginError> {
        self.load_as(runtime, &self.label()).await
    }

    /// Loads it as the plugin the run selects with `spec`.
    async fn load_as(&self, runtime: &PluginRuntime, spec: &str) -> Result<Plugin, PluginError> {
        let source = match self {
            Self::Builtin(name, bytes) => PluginSource::builtin(name, bytes),
            Self::File(path) => PluginSource::file(path)?,
        };
        runtime.load_as(&source, spec).await
    }
}

/// True when `spec` names a file rather than a plugin.
pub fn is_path(spec: &str) -> bool {
    spec.ends_with(".wasm") || spec.contains('/')
}

/// Finds the plugin of `kind` that `spec` names: a path to a `.wasm` file, or
/// the name a known plugin reports. Built-ins answer to their name without
/// being loaded first, so picking one costs one load. The plugin runs under
/// the limits and grants the run gave `spec`.
pub async fn find(
    runtime: &PluginRuntime,
    spec: &str,
    kind: PluginKind,
    extra: &[PathBuf],
) -> Result<Plugin, CatalogError> {
    if is_path(spec) {
        let path = Path::new(spec);
        if !path.is_file() {
            return Err(CatalogError::NoSuchFile(path.to_path_buf()));
        }
        let plugin = Source::File(path.to_path_buf())
            .load_as(runtime, spec)
            .await?;
        return Ok(check_kind(plugin, kind)?);
    }
    let all = sources(extra);
    if let Some(builtin) = all
        .iter()
        .find(|s| matches!(s, Source::Builtin(name, _) if *name == spec))
    {
        return Ok(check_kind(builtin.load_as(runtime, spec).await?, kind)?);
    }
    for source in all.iter().filter(|s| matches!(s, Source::File(_))) {
        match source.load_as(runtime, spec).await {
            Ok(plugin) if plugin.meta().name == spec && plugin.meta().kind == kind => {
                return Ok(plugin);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("skipping plugin {}: {e}", source.label()),
        }
    }
    Err(CatalogError::NotFound {
        name: spec.to_string(),
        kind,
    })
}

fn check_kind(plugin: Plugin, kind: PluginKind) -> Result<Plugin, PluginError> {
    if plugin.meta().kind == kind {
        Ok(plugin)
    } else {
        Err(PluginError::WrongKind {
            plugin: plugin.meta().source.clone(),
            found: plugin.meta().kind,
            expected: kind,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no plugin file at {0}")]
    NoSuchFile(PathBuf),
    #[error(
        "no {kind} plugin named `{name}` (see `plinth plugins list`; a path to a .wasm file also works)"
    )]
    NotFound { name: String, kind: PluginKind },
    #[error(transparent)]
    Plugin(#[from] PluginError),
}
