//! The pin a record carries: which registry, which repository, which exact bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::reference::Reference;

/// A bundle by digest. A tag can move; a pin names the same bytes forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub registry: String,
    pub repository: String,
    /// The image manifest's digest.
    pub digest: Digest,
}

impl Pin {
    /// The reference that pulls exactly this bundle again.
    pub fn reference(&self) -> Reference {
        self.to_string()
            .parse()
            .expect("a pin is built from a parsed reference and a digest")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.registry, self.repository, self.digest)
    }
}
