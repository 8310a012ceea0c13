//! The editor against a real temp directory, real bash and real git.

use std::path::PathBuf;
use std::process::Command as Process;

use super::*;

/// A sandbox whose workspace is a directory on this machine, like plinth's
/// local sandbox: commands run there, relative paths resolve against it,
/// `write_file` creates parent directories.
struct Local {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Local {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The workspace is a subdirectory, so that "outside" exists.
        let root = dir.path().canonicalize().unwrap().join("ws");
        std::fs::create_dir(&root).unwrap();
        Self { _dir: dir, root }
    }

    fn git() -> Self {
        let s = Self::new();
        s.sh(
            "git init -q . && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m base",
        );
        s
    }

    fn sh(&self, script: &str) -> String {
        let out = Process::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(&self.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn put(&self, name: &str, bytes: &[u8]) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn get(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    fn text(&self, name: &str) -> String {
        String::from_utf8(self.get(name)).unwrap()
    }

    /// Runs a call that must produce a result; returns its text.
    fn call(&self, arguments: Value) -> String {
        run(&arguments.to_string(), self).unwrap_or_else(|e| panic!("{arguments}: {e:?}"))
    }

    /// Runs a call the model must be told is impossible; returns the reason.
    fn refused(&self, arguments: Value) -> String {
        let text = self.call(arguments.clone());
        assert!(text.starts_with("Error: "), "{arguments}: {text}");
        text
    }

    fn invalid(&self, arguments: &str) -> String {
        match run(arguments, self) {
            Err(Failure::InvalidArguments(why)) => why,
            other => panic!("{arguments}: expected invalid arguments, got {other:?}"),
        }
    }
}

impl Sandbox for Local {
    fn exec(&self, command: &str) -> Result<Exec, String> {
        let out = Process::new("bash")
            .arg("-c")
            .arg(format!("{{ {command}\n}} 2>&1"))
            .current_dir(&self.root)
            .output()
            .map_err(|e| e.to_string())?;
        Ok(Exec {
            exit_code: out.status.code().unwrap_or(-1),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        })
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(path)).map_err(|e| format!("{path}: {e}"))
    }

    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String> {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn cwd(&self) -> String {
        self.root.display().to_string()
    }
}

fn view(path: &str) -> Value {
    json!({"command": "view", "path": path})
}

fn replace(path: &str, old: &str, new: &str) -> Value {
    json!({"command": "str_replace", "path": path, "old_str": old, "new_str": new})
}

fn insert_at(path: &str, line: u64, new: &str) -> Value {
    json!({"command": "insert", "path": path, "insert_line": line, "new_str": new})
}

fn undo_edit(path: &str) -> Value {
    json!({"command": "undo_edit", "path": path})
}

use serde_json::json;

// --------------------------------------------------------------------- view

#[test]
fn view_numbers_lines_and_keeps_tabs() {
    let s = Local::new();
    s.put("a.py", b"def f():\n\treturn 1\n\nx = f()\n");
    let text = s.call(view("a.py"));
    assert!(text.contains("     1\tdef f():\n"), "{text}");
    assert!(text.contains("     2\t\treturn 1\n"), "{text}");
    assert!(text.contains("     3\t\n     4\tx = f()\n"), "{text}");
    assert!(!text.contains("     5"), "{text}");
    // An absolute path inside the workspace is the same file.
    let abs = s.path("a.py").display().to_string();
    assert!(s.call(view(&abs)).contains("     2\t\treturn 1\n"));
}

#[test]
fn view_range() {
    let s = Local::new();
    let body: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    s.put("f.txt", body.as_bytes());
    let range = |a: i64, b: i64| json!({"command": "view", "path": "f.txt", "view_range": [a, b]});
    let text = s.call(range(3, 5));
    assert!(text.contains("     3\tline 3\n     4\tline 4\n     5\tline 5\n"));
    assert!(
        !text.contains("line 2\n") && !text.contains("line 6"),
        "{text}"
    );
    let text = s.call(range(9, -1));
    assert!(text.contains("     9\tline 9\n    10\tline 10\n"), "{text}");
    let text = s.call(range(9, 50));
    assert!(
        text.contains("has 10 lines") && text.contains("    10\tline 10"),
        "{text}"
    );
    assert!(s.refused(range(11, -1)).contains("has 10 lines"));
    assert!(s.invalid(&range(0, 3).to_string()).contains("line 1"));
    assert!(s.invalid(&range(5, 3).to_string()).contains("end"));
    let bad = json!({"command": "view", "path": "f.txt", "view_range": [1]});
    assert!(s.invalid(&bad.to_string()).contains("two integers"));
}

#[test]
fn view_a_directory_two_levels_deep_without_hidden_entries() {
    let s = Local::new();
    s.put("src/main.rs", b"");
    s.put("src/deep/er/x.rs", b"");
    s.put(".hidden/secret", b"");
    s.put("src/.cache", b"");
    s.put("README", b"");
    let text = s.call(view("."));
    assert!(
        text.contains("README\nsrc/\nsrc/deep/\nsrc/main.rs\n"),
        "{text}"
    );
    let entries = text.split_once("not shown):\n").unwrap().1;
    assert_eq!(entries, "README\nsrc/\nsrc/deep/\nsrc/main.rs\n");
    // A hidden directory can be listed when asked for by name.
    assert!(s.call(view(".hidden")).contains("secret"));
}

#[test]
fn view_caps_huge_output_with_a_way_to_see_the_rest() {
    let s = Local::new();
    let body: String = (1..=5000).map(|i| format!("line number {i}\n")).collect();
    s.put("big.txt", body.as_bytes());
    let text = s.call(view("big.txt"));
    assert!(text.len() < MAX_VIEW_BYTES + 500, "{}", text.len());
    assert!(text.contains("Output cut after line"), "{text}");
    assert!(text.contains("view_range, e.g. ["), "{text}");
    // A very long line is cut too.
    s.put("long.txt", format!("{}\n", "x".repeat(5000)).as_bytes());
    let text = s.call(view("long.txt"));
    assert!(text.contains("line cut: 4000 more characters"), "{text}");
}

#[test]
fn files_over_the_size_cap_are_viewed_by_range_and_not_edited() {
    let s = Local::new();
    let line = "0123456789".repeat(10);
    let body: String = (0..45_000).map(|i| format!("{i} {line}\n")).collect();
    assert!(body.len() as u64 > MAX_FILE_BYTES);
    s.put("huge.txt", body.as_bytes());
    let text = s.call(view("huge.txt"));
    assert!(text.contains("over the editor's limit"), "{}", &text[..300]);
    assert!(text.contains("     1\t0 0123"), "{}", &text[..300]);
    assert!(text.contains("of 45000"), "{}", &text[..300]);
    let text = s.call(json!({"command": "view", "path": "huge.txt", "view_range": [44999, -1]}));
    assert!(text.contains(" 44999\t44998 0123") && text.contains(" 45000\t44999 0123"));
    let why = s.refused(replace("huge.txt", "0 0123", "zero"));
    assert!(why.contains("over the editor's limit"), "{why}");
    assert!(
        s.refused(insert_at("huge.txt", 0, "x"))
            .contains("terminal")
    );
}

#[test]
fn non_utf8_files_are_viewed_lossily_and_never_edited() {
    let s = Local::new();
    s.put("latin1.txt", b"caf\xe9\nok\n");
    let text = s.call(view("latin1.txt"));
    assert!(
        text.contains("not valid UTF-8") && text.contains("offset 3"),
        "{text}"
    );
    assert!(text.contains("     1\tcaf\u{fffd}\n"), "{text}");
    let why = s.refused(replace("latin1.txt", "ok", "no"));
    assert!(why.contains("not valid UTF-8"), "{why}");
    s.refused(insert_at("latin1.txt", 0, "x"));
    assert_eq!(s.get("latin1.txt"), b"caf\xe9\nok\n");
}

#[test]
fn empty_files() {
    let s = Local::new();
    s.put("e.txt", b"");
    assert!(s.call(view("e.txt")).contains("is empty"));
    s.call(insert_at("e.txt", 0, "first"));
    assert_eq!(s.text("e.txt"), "first\n");
}

// ------------------------------------------------------------------- create

#[test]
fn create_makes_files_and_directories_but_never_overwrites() {
    let s = Local::new();
    let text =
        s.call(json!({"command": "create", "path": "pkg/sub/new.py", "file_text": "a\n\tb\n"}));
    assert!(
        text.contains("Created") && text.contains("parent directories"),
        "{text}"
    );
    assert_eq!(s.text("pkg/sub/new.py"), "a\n\tb\n");
    let why = s.refused(json!({"command": "create", "path": "pkg/sub/new.py", "file_text": "x"}));
    assert!(why.contains("already exists"), "{why}");
    assert_eq!(s.text("pkg/sub/new.py"), "a\n\tb\n");
    let why = s.refused(json!({"command": "create", "path": "pkg", "file_text": "x"}));
    assert!(why.contains("directory"), "{why}");
    assert!(
        s.invalid(r#"{"command": "create", "path": "x"}"#)
            .contains("file_text")
    );
    // Undoing a creation deletes the file.
    let text = s.call(undo_edit("pkg/sub/new.py"));
    assert!(text.contains("deleted"), "{text}");
    assert!(!s.path("pkg/sub/new.py").exists());
}

// -------------------------------------------------------------- str_replace

#[test]
fn str_replace_replaces_the_one_occurrence() {
    let s = Local::new();
    s.put("a.py", b"def f():\n\treturn 1\n\n\ndef g():\n\treturn 2\n");
    let text = s.call(replace("a.py", "\treturn 2", "\treturn 3"));
    assert!(
        text.contains("Edited") && text.contains("     6\t\treturn 3\n"),
        "{text}"
    );
    assert_eq!(
        s.text("a.py"),
        "def f():\n\treturn 1\n\n\ndef g():\n\treturn 3\n"
    );
    // new_str defaults to "": the text is deleted; the final newline stays.
    s.call(
        json!({"command": "str_replace", "path": "a.py", "old_str": "\n\ndef g():\n\treturn 3"}),
    );
    assert_eq!(s.text("a.py"), "def f():\n\treturn 1\n\n");
}

#[test]
fn str_replace_refuses_missing_and_ambiguous_old_str() {
    let s = Local::new();
    let body = "x = 1\ny = 2\nx = 1\nz = 3\nx = 1\n";
    s.put("a.py", body.as_bytes());
    let why = s.refused(replace("a.py", "x = 1", "x = 9"));
    assert!(
        why.contains("occurs 3 times") && why.contains("lines 1, 3, 5"),
        "{why}"
    );
    let why = s.refused(replace("a.py", "w = 0", "w = 1"));
    assert!(why.contains("does not occur"), "{why}");
    // Overlapping occurrences are ambiguous too.
    s.put("b.txt", b"aaa\n");
    assert!(
        s.refused(replace("b.txt", "aa", "b"))
            .contains("occurs 2 times")
    );
    let why = s.refused(replace("a.py", "y = 2", "y = 2"));
    assert!(why.contains("the same"), "{why}");
    assert_eq!(s.text("a.py"), body);
    // Spaces for tabs: a hint.
    s.put("t.py", b"if x:\n\tpass\n");
    assert!(
        s.refused(replace("t.py", "    pass", "  return"))
            .contains("tabs")
    );
    assert!(
        s.invalid(r#"{"command": "str_replace", "path": "a.py", "old_str": ""}"#)
            .contains("empty")
    );
    assert!(
        s.invalid(r#"{"command": "str_replace", "path": "a.py"}"#)
            .contains("old_str")
    );
}

#[test]
fn trailing_newline_is_kept_or_left_out_as_it_was() {
    let s = Local::new();
    s.put("no-eol.txt", b"a\nb");
    s.call(replace("no-eol.txt", "b", "c"));
    assert_eq!(s.text("no-eol.txt"), "a\nc");
    s.call(insert_at("no-eol.txt", 2, "d\n"));
    assert_eq!(s.text("no-eol.txt"), "a\nc\nd");
    s.put("eol.txt", b"a\nb\n");
    s.call(insert_at("eol.txt", 2, "c"));
    assert_eq!(s.text("eol.txt"), "a\nb\nc\n");
}

#[test]
fn crlf_files_keep_their_line_endings() {
    let s = Local::new();
    s.put("w.txt", b"one\r\ntwo\r\nthree\r\n");
    let text = s.call(view("w.txt"));
    assert!(
        text.contains("CRLF") && text.contains("     2\ttwo\n"),
        "{text}"
    );
    s.call(replace("w.txt", "one\ntwo", "uno\ndos\nextra"));
    assert_eq!(s.get("w.txt"), b"uno\r\ndos\r\nextra\r\nthree\r\n");
    s.call(insert_at("w.txt", 0, "top\nsecond"));
    assert_eq!(
        s.get("w.txt"),
        b"top\r\nsecond\r\nuno\r\ndos\r\nextra\r\nthree\r\n"
    );
    // A file mixing endings is edited byte for byte.
    s.put("mixed.txt", b"a\r\nb\nc\r\n");
    s.call(replace("mixed.txt", "b\nc", "B\nC"));
    assert_eq!(s.get("mixed.txt"), b"a\r\nB\nC\r\n");
}

// ------------------------------------------------------------------- insert

#[test]
fn insert_at_the_top_middle_and_end() {
    let s = Local::new();
    s.put("f.txt", b"1\n2\n3\n");
    s.call(insert_at("f.txt", 0, "0"));
    s.call(insert_at("f.txt", 2, "1.5\n1.7"));
    let text = s.call(insert_at("f.txt", 6, "4"));
    assert!(text.contains("     7\t4\n"), "{text}");
    assert_eq!(s.text("f.txt"), "0\n1\n1.5\n1.7\n2\n3\n4\n");
    let why = s.refused(insert_at("f.txt", 8, "x"));
    assert!(why.contains("has 7 lines"), "{why}");
    assert!(
        s.invalid(r#"{"command": "insert", "path": "f.txt", "insert_line": -1, "new_str": "x"}"#)
            .contains("insert_line")
    );
    assert!(
        s.invalid(r#"{"command": "insert", "path": "f.txt", "new_str": "x"}"#)
            .contains("insert_line")
    );
}

// -------------------------------------------------------------------- paths

#[test]
fn paths_outside_the_workspace_are_refused() {
    let s = Local::new();
    let outside = s.root.parent().unwrap().join("outside.txt");
    std::fs::write(&outside, "secret\n").unwrap();
    let abs = outside.display().to_string();
    for path in [
        abs.as_str(),
        "../outside.txt",
        "sub/../../outside.txt",
        "/etc/passwd",
    ] {
        let why = s.refused(view(path));
        assert!(why.contains("outside the workspace"), "{path}: {why}");
        s.refused(replace(path, "secret", "x"));
        s.refused(json!({"command": "create", "path": path, "file_text": "x"}));
    }
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret\n");
    // `..` that stays inside is fine.
    s.put("a/b.txt", b"b\n");
    assert!(s.call(view("a/../a/./b.txt")).contains("     1\tb"));
}

#[test]
fn symlinks_inside_are_followed_and_outside_refused() {
    let s = Local::new();
    let outside = s.root.parent().unwrap().join("target.txt");
    std::fs::write(&outside, "out\n").unwrap();
    std::os::unix::fs::symlink(&outside, s.path("escape.txt")).unwrap();
    std::os::unix::fs::symlink(s.root.parent().unwrap(), s.path("up")).unwrap();
    let why = s.refused(view("escape.txt"));
    assert!(
        why.contains("symbolic link") && why.contains("outside"),
        "{why}"
    );
    s.refused(replace("escape.txt", "out", "in"));
    s.refused(view("up/target.txt"));
    s.refused(json!({"command": "create", "path": "up/new.txt", "file_text": "x"}));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "out\n");
    assert!(!s.root.parent().unwrap().join("new.txt").exists());

    s.put("real.txt", b"hello\n");
    std::os::unix::fs::symlink("real.txt", s.path("link.txt")).unwrap();
    s.call(replace("link.txt", "hello", "bye"));
    assert_eq!(s.text("real.txt"), "bye\n");
    assert!(
        std::fs::symlink_metadata(s.path("link.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The history is the target's: undoing through either name reverts it.
    s.call(undo_edit("real.txt"));
    assert_eq!(s.text("real.txt"), "hello\n");
}

#[test]
fn missing_files_and_directories() {
    let s = Local::new();
    s.put("dir/x", b"");
    let why = s.refused(view("dir/nope.txt"));
    assert!(
        why.contains("does not exist") && why.contains("create"),
        "{why}"
    );
    let why = s.refused(replace("nodir/nope.txt", "a", "b"));
    assert!(why.contains("nor does its directory"), "{why}");
    s.refused(insert_at("nope.txt", 0, "x"));
    assert!(s.refused(replace("dir", "a", "b")).contains("directory"));
}

#[test]
fn file_modes_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let s = Local::new();
    s.put("run.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(s.path("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    s.call(replace("run.sh", "hi", "bye"));
    let mode = std::fs::metadata(s.path("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn a_write_the_sandbox_refuses_is_told_and_leaves_no_history() {
    use std::os::unix::fs::PermissionsExt;
    if s_is_root() {
        eprintln!("skipping: root ignores file permissions");
        return;
    }
    let s = Local::new();
    s.put("ro.txt", b"a\n");
    std::fs::set_permissions(s.path("ro.txt"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let why = s.refused(replace("ro.txt", "a", "b"));
    assert!(why.contains("could not write"), "{why}");
    assert!(s.refused(undo_edit("ro.txt")).contains("no edit"));
}

fn s_is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

// --------------------------------------------------------------------- undo

#[test]
fn undo_goes_back_several_levels() {
    let s = Local::git();
    s.put("f.txt", b"v0\n");
    s.call(replace("f.txt", "v0", "v1"));
    s.call(replace("f.txt", "v1", "v2"));
    s.call(insert_at("f.txt", 1, "more"));
    assert_eq!(s.text("f.txt"), "v2\nmore\n");
    assert!(s.call(undo_edit("f.txt")).contains("2 earlier edit(s)"));
    assert_eq!(s.text("f.txt"), "v2\n");
    s.call(undo_edit("f.txt"));
    assert_eq!(s.text("f.txt"), "v1\n");
    s.call(undo_edit("f.txt"));
    assert_eq!(s.text("f.txt"), "v0\n");
    let why = s.refused(undo_edit("f.txt"));
    assert!(
        why.contains("no edit of") && why.contains("to undo"),
        "{why}"
    );
    // Histories are per file.
    s.put("g.txt", b"g\n");
    s.call(replace("g.txt", "g", "h"));
    s.refused(undo_edit("f.txt"));
    s.call(undo_edit("g.txt"));
    assert_eq!(s.text("g.txt"), "g\n");
}

#[test]
fn undo_history_is_bounded() {
    let s = Local::new();
    s.put("f.txt", b"0\n");
    for i in 0..(MAX_UNDO_LEVELS + 5) {
        s.call(replace("f.txt", &format!("{i}\n"), &format!("{}\n", i + 1)));
    }
    for _ in 0..MAX_UNDO_LEVELS {
        s.call(undo_edit("f.txt"));
    }
    assert_eq!(s.text("f.txt"), "5\n");
    s.refused(undo_edit("f.txt"));
}

#[test]
fn history_lives_in_the_git_directory_and_stays_out_of_the_patch() {
    let s = Local::git();
    s.put("tracked.txt", b"a\n");
    s.sh("git add -A && git -c user.email=a@b -c user.name=a commit -q -m t");
    s.call(replace("tracked.txt", "a", "b"));
    s.call(json!({"command": "create", "path": "new/file.txt", "file_text": "n\n"}));
    assert!(s.path(".git/plinth-editor/undo/tracked.txt.undo").is_dir());
    assert!(!s.path(".plinth-editor").exists());
    let names = s.sh("git add -A && git diff --cached --name-only");
    assert_eq!(names, "new/file.txt\ntracked.txt\n");
    // The editor does not edit git's files nor its history.
    assert!(s.refused(replace(".git/HEAD", "ref", "x")).contains(".git"));
    s.call(undo_edit("tracked.txt"));
    s.call(undo_edit("new/file.txt"));
    let names = s.sh("git add -A && git diff --cached --name-only");
    assert_eq!(names, "");
}

#[test]
fn without_git_history_is_a_hidden_ignored_directory() {
    let s = Local::new();
    s.put("f.txt", b"a\n");
    s.call(replace("f.txt", "a", "b"));
    assert!(s.path(".plinth-editor/undo/f.txt.undo").is_dir());
    assert_eq!(
        std::fs::read_to_string(s.path(".plinth-editor/.gitignore")).unwrap(),
        "*\n"
    );
    // Hidden from listings, and a repository made later ignores it.
    assert!(!s.call(view(".")).contains("plinth-editor"));
    s.sh("git init -q . && git add -A");
    assert_eq!(s.sh("git diff --cached --name-only"), "f.txt\n");
    let why = s.refused(insert_at(".plinth-editor/undo/f.txt.undo/1", 0, "x"));
    assert!(why.contains("undo history"), "{why}");
    // The history stays where it is.
    s.call(replace("f.txt", "b", "c"));
    assert!(!s.path(".git/plinth-editor").exists());
    s.call(undo_edit("f.txt"));
    s.call(undo_edit("f.txt"));
    assert_eq!(s.text("f.txt"), "a\n");
}

// ---------------------------------------------------------------- arguments

#[test]
fn malformed_arguments_are_invalid_arguments() {
    let s = Local::new();
    assert!(s.invalid("view a.py").contains("not valid JSON"));
    assert!(s.invalid(r#"["view"]"#).contains("JSON object"));
    assert!(s.invalid(r#"{"path": "a"}"#).contains("command"));
    assert!(
        s.invalid(r#"{"command": "delete", "path": "a"}"#)
            .contains("unknown command")
    );
    assert!(s.invalid(r#"{"command": "view"}"#).contains("path"));
    assert!(
        s.invalid(r#"{"command": "view", "path": ""}"#)
            .contains("empty")
    );
    assert!(
        s.invalid(r#"{"command": "view", "path": 3}"#)
            .contains("string")
    );
    assert!(
        s.invalid(r#"{"command": "view", "path": "a\nb"}"#)
            .contains("line break")
    );
}

#[test]
fn lexical_paths() {
    assert_eq!(lexical_path("/ws", "a/./b/../c"), "/ws/a/c");
    assert_eq!(lexical_path("/ws", "../x"), "/x");
    assert_eq!(lexical_path("/ws", "/ws//y/"), "/ws/y");
    assert_eq!(lexical_path("/", "../.."), "/");
    assert!(inside("/ws", "/ws") && inside("/ws", "/ws/a") && !inside("/ws", "/wsx"));
    assert!(inside("/", "/etc"));
}
