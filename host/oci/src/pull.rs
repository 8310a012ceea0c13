//! A bundle pulled by reference into the cache and materialised as a directory.

use std::path::PathBuf;

use crate::cache::Cache;
use crate::client::{Access, Client, Session};
use crate::error::OciError;
use crate::manifest::BundleManifest;
use crate::media;
use crate::pin::Pin;
use crate::reference::Reference;

/// What a pull gave.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The resolved bundle (a tag resolved to the manifest's digest): record this.
    pub pin: Pin,
    /// The bundle directory (verified): what `--environment` runs.
    pub dir: PathBuf,
    /// Blobs fetched from the registry, and their bytes; 0 when every blob was cached.
    pub fetched: usize,
    pub fetched_bytes: u64,
    /// No request was made: the reference named a digest the cache held intact.
    pub offline: bool,
}

/// Pulls `reference` into `cache`. A digest reference already cached (and intact on
/// re-hashing) needs no registry; a tag is always resolved by the registry, since tags
/// move. Blobs the cache holds intact are not fetched again; corrupt ones are.
pub async fn pull(
    client: &Client,
    reference: &Reference,
    cache: &Cache,
) -> Result<Pulled, OciError> {
    let pin_for = |digest| Pin {
        registry: reference.registry().to_string(),
        repository: reference.repository().to_string(),
        digest,
    };
    if let Some(digest) = reference.digest() {
        match cache.load(digest) {
            Ok(dir) => {
                return Ok(Pulled {
                    pin: pin_for(digest.clone()),
                    dir,
                    fetched: 0,
                    fetched_bytes: 0,
                    offline: true,
                });
            }
            Err(e) => tracing::debug!(error = %e, "not usable from the cache; pulling"),
        }
    }
    let mut session = Session::open(client, reference, Access::Pull).await?;
    let (bytes, digest, content_type) = session.get_manifest(&reference.manifest_target()).await?;
    let manifest = BundleManifest::parse(&reference.to_string(), &bytes, content_type.as_deref())?;
    // The tag resolved to a bundle already cached intact: one re-hash, nothing fetched.
    if let Ok(dir) = cache.load(&digest) {
        return Ok(Pulled {
            pin: pin_for(digest),
            dir,
            fetched: 0,
            fetched_bytes: 0,
            offline: false,
        });
    }
    cache.write_blob(&bytes, &digest)?;
    let mut fetched = 0;
    let mut fetched_bytes = 0;
    let blobs = std::iter::once((media::MANIFEST_FILE, &manifest.config))
        .chain(manifest.files.iter().map(|(p, l)| (p.as_str(), l)));
    for (path, descriptor) in blobs {
        if cache.has_blob(&descriptor.digest) {
            continue;
        }
        let temp = cache.temp_path("blob")?;
        session.fetch_blob(descriptor, path, &temp).await?;
        cache.commit_blob(&temp, &descriptor.digest)?;
        fetched += 1;
        fetched_bytes += descriptor.size;
    }
    cache.materialise(&digest, &manifest)?;
    let dir = cache.load(&digest)?;
    Ok(Pulled {
        pin: pin_for(digest),
        dir,
        fetched,
        fetched_bytes,
        offline: false,
    })
}
