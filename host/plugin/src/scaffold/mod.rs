//! `plinth new`: a plugin project to start from, in Rust, Python or
//! JavaScript, that builds with one command (`./build.sh`) into `NAME.wasm`.
//!
//! The templates are embedded in the binary (`templates/`), and so are the
//! Python and JavaScript helper modules and the WIT of the current API: a
//! Python or JavaScript project is self-contained and builds anywhere its
//! toolchain is installed. So is a Rust project: the guest SDK crate
//! (`plugins/sdk`, and `plugins/pyjson` it needs) is written into its
//! `vendor/` with the WIT, unless `--sdk` names a checkout's SDK to use by
//! path.

use std::path::{Path, PathBuf};

/// The current plugin API, copied into Python and JavaScript projects.
const WIT: &str = include_str!("../../../../wit/0.2.0/plinth.wit");
const PYTHON_SDK: &str = include_str!("../../../../plugins/sdk-python/plinth_sdk.py");
const JS_SDK: &str = include_str!("../../../../plugins/sdk-js/plinth-sdk.js");
// The guest SDK's sources (`SDK_SOURCES`), embedded by build.rs.
include!(concat!(env!("OUT_DIR"), "/sdk_sources.rs"));

/// What the plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Tool,
    Scorer,
    Formatter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Scorer => "scorer",
            Kind::Formatter => "formatter",
        }
    }

    fn world(self) -> &'static str {
        match self {
            Kind::Tool => "tool-plugin",
            Kind::Scorer => "scorer-plugin",
            Kind::Formatter => "formatter-plugin",
        }
    }

    /// The README's example command using the built plugin.
    fn usage(self, name: &str) -> String {
        match self {
            Kind::Tool => format!("plinth run --tool {name}.wasm --task '...' --model ..."),
            Kind::Scorer => format!(
                "plinth run --scorer {name}.wasm --scorer-config '{{\"command\": \"make test\"}}' --task '...' --model ..."
            ),
            Kind::Formatter => format!("plinth format --format {name}.wasm --input run.jsonl"),
        }
    }
}

/// The language the plugin is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a plugin name: use lowercase letters, digits and dashes, starting with a letter"
    )]
    InvalidName(String),
    #[error("{0} exists and is not empty: choose another --dir")]
    NotEmpty(PathBuf),
    #[error(
        "the plinth guest SDK crate is not at {0}: --sdk takes the path of plugins/sdk in a plinth checkout"
    )]
    NoSdk(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A plugin project to write.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub kind: Kind,
    pub lang: Lang,
    pub name: String,
    /// The guest SDK crate a Rust project uses by path; `None`: the project
    /// gets its own copy (`vendor/`).
    pub sdk: Option<PathBuf>,
}

/// One file of a project.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectFile {
    /// Relative to the project directory.
    pub path: &'static str,
    pub contents: String,
    pub executable: bool,
}

impl Scaffold {
    /// The project's files, rendered.
    pub fn files(&self) -> Result<Vec<ProjectFile>, ScaffoldError> {
        check_name(&self.name)?;
        let (source_path, source) = self.source();
        let mut vars = vec![
            ("name", self.name.clone()),
            ("crate", self.name.replace('-', "_")),
            ("kind", self.kind.as_str().to_string()),
            ("world", self.kind.world().to_string()),
            ("usage", self.kind.usage(&self.name)),
        ];
        let file = |path, template: &str, vars: &[(&str, String)]| ProjectFile {
            path,
            contents: render(template, vars),
            executable: false,
        };
        let mut files = match self.lang {
            Lang::Rust => {
                let version = env!("CARGO_PKG_VERSION").to_string();
                vars.push(("plinth_version", version.clone()));
                let mut rust = match &self.sdk {
                    Some(sdk) => {
                        let sdk = sdk_dir(sdk)?;
                        let sdk = sdk.to_string_lossy();
                        vars.push((
                            "sdk_dependency",
                            format!("{{ path = {} }}", toml_string(&sdk)),
                        ));
                        vars.push((
                            "sdk_note",
                            format!("by path, at {sdk} (`plinth new --sdk`)."),
                        ));
                        Vec::new()
                    }
                    None => {
                        vars.push(("sdk_dependency", "{ path = \"vendor/plinth-sdk\" }".into()));
                        vars.push((
                            "sdk_note",
                            format!(
                                "in `vendor/`, as plinth {version} wrote it (`plinth new --sdk PATH` \
                                 uses a plinth checkout's `plugins/sdk` instead)."
                            ),
                        ));
                        vendored_sdk(&vars)
                    }
                };
                rust.extend([
                    file(
                        "Cargo.toml",
                        include_str!("templates/rust/Cargo.toml"),
                        &vars,
                    ),
                    file("README.md", include_str!("templates/rust/README.md"), &vars),
                    file(
                        ".gitignore",
                        include_str!("templates/rust/gitignore"),
                        &vars,
                    ),
                    file("build.sh", include_str!("templates/rust/build.sh"), &vars),
                ]);
                rust
            }
            Lang::Python => vec![
                file(
                    "README.md",
                    include_str!("templates/python/README.md"),
                    &vars,
                ),
                file(
                    ".gitignore",
                    include_str!("templates/python/gitignore"),
                    &vars,
                ),
                file("build.sh", include_str!("templates/python/build.sh"), &vars),
                file("plinth_sdk.py", PYTHON_SDK, &[]),
                file("wit/plinth.wit", WIT, &[]),
            ],
            Lang::Js => vec![
                file("README.md", include_str!("templates/js/README.md"), &vars),
                file(".gitignore", include_str!("templates/js/gitignore"), &vars),
                file("build.sh", include_str!("templates/js/build.sh"), &vars),
                file("plinth-sdk.js", JS_SDK, &[]),
                file("wit/plinth.wit", WIT, &[]),
            ],
        };
        files.push(file(source_path, source, &vars));
        for f in &mut files {
            f.executable = f.path == "build.sh";
        }
        Ok(files)
    }

