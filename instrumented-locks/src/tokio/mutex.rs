//! [`Mutex`]: `tokio::sync::Mutex` with tasks in the wait-for graph, and its guards.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use lockprof_profiler::async_holders::AsyncHolders;
use lockprof_profiler::{Access, LockKind, LockName, LockState};

use super::acquire::{Acquire, blocking};
use super::hold::Hold;
use super::node;
use ::tokio::sync as tk;
use ::tokio::sync::TryLockError;

/// `tokio::sync::Mutex`, instrumented: same API, same fairness (FIFO), same guards.
///
/// ```
/// use std::sync::Arc;
/// use lockprof::tokio::Mutex;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let data = Arc::new(Mutex::new(vec![1]));
/// let other = Arc::clone(&data);
/// tokio::spawn(async move { other.lock().await.push(2) }).await.unwrap();
/// assert_eq!(*data.lock().await, [1, 2]);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    state: LockState,
    holders: AsyncHolders,
    inner: tk::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    ///
    /// ```
    /// let m = lockprof::tokio::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    #[track_caller]
    pub fn new(t: T) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, None),
            holders: AsyncHolders::new(),
            inner: tk::Mutex::new(t),
        }
    }

    /// A new mutex, `const` (for statics).
    ///
    /// ```
    /// static LOCK: lockprof::tokio::Mutex<i32> = lockprof::tokio::Mutex::const_new(5);
    /// assert_eq!(*LOCK.try_lock().unwrap(), 5);
    /// ```
    #[track_caller]
    pub const fn const_new(t: T) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, None),
            holders: AsyncHolders::new(),
            inner: tk::Mutex::const_new(t),
        }
    }

    /// A new mutex with a name for lockprof's reports (lockprof only).
    ///
    /// ```
    /// let m = lockprof::tokio::Mutex::with_name(0, "ledger");
    /// assert_eq!(*m.try_lock().unwrap(), 0);
    /// ```
    #[track_caller]
    pub fn with_name(t: T, name: impl Into<Cow<'static, str>>) -> Self {
        Mutex {
            state: LockState::new(LockKind::Mutex, Some(LockName::new(name))),
            holders: AsyncHolders::new(),
            inner: tk::Mutex::new(t),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::Mutex::new(1).into_inner(), 1);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    fn guard<'a>(
        &'a self,
        node: u64,
        at: &'static Location<'static>,
        inner: tk::MutexGuard<'a, T>,
    ) -> MutexGuard<'a, T> {
        MutexGuard {
            hold: Hold::taken(&self.state, &self.holders, node, at, Access::Exclusive),
            mutex: self,
            inner,
        }
    }

    /// Locks, waiting (asynchronously) in FIFO order.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = lockprof::tokio::Mutex::new(1);
    /// *m.lock().await += 1;
    /// assert_eq!(*m.lock().await, 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> {
        let at = Location::caller();
        Acquire::new(self.inner.lock(), &self.state, &self.holders, at, Access::Exclusive, 0)
            .then(move |inner, node| self.guard(node, at, inner))
    }

    /// Locks, blocking the thread (outside any runtime, as tokio's).
    ///
    /// ```
    /// let m = lockprof::tokio::Mutex::new(1);
    /// *m.blocking_lock() += 1;
    /// assert_eq!(*m.blocking_lock(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let at = Location::caller();
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Exclusive,
            0,
            || self.inner.try_lock().ok(),
            || self.inner.blocking_lock(),
        );
        self.guard(lockprof_profiler::current_thread_id(), at, inner)
    }

    /// Locks if free now.
    ///
    /// ```
    /// let m = lockprof::tokio::Mutex::new(1);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let inner = self.inner.try_lock()?;
        Ok(self.guard(node::polling_or_thread(), at, inner))
    }

    /// The data, through exclusive access to the mutex.
    ///
    /// ```
    /// let mut m = lockprof::tokio::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized + 'static> Mutex<T> {
    fn owned_guard(
        self: Arc<Self>,
        node: u64,
        at: &'static Location<'static>,
        inner: tk::MutexGuard<'static, T>,
    ) -> OwnedMutexGuard<T> {
        // SAFETY: the hold (like `inner`, made `'static` by the caller) borrows `*self`, which
        // the `Arc` moved into the owned guard keeps alive and in place; they are declared before
        // it, so dropped before it.
        let hold =
            unsafe { Hold::taken_owned(&self.state, &self.holders, node, at, Access::Exclusive).extend() };
        OwnedMutexGuard { hold, inner, lock: self }
    }

    /// Locks through an `Arc`, for a guard that owns it (`'static`, can move into a task).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(1));
    /// let mut g = m.clone().lock_owned().await;
    /// tokio::spawn(async move { *g += 1 }).await.unwrap();
    /// assert_eq!(*m.lock().await, 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedMutexGuard<T>> {
        let at = Location::caller();
        async move {
            let (inner, node) =
                Acquire::new(self.inner.lock(), &self.state, &self.holders, at, Access::Exclusive, 0).await;
            // SAFETY: `self` is moved into the owned guard, which drops the borrowing guard first.
            let inner =
                unsafe { std::mem::transmute::<tk::MutexGuard<'_, T>, tk::MutexGuard<'static, T>>(inner) };
            self.owned_guard(node, at, inner)
        }
    }

    /// [`Mutex::blocking_lock`] through an `Arc`.
    ///
    /// ```
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(1));
    /// assert_eq!(*m.clone().blocking_lock_owned(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        let at = Location::caller();
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Exclusive,
            0,
            || self.inner.try_lock().ok(),
            || self.inner.blocking_lock(),
        );
        // SAFETY: as in `lock_owned`.
        let inner =
            unsafe { std::mem::transmute::<tk::MutexGuard<'_, T>, tk::MutexGuard<'static, T>>(inner) };
        self.owned_guard(lockprof_profiler::current_thread_id(), at, inner)
    }

    /// [`Mutex::try_lock`] through an `Arc`.
    ///
    /// ```
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(1));
    /// let g = m.clone().try_lock_owned().unwrap();
    /// assert!(m.clone().try_lock_owned().is_err());
    /// drop(g);
    /// ```
    #[track_caller]
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        let at = Location::caller();
        let inner = self.inner.try_lock()?;
        // SAFETY: as in `lock_owned`.
        let inner =
            unsafe { std::mem::transmute::<tk::MutexGuard<'_, T>, tk::MutexGuard<'static, T>>(inner) };
        Ok(self.owned_guard(node::polling_or_thread(), at, inner))
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(t: T) -> Self {
        Mutex::new(t)
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// Exactly tokio's output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A borrowed guard of a [`Mutex`], as tokio's.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = lockprof::tokio::Mutex::new((1, 2));
/// let g = m.lock().await;
/// let first = lockprof::tokio::MutexGuard::map(g, |pair| &mut pair.0);
/// assert_eq!(*first, 1);
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    hold: Hold<'a>,
    mutex: &'a Mutex<T>,
    inner: tk::MutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// A guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = lockprof::tokio::Mutex::new((1, 2));
    /// let mut second = lockprof::tokio::MutexGuard::map(m.lock().await, |p| &mut p.1);
    /// *second = 3;
    /// # drop(second);
    /// assert_eq!(*m.lock().await, (1, 3));
    /// # });
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(this: Self, f: F) -> MappedMutexGuard<'a, U> {
        let MutexGuard { hold, inner, .. } = this;
        MappedMutexGuard { hold, inner: tk::MutexGuard::map(inner, f) }
    }

    /// A guard of part of the data, if `f` finds it; else the guard back.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = lockprof::tokio::Mutex::new(Some(1));
    /// let some = lockprof::tokio::MutexGuard::try_map(m.lock().await, |o| o.as_mut());
    /// assert_eq!(*some.ok().unwrap(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let MutexGuard { hold, mutex, inner } = this;
        match tk::MutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedMutexGuard { hold, inner }),
            Err(inner) => Err(MutexGuard { hold, mutex, inner }),
        }
    }

    /// The mutex this guard locks.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = lockprof::tokio::Mutex::new(1);
    /// let g = m.lock().await;
    /// assert!(std::ptr::eq(lockprof::tokio::MutexGuard::mutex(&g), &m));
    /// # });
    /// ```
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

