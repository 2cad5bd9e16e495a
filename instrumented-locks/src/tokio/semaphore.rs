//! [`Semaphore`]: `tokio::sync::Semaphore` with its waits watched and profiled, and its permits.
//!
//! A semaphore's waits are published (the watchdog and the contention profile see them) but not
//! relied on for deadlock reports yet: tokio hands released permits to the head of its queue a
//! few at a time, so "every missing permit is held by a blocked task" is not observable from
//! outside it. A pool full of slow holders is therefore never reported.

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
use ::tokio::sync::{AcquireError, TryAcquireError};

/// `tokio::sync::Semaphore`, instrumented: same API, same fairness (FIFO), same permits.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let pool = lockprof::tokio::Semaphore::new(2);
/// let a = pool.acquire().await.unwrap();
/// let _b = pool.acquire().await.unwrap();
/// assert!(pool.try_acquire().is_err());
/// drop(a);
/// assert_eq!(pool.available_permits(), 1);
/// # });
/// ```
pub struct Semaphore {
    state: LockState,
    holders: AsyncHolders,
    inner: tk::Semaphore,
}

/// Converts a tokio permit's lifetime for an owned permit, which keeps its semaphore alive.
macro_rules! extend {
    ($value:expr) => {
        // SAFETY: the permit borrows the semaphore inside the `Arc` that the owned permit built
        // from it keeps (declared after it, so dropped after it): it outlives the permit, in place.
        unsafe { std::mem::transmute::<tk::SemaphorePermit<'_>, tk::SemaphorePermit<'static>>($value) }
    };
}

