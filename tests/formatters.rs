//! Golden tests of the built-in formatters, through the `plinth format` CLI.
//!
//! Inputs are `tests/golden/<case>.canonical.jsonl`; the expected outputs next
//! to them were written by `tests/golden/make_expected.py`, which encodes the
//! format rules with Python's own `json.dumps` (the behaviour downstream tools
//! were written against). Every output must match byte for byte.
//!
//! To refresh the expected files after a deliberate rule change, edit
//! `make_expected.py` and run `python3 tests/golden/make_expected.py`. When a
//! comparison fails, the actual output is kept under `CARGO_TARGET_TMPDIR`
//! (printed with the failure) for a `diff` against the expected file.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Formats tested on every case: (expected-file tag, `--format`, `--options`).
const FORMATS: &[(&str, &str, Option<&str>)] = &[
    ("hermes", "hermes", None),
    (
        "hermes-batch_runner",
        "hermes",
        Some(r#"{"variant":"batch_runner"}"#),
    ),
    ("openai", "openai", None),
    ("mswea", "mswea", None),
    // Harbor's ATIF (goldens written by Harbor's own models: make_atif.py).
    ("atif", "atif", None),
];

/// Cases whose mini-swe-agent files (`--output-dir`) are checked against
/// `tests/golden/mswea-files/`.
const FILE_MODE_CASES: &[&str] = &["unicode"];

fn golden_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Registered from host/plinth/Cargo.toml (`path = "../../tests/formatters.rs"`), or
    // from a package at the workspace root.
    for candidate in [
        manifest.join("../../tests/golden"),
        manifest.join("tests/golden"),
    ] {
        if candidate.join("make_expected.py").is_file() {
            return candidate;
        }
    }
    panic!("tests/golden not found from {}", manifest.display());
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(golden_dir())
        .expect("reading tests/golden")
        .map(|entry| entry.expect("reading tests/golden").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let case = name.strip_suffix(".canonical.jsonl")?.to_string();
            Some((case, path))
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases in tests/golden");
    cases
}

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .env_remove("PLINTH_PLUGIN_PATH")
        .output()
        .expect("running plinth")
}

fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Where a failing comparison leaves the actual bytes.
fn keep_actual(name: &str, actual: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("formatters-actual");
    std::fs::create_dir_all(&dir).expect("creating the actual-output directory");
    let path = dir.join(name);
    std::fs::write(&path, actual).expect("writing the actual output");
    path
}

/// `None` when equal, else a readable account of the first difference: the
/// line, the character column, and the text around it on both sides.
fn difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    let mut report = String::new();
    let (e_lines, a_lines): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    if e_lines.len() != a_lines.len() {
        report.push_str(&format!(
            "expected {} line(s), got {}\n",
            e_lines.len().saturating_sub(1),
            a_lines.len().saturating_sub(1)
        ));
    }
    for (number, (e, a)) in e_lines.iter().zip(&a_lines).enumerate() {
        if e == a {
            continue;
        }
        let e_chars: Vec<char> = e.chars().collect();
        let a_chars: Vec<char> = a.chars().collect();
        let column = e_chars
            .iter()
            .zip(&a_chars)
            .take_while(|(x, y)| x == y)
            .count();
        let window = |chars: &[char]| -> String {
            let start = column.saturating_sub(60);
            let end = (column + 60).min(chars.len());
            // Control characters made visible; the rest as is, so JSON
            // stays readable.
            let text: String = chars[start.min(end)..end]
                .iter()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            format!(
                "{}{text}{}",
                if start > 0 { "…" } else { "" },
                if end < chars.len() { "…" } else { "" }
            )
        };
        report.push_str(&format!(
            "line {} differs at character {}:\n  expected: {}\n  actual:   {}\n",
            number + 1,
            column + 1,
            window(&e_chars),
            window(&a_chars)
        ));
        break;
    }
    if report.is_empty() {
        report.push_str("outputs differ (line endings or trailing data)\n");
    }
    Some(report)
}

