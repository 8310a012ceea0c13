//! A content hash of a task's `environment/` directory: the key under which
//! its built image is cached, so a task is built once and again only when a
//! file of its build context changes.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plinth_record::digest::sha256_hex;

/// A file of the build context could not be read.
#[derive(Debug, thiserror::Error)]
#[error("hashing {}: {source}", .path.display())]
pub struct HashError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// The hex SHA-256 of the directory's contents: every entry's relative path
/// (sorted bytewise, `/`-separated), its kind, whether it is executable
/// (Docker's `COPY` keeps the mode), and its bytes (a symlink: its target).
/// Timestamps and owners are left out, so a fresh clone hashes the same.
///
/// It is the SHA-256 of a manifest with one line per entry,
/// `<kind> <mode> <sha256 of content> <path>\n`, where kind is `d`, `f` or
/// `l`, and mode is `755` for an executable file and `644` otherwise (`-` for
/// directories and links).
pub fn environment_hash(dir: &Path) -> Result<String, HashError> {
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries)?;
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut manifest = String::new();
    for (path, line) in entries {
        manifest.push_str(&line);
        manifest.push(' ');
        manifest.push_str(&path);
        manifest.push('\n');
    }
    Ok(sha256_hex(manifest.as_bytes()))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), HashError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HashError { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(err(dir))? {
        let path = entry.map_err(err(dir))?.path();
        let meta = std::fs::symlink_metadata(&path).map_err(err(&path))?;
        let rel = path
            .strip_prefix(root)
            .expect("walked paths are under the root")
            .to_string_lossy()
            .into_owned();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(err(&path))?;
            let hash = sha256_hex(target.to_string_lossy().as_bytes());
            out.push((rel, format!("l - {hash}")));
        } else if meta.is_dir() {
            out.push((rel, format!("d - {}", sha256_hex(b""))));
            walk(root, &path, out)?;
        } else {
            let bytes = std::fs::read(&path).map_err(err(&path))?;
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                "755"
            } else {
                "644"
            };
            out.push((rel, format!("f {mode} {}", sha256_hex(&bytes))));
        }
    }
    Ok(())
}
