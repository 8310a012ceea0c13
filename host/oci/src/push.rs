//! A bundle directory pushed as an artifact: every blob uploaded unless the registry
//! has it, then the manifest under the tag.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::client::{Access, Client, Session};
use crate::digest::Digest;
use crate::error::OciError;
use crate::manifest::{Descriptor, ImageManifest};
use crate::media;
use crate::pin::Pin;
use crate::reference::Reference;

/// What a push did.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// Where the bundle now is, by digest: what records and `--environment` should name.
    pub pin: Pin,
    pub tag: String,
    /// Files pushed, `plinth-env.toml` included.
    pub files: usize,
    pub bytes: u64,
    /// Blobs uploaded, and blobs the registry already held (skipped after a HEAD).
    pub uploaded: usize,
    pub existing: usize,
}

/// One file of a bundle, read.
struct BundleFile {
    path: String,
    bytes: Bytes,
    digest: Digest,
}

/// Pushes the bundle in `dir` to `reference` (which needs a tag; `latest` when the
/// reference names none). Every regular file under `dir` travels except `.git`
/// directories; a symbolic link is refused (a registry carries files, and following a
/// link could ship what is outside the bundle). The manifest has no timestamp: the
/// same files push to the same digest.
pub async fn push(client: &Client, dir: &Path, reference: &Reference) -> Result<Pushed, OciError> {
    let Some(tag) = reference.tag() else {
        return Err(OciError::PushNeedsTag {
            reference: reference.to_string(),
            repository: format!("{}/{}", reference.registry(), reference.repository()),
        });
    };
    let manifest_path = dir.join(media::MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Err(OciError::NotABundle {
            dir: dir.to_path_buf(),
        });
    }
    let config_bytes =
        Bytes::from(std::fs::read(&manifest_path).map_err(OciError::io(&manifest_path))?);
    let config = BundleFile {
        path: media::MANIFEST_FILE.to_string(),
        digest: Digest::of(&config_bytes),
        bytes: config_bytes,
    };
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let descriptor = |file: &BundleFile, media_type: &str, title: bool| Descriptor {
        media_type: media_type.to_string(),
        digest: file.digest.clone(),
        size: file.bytes.len() as u64,
        annotations: if title {
            [(media::TITLE.to_string(), file.path.clone())].into()
        } else {
            Default::default()
        },
    };
    let manifest = ImageManifest::for_bundle(
        descriptor(&config, media::CONFIG, false),
        files
            .iter()
            .map(|f| descriptor(f, media::for_file(&f.path), true))
            .collect(),
    );
    let manifest_bytes = Bytes::from(
        serde_json::to_vec_pretty(&manifest).expect("a manifest of strings and numbers serialises"),
    );

    let mut session = Session::open(client, reference, Access::Push).await?;
    let (mut uploaded, mut existing) = (0, 0);
    let mut done = std::collections::BTreeSet::new();
    for file in std::iter::once(&config).chain(&files) {
        if !done.insert(file.digest.clone()) {
            continue;
        }
        if session.blob_exists(&file.digest).await? {
            existing += 1;
            tracing::debug!(path = %file.path, digest = %file.digest, "blob already in the registry");
        } else {
            session
                .upload_blob(&file.digest, file.bytes.clone())
                .await?;
            uploaded += 1;
            tracing::debug!(path = %file.path, digest = %file.digest, "blob uploaded");
        }
    }
    let digest = session.put_manifest(tag, manifest_bytes).await?;
    Ok(Pushed {
        pin: Pin {
            registry: reference.registry().to_string(),
            repository: reference.repository().to_string(),
            digest,
        },
        tag: tag.to_string(),
        files: files.len() + 1,
        bytes: std::iter::once(&config)
            .chain(&files)
            .map(|f| f.bytes.len() as u64)
            .sum(),
        uploaded,
        existing,
    })
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<BundleFile>) -> Result<(), OciError> {
    let entries = std::fs::read_dir(dir).map_err(OciError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(OciError::io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(OciError::io(&path))?;
        let bad = |reason: &str| OciError::BundleFile {
            path: path.clone(),
            reason: reason.to_string(),
        };
        if kind.is_symlink() {
            return Err(bad(
                "is a symbolic link; a bundle is pushed as regular files (copy the target in)",
            ));
        }
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                collect(root, &path, out)?;
            }
            continue;
        }
        if !kind.is_file() {
            return Err(bad("is neither a regular file nor a directory"));
        }
        let relative =
            relative_path(root, &path).ok_or_else(|| bad("has a name that is not UTF-8"))?;
        if relative == media::MANIFEST_FILE {
            continue;
        }
        let bytes = Bytes::from(std::fs::read(&path).map_err(OciError::io(&path))?);
        out.push(BundleFile {
            path: relative,
            digest: Digest::of(&bytes),
            bytes,
        });
    }
    Ok(())
}

/// `path` under `root`, `/`-separated.
fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative: PathBuf = path.strip_prefix(root).ok()?.to_path_buf();
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}
