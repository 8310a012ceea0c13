//! What the host offers plugins: the `host` interface (logging) and the
//! `sandbox` interface (the session lent for one call, used only as far as
//! the plugin's grants allow: see `grants`).
//!
//! They are implemented once, on host types, and bound to every API version
//! the host speaks: 0.1 and 0.2 spell both interfaces alike, so one macro body
//! converts each version's WIT types, and the versions cannot drift apart.

use std::path::PathBuf;
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, Resource};

use super::grants::{self, Capability, Denied, Grants};
use super::state::{SessionHandle, StoreState};
use plinth_sandbox::{ExecOutput, ExecRequest, Sandbox, SandboxError};

/// Adds every version's `host` interface: what all plugins may import.
pub(crate) fn add_host(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    super::bindings::v0_1::host::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    super::bindings::v0_2::host::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// Adds every version's `sandbox` interface: what tools and scorers may
/// import besides `host`.
pub(crate) fn add_sandbox(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    super::bindings::v0_1::sandbox::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    super::bindings::v0_2::sandbox::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// Runs a sandbox operation for the guest, counting its time as the host's
/// so the guest's CPU budget covers only its own work.
async fn timed<T>(state: &mut StoreState, operation: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = operation.await;
    state.host_time += started.elapsed();
    result
}

async fn exec(
    state: &mut StoreState,
    session: &Resource<SessionHandle>,
    request: ExecRequest,
) -> wasmtime::Result<Result<ExecOutput, SandboxError>> {
    let sandbox = state.session(session)?;
    if let Err(denied) = state.grants.check_exec() {
        return Ok(Err(deny(state, denied)));
    }
    Ok(timed(state, sandbox.exec(request)).await)
}

async fn read_file(
    state: &mut StoreState,
    session: &Resource<SessionHandle>,
    path: &str,
) -> wasmtime::Result<Result<Vec<u8>, SandboxError>> {
    let sandbox = state.session(session)?;
    let grants = state.grants.clone();
    let checked = check_path(&grants, &*sandbox, Capability::Read, path);
    if let Err(denied) = timed(state, checked).await {
        return Ok(Err(deny(state, denied)));
    }
    Ok(timed(state, sandbox.read_file(path)).await)
}

async fn write_file(
    state: &mut StoreState,
    session: &Resource<SessionHandle>,
    path: &str,
    contents: &[u8],
) -> wasmtime::Result<Result<(), SandboxError>> {
    let sandbox = state.session(session)?;
    let grants = state.grants.clone();
    let checked = check_path(&grants, &*sandbox, Capability::Write, path);
    if let Err(denied) = timed(state, checked).await {
        return Ok(Err(deny(state, denied)));
    }
    Ok(timed(state, sandbox.write_file(path, contents)).await)
}

/// Notes a use beyond the grants (the first one fails the call) and tells
/// the guest.
fn deny(state: &mut StoreState, denied: Denied) -> SandboxError {
    let message = format!("plugin `{}`: {denied}", state.plugin);
    tracing::warn!("{message}");
    state.denied.get_or_insert(denied);
    SandboxError::Other(message)
}

/// May a plugin with `grants` use `capability` on `path`? Checked on the
/// path as written (`..` resolved) and on where the sandbox would really
/// go (links resolved in the sandbox), against the granted directories'
/// own real paths.
async fn check_path(
    grants: &Grants,
    sandbox: &dyn Sandbox,
    capability: Capability,
    path: &str,
) -> Result<(), Denied> {
    let cwd = sandbox.cwd();
    let Some(roots) = grants.roots(capability, cwd, path)? else {
        return Ok(());
    };
    let outside = |why: String| Denied {
        capability,
        detail: format!("`{path}` {why}; granted: {}", shown(&roots)),
    };
    let wanted = plinth_record::paths::absolute(cwd, path);
    if !grants::within(&wanted, &roots) {
        return Err(outside("is outside what was granted".into()));
    }
    let real = |p: PathBuf| async move {
        sandbox
            .real_path(&p.to_string_lossy())
            .await
            .map(PathBuf::from)
    };
    let resolve_failed = |e: SandboxError| outside(format!("could not be resolved ({e})"));
    let target = real(wanted).await.map_err(resolve_failed)?;
    let mut real_roots = Vec::with_capacity(roots.len());
    for root in &roots {
        real_roots.push(real(root.clone()).await.map_err(resolve_failed)?);
    }
    if grants::within(&target, &real_roots) {
        Ok(())
    } else {
        Err(outside(format!(
            "leads through a symbolic link to {}",
            target.display()
        )))
    }
}

fn shown(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn cwd(state: &StoreState, session: &Resource<SessionHandle>) -> wasmtime::Result<String> {
    Ok(state.session(session)?.cwd().to_string())
}

/// Binds the functions above to one version's generated traits.
macro_rules! bind_version {
    ($version:ident) => {
        mod $version {
            use wasmtime::component::Resource;

            use crate::bindings::$version::{host, sandbox, types};
            use crate::state::{SessionHandle, StoreState};
            use plinth_sandbox::{ExecRequest, SandboxError};

            impl host::Host for StoreState {
                async fn log(
                    &mut self,
                    level: host::LogLevel,
                    message: String,
                ) -> wasmtime::Result<()> {
                    // Into the host's log, under the plugin's name.
                    let plugin = &*self.plugin;
                    match level {
                        host::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
                        host::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
                        host::LogLevel::Info => tracing::info!(plugin, "{message}"),
                        host::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
                        host::LogLevel::Error => tracing::error!(plugin, "{message}"),
                    }
                    Ok(())
                }
            }

            impl sandbox::Host for StoreState {}

            impl sandbox::HostSession for StoreState {
                async fn exec(
                    &mut self,
                    session: Resource<SessionHandle>,
                    request: sandbox::ExecRequest,
                ) -> wasmtime::Result<Result<types::ExecOutput, sandbox::SandboxError>> {
                    let request = ExecRequest {
                        command: request.command,
                        timeout: request
                            .timeout_secs
                            .map(|s| std::time::Duration::from_secs(s.into())),
                        env: request.env,
                        cwd: request.cwd,
                    };
                    Ok(super::exec(self, &session, request)
                        .await?
                        .map(types::ExecOutput::from)
                        .map_err(sandbox_error))
                }

                async fn read_file(
                    &mut self,
                    session: Resource<SessionHandle>,
                    path: String,
                ) -> wasmtime::Result<Result<Vec<u8>, sandbox::SandboxError>> {
                    Ok(super::read_file(self, &session, &path)
                        .await?
                        .map_err(sandbox_error))
                }

                async fn write_file(
                    &mut self,
                    session: Resource<SessionHandle>,
                    path: String,
                    contents: Vec<u8>,
                ) -> wasmtime::Result<Result<(), sandbox::SandboxError>> {
                    Ok(super::write_file(self, &session, &path, &contents)
                        .await?
                        .map_err(sandbox_error))
                }

                async fn cwd(
                    &mut self,
                    session: Resource<SessionHandle>,
                ) -> wasmtime::Result<String> {
                    super::cwd(self, &session)
                }

                async fn drop(&mut self, session: Resource<SessionHandle>) -> wasmtime::Result<()> {
                    // The guest only ever borrows the session; the host owns
                    // and deletes it.
                    let _ = session;
                    Ok(())
                }
            }

            fn sandbox_error(e: SandboxError) -> sandbox::SandboxError {
                match e {
                    SandboxError::NotFound(m) => sandbox::SandboxError::NotFound(m),
                    SandboxError::Dead(m) => sandbox::SandboxError::Dead(m),
                    SandboxError::Other(m) => sandbox::SandboxError::Other(m),
                }
            }
        }
    };
}

bind_version!(v0_1);
bind_version!(v0_2);
