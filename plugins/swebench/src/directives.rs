//! Which tests the harness runs, and which files it resets: read from the test patch.

use crate::spec::harness;

/// `get_test_directives(instance)`: the files the test patch touches (the `b/` side of
/// each `diff --git` line, as `re.findall(r"diff --git a/.* b/(.*)", test_patch)` finds
/// them, anywhere in a line), minus the harness's non-test extensions; for Django, module
/// labels (`.py` dropped, the `tests/` prefix dropped, `/` -> `.`).
pub fn test_directives(repo: &str, test_patch: &str) -> Vec<String> {
    if repo == "swe-bench/humaneval" {
        return vec!["test.py".to_string()];
    }
    let exts = &harness().non_test_exts;
    let files = test_patch
        .split('\n')
        .filter_map(git_header_target)
        .filter(|d| !exts.iter().any(|ext| d.ends_with(ext.as_str())));
    if repo != "django/django" {
        return files.map(str::to_string).collect();
    }
    files
        .map(|d| {
            let d = d.strip_suffix(".py").unwrap_or(d);
            let d = d.strip_prefix("tests/").unwrap_or(d);
            d.replace('/', ".")
        })
        .collect()
}

/// The group of `diff --git a/.* b/(.*)` in one line: from the first `diff --git a/`, the
/// rest of the line after its last ` b/` (the greedy `.*` backs off to it).
fn git_header_target(line: &str) -> Option<&str> {
    const HEADER: &str = "diff --git a/";
    let at = line.find(HEADER)?;
    let rest = &line[at + HEADER.len()..];
    let b = rest.rfind(" b/")?;
    Some(&rest[b + " b/".len()..])
}

/// `get_modified_files(patch)` (unidiff's `PatchSet`) for git patches: each file's source
/// path without its `a/`, unless the file is new (`new file mode`). Deleted and renamed
/// files count by their old path, which `git checkout <base_commit>` restores.
pub fn modified_files(patch: &str) -> Vec<String> {
    let mut files: Vec<Option<String>> = Vec::new();
    for line in patch.split_inclusive('\n') {
        if let Some(source) = line
            .strip_prefix("diff --git ")
            .and_then(|rest| git_header_source(rest.trim_end_matches('\n')))
        {
            files.push(source.strip_prefix("a/").map(str::to_string));
        } else if is_new_file_mode(line)
            && let Some(last) = files.last_mut()
        {
            *last = None;
        }
    }
    files.into_iter().flatten().collect()
}

/// unidiff's `RE_DIFF_GIT_HEADER` source group, `"?a/[^\t\n]+"? "?b/[^\t\n]+"?`: the
/// greedy source ends at the last ` b/` (or ` "b/`) that leaves a target behind. Headers of
/// other shapes give a source without `a/`, which `get_modified_files` drops.
fn git_header_source(rest: &str) -> Option<&str> {
    let unquoted = rest.strip_prefix('"').unwrap_or(rest);
    if !unquoted.starts_with("a/") || rest.contains('\t') {
        return Some(rest);
    }
    let cut = [" b/", " \"b/"]
        .iter()
        .filter_map(|sep| {
            rest.rmatch_indices(sep)
                .find(|(i, _)| rest.len() > i + sep.len() && *i > 2)
                .map(|(i, _)| i)
        })
        .max()?;
    let source = &rest[..cut];
    Some(source.trim_matches('"'))
}

/// `^new file mode (?P<mode>\d+)$` on a line with its newline.
fn is_new_file_mode(line: &str) -> bool {
    line.strip_prefix("new file mode ")
        .map(|rest| rest.strip_suffix('\n').unwrap_or(rest))
        .is_some_and(|mode| !mode.is_empty() && mode.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str =
        "diff --git a/tests/auth_tests/test_validators.py b/tests/auth_tests/test_validators.py
index 1c2c6b4aff..5127bfecf5 100644
--- a/tests/auth_tests/test_validators.py
+++ b/tests/auth_tests/test_validators.py
@@ -1,1 +1,1 @@
-old
+new
diff --git a/tests/db_functions/math/test_sign.py b/tests/db_functions/math/test_sign.py
new file mode 100644
index 0000000000..0458932cee
--- /dev/null
+++ b/tests/db_functions/math/test_sign.py
@@ -0,0 +1,1 @@
+x
diff --git a/docs/releases/3.0.txt b/docs/releases/3.0.txt
--- a/docs/releases/3.0.txt
+++ b/docs/releases/3.0.txt
";

    #[test]
    fn django_directives_are_module_labels() {
        assert_eq!(
            test_directives("django/django", PATCH),
            ["auth_tests.test_validators", "db_functions.math.test_sign"]
        );
        assert_eq!(
            test_directives("sympy/sympy", PATCH),
            [
                "tests/auth_tests/test_validators.py",
                "tests/db_functions/math/test_sign.py"
            ]
        );
    }

    #[test]
    fn new_files_are_not_reset() {
        assert_eq!(
            modified_files(PATCH),
            [
                "tests/auth_tests/test_validators.py",
                "docs/releases/3.0.txt"
            ]
        );
    }
}
