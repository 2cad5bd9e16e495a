//! What lockprof is when compiled out (cargo feature `off`): std's and parking_lot's own types
//! (re-exported in `lib.rs`), and a plain [`Semaphore`], which std lacks.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A counting semaphore, with the API of lockprof's instrumented one and nothing else: a mutex
/// and a condition variable.
///
/// ```
/// use lockprof::Semaphore;
/// let pool = Semaphore::new(2);
/// let a = pool.acquire();
/// let b = pool.acquire();
/// assert_eq!(pool.available_permits(), 0);
/// assert!(pool.try_acquire().is_none());
/// drop(a);
/// assert!(pool.try_acquire().is_some());
/// # drop(b);
/// ```
pub struct Semaphore {
    available: Mutex<usize>,
    freed: Condvar,
}

impl Semaphore {
    /// A semaphore with `permits` permits; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static POOL: lockprof::Semaphore = lockprof::Semaphore::new(4);
    /// assert_eq!(POOL.available_permits(), 4);
    /// ```
    pub const fn new(permits: usize) -> Self {
        Semaphore { available: Mutex::new(permits), freed: Condvar::new() }
    }

    /// A semaphore; the name is for lockprof's reports, which do not exist when it is off.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::with_name(8, "db-pool");
    /// assert_eq!(pool.available_permits(), 8);
    /// ```
    pub fn with_name(permits: usize, _name: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Semaphore::new(permits)
    }

    /// A semaphore for a `static`; the name is for lockprof's reports.
    ///
    /// ```
    /// static POOL: lockprof::Semaphore = lockprof::Semaphore::with_static_name(2, "pool");
    /// assert_eq!(POOL.available_permits(), 2);
    /// ```
    pub const fn with_static_name(permits: usize, _name: &'static str) -> Self {
        Semaphore::new(permits)
    }

    /// Takes one permit, waiting until one is free.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(1);
    /// assert_eq!(pool.acquire().permits(), 1);
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting until that many are free.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(3);
    /// let two = pool.acquire_many(2);
    /// assert_eq!(pool.available_permits(), 1);
    /// # drop(two);
    /// ```
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        let mut available = self.lock();
        while *available < n {
            available = self.freed.wait(available).unwrap_or_else(PoisonError::into_inner);
        }
        *available -= n;
        SemaphorePermit { sem: self, n, _not_send: PhantomData }
    }

    /// Takes one permit if one is free, without waiting.
    ///
    /// ```
    /// assert!(lockprof::Semaphore::new(0).try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are free, without waiting.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(2);
    /// assert!(pool.try_acquire_many(3).is_none());
    /// assert!(pool.try_acquire_many(2).is_some());
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut available = self.lock();
        (*available >= n).then(|| {
            *available -= n;
            SemaphorePermit { sem: self, n, _not_send: PhantomData }
        })
    }

    /// How many permits are free now.
    ///
    /// ```
    /// assert_eq!(lockprof::Semaphore::new(5).available_permits(), 5);
    /// ```
    pub fn available_permits(&self) -> usize {
        *self.lock()
    }

    /// Adds `n` permits.
    ///
    /// ```
    /// let sem = lockprof::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut available = self.lock();
        *available = available.saturating_add(n);
        drop(available);
        self.freed.notify_all();
    }

    /// Always `None`: names are for lockprof's reports, which do not exist when it is off.
    ///
    /// ```
    /// assert_eq!(lockprof::Semaphore::with_name(1, "pool").name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        None
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // No user code runs under this lock, so a panic cannot leave the count inconsistent.
        self.available.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("available", &self.available_permits()).finish_non_exhaustive()
    }
}

/// Permits held from a [`Semaphore`]; dropping it returns them. `!Send`, as with lockprof on, so
/// code that compiles either way behaves the same.
///
/// ```
/// let pool = lockprof::Semaphore::new(1);
/// {
///     let _connection = pool.acquire();
///     assert_eq!(pool.available_permits(), 0);
/// }
/// assert_eq!(pool.available_permits(), 1);
/// ```
#[must_use = "if unused the permit is returned at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
    _not_send: PhantomData<*const ()>,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// assert_eq!(lockprof::Semaphore::new(4).acquire_many(3).permits(), 3);
    /// ```
    pub fn permits(&self) -> usize {
        self.n
    }

    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// let sem = lockprof::Semaphore::new(2);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        let mut available = self.sem.lock();
        *available += self.n;
        drop(available);
        self.sem.freed.notify_all();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("permits", &self.n).finish()
    }
}
