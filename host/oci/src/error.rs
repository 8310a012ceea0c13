//! Every way pushing, pulling or loading a bundle fails, each naming the reference (or
//! file) and what was expected, so a user can act on the message alone.

use std::path::PathBuf;

use crate::digest::Digest;
use crate::reference::InvalidReference;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    InvalidReference(#[from] InvalidReference),

    #[error("{dir}: not an environment bundle (no plinth-env.toml in it)")]
    NotABundle { dir: PathBuf },

    #[error("{path}: {reason}")]
    BundleFile { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "pushing {reference}: a push needs a tag (e.g. `{repository}:0.1.0`), not only a digest"
    )]
    PushNeedsTag {
        reference: String,
        repository: String,
    },

    #[error(
        "the registry {registry} is unreachable at {url} (is it running, and is the address right?)"
    )]
    Unreachable {
        registry: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "TLS with the registry {registry} failed at {url}: {reason} (a private CA? give its PEM file; a plain-HTTP registry? ask for --insecure)"
    )]
    Tls {
        registry: String,
        url: String,
        reason: String,
    },

    #[error("{reference}: the request to {url} failed")]
    Transport {
        reference: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{reference}: no such manifest in the registry (unknown tag or digest; {code})")]
    ManifestUnknown { reference: String, code: String },

    #[error("{reference}: the registry has no blob {digest} ({what})")]
    BlobUnknown {
        reference: String,
        digest: Digest,
        what: String,
    },

    #[error("{reference}: the registry refused {}: 401 Unauthorized{}{}",
        if *.had_credentials { "the credentials given" } else { "anonymous access" },
        if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) },
        if *.had_credentials { "" } else {
            "; give --username/--password, PLINTH_REGISTRY_USERNAME/PLINTH_REGISTRY_PASSWORD, or `docker login`"
        })]
    Unauthorized {
        reference: String,
        had_credentials: bool,
        detail: String,
    },

    #[error("{reference}: 403 Forbidden: these credentials may not {action} this repository{}",
        if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    Forbidden {
        reference: String,
        action: &'static str,
        detail: String,
    },

    #[error("{reference}: the registry answered {status} to {operation}{}",
        if .detail.is_empty() { String::new() } else { format!(": {}", .detail) })]
    Registry {
        reference: String,
        operation: String,
        status: u16,
        detail: String,
    },

    #[error("{reference}: the token service {realm} refused or failed: {reason}")]
    Token {
        reference: String,
        realm: String,
        reason: String,
    },

    #[error("{reference}: {what} has media type `{found}`, expected `{expected}`{hint}")]
    WrongMediaType {
        reference: String,
        what: String,
        found: String,
        expected: String,
        hint: &'static str,
    },

    #[error(
        "{reference}: {what}: digest mismatch: expected {expected}, the bytes hash to {actual}"
    )]
    DigestMismatch {
        reference: String,
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("{reference}: {what}: size mismatch: the manifest says {expected} bytes, got {actual}")]
    SizeMismatch {
        reference: String,
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("{reference}: malformed bundle manifest: {reason}")]
    MalformedManifest { reference: String, reason: String },

    #[error(
        "{path}: the cached copy of {what} does not match its digest (expected {expected}, hashes to {actual}); pull the bundle again to restore it"
    )]
    CacheCorrupt {
        path: PathBuf,
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error("{path}: missing from the cached bundle; pull the bundle again to restore it")]
    CacheFileMissing { path: PathBuf },

    #[error("bundle {digest} is not in the cache at {root}; pull it first")]
    NotCached { digest: Digest, root: PathBuf },

    #[error("CA certificate file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    DockerConfig { path: PathBuf, reason: String },

    #[error("registry credentials: {0}")]
    Credentials(String),

    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl OciError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
