//! The built-in components, embedded in the binary by `build.rs` (which
//! also writes this list, so a built-in is named in one place only).

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
