//! `plinth env`: checking an environment bundle, and showing what a run of
//! it would use.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use plinth_plugin::PluginRuntime;
use plinth_record::settings::RecordedSettings;
use plinth_run::settings::environment::{Bundle, check};
use plinth_run::settings::{RunSettings, plugin_runtime, record_plugins};

#[derive(Subcommand)]
pub enum EnvCommand {
    /// Validate a bundle: its manifest, every plugin (world, API version,
    /// tool schemas), its templates (rendered for a sample task), its tasks.
    Check {
        /// The bundle's directory (holding plinth-env.toml).
        dir: PathBuf,
    },
    /// What a run of the bundle would use: its settings as every record
    /// will carry them, plugins with their hashes included.
    Inspect {
        /// The bundle's directory (holding plinth-env.toml).
        dir: PathBuf,
    },
}

pub async fn run(command: EnvCommand, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    match command {
        EnvCommand::Check { dir } => {
            let bundle = Bundle::load(&dir)?;
            let runtime = runtime(&bundle)?;
            let report = check(&bundle, &runtime, extra_plugins).await;
            print!("{report}");
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        EnvCommand::Inspect { dir } => {
            let bundle = Bundle::load(&dir)?;
            let runtime = runtime(&bundle)?;
            let report = check(&bundle, &runtime, extra_plugins).await;
            if !report.ok() {
                eprint!("{report}");
                anyhow::bail!("{}: the bundle does not check out", dir.display());
            }
            let mut options = bundle.options();
            if options.prompts_file.is_none() {
                options.task = Some("(tasks come from --task or --prompts-file)".into());
            }
            // Nothing runs: what the bundle grants is shown whatever the backend.
            options.grants.allow_local_exec = Some(true);
            let settings = RunSettings::resolve(options)?;
            let mut recorded = RecordedSettings::from(&settings);
            record_plugins(&mut recorded, &report.plugins);
            println!("{}", serde_json::to_string_pretty(&recorded)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A runtime that loads each plugin under the limits the bundle gives it.
fn runtime(bundle: &Bundle) -> Result<PluginRuntime> {
    Ok(PluginRuntime::new(plugin_runtime(
        &bundle.options().plugin_limits,
        1,
    )?)?)
}