impl Semaphore {
    /// The most permits a semaphore can hold (tokio's).
    pub const MAX_PERMITS: usize = tk::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::Semaphore::new(3).available_permits(), 3);
    /// ```
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        Semaphore::from_inner(tk::Semaphore::new(permits), None)
    }

    /// A semaphore, `const` (for statics).
    ///
    /// ```
    /// static POOL: lockprof::tokio::Semaphore = lockprof::tokio::Semaphore::const_new(4);
    /// assert_eq!(POOL.available_permits(), 4);
    /// ```
    #[track_caller]
    pub const fn const_new(permits: usize) -> Self {
        Semaphore {
            state: LockState::new(LockKind::Semaphore, None),
            holders: AsyncHolders::new(),
            inner: tk::Semaphore::const_new(permits),
        }
    }

    /// A semaphore with a name for lockprof's reports (lockprof only).
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::Semaphore::with_name(8, "db-pool").available_permits(), 8);
    /// ```
    #[track_caller]
    pub fn with_name(permits: usize, name: impl Into<Cow<'static, str>>) -> Self {
        Semaphore::from_inner(tk::Semaphore::new(permits), Some(LockName::new(name)))
    }

    #[track_caller]
    fn from_inner(inner: tk::Semaphore, name: Option<LockName>) -> Self {
        Semaphore { state: LockState::new(LockKind::Semaphore, name), holders: AsyncHolders::new(), inner }
    }

    /// Permits free now.
    ///
    /// ```
    /// assert_eq!(lockprof::tokio::Semaphore::new(1).available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(0);
    /// s.add_permits(2);
    /// assert_eq!(s.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n)
    }

    /// Removes up to `n` free permits; returns how many.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(3);
    /// assert_eq!(s.forget_permits(2), 2);
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    fn permit<'a>(
        &'a self,
        node: u64,
        at: &'static Location<'static>,
        inner: tk::SemaphorePermit<'a>,
    ) -> SemaphorePermit<'a> {
        SemaphorePermit {
            hold: Hold::taken(&self.state, &self.holders, node, at, Access::Permits),
            sem: self,
            inner,
        }
    }

    fn acquire_n<F>(&self, inner: F, at: &'static Location<'static>, n: u32) -> Acquire<'_, F> {
        Acquire::new(inner, &self.state, &self.holders, at, Access::Permits, n)
    }

    /// Waits for a permit (FIFO). Fails once the semaphore is closed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// assert_eq!(s.acquire().await.unwrap().num_permits(), 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        let at = Location::caller();
        let acquire = self.acquire_n(self.inner.acquire(), at, 1);
        async move {
            let (inner, node) = acquire.await;
            Ok(self.permit(node, at, inner?))
        }
    }

    /// Waits for `n` permits at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let s = lockprof::tokio::Semaphore::new(3);
    /// assert_eq!(s.acquire_many(2).await.unwrap().num_permits(), 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn acquire_many(&self, n: u32) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> {
        let at = Location::caller();
        let acquire = self.acquire_n(self.inner.acquire_many(n), at, n);
        async move {
            let (inner, node) = acquire.await;
            Ok(self.permit(node, at, inner?))
        }
    }

    /// A permit if one is free now.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// let p = s.try_acquire().unwrap();
    /// assert!(s.try_acquire().is_err());
    /// # drop(p);
    /// ```
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let at = Location::caller();
        let inner = self.inner.try_acquire()?;
        Ok(self.permit(node::polling_or_thread(), at, inner))
    }

    /// `n` permits if they are free now.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(2);
    /// assert!(s.try_acquire_many(3).is_err());
    /// assert_eq!(s.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let at = Location::caller();
        let inner = self.inner.try_acquire_many(n)?;
        Ok(self.permit(node::polling_or_thread(), at, inner))
    }

    /// Waits for a permit, blocking the thread (outside any runtime).
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// assert_eq!(s.blocking_acquire().unwrap().num_permits(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.blocking_acquire_many_at(1, Location::caller())
    }

    /// Waits for `n` permits, blocking the thread (outside any runtime).
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(2);
    /// assert_eq!(s.blocking_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.blocking_acquire_many_at(n, Location::caller())
    }

    fn blocking_acquire_many_at(
        &self,
        n: u32,
        at: &'static Location<'static>,
    ) -> Result<SemaphorePermit<'_>, AcquireError> {
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Permits,
            n,
            || self.inner.try_acquire_many(n).ok().map(Ok),
            || self.inner.blocking_acquire_many(n),
        )?;
        Ok(self.permit(lockprof_profiler::current_thread_id(), at, inner))
    }

    /// Closes the semaphore: waiters and later acquisitions fail; permits already out stay valid.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// s.close();
    /// assert!(s.is_closed());
    /// assert!(s.acquire().await.is_err());
    /// # });
    /// ```
    pub fn close(&self) {
        self.inner.close()
    }

    /// Whether [`Semaphore::close`] was called.
    ///
    /// ```
    /// assert!(!lockprof::tokio::Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn owned(
        self: Arc<Self>,
        node: u64,
        at: &'static Location<'static>,
        inner: tk::SemaphorePermit<'static>,
    ) -> OwnedSemaphorePermit {
        // SAFETY: the `Arc` that owns `self` moves into the owned permit, declared after the hold.
        let hold =
            unsafe { Hold::taken_owned(&self.state, &self.holders, node, at, Access::Permits).extend() };
        OwnedSemaphorePermit { hold, inner, sem: self }
    }

    /// [`Semaphore::acquire`] through an `Arc`, for a permit that owns it (can move into tasks).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// let permit = pool.clone().acquire_owned().await.unwrap();
    /// tokio::spawn(async move { drop(permit) }).await.unwrap();
    /// assert_eq!(pool.available_permits(), 1);
    /// # });
    /// ```
    #[track_caller]
    pub fn acquire_owned(
        self: Arc<Self>,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned_at(1, Location::caller())
    }

    /// [`Semaphore::acquire_many`] through an `Arc`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(2));
    /// assert_eq!(pool.acquire_many_owned(2).await.unwrap().num_permits(), 2);
    /// # });
    /// ```
    #[track_caller]
    pub fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>> {
        self.acquire_many_owned_at(n, Location::caller())
    }

    async fn acquire_many_owned_at(
        self: Arc<Self>,
        n: u32,
        at: &'static Location<'static>,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        let (inner, node) = self.acquire_n(self.inner.acquire_many(n), at, n).await;
        let inner = extend!(inner?);
        Ok(self.owned(node, at, inner))
    }

    /// [`Semaphore::try_acquire`] through an `Arc`.
    ///
    /// ```
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// let p = pool.clone().try_acquire_owned().unwrap();
    /// assert!(pool.clone().try_acquire_owned().is_err());
    /// # drop(p);
    /// ```
    #[track_caller]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned_at(1, Location::caller())
    }

    /// [`Semaphore::try_acquire_many`] through an `Arc`.
    ///
    /// ```
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(2));
    /// assert_eq!(pool.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn try_acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned_at(n, Location::caller())
    }

    fn try_acquire_many_owned_at(
        self: Arc<Self>,
        n: u32,
        at: &'static Location<'static>,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        let inner = extend!(self.inner.try_acquire_many(n)?);
        Ok(self.owned(node::polling_or_thread(), at, inner))
    }

    /// [`Semaphore::blocking_acquire`] through an `Arc`.
    ///
    /// ```
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// assert_eq!(pool.blocking_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    #[track_caller]
    pub fn blocking_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.blocking_acquire_many_owned_at(1, Location::caller())
    }

    /// [`Semaphore::blocking_acquire_many`] through an `Arc`.
    ///
    /// ```
    /// let pool = std::sync::Arc::new(lockprof::tokio::Semaphore::new(2));
    /// assert_eq!(pool.blocking_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.blocking_acquire_many_owned_at(n, Location::caller())
    }

    fn blocking_acquire_many_owned_at(
        self: Arc<Self>,
        n: u32,
        at: &'static Location<'static>,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        let inner = blocking(
            &self.state,
            &self.holders,
            at,
            Access::Permits,
            n,
            || self.inner.try_acquire_many(n).ok().map(Ok),
            || self.inner.blocking_acquire_many(n),
        )?;
        let inner = extend!(inner);
        Ok(self.owned(lockprof_profiler::current_thread_id(), at, inner))
    }
}

