//! What plugin calls cost, for `plinth plugins check`: each call's wall and
//! guest time and the largest linear memory it asked for. Collected only
//! inside [`measured`] (a task-local), so a run pays nothing for it.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

/// One plugin call's cost.
#[derive(Debug, Clone)]
pub struct CallStats {
    pub plugin: String,
    /// From the store's creation to the call's end, host calls included.
    pub wall: Duration,
    /// The guest's own time (what the CPU budget counts).
    pub guest: Duration,
    /// Bytes of linear memory at the call's peak (its request, when refused).
    pub peak_memory: usize,
}

tokio::task_local! {
    static CALLS: RefCell<Vec<CallStats>>;
}

/// Runs `f`, returning its output and the stats of every plugin call made
/// while it ran (on this task).
pub async fn measured<F: Future>(f: F) -> (F::Output, Vec<CallStats>) {
    CALLS
        .scope(RefCell::new(Vec::new()), async move {
            let output = f.await;
            let calls = CALLS.with(|calls| calls.take());
            (output, calls)
        })
        .await
}

/// Records a call's stats when inside [`measured`].
pub(super) fn note(stats: CallStats) {
    let _ = CALLS.try_with(|calls| calls.borrow_mut().push(stats));
}
