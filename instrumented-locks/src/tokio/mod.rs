//! `tokio::sync`'s `Mutex`, `RwLock` and `Semaphore` (feature `tokio`), with their API and
//! semantics, and with tasks as nodes of lockprof's wait-for graph.
//!
//! Change the import, nothing else:
//!
//! ```
//! use lockprof::tokio::Mutex; // was: use tokio::sync::Mutex;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let counter = Mutex::new(0);
//! *counter.lock().await += 1;
//! assert_eq!(*counter.lock().await, 1);
//! # });
//! ```
//!
//! Each type wraps tokio's own (the queue, fairness and wake-ups are tokio's). Owners and
//! waiters are *tasks* (`tokio::task::try_id`); outside a task, the thread stands for itself. A
//! wait is published when an acquire future first returns `Pending` and withdrawn when it
//! completes or is dropped, so a cancelled wait (a `select!` loser, a timeout) is never part of
//! a deadlock. A deadlock among tasks, or between tasks and threads (`blocking_lock`), is
//! reported when its last wait starts; under the `panic` policy the acquire future whose wait
//! closed it panics when polled, and its task ends with the report.

mod acquire;
mod hold;
mod mutex;
mod node;
mod rwlock;
mod semaphore;

/// tokio's error types, which the wrapped operations return unchanged.
pub use ::tokio::sync::{AcquireError, TryAcquireError, TryLockError};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};
pub use rwlock::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard,
    RwLockReadGuard, RwLockWriteGuard,
};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
