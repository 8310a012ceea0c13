//! The built-in components, embedded in the binary by `build.rs`.

/// Each built-in's name and its component bytes.
pub const BUILTINS: &[(&str, &[u8])] = &[
    (
        "terminal",
        include_bytes!(concat!(env!("OUT_DIR"), "/terminal.wasm")),
    ),
    (
        "hermes",
        include_bytes!(concat!(env!("OUT_DIR"), "/hermes.wasm")),
    ),
    (
        "mswea",
        include_bytes!(concat!(env!("OUT_DIR"), "/mswea.wasm")),
    ),
    (
        "openai",
        include_bytes!(concat!(env!("OUT_DIR"), "/openai.wasm")),
    ),
];
