//! Builds the built-in plugins for wasm32-wasip2 so the `plinth` binary embeds
//! them (`cargo install --path host/plinth` then gives one self-contained binary).

use std::path::PathBuf;

/// Cargo package name of each built-in, and the file name it is embedded as.
const BUILTINS: &[(&str, &str)] = &[
    ("plinth-plugin-terminal", "terminal.wasm"),
    ("plinth-plugin-editor", "editor.wasm"),
    ("plinth-plugin-hermes", "hermes.wasm"),
    ("plinth-plugin-mswea", "mswea.wasm"),
    ("plinth-plugin-openai", "openai.wasm"),
    ("plinth-plugin-atropos", "atropos.wasm"),
    ("plinth-plugin-atif", "atif.wasm"),
    ("plinth-plugin-pytest", "pytest.wasm"),
    // SWE-bench's log parsers, one component per log format (plugins/swebench).
    ("plinth-plugin-swebench-pytest", "swebench-pytest.wasm"),
    (
        "plinth-plugin-swebench-pytest-options",
        "swebench-pytest-options.wasm",
    ),
    (
        "plinth-plugin-swebench-pytest-v2",
        "swebench-pytest-v2.wasm",
    ),
    ("plinth-plugin-swebench-django", "swebench-django.wasm"),
    ("plinth-plugin-swebench-sympy", "swebench-sympy.wasm"),
    (
        "plinth-plugin-swebench-matplotlib",
        "swebench-matplotlib.wasm",
    ),
    ("plinth-plugin-swebench-seaborn", "swebench-seaborn.wasm"),
];

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .ancestors()
        .nth(2)
        .expect("the plugin crate lives at host/plugin in the workspace")
        .to_path_buf();
    let out = PathBuf::from(env("OUT_DIR"));
    for dir in ["plugins", "wit"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-changed=../../Cargo.lock");

    let packages: Vec<&str> = BUILTINS.iter().map(|(p, _)| *p).collect();
    let built = plinth_wasm_build::build(&workspace, &out.join("wasm-target"), &packages)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut list = String::from(
        "/// Each built-in's name and its component bytes.\npub const BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for (path, (_, file)) in built.iter().zip(BUILTINS) {
        std::fs::copy(path, out.join(file))
            .unwrap_or_else(|e| panic!("copying {} failed: {e}", path.display()));
        let name = file.trim_end_matches(".wasm");
        list.push_str(&format!(
            "    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))),\n"
        ));
    }
    list.push_str("];\n");
    std::fs::write(out.join("builtins.rs"), list).expect("writing the built-in list");
    vendor_sdk_sources(&workspace, &out);
}

/// The guest SDK crate's sources and those of the crate it needs, embedded
/// so that `plinth new --lang rust` writes a project that builds without a
/// plinth checkout (as Python and JavaScript projects do).
fn vendor_sdk_sources(workspace: &std::path::Path, out: &std::path::Path) {
    let mut list = String::from(
        "/// The guest SDK's sources, by their path in a scaffolded project.\n\
         pub(crate) const SDK_SOURCES: &[(&str, &str)] = &[\n",
    );
    for (krate, dir) in [
        ("plinth-sdk", "plugins/sdk/src"),
        ("plinth-pyjson", "plugins/pyjson/src"),
    ] {
        let root = workspace.join(dir);
        let mut files = Vec::new();
        collect_files(&root, &mut files);
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(&root)
                .expect("under its root")
                .to_string_lossy()
                .into_owned();
            list.push_str(&format!(
                "    (\"vendor/{krate}/src/{relative}\", include_str!({:?})),\n",
                file.display().to_string()
            ));
        }
    }
    list.push_str("];\n");
    std::fs::write(out.join("sdk_sources.rs"), list).expect("writing the SDK source list");
}

fn collect_files(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// A variable cargo always sets for build scripts.
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}
