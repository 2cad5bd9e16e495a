//! [`LazyLock`]: `std::sync::LazyLock` whose initialisation waits are in the graph.

use std::fmt;
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};

use super::init_lock::InitLock;

/// A value initialised on first access, with the API of [`std::sync::LazyLock`] (and its
/// poisoning: an initialiser that panicked makes later accesses panic). Waiting for another
/// thread's initialiser, or forcing the value from inside its own initialiser, is a wait in the
/// wait-for graph.
///
/// ```
/// use lockprof::sync::LazyLock; // was: use std::sync::LazyLock;
///
/// static PRIMES: LazyLock<Vec<u32>> = LazyLock::new(|| vec![2, 3, 5]);
/// assert_eq!(PRIMES.len(), 3);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    inner: std::sync::LazyLock<T, F>,
    /// Set once `inner` is initialised: the fast path's check (std's `LazyLock::get` is not
    /// stable).
    done: AtomicBool,
    init: InitLock,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value initialised by `f`; `const`, for statics.
    ///
    /// ```
    /// let lazy = lockprof::sync::LazyLock::new(|| 1 + 1);
    /// assert_eq!(*lazy, 2);
    /// ```
    #[track_caller]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { inner: std::sync::LazyLock::new(f), done: AtomicBool::new(false), init: InitLock::new() }
    }

    /// Forces the value and returns it, as std's.
    ///
    /// ```
    /// use lockprof::sync::LazyLock;
    /// let lazy = LazyLock::new(|| "v");
    /// assert_eq!(*LazyLock::force(&lazy), "v");
    /// ```
    ///
    /// # Panics
    /// If the initialiser panics, now or before (as std's); under `LOCKPROF_ON_DEADLOCK=panic`,
    /// when the wait closes a deadlock.
    #[track_caller]
    #[inline]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        if this.done.load(Ordering::Acquire) {
            return &this.inner;
        }
        this.force_slow(Location::caller())
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn force_slow(&self, at: &'static Location<'static>) -> &T {
        let _init = self.init.hold(at);
        let value = std::sync::LazyLock::force(&self.inner);
        self.done.store(true, Ordering::Release);
        value
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    #[track_caller]
    #[inline]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    #[track_caller]
    fn default() -> Self {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
