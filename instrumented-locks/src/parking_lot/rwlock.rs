//! [`RwLock`]: `parking_lot::RwLock` with deadlock detection: plain, recursive and upgradable
//! reads, upgrades and downgrades.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

use ::parking_lot::lock_api::{
    RawRwLock as _, RawRwLockDowngrade as _, RawRwLockUpgrade as _, RawRwLockUpgradeDowngrade as _,
};
use lockprof_profiler::{Access, LockKind, LockName, LockState};

use super::raw::{ReadRecursive, TimedUpgrade, TimedWrite, Upgradable, Upgrade};
use std::ptr::NonNull;

use super::mapped::{MappedRwLockReadGuard, MappedRwLockWriteGuard};
use crate::raw::RawRwLock;

/// A reader-writer lock with the API of [`parking_lot::RwLock`](::parking_lot::RwLock), that
/// reports a deadlock the moment one forms.
///
/// As parking_lot's, it is task-fair: a new [`read`](RwLock::read) waits while a writer is
/// queued, so a thread that reads again while holding a read guard and a writer waits is
/// deadlocked (and lockprof reports it). [`read_recursive`](RwLock::read_recursive) is the way
/// to read again: it overtakes queued writers while other readers hold the lock, and lockprof
/// knows that only a writer *holding* the lock blocks it.
///
/// ```
/// use lockprof::parking_lot::RwLock; // was: use parking_lot::RwLock;
/// let config = RwLock::new(String::from("v1"));
/// assert_eq!(*config.read(), "v1");
/// config.write().push_str(".1");
/// assert_eq!(*config.read(), "v1.1");
/// ```
pub struct RwLock<T: ?Sized> {
    pub(super) state: LockState,
    pub(super) raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: as parking_lot's: readers share `&T` across threads (needs Sync), a writer gets
// `&mut T` on any thread (needs Send).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: see above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Creates a reader-writer lock in a `const` context, as parking_lot's `const_rwlock` (the same
/// as [`RwLock::new`], which is `const` too).
///
/// ```
/// static ROUTES: lockprof::parking_lot::RwLock<Vec<&str>> = lockprof::parking_lot::const_rwlock(Vec::new());
/// ROUTES.write().push("/");
/// assert_eq!(ROUTES.read().len(), 1);
/// ```
#[track_caller]
pub const fn const_rwlock<T>(value: T) -> RwLock<T> {
    RwLock::new(value)
}

impl<T> RwLock<T> {
    /// Creates an unlocked lock; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static N: lockprof::parking_lot::RwLock<u32> = lockprof::parking_lot::RwLock::new(0);
    /// *N.write() += 1;
    /// assert_eq!(*N.read(), 1);
    /// ```
    #[track_caller]
    pub const fn new(value: T) -> Self {
        RwLock {
            state: LockState::new(LockKind::RwLock, None),
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Creates an unlocked lock with a name for reports.
    ///
    /// ```
    /// let routes = lockprof::parking_lot::RwLock::with_name(0, "routes");
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
    /// static LEDGER: lockprof::parking_lot::RwLock<u64> = lockprof::parking_lot::RwLock::with_static_name(0, "ledger");
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
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its data.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::RwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, blocking while a writer holds the lock or waits for it.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock (for example a second
    /// `read` by a thread that holds a read guard, while a writer waits).
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let (a, b) = (lock.read(), lock.read());
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.state.lock_as(Location::caller(), &self.raw.read(), Access::Shared, 0);
        RwLockReadGuard::new(self)
    }

    /// Locks for reading if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .try_lock_as(Location::caller(), &self.raw.read(), Access::Shared, 0)
            .then(|| RwLockReadGuard::new(self))
    }

    /// Locks for reading, waiting at most `timeout` (never part of a reported deadlock).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert_eq!(*lock.try_read_for(Duration::from_millis(5)).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .lock_within(Location::caller(), &self.raw.read(), Access::Shared, 0, timeout)
            .then(|| RwLockReadGuard::new(self))
    }

    /// Locks for reading, waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let w = lock.write();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_read_until(Instant::now() + Duration::from_millis(5)).is_none()));
    /// });
    /// # drop(w);
    /// ```
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.try_read_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// Locks for reading even while a writer waits, as long as other readers hold the lock (so a
    /// thread that holds a read guard can read again without deadlocking). Only a writer that
    /// holds the lock blocks it.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let outer = lock.read();
    /// let inner = lock.read_recursive(); // fine even if a writer were queued
    /// assert_eq!(*outer + *inner, 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
        self.state.lock_as(Location::caller(), &ReadRecursive(self.raw.inner()), Access::SharedRecursive, 0);
        RwLockReadGuard::new(self)
    }

