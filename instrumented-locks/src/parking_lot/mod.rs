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
//! Not provided (yet): mapped guards (`map`, `try_map`), `unlocked`, fair unlocking and `bump`,
//! `Arc` guards, `FairMutex`, `Once`. Unlike parking_lot's, the [`Condvar`] does not panic when
//! used with two mutexes at once.

mod condvar;
mod mutex;
mod raw;
mod remutex;
mod rwlock;

pub use ::parking_lot::WaitTimeoutResult;
pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard, const_mutex};
pub use remutex::{ReentrantMutex, ReentrantMutexGuard, const_reentrant_mutex};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard, const_rwlock};
