//! Stopping a batch on SIGINT/SIGTERM without losing work: the first signal
//! ends the batch (checkpoints stay for `--resume`, sandboxes are removed),
//! a second one ends the process at once.

/// Resolves on the first SIGINT or SIGTERM, naming it. The handlers are
/// installed by the call, not on first poll, so no signal slips by; after
/// the first, a second signal ends the process at once.
pub(super) fn interrupted() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers =
        signal(SignalKind::interrupt()).and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
    async move {
        let Ok((mut int, mut term)) = handlers else {
            tracing::warn!(
                "cannot handle SIGINT/SIGTERM: sandboxes may outlive an interrupted run"
            );
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!(
                "plinth: interrupted again: exiting now (`plinth sandbox reap` removes leftover containers)"
            );
            std::process::exit(130);
        });
        name
    }
}
