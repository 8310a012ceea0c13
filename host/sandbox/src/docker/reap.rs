//! Finding and removing a run's containers by their labels: the whole run's
//! at shutdown, and those left behind by runs that were killed
//! (`plinth sandbox reap`).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;

use super::container::{
    self, LABEL_HOST, LABEL_PID, LABEL_RUN, LABEL_STARTED, hostname, process_start,
};
use super::engines::{Engine, Engines};
use super::error::DockerError;

/// Rounds of listing and removing a run's containers before giving up.
const SWEEPS: usize = 50;
const SWEEP_PAUSE: Duration = Duration::from_millis(100);

/// A container `reap` removed.
#[derive(Debug, Clone)]
pub struct Reaped {
    pub engine: String,
    pub id: String,
    pub name: String,
    pub run: String,
    pub age: Duration,
}

/// Removes every container of run `run_id` on every engine, and checks they
/// are gone: a removal already under way elsewhere (a sandbox dropped just
/// before) answers at once but may not finish if the process then exits.
/// Failures are logged: this runs while a run ends and must not stop it.
pub(super) async fn remove_run(engines: &Engines, run_id: &str) {
    let label = format!("{LABEL_RUN}={run_id}");
    let sweeps = engines.list().iter().map(|engine| {
        let label = label.clone();
        async move {
            for _ in 0..SWEEPS {
                let found = match list(engine, &label).await {
                    Ok(found) if found.is_empty() => return,
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!("cannot list this run's containers: {e}");
                        return;
                    }
                };
                let removals = found
                    .iter()
                    .filter_map(|c| c.id.as_deref())
                    .map(|id| container::remove(engine, id));
                futures_util::future::join_all(removals).await;
                tokio::time::sleep(SWEEP_PAUSE).await;
            }
            tracing::warn!(
                "containers labelled {label} are still on {}: `plinth sandbox reap` removes them",
                engine.url()
            );
        }
    });
    futures_util::future::join_all(sweeps).await;
}

/// Removes containers of plinth runs that are no longer running and are at
/// least `older_than` old. A run counts as still running when it started on
/// this machine and its process is alive; runs of other machines are judged
/// by age alone, so give those an `older_than` longer than any run.
pub async fn reap(engines: &Engines, older_than: Duration) -> Result<Vec<Reaped>, DockerError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let this_host = hostname();
    let mut reaped = Vec::new();
    for engine in engines.list() {
        for found in list(engine, LABEL_RUN).await? {
            let labels = found.labels.clone().unwrap_or_default();
            let created = Duration::from_secs(found.created.unwrap_or(0).max(0) as u64);
            let age = now.saturating_sub(created);
            if age < older_than || run_is_alive(&labels, &this_host) {
                continue;
            }
            let Some(id) = found.id.clone() else { continue };
            container::remove(engine, &id).await;
            reaped.push(Reaped {
                engine: engine.url().to_string(),
                name: found
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                run: labels.get(LABEL_RUN).cloned().unwrap_or_default(),
                id,
                age,
            });
        }
    }
    Ok(reaped)
}

/// True when the labels name a process on this machine that still runs
/// (the same process: its start time matches).
fn run_is_alive(labels: &HashMap<String, String>, this_host: &str) -> bool {
    if labels.get(LABEL_HOST).map(String::as_str) != Some(this_host) {
        return false;
    }
    let number = |key: &str| labels.get(key).and_then(|v| v.parse::<u64>().ok());
    let (Some(pid), Some(started)) = (number(LABEL_PID), number(LABEL_STARTED)) else {
        return false;
    };
    u32::try_from(pid).is_ok_and(|pid| process_start(pid) == Some(started))
}

async fn list(engine: &Engine, label: &str) -> Result<Vec<ContainerSummary>, DockerError> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![label.to_string()],
        )])),
        ..ListContainersOptions::default()
    };
    engine
        .docker()
        .list_containers(Some(options))
        .await
        .map_err(|source| DockerError::Api {
            url: engine.url().to_string(),
            source,
        })
}
