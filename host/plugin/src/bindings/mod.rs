//! Host bindings generated from the WIT, one module per `plinth:plugin`
//! version the host speaks (after Zed's extension host): a plugin built
//! against an older version keeps loading while new plugins use the newest.
//!
//! Within a version, the worlds share the `types`, `host` and `sandbox`
//! interfaces; they are generated once (with the tool world) and reused by the
//! others through `with`, so one host implementation serves every plugin kind
//! of that version.

pub mod v0_1;
pub mod v0_2;
