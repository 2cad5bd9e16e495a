//! [`Semaphore`]: a counting semaphore, the building block of connection pools, which std lacks.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use lockprof_profiler::{Access, LockKind, LockName, LockState, RawLock};

/// A counting semaphore: `permits` threads may hold a permit at once; the others wait.
///
/// It is the connection-pool building block: a pool of `n` connections is a `Semaphore::new(n)`
/// whose permit a thread holds while it uses a connection.
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
///
/// A wait for a permit is a deadlock only when every outstanding permit is held by threads that
/// are themselves deadlocked with the waiter (a *knot*): a full pool whose holders are merely slow
/// is never reported. A semaphore on which [`Semaphore::add_permits`] has been called is a
/// signal (permits may come from a thread that holds none), and its waits are never reported as
/// deadlocks; the watchdog (`LOCKPROF_WATCHDOG_MS`) still reports long ones.
///
/// Permits are `!Send`: they are returned by the thread that took them, so lockprof knows who
/// holds what.
pub struct Semaphore {
    state: LockState,
    counts: std::sync::Mutex<Counts>,
    freed: std::sync::Condvar,
}

#[derive(Debug, Clone, Copy)]
struct Counts {
    available: usize,
    outstanding: usize,
    signal: bool,
}

impl Semaphore {
    /// A semaphore with `permits` permits; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static POOL: lockprof::Semaphore = lockprof::Semaphore::new(4);
    /// assert_eq!(POOL.available_permits(), 4);
    /// ```
    #[track_caller]
    pub const fn new(permits: usize) -> Self {
        Semaphore::named_opt(permits, None)
    }

    /// A semaphore with a name for reports.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::with_name(8, "db-pool");
    /// assert_eq!(pool.name(), Some("db-pool"));
    /// ```
    ///
    /// The name is a `&'static str` or a `String` made at run time (`format!("account-{id}")`):
    /// reports show it, with the lock's id, beside the creation site. For a `static`, use the
    /// `const` [`with_static_name`](Self::with_static_name).
    #[track_caller]
    pub fn with_name(permits: usize, name: impl Into<Cow<'static, str>>) -> Self {
        Self::named_opt(permits, Some(LockName::new(name)))
    }

    /// [`with_name`](Self::with_name) for a `static`: `const`, with a `&'static str`.
    ///
    /// ```
    /// static LEDGER: lockprof::Semaphore = lockprof::Semaphore::with_static_name(4, "ledger");
    /// assert_eq!(LEDGER.name(), Some("ledger"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(permits: usize, name: &'static str) -> Self {
        Self::named_opt(permits, Some(LockName::from_static(name)))
    }

    #[track_caller]
    const fn named_opt(permits: usize, name: Option<LockName>) -> Self {
        Semaphore {
            state: LockState::new(LockKind::Semaphore, name),
            counts: std::sync::Mutex::new(Counts { available: permits, outstanding: 0, signal: false }),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Takes one permit, waiting until one is free.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait completes a deadlock knot.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(1);
    /// let permit = pool.acquire();
    /// assert_eq!(permit.permits(), 1);
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting until that many are free.
    ///
    /// # Panics
    /// Under the default deadlock policy, when this wait completes a deadlock knot.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(3);
    /// let two = pool.acquire_many(2);
    /// assert_eq!(pool.available_permits(), 1);
    /// drop(two);
    /// assert_eq!(pool.available_permits(), 3);
    /// ```
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        self.state.lock_as(Location::caller(), &Take { sem: self, n }, Access::Permits, clamp(n));
        SemaphorePermit { sem: self, n, _not_send: PhantomData }
    }

    /// Takes one permit if one is free, without waiting.
    ///
    /// ```
    /// let pool = lockprof::Semaphore::new(0);
    /// assert!(pool.try_acquire().is_none());
    /// ```
    #[track_caller]
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
    #[track_caller]
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        self.state
            .try_lock_as(Location::caller(), &Take { sem: self, n }, Access::Permits, clamp(n))
            .then(|| SemaphorePermit { sem: self, n, _not_send: PhantomData })
    }

    /// How many permits are free now.
    ///
    /// ```
    /// assert_eq!(lockprof::Semaphore::new(5).available_permits(), 5);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.lock_counts().available
    }

    /// Adds `n` permits. After this, the semaphore counts as a signal (see the type's docs).
    ///
    /// ```
    /// let sem = lockprof::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut counts = self.lock_counts();
        counts.available = counts.available.saturating_add(n);
        counts.signal = true;
        self.publish(&counts);
        drop(counts);
        self.freed.notify_all();
    }

    /// The name given with [`Semaphore::with_name`], if any.
    ///
    /// ```
    /// assert_eq!(lockprof::Semaphore::new(1).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    fn lock_counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts are never left inconsistent by a panic (no user code runs under them).
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the profiler the counts (under the counts' lock, so it sees them in order).
    fn publish(&self, counts: &Counts) {
        self.state.set_permit_counts(clamp(counts.available), clamp(counts.outstanding), counts.signal);
    }

    fn take(&self, counts: &mut Counts, n: usize) -> bool {
        if counts.available < n {
            return false;
        }
        counts.available -= n;
        counts.outstanding += n;
        self.publish(counts);
        true
    }

    fn release(&self, n: usize) {
        let release = self.state.releasing_permits(clamp(n));
        let mut counts = self.lock_counts();
        counts.available += n;
        counts.outstanding -= n;
        self.publish(&counts);
        drop(counts);
        self.freed.notify_all();
        self.state.released(release);
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Taking `n` permits, as the profiler's [`RawLock`].
struct Take<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl RawLock for Take<'_> {
    fn try_acquire(&self) -> bool {
        self.sem.take(&mut self.sem.lock_counts(), self.n)
    }

    fn acquire_within(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut counts = self.sem.lock_counts();
        loop {
            if self.sem.take(&mut counts, self.n) {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { return false };
            counts = match self.sem.freed.wait_timeout(counts, left) {
                Ok((counts, _)) => counts,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn acquire(&self) {
        let mut counts = self.sem.lock_counts();
        while !self.sem.take(&mut counts, self.n) {
            counts = self.sem.freed.wait(counts).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = *self.lock_counts();
        f.debug_struct("Semaphore").field("available", &counts.available).finish_non_exhaustive()
    }
}

/// Permits held from a [`Semaphore`]; dropping it returns them.
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

    /// Keeps the permits out of the semaphore for good (they are never returned). lockprof then
    /// never reports a wait on this semaphore as a deadlock, since no thread accounts for them.
    ///
    /// ```
    /// let sem = lockprof::Semaphore::new(2);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(self) {
        let sem = self.sem;
        let release = sem.state.releasing_permits(clamp(self.n));
        std::mem::forget(self);
        sem.state.released(release);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("permits", &self.n).finish()
    }
}
