//! [`RwLock`]: `tokio::sync::RwLock` with tasks in the wait-for graph, and its guards.
//!
//! tokio's lock is fair: a read queued behind a waiting writer waits for it, which lockprof
//! models (see `wait_for_graph`'s "Tasks").

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use lockprof_profiler::async_holders::AsyncHolders;
use lockprof_profiler::{Access, LockKind, LockName, LockState};

use super::acquire::{Acquire, blocking};
use super::hold::Hold;
use super::mutex::{guard_mut, guard_traits};
use super::node;
use ::tokio::sync as tk;
use ::tokio::sync::TryLockError;

/// `tokio::sync::RwLock`, instrumented: same API, same fairness (a queued writer blocks later
/// readers), same guards.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = lockprof::tokio::RwLock::new(5);
/// {
///     let (r1, r2) = (lock.read().await, lock.read().await);
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 6);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    state: LockState,
    holders: AsyncHolders,
    inner: tk::RwLock<T>,
}

/// Converts a tokio guard's lifetime for an owned guard, which keeps its lock alive.
macro_rules! extend {
    ($guard:ident, $value:expr) => {
        // SAFETY: the guard borrows the lock inside the `Arc` that the owned guard built from it
        // keeps (declared after it, so dropped after it): the lock outlives the guard, in place.
        unsafe { std::mem::transmute::<tk::$guard<'_, _>, tk::$guard<'static, _>>($value) }
    };
}

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::RwLock::new(1).into_inner(), 1);
    /// ```
    #[track_caller]
    pub fn new(value: T) -> Self {
        RwLock::from_inner(tk::RwLock::new(value), None)
    }

    /// A new lock allowing at most `max_reads` readers at once.
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::with_max_readers(1, 2);
    /// let (_a, _b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    /// assert!(lock.try_read().is_err());
    /// ```
    #[track_caller]
    pub fn with_max_readers(value: T, max_reads: u32) -> Self {
        RwLock::from_inner(tk::RwLock::with_max_readers(value, max_reads), None)
    }

    /// A new lock, `const` (for statics).
    ///
    /// ```
    /// static LOCK: lockprof::tokio::RwLock<i32> = lockprof::tokio::RwLock::const_new(5);
    /// assert_eq!(*LOCK.try_read().unwrap(), 5);
    /// ```
    #[track_caller]
    pub const fn const_new(value: T) -> Self {
        RwLock {
            state: LockState::new(LockKind::RwLock, None),
            holders: AsyncHolders::new(),
            inner: tk::RwLock::const_new(value),
        }
    }

    /// [`RwLock::with_max_readers`], `const`.
    ///
    /// ```
    /// static LOCK: lockprof::tokio::RwLock<i32> = lockprof::tokio::RwLock::const_with_max_readers(5, 3);
    /// assert_eq!(*LOCK.try_read().unwrap(), 5);
    /// ```
    #[track_caller]
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> Self {
        RwLock {
            state: LockState::new(LockKind::RwLock, None),
            holders: AsyncHolders::new(),
            inner: tk::RwLock::const_with_max_readers(value, max_reads),
        }
    }

    /// A new lock with a name for lockprof's reports (lockprof only).
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::with_name(0, "config");
    /// assert_eq!(*lock.try_read().unwrap(), 0);
    /// ```
    #[track_caller]
    pub fn with_name(value: T, name: impl Into<Cow<'static, str>>) -> Self {
        RwLock::from_inner(tk::RwLock::new(value), Some(LockName::new(name)))
    }

    #[track_caller]
    fn from_inner(inner: tk::RwLock<T>, name: Option<LockName>) -> Self {
        RwLock { state: LockState::new(LockKind::RwLock, name), holders: AsyncHolders::new(), inner }
    }

    /// Consumes the lock, returning the data.
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::RwLock::new(2).into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    fn hold(&self, node: u64, at: &'static Location<'static>, access: Access) -> Hold<'_> {
        Hold::taken(&self.state, &self.holders, node, at, access)
    }

    fn acquire<F>(&self, inner: F, at: &'static Location<'static>, access: Access) -> Acquire<'_, F> {
        Acquire::new(inner, &self.state, &self.holders, at, access, 0)
    }

    /// Locks for reading, queueing behind any writer already waiting (tokio's fairness).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// assert_eq!(*lock.read().await, 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        self.acquire(self.inner.read(), at, Access::Shared)
            .then(move |inner, node| RwLockReadGuard { hold: self.hold(node, at, Access::Shared), inner })
    }

    /// Locks for reading, blocking the thread (outside any runtime).
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// assert_eq!(*lock.blocking_read(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        let at = Location::caller();
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Shared,
            0,
            || self.inner.try_read().ok(),
            || self.inner.blocking_read(),
        );
        RwLockReadGuard { hold: self.hold(lockprof_profiler::current_thread_id(), at, Access::Shared), inner }
    }

    /// Locks for reading if possible now.
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// ```
    #[track_caller]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let inner = self.inner.try_read()?;
        Ok(RwLockReadGuard { hold: self.hold(node::polling_or_thread(), at, Access::Shared), inner })
    }

    /// Locks for writing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// *lock.write().await = 2;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        self.acquire(self.inner.write(), at, Access::Exclusive).then(move |inner, node| RwLockWriteGuard {
            hold: self.hold(node, at, Access::Exclusive),
            lock: self,
            inner,
        })
    }

    /// Locks for writing, blocking the thread (outside any runtime).
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// *lock.blocking_write() = 2;
    /// assert_eq!(*lock.blocking_read(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        let at = Location::caller();
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Exclusive,
            0,
            || self.inner.try_write().ok(),
            || self.inner.blocking_write(),
        );
        let hold = self.hold(lockprof_profiler::current_thread_id(), at, Access::Exclusive);
        RwLockWriteGuard { hold, lock: self, inner }
    }

    /// Locks for writing if possible now.
    ///
    /// ```
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    #[track_caller]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let inner = self.inner.try_write()?;
        Ok(RwLockWriteGuard {
            hold: self.hold(node::polling_or_thread(), at, Access::Exclusive),
            lock: self,
            inner,
        })
    }

    /// The data, through exclusive access to the lock.
    ///
    /// ```
    /// let mut lock = lockprof::tokio::RwLock::new(1);
    /// *lock.get_mut() = 3;
    /// assert_eq!(lock.into_inner(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + 'static> RwLock<T> {
    fn owned_hold(&self, node: u64, at: &'static Location<'static>, access: Access) -> Hold<'static> {
        // SAFETY: every caller moves the `Arc` that owns `self` into the owned guard that keeps
        // this hold, declared after it.
        unsafe { Hold::taken_owned(&self.state, &self.holders, node, at, access).extend() }
    }

    /// [`RwLock::read`] through an `Arc`, for a guard that owns it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// let r = lock.clone().read_owned().await;
    /// assert_eq!(tokio::spawn(async move { *r }).await.unwrap(), 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockReadGuard<T>> {
        let at = Location::caller();
        async move {
            let (inner, node) = self.acquire(self.inner.read(), at, Access::Shared).await;
            let inner = extend!(RwLockReadGuard, inner);
            OwnedRwLockReadGuard { hold: self.owned_hold(node, at, Access::Shared), inner, lock: self }
        }
    }

    /// [`RwLock::try_read`] through an `Arc`.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// assert_eq!(*lock.try_read_owned().unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        let at = Location::caller();
        let inner = extend!(RwLockReadGuard, self.inner.try_read()?);
        let hold = self.owned_hold(node::polling_or_thread(), at, Access::Shared);
        Ok(OwnedRwLockReadGuard { hold, inner, lock: self })
    }

    /// [`RwLock::write`] through an `Arc`, for a guard that owns it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// let mut w = lock.clone().write_owned().await;
    /// tokio::spawn(async move { *w = 2 }).await.unwrap();
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> impl Future<Output = OwnedRwLockWriteGuard<T>> {
        let at = Location::caller();
        async move {
            let (inner, node) = self.acquire(self.inner.write(), at, Access::Exclusive).await;
            let inner = extend!(RwLockWriteGuard, inner);
            OwnedRwLockWriteGuard { hold: self.owned_hold(node, at, Access::Exclusive), inner, lock: self }
        }
    }

    /// [`RwLock::try_write`] through an `Arc`.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// *lock.clone().try_write_owned().unwrap() = 2;
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        let at = Location::caller();
        let inner = extend!(RwLockWriteGuard, self.inner.try_write()?);
        let hold = self.owned_hold(node::polling_or_thread(), at, Access::Exclusive);
        Ok(OwnedRwLockWriteGuard { hold, inner, lock: self })
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// Exactly tokio's output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A read guard of a [`RwLock`], as tokio's.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = lockprof::tokio::RwLock::new((1, 2));
/// let first = lockprof::tokio::RwLockReadGuard::map(lock.read().await, |p| &p.0);
/// assert_eq!(*first, 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    hold: Hold<'a>,
    inner: tk::RwLockReadGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// A read guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new([1, 2]);
    /// assert_eq!(*lockprof::tokio::RwLockReadGuard::map(lock.read().await, |a| &a[1]), 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&T) -> &U, U: ?Sized>(this: Self, f: F) -> RwLockReadGuard<'a, U> {
        let RwLockReadGuard { hold, inner } = this;
        RwLockReadGuard { hold, inner: tk::RwLockReadGuard::map(inner, f) }
    }

    /// A read guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(None::<i32>);
    /// assert!(lockprof::tokio::RwLockReadGuard::try_map(lock.read().await, |o| o.as_ref()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&T) -> Option<&U>, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let RwLockReadGuard { hold, inner } = this;
        match tk::RwLockReadGuard::try_map(inner, f) {
            Ok(inner) => Ok(RwLockReadGuard { hold, inner }),
            Err(inner) => Err(RwLockReadGuard { hold, inner }),
        }
    }
}

