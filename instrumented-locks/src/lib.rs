//! Drop-in replacements for `std::sync`'s locks that catch deadlocks the moment they form.
//!
//! Change the import, nothing else:
//!
//! ```
//! use lockprof::Mutex; // was: use std::sync::Mutex;
//!
//! static TOTAL: Mutex<u64> = Mutex::new(0);
//! *TOTAL.lock().unwrap() += 1;
//! ```
//!
//! When a thread's wait closes a cycle (it waits for a lock held by a thread that waits, directly
//! or through others, for a lock it holds), lockprof reports the deadlock with every thread's
//! locks, source lines and stacks, writes the trace (`LOCKPROF_TRACE=path`), and applies
//! `LOCKPROF_ON_DEADLOCK` (`panic` by default, `abort`, or `report`). The uncontended path costs
//! a few plain stores: no clock, no allocation, no global lock, no backtrace.
//!
//! The engine is in [`lockprof_profiler`]; the `lockprof` CLI reads the traces.

#![warn(missing_docs)]

mod condvar;
mod mutex;
mod poison;
mod raw;
mod rwlock;
mod semaphore;

pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
/// Re-exported so code written against `std::sync` keeps compiling with `lockprof::` paths.
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult};
