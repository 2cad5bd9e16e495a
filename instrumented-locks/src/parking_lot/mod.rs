//! parking_lot's locks with deadlock detection (cargo feature `parking_lot`).
//!
//! Change the import, nothing else:
//!
//! ```
//! use lockprof::parking_lot::{Mutex, RwLock}; // was: use parking_lot::{Mutex, RwLock};
//!
//! let m = Mutex::new(1);
//! *m.lock() += 1; // no poisoning, no `unwrap`
//! assert_eq!(*m.lock(), 2);
//!
//! let rw = RwLock::new(vec![1]);
//! let up = rw.upgradable_read();
//! let mut w = lockprof::parking_lot::RwLockUpgradableReadGuard::upgrade(up);
//! w.push(2);
//! drop(w);
//! assert_eq!(rw.read_recursive().len(), 2);
//! ```
//!
//! The types have parking_lot's API (no poisoning, `Option` from `try_*`, timed acquisitions,
//! recursive and upgradable reads, guards' associated functions such as
//! [`RwLockUpgradableReadGuard::upgrade`]), and are instrumented like lockprof's std flavour:
//! every blocking acquisition records lock-order edges and, if it has to wait longer than the
//! grace period, is checked for deadlock.
//!
//! How each acquisition appears to the deadlock detector:
//! - `lock`, `write`: exclusive; `read`: shared, queued behind waiting writers (parking_lot's
//!   `RwLock` is task-fair); `read_recursive`: a recursive read, which only a writer that *holds*
//!   the lock blocks (parking_lot lets it overtake queued writers); `upgradable_read`: shared
//!   with readers, exclusive with writers and other upgradable readers.
//! - Timed acquisitions (`try_lock_for`, `try_write_until`, ...) record order edges but are never
//!   part of a reported deadlock: they end by themselves.
//! - An upgrade ([`RwLockUpgradableReadGuard::upgrade`]) is a wait for exclusive access. While it
//!   waits, the thread's upgradable hold is not shown to the detector (it would otherwise block
//!   its own upgrade): its owner record and held-stack entry are released first and the upgrade
//!   is then acquired like a write. That can hide a deadlock through the upgradable hold, never
//!   invent one.
//! - A [`ReentrantMutex`] re-locked by the thread that holds it does not wait, records no order
//!   edge and pushes nothing: the thread's held stack keeps the outermost acquisition until the
//!   last guard goes.
//! - [`Condvar`] releases the mutex in the graph while waiting and re-acquires it through the
//!   ordinary lock path.
//!
//! Also here: mapped guards ([`MutexGuard::map`], [`RwLockReadGuard::map`],
//! [`RwLockWriteGuard::map`], `try_map`), [`MutexGuard::unlocked`], fair unlocking and `bump`,
//! [`FairMutex`] (lockprof's [`Mutex`]: parking_lot's `FairMutex` differs only in always
//! unlocking fairly, a scheduling property; use [`MutexGuard::unlock_fair`] where it matters),
//! [`Once`] (parking_lot's own, not in the wait-for graph), the const constructors, and
//! parking_lot's [`lock_api`] re-exported for code that names its traits.
//!
//! Not provided, and why: `Arc` guards (`lock_arc`, parking_lot's `arc_lock` feature) and
//! `Mutex::raw`/`force_unlock`/`make_guard_unchecked` (they hand out the raw lock, past the
//! profiler's bookkeeping); `lock_api`'s traits are not implemented by lockprof's types (they are
//! not `lock_api::Mutex<R, T>`, whose raw-lock parameter cannot carry a holder record); mapped
//! guards of [`ReentrantMutex`] and of upgradable reads; `unlocked` and `bump` on `RwLock` guards.
//! Unlike parking_lot's, the [`Condvar`] does not panic when used with two mutexes at once.

mod condvar;
mod mapped;
mod mutex;
mod raw;
mod remutex;
mod rwlock;

pub use ::parking_lot::{Once, OnceState, WaitTimeoutResult, lock_api};
pub use condvar::Condvar;
pub use mapped::{MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard};
pub use mutex::{Mutex, MutexGuard, const_mutex};

/// parking_lot's `FairMutex`, which is its `Mutex` with every unlock fair: here lockprof's
/// [`Mutex`] (unlock fairly with [`MutexGuard::unlock_fair`]).
///
/// ```
/// use lockprof::parking_lot::{FairMutex, FairMutexGuard, const_fair_mutex};
/// static JOBS: FairMutex<u32> = const_fair_mutex(0);
/// let mut g: FairMutexGuard<'_, u32> = JOBS.lock();
/// *g += 1;
/// ```
pub type FairMutex<T> = Mutex<T>;
/// The guard of a [`FairMutex`].
pub type FairMutexGuard<'a, T> = MutexGuard<'a, T>;
/// A mapped guard of a [`FairMutex`].
pub type MappedFairMutexGuard<'a, T> = MappedMutexGuard<'a, T>;

/// Creates a [`FairMutex`] in a `const` context, as parking_lot's `const_fair_mutex`.
///
/// ```
/// static M: lockprof::parking_lot::FairMutex<u8> = lockprof::parking_lot::const_fair_mutex(1);
/// assert_eq!(*M.lock(), 1);
/// ```
#[track_caller]
pub const fn const_fair_mutex<T>(value: T) -> FairMutex<T> {
    Mutex::new(value)
}
pub use remutex::{ReentrantMutex, ReentrantMutexGuard, const_reentrant_mutex};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard, const_rwlock};