    /// [`RwLock::read_recursive`] if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.try_read_recursive().is_none());
    /// drop(w);
    /// assert!(lock.try_read_recursive().is_some());
    /// ```
    #[track_caller]
    pub fn try_read_recursive(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .try_lock_as(Location::caller(), &ReadRecursive(self.raw.inner()), Access::SharedRecursive, 0)
            .then(|| RwLockReadGuard::new(self))
    }

    /// [`RwLock::read_recursive`], waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert!(lock.try_read_recursive_for(Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_recursive_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .lock_within(
                Location::caller(),
                &ReadRecursive(self.raw.inner()),
                Access::SharedRecursive,
                0,
                timeout,
            )
            .then(|| RwLockReadGuard::new(self))
    }

    /// [`RwLock::read_recursive`], waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert!(lock.try_read_recursive_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_read_recursive_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        self.try_read_recursive_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// Locks for writing, blocking while anyone holds the lock.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock (for example when this
    /// thread holds a read guard of the same lock).
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// *lock.write() += 1;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.state.lock(Location::caller(), &self.raw.write());
        RwLockWriteGuard::new(self)
    }

    /// Locks for writing if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state.try_lock(Location::caller(), &self.raw.write()).then(|| RwLockWriteGuard::new(self))
    }

    /// Locks for writing, waiting at most `timeout` (never part of a reported deadlock). While
    /// it waits, new readers wait too, as with parking_lot.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let r = lock.read();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_write_for(Duration::from_millis(5)).is_none()));
    /// });
    /// drop(r);
    /// assert!(lock.try_write_for(Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .lock_within(Location::caller(), &TimedWrite(self.raw.inner()), Access::Exclusive, 0, timeout)
            .then(|| RwLockWriteGuard::new(self))
    }

    /// Locks for writing, waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert!(lock.try_write_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        self.try_write_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// Locks for an upgradable read: shared with readers, exclusive with writers and other
    /// upgradable readers; [`RwLockUpgradableReadGuard::upgrade`] turns it into a write lock
    /// without letting another writer in between.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let up = lock.upgradable_read();
    /// assert_eq!(*lock.read(), 1); // readers still get in
    /// let mut w = RwLockUpgradableReadGuard::upgrade(up);
    /// *w = 2;
    /// ```
    #[track_caller]
    #[inline]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, T> {
        let at = Location::caller();
        self.state.lock_as(at, &Upgradable(self.raw.inner()), Access::Upgradable, 0);
        RwLockUpgradableReadGuard::new(self, at)
    }

    /// [`RwLock::upgradable_read`] if that is possible without blocking.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// let up = lock.upgradable_read();
    /// assert!(lock.try_upgradable_read().is_none()); // one upgradable reader at a time
    /// drop(up);
    /// assert!(lock.try_upgradable_read().is_some());
    /// ```
    #[track_caller]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let at = Location::caller();
        self.state
            .try_lock_as(at, &Upgradable(self.raw.inner()), Access::Upgradable, 0)
            .then(|| RwLockUpgradableReadGuard::new(self, at))
    }

    /// [`RwLock::upgradable_read`], waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert!(lock.try_upgradable_read_for(Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_upgradable_read_for(&self, timeout: Duration) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let at = Location::caller();
        self.state
            .lock_within(at, &Upgradable(self.raw.inner()), Access::Upgradable, 0, timeout)
            .then(|| RwLockUpgradableReadGuard::new(self, at))
    }

    /// [`RwLock::upgradable_read`], waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = lockprof::parking_lot::RwLock::new(1);
    /// assert!(lock.try_upgradable_read_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn try_upgradable_read_until(&self, deadline: Instant) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        self.try_upgradable_read_for(deadline.saturating_duration_since(Instant::now()))
    }

    /// A mutable reference to the data, with no locking.
    ///
    /// ```
    /// let mut lock = lockprof::parking_lot::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether anyone holds the lock in any way now (a snapshot).
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(());
    /// let r = lock.read();
    /// assert!(lock.is_locked());
    /// drop(r);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.inner().is_locked()
    }

    /// Whether a writer holds the lock (or is about to: parking_lot counts a writer that waits
    /// for the last readers to leave).
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(());
    /// let r = lock.read();
    /// assert!(!lock.is_locked_exclusive());
    /// drop(r);
    /// let w = lock.write();
    /// assert!(lock.is_locked_exclusive());
    /// # drop(w);
    /// ```
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.inner().is_locked_exclusive()
    }

    /// A raw pointer to the data; dereferencing it is up to the caller.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(4);
    /// let r = lock.read();
    /// // SAFETY: this thread holds a read lock, and reads.
    /// assert_eq!(unsafe { *lock.data_ptr() }, 4);
    /// # drop(r);
    /// ```
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// The name given with [`RwLock::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::RwLock::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Where the lock was created.
    ///
    /// ```
    /// let lock = lockprof::parking_lot::RwLock::new(0);
    /// assert_eq!(lock.site().line(), line!() - 1);
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.state.site()
    }
}

