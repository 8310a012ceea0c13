//! Host bindings generated from `wit/plinth.wit`, one module per world.
//!
//! The worlds share the `types`, `host` and `sandbox` interfaces; they are
//! generated once (with the tool world) and reused by the others through
//! `with`, so one host implementation serves every plugin kind.

pub mod tool {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "tool-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/sandbox.session": crate::plugin::state::SessionHandle,
        },
    });
}

pub mod scorer {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "scorer-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/types": super::tool::plinth::plugin::types,
            "plinth:plugin/host": super::tool::plinth::plugin::host,
            "plinth:plugin/sandbox": super::tool::plinth::plugin::sandbox,
        },
    });
}

pub mod formatter {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "formatter-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/types": super::tool::plinth::plugin::types,
            "plinth:plugin/host": super::tool::plinth::plugin::host,
        },
    });
}

pub use tool::plinth::plugin::types;
