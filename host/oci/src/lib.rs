//! plinth environment bundles as OCI artifacts.
//!
//! A bundle (a directory with `plinth-env.toml`, see `wit/environment.md`) is pushed as
//! one OCI image manifest (`application/vnd.oci.image.manifest.v1+json`):
//!
//! - `artifactType`: `application/vnd.plinth.environment.v1`;
//! - config: the `plinth-env.toml` bytes, `application/vnd.plinth.environment.config.v1+toml`;
//! - one layer per other file, titled with its path relative to the bundle
//!   (`org.opencontainers.image.title`, as `oras` does), `.wasm` files as
//!   `application/wasm` (the CNCF Wasm OCI artifact layer type that wasm-pkg-tools'
//!   `wkg` writes), others by extension (`text/plain`, `application/jsonl`, ...).
//!
//! A pull resolves the reference to the manifest's digest (the [`Pin`] records carry),
//! verifies every blob's digest and size as it arrives, and materialises the bundle in
//! a content-addressed [`Cache`]; [`Cache::load`] hashes it all again before each use.

mod auth;
mod cache;
mod client;
mod digest;
mod error;
mod manifest;
pub mod media;
mod pin;
mod pull;
mod push;
mod reference;

pub use auth::{Credentials, PASSWORD_VAR, USERNAME_VAR};
pub use cache::Cache;
pub use client::{Client, RegistryOptions};
pub use digest::{Digest, InvalidDigest};
pub use error::OciError;
pub use manifest::{BundleManifest, Descriptor, ImageManifest};
pub use pin::Pin;
pub use pull::{Pulled, pull};
pub use push::{Pushed, push};
pub use reference::{InvalidReference, Reference};
