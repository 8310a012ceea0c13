//! Builds guest crates of this workspace for `wasm32-wasip2`.
//!
//! The host's build script uses it to embed the built-in plugins, and the test
//! suite uses it to build its hostile guests. A nested `cargo` with its own
//! target directory is what wasmtime's `test-programs` do too: the outer
//! cargo's build lock is on a different directory, so the two never wait on
//! each other.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every plinth plugin is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (cargo package names) in release mode and returns the path
/// of each one's `.wasm` component, in the order given.
///
/// `workspace` is the directory of the top-level `Cargo.toml`; `target_dir` is
/// where the nested build keeps its artefacts (reused between builds).
pub fn build(
    workspace: &Path,
    target_dir: &Path,
    packages: &[&str],
) -> Result<Vec<PathBuf>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .arg("build")
        .arg("--release")
        .arg("--quiet")
        .arg("--target")
        .arg(TARGET)
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        cmd.arg("-p").arg(package);
    }
    // Flags and wrappers meant for the outer (native) build must not leak into
    // the wasm one: clippy's driver or native RUSTFLAGS would break or slow it.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build {packages:?}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building {packages:?} for {TARGET} failed ({status}); is the target installed? \
             run `rustup target add {TARGET}`"
        ));
    }
    let out = target_dir.join(TARGET).join("release");
    Ok(packages
        .iter()
        .map(|p| out.join(format!("{}.wasm", p.replace('-', "_"))))
        .collect())
}