/// A guard of part of a [`Mutex`]'s data ([`MutexGuard::map`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = lockprof::tokio::Mutex::new([1, 2]);
/// let g: lockprof::tokio::MappedMutexGuard<'_, i32> = lockprof::tokio::MutexGuard::map(m.lock().await, |a| &mut a[1]);
/// assert_eq!(*g, 2);
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    hold: Hold<'a>,
    inner: tk::MappedMutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// Maps further.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{MappedMutexGuard, MutexGuard};
    /// let m = lockprof::tokio::Mutex::new(((1, 2), 3));
    /// let g = MappedMutexGuard::map(MutexGuard::map(m.lock().await, |p| &mut p.0), |q| &mut q.1);
    /// assert_eq!(*g, 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<U, F: FnOnce(&mut T) -> &mut U>(this: Self, f: F) -> MappedMutexGuard<'a, U> {
        let MappedMutexGuard { hold, inner } = this;
        MappedMutexGuard { hold, inner: tk::MappedMutexGuard::map(inner, f) }
    }

    /// Maps further, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{MappedMutexGuard, MutexGuard};
    /// let m = lockprof::tokio::Mutex::new((None::<i32>, 3));
    /// let g = MutexGuard::map(m.lock().await, |p| &mut p.0);
    /// assert!(MappedMutexGuard::try_map(g, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<U, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let MappedMutexGuard { hold, inner } = this;
        match tk::MappedMutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(MappedMutexGuard { hold, inner }),
            Err(inner) => Err(MappedMutexGuard { hold, inner }),
        }
    }
}

