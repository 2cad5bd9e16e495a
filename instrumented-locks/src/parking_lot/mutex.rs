//! [`Mutex`]: `parking_lot::Mutex` with deadlock detection.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

use lockprof_profiler::{Access, LockKind, LockName, LockState};

use std::ptr::NonNull;

use super::mapped::MappedMutexGuard;
use crate::raw::RawMutex;

/// A mutual-exclusion lock with the API of [`parking_lot::Mutex`](::parking_lot::Mutex) (no
/// poisoning, `try_lock` returns an `Option`, timed acquisitions), that reports a deadlock the
/// moment one forms instead of hanging.
///
/// ```
/// use lockprof::parking_lot::Mutex; // was: use parking_lot::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         std::thread::spawn(move || *counter.lock() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(super) state: LockState,
    pub(super) raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: as parking_lot's: the lock hands `data` to one thread at a time.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Creates a mutex in a `const` context, as parking_lot's `const_mutex` (the same as
/// [`Mutex::new`], which is `const` too).
///
/// ```
/// static LOG: lockprof::parking_lot::Mutex<Vec<&str>> = lockprof::parking_lot::const_mutex(Vec::new());
/// LOG.lock().push("started");
/// assert_eq!(LOG.lock().len(), 1);
/// ```
#[track_caller]
pub const fn const_mutex<T>(value: T) -> Mutex<T> {
    Mutex::new(value)
}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static HITS: lockprof::parking_lot::Mutex<u64> = lockprof::parking_lot::Mutex::new(0);
    /// *HITS.lock() += 1;
    /// assert_eq!(*HITS.lock(), 1);
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, None),
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked mutex with a name that reports show beside its creation site.
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::with_name(0, "ledger");
    /// assert_eq!(m.name(), Some("ledger"));
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
    /// static LEDGER: lockprof::parking_lot::Mutex<u64> = lockprof::parking_lot::Mutex::with_static_name(0, "ledger");
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
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its data.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::Mutex::new(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, blocking until it is available.
    ///
    /// If this wait closes a deadlock (re-locking a mutex the thread holds is one), it is
    /// reported at once and `LOCKPROF_ON_DEADLOCK` applies: by default this call panics with
    /// the report.
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.state.lock(Location::caller(), &self.raw);
        MutexGuard::new(self)
    }

    /// Acquires the mutex if it is free, without blocking (and so without taking part in a
    /// deadlock).
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(());
    /// let held = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(held);
    /// assert!(m.try_lock().is_some());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state.try_lock(Location::caller(), &self.raw).then(|| MutexGuard::new(self))
    }

    /// Acquires the mutex, waiting at most `timeout`. The wait records lock-order edges, but is
    /// never reported as part of a deadlock: it ends by itself.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::parking_lot::Mutex::new(());
    /// let held = m.lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.try_lock_for(Duration::from_millis(5)).is_none()));
    /// });
    /// drop(held);
    /// assert!(m.try_lock_for(Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.state
            .lock_within(Location::caller(), &self.raw, Access::Exclusive, 0, timeout)
            .then(|| MutexGuard::new(self))
    }

    /// Acquires the mutex, waiting at most until `deadline` (see [`Mutex::try_lock_for`]).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = lockprof::parking_lot::Mutex::new(3);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(*m.try_lock_until(deadline).unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.try_lock_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// A mutable reference to the data, with no locking (the borrow proves exclusivity).
    ///
    /// ```
    /// let mut m = lockprof::parking_lot::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether some thread holds the mutex now (a snapshot).
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// A raw pointer to the data; dereferencing it is up to the caller (as parking_lot's).
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(4);
    /// let g = m.lock();
    /// // SAFETY: this thread holds the lock.
    /// assert_eq!(unsafe { *m.data_ptr() }, 4);
    /// # drop(g);
    /// ```
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// The name given with [`Mutex::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::Mutex::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Where the mutex was created.
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(0);
    /// assert_eq!(m.site().line(), line!() - 1);
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.state.site()
    }

    /// Releases the lock held through a guard (the guard must be marked as not holding, or be
    /// forgotten, by the caller).
    ///
    /// # Safety
    /// The calling thread must hold the lock.
    pub(super) unsafe fn release(&self) {
        let release = self.state.releasing();
        // SAFETY: the caller holds the lock, as our contract requires.
        unsafe { self.raw.unlock() };
        self.state.released(release);
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
    /// The same output as parking_lot's: `Mutex { data: .. }`, or `Mutex { data: <locked> }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The guard of a locked [`Mutex`]: derefs to the data and unlocks when dropped.
///
/// ```
/// let m = lockprof::parking_lot::Mutex::new(String::from("a"));
/// let mut guard = m.lock();
/// guard.push('b');
/// assert_eq!(&*guard, "ab");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(super) lock: &'a Mutex<T>,
    /// Whether the guard's thread holds the lock: always, except when a condition variable wait
    /// could not re-acquire it (its re-acquisition panicked on a deadlock), so that the guard,
    /// dropped while unwinding, does not release a lock it does not hold.
    pub(super) holds: bool,
    /// Not `Send`, as parking_lot's guard (without its `send_guard` feature): the profiler
    /// records the holder by thread.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    #[inline]
    fn new(lock: &'a Mutex<T>) -> Self {
        MutexGuard { lock, holds: true, _not_send: PhantomData }
    }

    /// Keeps the data out of reach through a guard whose condition-variable wait panicked before
    /// re-acquiring the lock (possible only if that panic was caught, with the guard still
    /// alive): the lock is not held, so the data may be another thread's.
    #[inline]
    #[track_caller]
    fn check_holds(&self) {
        #[cold]
        #[inline(never)]
        #[track_caller]
        fn not_held() -> ! {
            panic!(
                "lockprof: this MutexGuard lost its lock when a Condvar wait or an `unlocked` closure panicked before re-acquiring it"
            );
        }
        if !self.holds {
            not_held();
        }
    }

    /// The mutex this guard locks (an associated function, as parking_lot's).
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(0);
    /// let g = m.lock();
    /// assert!(std::ptr::eq(MutexGuard::mutex(&g), &m));
    /// ```
    pub fn mutex(s: &Self) -> &'a Mutex<T> {
        s.lock
    }

    /// Narrows the guard to a part of the data (a field, an element), as parking_lot's; the
    /// mutex stays locked until the mapped guard drops.
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new((0, vec![1]));
    /// MutexGuard::map(m.lock(), |pair| &mut pair.1).push(2);
    /// assert_eq!(m.lock().1, [1, 2]);
    /// ```
    #[track_caller]
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        s.check_holds();
        let lock = s.lock;
        // SAFETY: the guard holds the lock (checked above); if `f` panics, `s` drops and
        // releases it.
        let data = NonNull::from(f(unsafe { &mut *lock.data.get() }));
        std::mem::forget(s);
        // SAFETY: the hold passes from the forgotten guard to the mapped one.
        unsafe { MappedMutexGuard::from_parts(&lock.state, &lock.raw, data) }
    }

    /// Like [`MutexGuard::map`], but `f` may decline, giving the guard back.
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(vec![1]);
    /// assert!(MutexGuard::try_map(m.lock(), |v| v.get_mut(5)).is_err());
    /// assert_eq!(*MutexGuard::try_map(m.lock(), |v| v.get_mut(0)).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        s.check_holds();
        let lock = s.lock;
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { &mut *lock.data.get() }).map(NonNull::from) else {
            return Err(s);
        };
        std::mem::forget(s);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedMutexGuard::from_parts(&lock.state, &lock.raw, data) })
    }

    /// Unlocks the mutex while `f` runs, and locks it again afterwards (through the ordinary
    /// lock path: order edges, deadlock detection), as parking_lot's. If `f` panics, the mutex
    /// stays unlocked and the guard, which no longer holds it, refuses access.
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(1);
    /// let mut g = m.lock();
    /// let seen = MutexGuard::unlocked(&mut g, || *m.lock());
    /// assert_eq!((seen, *g), (1, 1));
    /// ```
    #[track_caller]
    pub fn unlocked<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.relocking(f, false)
    }

    /// [`MutexGuard::unlocked`] with a fair unlock: a waiting thread gets the mutex first.
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(1);
    /// let mut g = m.lock();
    /// MutexGuard::unlocked_fair(&mut g, || *m.lock() += 1);
    /// assert_eq!(*g, 2);
    /// ```
    #[track_caller]
    pub fn unlocked_fair<F: FnOnce() -> U, U>(s: &mut Self, f: F) -> U {
        s.relocking(f, true)
    }

    /// Unlocks fairly: a thread waiting for the mutex gets it before any other, as parking_lot's.
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(1);
    /// MutexGuard::unlock_fair(m.lock());
    /// assert!(!m.is_locked());
    /// ```
    pub fn unlock_fair(s: Self) {
        if s.holds {
            let lock = s.lock;
            std::mem::forget(s);
            let release = lock.state.releasing();
            // SAFETY: the guard held the lock and is forgotten, so this is its one release.
            unsafe { lock.raw.unlock_fair() };
            lock.state.released(release);
        }
    }

    /// Gives the mutex to a waiting thread, if there is one, and takes it back, as parking_lot's
    /// (a fair unlock, then the ordinary lock path).
    ///
    /// ```
    /// use lockprof::parking_lot::{Mutex, MutexGuard};
    /// let m = Mutex::new(1);
    /// let mut g = m.lock();
    /// MutexGuard::bump(&mut g);
    /// assert_eq!(*g, 1);
    /// ```
    #[track_caller]
    pub fn bump(s: &mut Self) {
        s.relocking(|| (), true);
    }

    #[track_caller]
    fn relocking<F: FnOnce() -> U, U>(&mut self, f: F, fair: bool) -> U {
        self.check_holds();
        self.holds = false;
        let release = self.lock.state.releasing();
        // SAFETY: the guard held the lock (checked above) and is marked as not holding it, so
        // this is the hold's one release.
        unsafe { if fair { self.lock.raw.unlock_fair() } else { self.lock.raw.unlock() } };
        self.lock.state.released(release);
        let result = f();
        self.lock.state.lock(Location::caller(), &self.lock.raw);
        self.holds = true;
        result
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    #[track_caller]
    fn deref(&self) -> &T {
        self.check_holds();
        // SAFETY: the guard holds the lock (checked above).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    #[track_caller]
    fn deref_mut(&mut self) -> &mut T {
        self.check_holds();
        // SAFETY: the guard holds the lock exclusively (checked above), and `&mut self` proves
        // that no other reference through it exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.holds {
            // SAFETY: `holds` says this thread holds the lock; this is the guard's one release.
            unsafe { self.lock.release() }
        }
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
