//! Git patches split per file, so grading can drop the agent's changes to the
//! files that decide the grade and name them in the record.
//!
//! The patches are what `git diff --binary` writes (the run's `patch`) or a
//! SWE-bench `test_patch`: a `diff --git` header per file, then extended
//! headers (`rename from`, `new file mode`, ...), then hunks or a binary
//! patch. Paths with unusual bytes are C-quoted by git (`"a/sp\303\244ce"`).

/// One file's part of a patch: its text (header included) and the paths it
/// touches (both sides of a rename or copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileDiff<'a> {
    pub text: &'a str,
    pub paths: Vec<String>,
}

/// Splits `patch` into its files. Text before the first `diff --git` line
/// (a mail header, a description) belongs to no file and is dropped.
pub(crate) fn split(patch: &str) -> Vec<FileDiff<'_>> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in patch.split_inclusive('\n') {
        if line.starts_with("diff --git ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(patch.len());
            let text = &patch[start..end];
            FileDiff {
                text,
                paths: paths_of(text),
            }
        })
        .collect()
}

/// The paths one file's diff touches: from its extended headers and `---` /
/// `+++` lines, else (a mode change or binary patch has neither) from the
/// `diff --git` line itself.
fn paths_of(text: &str) -> Vec<String> {
    fn add(paths: &mut Vec<String>, path: String) {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let mut paths: Vec<String> = Vec::new();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    for line in lines {
        if line.starts_with("@@") || line.starts_with("GIT binary patch") {
            break;
        }
        let named = [
            ("rename from ", false),
            ("rename to ", false),
            ("copy from ", false),
            ("copy to ", false),
            ("--- ", true),
            ("+++ ", true),
        ]
        .iter()
        .find_map(|(prefix, prefixed)| line.strip_prefix(prefix).map(|rest| (rest, *prefixed)));
        if let Some((rest, prefixed)) = named {
            let path = unquote(rest.trim_end_matches('\t'));
            if path == "/dev/null" {
                continue;
            }
            let path = if prefixed {
                strip_side(&path).to_string()
            } else {
                path
            };
            add(&mut paths, path);
        }
    }
    if paths.is_empty() {
        for path in header_paths(header.strip_prefix("diff --git ").unwrap_or_default()) {
            add(&mut paths, path);
        }
    }
    paths
}

/// `a/x b/y` (either side possibly quoted) as `[x, y]`. Unquoted paths with
/// a space are ambiguous; git writes both sides the same when the file is
/// not renamed, so the split that gives equal halves is the right one.
fn header_paths(rest: &str) -> Vec<String> {
    if rest.starts_with('"') {
        let (first, tail) = split_quoted(rest);
        let second = tail.trim_start();
        let second = if second.starts_with('"') {
            unquote(second)
        } else {
            second.to_string()
        };
        return vec![
            strip_side(&first).to_string(),
            strip_side(&second).to_string(),
        ];
    }
    if let Some(at) = rest.find(" \"") {
        return vec![
            strip_side(&rest[..at]).to_string(),
            strip_side(&unquote(&rest[at + 1..])).to_string(),
        ];
    }
    let half = rest.len().saturating_sub(1) / 2;
    if rest.len() % 2 == 1
        && rest.is_char_boundary(half)
        && rest.as_bytes().get(half) == Some(&b' ')
        && strip_side(&rest[..half]) == strip_side(&rest[half + 1..])
    {
        return vec![strip_side(&rest[..half]).to_string()];
    }
    match rest.split_once(" b/") {
        Some((a, b)) => vec![strip_side(a).to_string(), b.to_string()],
        None => Vec::new(),
    }
}

/// A path without git's `a/` or `b/` side prefix.
fn strip_side(path: &str) -> &str {
    path.strip_prefix("a/")
        .or_else(|| path.strip_prefix("b/"))
        .unwrap_or(path)
}

/// A C-quoted string at the start of `text` (unquoted) and what follows it.
fn split_quoted(text: &str) -> (String, &str) {
    let bytes = text.as_bytes();
    let mut end = 1;
    while end < bytes.len() {
        match bytes[end] {
            b'\\' => end += 2,
            b'"' => break,
            _ => end += 1,
        }
    }
    let end = end.min(bytes.len().saturating_sub(1));
    (
        unquote(&text[..=end]),
        text.get(end + 1..).unwrap_or_default(),
    )
}

/// Git's C quoting undone (`"a\tb\303\244"` → the bytes it stands for);
/// text without quotes as is.
fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_string();
    };
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut bytes = inner.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'a') => out.push(7),
            Some(b'b') => out.push(8),
            Some(b'f') => out.push(12),
            Some(b'v') => out.push(11),
            Some(b'r') => out.push(b'\r'),
            Some(d @ b'0'..=b'7') => {
                let mut value = u32::from(d - b'0');
                for _ in 0..2 {
                    match bytes.peek() {
                        Some(&next @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(next - b'0');
                            bytes.next();
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
diff --git a/minicalc/stats.py b/minicalc/stats.py
index 1111111..2222222 100644
--- a/minicalc/stats.py
+++ b/minicalc/stats.py
@@ -1,2 +1,2 @@
-a
+b
diff --git a/conftest.py b/conftest.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/conftest.py
@@ -0,0 +1 @@
+import pytest
diff --git a/old name.py b/new name.py
similarity index 100%
rename from old name.py
rename to new name.py
diff --git \"a/t\\303\\244st.py\" \"b/t\\303\\244st.py\"
deleted file mode 100644
index 4444444..0000000
--- \"a/t\\303\\244st.py\"
+++ /dev/null
@@ -1 +0,0 @@
-x
diff --git a/run me.sh b/run me.sh
old mode 100644
new mode 100755
diff --git a/data.bin b/data.bin
new file mode 100644
index 0000000..5555555
GIT binary patch
literal 3
KcmZQzWMT{e

literal 0
HcmV?d00001

";

    #[test]
    fn splits_per_file_with_every_path() {
        let files = split(PATCH);
        let paths: Vec<Vec<&str>> = files
            .iter()
            .map(|f| f.paths.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            paths,
            vec![
                vec!["minicalc/stats.py"],
                vec!["conftest.py"],
                vec!["old name.py", "new name.py"],
                vec!["täst.py"],
                vec!["run me.sh"],
                vec!["data.bin"],
            ]
        );
        // The pieces put back together are the patch.
        let joined: String = files.iter().map(|f| f.text).collect();
        assert_eq!(joined, PATCH);
        assert!(files[5].text.contains("literal 0"));
    }

    #[test]
    fn text_before_the_first_file_is_not_a_file() {
        let files = split("From: someone\nSubject: fix\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].paths, ["x"]);
        assert!(split("").is_empty());
        assert!(split("not a patch at all\n").is_empty());
    }

    #[test]
    fn header_paths_when_nothing_else_names_them() {
        assert_eq!(header_paths("a/x b/x"), ["x"]);
        assert_eq!(header_paths("a/a b/c b/a b/c"), ["a b/c"]);
        assert_eq!(header_paths("\"a/q\\\"x\" \"b/q\\\"x\""), ["q\"x", "q\"x"]);
        assert_eq!(header_paths("a/x \"b/y\\tz\""), ["x", "y\tz"]);
    }
}