/// An owned guard of a [`Mutex`] ([`Mutex::lock_owned`]): keeps the `Arc`, can move into tasks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(1));
/// let g: lockprof::tokio::OwnedMutexGuard<i32> = m.clone().lock_owned().await;
/// assert!(std::sync::Arc::ptr_eq(lockprof::tokio::OwnedMutexGuard::mutex(&g), &m));
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMutexGuard<T: ?Sized + 'static> {
    // Field order is drop order: the hold and tokio's guard borrow `*lock`.
    hold: Hold<'static>,
    inner: tk::MutexGuard<'static, T>,
    lock: Arc<Mutex<T>>,
}

impl<T: ?Sized + 'static> OwnedMutexGuard<T> {
    /// A guard of part of the data.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new((1, 2)));
    /// let g = lockprof::tokio::OwnedMutexGuard::map(m.lock_owned().await, |p| &mut p.1);
    /// assert_eq!(*g, 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<U: ?Sized + 'static, F: FnOnce(&mut T) -> &mut U>(
        this: Self,
        f: F,
    ) -> OwnedMappedMutexGuard<T, U> {
        let OwnedMutexGuard { hold, inner, lock } = this;
        OwnedMappedMutexGuard { hold, inner: tk::MutexGuard::map(inner, f), lock }
    }

    /// A guard of part of the data, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(None::<i32>));
    /// assert!(lockprof::tokio::OwnedMutexGuard::try_map(m.lock_owned().await, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized + 'static, F: FnOnce(&mut T) -> Option<&mut U>>(
        this: Self,
        f: F,
    ) -> Result<OwnedMappedMutexGuard<T, U>, Self> {
        let OwnedMutexGuard { hold, inner, lock } = this;
        match tk::MutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(OwnedMappedMutexGuard { hold, inner, lock }),
            Err(inner) => Err(OwnedMutexGuard { hold, inner, lock }),
        }
    }

    /// The `Arc` of the mutex this guard locks.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(1));
    /// let g = m.clone().lock_owned().await;
    /// assert_eq!(std::sync::Arc::strong_count(lockprof::tokio::OwnedMutexGuard::mutex(&g)), 2);
    /// # });
    /// ```
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.lock
    }
}

