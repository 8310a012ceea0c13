//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different part

pub mod mock;
pub mod run;
pub mod session;
pub mod toolchains;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    // The tests are registered by the binary's package, host/plinth.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Path of a test guest component under `tests/guests/<name>`, built once per
/// test process.
pub fn guest(name: &str) -> PathBuf {
    const GUESTS: &[&str] = &[
        "plinth-guest-hostile",
        "plinth-guest-future-api",
        "plinth-guest-legacy-formatter",
        "plinth-guest-group-formatter",
        "plinth-guest-sandbox-scorer",
        "plinth-guest-hostile-tool",
    ];
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

/// A compiled-component cache private to the test build, so tests neither
/// depend on nor write to the user's `~/.cache/plinth`.
pub fn plugin_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache")
}

/// Compiles the built-in components into [`plugin_cache_dir`] once per test
/// process, so concurrent `plinth` runs load them instead of each compiling
/// them on a cold cache.
pub fn warm_plugin_cache() {
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        let output = run::plinth()
            .args(["plugins", "list"])
            .output()
            .expect("running plinth plugins list");
        assert!(
            output.status.success(),
            "plinth plugins list failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// Passes a test that cannot run without Docker (or an image it needs),
/// loudly, or fails it when PLINTH_REQUIRE_DOCKER=1. `setup` is the script
/// that prepares what is missing.
#[track_caller]
pub fn skip_without_docker(test: &str, problem: &str, setup: &str) {
    assert!(
        std::env::var("PLINTH_REQUIRE_DOCKER").as_deref() != Ok("1"),
        "PLINTH_REQUIRE_DOCKER=1 but {problem} (run {setup})"
    );
    eprintln!(
        "\n*** SKIPPED {test}: {problem}. {setup} prepares it; \
         PLINTH_REQUIRE_DOCKER=1 turns this skip into a failure. ***\n"
    );
}