/// A write guard of a [`RwLock`], as tokio's.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = lockprof::tokio::RwLock::new(1);
/// let w = lock.write().await;
/// let r = w.downgrade();
/// assert_eq!(*r, 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    hold: Hold<'a>,
    lock: &'a RwLock<T>,
    inner: tk::RwLockWriteGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// A write guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new((1, 2));
    /// *lockprof::tokio::RwLockWriteGuard::map(lock.write().await, |p| &mut p.1) = 3;
    /// assert_eq!(*lock.read().await, (1, 3));
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&mut T) -> &mut U, U: ?Sized>(this: Self, f: F) -> RwLockMappedWriteGuard<'a, U> {
        let RwLockWriteGuard { hold, inner, .. } = this;
        RwLockMappedWriteGuard { hold, inner: tk::RwLockWriteGuard::map(inner, f) }
    }

    /// Downgrades to a read guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new((1, 2));
    /// let r = lockprof::tokio::RwLockWriteGuard::downgrade_map(lock.write().await, |p| &p.0);
    /// assert_eq!(*r, 1);
    /// # });
    /// ```
    #[inline]
    pub fn downgrade_map<F: FnOnce(&T) -> &U, U: ?Sized>(this: Self, f: F) -> RwLockReadGuard<'a, U> {
        let RwLockWriteGuard { hold, inner, .. } = this;
        RwLockReadGuard { hold: hold.downgrade(), inner: tk::RwLockWriteGuard::downgrade_map(inner, f) }
    }

    /// A write guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(Some(1));
    /// let g = lockprof::tokio::RwLockWriteGuard::try_map(lock.write().await, |o| o.as_mut());
    /// assert_eq!(*g.ok().unwrap(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&mut T) -> Option<&mut U>, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let RwLockWriteGuard { hold, lock, inner } = this;
        match tk::RwLockWriteGuard::try_map(inner, f) {
            Ok(inner) => Ok(RwLockMappedWriteGuard { hold, inner }),
            Err(inner) => Err(RwLockWriteGuard { hold, lock, inner }),
        }
    }

    /// Downgrades to a read guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(None::<i32>);
    /// assert!(lockprof::tokio::RwLockWriteGuard::try_downgrade_map(lock.write().await, |o| o.as_ref()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_downgrade_map<F: FnOnce(&T) -> Option<&U>, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let RwLockWriteGuard { hold, lock, inner } = this;
        match tk::RwLockWriteGuard::try_downgrade_map(inner, f) {
            Ok(inner) => Ok(RwLockReadGuard { hold: hold.downgrade(), inner }),
            Err(inner) => Err(RwLockWriteGuard { hold, lock, inner }),
        }
    }

    /// The same lock as a mapped write guard of the whole data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// let g = lockprof::tokio::RwLockWriteGuard::into_mapped(lock.write().await);
    /// assert_eq!(*g, 1);
    /// # });
    /// ```
    #[inline]
    pub fn into_mapped(this: Self) -> RwLockMappedWriteGuard<'a, T> {
        let RwLockWriteGuard { hold, inner, .. } = this;
        RwLockMappedWriteGuard { hold, inner: tk::RwLockWriteGuard::into_mapped(inner) }
    }

    /// Downgrades to a read guard, letting other readers in (no writer can get in between).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = lockprof::tokio::RwLock::new(1);
    /// let r = lock.write().await.downgrade();
    /// assert_eq!(*r + *lock.read().await, 2);
    /// # });
    /// ```
    #[inline]
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        let RwLockWriteGuard { hold, inner, lock: _ } = self;
        RwLockReadGuard { hold: hold.downgrade(), inner: inner.downgrade() }
    }
}

