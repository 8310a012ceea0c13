//! Capability grants, resolved: what each plugin that is not built in may
//! do with its sandbox session (see `plugin::Grants`), and the opt-in that
//! running such a plugin's commands on the `local` backend needs.

use std::collections::BTreeMap;

use plinth_record::settings::SandboxKind;

use super::{GrantOptions, SettingsError, invalid};
use plinth_plugin::builtins::BUILTINS;
use plinth_plugin::{Grants, RuntimeConfig};

/// The run's grants by plugin: the bundle's, each `--grant` replacing the
/// bundle's grant for its plugin.
fn plugin_grants(options: &GrantOptions) -> Result<BTreeMap<String, Grants>, SettingsError> {
    let mut grants = BTreeMap::new();
    for (spec, capabilities) in &options.bundle_grants {
        let parsed = Grants::parse(capabilities).map_err(|e| invalid("grants", e))?;
        grants.insert(spec.clone(), parsed);
    }
    for flag in &options.grant {
        let (spec, capabilities) = flag
            .split_once('=')
            .filter(|(spec, _)| !spec.is_empty())
            .ok_or_else(|| invalid("--grant", format!("`{flag}` is not PLUGIN=CAP,CAP")))?;
        let capabilities: Vec<&str> = capabilities
            .split(',')
            .filter(|c| !c.trim().is_empty())
            .collect();
        let parsed = Grants::parse(&capabilities).map_err(|e| invalid("--grant", e))?;
        grants.insert(spec.to_string(), parsed);
    }
    Ok(grants)
}

/// Gives `config` the run's grants, refusing a plugin that is not built
/// in and may run commands on the `local` backend unless the user said
/// `--allow-local-exec` (then it is only a warning): there a command runs
/// as the user, on the user's machine.
pub fn grant(
    config: &mut RuntimeConfig,
    options: &GrantOptions,
    sandbox: SandboxKind,
) -> Result<(), SettingsError> {
    let grants = plugin_grants(options)?;
    let local_exec: Vec<&str> = grants
        .iter()
        .filter(|(spec, g)| g.exec && !BUILTINS.iter().any(|(name, _)| name == spec))
        .map(|(spec, _)| spec.as_str())
        .collect();
    if sandbox == SandboxKind::Local && !local_exec.is_empty() {
        let who = local_exec.join(", ");
        if options.allow_local_exec.unwrap_or(false) {
            tracing::warn!(
                "{who} may run commands on the local backend: they run as you, on this machine, \
                 with your files and network (--allow-local-exec)"
            );
        } else {
            return Err(invalid(
                "--allow-local-exec",
                format!(
                    "{who} is granted `exec` on the local backend, where its commands would run \
                     as you on this machine (not isolation); run it in --sandbox docker, or pass \
                     --allow-local-exec to accept that"
                ),
            ));
        }
    }
    config.plugin_grants = grants;
    Ok(())
}
