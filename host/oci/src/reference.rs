//! Where a bundle lives: `registry/repository[:tag][@sha256:...]`, as docker spells it.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// A parsed reference. `oci://` in front is accepted (the `--environment oci://REF` form).
///
/// As with docker: a first path component with a `.` or `:`, or `localhost`, is the
/// registry; otherwise the registry is Docker Hub (`docker.io`, and a one-component
/// repository is under `library/`). Without a tag or digest the tag is `latest`. With
/// both, the digest decides what is pulled and the tag is only shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A reference that cannot be parsed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid registry reference `{reference}`: {reason}")]
pub struct InvalidReference {
    pub reference: String,
    pub reason: String,
}

/// Docker Hub, as references name it.
const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
const DEFAULT_TAG: &str = "latest";

impl Reference {
    /// The registry as written (`ghcr.io`, `localhost:5000`, `docker.io`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) the distribution API is served on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, `latest` when neither a tag nor a digest was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What a manifest request names: the digest when there is one, else the tag.
    pub(crate) fn manifest_target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// Whether the registry is this machine (plain HTTP is tried there after HTTPS).
    pub(crate) fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => self.registry.split(':').next().unwrap_or(&self.registry),
        };
        host == "localhost" || host == "::1" || host.starts_with("127.")
    }

    /// The same repository at `digest` (what a pin says).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl FromStr for Reference {
    type Err = InvalidReference;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| InvalidReference {
            reference: text.to_string(),
            reason: reason.to_string(),
        };
        let s = text.strip_prefix("oci://").unwrap_or(text);
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (
                n,
                Some(d.parse::<Digest>().map_err(|e| invalid(&e.to_string()))?),
            ),
            None => (s, None),
        };
        // A tag follows the last `:` after the last `/` (a registry port has a `/` after it).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(name_tag[last_slash + i + 1..].to_string()),
            ),
            None => (name_tag, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ if !name.contains('/') => (DOCKER_HUB.to_string(), format!("library/{name}")),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(invalid("the registry host is empty or malformed"));
        }
        if !valid_repository(&repository) {
            return Err(invalid(
                "the repository must be lowercase path components of [a-z0-9] joined by `.`, `_`, `__` or `-`",
            ));
        }
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(invalid(
                "a tag is 1-128 characters of [A-Za-z0-9_.-], not starting with `.` or `-`",
            ));
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            _ => tag,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// The distribution spec's repository grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)*`.
fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.split('/').all(|component| {
            let bytes = component.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
                return false;
            };
            if !alnum(first) || !alnum(last) {
                return false;
            }
            // Separators between alphanumerics: `.`, `_`, `__`, or runs of `-`.
            component
                .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                .all(|sep| {
                    sep.is_empty()
                        || sep == "."
                        || sep == "_"
                        || sep == "__"
                        || sep.bytes().all(|b| b == b'-')
                })
        })
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r: Reference = s.parse().unwrap();
        (
            r.registry().to_string(),
            r.repository().to_string(),
            r.tag().map(str::to_string),
            r.digest().map(|d| d.to_string()),
        )
    }

    const D: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn registries_tags_and_digests() {
        assert_eq!(
            parts("localhost:5000/envs/minicalc:0.1.0"),
            (
                "localhost:5000".into(),
                "envs/minicalc".into(),
                Some("0.1.0".into()),
                None
            )
        );
        assert_eq!(
            parts("oci://ghcr.io/org/env"),
            (
                "ghcr.io".into(),
                "org/env".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(
            parts(&format!("127.0.0.1:5000/env@{D}")),
            ("127.0.0.1:5000".into(), "env".into(), None, Some(D.into()))
        );
        assert_eq!(
            parts(&format!("ghcr.io/org/env:v1@{D}")),
            (
                "ghcr.io".into(),
                "org/env".into(),
                Some("v1".into()),
                Some(D.into())
            )
        );
        assert_eq!(
            parts("minicalc"),
            (
                "docker.io".into(),
                "library/minicalc".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(parts("org/env:v2").0, "docker.io");
        let r: Reference = "localhost:5000/env:v1".parse().unwrap();
        assert_eq!(r.to_string(), "localhost:5000/env:v1");
        assert!(r.is_loopback());
        assert!(!"ghcr.io/a/b".parse::<Reference>().unwrap().is_loopback());
    }

    #[test]
    fn bad_references_say_why() {
        for bad in [
            "",
            "ghcr.io/Org/env",
            "ghcr.io/org/env:",
            "ghcr.io/org/env:-x",
            "ghcr.io/org//env",
            "ghcr.io/org/env@sha256:abc",
            "ghcr.io/",
        ] {
            let err = bad.parse::<Reference>().unwrap_err();
            assert_eq!(err.reference, bad);
        }
    }
}
