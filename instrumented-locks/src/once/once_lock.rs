//! [`OnceLock`]: `std::sync::OnceLock` whose initialisation waits are in the graph.

use std::fmt;
use std::panic::Location;

use super::init_lock::InitLock;

/// A cell written once, with the API of [`std::sync::OnceLock`]; waiting for another thread's
/// initialiser, or forcing the cell from inside its own initialiser, is a wait in the wait-for
/// graph.
///
/// ```
/// use lockprof::sync::OnceLock; // was: use std::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// assert_eq!(CONFIG.get_or_init(|| "prod".into()), "prod");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("prod"));
/// ```
pub struct OnceLock<T> {
    inner: std::sync::OnceLock<T>,
    init: InitLock,
}

impl<T> OnceLock<T> {
    /// An empty cell; `const`, for statics.
    ///
    /// ```
    /// static CELL: lockprof::sync::OnceLock<u8> = lockprof::sync::OnceLock::new();
    /// assert!(CELL.get().is_none());
    /// ```
    #[track_caller]
    #[allow(clippy::new_without_default)] // `Default` exists, as std's
    pub const fn new() -> OnceLock<T> {
        OnceLock { inner: std::sync::OnceLock::new(), init: InitLock::new() }
    }

    /// The value, if initialised. Never blocks.
    ///
    /// ```
    /// let cell = lockprof::sync::OnceLock::new();
    /// let _ = cell.set(1);
    /// assert_eq!(cell.get(), Some(&1));
    /// ```
    pub fn get(&self) -> Option<&T> {
        self.inner.get()
    }

    /// The value, mutably, if initialised.
    ///
    /// ```
    /// let mut cell = lockprof::sync::OnceLock::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.inner.get_mut()
    }

    /// Initialises the cell with `value` unless it is, as std's: `Err(value)` if it already was.
    /// Waits (in the graph) for an initialisation under way on another thread.
    ///
    /// ```
    /// let cell = lockprof::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    ///
    /// # Errors
    /// `Err(value)` if the cell was already initialised.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, initialising it with `f` first if needed, as std's. A wait for another
    /// thread's `f` is a wait in the graph; forcing the cell from inside `f` is reported as a
    /// deadlock (std's would hang).
    ///
    /// ```
    /// let cell = lockprof::sync::OnceLock::new();
    /// assert_eq!(*cell.get_or_init(|| 7), 7);
    /// assert_eq!(*cell.get_or_init(|| 8), 7);
    /// ```
    ///
    /// # Panics
    /// If `f` panics (the cell stays empty), as std's; under `LOCKPROF_ON_DEADLOCK=panic`, when
    /// the wait closes a deadlock.
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(value) = self.inner.get() {
            return value;
        }
        self.init_slow(Location::caller(), f)
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn init_slow<F: FnOnce() -> T>(&self, at: &'static Location<'static>, f: F) -> &T {
        let _init = self.init.hold(at);
        self.inner.get_or_init(f)
    }

    /// The value, consuming the cell.
    ///
    /// ```
    /// assert_eq!(lockprof::sync::OnceLock::from(4).into_inner(), Some(4));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.inner.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = lockprof::sync::OnceLock::from(5);
    /// assert_eq!(cell.take(), Some(5));
    /// assert!(cell.get().is_none());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.inner.take()
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        OnceLock { inner: std::sync::OnceLock::from(value), init: InitLock::new() }
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        OnceLock { inner: self.inner.clone(), init: InitLock::new() }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
