//! Built against `plinth:plugin@1.0.0`: the host must refuse it with a clear
//! version error rather than a link failure.

wit_bindgen::generate!({
    path: "wit",
    world: "formatter-plugin",
});

struct Future;

impl exports::plinth::plugin::formatter::Guest for Future {
    fn format(trajectory_json: String) -> String {
        trajectory_json
    }
}

// Natively (a workspace `cargo build`) the exports' names, such as
// `plinth:plugin/formatter@0.1.0#format`, make the linker fail: export only
// when building the component.
#[cfg(target_family = "wasm")]
export!(Future);