impl fmt::Debug for Semaphore {
    /// Exactly tokio's output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Permits of a [`Semaphore`], returned when dropped.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let s = lockprof::tokio::Semaphore::new(3);
/// let mut p = s.acquire_many(3).await.unwrap();
/// let q = p.split(1).unwrap();
/// assert_eq!((p.num_permits(), q.num_permits()), (2, 1));
/// p.merge(q);
/// assert_eq!(p.num_permits(), 3);
/// # });
/// ```
#[must_use]
pub struct SemaphorePermit<'a> {
    hold: Hold<'a>,
    sem: &'a Semaphore,
    inner: tk::SemaphorePermit<'a>,
}

impl<'a> SemaphorePermit<'a> {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// s.try_acquire().unwrap().forget();
    /// assert_eq!(s.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        let SemaphorePermit { hold, inner, .. } = self;
        drop(hold);
        inner.forget()
    }

    /// Takes `other`'s permits into this one (same semaphore; panics otherwise, as tokio).
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(2);
    /// let (mut a, b) = (s.try_acquire().unwrap(), s.try_acquire().unwrap());
    /// a.merge(b);
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, other: Self) {
        let SemaphorePermit { hold, inner, .. } = other;
        drop(hold);
        self.inner.merge(inner)
    }

    /// Splits `n` permits off into a new permit, if it has that many.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(2);
    /// let mut a = s.try_acquire_many(2).unwrap();
    /// assert!(a.split(3).is_none());
    /// assert_eq!(a.split(1).unwrap().num_permits(), 1);
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let inner = self.inner.split(n)?;
        let hold = Hold { state: self.hold.state, holders: self.hold.holders, hold: self.hold.hold };
        Some(SemaphorePermit { hold, sem: self.sem, inner })
    }

    /// The semaphore these permits belong to.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(1);
    /// let p = s.try_acquire().unwrap();
    /// assert!(std::ptr::eq(p.semaphore(), &s));
    /// ```
    pub fn semaphore(&self) -> &Semaphore {
        self.sem
    }

    /// How many permits this is.
    ///
    /// ```
    /// let s = lockprof::tokio::Semaphore::new(2);
    /// assert_eq!(s.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Permits of a [`Semaphore`] that own it through an `Arc` ([`Semaphore::acquire_owned`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
/// let p = s.clone().acquire_owned().await.unwrap();
/// assert!(std::sync::Arc::ptr_eq(p.semaphore(), &s));
/// # });
/// ```
#[must_use]
pub struct OwnedSemaphorePermit {
    hold: Hold<'static>,
    inner: tk::SemaphorePermit<'static>,
    sem: Arc<Semaphore>,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    ///
    /// ```
    /// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// s.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(s.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        let OwnedSemaphorePermit { hold, inner, sem } = self;
        drop(hold);
        inner.forget();
        drop(sem);
    }

    /// Takes `other`'s permits into this one (same semaphore; panics otherwise, as tokio).
    ///
    /// ```
    /// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(2));
    /// let mut a = s.clone().try_acquire_owned().unwrap();
    /// a.merge(s.clone().try_acquire_owned().unwrap());
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, other: Self) {
        let OwnedSemaphorePermit { hold, inner, sem } = other;
        drop(hold);
        self.inner.merge(inner);
        drop(sem);
    }

    /// Splits `n` permits off into a new permit, if it has that many.
    ///
    /// ```
    /// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(2));
    /// let mut a = s.try_acquire_many_owned(2).unwrap();
    /// assert_eq!(a.split(1).unwrap().num_permits(), 1);
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        let inner = self.inner.split(n)?;
        let hold = Hold { state: self.hold.state, holders: self.hold.holders, hold: self.hold.hold };
        Some(OwnedSemaphorePermit { hold, inner, sem: Arc::clone(&self.sem) })
    }

    /// The semaphore these permits belong to.
    ///
    /// ```
    /// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// let p = s.clone().try_acquire_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(p.semaphore(), &s));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// How many permits this is.
    ///
    /// ```
    /// let s = std::sync::Arc::new(lockprof::tokio::Semaphore::new(1));
    /// assert_eq!(s.try_acquire_owned().unwrap().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.inner.num_permits()
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
