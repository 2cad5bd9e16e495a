//! Scoped threads ([`scope`], [`Scope`], [`ScopedJoinHandle`]), with every join in the wait-for
//! graph, including the implicit one at the end of the scope.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Arc;

use super::life::Life;
use std::thread::Thread;

/// The lifetimes of the threads spawned in each live scope, by the scope's address (a
/// [`Scope`] is std's scope itself, so it has no room for them). Pruned of ended threads at
/// each spawn, so bounded by the threads running at once.
static LIVES: parking_lot::Mutex<Vec<(usize, Vec<Arc<Life>>)>> = parking_lot::Mutex::new(Vec::new());

/// Creates a scope for spawning threads that may borrow from the caller, as
/// [`std::thread::scope`]: every thread spawned in it is joined before it returns. That implicit
/// join is a wait in the wait-for graph, like an explicit one; since a panic cannot end it (the
/// scope keeps waiting while it unwinds), a deadlock it finds aborts the process under the
/// default `panic` policy, after writing the trace.
///
/// ```
/// let mut total = 0;
/// let items = [1, 2, 3];
/// lockprof::thread::scope(|s| {
///     let sum = s.spawn(|| items.iter().sum::<i32>());
///     total = sum.join().unwrap();
/// });
/// assert_eq!(total, 6);
/// ```
///
/// # Panics
/// As std's: if `f` panics, or a scoped thread panicked and was not joined.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let at = Location::caller();
    std::thread::scope(|inner| {
        let scope = Scope::wrap(inner);
        LIVES.lock().push((scope.key(), Vec::new()));
        let result = catch_unwind(AssertUnwindSafe(|| f(scope)));
        scope.join_all(at);
        match result {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    })
}

/// A scope to spawn scoped threads in, as [`std::thread::Scope`].
///
/// ```
/// let mut n = 0;
/// lockprof::thread::scope(|s: &lockprof::thread::Scope<'_, '_>| {
///     s.spawn(|| n += 1);
/// });
/// assert_eq!(n, 1);
/// ```
#[repr(transparent)]
pub struct Scope<'scope, 'env: 'scope> {
    inner: std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn wrap<'a>(inner: &'a std::thread::Scope<'scope, 'env>) -> &'a Self {
        // SAFETY: `Scope` is a `repr(transparent)` wrapper of std's scope, so the two have the
        // same layout, and the reference keeps its lifetime.
        unsafe { &*std::ptr::from_ref(inner).cast::<Self>() }
    }

    fn key(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Spawns a scoped thread, as std's `Scope::spawn`.
    ///
    /// ```
    /// let v = vec![1, 2];
    /// lockprof::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(v.len(), 2));
    /// });
    /// ```
    ///
    /// # Panics
    /// As std's, if the operating system cannot create the thread.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawn_with(std::thread::Builder::new(), f).expect("failed to spawn thread")
    }

    #[track_caller]
    pub(super) fn spawn_with<F, T>(
        &'scope self,
        builder: std::thread::Builder,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let life = Life::new();
        let theirs = Arc::clone(&life);
        {
            let mut lives = LIVES.lock();
            if let Some((_, mine)) = lives.iter_mut().find(|(k, _)| *k == self.key()) {
                mine.retain(|l| !l.ended());
                mine.push(Arc::clone(&life));
            }
        }
        match builder.spawn_scoped(&self.inner, move || theirs.run(f)) {
            Ok(inner) => Ok(ScopedJoinHandle { inner, life }),
            Err(error) => {
                // Registered above: the implicit join must not wait for a thread that never ran.
                life.never_started();
                Err(error)
            }
        }
    }

    /// The implicit join (at `at`, the `scope` call): waits, in the graph, for every thread
    /// spawned in the scope (including threads spawned meanwhile by scoped threads), then
    /// forgets the scope.
    fn join_all(&self, at: &'static Location<'static>) {
        loop {
            let batch = {
                let mut lives = LIVES.lock();
                let Some((_, mine)) = lives.iter_mut().find(|(k, _)| *k == self.key()) else {
                    return;
                };
                std::mem::take(mine)
            };
            if batch.is_empty() {
                break;
            }
            for life in batch {
                life.join(at, false);
            }
        }
        LIVES.lock().retain(|(k, _)| *k != self.key());
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// An owned permission to join a scoped thread, as [`std::thread::ScopedJoinHandle`]; its
/// [`join`](ScopedJoinHandle::join) is a wait in the wait-for graph.
///
/// ```
/// lockprof::thread::scope(|s| {
///     let h: lockprof::thread::ScopedJoinHandle<'_, u8> = s.spawn(|| 4);
///     assert_eq!(h.join().unwrap(), 4);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: std::thread::ScopedJoinHandle<'scope, T>,
    life: Arc<Life>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish and returns its result, as std's; a deadlock through this
    /// join is reported (by default this call panics with the report).
    ///
    /// ```
    /// lockprof::thread::scope(|s| {
    ///     assert!(s.spawn(|| panic!("boom")).join().is_err());
    /// });
    /// ```
    ///
    /// # Errors
    /// The joined thread's panic, as std's.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.life.join(Location::caller(), true);
        self.inner.join()
    }

    /// The thread's handle.
    ///
    /// ```
    /// lockprof::thread::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     let _ = h.thread().id();
    /// });
    /// ```
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished running its closure, as std's.
    ///
    /// ```
    /// lockprof::thread::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     while !h.is_finished() {
    ///         lockprof::thread::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
