//! Environment bundles end to end: the example bundle checks, inspects and
//! runs; broken manifests are reported by file and field; records name the
//! environment and the exact plugin bytes.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

mod support;

use std::path::Path;

use plinth_plugin::builtins::BUILTINS;
use plinth_record::digest::sha256_hex;
use serde_json::Value;
use support::run::{Outcome, plinth, read_jsonl};

fn run_in_workspace(args: &[&str]) -> Outcome {
    Outcome::from(
        plinth()
            .current_dir(support::workspace())
            .args(args)
            .output()
            .unwrap(),
    )
}

fn run(args: &[&str]) -> Outcome {
    Outcome::from(plinth().args(args).output().unwrap())
}

/// Files of a test bundle: path in the bundle, bytes.
type Files<'a> = &'a [(&'a str, &'a [u8])];

const HEAD: &str =
    "manifest_version = 1\n[environment]\nname = \"t\"\nversion = \"0.0.1\"\napi = \"0.2.0\"\n";

/// A bundle in a temp dir: `manifest` after [`HEAD`], and `files` beside it.
fn bundle(manifest: &str, files: Files) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plinth-env.toml"),
        format!("{HEAD}{manifest}"),
    )
    .unwrap();
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

fn check(dir: &Path) -> Outcome {
    run(&["env", "check", dir.to_str().unwrap()])
}

#[test]
fn the_example_bundle_checks_inspects_and_runs() {
    support::warm_plugin_cache();
    let checked = run_in_workspace(&["env", "check", "examples"]);
    checked.assert_success();
    assert!(
        checked.stdout.contains("all 7 checks passed"),
        "{}",
        checked.stdout
    );
    assert!(
        checked.stdout.contains("ok    scorers[0].plugin: pytest"),
        "{}",
        checked.stdout
    );

    let inspected = run_in_workspace(&["env", "inspect", "examples"]);
    inspected.assert_success();
    let settings: Value = serde_json::from_str(&inspected.stdout).unwrap();
    assert_eq!(settings["environment"]["name"], "minicalc");
    assert_eq!(settings["limits"]["steps"], 15);
    let terminal = BUILTINS.iter().find(|(n, _)| *n == "terminal").unwrap().1;
    assert_eq!(
        settings["plugins"]["builtin:terminal"],
        sha256_hex(terminal)
    );

    // A run of the bundle; a flag overrides the manifest's step limit.
    let out = tempfile::tempdir().unwrap();
    let records = out.path().join("out.jsonl");
    let repos = out.path().join("repos");
    run_in_workspace(&[
        "run",
        "--environment",
        "examples",
        "--model",
        "replay:examples/trajectories.jsonl",
        "--max-iterations",
        "9",
        "--concurrency",
        "3",
        "--output-file",
        records.to_str().unwrap(),
        "--repo-cache",
        repos.to_str().unwrap(),
    ])
    .assert_success();
    let records = read_jsonl(&records);
    assert_eq!(records.len(), 3);
    for record in &records {
        assert_eq!(record["exit_status"], "Submitted", "{record}");
        assert_eq!(record["score"]["reward"], 1.0, "{}", record["score"]);
        let settings = &record["settings"];
        assert_eq!(settings["environment"]["name"], "minicalc");
        assert_eq!(settings["environment"]["version"], "0.1.0");
        assert_eq!(
            settings["environment"]["manifest_sha256"],
            sha256_hex(
                &std::fs::read(support::workspace().join("examples/plinth-env.toml")).unwrap()
            )
        );
        assert_eq!(settings["limits"]["steps"], 9, "the flag wins");
        assert_eq!(
            settings["plugins"]["builtin:terminal"],
            sha256_hex(terminal)
        );
        assert!(settings["plugins"]["builtin:pytest"].is_string());
        let system =
            std::fs::read_to_string(support::workspace().join("examples/templates/system.j2"))
                .unwrap();
        assert_eq!(
            settings["templates"]["system"],
            sha256_hex(system.as_bytes())
        );
        assert_eq!(record["grading"]["grade_in"], "clean");
    }
}

