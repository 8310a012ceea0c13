//! Reading and writing files through the Engine's archive API (tar), which
//! needs nothing in the image, unlike `cat` through an exec.

use std::io::Read;

use bollard::errors::Error as ApiError;
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;

use super::container::short;
use super::engines::Engine;
use super::error::{message, sandbox_error, status};
use crate::sandbox::SandboxError;

/// Symbolic links followed before giving up (a loop, most likely).
const MAX_LINKS: usize = 8;

/// `path` made absolute against `cwd`, with `.` and `..` resolved as text.
pub(super) fn resolve(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

pub(super) async fn read_file(
    engine: &Engine,
    container: &str,
    path: &str,
) -> Result<Vec<u8>, SandboxError> {
    let mut path = path.to_string();
    for _ in 0..=MAX_LINKS {
        match read_entry(engine, container, &path).await? {
            Entry::File(bytes) => return Ok(bytes),
            Entry::Link(target) => {
                let parent = path.rsplit_once('/').map_or("/", |(p, _)| p).to_string();
                path = resolve(if parent.is_empty() { "/" } else { &parent }, &target);
            }
        }
    }
    Err(SandboxError::Other(format!(
        "{path}: too many levels of symbolic links"
    )))
}

enum Entry {
    File(Vec<u8>),
    Link(String),
}

async fn read_entry(engine: &Engine, container: &str, path: &str) -> Result<Entry, SandboxError> {
    let options = DownloadFromContainerOptions {
        path: path.to_string(),
    };
    let mut stream = engine
        .docker()
        .download_from_container(container, Some(options));
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        archive.extend_from_slice(&chunk.map_err(|e| archive_error(container, path, e))?);
    }
    let mut entries = tar::Archive::new(archive.as_slice());
    let mut entries = entries
        .entries()
        .map_err(|e| SandboxError::Other(format!("{path}: bad archive from the engine: {e}")))?;
    let mut entry = match entries.next() {
        Some(Ok(entry)) => entry,
        Some(Err(e)) => {
            return Err(SandboxError::Other(format!(
                "{path}: bad archive from the engine: {e}"
            )));
        }
        None => return Err(SandboxError::NotFound(path.to_string())),
    };
    let kind = entry.header().entry_type();
    if kind.is_dir() {
        return Err(SandboxError::Other(format!("{path} is a directory")));
    }
    if kind.is_symlink() {
        let target = entry
            .link_name()
            .ok()
            .flatten()
            .ok_or_else(|| SandboxError::Other(format!("{path}: unreadable symbolic link")))?;
        return Ok(Entry::Link(target.to_string_lossy().into_owned()));
    }
    if !kind.is_file() {
        return Err(SandboxError::Other(format!("{path} is not a regular file")));
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| SandboxError::Other(format!("{path}: bad archive from the engine: {e}")))?;
    Ok(Entry::File(bytes))
}

/// Writes `contents` to the absolute `path`, creating missing directories.
/// The archive is unpacked in `base` (an existing directory above `path`):
/// the sandbox's working directory when `path` is inside it, since on a
/// read-only root that is the only writable place the engine will unpack to.
pub(super) async fn write_file(
    engine: &Engine,
    container: &str,
    base: &str,
    path: &str,
    contents: &[u8],
) -> Result<(), SandboxError> {
    let base = base.trim_end_matches('/');
    let (base, relative) = match path.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
        Some(relative) if !relative.is_empty() => {
            (if base.is_empty() { "/" } else { base }, relative)
        }
        _ => ("/", path.trim_start_matches('/')),
    };
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let mut builder = tar::Builder::new(Vec::with_capacity(contents.len() + 2048));
    builder
        .append_data(&mut header, relative, contents)
        .map_err(|e| SandboxError::Other(format!("{path}: cannot build the archive: {e}")))?;
    let archive = builder
        .into_inner()
        .map_err(|e| SandboxError::Other(format!("{path}: cannot build the archive: {e}")))?;
    let options = UploadToContainerOptions {
        path: base.to_string(),
        // Owned by the container's user, as if the command had written it.
        copy_uidgid: Some("1".into()),
        ..UploadToContainerOptions::default()
    };
    engine
        .docker()
        .upload_to_container(container, Some(options), bollard::body_full(archive.into()))
        .await
        .map_err(|e| archive_error(container, path, e))
}

fn archive_error(container: &str, path: &str, e: ApiError) -> SandboxError {
    let what = format!("container {}", short(container));
    match status(&e) {
        // Both a missing path and a missing container answer 404.
        Some(404) if message(&e).contains("No such container") => sandbox_error(&what, e),
        Some(404) => SandboxError::NotFound(path.to_string()),
        Some(_) => SandboxError::Other(format!("{path}: {}", message(&e))),
        None => sandbox_error(&what, e),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn paths_resolve_against_the_working_directory() {
        assert_eq!(resolve("/w", "a/b.txt"), "/w/a/b.txt");
        assert_eq!(resolve("/w", "/etc/x"), "/etc/x");
        assert_eq!(resolve("/w/s", "../t/./u"), "/w/t/u");
        assert_eq!(resolve("/", "../../x"), "/x");
    }
}