impl<T: ?Sized> RwLockWriteGuard<'_, T> {
    #[allow(dead_code)]
    fn rwlock(&self) -> &RwLock<T> {
        self.lock
    }
}

/// A write guard of part of a [`RwLock`]'s data ([`RwLockWriteGuard::map`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = lockprof::tokio::RwLock::new((1, 2));
/// let g: lockprof::tokio::RwLockMappedWriteGuard<'_, i32> =
///     lockprof::tokio::RwLockWriteGuard::map(lock.write().await, |p| &mut p.0);
/// assert_eq!(*g, 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    hold: Hold<'a>,
    inner: tk::RwLockMappedWriteGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// Maps further.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{RwLockMappedWriteGuard, RwLockWriteGuard};
    /// let lock = lockprof::tokio::RwLock::new(((1, 2), 3));
    /// let g = RwLockMappedWriteGuard::map(RwLockWriteGuard::map(lock.write().await, |p| &mut p.0), |q| &mut q.1);
    /// assert_eq!(*g, 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&mut T) -> &mut U, U: ?Sized>(this: Self, f: F) -> RwLockMappedWriteGuard<'a, U> {
        let RwLockMappedWriteGuard { hold, inner } = this;
        RwLockMappedWriteGuard { hold, inner: tk::RwLockMappedWriteGuard::map(inner, f) }
    }

    /// Maps further, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{RwLockMappedWriteGuard, RwLockWriteGuard};
    /// let lock = lockprof::tokio::RwLock::new((None::<i32>, 3));
    /// let g = RwLockWriteGuard::map(lock.write().await, |p| &mut p.0);
    /// assert!(RwLockMappedWriteGuard::try_map(g, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&mut T) -> Option<&mut U>, U: ?Sized>(
        this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let RwLockMappedWriteGuard { hold, inner } = this;
        match tk::RwLockMappedWriteGuard::try_map(inner, f) {
            Ok(inner) => Ok(RwLockMappedWriteGuard { hold, inner }),
            Err(inner) => Err(RwLockMappedWriteGuard { hold, inner }),
        }
    }
}

