//! [`Condvar`]: `std::sync::Condvar` for lockprof's [`MutexGuard`].

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;
use std::sync::{LockResult, PoisonError, WaitTimeoutResult};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};

use lockprof_profiler::{LockKind, LockName, LockState, SignalShape};

use crate::mutex::MutexGuard;

/// A condition variable with the API of [`std::sync::Condvar`], for lockprof's mutexes.
///
/// While a thread waits, its mutex is released in lockprof's graph as in fact, and it is
/// re-acquired afterwards through the mutex's ordinary lock path (so the re-acquisition records
/// lock-order edges and is checked for deadlock). Waiting while holding *another* lockprof lock
/// is recorded as a warning in the trace ("sleeping while holding"), with both sites.
///
/// ```
/// use std::sync::Arc;
/// use lockprof::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// std::thread::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock().unwrap() = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let guard = cv.wait_while(ready.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*guard);
/// ```
pub struct Condvar {
    state: LockState,
    /// Taken by every notification and by a waiter before it releases its mutex, so a
    /// notification cannot slip in between and be lost; the waiter waits on `cv` with it.
    generation: std::sync::Mutex<()>,
    /// Bumped by every notification under `generation`: a waiter reads it under the same lock
    /// when it starts to wait, so a notification after that read moves it (the all-asleep rule,
    /// `lockprof_profiler::Signal`).
    progress: AtomicU64,
    cv: std::sync::Condvar,
}

impl Condvar {
    /// Creates a condition variable; `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static CV: lockprof::Condvar = lockprof::Condvar::new();
    /// CV.notify_all();
    /// ```
    #[track_caller]
    pub const fn new() -> Self {
        Self::named_opt(None)
    }

    #[track_caller]
    const fn named_opt(name: Option<LockName>) -> Self {
        Condvar {
            state: LockState::new(LockKind::Condvar, name),
            generation: std::sync::Mutex::new(()),
            progress: AtomicU64::new(0),
            cv: std::sync::Condvar::new(),
        }
    }

    /// A condition variable with a name that reports show (a wait that outlasted the watchdog, a
    /// wait while holding another lock) beside its id and creation site: a `&'static str` or a
    /// `String` made at run time.
    ///
    /// ```
    /// let not_empty = lockprof::Condvar::with_name("queue not empty");
    /// assert_eq!(not_empty.name(), Some("queue not empty"));
    /// ```
    #[track_caller]
    pub fn with_name(name: impl Into<Cow<'static, str>>) -> Self {
        Self::named_opt(Some(LockName::new(name)))
    }

    /// [`with_name`](Self::with_name) for a `static`: `const`, with a `&'static str`.
    ///
    /// ```
    /// static READY: lockprof::Condvar = lockprof::Condvar::with_static_name("ready");
    /// assert_eq!(READY.name(), Some("ready"));
    /// ```
    #[track_caller]
    pub const fn with_static_name(name: &'static str) -> Self {
        Self::named_opt(Some(LockName::from_static(name)))
    }

    /// The name given with [`with_name`](Self::with_name), if any.
    ///
    /// ```
    /// assert_eq!(lockprof::Condvar::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.state.name()
    }

    /// Releases the guard's mutex, waits for a notification (or a spurious wake-up, as std
    /// allows), and re-acquires the mutex. `Err` if the mutex is poisoned on re-acquisition.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pair = Arc::new((lockprof::Mutex::new(0), lockprof::Condvar::new()));
    /// let p = Arc::clone(&pair);
    /// std::thread::spawn(move || {
    ///     *p.0.lock().unwrap() = 1;
    ///     p.1.notify_all();
    /// });
    /// let mut n = pair.0.lock().unwrap();
    /// while *n == 0 {
    ///     n = pair.1.wait(n).unwrap();
    /// }
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let at = Location::caller();
        let mutex = guard.mutex();
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = self.progress.load(Ordering::SeqCst);
        drop(guard);
        // An untimed wait: a signal wait, which only a notification ends (see the all-asleep rule).
        self.state
            .signal_wait(at, &self.progress, seen, SignalShape::Notify, || drop(self.cv.wait(generation)));
        mutex.lock()
    }

    /// Waits while `condition` holds, re-checking after every wake-up.
    ///
    /// ```
    /// let m = lockprof::Mutex::new(3);
    /// let cv = lockprof::Condvar::new();
    /// let g = cv.wait_while(m.lock().unwrap(), |n| *n == 0).unwrap(); // already false
    /// assert_eq!(*g, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// [`Condvar::wait`] for at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::Mutex::new(());
    /// let cv = lockprof::Condvar::new();
    /// let (_g, result) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
    /// assert!(result.timed_out());
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let at = Location::caller();
        let mutex = guard.mutex();
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        drop(guard);
        let result = self.state.condvar_wait(at, || match self.cv.wait_timeout(generation, timeout) {
            Ok((_, result)) => result,
            Err(poisoned) => poisoned.into_inner().1,
        });
        match mutex.lock() {
            Ok(guard) => Ok((guard, result)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), result))),
        }
    }

    /// Waits while `condition` holds, for at most `timeout` in all.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = lockprof::Mutex::new(0);
    /// let cv = lockprof::Condvar::new();
    /// let (g, r) = cv.wait_timeout_while(m.lock().unwrap(), Duration::from_millis(2), |n| *n == 0).unwrap();
    /// assert!(r.timed_out());
    /// assert_eq!(*g, 0);
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, timeout_result(false)));
            }
            let Some(left) = timeout.checked_sub(start.elapsed()) else {
                return Ok((guard, timeout_result(true)));
            };
            guard = match self.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => {
                    let (guard, result) = poisoned.into_inner();
                    return Err(PoisonError::new((guard, result)));
                }
            };
        }
    }

    /// Wakes one waiting thread.
    ///
    /// ```
    /// lockprof::Condvar::new().notify_one(); // no waiter: nothing happens
    /// ```
    pub fn notify_one(&self) {
        // The wake-up itself stays under `generation`: a waiter that reads the counter after
        // the bump must also start std's wait after the wake-up, or it would be woken by a
        // notification it counted as before its wait (and be counted asleep while running).
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        self.progress.fetch_add(1, Ordering::SeqCst);
        self.cv.notify_one();
        drop(generation);
    }

    /// Wakes every waiting thread.
    ///
    /// ```
    /// lockprof::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        // The wake-up itself stays under `generation`: a waiter that reads the counter after
        // the bump must also start std's wait after the wake-up, or it would be woken by a
        // notification it counted as before its wait (and be counted asleep while running).
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        self.progress.fetch_add(1, Ordering::SeqCst);
        self.cv.notify_all();
        drop(generation);
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// A `WaitTimeoutResult` saying `timed_out`. std offers no constructor, so it comes from a std
/// condvar wait on a private mutex that returns at once with the wanted answer.
fn timeout_result(timed_out: bool) -> WaitTimeoutResult {
    static PRIVATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static CV: std::sync::Condvar = std::sync::Condvar::new();
    let guard = PRIVATE.lock().unwrap_or_else(PoisonError::into_inner);
    let result = if timed_out {
        CV.wait_timeout_while(guard, Duration::ZERO, |_| true)
    } else {
        CV.wait_timeout_while(guard, Duration::from_secs(1), |_| false)
    };
    match result {
        Ok((_, r)) => r,
        Err(poisoned) => poisoned.into_inner().1,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timeout_results_say_what_they_are_asked() {
        assert!(super::timeout_result(true).timed_out());
        assert!(!super::timeout_result(false).timed_out());
    }
}
