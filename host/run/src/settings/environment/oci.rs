//! `--environment oci://REF`: a bundle pulled from an OCI registry into
//! plinth's content-addressed cache (`plinth-oci`), verified on every load,
//! and pinned by its manifest digest in every record.
//!
//! Pulling is the only network a bundle's loading does, once per run at
//! start: it runs on a current-thread runtime of its own, so loading stays
//! one synchronous call whether or not a runtime is already running.

use std::path::{Path, PathBuf};

use plinth_oci::{Cache, Client, Credentials, OciError, Pin, Reference, RegistryOptions};
use plinth_record::settings::RecordedOci;

/// The scheme that names a registry reference where a directory is expected.
pub const SCHEME: &str = "oci://";

/// Where registries are reached from, read from the environment (a run has
/// no flags for it): `PLINTH_REGISTRY_USERNAME` / `PLINTH_REGISTRY_PASSWORD`
/// or docker's `config.json`, `PLINTH_REGISTRY_CA` (a PEM file), and
/// `PLINTH_REGISTRY_INSECURE=1` (plain HTTP).
pub fn options_from_env(registry: &str) -> Result<RegistryOptions, OciError> {
    Ok(RegistryOptions {
        credentials: Credentials::resolve(registry, None)?,
        ca_file: std::env::var_os("PLINTH_REGISTRY_CA").map(PathBuf::from),
        insecure: std::env::var("PLINTH_REGISTRY_INSECURE").as_deref() == Ok("1"),
    })
}

/// The reference in `dir` when it names one (`oci://...`).
pub fn reference_in(dir: &Path) -> Option<&str> {
    dir.to_str().and_then(|text| text.strip_prefix(SCHEME))
}

/// Pulls `reference` into `cache_dir` (or plinth's cache) and returns the
/// bundle's directory there and its pin.
pub fn pull_blocking(
    reference: &str,
    cache_dir: Option<&Path>,
) -> Result<(PathBuf, Pin), OciError> {
    let reference: Reference = reference.parse()?;
    let cache = Cache::new(
        &cache_dir
            .map(Path::to_path_buf)
            .or_else(plinth_record::paths::cache_dir)
            .unwrap_or_else(std::env::temp_dir),
    );
    let options = options_from_env(reference.registry())?;
    let client = Client::new(options)?;
    // A thread of its own: a runtime cannot be blocked on from inside one.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| OciError::Io {
                        path: PathBuf::from(SCHEME),
                        source: e,
                    })?;
                runtime.block_on(plinth_oci::pull(&client, &reference, &cache))
            })
            .join()
            .expect("the pulling thread does not panic")
    })
    .map(|pulled| (pulled.dir, pulled.pin))
}

/// What records say of a pinned bundle.
pub fn recorded(pin: &Pin) -> RecordedOci {
    RecordedOci {
        registry: pin.registry.clone(),
        repository: pin.repository.clone(),
        digest: pin.digest.to_string(),
    }
}