    /// Writes the project into `dir` (created; it must be empty if it
    /// exists); the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
        let files = self.files()?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ScaffoldError::Io { path, source }
        };
        if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
            return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
        }
        let mut written = Vec::new();
        for f in files {
            let path = dir.join(f.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, f.contents).map_err(io(&path))?;
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(io(&path))?;
            }
            written.push(path);
        }
        Ok(written)
    }

    /// The plugin's source file and its template.
    fn source(&self) -> (&'static str, &'static str) {
        use {Kind::*, Lang::*};
        match (self.lang, self.kind) {
            (Rust, Tool) => ("src/lib.rs", include_str!("templates/rust/tool.rs")),
            (Rust, Scorer) => ("src/lib.rs", include_str!("templates/rust/scorer.rs")),
            (Rust, Formatter) => ("src/lib.rs", include_str!("templates/rust/formatter.rs")),
            (Python, Tool) => ("app.py", include_str!("templates/python/tool.py")),
            (Python, Scorer) => ("app.py", include_str!("templates/python/scorer.py")),
            (Python, Formatter) => ("app.py", include_str!("templates/python/formatter.py")),
            (Js, Tool) => ("plugin.js", include_str!("templates/js/tool.js")),
            (Js, Scorer) => ("plugin.js", include_str!("templates/js/scorer.js")),
            (Js, Formatter) => ("plugin.js", include_str!("templates/js/formatter.js")),
        }
    }
}

/// The guest SDK crate at `dir`, as an absolute path.
fn sdk_dir(dir: &Path) -> Result<PathBuf, ScaffoldError> {
    let found = dir.join("Cargo.toml").is_file();
    match std::path::absolute(dir) {
        Ok(dir) if found => Ok(plinth_record::paths::normalise(&dir)),
        _ => Err(ScaffoldError::NoSdk(dir.to_path_buf())),
    }
}

/// The guest SDK and the crate it needs, written into the project (with the
/// WIT its bindings are generated from, where its sources look for it).
fn vendored_sdk(vars: &[(&str, String)]) -> Vec<ProjectFile> {
    let file = |path: &'static str, contents: String| ProjectFile {
        path,
        contents,
        executable: false,
    };
    let mut files = vec![
        file(
            "vendor/plinth-sdk/Cargo.toml",
            render(include_str!("templates/rust/sdk-Cargo.toml"), vars),
        ),
        file(
            "vendor/plinth-pyjson/Cargo.toml",
            render(include_str!("templates/rust/pyjson-Cargo.toml"), vars),
        ),
        // `generate!({ path: "../../wit/0.2.0" })` from vendor/plinth-sdk.
        file("wit/0.2.0/plinth.wit", WIT.to_string()),
    ];
    files.extend(
        SDK_SOURCES
            .iter()
            .map(|(path, contents)| file(path, contents.to_string())),
    );
    files
}

/// Plugin names are what the host and `--tool`/`--scorer` call them by, and
/// a crate name: lowercase letters, digits and dashes.
fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(ScaffoldError::InvalidName(name.to_string()))
    }
}

