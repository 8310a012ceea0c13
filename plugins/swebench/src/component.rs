//! What every `plinth-plugin-swebench-<format>` scorer component does, given its parser:
//! the task row and config read, the host's session lent as the [`Sandbox`], the score
//! returned in the SDK's types (feature `sdk`).

use plinth_sdk::{
    ExecRequest, LogLevel, PluginError, SandboxError, ScoreResult, Session, SubScore, log,
};

use crate::instance::Instance;
use crate::parse::{ParseFn, Parser};
use crate::scorer::{self, Config, Exec, Sandbox, ScoreError};

/// `Scorer::score` of a component grading with `parser`, whose function is `parse`.
pub fn score(
    task: &str,
    config: &str,
    session: &Session,
    parser: Parser,
    parse: ParseFn,
) -> Result<ScoreResult, PluginError> {
    let instance =
        Instance::from_json(task).map_err(|e| PluginError::InvalidInput(e.to_string()))?;
    let config = Config::from_json(config).map_err(to_plugin_error)?;
    let score = scorer::score(&instance, &config, parser, parse, &HostSandbox(session))
        .map_err(to_plugin_error)?;
    Ok(ScoreResult {
        reward: score.reward,
        sub_scores: score
            .sub_scores
            .into_iter()
            .map(|(name, value)| SubScore { name, value })
            .collect(),
        details: score.details.to_string(),
    })
}

/// A whole `swebench-<format>` component: `export_parser_scorer!(Type,
/// Parser, "swebench-<format>")` exports `Type` as the scorer that grades
/// with that parser (the component links only the parser it names).
#[macro_export]
macro_rules! export_parser_scorer {
    ($scorer:ident, $parser:ident, $name:literal) => {
        struct $scorer;

        plinth_sdk::export_scorer!($scorer);

        impl plinth_sdk::Scorer for $scorer {
            fn info() -> plinth_sdk::PluginInfo {
                plinth_sdk::PluginInfo {
                    description: $crate::component::description($crate::Parser::$parser),
                    ..plinth_sdk::plugin_info!($name, "")
                }
            }

            fn score(
                task: &str,
                _trajectory: plinth_sdk::Trajectory,
                config: &str,
                session: &plinth_sdk::Session,
            ) -> Result<plinth_sdk::ScoreResult, plinth_sdk::PluginError> {
                let parser = $crate::Parser::$parser;
                $crate::component::score(task, config, session, parser, parser.function())
            }
        }
    };
}

/// The one-line description a component gives.
pub fn description(parser: Parser) -> String {
    format!(
        "SWE-bench graded as swebench {} grades it, reading the log with its {} parser",
        crate::spec::harness().swebench_version,
        parser.name()
    )
}

fn to_plugin_error(e: ScoreError) -> PluginError {
    match e {
        ScoreError::InvalidInput(m) => PluginError::InvalidInput(m),
        ScoreError::Sandbox(m) => PluginError::Sandbox(m),
    }
}

/// The host's sandbox session behind the scorer's [`Sandbox`] trait.
struct HostSandbox<'a>(&'a Session);

impl Sandbox for HostSandbox<'_> {
    fn exec(&self, command: &str, timeout_secs: Option<u32>) -> Result<Exec, String> {
        let request = ExecRequest {
            timeout_secs,
            ..ExecRequest::new(command)
        };
        self.0
            .exec(&request)
            .map(|out| Exec {
                exit_code: out.exit_code,
                output: out.output,
                timed_out: out.timed_out,
            })
            .map_err(SandboxError::describe)
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.read_file(path).map_err(SandboxError::describe)
    }

    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String> {
        self.0
            .write_file(path, contents)
            .map_err(SandboxError::describe)
    }

    fn log(&self, message: &str) {
        log(LogLevel::Info, message);
    }
}