#[test]
fn manifest_errors_name_the_file_and_the_field() {
    support::warm_plugin_cache();
    // Not the schema: plinth run and env check both say where.
    let dir = bundle("[agent]\nmax_steps = 3\n", &[]);
    let manifest = dir.path().join("plinth-env.toml");
    for outcome in [
        check(dir.path()),
        run(&[
            "run",
            "--task",
            "x",
            "--environment",
            dir.path().to_str().unwrap(),
        ]),
    ] {
        assert_ne!(outcome.code, Some(0));
        assert!(
            outcome.stderr.contains(manifest.to_str().unwrap()),
            "{}",
            outcome.describe()
        );
        assert!(
            outcome.stderr.contains("max_steps"),
            "{}",
            outcome.describe()
        );
    }

    let scorer = std::fs::read(support::guest("sandbox-scorer")).unwrap();
    let legacy = std::fs::read(support::guest("legacy-formatter")).unwrap();
    // (manifest, files beside it, the field that fails, words its finding has)
    let cases: [(&str, Files, &str, &str); 5] = [
        (
            "[tools]\nplugins = [\"tools/missing.wasm\"]\n",
            &[],
            "tools.plugins[0]",
            "no plugin file",
        ),
        (
            "[tools]\nplugins = [\"tools/s.wasm\"]\n",
            &[("tools/s.wasm", &scorer)],
            "tools.plugins[0]",
            "scorer",
        ),
        (
            "[output]\nformat = \"fmt/legacy.wasm\"\n",
            &[("fmt/legacy.wasm", &legacy)],
            "output.format",
            "built against plinth:plugin@0.1.0",
        ),
        (
            "[templates]\nsystem = \"bad.j2\"\n",
            &[("bad.j2", b"{{ task }")],
            "templates",
            "system template",
        ),
        (
            "[templates]\ninstance = \"gone.j2\"\n",
            &[],
            "templates.instance",
            "cannot read",
        ),
    ];
    for (manifest, files, field, words) in cases {
        let dir = bundle(manifest, files);
        let outcome = check(dir.path());
        assert_eq!(outcome.code, Some(1), "{}", outcome.describe());
        let line = outcome
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("FAIL  {field}:")))
            .unwrap_or_else(|| panic!("no FAIL line for {field}:\n{}", outcome.stdout));
        assert!(line.contains(words), "{field}: {line}");
    }
    // The API version itself.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plinth-env.toml"),
        HEAD.replace("0.2.0", "7.0.0"),
    )
    .unwrap();
    let outcome = check(dir.path());
    assert!(
        outcome.stdout.contains("FAIL  environment.api"),
        "{}",
        outcome.stdout
    );
}

/// The record names the plugin's bytes: other bytes at the same path give
/// another hash.
#[test]
fn recorded_plugin_hashes_change_with_the_plugin_bytes() {
    support::warm_plugin_cache();
    let hostile = std::fs::read(support::guest("hostile-tool")).unwrap();
    let terminal = BUILTINS.iter().find(|(n, _)| *n == "terminal").unwrap().1;
    let dir = bundle(
        "[tools]\nterminal = false\nplugins = [\"tools/t.wasm\"]\n",
        &[],
    );
    let tool = dir.path().join("tools/t.wasm");
    std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
    let mut hashes = Vec::new();
    for bytes in [&hostile[..], terminal] {
        std::fs::write(&tool, bytes).unwrap();
        let outcome = run(&["env", "inspect", dir.path().to_str().unwrap()]);
        outcome.assert_success();
        let settings: Value = serde_json::from_str(&outcome.stdout).unwrap();
        let hash = settings["plugins"][tool.to_str().unwrap()].clone();
        assert_eq!(hash, sha256_hex(bytes), "{}", settings["plugins"]);
        hashes.push(hash);
    }
    assert_ne!(hashes[0], hashes[1]);
}

