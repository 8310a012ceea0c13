//! The content-addressed cache: `<cache>/oci/blobs/sha256/<hex>` holds every blob and
//! manifest by digest, `<cache>/oci/bundles/sha256/<manifest hex>/` the bundle
//! materialised as a directory. Nothing in it is trusted: every load hashes the files
//! again against the manifest, itself hashed against the digest asked for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::Digest;
use crate::error::OciError;
use crate::manifest::BundleManifest;
use crate::media;

#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// Distinguishes temporary names within this process (the pid tells processes apart).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// The cache under `cache_dir` (plinth's cache directory): everything goes in `oci/`.
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            root: cache_dir.join("oci"),
        }
    }

    /// `<cache>/oci`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Where the bundle of manifest `digest` is materialised.
    pub fn bundle_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("bundles/sha256").join(digest.hex())
    }

    /// The bundle of manifest `digest`, every file hashed again before it is returned:
    /// the manifest blob against `digest`, then `plinth-env.toml` and each file against
    /// the manifest's descriptors.
    pub fn load(&self, digest: &Digest) -> Result<PathBuf, OciError> {
        let manifest_path = self.blob_path(digest);
        let dir = self.bundle_dir(digest);
        if !manifest_path.is_file() || !dir.is_dir() {
            return Err(OciError::NotCached {
                digest: digest.clone(),
                root: self.root.clone(),
            });
        }
        let bytes = std::fs::read(&manifest_path).map_err(OciError::io(&manifest_path))?;
        check(&manifest_path, "the manifest", digest, &Digest::of(&bytes))?;
        let manifest = BundleManifest::parse(&format!("cached bundle {digest}"), &bytes, None)?;
        check_file(
            &dir.join(media::MANIFEST_FILE),
            media::MANIFEST_FILE,
            &manifest.config.digest,
        )?;
        for (path, layer) in &manifest.files {
            check_file(&dir.join(path), path, &layer.digest)?;
        }
        Ok(dir)
    }

    /// Whether the cache holds `digest`'s blob intact; a corrupt copy is removed.
    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        let path = self.blob_path(digest);
        match Digest::of_file(&path) {
            Ok(actual) if &actual == digest => true,
            Ok(actual) => {
                tracing::warn!(path = %path.display(), expected = %digest, %actual, "corrupt cached blob removed");
                let _ = std::fs::remove_file(&path);
                false
            }
            Err(_) => false,
        }
    }

    /// A fresh path under `<cache>/oci/tmp/` (same file system as the blobs, so a
    /// rename into place is atomic).
    pub(crate) fn temp_path(&self, label: &str) -> Result<PathBuf, OciError> {
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(OciError::io(&tmp))?;
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        Ok(tmp.join(format!("{label}-{}-{n}", std::process::id())))
    }

    /// Moves a verified temporary file into the blob store.
    pub(crate) fn commit_blob(&self, temp: &Path, digest: &Digest) -> Result<(), OciError> {
        let dest = self.blob_path(digest);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(OciError::io(parent))?;
        }
        std::fs::rename(temp, &dest).map_err(OciError::io(&dest))
    }

    /// Writes verified bytes into the blob store (the manifest).
    pub(crate) fn write_blob(&self, bytes: &[u8], digest: &Digest) -> Result<(), OciError> {
        let temp = self.temp_path("blob")?;
        std::fs::write(&temp, bytes).map_err(OciError::io(&temp))?;
        self.commit_blob(&temp, digest)
    }

    /// Lays out the bundle directory from blobs already in the store: built aside and
    /// renamed into place, so a reader never sees half a bundle.
    pub(crate) fn materialise(
        &self,
        digest: &Digest,
        manifest: &BundleManifest,
    ) -> Result<PathBuf, OciError> {
        let temp = self.temp_path("bundle")?;
        let result = self.materialise_into(&temp, manifest).and_then(|()| {
            let dest = self.bundle_dir(digest);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(OciError::io(parent))?;
            }
            // Only reached when `load` refused what was there (absent or corrupt).
            if dest.exists() {
                std::fs::remove_dir_all(&dest).map_err(OciError::io(&dest))?;
            }
            std::fs::rename(&temp, &dest).map_err(OciError::io(&dest))?;
            Ok(dest)
        });
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&temp);
        }
        result
    }

    fn materialise_into(&self, dir: &Path, manifest: &BundleManifest) -> Result<(), OciError> {
        let files = std::iter::once((media::MANIFEST_FILE, &manifest.config.digest))
            .chain(manifest.files.iter().map(|(p, l)| (p.as_str(), &l.digest)));
        for (path, digest) in files {
            let dest = dir.join(path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(OciError::io(parent))?;
            }
            let blob = self.blob_path(digest);
            // A hard link costs no space (components run to tens of MB); every load
            // re-hashes the file, so a change through either name is caught.
            if std::fs::hard_link(&blob, &dest).is_err() {
                std::fs::copy(&blob, &dest).map_err(OciError::io(&dest))?;
            }
        }
        Ok(())
    }
}

fn check(path: &Path, what: &str, expected: &Digest, actual: &Digest) -> Result<(), OciError> {
    if expected == actual {
        Ok(())
    } else {
        Err(OciError::CacheCorrupt {
            path: path.to_path_buf(),
            what: what.to_string(),
            expected: expected.clone(),
            actual: actual.clone(),
        })
    }
}

fn check_file(path: &Path, what: &str, expected: &Digest) -> Result<(), OciError> {
    match Digest::of_file(path) {
        Ok(actual) => check(path, what, expected, &actual),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(OciError::CacheFileMissing {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(OciError::io(path)(e)),
    }
}
