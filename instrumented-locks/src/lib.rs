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
//! The engine is in `lockprof_profiler`; the `lockprof` CLI reads the traces.
//!
//! # Cargo features
//!
//! - `profiler` (default): lockprof on, the runtime (`lockprof-profiler`) linked in.
//! - `parking_lot`: the `lockprof::parking_lot` module, parking_lot's API
//!   (`Mutex`, `RwLock` with recursive and upgradable reads, `ReentrantMutex`, `Condvar`) with
//!   the same deadlock detection.
//! - `tokio`: the `lockprof::tokio` module, `tokio::sync`'s `Mutex`, `RwLock` and `Semaphore`
//!   (wrapping tokio's own) with tasks as owners and waiters in the wait-for graph.
//! - `off`, or the default features turned off: lockprof compiled out, for release builds. Every
//!   lock type becomes the plain one: `lockprof::Mutex` *is* `std::sync::Mutex` (a re-export:
//!   same type, same size, same code), likewise `MutexGuard`, `RwLock` and its guards, `Condvar`,
//!   and with `parking_lot` the types of `lockprof::parking_lot` are parking_lot's own.
//!   [`Semaphore`] (std has none) becomes a plain mutex-and-condvar semaphore with the same API.
//!   `with_name` stays available through the [`Named`] and [`NamedCondvar`] traits (import
//!   [`prelude`]`::*`), which drop the name; what lockprof alone has (`site()`, the trace) is not
//!   there. `default-features = false, features = ["off"]` also keeps cargo from building the
//!   runtime (a feature cannot remove a dependency, so `off` alone still builds it). Since cargo
//!   unifies features, this is meant for the final binary's build, not for libraries to enable.
//!
//! ```
//! use lockprof::prelude::*; // compiles with lockprof on and off
//!
//! let ledger = Mutex::with_name(Vec::<u64>::new(), "ledger");
//! ledger.lock().unwrap().push(1);
//! assert_eq!(ledger.lock().unwrap().len(), 1);
//! ```

#![warn(missing_docs)]

#[cfg(all(feature = "profiler", not(feature = "off")))]
mod condvar;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod mutex;
mod named;
#[cfg(any(feature = "off", not(feature = "profiler")))]
mod off;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod once;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod poison;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod raw;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod rwlock;
#[cfg(all(feature = "profiler", not(feature = "off")))]
mod semaphore;
pub mod sync;
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub mod thread;

/// `std::thread` itself: lockprof compiled out (feature `off`).
///
/// ```
/// assert_eq!(lockprof::thread::spawn(|| 1).join().unwrap(), 1);
/// ```
#[cfg(any(feature = "off", not(feature = "profiler")))]
pub mod thread {
    pub use std::thread::*;
}

#[cfg(all(feature = "parking_lot", feature = "profiler", not(feature = "off")))]
pub mod parking_lot;

#[cfg(all(feature = "tokio", feature = "profiler", not(feature = "off")))]
pub mod tokio;

/// tokio's own lock types: lockprof's `tokio` module compiled out (features `tokio` and `off`).
///
/// ```
/// let m = lockprof::tokio::Mutex::new(1);
/// assert_eq!(*m.try_lock().unwrap(), 1);
/// ```
#[cfg(all(feature = "tokio", any(feature = "off", not(feature = "profiler"))))]
pub mod tokio {
    pub use ::tokio::sync::{
        AcquireError, MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard,
        OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, OwnedSemaphorePermit,
        RwLock, RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit,
        TryAcquireError, TryLockError,
    };
}

/// parking_lot's own lock types: lockprof's `parking_lot` flavour compiled out (features
/// `parking_lot` and `off`).
///
/// ```
/// let m = lockprof::parking_lot::Mutex::new(1);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 2);
/// ```
#[cfg(all(feature = "parking_lot", any(feature = "off", not(feature = "profiler"))))]
pub mod parking_lot {
    pub use ::parking_lot::{
        Condvar, FairMutex, FairMutexGuard, MappedFairMutexGuard, MappedMutexGuard, MappedRwLockReadGuard,
        MappedRwLockWriteGuard, Mutex, MutexGuard, Once, OnceState, ReentrantMutex, ReentrantMutexGuard,
        RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard, WaitTimeoutResult,
        const_fair_mutex, const_mutex, const_reentrant_mutex, const_rwlock, lock_api,
    };
}

#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use condvar::Condvar;
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use mutex::{Mutex, MutexGuard};
pub use named::{Named, NamedCondvar};
#[cfg(any(feature = "off", not(feature = "profiler")))]
pub use off::{Semaphore, SemaphorePermit};
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use semaphore::{Semaphore, SemaphorePermit};
/// With lockprof off, its lock types are std's own.
#[cfg(any(feature = "off", not(feature = "profiler")))]
pub use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
/// Re-exported so code written against `std::sync` keeps compiling with `lockprof::` paths:
/// every item of [`sync`] is also at the crate root (`use lockprof::{Arc, Mutex, mpsc};`).
pub use sync::{
    Arc, Barrier, BarrierWaitResult, LazyLock, LockResult, Once, OnceLock, OnceState, PoisonError,
    TryLockError, TryLockResult, WaitTimeoutResult, Weak, atomic, mpsc,
};

/// One glob import for code that must compile with lockprof on and off: the lock types and
/// [`Named`] (for `with_name`).
///
/// ```
/// use lockprof::prelude::*;
/// let m = Mutex::with_name(1, "m");
/// let cv = Condvar::new();
/// let _ = (m.lock().unwrap(), cv);
/// ```
pub mod prelude {
    pub use crate::{
        Condvar, Mutex, MutexGuard, Named, NamedCondvar, RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore,
    };
}
