//! The media types of a bundle artifact, and the annotation naming each file.
//!
//! The layout (documented for users in the crate docs):
//! - the image manifest is OCI's (`application/vnd.oci.image.manifest.v1+json`) with
//!   `artifactType` [`ARTIFACT_TYPE`], so registries and `oras` show what it is;
//! - the config blob is the bundle's `plinth-env.toml`, byte for byte ([`CONFIG`]);
//! - every other file is one layer, its path relative to the bundle in the
//!   `org.opencontainers.image.title` annotation ([`TITLE`], as `oras` names files);
//! - `.wasm` layers are `application/wasm`: the CNCF Wasm OCI artifact layer type that
//!   wasm-pkg-tools (`wkg`, the `oci-wasm` crate) writes and reads, so a component can be
//!   fetched out of a bundle by its layer digest with those tools.

/// An OCI image manifest: what a bundle is pushed as.
pub const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index (multi-platform images): never a bundle.
pub const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's manifest types, accepted in `Accept` only to name them in the error.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The manifest's `artifactType`: a plinth environment bundle, layout version 1.
pub const ARTIFACT_TYPE: &str = "application/vnd.plinth.environment.v1";
/// The config blob: the bundle's `plinth-env.toml`.
pub const CONFIG: &str = "application/vnd.plinth.environment.config.v1+toml";
/// A WebAssembly component or module layer (the `wkg` / `oci-wasm` convention).
pub const WASM: &str = "application/wasm";
/// The annotation holding a layer's path relative to the bundle directory.
pub const TITLE: &str = "org.opencontainers.image.title";

/// The name the config blob is materialised under.
pub const MANIFEST_FILE: &str = "plinth-env.toml";

/// A layer's media type, from its file name; files of no known kind are octet streams.
pub fn for_file(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "wasm" => WASM,
        "jsonl" => "application/jsonl",
        "json" => "application/json",
        "toml" => "application/toml",
        "yaml" | "yml" => "application/yaml",
        "md" => "text/markdown",
        "py" => "text/x-python",
        "js" | "mjs" => "text/javascript",
        "sh" => "text/x-shellscript",
        "j2" | "jinja" | "txt" | "wit" | "patch" | "diff" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Whether a bundle path names a WebAssembly file (its layer must be [`WASM`]).
pub(crate) fn is_wasm(path: &str) -> bool {
    for_file(path) == WASM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension() {
        assert_eq!(for_file("tools/search.wasm"), WASM);
        assert_eq!(for_file("tasks.jsonl"), "application/jsonl");
        assert_eq!(for_file("templates/system.j2"), "text/plain");
        assert_eq!(for_file("minicalc.bundle"), "application/octet-stream");
        assert_eq!(for_file("Makefile"), "application/octet-stream");
        assert_eq!(for_file("a.d/README"), "application/octet-stream");
    }
}
