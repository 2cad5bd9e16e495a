//! [`Condvar`]: `parking_lot::Condvar` for the `parking_lot` flavour's [`MutexGuard`].

use std::borrow::Cow;
use std::fmt;
use std::ops::DerefMut;
use std::panic::Location;
use std::time::{Duration, Instant};

use lockprof_profiler::{LockKind, LockName, LockState};

use super::WaitTimeoutResult;
use super::mutex::MutexGuard;

/// A condition variable with the API of [`parking_lot::Condvar`](::parking_lot::Condvar): waits
/// take `&mut MutexGuard`, there are no spurious wake-ups, `notify_one` says whether it woke a
/// thread and `notify_all` how many.
///
/// While a thread waits, its mutex is released in lockprof's graph as in fact, and it is
/// re-acquired afterwards through the mutex's ordinary lock path (so the re-acquisition records
/// lock-order edges and is checked for deadlock). Waiting while holding another lockprof lock is
/// recorded as a warning in the trace.
///
/// ```
/// use std::sync::Arc;
/// use lockprof::parking_lot::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock() = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let mut guard = ready.lock();
/// cv.wait_while(&mut guard, |ready| !*ready);
/// assert!(*guard);
/// ```
pub struct Condvar {
    state: LockState,
    /// Taken by a waiter before it releases its mutex and held until it is parked on `cv` (which
    /// releases it), and by every notifier: so a notification cannot fall between a waiter's
    /// release of its mutex and its sleep.
    private: ::parking_lot::Mutex<()>,
    cv: ::parking_lot::Condvar,
}

impl Condvar {
    /// Creates a condition variable; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static CV: lockprof::parking_lot::Condvar = lockprof::parking_lot::Condvar::new();
    /// assert!(!CV.notify_one());
    /// ```
    #[track_caller]
    pub const fn new() -> Self {
        Self::named_opt(None)
    }

    #[track_caller]
    const fn named_opt(name: Option<LockName>) -> Self {
        Condvar {
            state: LockState::new(LockKind::Condvar, name),
            private: ::parking_lot::Mutex::new(()),
            cv: ::parking_lot::Condvar::new(),
        }
    }

    /// A condition variable with a name that reports show (a wait that outlasted the watchdog, a
    /// wait while holding another lock) beside its id and creation site: a `&'static str` or a
    /// `String` made at run time.
    ///
    /// ```
    /// let not_empty = lockprof::parking_lot::Condvar::with_name("queue not empty");
    /// assert_eq!(not_empty.name(), Some("queue not empty"));
    /// ```
    #[track_caller]
    pub fn with_name(name: impl Into<Cow<'static, str>>) -> Self {
        Self::named_opt(Some(LockName::new(name)))
    }

