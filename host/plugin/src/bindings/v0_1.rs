//! `plinth:plugin@0.1.0` (frozen): the exit status is a string, and a
//! formatter says in its info whether it formats whole groups.

pub mod tool {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
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
        path: "../../wit/0.1.0",
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
        path: "../../wit/0.1.0",
        world: "formatter-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "plinth:plugin/types": super::tool::plinth::plugin::types,
            "plinth:plugin/host": super::tool::plinth::plugin::host,
        },
    });
}

pub use tool::plinth::plugin::{host, sandbox, types};
