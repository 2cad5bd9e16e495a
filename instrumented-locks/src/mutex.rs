//! [`Mutex`]: `std::sync::Mutex` with deadlock detection.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::sync::{LockResult, TryLockError, TryLockResult};

use lockprof_profiler::{LockKind, LockName, LockState};

use crate::poison;
use crate::raw::RawMutex;

/// A mutual-exclusion lock with the API and poisoning of [`std::sync::Mutex`], that reports a
/// deadlock the moment one forms instead of hanging.
///
/// Swap the import and nothing else:
///
/// ```
/// use lockprof::Mutex; // was: use std::sync::Mutex;
/// use std::sync::Arc;
/// use std::thread;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
///
/// The lock is known in reports by where it was created (`file:line:column`) and, optionally, by
/// a name ([`Mutex::with_name`]). Every acquisition knows its call site the same way, at no cost
/// (`#[track_caller]`).
pub struct Mutex<T: ?Sized> {
    state: LockState,
    raw: RawMutex,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: as for std's Mutex: the lock hands out access to `data` to one thread at a time, so it
// is Send and Sync whenever the data may be sent between threads.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

// As std: poisoning is how a mutex signals a panic mid-update, so it is unwind-safe.
impl<T: ?Sized> UnwindSafe for Mutex<T> {}
impl<T: ?Sized> RefUnwindSafe for Mutex<T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex. `const`, so it can initialise a `static`:
    ///
    /// ```
    /// use lockprof::Mutex;
    /// static HITS: Mutex<u64> = Mutex::new(0);
    /// *HITS.lock().unwrap() += 1;
    /// assert_eq!(*HITS.lock().unwrap(), 1);
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, None),
            raw: RawMutex::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked mutex with a name that reports show beside its creation site.
    ///
    /// ```
    /// use lockprof::Mutex;
    /// let accounts = Mutex::with_name(Vec::<u64>::new(), "accounts");
    /// assert_eq!(accounts.name(), Some("accounts"));
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
    /// static LEDGER: lockprof::Mutex<u64> = lockprof::Mutex::with_static_name(0, "ledger");
    /// assert_eq!(LEDGER.name(), Some("ledger"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(value: T, name: &'static str) -> Self {
        Self::named_opt(value, Some(LockName::from_static(name)))
    }

    #[track_caller]
    const fn named_opt(value: T, name: Option<LockName>) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, name),
            raw: RawMutex::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its data; `Err` carries the data if it is poisoned.
    ///
    /// ```
    /// let m = lockprof::Mutex::new(7);
    /// assert_eq!(m.into_inner().unwrap(), 7);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        poison::result(poisoned, data)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is available.
    ///
    /// If this wait closes a cycle of threads each waiting for a lock the next one holds, the
    /// deadlock is reported at once and `LOCKPROF_ON_DEADLOCK` applies: by default this call
    /// panics with the report. Re-locking a mutex the thread already holds is such a cycle.
    ///
    /// Returns `Err` with the guard if the mutex is poisoned, as std does.
    ///
    /// ```
    /// let m = lockprof::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.state.lock(Location::caller(), &self.raw);
        MutexGuard::new(self)
    }

    /// Acquires the mutex if it is free, without blocking (and so without ever taking part in a
    /// deadlock).
    ///
    /// ```
    /// use std::sync::TryLockError;
    /// let m = lockprof::Mutex::new(());
    /// let held = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.state.try_lock(Location::caller(), &self.raw) {
            Ok(MutexGuard::new(self)?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a thread panicked while holding this mutex.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(lockprof::Mutex::new(0));
    /// let m2 = Arc::clone(&m);
    /// let _ = std::thread::spawn(move || {
    ///     let _guard = m2.lock().unwrap();
    ///     panic!("poison it");
    /// })
    /// .join();
    /// assert!(m.is_poisoned());
    /// ```
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(lockprof::Mutex::new(0));
    /// let m2 = Arc::clone(&m);
    /// let _ = std::thread::spawn(move || {
    ///     let _guard = m2.lock().unwrap();
    ///     panic!("poison it");
    /// })
    /// .join();
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data, with no locking (the borrow proves exclusivity).
    ///
    /// ```
    /// let mut m = lockprof::Mutex::new(1);
    /// *m.get_mut().unwrap() = 5;
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut();
        poison::result(self.poison.get(), data)
    }

    /// The name given with [`Mutex::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::Mutex::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Where the mutex was created.
    ///
    /// ```
    /// let m = lockprof::Mutex::new(0);
    /// assert_eq!(m.site().line(), line!() - 1);
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.state.site()
    }
}

impl<T: Default> Default for Mutex<T> {
    /// A mutex holding `T::default()`, created at the caller's location.
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    /// A mutex holding `value`, created at the caller's location.
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

/// The guard of a locked [`Mutex`]: derefs to the data and unlocks when dropped.
///
/// ```
/// let m = lockprof::Mutex::new(String::from("a"));
/// let mut guard = m.lock().unwrap();
/// guard.push('b');
/// assert_eq!(&*guard, "ab");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a Mutex<T>,
    poison: poison::Guard,
    /// Not `Send`, as std's guard: some platforms require unlocking on the locking thread, and
    /// the profiler records the holder by thread.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`, so sharing it is as safe as sharing `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for the condition variable, which re-locks it).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.lock
    }

    /// Wraps a just-acquired lock; `Err` if it is poisoned.
    #[inline]
    fn new(lock: &'a Mutex<T>) -> LockResult<MutexGuard<'a, T>> {
        let guard = MutexGuard { lock, poison: lock.poison.guard(), _not_send: PhantomData };
        poison::result(lock.poison.get(), guard)
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this thread holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves this thread holds the lock exclusively, and `&mut self`
        // proves no other reference through this guard exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        let release = self.lock.state.releasing();
        // SAFETY: the guard exists only while this thread holds the raw lock, and this is the
        // guard's single release.
        unsafe { self.lock.raw.unlock() };
        self.lock.state.released(release);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
