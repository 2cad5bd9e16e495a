//! [`ReentrantMutex`]: `parking_lot::ReentrantMutex` with deadlock detection.

use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lockprof_profiler::{Access, LockKind, LockName, LockState, current_thread_id};

use crate::raw::RawMutex;

/// A mutex that the thread holding it may lock again, with the API of
/// [`parking_lot::ReentrantMutex`](::parking_lot::ReentrantMutex): guards give `&T` only.
///
/// A re-lock by the holder never waits and is not an acquisition to lockprof: it records no
/// lock-order edge and leaves the thread's held stack as it is (the outermost acquisition stays
/// recorded until the last guard is dropped). A lock by any other thread is an ordinary
/// exclusive acquisition, checked for deadlock when it has to wait.
///
/// ```
/// use std::cell::RefCell;
/// use lockprof::parking_lot::ReentrantMutex; // was: use parking_lot::ReentrantMutex;
///
/// let log = ReentrantMutex::new(RefCell::new(Vec::new()));
/// let outer = log.lock();
/// outer.borrow_mut().push("outer");
/// {
///     let inner = log.lock(); // same thread: no deadlock
///     inner.borrow_mut().push("inner");
/// }
/// assert_eq!(outer.borrow().len(), 2);
/// ```
pub struct ReentrantMutex<T: ?Sized> {
    state: LockState,
    raw: RawMutex,
    /// The holding thread's lockprof id (never 0, never reused), 0 when free. Written only by the
    /// holder, so a thread that reads its own id here holds the lock.
    owner: AtomicU64,
    /// How many guards the holder has; touched only by the holder.
    count: Cell<usize>,
    data: UnsafeCell<T>,
}

// SAFETY: as parking_lot's: one thread at a time gets `&T` (so `T: Send` suffices); `count` is
// only touched by the thread that holds the raw lock.
unsafe impl<T: ?Sized + Send> Send for ReentrantMutex<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send> Sync for ReentrantMutex<T> {}

/// Creates a re-entrant mutex in a `const` context, as parking_lot's `const_reentrant_mutex`
/// (the same as [`ReentrantMutex::new`], which is `const` too).
///
/// ```
/// static OUT: lockprof::parking_lot::ReentrantMutex<()> = lockprof::parking_lot::const_reentrant_mutex(());
/// let _a = OUT.lock();
/// let _b = OUT.lock();
/// ```
#[track_caller]
pub const fn const_reentrant_mutex<T>(value: T) -> ReentrantMutex<T> {
    ReentrantMutex::new(value)
}

impl<T> ReentrantMutex<T> {
    /// Creates an unlocked re-entrant mutex; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(5);
    /// assert_eq!(*m.lock(), 5);
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Self {
        ReentrantMutex::named_opt(value, None)
    }