/// `template` with each `{{key}}` replaced.
fn render(template: &str, vars: &[(&str, String)]) -> String {
    vars.iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaffold(kind: Kind, lang: Lang) -> Scaffold {
        Scaffold {
            kind,
            lang,
            name: "my-plugin".into(),
            sdk: None,
        }
    }

    #[test]
    fn every_template_renders_completely() {
        for kind in [Kind::Tool, Kind::Scorer, Kind::Formatter] {
            for lang in [Lang::Rust, Lang::Python, Lang::Js] {
                let files = scaffold(kind, lang).files().unwrap();
                // (Vendored sources are copies, not templates.)
                for f in files
                    .iter()
                    .filter(|f| !f.path.ends_with(".rs") || !f.path.starts_with("vendor/"))
                {
                    assert!(
                        !f.contents.contains("{{"),
                        "{kind:?} {lang:?} {}: {}",
                        f.path,
                        f.contents
                    );
                }
                let build = files.iter().find(|f| f.path == "build.sh").unwrap();
                assert!(build.executable);
                assert!(
                    build.contents.contains("my-plugin.wasm"),
                    "{}",
                    build.contents
                );
                let readme = files.iter().find(|f| f.path == "README.md").unwrap();
                assert!(
                    readme
                        .contents
                        .contains("plinth plugins inspect my-plugin.wasm")
                );
                assert!(readme.contents.contains(kind.world()));
            }
        }
    }

    #[test]
    fn a_rust_project_carries_the_sdk_or_names_a_checkouts() {
        let files = scaffold(Kind::Tool, Lang::Rust).files().unwrap();
        let contents = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("no {path}"))
                .contents
                .clone()
        };
        let manifest = contents("Cargo.toml");
        assert!(manifest.contains("name = \"my-plugin\""));
        assert!(
            manifest.contains("plinth-sdk = { path = \"vendor/plinth-sdk\" }"),
            "{manifest}"
        );
        assert_eq!(contents("wit/0.2.0/plinth.wit"), WIT);
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (krate, dir) in [
            ("plinth-sdk", "plugins/sdk"),
            ("plinth-pyjson", "plugins/pyjson"),
        ] {
            assert_eq!(
                contents(&format!("vendor/{krate}/src/lib.rs")),
                std::fs::read_to_string(workspace.join(dir).join("src/lib.rs")).unwrap()
            );
        }
        // The copies ask for the versions the workspace builds them with.
        let workspace_manifest = std::fs::read_to_string(workspace.join("Cargo.toml")).unwrap();
        let sdk_manifest = contents("vendor/plinth-sdk/Cargo.toml");
        for dependency in [
            "wit-bindgen = \"0.63\"",
            "serde = { version = \"1\", features = [\"derive\"] }",
            "serde_json = { version = \"1\", features = [\"preserve_order\"] }",
        ] {
            assert!(workspace_manifest.contains(dependency), "{dependency}");
            assert!(sdk_manifest.contains(dependency), "{dependency}");
        }

        let mut checkout = scaffold(Kind::Tool, Lang::Rust);
        checkout.sdk = Some(workspace.join("plugins/sdk"));
        let files = checkout.files().unwrap();
        let manifest = &files
            .iter()
            .find(|f| f.path == "Cargo.toml")
            .unwrap()
            .contents;
        let sdk = plinth_record::paths::normalise(
            &std::path::absolute(workspace.join("plugins/sdk")).unwrap(),
        );
        assert!(
            manifest.contains(&format!("plinth-sdk = {{ path = \"{}\" }}", sdk.display())),
            "{manifest}"
        );
        assert!(!files.iter().any(|f| f.path.starts_with("vendor/")));
        let mut missing = scaffold(Kind::Tool, Lang::Rust);
        missing.sdk = Some("/nowhere".into());
        assert!(matches!(missing.files(), Err(ScaffoldError::NoSdk(_))));
    }

    #[test]
    fn names_are_checked_and_directories_not_overwritten() {
        for bad in ["", "My", "1x", "a_b", "a-", "a b", "../x"] {
            let mut s = scaffold(Kind::Tool, Lang::Js);
            s.name = bad.into();
            assert!(
                matches!(s.files(), Err(ScaffoldError::InvalidName(_))),
                "{bad}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let written = scaffold(Kind::Scorer, Lang::Python)
            .write(dir.path())
            .unwrap();
        assert!(written.contains(&dir.path().join("wit/plinth.wit")));
        assert!(matches!(
            scaffold(Kind::Scorer, Lang::Python).write(dir.path()),
            Err(ScaffoldError::NotEmpty(_))
        ));
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
