//! Reading and writing files, and unpacking archives, through the Engine's
//! archive API (tar), which needs nothing in the image, unlike `cat` or `tar`
//! through an exec.

use std::io::Read;

use bollard::errors::Error as ApiError;
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use futures_util::StreamExt;

use super::container::short;
use super::engines::Engine;
use super::error::{message, sandbox_error, status};
use crate::SandboxError;

/// Symbolic links followed before giving up (a loop, most likely).
const MAX_LINKS: usize = 8;

/// `path` made absolute against `cwd`, with `.` and `..` resolved as text.
pub(super) fn resolve(cwd: &str, path: &str) -> String {
    plinth_record::paths::absolute(cwd, path)
        .to_string_lossy()
        .into_owned()
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
    header.set_mtime(now());
    let mut builder = tar::Builder::new(Vec::with_capacity(contents.len() + 2048));
    builder
        .append_data(&mut header, relative, contents)
        .map_err(|e| SandboxError::Other(format!("{path}: cannot build the archive: {e}")))?;
    let archive = builder
        .into_inner()
        .map_err(|e| SandboxError::Other(format!("{path}: cannot build the archive: {e}")))?;
    upload(engine, container, base, archive, path).await
}

/// Unpacks the tar archive `tar` into the absolute directory `dir`, creating
/// it and any missing parents first, as `mkdir -p` would.
///
/// The Engine unpacks an upload only into a directory that exists. The
/// missing directories are made by a first upload, of a tar holding only
/// them, into the nearest ancestor that exists (found with the archive API's
/// stat); the caller's archive then goes to `dir` untouched. That costs a
/// request or two more than rewriting the archive with `dir` prefixed to
/// every entry, but nothing runs in the container (the image needs neither
/// `mkdir` nor `tar`), the archive reaches the engine byte for byte (hard
/// links, long names and PAX records are not rebuilt), and directories that
/// already exist are left alone (an entry for one would reset its mode and
/// owner, e.g. take the sticky bit off `/tmp`).
pub(super) async fn write_archive(
    engine: &Engine,
    container: &str,
    dir: &str,
    tar: &[u8],
) -> Result<(), SandboxError> {
    let base = existing_ancestor(engine, container, dir).await?;
    let missing = dir[base.len()..].trim_start_matches('/');
    if !missing.is_empty() {
        let directories = directories(missing)
            .map_err(|e| SandboxError::Other(format!("{dir}: cannot build the archive: {e}")))?;
        upload(engine, container, base, directories, dir).await?;
    }
    upload(engine, container, dir, tar.to_vec(), dir).await
}

/// The deepest of `dir` (absolute, as [`resolve`] makes it) and its
/// ancestors that exists in the container.
async fn existing_ancestor<'a>(
    engine: &Engine,
    container: &str,
    dir: &'a str,
) -> Result<&'a str, SandboxError> {
    let mut at = dir;
    loop {
        let options = ContainerArchiveInfoOptions {
            path: at.to_string(),
        };
        match engine
            .docker()
            .get_container_archive_info(container, Some(options))
            .await
        {
            Ok(_) => return Ok(at),
            // The answer to HEAD has no body to tell a missing path from a
            // missing container; `/` is missing only with the container.
            Err(e) if status(&e) == Some(404) && at != "/" => {
                at = match at.rsplit_once('/') {
                    Some(("", _)) | None => "/",
                    Some((parent, _)) => parent,
                };
            }
            Err(e) => return Err(sandbox_error(&format!("container {}", short(container)), e)),
        }
    }
}

/// A tar of the directories `relative` (`a/b/c`) names: `a`, `a/b` and
/// `a/b/c`, as `mkdir -p` makes them.
fn directories(relative: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut path = String::new();
    for part in relative.split('/') {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o755);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mtime(now());
        builder.append_data(&mut header, &path, std::io::empty())?;
    }
    builder.into_inner()
}

/// Unpacks `archive` into the existing directory `at`; errors name `path`.
async fn upload(
    engine: &Engine,
    container: &str,
    at: &str,
    archive: Vec<u8>,
    path: &str,
) -> Result<(), SandboxError> {
    let options = UploadToContainerOptions {
        path: at.to_string(),
        // Owned by the container's user, as if a command had written it.
        copy_uidgid: Some("1".into()),
        ..UploadToContainerOptions::default()
    };
    engine
        .docker()
        .upload_to_container(container, Some(options), bollard::body_full(archive.into()))
        .await
        .map_err(|e| archive_error(container, path, e))
}

/// Seconds since the epoch, for the entries plinth makes.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    use super::{directories, resolve};

    #[test]
    fn paths_resolve_against_the_working_directory() {
        assert_eq!(resolve("/w", "a/b.txt"), "/w/a/b.txt");
        assert_eq!(resolve("/w", "/etc/x"), "/etc/x");
        assert_eq!(resolve("/w/s", "../t/./u"), "/w/t/u");
        assert_eq!(resolve("/", "../../x"), "/x");
    }

    #[test]
    fn missing_directories_are_made_from_the_top() {
        let archive = directories("a/it's here/c").unwrap();
        let mut archive = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, bool, u32)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.entry_type().is_dir(),
                    header.mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("a".to_string(), true, 0o755),
                ("a/it's here".to_string(), true, 0o755),
                ("a/it's here/c".to_string(), true, 0o755),
            ]
        );
    }
}