/// A real OCI registry (`docker-registry`, Debian's build of distribution) on
/// a free port, anonymous over plain HTTP; killed on drop. `None` after a
/// loud skip without the binary, unless `PLINTH_REQUIRE_REGISTRY=1`.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(test: &str) -> Option<Self> {
        let bin = std::env::var_os("PLINTH_REGISTRY_BIN").map(std::path::PathBuf::from);
        let Some(bin) = bin.filter(|b| b.is_file()) else {
            assert!(
                std::env::var("PLINTH_REQUIRE_REGISTRY").as_deref() != Ok("1"),
                "{test}: PLINTH_REQUIRE_REGISTRY=1 but PLINTH_REGISTRY_BIN is not a file"
            );
            eprintln!("SKIPPED {test}: no docker-registry (tests/registry-setup.sh installs it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(Self {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_bundle_travels_through_an_oci_registry_pinned_by_digest() {
    let Some(registry) = Registry::start("a_bundle_travels_through_an_oci_registry") else {
        return;
    };
    support::warm_plugin_cache();
    let cache = tempfile::tempdir().unwrap();
    let in_workspace = |args: &[&str]| {
        Outcome::from(
            plinth()
                .current_dir(support::workspace())
                .env("PLINTH_CACHE_DIR", cache.path())
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let reference = format!("127.0.0.1:{}/plinth/minicalc:0.1.0", registry.port);

    let pushed = in_workspace(&["env", "push", "examples", &reference, "--insecure"]);
    pushed.assert_success();
    let pin = pushed.stdout.lines().last().unwrap().to_string();
    let digest = pin.rsplit_once('@').unwrap().1.to_string();
    assert!(digest.starts_with("sha256:"), "{}", pushed.stdout);

    // A tag that is not there: an error naming the reference, nothing run.
    let missing = in_workspace(&[
        "env",
        "check",
        &format!("oci://127.0.0.1:{}/plinth/minicalc:9.9", registry.port),
    ]);
    assert_ne!(missing.code, Some(0));
    assert!(
        missing.stderr.contains("minicalc:9.9"),
        "{}",
        missing.stderr
    );

    // A run of the pulled bundle: the records pin it by digest.
    let out = tempfile::tempdir().unwrap();
    let records = out.path().join("out.jsonl");
    let repos = out.path().join("repos");
    in_workspace(&[
        "run",
        "--environment",
        &format!("oci://{reference}"),
        "--model",
        "replay:examples/trajectories.jsonl",
        "--concurrency",
        "3",
        "--output-file",
        records.to_str().unwrap(),
        "--repo-cache",
        repos.to_str().unwrap(),
    ])
    .assert_success();
    let records = read_jsonl(&records);
    assert_eq!(records.len(), 3);
    let manifest = std::fs::read(support::workspace().join("examples/plinth-env.toml")).unwrap();
    for record in &records {
        assert_eq!(record["score"]["reward"], 1.0, "{}", record["score"]);
        let environment = &record["settings"]["environment"];
        assert_eq!(environment["manifest_sha256"], sha256_hex(&manifest));
        assert_eq!(environment["oci"]["digest"], digest.as_str());
        assert_eq!(environment["oci"]["repository"], "plinth/minicalc");
        assert_eq!(
            environment["oci"]["registry"],
            format!("127.0.0.1:{}", registry.port)
        );
    }

    // Pulled by digest: the same bytes, from the cache.
    let pulled = in_workspace(&["env", "pull", &pin, "--insecure"]);
    pulled.assert_success();
    let dir = pulled.stdout.lines().last().unwrap();
    assert_eq!(
        std::fs::read(Path::new(dir).join("plinth-env.toml")).unwrap(),
        manifest
    );
}
