//! [`RwLock`]: `std::sync::RwLock` with deadlock detection.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, TryLockError, TryLockResult};

use lockprof_profiler::{Access, LockKind, LockName, LockState};

use crate::poison;
use crate::raw::RawRwLock;

/// A reader-writer lock with the API and poisoning of [`std::sync::RwLock`], that reports a
/// deadlock the moment one forms.
///
/// The lock underneath is writer-preferring (task-fair, as std's is on Linux): a new reader waits
/// while a writer is queued. So a thread that holds a read guard and reads again while a writer
/// waits is deadlocked (the writer waits for its first read, its second read waits for the
/// writer), and lockprof reports it; so is a thread that holds a read guard and asks for the write
/// lock.
///
/// ```
/// use lockprof::RwLock; // was: use std::sync::RwLock;
/// let config = RwLock::new(String::from("v1"));
/// assert_eq!(*config.read().unwrap(), "v1");
/// config.write().unwrap().push_str(".1");
/// assert_eq!(*config.read().unwrap(), "v1.1");
/// ```
pub struct RwLock<T: ?Sized> {
    state: LockState,
    raw: RawRwLock,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: as for std's RwLock: readers share `&T` across threads (needs Sync), a writer gets
// `&mut T` on any thread (needs Send).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

impl<T> RwLock<T> {
    /// Creates an unlocked lock; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static ROUTES: lockprof::RwLock<Vec<&str>> = lockprof::RwLock::new(Vec::new());
    /// ROUTES.write().unwrap().push("/");
    /// assert_eq!(ROUTES.read().unwrap().len(), 1);
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Self {
        RwLock {
            state: LockState::new(LockKind::RwLock, None),
            raw: RawRwLock::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked lock with a name for reports.
    ///
    /// ```
    /// let routes = lockprof::RwLock::with_name(0, "routes");
    /// assert_eq!(routes.name(), Some("routes"));
    /// ```
    ///
    /// The name is a `&'static str` or a `String` made at run time (`format!("account-{id}")`):
    /// reports show it, with the lock's id, beside the creation site. For a `static`, use the
    /// `const` [`with_static_name`](Self::with_static_name).
    #[track_caller]
    pub fn with_name(value: T, name: impl Into<Cow<'static, str>>) -> Self {
        Self::named_opt(value, Some(LockName::new(name)))
    }

    /// [`with_name`](Self::with_name) for a `static`: `const`, with a `&'static str`.
    ///
    /// ```
    /// static LEDGER: lockprof::RwLock<u64> = lockprof::RwLock::with_static_name(0, "ledger");
    /// assert_eq!(LEDGER.name(), Some("ledger"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(value: T, name: &'static str) -> Self {
        Self::named_opt(value, Some(LockName::from_static(name)))
    }

    #[track_caller]
    const fn named_opt(value: T, name: Option<LockName>) -> Self {
        RwLock {
            state: LockState::new(LockKind::RwLock, name),
            raw: RawRwLock::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its data; `Err` carries it if poisoned.
    ///
    /// ```
    /// assert_eq!(lockprof::RwLock::new(3).into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        poison::result(poisoned, data)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, blocking while a writer holds the lock or waits for it.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock.
    ///
    /// ```
    /// let lock = lockprof::RwLock::new(1);
    /// let (a, b) = (lock.read().unwrap(), lock.read().unwrap());
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.state.lock_as(Location::caller(), &self.raw.read(), Access::Shared, 0);
        RwLockReadGuard::new(self)
    }

    /// Locks for writing, blocking while anyone holds the lock.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock (for example when
    /// this thread holds a read guard of the same lock).
    ///
    /// ```
    /// let lock = lockprof::RwLock::new(1);
    /// *lock.write().unwrap() += 1;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.state.lock(Location::caller(), &self.raw.write());
        RwLockWriteGuard::new(self)
    }

    /// Locks for reading if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::RwLock::new(1);
    /// let w = lock.write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.state.try_lock_as(Location::caller(), &self.raw.read(), Access::Shared, 0) {
            Ok(RwLockReadGuard::new(self)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Locks for writing if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::RwLock::new(1);
    /// let r = lock.read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.state.try_lock(Location::caller(), &self.raw.write()) {
            Ok(RwLockWriteGuard::new(self)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a writer panicked while holding the lock.
    ///
    /// ```
    /// assert!(!lockprof::RwLock::new(0).is_poisoned());
    /// ```
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// ```
    /// let lock = lockprof::RwLock::new(0);
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data, with no locking.
    ///
    /// ```
    /// let mut lock = lockprof::RwLock::new(1);
    /// *lock.get_mut().unwrap() = 2;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut();
        poison::result(self.poison.get(), data)
    }

    /// The name given with [`RwLock::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::RwLock::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

/// A read guard of an [`RwLock`].
///
/// ```
/// let lock = lockprof::RwLock::new(vec![1]);
/// let guard = lock.read().unwrap();
/// assert_eq!(guard.len(), 1);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a read guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> LockResult<Self> {
        let guard = RwLockReadGuard { lock, _not_send: PhantomData };
        poison::result(lock.poison.get(), guard)
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while this thread holds a shared lock, so no `&mut T`
        // exists anywhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let release = self.lock.state.releasing_as(Access::Shared);
        // SAFETY: this guard's shared lock is held and this is its single release.
        unsafe { self.lock.raw.unlock_read() };
        self.lock.state.released(release);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A write guard of an [`RwLock`]; dropping it while panicking poisons the lock, as std does.
///
/// ```
/// let lock = lockprof::RwLock::new(1);
/// *lock.write().unwrap() = 5;
/// assert_eq!(*lock.read().unwrap(), 5);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared write guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    fn new(lock: &'a RwLock<T>) -> LockResult<Self> {
        let guard = RwLockWriteGuard { lock, poison: lock.poison.guard(), _not_send: PhantomData };
        poison::result(lock.poison.get(), guard)
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write guard proves exclusive access.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard proves exclusive access, and `&mut self` that no other
        // reference through it exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        let release = self.lock.state.releasing();
        // SAFETY: this guard's exclusive lock is held and this is its single release.
        unsafe { self.lock.raw.unlock_write() };
        self.lock.state.released(release);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
