//! One way to take a lock. plinth's mutexes guard plain bookkeeping (maps of
//! pools and locks, counters, queues) that is consistent between statements,
//! so a panic in one holder leaves nothing half-done: the next holder takes
//! the data as it is instead of turning one failed run into a failure of
//! every later one.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub trait Locked<T> {
    /// The guard, whether or not an earlier holder panicked.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
