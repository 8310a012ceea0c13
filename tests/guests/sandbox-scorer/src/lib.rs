//! A scorer built against `plinth:plugin@0.2.0` that uses every sandbox
//! call and logs, so the host's 0.2 `host` and `sandbox` imports are
//! exercised end to end. Reward 1 for a submitted run, 0 otherwise; with
//! `{"reward": "nan"}` as its config it returns NaN, which the host must
//! refuse; `{"mode": "spin" | "grow" | "panic" | "flood-details"}` makes it
//! misbehave that way, for the runtime's limits.

wit_bindgen::generate!({
    path: "../../../wit/0.2.0",
    world: "scorer-plugin",
});

use exports::plinth::plugin::scorer::Guest;
use plinth::plugin::host::{LogLevel, log};
use plinth::plugin::sandbox::{ExecRequest, Session};
use plinth::plugin::types::{
    ExitStatus, PluginError, PluginInfo, ScoreResult, SubScore, Trajectory,
};

struct SandboxScorer;

fn sandbox_failed(e: impl std::fmt::Debug) -> PluginError {
    PluginError::Sandbox(format!("{e:?}"))
}

impl Guest for SandboxScorer {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "sandbox-scorer".into(),
            version: "0.0.1".into(),
            description: "scores with the 0.2 API in the lent sandbox".into(),
        }
    }

    fn score(
        _task: String,
        trajectory: Trajectory,
        config: String,
        session: &Session,
    ) -> Result<ScoreResult, PluginError> {
        log(LogLevel::Info, &format!("scoring {}", trajectory.id));
        if config.contains("\"spin\"") {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if config.contains("\"grow\"") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                block[0] = 1;
                hoard.push(std::hint::black_box(block));
            }
        }
        if config.contains("\"panic\"") {
            panic!("hostile scorer panicked on purpose");
        }
        if config.contains("\"flood-details\"") {
            return Ok(ScoreResult {
                reward: 1.0,
                sub_scores: Vec::new(),
                details: format!("\"{}\"", "x".repeat(8 << 20)),
            });
        }
        session
            .write_file("scored.txt", trajectory.id.as_bytes())
            .map_err(sandbox_failed)?;
        let out = session
            .exec(&ExecRequest {
                command: "cat scored.txt".into(),
                timeout_secs: None,
                env: Vec::new(),
                cwd: None,
            })
            .map_err(sandbox_failed)?;
        let read = session.read_file("scored.txt").map_err(sandbox_failed)?;
        let submitted = trajectory.exit_status == ExitStatus::Submitted;
        let reward = if config.contains("\"nan\"") {
            f64::NAN
        } else if submitted {
            1.0
        } else {
            0.0
        };
        Ok(ScoreResult {
            reward,
            sub_scores: vec![SubScore {
                name: "exit_code".into(),
                value: out.exit_code.into(),
            }],
            details: format!(
                "{{\"output\": {:?}, \"read\": {}, \"cwd_set\": {}}}",
                out.output,
                read.len(),
                !session.cwd().is_empty()
            ),
        })
    }
}

// Natively (a workspace `cargo build`) the exports' names, such as
// `plinth:plugin/formatter@0.1.0#format`, make the linker fail: export only
// when building the component.
#[cfg(target_family = "wasm")]
export!(SandboxScorer);