/// An owned guard of part of a [`Mutex`]'s data ([`OwnedMutexGuard::map`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new((1, 2)));
/// let g: lockprof::tokio::OwnedMappedMutexGuard<(i32, i32), i32> =
///     lockprof::tokio::OwnedMutexGuard::map(m.lock_owned().await, |p| &mut p.0);
/// assert_eq!(*g, 1);
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMappedMutexGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    hold: Hold<'static>,
    inner: tk::MappedMutexGuard<'static, U>,
    lock: Arc<Mutex<T>>,
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedMappedMutexGuard<T, U> {
    /// Maps further.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{OwnedMappedMutexGuard, OwnedMutexGuard};
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new(((1, 2), 3)));
    /// let g = OwnedMappedMutexGuard::map(OwnedMutexGuard::map(m.lock_owned().await, |p| &mut p.0), |q| &mut q.1);
    /// assert_eq!(*g, 2);
    /// # });
    /// ```
    #[inline]
    pub fn map<S: 'static, F: FnOnce(&mut U) -> &mut S>(this: Self, f: F) -> OwnedMappedMutexGuard<T, S> {
        let OwnedMappedMutexGuard { hold, inner, lock } = this;
        OwnedMappedMutexGuard { hold, inner: tk::MappedMutexGuard::map(inner, f), lock }
    }

    /// Maps further, if `f` finds it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use lockprof::tokio::{OwnedMappedMutexGuard, OwnedMutexGuard};
    /// let m = std::sync::Arc::new(lockprof::tokio::Mutex::new((None::<i32>, 3)));
    /// let g = OwnedMutexGuard::map(m.lock_owned().await, |p| &mut p.0);
    /// assert!(OwnedMappedMutexGuard::try_map(g, |o| o.as_mut()).is_err());
    /// # });
    /// ```
    #[inline]
    pub fn try_map<S: 'static, F: FnOnce(&mut U) -> Option<&mut S>>(
        this: Self,
        f: F,
    ) -> Result<OwnedMappedMutexGuard<T, S>, Self> {
        let OwnedMappedMutexGuard { hold, inner, lock } = this;
        match tk::MappedMutexGuard::try_map(inner, f) {
            Ok(inner) => Ok(OwnedMappedMutexGuard { hold, inner, lock }),
            Err(inner) => Err(OwnedMappedMutexGuard { hold, inner, lock }),
        }
    }
}

macro_rules! guard_traits {
    ($([$($gen:tt)*] $guard:ty => $target:ty;)*) => {$(
        impl<$($gen)*> std::ops::Deref for $guard {
            type Target = $target;
            #[inline]
            fn deref(&self) -> &$target {
                &self.inner
            }
        }
        impl<$($gen)*> std::fmt::Debug for $guard where $target: std::fmt::Debug {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<$($gen)*> std::fmt::Display for $guard where $target: std::fmt::Display {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use guard_traits;

macro_rules! guard_mut {
    ($([$($gen:tt)*] $guard:ty => $target:ty;)*) => {$(
        impl<$($gen)*> std::ops::DerefMut for $guard {
            #[inline]
            fn deref_mut(&mut self) -> &mut $target {
                &mut self.inner
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use guard_mut;

guard_traits! {
    ['a, T: ?Sized] MutexGuard<'a, T> => T;
    ['a, T: ?Sized] MappedMutexGuard<'a, T> => T;
    [T: ?Sized + 'static] OwnedMutexGuard<T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedMappedMutexGuard<T, U> => U;
}
guard_mut! {
    ['a, T: ?Sized] MutexGuard<'a, T> => T;
    ['a, T: ?Sized] MappedMutexGuard<'a, T> => T;
    [T: ?Sized + 'static] OwnedMutexGuard<T> => T;
    [T: ?Sized + 'static, U: ?Sized + 'static] OwnedMappedMutexGuard<T, U> => U;
}
