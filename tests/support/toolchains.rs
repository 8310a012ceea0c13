//! Plugins built by the real Python and JavaScript toolchains
//! (componentize-py, componentize-js) through their one documented build
//! command, cached across test runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::{run::plinth, workspace};

/// A guest language and the toolchain command that builds its components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub fn toolchain(self) -> &'static str {
        match self {
            Lang::Rust => "cargo",
            Lang::Python => "componentize-py",
            Lang::Js => "componentize-js",
        }
    }

    /// The toolchain's version line, or `None` when it is not installed:
    /// then the caller skips, loudly, unless PLINTH_REQUIRE_GUEST_TOOLCHAINS=1
    /// (tests/run.sh sets it once it has installed both), which fails.
    #[track_caller]
    pub fn available(self, test: &str) -> Option<String> {
        let version = Command::new(self.toolchain())
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if version.is_none() {
            assert!(
                std::env::var("PLINTH_REQUIRE_GUEST_TOOLCHAINS").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_GUEST_TOOLCHAINS=1 but `{}` is not installed (tests/run.sh installs it)",
                self.toolchain()
            );
            eprintln!(
                "\n*** SKIPPED {test}: `{}` is not installed. tests/run.sh installs it; \
                 PLINTH_REQUIRE_GUEST_TOOLCHAINS=1 turns this skip into a failure. ***\n",
                self.toolchain()
            );
        }
        version
    }
}

/// Where built components are kept between test runs.
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-languages")
}

/// Hash of every file under `inputs` (files or directories; not built
/// `.wasm`, nor `target/`) by its path relative to that input, and of the
/// toolchain version: what a build's output depends on.
fn inputs_hash(inputs: &[&Path], version: &str) -> String {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let mut stack = vec![input.to_path_buf()];
        while let Some(path) = stack.pop() {
            let name = path.file_name().unwrap_or_default();
            if path.is_dir() && name != "target" {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
            } else if path.is_file() && path.extension().is_none_or(|e| e != "wasm") {
                let relative = path.strip_prefix(input).unwrap().to_string_lossy();
                files.push((format!("{i}/{relative}"), path));
            }
        }
    }
    files.sort();
    let mut hash = Sha256::new();
    hash.update(version);
    for (name, path) in files {
        hash.update(name.as_bytes());
        hash.update(std::fs::read(&path).unwrap());
    }
    hash.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..16]
        .to_string()
}

/// Runs `build` (a build command taking the output path as its last
/// argument) unless a component from the same inputs is cached; returns the
/// component. One build at a time: the machine's cores are few.
pub fn build_cached(name: &str, lang: Lang, version: &str, dir: &Path, build: &[&str]) -> PathBuf {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sdk = match lang {
        Lang::Rust => workspace().join("plugins/sdk/src"),
        Lang::Python => workspace().join("plugins/sdk-python/plinth_sdk.py"),
        Lang::Js => workspace().join("plugins/sdk-js/plinth-sdk.js"),
    };
    let wit = workspace().join("wit/0.2.0/plinth.wit");
    let key = inputs_hash(&[dir, &sdk, &wit], version);
    let out = cache().join(format!("{name}-{key}.wasm"));
    if out.is_file() {
        return out;
    }
    std::fs::create_dir_all(cache()).unwrap();
    let partial = out.with_extension("partial.wasm");
    let output = Command::new(build[0])
        .args(&build[1..])
        .arg(&partial)
        .current_dir(dir)
        // A Rust build: offline (the workspace's crates are in cargo's
        // cache), its dependencies compiled once for every test run.
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", cache().join("cargo-target"))
        .output()
        .unwrap_or_else(|e| panic!("running {build:?}: {e}"));
    assert!(
        output.status.success() && partial.is_file(),
        "{build:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// `plinth plugins inspect FILE`, asserting it loads; its output. The first
/// inspect of a component compiles it into the test plugin cache, so later
/// loads (runs, the runtime in tests) are quick.
#[track_caller]
pub fn inspect(file: &Path) -> String {
    let output = plinth()
        .args(["plugins", "inspect"])
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "plinth plugins inspect {} failed:\n{stdout}\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// An example plugin under `examples/plugins/<dir>`, built by its
/// `build.sh` and compiled into the plugin cache once per test process.
pub fn example(test: &str, dir: &str, lang: Lang) -> Option<PathBuf> {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let version = lang.available(test)?;
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(d, _)| d == dir) {
        return Some(path.clone());
    }
    let source = workspace().join("examples/plugins").join(dir);
    let path = build_cached(dir, lang, &version, &source, &["./build.sh"]);
    inspect(&path);
    built.push((dir.to_string(), path.clone()));
    Some(path)
}
