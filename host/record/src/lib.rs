//! plinth's records and their vocabulary: what every other layer reads and
//! writes, and nothing that runs. The canonical trajectory ([`trajectory`]),
//! the task row it ran ([`task`]), the settings it records ([`settings`]),
//! how it was graded ([`grading`]), the token ids of its model calls
//! ([`tokens`]) and the training samples assembled from them ([`training`]),
//! and the defaults every layer starts from ([`defaults`]).
//!
//! Data and serde only: no async runtime, no wasmtime, no network. A crate
//! above may read a record without linking what produced it.

pub mod causes;
pub mod defaults;
pub mod digest;
pub mod grading;
pub mod paths;
pub mod settings;
pub mod sync;
pub mod task;
pub mod tokens;
pub mod training;
pub mod trajectory;
