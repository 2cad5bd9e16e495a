//! [`LazyLock`]: `std::sync::LazyLock`'s API, whose initialisation waits are in the graph.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;
use std::panic::Location;

use super::init_lock::InitLock;

/// A value initialised on first access, with the API of [`std::sync::LazyLock`] (and its
/// poisoning: after an initialiser panicked, every access panics). Waiting for another thread's
/// initialiser, or forcing the value from inside its own initialiser, is a wait in the wait-for
/// graph.
///
/// ```
/// use lockprof::sync::LazyLock; // was: use std::sync::LazyLock;
///
/// static PRIMES: LazyLock<Vec<u32>> = LazyLock::new(|| vec![2, 3, 5]);
/// assert_eq!(PRIMES.len(), 3);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    /// The value, once initialised: the fast path is its one check, as std's.
    cell: std::sync::OnceLock<T>,
    /// The initialiser until it is taken; touched only with `init` held.
    f: UnsafeCell<Option<F>>,
    init: InitLock,
}

// SAFETY: as std's `LazyLock`: the value is shared (`T: Sync`) and may be created on any thread
// (`T: Send`); the initialiser is run by whichever thread forces first (`F: Send`), and `f` is
// only touched by the thread holding the initialisation lock.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value initialised by `f`; `const`, for statics.
    ///
    /// ```
    /// let lazy = lockprof::sync::LazyLock::new(|| 1 + 1);
    /// assert_eq!(*lazy, 2);
    /// ```
    #[track_caller]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { cell: std::sync::OnceLock::new(), f: UnsafeCell::new(Some(f)), init: InitLock::new() }
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
        match this.cell.get() {
            Some(value) => value,
            None => this.force_slow(Location::caller()),
        }
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn force_slow(&self, at: &'static Location<'static>) -> &T {
        let _init = self.init.hold(at);
        if let Some(value) = self.cell.get() {
            return value; // another thread initialised it while this one waited
        }
        // SAFETY: `f` is touched only with the initialisation lock held, which this thread holds.
        let Some(f) = (unsafe { (*self.f.get()).take() }) else {
            panic!("LazyLock instance has previously been poisoned");
        };
        // If `f` panics, it is gone and the cell stays empty: later accesses panic above, as
        // std's poisoned `LazyLock` does.
        let value = f();
        self.cell.get_or_init(|| value)
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
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(value) => d.field(value),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
