//! The `plinth:plugin@0.2.0` bindings, generated once for every plugin.
//!
//! One `generate!` per world. The tool world generates the shared `types`,
//! `host` and `sandbox` interfaces; the other worlds reuse them with `with`,
//! so a `Trajectory` or a `PluginError` is one Rust type whatever the plugin
//! kind. The export macros are public (`pub_export_macro`) because the
//! exports must be emitted in the plugin's own crate, which alone knows the
//! type implementing the plugin; plugin authors reach them through
//! [`crate::export_tool!`] and its siblings, never directly.
//!
//! A group formatter exports both `formatter` and `group-formatter`. The
//! `group-formatter-plugin` world cannot be generated here next to
//! `formatter-plugin`: wit-bindgen always generates an exported interface
//! afresh, so both worlds would define the `formatter` export macro (a
//! duplicate `#[macro_export]` name). Instead the `group-exports` world below
//! exports `group-formatter` alone, and a group formatter is exported through
//! both worlds: the component then has exactly the imports and exports of
//! `group-formatter-plugin`.

pub mod tool {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        world: "tool-plugin",
        // So that plugin tests can compare results and errors.
        additional_derives: [PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_tool_world",
        default_bindings_module: "plinth_sdk::__private::tool",
    });
}

pub mod scorer {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        world: "scorer-plugin",
        with: {
            "plinth:plugin/types@0.2.0": crate::bindings::tool::plinth::plugin::types,
            "plinth:plugin/host@0.2.0": crate::bindings::tool::plinth::plugin::host,
            "plinth:plugin/sandbox@0.2.0": crate::bindings::tool::plinth::plugin::sandbox,
        },
        pub_export_macro: true,
        export_macro_name: "export_scorer_world",
        default_bindings_module: "plinth_sdk::__private::scorer",
    });
}

pub mod formatter {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        world: "formatter-plugin",
        with: {
            "plinth:plugin/types@0.2.0": crate::bindings::tool::plinth::plugin::types,
            "plinth:plugin/host@0.2.0": crate::bindings::tool::plinth::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_formatter_world",
        default_bindings_module: "plinth_sdk::__private::formatter",
    });
}

pub mod group_formatter {
    wit_bindgen::generate!({
        path: "../../wit/0.2.0",
        inline: "
            package plinth:sdk;

            /// What `group-formatter-plugin` adds to `formatter-plugin`.
            world group-exports {
                import plinth:plugin/host@0.2.0;
                export plinth:plugin/group-formatter@0.2.0;
            }
        ",
        world: "plinth:sdk/group-exports",
        with: {
            "plinth:plugin/types@0.2.0": crate::bindings::tool::plinth::plugin::types,
            "plinth:plugin/host@0.2.0": crate::bindings::tool::plinth::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_group_formatter_world",
        default_bindings_module: "plinth_sdk::__private::group_formatter",
    });
}
