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

export!(Future);