#[test]
fn formatters_match_golden_files() {
    let golden = golden_dir();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (case, input) in cases() {
        for (tag, format, options) in FORMATS {
            let expected_path = golden.join(format!("{case}.{tag}.expected.jsonl"));
            let expected = std::fs::read(&expected_path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", expected_path.display()));
            let input = input.to_str().expect("UTF-8 path");
            let mut args = vec!["format", "--format", format, "--input", input];
            if let Some(options) = options {
                args.extend(["--options", options]);
            }
            let output = plinth(&args);
            checked += 1;
            if !output.status.success() {
                failures.push(format!(
                    "{case} / {tag}: `plinth {}` failed\n{}",
                    args.join(" "),
                    describe(&output)
                ));
                continue;
            }
            if let Some(diff) = difference(&expected, &output.stdout) {
                let kept = keep_actual(&format!("{case}.{tag}.actual.jsonl"), &output.stdout);
                failures.push(format!(
                    "{case} / {tag}: output differs from {}\n{diff}actual output kept in {}",
                    expected_path.display(),
                    kept.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} golden comparison(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn mswea_files_match_golden_files() {
    let golden = golden_dir();
    let expected_dir = golden.join("mswea-files");
    let out = tempfile::tempdir().expect("creating a temporary directory");
    for case in FILE_MODE_CASES {
        let input = golden.join(format!("{case}.canonical.jsonl"));
        let output = plinth(&[
            "format",
            "--format",
            "mswea",
            "--input",
            input.to_str().expect("UTF-8 path"),
            "--output-dir",
            out.path().to_str().expect("UTF-8 path"),
        ]);
        assert!(
            output.status.success(),
            "plinth format --output-dir failed for {case}\n{}",
            describe(&output)
        );
        assert!(
            output.stdout.is_empty(),
            "--output-dir wrote to stdout too:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }

    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| {
                entry
                    .expect("reading a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    let expected_names = names(&expected_dir);
    assert!(
        !expected_names.is_empty(),
        "no files in {}",
        expected_dir.display()
    );
    assert_eq!(
        names(out.path()),
        expected_names,
        "files written by --output-dir differ from {}",
        expected_dir.display()
    );
    let mut failures = Vec::new();
    for name in &expected_names {
        let expected = std::fs::read(expected_dir.join(name)).expect("reading an expected file");
        let actual = std::fs::read(out.path().join(name)).expect("reading a written file");
        if let Some(diff) = difference(&expected, &actual) {
            let kept = keep_actual(name, &actual);
            failures.push(format!(
                "{name}: differs from {}\n{diff}actual file kept in {}",
                expected_dir.join(name).display(),
                kept.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn missing_formatter_file_is_a_clear_error() {
    let golden = golden_dir();
    let input = golden.join("failed.canonical.jsonl");
    let missing = std::env::temp_dir().join("plinth-no-such-dir/no-such-formatter.wasm");
    let output = plinth(&[
        "format",
        "--format",
        missing.to_str().expect("UTF-8 path"),
        "--input",
        input.to_str().expect("UTF-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "succeeded with a missing formatter file"
    );
    assert!(
        stderr.contains(missing.to_str().unwrap()),
        "the error does not name the missing file:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "plinth panicked:\n{stderr}");
    assert!(output.stdout.is_empty(), "wrote output anyway");
}

#[test]
fn unknown_hermes_variant_is_invalid_input() {
    let golden = golden_dir();
    let input = golden.join("failed.canonical.jsonl");
    let output = plinth(&[
        "format",
        "--format",
        "hermes",
        "--options",
        r#"{"variant":"no_such_variant"}"#,
        "--input",
        input.to_str().expect("UTF-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "succeeded with an unknown variant"
    );
    assert!(
        stderr.contains("no_such_variant"),
        "the error does not name the variant:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "plinth panicked:\n{stderr}");
}
