//! Paths handled as text: `.` and `..` resolved without touching a file
//! system, for paths that live elsewhere (inside a sandbox) or do not exist
//! yet.

use std::path::{Component, Path, PathBuf};

/// `path` with `.` and `..` resolved lexically (`..` at the root stays at
/// the root, as the kernel does).
pub fn normalise(path: &Path) -> PathBuf {
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
pub fn absolute(cwd: &str, path: &str) -> PathBuf {
    normalise(&Path::new(cwd).join(path))
}

/// Where plinth keeps what it caches (compiled components, repositories):
/// `$PLINTH_CACHE_DIR`, else `$XDG_CACHE_HOME/plinth`, else `~/.cache/plinth`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PLINTH_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("plinth"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("plinth"))
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