impl<T: Default> Default for RwLock<T> {
    /// A lock holding `T::default()`, created at the caller's location.
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    /// A lock holding `value`, created at the caller's location.
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// The same output as parking_lot's: `RwLock { data: .. }`, or `RwLock { data: <locked> }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Releases an upgradable lock whose record has already been released, unless forgotten: keeps
/// an upgrade that panics (on a deadlock, before acquiring) from leaking the lock.
struct UnlockUpgradableOnUnwind<'a>(&'a ::parking_lot::RawRwLock);

impl Drop for UnlockUpgradableOnUnwind<'_> {
    fn drop(&mut self) {
        // SAFETY: created only while the thread holds the upgradable lock, and forgotten once it
        // has become the write lock.
        unsafe { self.0.unlock_upgradable() }
    }
}

/// A read guard of an [`RwLock`] (from `read`, `read_recursive` or a downgrade).
///
/// ```
/// let lock = lockprof::parking_lot::RwLock::new(vec![1]);
/// let guard = lock.read();
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
    #[inline]
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard { lock, _not_send: PhantomData }
    }

    /// The lock this guard reads (an associated function, as parking_lot's).
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new(0);
    /// let r = lock.read();
    /// assert!(std::ptr::eq(RwLockReadGuard::rwlock(&r), &lock));
    /// ```
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Narrows the guard to a part of the data, as parking_lot's; the read is held until the
    /// mapped guard drops.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new((1, "one"));
    /// assert_eq!(*RwLockReadGuard::map(lock.read(), |pair| &pair.1), "one");
    /// ```
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let lock = s.lock;
        // SAFETY: the guard holds a read; if `f` panics, `s` drops and releases it.
        let data = NonNull::from(f(unsafe { &*lock.data.get() }));
        std::mem::forget(s);
        // SAFETY: the read passes from the forgotten guard to the mapped one.
        unsafe { MappedRwLockReadGuard::from_parts(&lock.state, &lock.raw, data) }
    }

    /// Like [`RwLockReadGuard::map`], but `f` may decline, giving the guard back.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockReadGuard};
    /// let lock = RwLock::new(vec![1]);
    /// assert!(RwLockReadGuard::try_map(lock.read(), |v| v.get(3)).is_err());
    /// ```
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let lock = s.lock;
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { &*lock.data.get() }).map(NonNull::from) else {
            return Err(s);
        };
        std::mem::forget(s);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedRwLockReadGuard::from_parts(&lock.state, &lock.raw, data) })
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while this thread holds a shared lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Shared and recursive reads release alike (neither is in the owner word).
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

