//! On-disk cache of compiled components.
//!
//! Compiling the built-ins takes seconds on a small machine; loading their
//! compiled form takes milliseconds. Entries are keyed by the component's
//! content hash and the engine's compatibility hash (wasmtime version and
//! settings), so a stale or foreign entry is never loaded. Plugins cannot
//! write here: they have no filesystem at all.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::PluginError;

fn entry_path(dir: &Path, engine: &Engine, sha256: &str) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    let name = format!("{sha256}-{:016x}.cwasm", hasher.finish());
    dir.join("components").join(name)
}

/// Compiles `bytes` (whose [`sha256_hex`](plinth_record::digest::sha256_hex) is
/// `sha256`), or loads their compiled form from `dir`. A cache that cannot be
/// read or written is only a warning: compilation still works.
pub fn compile(
    engine: &Engine,
    dir: Option<&Path>,
    label: &str,
    bytes: &[u8],
    sha256: &str,
) -> Result<Component, PluginError> {
    let invalid = |e: wasmtime::Error| PluginError::InvalidComponent {
        plugin: label.to_string(),
        reason: format!("{e:#}"),
    };
    let Some(dir) = dir else {
        return Component::from_binary(engine, bytes).map_err(invalid);
    };
    let path = entry_path(dir, engine, sha256);
    if path.exists() {
        // SAFETY: the file is one we wrote with `precompile_component` for
        // this engine configuration (the name carries both hashes), in the
        // user's own cache directory.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!("ignoring unreadable cache entry {}: {e:#}", path.display()),
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(invalid)?;
    if let Err(e) = store(&path, &compiled) {
        tracing::warn!(
            "cannot cache the compiled {label} at {}: {e}",
            path.display()
        );
    }
    // SAFETY: `compiled` was produced just now by this engine.
    unsafe { Component::deserialize(engine, &compiled) }.map_err(invalid)
}

/// Writes through a temporary file and a rename, so concurrent plinth
/// processes never see a half-written entry.
fn store(path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), compiled)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