    /// [`with_name`](Self::with_name) for a `static`: `const`, with a `&'static str`.
    ///
    /// ```
    /// static READY: lockprof::parking_lot::Condvar = lockprof::parking_lot::Condvar::with_static_name("ready");
    /// assert_eq!(READY.name(), Some("ready"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(name: &'static str) -> Self {
        Self::named_opt(Some(LockName::from_static(name)))
    }

    /// The name given with [`with_name`](Self::with_name), if any.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::Condvar::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Wakes one waiting thread; returns whether there was one.
    ///
    /// ```
    /// assert!(!lockprof::parking_lot::Condvar::new().notify_one()); // nobody waits
    /// ```
    pub fn notify_one(&self) -> bool {
        let _private = self.private.lock();
        self.cv.notify_one()
    }

    /// Wakes every waiting thread; returns how many there were.
    ///
    /// ```
    /// assert_eq!(lockprof::parking_lot::Condvar::new().notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        let _private = self.private.lock();
        self.cv.notify_all()
    }

    /// Releases the guard's mutex, sleeps until notified, and re-acquires the mutex.
    ///
    /// # Panics
    /// Under the default deadlock policy, when the re-acquisition closes a deadlock; the guard
    /// then no longer holds the mutex, and dropping it releases nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lockprof::parking_lot::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = Arc::clone(&pair);
    /// std::thread::spawn(move || {
    ///     *p.0.lock() = 1;
    ///     p.1.notify_all();
    /// });
    /// let mut n = pair.0.lock();
    /// while *n == 0 {
    ///     pair.1.wait(&mut n);
    /// }
    /// ```
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.block(guard, Location::caller(), None);
    }

    /// [`Condvar::wait`] until `deadline` at the latest; the result says whether it timed out.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = lockprof::parking_lot::Mutex::new(());
    /// let cv = lockprof::parking_lot::Condvar::new();
    /// let mut g = m.lock();
    /// assert!(cv.wait_until(&mut g, Instant::now() + Duration::from_millis(1)).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        self.block(guard, Location::caller(), Some(deadline))
    }

    /// [`Condvar::wait`] for at most `timeout`; the result says whether it timed out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::parking_lot::Mutex::new(());
    /// let cv = lockprof::parking_lot::Condvar::new();
    /// let mut g = m.lock();
    /// assert!(cv.wait_for(&mut g, Duration::from_millis(1)).timed_out());
    /// ```
    #[track_caller]
    pub fn wait_for<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>, timeout: Duration) -> WaitTimeoutResult {
        // As parking_lot: a timeout too large to be a deadline waits for ever.
        self.block(guard, Location::caller(), Instant::now().checked_add(timeout))
    }

    /// Waits while `condition` holds, re-checking it after every wake-up.
    ///
    /// ```
    /// let m = lockprof::parking_lot::Mutex::new(3);
    /// let cv = lockprof::parking_lot::Condvar::new();
    /// let mut g = m.lock();
    /// cv.wait_while(&mut g, |n| *n == 0); // already false: returns at once
    /// assert_eq!(*g, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut MutexGuard<'_, T>, mut condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        let at = Location::caller();
        while condition(guard.deref_mut()) {
            self.block(guard, at, None);
        }
    }

    /// Waits while `condition` holds, until `deadline` at the latest. As parking_lot's, it
    /// returns a timed-out result when the deadline passed while the condition still held.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = lockprof::parking_lot::Mutex::new(0);
    /// let cv = lockprof::parking_lot::Condvar::new();
    /// let mut g = m.lock();
    /// let r = cv.wait_while_until(&mut g, |n| *n == 0, Instant::now() + Duration::from_millis(2));
    /// assert!(r.timed_out());
    /// ```
    #[track_caller]
    pub fn wait_while_until<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let at = Location::caller();
        let mut result = self.not_timed_out();
        while !result.timed_out() && condition(guard.deref_mut()) {
            result = self.block(guard, at, Some(deadline));
        }
        result
    }

    /// Waits while `condition` holds, for at most `timeout` in all.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::parking_lot::Mutex::new(1);
    /// let cv = lockprof::parking_lot::Condvar::new();
    /// let mut g = m.lock();
    /// let r = cv.wait_while_for(&mut g, |n| *n == 0, Duration::from_millis(2));
    /// assert!(!r.timed_out()); // the condition was already false
    /// ```
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_while_until(guard, condition, deadline),
            None => {
                self.wait_while(guard, condition);
                self.not_timed_out()
            }
        }
    }

    /// Releases the guard's mutex (in the graph and in fact), sleeps on `cv` until notified or
    /// `deadline`, and re-acquires the mutex through its lock path (a panic there points at the
    /// caller's wait).
    #[track_caller]
    fn block<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        at: &'static Location<'static>,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult {
        let mutex = guard.lock;
        let mut private = self.private.lock();
        guard.holds = false;
        // SAFETY: the guard held the mutex (a `MutexGuard` that does not hold it exists only
        // after a panic, which ends its use), and it is marked as not holding it until it does
        // again.
        unsafe { mutex.release() };
        let result = self.state.condvar_wait(at, || match deadline {
            Some(deadline) => self.cv.wait_until(&mut private, deadline),
            None => {
                self.cv.wait(&mut private);
                not_timed_out(&self.cv, &mut private)
            }
        });
        // Not held while re-acquiring: a notifier may hold the mutex while it notifies.
        drop(private);
        // May panic (a deadlock, or an inversion under `LOCKPROF_ON_INVERSION=panic`) without
        // acquiring: then the guard stays marked as not holding.
        mutex.state.lock(at, &mutex.raw);
        guard.holds = true;
        result
    }

    /// A result that says "not timed out" (parking_lot offers no constructor).
    fn not_timed_out(&self) -> WaitTimeoutResult {
        not_timed_out(&self.cv, &mut self.private.lock())
    }
}

/// A `WaitTimeoutResult` that did not time out, from a wait on `cv` whose condition is false at
/// once (so it does not sleep). `private` is the mutex `cv` is always used with.
fn not_timed_out(
    cv: &::parking_lot::Condvar,
    private: &mut ::parking_lot::MutexGuard<'_, ()>,
) -> WaitTimeoutResult {
    cv.wait_while_for(private, |_| false, Duration::ZERO)
}

impl Default for Condvar {
    /// A condition variable created at the caller's location.
    #[track_caller]
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    /// The same output as parking_lot's: `Condvar { .. }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