/// An owned read guard of a [`RwLock`] ([`RwLock::read_owned`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((1, 2)));
/// let r = lockprof::tokio::OwnedRwLockReadGuard::map(lock.clone().read_owned().await, |p| &p.1);
/// assert_eq!(*r, 2);
/// assert!(std::sync::Arc::ptr_eq(lockprof::tokio::OwnedRwLockReadGuard::rwlock(&r), &lock));
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockReadGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    hold: Hold<'static>,
    inner: tk::RwLockReadGuard<'static, U>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedRwLockReadGuard<T, U> {
    /// A read guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new([1, 2]));
    /// assert_eq!(*lockprof::tokio::OwnedRwLockReadGuard::map(lock.read_owned().await, |a| &a[0]), 1);
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&U) -> &V, V: ?Sized + 'static>(this: Self, f: F) -> OwnedRwLockReadGuard<T, V> {
        let OwnedRwLockReadGuard { hold, inner, lock } = this;
        OwnedRwLockReadGuard { hold, inner: tk::RwLockReadGuard::map(inner, f), lock }
    }

    /// A read guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(None::<i32>));
    /// assert!(lockprof::tokio::OwnedRwLockReadGuard::try_map(lock.read_owned().await, |o| o.as_ref()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&U) -> Option<&V>, V: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockReadGuard<T, V>, Self> {
        let OwnedRwLockReadGuard { hold, inner, lock } = this;
        match tk::RwLockReadGuard::try_map(inner, f) {
            Ok(inner) => Ok(OwnedRwLockReadGuard { hold, inner, lock }),
            Err(inner) => Err(OwnedRwLockReadGuard { hold, inner, lock }),
        }
    }

    /// The `Arc` of the lock.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// let r = lock.clone().read_owned().await;
    /// assert!(std::sync::Arc::ptr_eq(lockprof::tokio::OwnedRwLockReadGuard::rwlock(&r), &lock));
    /// # });
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

