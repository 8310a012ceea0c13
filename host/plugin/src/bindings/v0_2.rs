//! `plinth:plugin@0.2.0`: the exit status is an enum, and a per-group
//! formatter is one that also exports `group-formatter`.

pub mod tool {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "tool-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/sandbox.session": crate::state::SessionHandle,
        },
    });
}

pub mod scorer {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
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

/// A formatter of one trajectory at a time.
pub mod formatter {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "formatter-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/types": super::tool::plinth::plugin::types,
            "plinth:plugin/host": super::tool::plinth::plugin::host,
        },
    });
}

/// A formatter that also formats whole groups of rollouts.
pub mod group_formatter {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "group-formatter-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/types": super::tool::plinth::plugin::types,
            "plinth:plugin/host": super::tool::plinth::plugin::host,
        },
    });
}

pub use tool::plinth::plugin::{host, sandbox, types};
