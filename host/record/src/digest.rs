//! Content hashes: the one spelling (lowercase hex sha256) that records,
//! the plugin cache and environment bundles use to name exact bytes.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