/// An owned write guard of a [`RwLock`] ([`RwLock::write_owned`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
/// let r = lock.clone().write_owned().await.downgrade();
/// assert_eq!(*r, 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockWriteGuard<T: ?Sized + 'static> {
    hold: Hold<'static>,
    inner: tk::RwLockWriteGuard<'static, T>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized + 'static> OwnedRwLockWriteGuard<T> {
    /// A write guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((1, 2)));
    /// *lockprof::tokio::OwnedRwLockWriteGuard::map(lock.clone().write_owned().await, |p| &mut p.0) = 5;
    /// assert_eq!(*lock.read().await, (5, 2));
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&mut T) -> &mut U, U: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> OwnedRwLockMappedWriteGuard<T, U> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = this;
        OwnedRwLockMappedWriteGuard { hold, inner: tk::RwLockWriteGuard::map(inner, f), lock }
    }

    /// Downgrades to a read guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((1, 2)));
    /// let r = lockprof::tokio::OwnedRwLockWriteGuard::downgrade_map(lock.write_owned().await, |p| &p.1);
    /// assert_eq!(*r, 2);
    /// # });
    /// ```
    #[inline]
    pub fn downgrade_map<F: FnOnce(&T) -> &U, U: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> OwnedRwLockReadGuard<T, U> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = this;
        OwnedRwLockReadGuard {
            hold: hold.downgrade(),
            inner: tk::RwLockWriteGuard::downgrade_map(inner, f),
            lock,
        }
    }

    /// A write guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(None::<i32>));
    /// assert!(lockprof::tokio::OwnedRwLockWriteGuard::try_map(lock.write_owned().await, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&mut T) -> Option<&mut U>, U: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, U>, Self> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = this;
        match tk::RwLockWriteGuard::try_map(inner, f) {
            Ok(inner) => Ok(OwnedRwLockMappedWriteGuard { hold, inner, lock }),
            Err(inner) => Err(OwnedRwLockWriteGuard { hold, inner, lock }),
        }
    }

    /// Downgrades to a read guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(Some(1)));
    /// let r = lockprof::tokio::OwnedRwLockWriteGuard::try_downgrade_map(lock.write_owned().await, |o| o.as_ref());
    /// assert_eq!(*r.ok().unwrap(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn try_downgrade_map<F: FnOnce(&T) -> Option<&U>, U: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockReadGuard<T, U>, Self> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = this;
        match tk::RwLockWriteGuard::try_downgrade_map(inner, f) {
            Ok(inner) => Ok(OwnedRwLockReadGuard { hold: hold.downgrade(), inner, lock }),
            Err(inner) => Err(OwnedRwLockWriteGuard { hold, inner, lock }),
        }
    }

    /// The same lock as a mapped write guard of the whole data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// let g = lockprof::tokio::OwnedRwLockWriteGuard::into_mapped(lock.write_owned().await);
    /// assert_eq!(*g, 1);
    /// # });
    /// ```
    #[inline]
    pub fn into_mapped(this: Self) -> OwnedRwLockMappedWriteGuard<T> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = this;
        OwnedRwLockMappedWriteGuard { hold, inner: tk::RwLockWriteGuard::into_mapped(inner), lock }
    }

    /// Downgrades to a read guard.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// assert_eq!(*lock.write_owned().await.downgrade(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn downgrade(self) -> OwnedRwLockReadGuard<T> {
        let OwnedRwLockWriteGuard { hold, inner, lock } = self;
        OwnedRwLockReadGuard { hold: hold.downgrade(), inner: inner.downgrade(), lock }
    }

    /// The `Arc` of the lock.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(1));
    /// let w = lock.clone().write_owned().await;
    /// assert!(std::sync::Arc::ptr_eq(lockprof::tokio::OwnedRwLockWriteGuard::rwlock(&w), &lock));
    /// # });
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