/// A write guard of an [`RwLock`].
///
/// ```
/// let lock = lockprof::parking_lot::RwLock::new(1);
/// *lock.write() = 5;
/// assert_eq!(*lock.read(), 5);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared write guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    #[inline]
    fn new(lock: &'a RwLock<T>) -> Self {
        RwLockWriteGuard { lock, _not_send: PhantomData }
    }

    /// The lock this guard writes (an associated function, as parking_lot's).
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(0);
    /// let w = lock.write();
    /// assert!(std::ptr::eq(RwLockWriteGuard::rwlock(&w), &lock));
    /// ```
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Narrows the guard to a part of the data, as parking_lot's; the write lock is held until
    /// the mapped guard drops.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new((1, vec![1]));
    /// RwLockWriteGuard::map(lock.write(), |pair| &mut pair.1).push(2);
    /// assert_eq!(lock.read().1, [1, 2]);
    /// ```
    pub fn map<U: ?Sized, F>(s: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let lock = s.lock;
        // SAFETY: the guard holds the write lock; if `f` panics, `s` drops and releases it.
        let data = NonNull::from(f(unsafe { &mut *lock.data.get() }));
        std::mem::forget(s);
        // SAFETY: the hold passes from the forgotten guard to the mapped one.
        unsafe { MappedRwLockWriteGuard::from_parts(&lock.state, &lock.raw, data) }
    }

    /// Like [`RwLockWriteGuard::map`], but `f` may decline, giving the guard back.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(vec![1]);
    /// assert!(RwLockWriteGuard::try_map(lock.write(), |v| v.get_mut(3)).is_err());
    /// ```
    pub fn try_map<U: ?Sized, F>(s: Self, f: F) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let lock = s.lock;
        // SAFETY: as in `map`.
        let Some(data) = f(unsafe { &mut *lock.data.get() }).map(NonNull::from) else {
            return Err(s);
        };
        std::mem::forget(s);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedRwLockWriteGuard::from_parts(&lock.state, &lock.raw, data) })
    }

    /// Turns the write lock into a read lock without letting a writer in between (waiting
    /// readers get in). Never blocks.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[track_caller]
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        std::mem::forget(s);
        let release = lock.state.releasing();
        // SAFETY: the write guard proved the exclusive lock held; it is forgotten, so it is not
        // released again.
        unsafe { lock.raw.inner().downgrade() };
        lock.state.released(release);
        lock.state.note_acquired(Location::caller(), Access::Shared, 0);
        RwLockReadGuard::new(lock)
    }

    /// Turns the write lock into an upgradable read lock without letting a writer in between.
    /// Never blocks.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(1);
    /// let up = RwLockWriteGuard::downgrade_to_upgradable(lock.write());
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// # drop(up);
    /// ```
    #[track_caller]
    pub fn downgrade_to_upgradable(s: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = s.lock;
        std::mem::forget(s);
        let at = Location::caller();
        let release = lock.state.releasing();
        // SAFETY: as in `downgrade`.
        unsafe { lock.raw.inner().downgrade_to_upgradable() };
        lock.state.released(release);
        lock.state.note_acquired(at, Access::Upgradable, 0);
        RwLockUpgradableReadGuard::new(lock, at)
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

/// An upgradable read guard of an [`RwLock`]: reads like a read guard, and can become a write
/// guard ([`upgrade`](RwLockUpgradableReadGuard::upgrade)) without another writer in between.
///
/// ```
/// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
/// let cache = RwLock::new(None::<u32>);
/// let up = cache.upgradable_read();
/// if up.is_none() {
///     let mut w = RwLockUpgradableReadGuard::upgrade(up);
///     *w = Some(42);
/// }
/// assert_eq!(*cache.read(), Some(42));
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    /// Where the upgradable lock was taken (restored in the held stack when a timed upgrade
    /// fails).
    at: &'static Location<'static>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared upgradable guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    #[inline]
    fn new(lock: &'a RwLock<T>, at: &'static Location<'static>) -> Self {
        RwLockUpgradableReadGuard { lock, at, _not_send: PhantomData }
    }

    /// The lock this guard reads (an associated function, as parking_lot's).
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(0);
    /// let up = lock.upgradable_read();
    /// assert!(std::ptr::eq(RwLockUpgradableReadGuard::rwlock(&up), &lock));
    /// ```
    pub fn rwlock(s: &Self) -> &'a RwLock<T> {
        s.lock
    }

    /// Upgrades to a write lock, waiting until the other readers have left. To the deadlock
    /// detector this is a wait for exclusive access (see the [module docs](super)), so a thread
    /// that also holds a plain read guard of the same lock and upgrades is reported: it would
    /// wait for itself.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait closes a deadlock; the upgradable lock
    /// is then released as the guard is consumed.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let mut w = RwLockUpgradableReadGuard::upgrade(lock.upgradable_read());
    /// *w += 1;
    /// drop(w);
    /// assert_eq!(*lock.read(), 2);
    /// ```
    #[track_caller]
    pub fn upgrade(s: Self) -> RwLockWriteGuard<'a, T> {
        let lock = s.lock;
        std::mem::forget(s);
        let raw = lock.raw.inner();
        // The upgradable hold leaves the graph first: otherwise the thread would block its own
        // wait for exclusive access (an upgradable holder blocks writers).
        let release = lock.state.releasing_as(Access::Upgradable);
        lock.state.released(release); // the upgrade goes on holding: nothing to wait for
        let unlock_on_unwind = UnlockUpgradableOnUnwind(raw);
        // SAFETY: the thread holds the upgradable lock (the guard was consumed); on success it
        // has become the write lock, on a panic `unlock_on_unwind` releases it.
        let upgrade = unsafe { Upgrade::new(raw) };
        lock.state.lock_as(Location::caller(), &upgrade, Access::Exclusive, 0);
        std::mem::forget(unlock_on_unwind);
        RwLockWriteGuard::new(lock)
    }

    /// Upgrades to a write lock if no other reader holds the lock; otherwise gives the guard
    /// back. Never blocks.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let up = lock.upgradable_read();
    /// let r = lock.read();
    /// let up = RwLockUpgradableReadGuard::try_upgrade(up).unwrap_err(); // a reader is in
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::try_upgrade(up).is_ok());
    /// ```
    #[track_caller]
    pub fn try_upgrade(s: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let lock = s.lock;
        // SAFETY: the guard proves the upgradable lock held.
        if !unsafe { lock.raw.inner().try_upgrade() } {
            return Err(s);
        }
        std::mem::forget(s);
        let release = lock.state.releasing_as(Access::Upgradable);
        lock.state.released(release); // the upgrade goes on holding: nothing to wait for
        lock.state.note_acquired(Location::caller(), Access::Exclusive, 0);
        Ok(RwLockWriteGuard::new(lock))
    }

    /// Upgrades to a write lock, waiting at most `timeout` for the other readers to leave
    /// (while it waits, new readers wait too, as with parking_lot); gives the guard back if they
    /// did not. Never part of a reported deadlock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let up = lock.upgradable_read();
    /// let w = RwLockUpgradableReadGuard::try_upgrade_for(up, Duration::from_millis(5));
    /// assert!(w.is_ok());
    /// ```
    #[track_caller]
    pub fn try_upgrade_for(s: Self, timeout: Duration) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let (lock, at) = (s.lock, s.at);
        std::mem::forget(s);
        let raw = lock.raw.inner();
        let release = lock.state.releasing_as(Access::Upgradable);
        lock.state.released(release); // the upgrade goes on holding: nothing to wait for
        let unlock_on_unwind = UnlockUpgradableOnUnwind(raw);
        // SAFETY: as in `upgrade`; on timeout the upgradable lock is still held.
        let upgrade = unsafe { TimedUpgrade::new(raw) };
        let upgraded = lock.state.lock_within(Location::caller(), &upgrade, Access::Exclusive, 0, timeout);
        std::mem::forget(unlock_on_unwind);
        if upgraded {
            Ok(RwLockWriteGuard::new(lock))
        } else {
            lock.state.note_acquired(at, Access::Upgradable, 0);
            Err(RwLockUpgradableReadGuard::new(lock, at))
        }
    }

    /// [`RwLockUpgradableReadGuard::try_upgrade_for`], waiting at most until `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let up = lock.upgradable_read();
    /// let r = lock.read();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// let up = RwLockUpgradableReadGuard::try_upgrade_until(up, deadline).unwrap_err();
    /// # drop((r, up));
    /// ```
    #[track_caller]
    pub fn try_upgrade_until(s: Self, deadline: Instant) -> Result<RwLockWriteGuard<'a, T>, Self> {
        Self::try_upgrade_for(s, deadline.saturating_duration_since(Instant::now()))
    }

    /// Turns the upgradable lock into a plain read lock (another upgradable reader or a writer
    /// may then get in). Never blocks.
    ///
    /// ```
    /// use lockprof::parking_lot::{RwLock, RwLockUpgradableReadGuard};
    /// let lock = RwLock::new(1);
    /// let r = RwLockUpgradableReadGuard::downgrade(lock.upgradable_read());
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(r);
    /// ```
    #[track_caller]
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        std::mem::forget(s);
        let release = lock.state.releasing_as(Access::Upgradable);
        // SAFETY: the guard proved the upgradable lock held; it is forgotten.
        unsafe { lock.raw.inner().downgrade_upgradable() };
        lock.state.released(release);
        lock.state.note_acquired(Location::caller(), Access::Shared, 0);
        RwLockReadGuard::new(lock)
    }
}

impl<T: ?Sized> Deref for RwLockUpgradableReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: an upgradable lock excludes writers, so no `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockUpgradableReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let release = self.lock.state.releasing_as(Access::Upgradable);
        // SAFETY: this guard's upgradable lock is held and this is its single release.
        unsafe { self.lock.raw.inner().unlock_upgradable() };
        self.lock.state.released(release);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockUpgradableReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockUpgradableReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
