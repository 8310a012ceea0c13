//! `plinth env`: checking an environment bundle, and showing what a run of
//! it would use.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use plinth_oci::{Cache, Client, Credentials, Reference};

use plinth_plugin::PluginRuntime;
use plinth_record::settings::RecordedSettings;
use plinth_run::settings::environment::{Bundle, check, oci};
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
    /// Push a bundle to an OCI registry as an artifact (the manifest as its
    /// config, every file a layer, components as `application/wasm`), after
    /// `plinth env check` passes; prints the pin (registry/repo@digest).
    Push {
        /// The bundle's directory (holding plinth-env.toml).
        dir: PathBuf,
        /// Where to: `registry/repository:tag`.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a bundle by tag or digest into plinth's cache, verified; prints
    /// its pin and directory (`--environment oci://REF` does this itself).
    Pull {
        /// `registry/repository:tag` or `registry/repository@sha256:...`.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// How to reach a registry.
#[derive(Args)]
pub struct RegistryArgs {
    /// Basic-auth user. Unset: $PLINTH_REGISTRY_USERNAME, else docker's
    /// config.json for the registry, else anonymous.
    #[arg(long)]
    username: Option<String>,
    /// Read the password from stdin (with --username).
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// A PEM file of the CA that signed the registry's certificate. Unset:
    /// $PLINTH_REGISTRY_CA, else the system's roots.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Plain HTTP (a registry on a trusted network).
    #[arg(long)]
    insecure: bool,
}

impl RegistryArgs {
    fn client(self, reference: &Reference) -> Result<Client> {
        let explicit = match self.username {
            None => None,
            Some(username) => {
                let mut password = String::new();
                if self.password_stdin {
                    std::io::stdin().read_line(&mut password)?;
                }
                Some(Credentials::Basic {
                    username,
                    password: password.trim_end_matches(['\r', '\n']).to_string(),
                })
            }
        };
        let mut options = oci::options_from_env(reference.registry())?;
        if explicit.is_some() {
            options.credentials = Credentials::resolve(reference.registry(), explicit)?;
        }
        if self.ca_file.is_some() {
            options.ca_file = self.ca_file;
        }
        options.insecure |= self.insecure;
        Ok(Client::new(options)?)
    }
}

pub async fn run(command: EnvCommand, extra_plugins: &[PathBuf]) -> Result<ExitCode> {
    match command {
        EnvCommand::Push {
            dir,
            reference,
            registry,
        } => {
            let bundle = Bundle::load(&dir)?;
            let runtime = runtime(&bundle)?;
            let report = check(&bundle, &runtime, extra_plugins).await;
            if !report.ok() {
                eprint!("{report}");
                anyhow::bail!(
                    "{}: the bundle does not check out; nothing pushed",
                    dir.display()
                );
            }
            let reference: Reference = reference.trim_start_matches(oci::SCHEME).parse()?;
            let client = registry.client(&reference)?;
            let pushed = plinth_oci::push(&client, &dir, &reference).await?;
            println!(
                "pushed {} files ({} bytes, {} uploaded, {} already there) as {}:{}\n{}",
                pushed.files,
                pushed.bytes,
                pushed.uploaded,
                pushed.existing,
                reference,
                pushed.tag,
                pushed.pin
            );
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::Pull {
            reference,
            registry,
        } => {
            let reference: Reference = reference.trim_start_matches(oci::SCHEME).parse()?;
            let client = registry.client(&reference)?;
            let cache_dir = plinth_record::paths::cache_dir().unwrap_or_else(std::env::temp_dir);
            let pulled = plinth_oci::pull(&client, &reference, &Cache::new(&cache_dir)).await?;
            println!("{}\n{}", pulled.pin, pulled.dir.display());
            Ok(ExitCode::SUCCESS)
        }
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