    /// Creates an unlocked re-entrant mutex with a name for reports.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::with_name(5, "stdout");
    /// assert_eq!(m.name(), Some("stdout"));
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
    /// static LEDGER: lockprof::parking_lot::ReentrantMutex<u64> = lockprof::parking_lot::ReentrantMutex::with_static_name(0, "ledger");
    /// assert_eq!(LEDGER.name(), Some("ledger"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(value: T, name: &'static str) -> Self {
        Self::named_opt(value, Some(LockName::from_static(name)))
    }

    #[track_caller]
    const fn named_opt(value: T, name: Option<LockName>) -> Self {
        ReentrantMutex {
            state: LockState::new(LockKind::ReentrantMutex, name),
            raw: RawMutex::new(),
            owner: AtomicU64::new(0),
            count: Cell::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its data.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::ReentrantMutex::new(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    /// Acquires the mutex, blocking until it is available; returns at once if this thread
    /// already holds it.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock (never when the thread
    /// already holds the mutex).
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(1);
    /// let a = m.lock();
    /// let b = m.lock();
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        let me = current_thread_id();
        if !self.relock(me) {
            self.state.lock(Location::caller(), &self.raw);
            self.acquired(me);
        }
        ReentrantMutexGuard::new(self)
    }

    /// Acquires the mutex if it is free or held by this thread, without blocking.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(());
    /// let held = m.lock();
    /// assert!(m.try_lock().is_some()); // this thread holds it
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.try_lock().is_none()));
    /// });
    /// # drop(held);
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        let me = current_thread_id();
        if !self.relock(me) {
            if !self.state.try_lock(Location::caller(), &self.raw) {
                return None;
            }
            self.acquired(me);
        }
        Some(ReentrantMutexGuard::new(self))
    }

    /// Acquires the mutex, waiting at most `timeout` (at once if this thread holds it). Never
    /// part of a reported deadlock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::parking_lot::ReentrantMutex::new(());
    /// let held = m.lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.try_lock_for(Duration::from_millis(5)).is_none()));
    /// });
    /// assert!(m.try_lock_for(Duration::from_millis(5)).is_some());
    /// # drop(held);
    /// ```
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        let me = current_thread_id();
        if !self.relock(me) {
            if !self.state.lock_within(Location::caller(), &self.raw, Access::Exclusive, 0, timeout) {
                return None;
            }
            self.acquired(me);
        }
        Some(ReentrantMutexGuard::new(self))
    }

    /// Acquires the mutex, waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = lockprof::parking_lot::ReentrantMutex::new(2);
    /// assert_eq!(*m.try_lock_until(Instant::now() + Duration::from_millis(5)).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<ReentrantMutexGuard<'_, T>> {
        self.try_lock_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// If the calling thread (lockprof id `me`) holds the mutex, counts one more guard.
    #[inline]
    fn relock(&self, me: u64) -> bool {
        // Relaxed suffices: only this thread ever stores its own id here.
        if self.owner.load(Ordering::Relaxed) != me {
            return false;
        }
        let count = self.count.get().checked_add(1).expect("ReentrantMutex lock count overflow");
        self.count.set(count);
        true
    }

    /// Records the calling thread (`me`) as the holder, after it acquired the raw lock.
    #[inline]
    fn acquired(&self, me: u64) {
        self.owner.store(me, Ordering::Relaxed);
        self.count.set(1);
    }

    /// A mutable reference to the data, with no locking.
    ///
    /// ```
    /// let mut m = lockprof::parking_lot::ReentrantMutex::new(1);
    /// *m.get_mut() = 3;
    /// assert_eq!(*m.lock(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether some thread holds the mutex now (a snapshot).
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the calling thread holds the mutex.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_owned_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!m.is_owned_by_current_thread()));
    /// });
    /// # drop(g);
    /// ```
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == current_thread_id()
    }

    /// A raw pointer to the data; dereferencing it is up to the caller.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(4);
    /// let g = m.lock();
    /// // SAFETY: this thread holds the lock, and reads.
    /// assert_eq!(unsafe { *m.data_ptr() }, 4);
    /// # drop(g);
    /// ```
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// The name given with [`ReentrantMutex::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::ReentrantMutex::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Where the mutex was created.
    ///
    /// ```
    /// let m = lockprof::parking_lot::ReentrantMutex::new(0);
    /// assert_eq!(m.site().line(), line!() - 1);
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.state.site()
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    /// A mutex holding `T::default()`, created at the caller's location.
    #[track_caller]
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    /// A mutex holding `value`, created at the caller's location.
    #[track_caller]
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    /// The same output as parking_lot's: `ReentrantMutex { data: .. }` (also when this thread
    /// holds it), or `ReentrantMutex { data: <locked> }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// A guard of a [`ReentrantMutex`]: derefs to `&T`; the mutex is released when the holder's
/// last guard is dropped.
///
/// ```
/// use std::cell::Cell;
/// let m = lockprof::parking_lot::ReentrantMutex::new(Cell::new(1));
/// let g = m.lock();
/// g.set(2);
/// assert_eq!(m.lock().get(), 2);
/// ```
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct ReentrantMutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a ReentrantMutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for ReentrantMutexGuard<'_, T> {}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    #[inline]
    fn new(lock: &'a ReentrantMutex<T>) -> Self {
        ReentrantMutexGuard { lock, _not_send: PhantomData }
    }

    /// The mutex this guard locks (an associated function, as parking_lot's).
    ///
    /// ```
    /// use lockprof::parking_lot::{ReentrantMutex, ReentrantMutexGuard};
    /// let m = ReentrantMutex::new(0);
    /// let g = m.lock();
    /// assert!(std::ptr::eq(ReentrantMutexGuard::remutex(&g), &m));
    /// ```
    pub fn remutex(s: &Self) -> &'a ReentrantMutex<T> {
        s.lock
    }
}

impl<T: ?Sized> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this thread holds the lock; only `&T` is handed out.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for ReentrantMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let lock = self.lock;
        let left = lock.count.get() - 1;
        lock.count.set(left);
        if left == 0 {
            lock.owner.store(0, Ordering::Relaxed);
            let release = lock.state.releasing();
            // SAFETY: the holder's last guard: this thread holds the raw lock, released once.
            unsafe { lock.raw.unlock() };
            lock.state.released(release);
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
