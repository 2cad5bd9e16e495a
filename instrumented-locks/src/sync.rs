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
//! In the wait-for graph (lockprof's own types, std's API): [`Mutex`], [`RwLock`], [`Condvar`],
//! and one-time initialisation, [`Once`], [`OnceLock`] and [`LazyLock`] (a wait for another
//! thread's initialiser, or a re-entrant one, is a wait in the graph). Known to the all-asleep
//! rule (lockprof's wrappers over std's, std's API): [`mpsc`]'s channels, [`Barrier`], and the
//! untimed waits of [`Condvar`]. Re-exported from std unchanged (same types, so values mix
//! freely with code that uses `std::sync`): [`Arc`], [`Weak`], [`atomic`], [`BarrierWaitResult`]
//! and the result and error types. Unstable items of `std::sync` (`mpmc`, `Exclusive`,
//! `ReentrantLock`, `MappedMutexGuard`, ...) are not re-exported: they need a nightly compiler.

#[cfg(any(feature = "off", not(feature = "profiler")))]
#[allow(deprecated)]
pub use std::sync::ONCE_INIT;

/// Initialisation value for static [`Once`] values, as std's (deprecated there too: use
/// [`Once::new`]).
///
/// ```
/// #![allow(deprecated)]
/// static START: lockprof::sync::Once = lockprof::sync::ONCE_INIT;
/// START.call_once(|| ());
/// ```
#[cfg(all(feature = "profiler", not(feature = "off")))]
#[deprecated(since = "1.38.0", note = "the `Once::new()` function is now preferred")]
#[allow(clippy::declare_interior_mutable_const)] // as std's: each use is a fresh `Once`
pub const ONCE_INIT: Once = Once::new();
pub use std::sync::{
    Arc, BarrierWaitResult, LockResult, OnceState, PoisonError, TryLockError, TryLockResult,
    WaitTimeoutResult, Weak, atomic,
};
#[cfg(any(feature = "off", not(feature = "profiler")))]
pub use std::sync::{Barrier, mpsc};

#[cfg(all(feature = "profiler", not(feature = "off")))]
mod barrier;
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub mod mpsc;
#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use barrier::Barrier;
#[cfg(any(feature = "off", not(feature = "profiler")))]
pub use std::sync::{LazyLock, Once, OnceLock};

#[cfg(all(feature = "profiler", not(feature = "off")))]
pub use crate::once::{LazyLock, Once, OnceLock};
pub use crate::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
