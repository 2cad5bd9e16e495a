//! The whole of `std::sync`, with lockprof's instrumented blocking types in place of std's: swap
//! `std::sync` for `lockprof::sync` in any import line and nothing else changes.
//!
//! ```
//! use lockprof::sync::{Arc, Mutex, mpsc}; // was: use std::sync::{Arc, Mutex, mpsc};
//!
//! let total = Arc::new(Mutex::new(0));
//! let (tx, rx) = mpsc::channel();
//! let worker = {
//!     let total = Arc::clone(&total);
//!     std::thread::spawn(move || {
//!         for n in rx {
//!             *total.lock().unwrap() += n;
//!         }
//!     })
//! };
//! for n in 1..=3 {
//!     tx.send(n).unwrap();
//! }
//! drop(tx);
//! worker.join().unwrap();
//! assert_eq!(*total.lock().unwrap(), 6);
//! ```
//!
//! In the wait-for graph: [`Mutex`], [`RwLock`] and [`Condvar`] (lockprof's own types). Re-exported
//! from std unchanged (same types, so values mix freely with code that uses `std::sync`):
//! [`Arc`], [`Weak`], [`atomic`], [`mpsc`], [`Barrier`], [`Once`], [`OnceLock`], [`LazyLock`] and
//! the result and error types. Unstable items of `std::sync` (`mpmc`, `Exclusive`,
//! `ReentrantLock`, `MappedMutexGuard`, ...) are not re-exported: they need a nightly compiler.

#[allow(deprecated)]
pub use std::sync::ONCE_INIT;
pub use std::sync::{
    Arc, Barrier, BarrierWaitResult, LazyLock, LockResult, Once, OnceLock, OnceState, PoisonError,
    TryLockError, TryLockResult, WaitTimeoutResult, Weak, atomic, mpsc,
};

pub use crate::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
