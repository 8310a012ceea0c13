//! Paths handled as text: `.` and `..` resolved without touching a file
//! system, for paths that live elsewhere (inside a sandbox) or do not exist
//! yet.

use std::path::{Component, Path, PathBuf};

/// `path` with `.` and `..` resolved lexically (`..` at the root stays at
/// the root, as the kernel does).
pub(crate) fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` made absolute against `cwd` (an absolute `path` stays as it is),
/// with `.` and `..` resolved lexically.
pub(crate) fn absolute(cwd: &str, path: &str) -> PathBuf {
    normalise(&Path::new(cwd).join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_resolve_without_a_file_system() {
        assert_eq!(normalise(Path::new("/w/./a/../b")), Path::new("/w/b"));
        assert_eq!(normalise(Path::new("/../x")), Path::new("/x"));
    }
}
