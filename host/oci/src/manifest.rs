//! The OCI image manifest a bundle is pushed as, and the checks a pulled one must pass
//! before any of its paths touch the disk.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::OciError;
use crate::media;

/// A content descriptor: a blob's media type, digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image manifest (image-spec v1.1), the fields a bundle uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A manifest that passed every check: the config, and each file with its descriptor.
#[derive(Clone, Debug)]
pub struct BundleManifest {
    pub config: Descriptor,
    /// (path relative to the bundle, its layer), in manifest order.
    pub files: Vec<(String, Descriptor)>,
}

/// The largest manifest read (distribution's own limit is 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

impl ImageManifest {
    /// The manifest for a bundle: no timestamps, so the same files give the same digest.
    pub fn for_bundle(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media::IMAGE_MANIFEST.to_string()),
            artifact_type: Some(media::ARTIFACT_TYPE.to_string()),
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }
}

impl BundleManifest {
    /// Parses and checks manifest bytes from a registry or the cache. `reference` names
    /// the source in errors; `content_type` is the response's, when there was one.
    pub fn parse(
        reference: &str,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<Self, OciError> {
        let malformed = |reason: String| OciError::MalformedManifest {
            reference: reference.to_string(),
            reason,
        };
        let wrong = |what: &str, found: &str, expected: &str, hint: &'static str| {
            OciError::WrongMediaType {
                reference: reference.to_string(),
                what: what.to_string(),
                found: found.to_string(),
                expected: expected.to_string(),
                hint,
            }
        };
        if let Some(ct) = content_type {
            let ct = ct.split(';').next().unwrap_or(ct).trim();
            if ct != media::IMAGE_MANIFEST {
                return Err(wrong(
                    "the manifest",
                    ct,
                    media::IMAGE_MANIFEST,
                    not_a_bundle_hint(ct),
                ));
            }
        }
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if manifest.schema_version != 2 {
            return Err(malformed(format!(
                "schemaVersion is {}, expected 2",
                manifest.schema_version
            )));
        }
        if let Some(mt) = &manifest.media_type
            && mt != media::IMAGE_MANIFEST
        {
            return Err(wrong(
                "the manifest",
                mt,
                media::IMAGE_MANIFEST,
                not_a_bundle_hint(mt),
            ));
        }
        // Image-spec: without `artifactType`, the config's media type is the artifact's type.
        let artifact = manifest
            .artifact_type
            .as_deref()
            .unwrap_or(&manifest.config.media_type);
        if artifact != media::ARTIFACT_TYPE && artifact != media::CONFIG {
            return Err(wrong(
                "the artifact (artifactType)",
                artifact,
                media::ARTIFACT_TYPE,
                " (not a plinth environment bundle)",
            ));
        }
        if manifest.config.media_type != media::CONFIG {
            return Err(wrong(
                "the config blob",
                &manifest.config.media_type,
                media::CONFIG,
                "",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut files = Vec::with_capacity(manifest.layers.len());
        for (i, layer) in manifest.layers.into_iter().enumerate() {
            let Some(title) = layer.annotations.get(media::TITLE) else {
                return Err(malformed(format!(
                    "layer {i} ({}) has no {} annotation naming its file",
                    layer.digest,
                    media::TITLE
                )));
            };
            check_relative_path(title)
                .map_err(|why| malformed(format!("layer {i}: file name `{title}` {why}")))?;
            if title == media::MANIFEST_FILE {
                return Err(malformed(format!(
                    "layer {i} is named {}, which is the config blob's place",
                    media::MANIFEST_FILE
                )));
            }
            if !seen.insert(title.clone()) {
                return Err(malformed(format!("two layers are named `{title}`")));
            }
            if media::is_wasm(title) && layer.media_type != media::WASM {
                return Err(wrong(
                    &format!("layer `{title}`"),
                    &layer.media_type,
                    media::WASM,
                    "",
                ));
            }
            files.push((title.clone(), layer));
        }
        // One path may not be both a file and a directory holding others.
        for (path, _) in &files {
            let mut prefix = path.as_str();
            while let Some((parent, _)) = prefix.rsplit_once('/') {
                if seen.contains(parent) {
                    return Err(malformed(format!(
                        "`{parent}` is a file, and also the directory of `{path}`"
                    )));
                }
                prefix = parent;
            }
        }
        Ok(Self {
            config: manifest.config,
            files,
        })
    }
}

fn not_a_bundle_hint(media_type: &str) -> &'static str {
    match media_type {
        media::IMAGE_INDEX | media::DOCKER_MANIFEST_LIST => {
            " (an image index: a multi-platform image, not a plinth environment bundle)"
        }
        media::DOCKER_MANIFEST => " (a Docker container image, not a plinth environment bundle)",
        _ => "",
    }
}

/// A path from a registry is untrusted: it must stay inside the bundle directory.
pub(crate) fn check_relative_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.starts_with('/') {
        return Err("is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return Err("contains a backslash or NUL");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("has an empty component"),
            "." | ".." => return Err("has a `.` or `..` component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(media_type: &str, bytes: &[u8], title: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            annotations: title
                .map(|t| BTreeMap::from([(media::TITLE.to_string(), t.to_string())]))
                .unwrap_or_default(),
        }
    }

    fn parse_layers(layers: Vec<Descriptor>) -> Result<BundleManifest, OciError> {
        let m = ImageManifest::for_bundle(descriptor(media::CONFIG, b"x", None), layers);
        BundleManifest::parse(
            "r",
            &serde_json::to_vec(&m).unwrap(),
            Some(media::IMAGE_MANIFEST),
        )
    }

    #[test]
    fn unsafe_and_conflicting_paths_are_refused() {
        for title in [
            "../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a\\b",
            "",
            "plinth-env.toml",
        ] {
            let err = parse_layers(vec![descriptor("text/plain", b"a", Some(title))]).unwrap_err();
            assert!(
                matches!(err, OciError::MalformedManifest { .. }),
                "{title}: {err}"
            );
        }
        let err = parse_layers(vec![
            descriptor("text/plain", b"a", Some("a")),
            descriptor("text/plain", b"b", Some("a/b")),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("also the directory"), "{err}");
        let err = parse_layers(vec![descriptor("text/plain", b"a", None)]).unwrap_err();
        assert!(
            err.to_string().contains("org.opencontainers.image.title"),
            "{err}"
        );
    }

    #[test]
    fn wasm_layers_must_be_application_wasm() {
        let err = parse_layers(vec![descriptor(
            "application/octet-stream",
            b"\0asm",
            Some("t.wasm"),
        )])
        .unwrap_err();
        assert!(matches!(err, OciError::WrongMediaType { .. }), "{err}");
        assert!(parse_layers(vec![descriptor(media::WASM, b"\0asm", Some("t/t.wasm"))]).is_ok());
    }

    #[test]
    fn container_images_are_named() {
        let err = BundleManifest::parse("r", b"{}", Some(media::IMAGE_INDEX)).unwrap_err();
        assert!(err.to_string().contains("image index"), "{err}");
        let mut m = ImageManifest::for_bundle(
            descriptor("application/vnd.oci.image.config.v1+json", b"x", None),
            vec![],
        );
        m.artifact_type = None;
        let err = BundleManifest::parse("r", &serde_json::to_vec(&m).unwrap(), None).unwrap_err();
        assert!(
            err.to_string().contains("not a plinth environment bundle"),
            "{err}"
        );
    }
}
