//! A formatter component that misbehaves in the way its options ask
//! (`{"mode": "spin" | "grow" | "panic" | "flood-output" | "not-json" |
//! "ok"}`), so the runtime's limits can be tested against a real guest. It
//! answers `{"ok": "<id>"}` when it behaves.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "formatter-plugin",
});

use exports::plinth::plugin::formatter::{FormatterInfo, Guest};
use plinth::plugin::types::{PluginError, PluginInfo, Trajectory};

struct Hostile;

impl Guest for Hostile {
    fn info() -> FormatterInfo {
        FormatterInfo {
            info: PluginInfo {
                name: "hostile".into(),
                version: "0.0.1".into(),
                description: "misbehaves on request".into(),
            },
            file_extension: ".txt".into(),
            one_record_per_line: true,
            per_group: false,
        }
    }

    fn format(trajectory: Trajectory, options: String) -> Result<String, PluginError> {
        if options.contains("\"spin\"") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if options.contains("\"grow\"") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                block[0] = 1;
                hoard.push(std::hint::black_box(block));
            }
        }
        if options.contains("\"panic\"") {
            panic!("hostile guest panicked on purpose");
        }
        if options.contains("\"not-json\"") {
            return Ok(format!("ok {}", trajectory.id));
        }
        if options.contains("\"flood-output\"") {
            let line = "noise ".repeat(1000);
            for _ in 0..200 {
                eprintln!("{line}");
            }
        }
        Ok(format!("{{\"ok\": \"{}\"}}", trajectory.id))
    }

    fn format_group(_group: Vec<Trajectory>, _options: String) -> Result<String, PluginError> {
        Err(PluginError::InvalidInput("not a group formatter".into()))
    }
}

// Natively (a workspace `cargo build`) the exports' names, such as
// `plinth:plugin/formatter@0.1.0#format`, make the linker fail: export only
// when building the component.
#[cfg(target_family = "wasm")]
export!(Hostile);
