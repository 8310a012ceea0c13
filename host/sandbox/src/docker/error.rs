//! Errors of the Docker backends, and how Engine API failures become
//! [`SandboxError`]s.

use bollard::errors::Error as ApiError;

use crate::SandboxError;

/// A failure outside any one sandbox: reaching an engine, starting a pool.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker host `{url}`: {reason}")]
    BadHost { url: String, reason: String },
    #[error("cannot reach the docker engine at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: ApiError,
    },
    #[error("docker engine at {url}: {source}")]
    Api {
        url: String,
        #[source]
        source: ApiError,
    },
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
}

/// The HTTP status of an error the engine answered with.
pub(super) fn status(e: &ApiError) -> Option<u16> {
    match e {
        ApiError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// True when the engine could not be talked to at all (as opposed to an
/// answer saying no).
pub(super) fn is_transport(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::HyperResponseError { .. }
            | ApiError::HttpClientError { .. }
            | ApiError::IOError { .. }
            | ApiError::RequestTimeoutError
    )
}

/// Maps an error of an operation on container `what` to a sandbox error: a
/// container the engine no longer has or that is not running, and an engine
/// that cannot be reached, mean the sandbox is gone (an infrastructure
/// failure); anything else is reported as is.
pub(super) fn sandbox_error(what: &str, e: ApiError) -> SandboxError {
    match status(&e) {
        Some(404) => SandboxError::Dead(format!("{what} no longer exists")),
        Some(409) => SandboxError::Dead(format!("{what} is not running: {}", message(&e))),
        _ if is_transport(&e) => SandboxError::Dead(format!("{what}: docker engine lost: {e}")),
        _ => SandboxError::Other(format!("{what}: {}", message(&e))),
    }
}

/// The engine's own message for an HTTP error, else the error's text.
pub(super) fn message(e: &ApiError) -> String {
    match e {
        ApiError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