/// An owned write guard of part of a [`RwLock`]'s data ([`OwnedRwLockWriteGuard::map`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((1, 2)));
/// let g: lockprof::tokio::OwnedRwLockMappedWriteGuard<(i32, i32), i32> =
///     lockprof::tokio::OwnedRwLockWriteGuard::map(lock.write_owned().await, |p| &mut p.1);
/// assert_eq!(*g, 2);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedRwLockMappedWriteGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    hold: Hold<'static>,
    inner: tk::RwLockMappedWriteGuard<'static, U>,
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedRwLockMappedWriteGuard<T, U> {
    /// Maps further.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{OwnedRwLockMappedWriteGuard, OwnedRwLockWriteGuard};
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new(((1, 2), 3)));
    /// let g = OwnedRwLockMappedWriteGuard::map(OwnedRwLockWriteGuard::map(lock.write_owned().await, |p| &mut p.0), |q| &mut q.1);
    /// assert_eq!(*g, 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<F: FnOnce(&mut U) -> &mut V, V: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> OwnedRwLockMappedWriteGuard<T, V> {
        let OwnedRwLockMappedWriteGuard { hold, inner, lock } = this;
        OwnedRwLockMappedWriteGuard { hold, inner: tk::RwLockMappedWriteGuard::map(inner, f), lock }
    }

    /// Maps further, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{OwnedRwLockMappedWriteGuard, OwnedRwLockWriteGuard};
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((None::<i32>, 3)));
    /// let g = OwnedRwLockWriteGuard::map(lock.write_owned().await, |p| &mut p.0);
    /// assert!(OwnedRwLockMappedWriteGuard::try_map(g, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<F: FnOnce(&mut U) -> Option<&mut V>, V: ?Sized + 'static>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, V>, Self> {
        let OwnedRwLockMappedWriteGuard { hold, inner, lock } = this;
        match tk::RwLockMappedWriteGuard::try_map(inner, f) {
            Ok(inner) => Ok(OwnedRwLockMappedWriteGuard { hold, inner, lock }),
            Err(inner) => Err(OwnedRwLockMappedWriteGuard { hold, inner, lock }),
        }
    }

    /// The `Arc` of the lock.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{OwnedRwLockMappedWriteGuard, OwnedRwLockWriteGuard};
    /// let lock = std::sync::Arc::new(lockprof::tokio::RwLock::new((1, 2)));
    /// let g = OwnedRwLockWriteGuard::map(lock.clone().write_owned().await, |p| &mut p.0);
    /// assert!(std::sync::Arc::ptr_eq(OwnedRwLockMappedWriteGuard::rwlock(&g), &lock));
    /// # });
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<RwLock<T>> {
        &this.lock
    }
}

guard_traits! {
    ['a, T: ?Sized] RwLockReadGuard<'a, T> => T;
    ['a, T: ?Sized] RwLockWriteGuard<'a, T> => T;
    ['a, T: ?Sized] RwLockMappedWriteGuard<'a, T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedRwLockReadGuard<T, U> => U;
    [T: ?Sized + 'static] OwnedRwLockWriteGuard<T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedRwLockMappedWriteGuard<T, U> => U;
}
guard_mut! {
    ['a, T: ?Sized] RwLockWriteGuard<'a, T> => T;
    ['a, T: ?Sized] RwLockMappedWriteGuard<'a, T> => T;
    [T: ?Sized + 'static] OwnedRwLockWriteGuard<T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedRwLockMappedWriteGuard<T, U> => U;
}
