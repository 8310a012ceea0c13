//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Path of a test guest component under `tests/guests/<name>`, built once per
/// test process.
pub fn guest(name: &str) -> PathBuf {
    const GUESTS: &[&str] = &["plinth-guest-hostile", "plinth-guest-future-api"];
    static BUILT: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guests");
        plinth_wasm_build::build(&workspace(), &target, GUESTS).expect("building test guests")
    });
    let package = format!("plinth-guest-{name}");
    let index = GUESTS
        .iter()
        .position(|g| *g == package)
        .expect("a known guest");
    built[index].clone()
}

/// The `plinth` binary under test.
pub fn plinth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_plinth")
}
